"""The buttons of cards and digests (``mod:<action>:<tip>[:<version>[:<arg>[:force]]]``).

Decisions (take, release, urgent, verify, reject, duplicate, ban, unban, undo a verdict,
reopen) run in one transaction on the locked tip after checking the version the moderator
saw (:func:`bot.moderation.decide`): of two presses at the same moment exactly one applies,
and the other is told who was first. A tip taken by someone else asks for confirmation
first. Each decision edits the card in place, is in the custody log, and answers the button
with a short confirmation. Other buttons fetch what the card leaves out (files, map, full
text, the files' metadata, history) as replies to it, or ask for an internal note.

Button data can be forged (any client can send any data with a press on any message it
sees): numbers in it are read strictly, a press acts only on a submitted tip (a draft's
words and files are not the moderators' to see), a press that redraws the message does so
only on a message of that very tip, and a decision needs the version of the card it was
on. Anything else is answered as a button that is no longer active.

Every press has the moderators' shape (:mod:`handlers.moderation.outcome`): decide in one
unit of work (a read for what only shows), then deliver.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update

from bot import card_data, moderation
from bot.card_data import CardData
from bot.moderation import Belongs, Conflict, Decided, Moderator, Refused, Shown
from bot.session import Session
from db.models import TIP_WITHDRAWN
from handlers.base import Ctx, Screen, Services, answer
from handlers.moderation import callbacks, cards
from handlers.moderation.access import for_moderators
from handlers.moderation.callbacks import Press, pressed_action
from handlers.moderation.cards import refusal, say
from handlers.moderation.outcome import Files, Location, Outcome, Prompt, Remember, respond

DECISIONS = moderation.DECISIONS


# Presses that redraw the pressed message as the tip's card (or its keyboard): only on a
# message of that very tip, or a forged press would turn one tip's card into another's.
ON_OWN_CARD = DECISIONS | {"card", "rejectmenu", "dupmenu", "reopenmenu"}


async def _admissible(services: Services, press: Press, query: CallbackQuery) -> bool:
    """Whether a press may act at all: on a tip the reporter sent (never a draft: its
    words and files are not the moderators' yet), and on a message of that tip's."""
    message = query.message if isinstance(query.message, Message) else None
    where = (message.chat.id, message.message_id) if message is not None else None
    async with services.sessions() as session:
        belongs = await moderation.message_belongs(session, press.tip_id, where)
    if belongs is not Belongs.UNKNOWN:
        return belongs is Belongs.THIS_TIP
    # A digest, a list or a question's offer is no message of one tip, and no press on it
    # turns it into a card. A card whose sending is not recorded yet (pressed the moment it
    # arrived) takes only its own buttons.
    return press.action not in ON_OWN_CARD or _own_button(message, query.data)


def _own_button(message: Message | None, data: str | None) -> bool:
    markup = message.reply_markup if message is not None else None
    rows = markup.inline_keyboard if markup is not None else ()
    return any(key.callback_data == data for row in rows for key in row)


@dataclass(frozen=True, slots=True)
class Pressed:
    """A press by an authorised moderator, on a message it may act on."""

    services: Services
    press: Press
    moderator: Moderator


Run = Callable[[Session, Pressed], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Route:
    run: Run
    writes: bool  # a change in one transaction; else a read


@for_moderators("moderation.button", pressed_action)
async def button(update: Update, context: Ctx, moderator: Moderator) -> None:
    query = update.callback_query
    assert query is not None
    services = context.services
    press = callbacks.pressed(update)
    if press is None or not await _admissible(services, press, query):
        await answer(query, say(services, "mod-stale"))
        return
    route = ROUTES.get(press.action, Route(_unknown, writes=False))
    pressed = Pressed(services, press, moderator)

    async def decide(session: Session) -> Outcome:
        return await route.run(session, pressed)

    await respond(update, context, decide, writes=route.writes)


def _stale(services: Services) -> Outcome:
    return Outcome(toast=say(services, "mod-stale"))


async def _unknown(_session: Session, pressed: Pressed) -> Outcome:
    return _stale(pressed.services)


# ---------------------------------------------------------------------------- decisions


async def _decide(session: Session, pressed: Pressed) -> Outcome:
    services, press = pressed.services, pressed.press
    decision = press.decision()
    notify = services.settings.tipbot_notify_reporters
    decided = (
        await moderation.decide(session, press.tip_id, decision, pressed.moderator, notify=notify)
        if decision is not None
        else None
    )
    if decided is None:
        return _stale(services)
    if decided.confirm:
        name = decided.tip.assignee_name or ""
        confirm = cards.confirm_keyboard(services, decided.tip, press.data)
        return Outcome(say(services, "mod-confirm-taken", name=name), alert=True, keyboard=confirm)
    screen = cards.card(services, await card_data.load_card(session, decided.tip))
    # The reporter's other cards show the ban (or its end) too.
    return Outcome(_decided(services, decided), edit=screen, refresh=decided.others)


def _decided(services: Services, decided: Decided) -> str:
    if decided.problem is not None:
        return refusal(services, decided.problem)
    undone = say(services, f"mod-action-{decided.result}") if decided.done == "undo" else ""
    return say(
        services, f"mod-done-{decided.done}", reference=decided.tip.reference, verdict=undone
    )


# ---------------------------------------------------------------------------- views


async def _media(session: Session, pressed: Pressed) -> Outcome:
    services = pressed.services
    data = await card_data.card_of(session, pressed.press.tip_id)
    if data is None or not data.media:
        return Outcome(toast=say(services, "mod-no-media"))
    caption = say(services, "mod-media-caption", reference=data.tip.reference)
    return Outcome(
        toast=say(services, "mod-sending-media", count=len(data.media)),
        replies=[Files(data.media, caption)],
        remember=Remember(data.tip.id, Shown.VIEW, pressed.moderator, "media"),
    )


async def _map(session: Session, pressed: Pressed) -> Outcome:
    tip = await moderation.submitted_tip(session, pressed.press.tip_id)
    if tip is None or tip.lat is None or tip.lon is None:
        return Outcome(toast=say(pressed.services, "mod-no-location"))
    return Outcome(
        replies=[Location(tip.lat, tip.lon)],
        remember=Remember(tip.id, Shown.VIEW, pressed.moderator, "map"),
    )


async def _text(session: Session, pressed: Pressed) -> Outcome:
    services = pressed.services
    tip = await moderation.submitted_tip(session, pressed.press.tip_id)
    if tip is None:
        return Outcome()
    if tip.status == TIP_WITHDRAWN:
        return Outcome(toast=refusal(services, Refused("withdrawn", tip)))
    return Outcome(
        replies=list(cards.full_text(services, tip)),
        remember=Remember(tip.id, Shown.VIEW, pressed.moderator, "text"),
    )


async def _history(session: Session, pressed: Pressed) -> Outcome:
    found = await card_data.history_of(session, pressed.press.tip_id)
    if found is None:
        return Outcome()
    shown = cards.history(pressed.services, found)
    # The history holds no reporter's words (custody details never do), so it is not a
    # copy a withdrawal takes back — unless it quotes internal notes.
    kind = Shown.VIEW if shown.quotes_notes else Shown.HISTORY
    return Outcome(replies=list(shown.texts), remember=Remember(found.tip.id, kind))


async def _metadata(session: Session, pressed: Pressed) -> Outcome:
    """What the files' own metadata says (capture time, GPS), against the report."""
    services = pressed.services
    data = await card_data.card_of(session, pressed.press.tip_id)
    if data is None or data.tip.status == TIP_WITHDRAWN or not data.facts:
        return Outcome(toast=say(services, "mod-no-metadata"))
    return Outcome(
        replies=list(cards.metadata_view(services, data)),
        remember=Remember(data.tip.id, Shown.VIEW, pressed.moderator, "metadata"),
    )


async def _card(session: Session, pressed: Pressed) -> Outcome:
    """Back from a sub-menu: the card as it is now."""
    data = await card_data.card_of(session, pressed.press.tip_id)
    return Outcome(edit=cards.card(pressed.services, data)) if data is not None else Outcome()


_MENUS: dict[str, Callable[[Services, CardData], InlineKeyboardMarkup]] = {
    "rejectmenu": lambda services, data: cards.reject_keyboard(services, data.tip),
    "reopenmenu": lambda services, data: cards.reopen_keyboard(services, data.tip),
    "dupmenu": cards.duplicate_keyboard,
}


async def _menu(session: Session, pressed: Pressed) -> Outcome:
    """A decision's choices (a reason, the original) in place of the card's buttons."""
    data = await card_data.card_of(session, pressed.press.tip_id)
    if data is None:
        return Outcome()
    return Outcome(keyboard=_MENUS[pressed.press.action](pressed.services, data))


# A prompt moderators answer by replying to it: its text, placeholder, and what it is.
_PROMPTS = {
    "ask": ("mod-ask-prompt", "mod-ask-placeholder", Shown.ASK),
    "note": ("mod-note-prompt", "mod-note-placeholder", Shown.NOTE),  # an internal note
    "dupref": ("mod-dup-prompt", "mod-dup-placeholder", Shown.DUPREF),
}


async def _prompt(session: Session, pressed: Pressed) -> Outcome:
    services = pressed.services
    key, placeholder, kind = _PROMPTS[pressed.press.action]
    try:
        tip = await moderation.prompt_target(session, pressed.press.tip_id, kind)
    except Refused as exc:
        return Outcome(refusal(services, exc), alert=exc.reason == "no-contact")
    prompt = Prompt(say(services, key, reference=tip.reference), say(services, placeholder))
    return Outcome(replies=[prompt], remember=Remember(tip.id, kind))


async def _open(session: Session, pressed: Pressed) -> Outcome:
    """From a digest line: post the tip's full card (once; later presses point to it)."""
    services = pressed.services
    data = await card_data.card_of(session, pressed.press.tip_id)
    if data is None:
        return _stale(services)
    reference = data.tip.reference
    if data.tip.card_message_id is not None:
        # Opened already: one card per tip (``/tip`` posts it again, for a long chat).
        return Outcome(say(services, "mod-open-exists", reference=reference), alert=True)
    return Outcome(say(services, "mod-opening", reference=reference), post=data)


# ---------------------------------------------------------------------------- kept replies

# What the buttons under a reply kept under a card make of it, and what they say then.
_KEPT = {
    "sendq": (moderation.send_pending_question, "mod-ask-queued"),  # a question, sent
    "keepnote": (moderation.keep_pending_as_note, "mod-note-saved"),  # an internal note
}


async def _use_kept(session: Session, pressed: Pressed) -> Outcome:
    """Turn a reply kept under a card into what the pressed button says, on the locked tip;
    when done, the offer says so and the card is redrawn."""
    services, press = pressed.services, pressed.press
    use, key = _KEPT[press.action]
    try:
        tip = await use(session, press.tip_id, press.number, pressed.moderator)
    except (Conflict, Refused) as exc:
        return Outcome(toast=refusal(services, exc))
    done = say(services, key, reference=tip.reference)
    return Outcome(done, edit=Screen(done), refresh=[tip.id])


async def _drop_kept(session: Session, pressed: Pressed) -> Outcome:
    """[Don't send]: the reply stays a message among moderators."""
    services, press = pressed.services, pressed.press
    try:
        await moderation.drop_pending_question(
            session, press.tip_id, press.number, pressed.moderator
        )
    except Refused as exc:
        return Outcome(toast=refusal(services, exc))
    return Outcome(edit=Screen(say(services, "mod-question-kept")))


_VIEWS: dict[str, Run] = {
    "media": _media,
    "map": _map,
    "text": _text,
    "history": _history,
    "meta": _metadata,
    "card": _card,
    "rejectmenu": _menu,
    "dupmenu": _menu,
    "reopenmenu": _menu,
    "note": _prompt,
    "dupref": _prompt,
    "ask": _prompt,
    "open": _open,
}
ROUTES: dict[str, Route] = {
    **{action: Route(_decide, writes=True) for action in DECISIONS},
    **{action: Route(view, writes=False) for action, view in _VIEWS.items()},
    "sendq": Route(_use_kept, writes=True),
    "keepnote": Route(_use_kept, writes=True),
    "dropq": Route(_drop_kept, writes=True),
}
