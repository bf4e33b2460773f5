"""Moderation: what moderators do to tips, with the custody log, in the caller's transaction.

Every action names its moderator (Telegram id and display name), checks the version of the
tip the moderator saw (so of two presses at the same moment exactly one applies; the other
is told who was first), edits the tip, and appends a custody entry. :func:`decide` is the
one entry point of a card's decision buttons: it locks in the documented order, checks the
version, asks for confirmation on a tip someone else has taken, and applies the action.
Verdicts tell the reporter — neutrally, and only if they asked for it — through the outbox,
but only once :data:`UNDO_WINDOW` has passed: until then a verdict can be taken back with one
tap (the notice is cancelled). Later, any verdict can be reopened with a reason. Moderators'
internal notes stay with the tip and are never relayed. What the files themselves say
(capture time, GPS) is compared with the reported date and place (:mod:`bot.file_facts`).

An action that does not apply raises :class:`Conflict` (someone acted first) or
:class:`Refused` (with a reason); both are raised before anything is changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import custody, outbox
from bot.duplicates import SAME_FILE, SIMILAR_CONTEXT, SIMILAR_IMAGE
from bot.evidence import testimony
from db.models import (
    MEDIA_FAILED,
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_SENT,
    TIP_DRAFT,
    TIP_DUPLICATE,
    TIP_IN_REVIEW,
    TIP_NEEDS_INFO,
    TIP_QUARANTINED,
    TIP_REJECTED,
    TIP_SUBMITTED,
    TIP_VERIFIED,
    TIP_WITHDRAWN,
    CustodyEntry,
    GroupMessage,
    Media,
    OutboxMessage,
    Reporter,
    Tip,
    TipLink,
    TipNote,
)


class NoteKind(StrEnum):
    """What a tip's note is (``tip_note.kind``)."""

    QUESTION = "question"  # a moderator's question, relayed to the reporter
    PENDING = "pending"  # a reply to a card, waiting for its moderator to send it or not
    INTERNAL = "internal"  # a moderator's note for the other moderators: never relayed
    ANSWER = "answer"  # the reporter's answer to a question
    ADDITION = "addition"  # information the reporter added to a report


class Shown(StrEnum):
    """What a message of the bot's in the moderators' group is, for a tip
    (``group_message.kind``)."""

    CARD = "card"
    ANSWER = "answer"  # a reporter's answer or addition
    VIEW = "view"  # the tip's evidence: files, map, full text, metadata (or quoted notes)
    HISTORY = "history"  # the custody history, without the reporter's words
    ASK = "ask"  # a prompt: the reply is a question for the reporter
    NOTE = "note"  # a prompt: the reply is an internal note
    DUPREF = "dupref"  # a prompt: the reply names the original of a duplicate


REJECT_REASONS: tuple[str, ...] = ("spam", "not_relevant", "not_enough_info", "other")
REOPEN_REASONS: tuple[str, ...] = ("new_information", "mistake", "other")
VERDICTS = frozenset({TIP_VERIFIED, TIP_REJECTED, TIP_DUPLICATE})
# The custody actions of verdicts (a tip's ``last_action`` while it can be undone).
VERDICT_ACTIONS = frozenset({"verified", "rejected", "duplicate"})
# How long a verdict can be taken back with one tap. The reporter's notice waits as long,
# so an undone verdict never told anyone anything.
UNDO_WINDOW = timedelta(seconds=60)
# Outbox rows that redraw a tip's card where it is: when a reporter's answer reached the
# group, and when a verdict's minute to undo it is over.
REDRAW = outbox.Kind.REDRAW
# A moderator's note on a tip, for the other moderators only: never relayed.
INTERNAL_NOTE = NoteKind.INTERNAL
# The custody action of an internal note (its entry holds the note's id, not its words).
NOTE_ADDED = "note_added"
# Tips a moderator can still act on.
OPEN = frozenset({TIP_SUBMITTED, TIP_IN_REVIEW, TIP_NEEDS_INFO})
# A question typed as a reply to a card, waiting for its moderator to confirm it.
PENDING_QUESTION = NoteKind.PENDING
# Messages in the group that show a tip's content: a withdrawal deletes them.
CONTENT_COPIES = (Shown.CARD, Shown.ANSWER, Shown.VIEW)
# How the last_error of an outbox row Telegram refused for good starts (the message itself,
# in its safe form too): such rows are failed, never retried, and counted by stats().
REFUSED = "refused: "
# How long the reporter's next message counts as the answer to an open question.
QUESTION_TTL = timedelta(days=7)
# How long after answering, a reporter's further messages still belong to the answer.
ANSWER_CONTINUES = timedelta(minutes=10)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Moderator:
    id: int
    name: str

    @property
    def actor(self) -> str:
        return f"moderator:{self.id}"


class Conflict(Exception):
    """The tip changed since the moderator's card was drawn: someone else acted first."""

    def __init__(self, tip: Tip) -> None:
        super().__init__(tip.last_actor_name or "")
        self.tip = tip


class Refused(Exception):
    """The action does not apply to this tip now: ``reason`` says why (``"stale"``: what the
    button or reply names is gone or was never there; ``"no-contact"``: the reporter did not
    allow questions; else the suffix of a ``mod-refused-`` message), ``tip`` is the tip
    concerned where there is one."""

    def __init__(self, reason: str, tip: Tip | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tip = tip


async def tip_for_update(session: AsyncSession, tip_id: int) -> Tip | None:
    """A tip, locked until the transaction ends (PostgreSQL; SQLite already serialises)."""
    return (
        await session.execute(select(Tip).where(Tip.id == tip_id).with_for_update())
    ).scalar_one_or_none()


async def _locked(session: AsyncSession, tip_id: int) -> Tip:
    """The tip, locked; :class:`Refused` (stale) if there is none."""
    tip = await tip_for_update(session, tip_id)
    if tip is None:
        raise Refused("stale")
    return tip


async def submitted_tip(session: AsyncSession, tip_id: int | None) -> Tip | None:
    """A tip the reporter has sent (a draft's words and files are not the moderators')."""
    tip = await session.get(Tip, tip_id) if tip_id is not None else None
    return tip if tip is not None and tip.status != TIP_DRAFT else None


def check_version(tip: Tip, seen: int | None) -> None:
    if seen is not None and tip.version != seen:
        raise Conflict(tip)


async def _record(
    session: AsyncSession,
    tip: Tip,
    moderator: Moderator,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    tip.last_action = action
    tip.last_actor_name = moderator.name
    tip.last_action_at = utcnow()
    tip.version += 1
    await session.flush()
    await custody.append(
        session,
        actor=moderator.actor,
        action=action,
        tip_id=tip.id,
        details={"moderator": moderator.name, **(details or {})},
    )


async def take(session: AsyncSession, tip: Tip, moderator: Moderator) -> None:
    _require_open(tip)
    tip.assignee_id = moderator.id
    tip.assignee_name = moderator.name
    if tip.status == TIP_SUBMITTED:
        tip.status = TIP_IN_REVIEW
    await _record(session, tip, moderator, "taken")


async def release(session: AsyncSession, tip: Tip, moderator: Moderator) -> None:
    _require_open(tip)
    if tip.assignee_id is None:
        raise Refused("not-taken")
    tip.assignee_id = None
    tip.assignee_name = None
    if tip.status == TIP_IN_REVIEW:
        tip.status = TIP_SUBMITTED
    await _record(session, tip, moderator, "released")


async def set_urgent(session: AsyncSession, tip: Tip, moderator: Moderator, urgent: bool) -> None:
    _require_open(tip)
    tip.urgent = urgent
    await _record(session, tip, moderator, "urgent_on" if urgent else "urgent_off")


async def verify(session: AsyncSession, tip: Tip, moderator: Moderator, *, notify: bool) -> None:
    await _verdict(session, tip, moderator, TIP_VERIFIED, "verified", {}, notify=notify)


async def reject(
    session: AsyncSession, tip: Tip, moderator: Moderator, reason: str, *, notify: bool
) -> None:
    if reason not in REJECT_REASONS:
        raise Refused("bad-reason")
    tip.reject_reason = reason
    await _verdict(
        session, tip, moderator, TIP_REJECTED, "rejected", {"reason": reason}, notify=notify
    )


async def mark_duplicate(
    session: AsyncSession, tip: Tip, original: Tip, moderator: Moderator, *, notify: bool
) -> None:
    if original.id == tip.id:
        raise Refused("duplicate-of-itself")
    if original.status in (TIP_DRAFT, TIP_WITHDRAWN):
        raise Refused("duplicate-unknown")
    tip.duplicate_of_id = original.id
    details = {"original": original.reference}
    await _verdict(session, tip, moderator, TIP_DUPLICATE, "duplicate", details, notify=notify)


async def _verdict(
    session: AsyncSession,
    tip: Tip,
    moderator: Moderator,
    status: str,
    action: str,
    details: dict[str, Any],
    *,
    notify: bool,
) -> None:
    _require_open(tip)
    # What an undo restores, kept with the verdict's entry (codes and ids only).
    details = {
        **details,
        "previous": tip.status,
        "self_assigned": tip.assignee_id is None,
        "questions_closed": await _close_questions(session, tip),
    }
    tip.status = status
    tip.reviewed_at = utcnow()
    if tip.assignee_id is None:
        tip.assignee_id, tip.assignee_name = moderator.id, moderator.name
    await _record(session, tip, moderator, action, details)
    # The card's Undo button goes away when the minute is over.
    await outbox.enqueue(session, REDRAW, tip_id=tip.id, delay=UNDO_WINDOW + _REDRAW_MARGIN)
    if notify and tip.notify_reviewed:
        await outbox.enqueue(session, outbox.NOTICE, tip_id=tip.id, delay=UNDO_WINDOW)


def _require_open(tip: Tip) -> None:
    if tip.status == TIP_WITHDRAWN:
        raise Refused("withdrawn")
    if tip.status == TIP_QUARANTINED:
        raise Refused("quarantined")
    if tip.status not in OPEN:
        raise Conflict(tip)


# A little after the minute, so the redrawn card no longer offers Undo.
_REDRAW_MARGIN = timedelta(seconds=1)


def undoable(tip: Tip, now: datetime | None = None) -> bool:
    """Whether the tip's verdict is less than :data:`UNDO_WINDOW` old (its card offers Undo)."""
    return (
        tip.status in VERDICTS
        and tip.last_action in VERDICT_ACTIONS
        and tip.last_action_at is not None
        and (now or utcnow()) - tip.last_action_at < UNDO_WINDOW
    )


async def _verdict_entry(session: AsyncSession, tip: Tip) -> CustodyEntry | None:
    """The custody entry of the tip's current verdict."""
    return (
        await session.execute(
            select(CustodyEntry)
            .where(CustodyEntry.tip_id == tip.id, CustodyEntry.action == tip.last_action)
            .order_by(CustodyEntry.seq.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _hold_back_notices(session: AsyncSession, tip: Tip, since: datetime | None) -> bool:
    """Cancel the reviewed-notices queued for the tip since ``since`` that have not gone
    yet; False (cancelling nothing) if one is already on its way or delivered."""
    rows = list(
        (
            await session.execute(
                select(OutboxMessage)
                .where(
                    OutboxMessage.tip_id == tip.id,
                    OutboxMessage.kind == outbox.NOTICE,
                    OutboxMessage.created_at >= (since or utcnow()),
                )
                .with_for_update()
            )
        ).scalars()
    )
    if any(row.status == OUTBOX_SENT or row.lease_until is not None for row in rows):
        return False
    outbox.cancel(*(row for row in rows if row.status == OUTBOX_PENDING))
    return True


async def undo_verdict(session: AsyncSession, tip: Tip, moderator: Moderator) -> str:
    """Take back a verdict given less than :data:`UNDO_WINDOW` ago: the tip is as it was
    before (status, assignee, open questions) and the reporter is not told. Returns the
    verdict undone."""
    if tip.status == TIP_WITHDRAWN:
        raise Refused("withdrawn")
    if tip.status not in VERDICTS or tip.last_action not in VERDICT_ACTIONS:
        raise Conflict(tip)
    verdict = str(tip.last_action)
    # The minute is measured from the verdict's own time; the notice is the last word.
    if not undoable(tip) or not await _hold_back_notices(session, tip, tip.last_action_at):
        raise Refused("undo-expired")
    entry = await _verdict_entry(session, tip)
    before: dict[str, Any] = dict(entry.details) if entry is not None else {}
    await _restore_status(session, tip, before)
    await _reopen_questions(session, before.get("questions_closed"))
    _clear_verdict(tip)
    await _record(session, tip, moderator, "verdict_undone", {"verdict": verdict})
    return verdict


def _open_status(tip: Tip) -> str:
    """An open tip's status by whether someone has taken it."""
    return TIP_IN_REVIEW if tip.assignee_id is not None else TIP_SUBMITTED


async def _restore_status(session: AsyncSession, tip: Tip, before: dict[str, Any]) -> None:
    """The status and assignee a verdict's entry says the tip had before it."""
    previous = before.get("previous")
    tip.status = str(previous) if previous in OPEN else _open_status(tip)
    if before.get("self_assigned"):
        tip.assignee_id = tip.assignee_name = None
        if tip.status == TIP_IN_REVIEW:
            tip.status = TIP_SUBMITTED
    if tip.status == TIP_SUBMITTED and await is_banned(session, tip):
        tip.status = TIP_QUARANTINED  # banned meanwhile: as the ban does to untaken reports


async def _reopen_questions(session: AsyncSession, closed: object) -> None:
    """Open again the questions a verdict closed (their ids, as its entry keeps them)."""
    ids = [n for n in closed if isinstance(n, int)] if isinstance(closed, list) else []
    if not ids:
        return
    notes = await session.execute(
        select(TipNote).where(TipNote.id.in_(ids), TipNote.kind == NoteKind.QUESTION)
    )
    for note in notes.scalars():
        note.is_open = True


def _clear_verdict(tip: Tip) -> None:
    tip.reject_reason = None
    tip.duplicate_of_id = None
    tip.reviewed_at = None


async def reopen(session: AsyncSession, tip: Tip, moderator: Moderator, reason: str) -> None:
    """Open a decided tip again (for a reason code): back in review, where it can be asked
    about, noted and decided anew. A notice of the verdict not sent yet is cancelled."""
    if reason not in REOPEN_REASONS:
        raise Refused("bad-reason")
    if tip.status == TIP_WITHDRAWN:
        raise Refused("withdrawn")
    if tip.status not in VERDICTS:
        raise Conflict(tip)
    verdict = tip.status
    await _hold_back_notices(session, tip, tip.reviewed_at)
    tip.status = _open_status(tip)
    _clear_verdict(tip)
    await _record(session, tip, moderator, "reopened", {"reason": reason, "verdict": verdict})


# ---------------------------------------------------------------------------- a card's decisions


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision button as pressed: the action, the version of the card it was on (None
    only where no card is involved, as with ``/unban``), its argument (a reason, urgent's
    ``1``/``0``), the original's id for ``dup``, and whether it was confirmed on a tip that
    someone else has taken."""

    action: str
    version: int | None
    arg: str = ""
    original_id: int | None = None
    force: bool = False


@dataclass(slots=True)
class Decided:
    """What became of a decision on ``tip`` (as it is now): ``done`` names what was done
    (``"take"``, ``"urgent-on"``, ``"undo"``, ...) with the action's ``result`` (the verdict
    undone, the references a ban quarantined); or ``confirm`` (someone else has the tip: ask
    first); or the ``problem`` that stopped it. ``others``: the reporter's other tips with a
    card, to redraw after a ban or its end."""

    tip: Tip
    done: str | None = None
    result: Any = None
    confirm: bool = False
    problem: Conflict | Refused | None = None
    others: list[int] = field(default_factory=list)


Apply = Callable[[AsyncSession, Tip, Moderator, Decision, bool], Awaitable[Any]]


async def _duplicate(
    session: AsyncSession, tip: Tip, moderator: Moderator, decision: Decision, notify: bool
) -> None:
    original = await submitted_tip(session, decision.original_id)
    if original is None:
        raise Refused("duplicate-unknown")
    await mark_duplicate(session, tip, original, moderator, notify=notify)


_APPLY: dict[str, Apply] = {
    "take": lambda s, tip, mod, d, n: take(s, tip, mod),
    "release": lambda s, tip, mod, d, n: release(s, tip, mod),
    "urgent": lambda s, tip, mod, d, n: set_urgent(s, tip, mod, d.arg == "1"),
    "verify": lambda s, tip, mod, d, n: verify(s, tip, mod, notify=n),
    "reject": lambda s, tip, mod, d, n: reject(s, tip, mod, d.arg, notify=n),
    "dup": _duplicate,
    "ban": lambda s, tip, mod, d, n: ban(s, tip, mod),
    "unban": lambda s, tip, mod, d, n: unban(s, tip, mod),
    "undo": lambda s, tip, mod, d, n: undo_verdict(s, tip, mod),
    "reopen": lambda s, tip, mod, d, n: reopen(s, tip, mod, d.arg),
}
# The decisions a card's buttons make.
DECISIONS = frozenset(_APPLY)
# Decisions about the reporter rather than one tip: the reporter's row is locked first.
_ABOUT_REPORTER = frozenset({"ban", "unban"})


async def decide(
    session: AsyncSession, tip_id: int, decision: Decision, moderator: Moderator, *, notify: bool
) -> Decided | None:
    """Make a card's decision on the locked tip (None if there is no such tip). Of two
    presses on the same version exactly one applies; the other's ``problem`` is a
    :class:`Conflict`. ``notify``: verdicts tell reporters who asked for it."""
    about_reporter = decision.action in _ABOUT_REPORTER
    if about_reporter:
        await lock_reporter_of(session, tip_id)
    tip = await tip_for_update(session, tip_id)
    if tip is None:
        return None
    decided = await _decide_on(session, tip, decision, moderator, notify)
    if about_reporter and decided.done is not None:
        # Up to ten (each redraw costs the group's budget); others catch up later.
        decided.others = await other_cards(session, tip)
    return decided


async def _decide_on(
    session: AsyncSession, tip: Tip, decision: Decision, moderator: Moderator, notify: bool
) -> Decided:
    try:
        check_version(tip, decision.version)
        if _needs_confirmation(tip, decision, moderator):
            return Decided(tip, confirm=True)
        result = await _APPLY[decision.action](session, tip, moderator, decision, notify)
    except (Conflict, Refused) as exc:
        return Decided(tip, problem=exc)
    return Decided(tip, done=_done(decision), result=result)


def _needs_confirmation(tip: Tip, decision: Decision, moderator: Moderator) -> bool:
    return (
        not decision.force
        and tip.assignee_id is not None
        and tip.assignee_id != moderator.id
        and tip.status in OPEN
    )


def _done(decision: Decision) -> str:
    if decision.action == "urgent":
        return "urgent-on" if decision.arg == "1" else "urgent-off"
    return decision.action


# ---------------------------------------------------------------------------- internal notes


async def add_note(
    session: AsyncSession,
    tip: Tip,
    moderator: Moderator,
    text: str,
    *,
    pending: TipNote | None = None,
) -> TipNote:
    """A moderator's note on a tip, for the moderators only (never relayed to the reporter);
    with ``pending``, a reply to the card :func:`draft_question` kept becomes the note. Not a
    decision: the tip's version (and so every card's buttons) stays as it is."""
    if tip.status in (TIP_WITHDRAWN, TIP_DRAFT):
        raise Refused("withdrawn")
    if pending is not None:
        note = pending
        note.kind, note.is_open, note.created_at = NoteKind.INTERNAL, False, utcnow()
    else:
        note = _moderators_note(session, tip, moderator, NoteKind.INTERNAL, text)
    await session.flush()
    await custody.append(
        session,
        actor=moderator.actor,
        action=NOTE_ADDED,
        tip_id=tip.id,
        details={"moderator": moderator.name, "note": note.id},
    )
    return note


async def notes_of(session: AsyncSession, tip_id: int) -> list[TipNote]:
    """The tip's internal notes, oldest first."""
    return list(
        (
            await session.execute(
                select(TipNote)
                .where(TipNote.tip_id == tip_id, TipNote.kind == INTERNAL_NOTE)
                .order_by(TipNote.id)
            )
        ).scalars()
    )


async def evidence_viewed(
    session: AsyncSession, tip_id: int, moderator: Moderator, view: str
) -> None:
    """Who looked at a tip's evidence (its files, map, full text), and when: for the
    custody log, not a change of the tip (its version stays)."""
    await custody.append(
        session,
        actor=moderator.actor,
        action="evidence_viewed",
        tip_id=tip_id,
        details={"moderator": moderator.name, "view": view},
    )


# ---------------------------------------------------------------------------- bans


async def lock_reporter_of(session: AsyncSession, tip_id: int) -> None:
    """Lock the reporter of a tip before the tip itself: the order the reporter's own
    updates take locks in, so a ban and a reporter's message never wait on each other."""
    owner = select(Tip.reporter_id).where(Tip.id == tip_id).scalar_subquery()
    await session.execute(select(Reporter.id).where(Reporter.id == owner).with_for_update())


async def ban(session: AsyncSession, tip: Tip, moderator: Moderator) -> list[str]:
    """Ban the tip's reporter (silently): their tips no moderator has taken yet are
    quarantined, as their new ones will be; tips in someone's hands stay there, marked.
    Returns the references quarantined. Call :func:`lock_reporter_of` first."""
    reporter = await session.get(Reporter, tip.reporter_id, with_for_update=True)
    assert reporter is not None
    if reporter.banned_at is not None:
        raise Refused("already-banned")
    reporter.banned_at = utcnow()
    reporter.banned_by = moderator.name
    quarantined = await _set_status_where(session, reporter.id, {TIP_SUBMITTED}, TIP_QUARANTINED)
    await _record(session, tip, moderator, "reporter_banned", {"quarantined": len(quarantined)})
    return [other.reference for other in quarantined]


async def unban(session: AsyncSession, tip: Tip, moderator: Moderator) -> list[str]:
    """Lift a ban: quarantined tips go back to the queue (and are presented to moderators).
    Call :func:`lock_reporter_of` first."""
    reporter = await session.get(Reporter, tip.reporter_id, with_for_update=True)
    assert reporter is not None
    if reporter.banned_at is None:
        raise Refused("not-banned")
    reporter.banned_at = None
    reporter.banned_by = None
    restored = await _set_status_where(session, reporter.id, {TIP_QUARANTINED}, TIP_SUBMITTED)
    for other in restored:
        if other.card_message_id is None:  # submitted while banned: never shown yet
            await outbox.enqueue(session, outbox.CARD, tip_id=other.id)
    await _record(session, tip, moderator, "reporter_unbanned", {"restored": len(restored)})
    return [other.reference for other in restored]


async def _set_status_where(
    session: AsyncSession, reporter_id: int, old: frozenset[str] | set[str], new: str
) -> list[Tip]:
    tips = (
        await session.execute(
            select(Tip)
            .where(Tip.reporter_id == reporter_id, Tip.status.in_(old))
            .order_by(Tip.id)
            .with_for_update()
        )
    ).scalars()
    changed = list(tips)
    for tip in changed:
        tip.status = new
    return changed


async def other_cards(session: AsyncSession, tip: Tip, *, limit: int = 10) -> list[int]:
    """The reporter's other tips with a card in the group (most recent first)."""
    rows = await session.execute(
        select(Tip.id)
        .where(
            Tip.reporter_id == tip.reporter_id,
            Tip.id != tip.id,
            Tip.card_message_id.is_not(None),
        )
        .order_by(Tip.id.desc())
        .limit(limit)
    )
    return [int(tip_id) for (tip_id,) in rows.all()]


async def is_banned(session: AsyncSession, tip: Tip) -> bool:
    reporter = await session.get(Reporter, tip.reporter_id)
    return reporter is not None and reporter.banned_at is not None


# ---------------------------------------------------------------------------- questions


PENDING_TTL = timedelta(days=1)


async def prune_pending_questions(session: AsyncSession, now: datetime | None = None) -> int:
    """Forget replies to cards nobody chose to send within a day (their [Send] is stale)."""
    cutoff = (now or datetime.now(UTC)) - PENDING_TTL
    result = await session.execute(
        delete(TipNote).where(TipNote.kind == PENDING_QUESTION, TipNote.created_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _moderators_note(
    session: AsyncSession, tip: Tip, moderator: Moderator, kind: str, text: str
) -> TipNote:
    """A new note of ``tip`` written by ``moderator`` (added to the session)."""
    note = TipNote(
        tip_id=tip.id,
        kind=kind,
        text=text,
        moderator_id=moderator.id,
        moderator_name=moderator.name,
    )
    session.add(note)
    return note


async def draft_question(
    session: AsyncSession, tip: Tip, moderator: Moderator, text: str
) -> TipNote:
    """A question typed as a reply to a card, kept until its moderator confirms sending it
    (a reply in the group may well be meant for the other moderators)."""
    note = _moderators_note(session, tip, moderator, PENDING_QUESTION, text)
    await session.flush()
    return note


async def ask(
    session: AsyncSession,
    tip: Tip,
    moderator: Moderator,
    text: str,
    *,
    pending: TipNote | None = None,
) -> TipNote:
    """Relay a question to the reporter (the caller checked they allowed contact); with
    ``pending``, send the question :func:`draft_question` kept."""
    if tip.status in (TIP_WITHDRAWN, TIP_DRAFT):
        raise Refused("withdrawn")
    reporter = await session.get(Reporter, tip.reporter_id)
    if reporter is None or not reporter.chat_id_enc:
        raise Refused("unreachable")
    note = pending or _moderators_note(session, tip, moderator, NoteKind.QUESTION, text)
    note.kind, note.is_open = NoteKind.QUESTION, True
    if pending is not None:
        note.created_at = utcnow()
    if tip.status in (TIP_SUBMITTED, TIP_IN_REVIEW):
        tip.status = TIP_NEEDS_INFO
    await session.flush()
    await outbox.enqueue(session, outbox.QUESTION, tip_id=tip.id, payload={"note": note.id})
    await _record(session, tip, moderator, "question_asked", {"note": note.id})
    return note


def _require_contact(tip: Tip) -> None:
    if not tip.contact_allowed:
        raise Refused("no-contact", tip)


async def prompt_target(session: AsyncSession, tip_id: int, kind: Shown) -> Tip:
    """The tip a prompt (a question, a note, the original's reference) is about, if such a
    reply can be made (else :class:`Refused`: ``stale``, or ``no-contact`` for a question
    to a reporter who did not allow it)."""
    tip = await submitted_tip(session, tip_id)
    if tip is None or (kind == Shown.NOTE and tip.status == TIP_WITHDRAWN):
        raise Refused("stale", tip)
    if kind == Shown.ASK:
        _require_contact(tip)
    return tip


async def ask_reporter(session: AsyncSession, tip_id: int, moderator: Moderator, text: str) -> Tip:
    """A moderator's reply to the "write your question" prompt: relayed to the reporter,
    if they allowed contact (else :class:`Refused`, ``no-contact``). Returns the tip."""
    tip = await _locked(session, tip_id)
    _require_contact(tip)
    await ask(session, tip, moderator, text)
    return tip


async def note_on(session: AsyncSession, tip_id: int, moderator: Moderator, text: str) -> Tip:
    """A moderator's reply to the "write your note" prompt: an internal note on the tip."""
    tip = await _locked(session, tip_id)
    await add_note(session, tip, moderator, text)
    return tip


async def duplicate_by_reference(
    session: AsyncSession,
    tip_id: int,
    reference: str | None,
    moderator: Moderator,
    *,
    notify: bool,
) -> Tip:
    """A reply to the "which report?" prompt: the tip is a duplicate of the one with that
    reference (:class:`Refused`, ``no-such-reference``, if there is none)."""
    tip = await _locked(session, tip_id)
    original = await find_by_reference(session, reference) if reference else None
    if original is None:
        raise Refused("no-such-reference", tip)
    await mark_duplicate(session, tip, original, moderator, notify=notify)
    return tip


async def offer_question(
    session: AsyncSession, tip_id: int, moderator: Moderator, text: str
) -> tuple[Tip, TipNote] | None:
    """A reply to a card, kept as a question its moderator may send (:func:`draft_question`);
    None if no question could be sent (a conversation among moderators)."""
    tip = await tip_for_update(session, tip_id)
    if tip is None or not tip.contact_allowed or tip.status not in OPEN:
        return None
    return tip, await draft_question(session, tip, moderator, text)


async def pending_question(
    session: AsyncSession, tip_id: int, note_id: int | None, moderator: Moderator
) -> TipNote:
    """The reply :func:`draft_question` kept under the tip's card, for the moderator who
    wrote it (else :class:`Refused`: ``stale``, or ``not-yours``)."""
    note = await session.get(TipNote, note_id) if note_id is not None else None
    if note is None or note.tip_id != tip_id or note.kind != NoteKind.PENDING:
        raise Refused("stale")
    if note.moderator_id != moderator.id:
        raise Refused("not-yours")
    return note


async def _kept(
    session: AsyncSession, tip_id: int, note_id: int | None, moderator: Moderator
) -> tuple[Tip, TipNote]:
    """The locked tip and the reply kept under its card (see :func:`pending_question`)."""
    tip = await _locked(session, tip_id)
    return tip, await pending_question(session, tip_id, note_id, moderator)


async def send_pending_question(
    session: AsyncSession, tip_id: int, note_id: int | None, moderator: Moderator
) -> Tip:
    """[Send] under a kept reply: it goes to the reporter as a question."""
    tip, note = await _kept(session, tip_id, note_id, moderator)
    _require_contact(tip)
    await ask(session, tip, moderator, note.text or "", pending=note)
    return tip


async def keep_pending_as_note(
    session: AsyncSession, tip_id: int, note_id: int | None, moderator: Moderator
) -> Tip:
    """[Internal note] under a kept reply: it stays with the tip as a moderators' note."""
    tip, note = await _kept(session, tip_id, note_id, moderator)
    await add_note(session, tip, moderator, note.text or "", pending=note)
    return tip


async def drop_pending_question(
    session: AsyncSession, tip_id: int, note_id: int | None, moderator: Moderator
) -> None:
    """[Don't send]: the kept reply is forgotten (it stays a message among moderators)."""
    await session.delete(await pending_question(session, tip_id, note_id, moderator))


async def _close_answered(session: AsyncSession, tip: Tip, question: TipNote | None) -> None:
    """Close the question a reporter's message answers, if still open (a verdict closes a
    tip's open questions): a tip waiting for information is back in review."""
    if question is None:
        return
    await session.refresh(question)
    if not question.is_open:
        return
    question.is_open = False
    if tip.status == TIP_NEEDS_INFO:
        tip.status = _open_status(tip)


async def _close_questions(session: AsyncSession, tip: Tip) -> list[int]:
    """Close the tip's open questions; return their ids (an undone verdict opens them again)."""
    closed: list[int] = []
    for note in (
        await session.execute(
            select(TipNote)
            .where(TipNote.tip_id == tip.id, TipNote.is_open.is_(True))
            .order_by(TipNote.id)
        )
    ).scalars():
        note.is_open = False
        closed.append(note.id)
    return closed


async def open_question(
    session: AsyncSession, reporter_id: int, *, reporter_message_id: int | None = None
) -> TipNote | None:
    """The question a reporter's message answers: the one it replies to (answered already
    or not: an answer in several messages), else the most recent open one asked within
    :data:`QUESTION_TTL` (a message weeks later is not taken for an answer unless it
    replies to the question)."""
    query = (
        select(TipNote)
        .join(Tip, Tip.id == TipNote.tip_id)
        .where(Tip.reporter_id == reporter_id, TipNote.kind == NoteKind.QUESTION)
        .order_by(TipNote.id.desc())
        .limit(1)
    )
    if reporter_message_id is not None:
        query = query.where(TipNote.reporter_message_id == reporter_message_id)
    else:
        query = query.where(
            TipNote.is_open.is_(True), TipNote.created_at >= utcnow() - QUESTION_TTL
        )
    return (await session.execute(query)).scalar_one_or_none()


async def answering(session: AsyncSession, reporter_id: int) -> int | None:
    """The tip a reporter answered a question about in the last :data:`ANSWER_CONTINUES`:
    their next messages continue that answer (people write in several messages)."""
    return (
        await session.execute(
            select(TipNote.tip_id)
            .join(Tip, Tip.id == TipNote.tip_id)
            .where(
                Tip.reporter_id == reporter_id,
                TipNote.kind == NoteKind.ANSWER,
                TipNote.created_at >= utcnow() - ANSWER_CONTINUES,
            )
            .order_by(TipNote.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def add_from_reporter(
    session: AsyncSession,
    tip: Tip,
    *,
    kind: str,
    text: str | None,
    media_id: int | None,
    actor: str,
    question: TipNote | None = None,
    gather: timedelta | None = None,
) -> TipNote:
    """Attach the reporter's answer (or later addition) and queue it for the moderators;
    ``gather`` holds it back a moment so the rest of an album goes in the same message.

    The caller holds the reporter's row; the tip is locked next (the lock order, see
    docs/architecture.md) and read again, before anything refers to it: a verdict given
    meanwhile is seen (not overwritten with "submitted"), and the note's foreign key does
    not take a share lock that a moderator's lock on the tip would then deadlock with."""
    await session.refresh(tip, with_for_update=True)
    await _close_answered(session, tip, question)
    note = TipNote(tip_id=tip.id, kind=kind, text=text, media_id=media_id)
    session.add(note)
    await session.flush()
    await outbox.enqueue(
        session, outbox.ANSWER, tip_id=tip.id, payload={"note": note.id}, delay=gather
    )
    await custody.append(
        session,
        actor=actor,
        action="answer_received" if kind == NoteKind.ANSWER else "information_added",
        tip_id=tip.id,
        details={
            "note": note.id,
            "media": media_id,
            "text": text is not None,
            "record": testimony.note_digest(
                tip.reference, note, await testimony.note_file_sha256(session, note)
            ),
        },
    )
    return note


# ---------------------------------------------------------------------------- queries


async def find_by_reference(session: AsyncSession, reference: str) -> Tip | None:
    return (
        await session.execute(select(Tip).where(Tip.reference == reference))
    ).scalar_one_or_none()


async def submitted_by_reference(session: AsyncSession, reference: str) -> Tip | None:
    """A tip the reporter has sent, by its reference (a draft is not the moderators')."""
    tip = await find_by_reference(session, reference)
    return tip if tip is not None and tip.status != TIP_DRAFT else None


async def remember_group_message(
    session: AsyncSession, chat_id: int, message_id: int, tip_id: int, kind: str
) -> None:
    """Remember a message of the bot's about a tip. If it carries the tip's content and the
    reporter withdrew the tip while it was on its way, a withdrawal is queued again so it
    is taken back out."""
    if await session.get(GroupMessage, (chat_id, message_id)) is None:
        session.add(GroupMessage(chat_id=chat_id, message_id=message_id, tip_id=tip_id, kind=kind))
        await session.flush()
    if kind in CONTENT_COPIES:
        await _withdraw_again(session, tip_id)


async def _withdraw_again(session: AsyncSession, tip_id: int) -> None:
    """Queue the withdrawal of a withdrawn tip's copies again, unless one is waiting."""
    tip = await session.get(Tip, tip_id)
    if tip is None or tip.status != TIP_WITHDRAWN:
        return
    waiting = await session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.tip_id == tip_id,
            OutboxMessage.kind == outbox.WITHDRAWN,
            OutboxMessage.status == OUTBOX_PENDING,
            OutboxMessage.lease_until.is_(None),
        )
        .limit(1)
    )
    if waiting is None:
        await outbox.enqueue(session, outbox.WITHDRAWN, tip_id=tip_id)


async def remember_shown(
    session: AsyncSession,
    chat_id: int,
    message_ids: Iterable[int],
    tip_id: int,
    kind: Shown,
    *,
    viewer: Moderator | None = None,
    view: str | None = None,
) -> None:
    """Remember what was shown of a tip in the group (so a withdrawal can take it back out);
    with ``viewer`` and ``view``, a view of the evidence, recorded in the custody log."""
    for message_id in message_ids:
        await remember_group_message(session, chat_id, message_id, tip_id, kind)
    if viewer is not None and view is not None:
        await evidence_viewed(session, tip_id, viewer, view)


async def card_posted(session: AsyncSession, tip_id: int, chat_id: int, message_id: int) -> None:
    """The tip's card is now this message: the one its decisions edit."""
    tip = await session.get(Tip, tip_id)
    if tip is not None:
        tip.card_chat_id, tip.card_message_id = chat_id, message_id
        await remember_group_message(session, chat_id, message_id, tip.id, Shown.CARD)


async def group_message(
    session: AsyncSession, chat_id: int, message_id: int
) -> GroupMessage | None:
    return await session.get(GroupMessage, (chat_id, message_id))


class Belongs(Enum):
    """Whose a message in the group is, for a press on it naming a tip."""

    NO_TIP = "no tip"  # the tip named does not exist or is a draft
    THIS_TIP = "this tip"  # recorded as the tip's, or its card
    OTHER_TIP = "other tip"  # recorded as another tip's
    UNKNOWN = "unknown"  # no record of it (a digest, a list, a card not recorded yet)


async def message_belongs(
    session: AsyncSession, tip_id: int, where: tuple[int, int] | None
) -> Belongs:
    """Whether the group's message ``where`` (chat id, message id; None when Telegram did not
    say) is one of the submitted tip ``tip_id``'s."""
    tip = await submitted_tip(session, tip_id)
    if tip is None:
        return Belongs.NO_TIP
    if where is None:
        return Belongs.UNKNOWN
    shown = await session.get(GroupMessage, where)
    if shown is not None:
        return Belongs.THIS_TIP if shown.tip_id == tip.id else Belongs.OTHER_TIP
    if (tip.card_chat_id, tip.card_message_id) == where:
        return Belongs.THIS_TIP
    return Belongs.UNKNOWN


async def queue(
    session: AsyncSession, *, banned: bool = False, page: int = 0, per_page: int = 10
) -> tuple[list[Tip], int]:
    """Open tips, unassigned and urgent first, then oldest first (or the quarantined)."""
    statuses = {TIP_QUARANTINED} if banned else OPEN
    where = Tip.status.in_(statuses)
    total = int((await session.execute(select(func.count(Tip.id)).where(where))).scalar_one())
    order = [
        case((Tip.assignee_id.is_(None), 0), else_=1),
        case((Tip.urgent.is_(True), 0), else_=1),
        Tip.submitted_at,
        Tip.id,
    ]
    tips = (
        await session.execute(
            select(Tip).where(where).order_by(*order).offset(page * per_page).limit(per_page)
        )
    ).scalars()
    return list(tips), total


async def assigned_to(session: AsyncSession, moderator_id: int) -> list[Tip]:
    return list(
        (
            await session.execute(
                select(Tip)
                .where(Tip.assignee_id == moderator_id, Tip.status.in_(OPEN))
                .order_by(Tip.urgent.desc(), Tip.submitted_at)
                .limit(50)
            )
        ).scalars()
    )


async def reporter_record(session: AsyncSession, tip: Tip) -> dict[str, int]:
    """The reporter's other tips (not drafts) by status."""
    rows = await session.execute(
        select(Tip.status, func.count(Tip.id))
        .where(Tip.reporter_id == tip.reporter_id, Tip.id != tip.id, Tip.status != TIP_DRAFT)
        .group_by(Tip.status)
    )
    return {status: int(count) for status, count in rows.all()}


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A possible duplicate of a tip: the other tip, every reason it was linked for
    (strongest first), and the perceptual distance of the closest image if any."""

    tip: Tip
    kinds: tuple[str, ...]
    distance: int | None


_LINK_STRENGTH = {SAME_FILE: 0, SIMILAR_IMAGE: 1, SIMILAR_CONTEXT: 2}


async def links(session: AsyncSession, tip: Tip) -> list[Suggestion]:
    """Possible duplicates of a tip, one per other tip (a report linked for the same file
    and for the same place and days is one suggestion with two reasons), strongest first."""
    rows = await session.execute(
        select(Tip, TipLink.kind, TipLink.distance)
        .join(Tip, Tip.id == TipLink.other_tip_id)
        .where(TipLink.tip_id == tip.id, Tip.status.not_in((TIP_DRAFT, TIP_WITHDRAWN)))
        .order_by(Tip.id)
    )
    others: dict[int, Tip] = {}
    kinds: dict[int, set[str]] = {}
    distances: dict[int, int] = {}
    for other, kind, distance in rows.all():
        others[other.id] = other
        kinds.setdefault(other.id, set()).add(kind)
        if distance is not None and kind != SAME_FILE:
            distances[other.id] = min(distance, distances.get(other.id, distance))
    found = [
        Suggestion(
            others[other_id],
            tuple(sorted(reasons, key=lambda kind: (_LINK_STRENGTH.get(kind, 9), kind))),
            distances.get(other_id),
        )
        for other_id, reasons in kinds.items()
    ]

    def strength(item: Suggestion) -> tuple[int, int, int]:
        best = _LINK_STRENGTH.get(item.kinds[0], 9)
        return (best, item.distance or 0, -len(item.kinds))

    return sorted(found, key=strength)


async def media_of(session: AsyncSession, tip_id: int) -> list[Media]:
    return list(
        (await session.execute(select(Media).where(Media.tip_id == tip_id).order_by(Media.id)))
        .scalars()
        .all()
    )


async def file_counts(session: AsyncSession, tip_ids: list[int]) -> dict[int, int]:
    """How many files each tip holds (failed downloads left out)."""
    if not tip_ids:
        return {}
    rows = await session.execute(
        select(Media.tip_id, func.count(Media.id))
        .where(Media.tip_id.in_(tip_ids), Media.status != MEDIA_FAILED)
        .group_by(Media.tip_id)
    )
    return {tip_id: int(count) for tip_id, count in rows.all()}


async def stats(session: AsyncSession, *, days: int = 14) -> dict[str, Any]:
    """Counts by status, category, oblast and day (submitted tips), and of messages
    Telegram refused for good (``undelivered``: outbox rows failed as :data:`REFUSED`)."""
    live = Tip.status.not_in((TIP_DRAFT,))

    async def count_by(column: Any) -> list[tuple[Any, int]]:
        rows = await session.execute(
            select(column, func.count(Tip.id)).where(live).group_by(column).order_by(column)
        )
        return [(key, int(count)) for key, count in rows.all()]

    since = utcnow() - timedelta(days=days)
    recent = (
        await session.execute(select(Tip.submitted_at).where(live, Tip.submitted_at >= since))
    ).scalars()
    per_day: dict[str, int] = {}
    for moment in recent:
        if moment is not None:
            key = moment.date().isoformat()
            per_day[key] = per_day.get(key, 0) + 1
    undelivered = (
        await session.execute(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.status == OUTBOX_FAILED,
                OutboxMessage.last_error.startswith(REFUSED, autoescape=True),
            )
        )
    ).scalar_one()
    return {
        "status": await count_by(Tip.status),
        "category": await count_by(Tip.category),
        "oblast": await count_by(Tip.oblast),
        "day": sorted(per_day.items()),
        "undelivered": int(undelivered),
    }
