"""The moderators' callback data, written and read in one place.

``mod:<action>:<tip id>[:<version>[:<argument>]][:force]``: a card's or a digest's button.
The version is the tip's when the card was drawn (``-`` where there is none); ``force``
confirms a decision on a tip someone else has taken. ``modq:<page>:<banned>``: a page of
``/queue``. Data can be forged (any client can send any data with a press on any message it
sees): numbers are read strictly (:func:`handlers.base.parse_id`), and a press that does not
parse is answered as a button that is no longer active.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update

from bot.moderation import Decision
from db.models import Tip
from handlers.base import parse_id

_NOT_A_NUMBER = -1


def callback(action: str, tip: Tip, *args: str | int) -> str:
    return ":".join(["mod", action, str(tip.id), *map(str, args)])


def kept_reply(action: str, tip_id: int, note_id: int) -> str:
    """A button under a reply kept under a card (the note's id in the argument's place)."""
    return f"mod:{action}:{tip_id}:-:{note_id}"


@dataclass(slots=True)
class Press:
    """A parsed ``mod:`` callback."""

    action: str
    tip_id: int
    version: int | None
    arg: str
    force: bool
    data: str  # without ``:force``

    @classmethod
    def parse(cls, data: str) -> Press | None:
        """The press in ``data``, or None unless its tip id and version are numbers as this
        bot writes them."""
        parts, force = _without_force(data.split(":"))
        if len(parts) < 3 or parts[0] != "mod":
            return None
        tip_id, version = parse_id(parts[2]), _version(parts)
        if tip_id is None or version == _NOT_A_NUMBER:
            return None
        arg = "".join(parts[4:5])  # the fifth part, if any
        return cls(parts[1], tip_id, version, arg, force, ":".join(parts))

    @property
    def number(self) -> int | None:
        """The argument as an id (an original's, a kept reply's), if it is one."""
        return parse_id(self.arg)

    def decision(self) -> Decision | None:
        """The decision pressed, or None unless it carries the version of the card it was
        on (forged, or forced without one: the moderator cannot have seen what they decide)
        and, for a duplicate, the original's id."""
        original = self.number if self.action == "dup" else None
        if self.version is None or (self.action == "dup" and original is None):
            return None
        return Decision(self.action, self.version, self.arg, original, self.force)


def _without_force(parts: list[str]) -> tuple[list[str], bool]:
    """The parts of a press without its confirmation, and whether it had one."""
    if len(parts) > 3 and parts[-1] == "force":
        return parts[:-1], True
    return parts, False


def _version(parts: list[str]) -> int | None:
    """The card's version in a press: None if it has none, :data:`_NOT_A_NUMBER` if what
    stands in its place is not a number as this bot writes them."""
    if len(parts) < 4 or parts[3] in ("", "-"):
        return None
    version = parse_id(parts[3], minimum=0)
    return _NOT_A_NUMBER if version is None else version


def pressed(update: Update) -> Press | None:
    query = update.callback_query
    return Press.parse(query.data or "") if query is not None else None


def pressed_action(update: Update) -> str:
    """What a press attempts, for the record of a refusal (``?`` if it does not parse)."""
    press = pressed(update)
    return press.action if press is not None else "?"


def queue_page(page: int, banned: bool) -> str:
    return f"modq:{page}:{int(banned)}"


def parse_queue_page(data: str) -> tuple[int, bool]:
    """The page a ``modq:`` button shows, and whether of banned reporters' tips; a page
    number as this bot writes it, anything else (forged) is the first page."""
    parts = [*data.split(":"), "", ""]
    page = parse_id(parts[1], minimum=0, maximum=10_000)
    return page or 0, parts[2] == "1"
