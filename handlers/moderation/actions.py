"""The buttons of cards and digests (``mod:<action>:<tip>[:<version>[:<arg>[:force]]]``).

Decisions (take, release, urgent, verify, reject, duplicate, ban, unban, undo a verdict,
reopen) run in one transaction on the locked tip after checking the version the moderator
saw: of two presses at the same moment exactly one applies, and the other is told who was
first. A tip taken by someone else asks for confirmation first. Each decision edits the card
in place, is in the custody log, and answers the button with a short confirmation. Other
buttons fetch what the card leaves out (files, map, full text, the files' metadata,
history) as replies to it, or ask for an internal note.

Button data can be forged (any client can send any data with a press on any message it
sees): numbers in it are read strictly, a press acts only on a submitted tip (a draft's
words and files are not the moderators' to see), a press that redraws the message does so
only on a message of that very tip, and a decision needs the version of the card it was
on. Anything else is answered as a button that is no longer active.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest

from bot import moderation
from bot.i18n import Html
from bot.moderation import Conflict, Moderator, Refused
from db.engine import retrying, transaction
from db.models import TIP_DRAFT, TIP_WITHDRAWN, GroupMessage, Tip, TipNote
from handlers.base import Ctx, Screen, Services, answer, handler, parse_id
from handlers.moderation import cards, topics
from handlers.moderation.access import authorise
from handlers.moderation.media import Sent, send_files

log = logging.getLogger(__name__)

DECISIONS = frozenset(
    {"take", "release", "urgent", "verify", "reject", "dup", "ban", "unban", "undo", "reopen"}
)


@dataclass(slots=True)
class Press:
    """A parsed ``mod:`` callback."""

    action: str
    tip_id: int
    version: int | None
    arg: str
    force: bool
    data: str

    @classmethod
    def parse(cls, data: str) -> Press | None:
        """The press in ``data``, or None unless its tip id and version are numbers as this
        bot writes them (see :func:`handlers.base.parse_id`)."""
        parts = data.split(":")
        if len(parts) < 3 or parts[0] != "mod":
            return None
        tip_id = parse_id(parts[2])
        if tip_id is None:
            return None
        force = len(parts) > 3 and parts[-1] == "force"
        if force:
            parts = parts[:-1]
        version: int | None = None
        if len(parts) > 3 and parts[3] not in ("", "-"):
            version = parse_id(parts[3], minimum=0)
            if version is None:
                return None
        arg = parts[4] if len(parts) > 4 else ""
        return cls(parts[1], tip_id, version, arg, force, ":".join(parts))


# Presses that redraw the pressed message as the tip's card (or its keyboard): only on a
# message of that very tip, or a forged press would turn one tip's card into another's.
ON_OWN_CARD = DECISIONS | {"card", "rejectmenu", "dupmenu", "reopenmenu"}


async def _admissible(services: Services, press: Press, query: CallbackQuery) -> bool:
    """Whether a press may act at all: on a tip the reporter sent (never a draft: its
    words and files are not the moderators' yet), and on a message of that tip's."""
    message = query.message
    async with services.sessions() as session:
        tip = await session.get(Tip, press.tip_id)
        if tip is None or tip.status == TIP_DRAFT:
            return False
        if not isinstance(message, Message):
            return press.action not in ON_OWN_CARD
        shown = await session.get(GroupMessage, (message.chat.id, message.message_id))
    if shown is not None:
        return shown.tip_id == tip.id
    if (tip.card_chat_id, tip.card_message_id) == (message.chat.id, message.message_id):
        return True
    if press.action not in ON_OWN_CARD:
        # A digest, a list or a question's offer: not a message of one tip, and no press on
        # it turns it into a card.
        return True
    # A card whose sending is not recorded yet (pressed the moment it arrived): the press
    # must be one of its own buttons.
    markup = message.reply_markup
    rows = markup.inline_keyboard if markup is not None else ()
    return any(key.callback_data == query.data for row in rows for key in row)


def _t(services: Services, key: str, **args: object) -> Html:
    return services.catalog.t(services.settings.tipbot_moderator_language, key, **args)


@handler("moderation.button")
async def button(update: Update, context: Ctx) -> None:
    query = update.callback_query
    if query is None:
        return
    press = Press.parse(query.data or "")
    moderator = await authorise(update, context, press.action if press else "?")
    if moderator is None:
        return
    services = context.services
    if press is None or not await _admissible(services, press, query):
        await answer(query, _t(services, "mod-stale"))
        return
    if press.action in DECISIONS:
        await _decide(update, context, press, moderator)
    else:
        await VIEWS.get(press.action, _unknown)(update, context, press, moderator)


# ---------------------------------------------------------------------------- decisions


async def _decide(update: Update, context: Ctx, press: Press, moderator: Moderator) -> None:
    services = context.services
    query = update.callback_query
    assert query is not None
    if press.version is None or (press.action == "dup" and parse_id(press.arg) is None):
        # Every decision button carries the version of the card it was on; without it
        # (forged, or forced without one) the moderator cannot have seen what they decide.
        await answer(query, _t(services, "mod-stale"))
        return

    async def body(session: AsyncSession) -> tuple[Decided | None, list[int]]:
        if press.action in ("ban", "unban"):
            await moderation.lock_reporter_of(session, press.tip_id)
        tip = await moderation.tip_for_update(session, press.tip_id)
        if tip is None:
            return None, []
        decided = await _decision(session, services, tip, press, moderator)
        if press.action in ("ban", "unban") and decided.applied:
            # Up to ten (each redraw costs the group's budget); others catch up later.
            return decided, await moderation.other_cards(session, tip)
        return decided, []

    # Run again after a deadlock with a reporter's or another moderator's transaction.
    (decided, others), _ = await retrying(services.sessions, body)
    if decided is None:
        await answer(query, _t(services, "mod-stale"))
        return
    toast, markup, screen = decided.toast, decided.markup, decided.screen
    await answer(query, toast, alert=markup is not None)
    if markup is not None:
        await _edit_markup(query.message, markup)
    else:
        await _edit_card(query.message, screen)
    for other in others:  # the reporter's other cards show the ban (or its end) too
        await refresh_card(context, other)


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision's outcome: the toast, a confirmation keyboard (when the tip is someone
    else's), the card as it now is, and whether the action was carried out."""

    toast: str
    markup: InlineKeyboardMarkup | None
    screen: Screen
    applied: bool


async def _decision(
    session: AsyncSession, services: Services, tip: Tip, press: Press, moderator: Moderator
) -> Decided:
    """Apply a decision to the locked tip."""
    markup: InlineKeyboardMarkup | None = None
    toast: str
    applied = False
    try:
        moderation.check_version(tip, press.version)
        if _needs_confirmation(tip, press, moderator):
            toast = _t(services, "mod-confirm-taken", name=tip.assignee_name or "")
            markup = cards.confirm_keyboard(services, tip, press.data)
        else:
            toast = await _apply(session, services, tip, press, moderator)
            applied = True
    except Conflict:
        toast = _t(services, "mod-conflict", name=tip.last_actor_name or "?")
    except Refused as exc:
        toast = _t(services, f"mod-refused-{exc.reason}")
    screen = cards.card(services, await cards.load_card(session, tip))
    return Decided(toast, markup, screen, applied)


def _needs_confirmation(tip: Tip, press: Press, moderator: Moderator) -> bool:
    return (
        not press.force
        and tip.assignee_id is not None
        and tip.assignee_id != moderator.id
        and tip.status in moderation.OPEN
    )


async def _apply(
    session: AsyncSession, services: Services, tip: Tip, press: Press, moderator: Moderator
) -> str:
    notify = services.settings.tipbot_notify_reporters
    action = press.action
    if action == "take":
        await moderation.take(session, tip, moderator)
    elif action == "release":
        await moderation.release(session, tip, moderator)
    elif action == "urgent":
        await moderation.set_urgent(session, tip, moderator, press.arg == "1")
        action = "urgent-on" if press.arg == "1" else "urgent-off"
    elif action == "verify":
        await moderation.verify(session, tip, moderator, notify=notify)
    elif action == "reject":
        await moderation.reject(session, tip, moderator, press.arg, notify=notify)
    elif action == "dup":
        original_id = parse_id(press.arg)
        original = await session.get(Tip, original_id) if original_id is not None else None
        if original is None or original.status == TIP_DRAFT:
            raise Refused("duplicate-unknown")
        await moderation.mark_duplicate(session, tip, original, moderator, notify=notify)
    elif action == "ban":
        await moderation.ban(session, tip, moderator)
    elif action == "unban":
        await moderation.unban(session, tip, moderator)
    elif action == "undo":
        verdict = await moderation.undo_verdict(session, tip, moderator)
        return _t(services, "mod-done-undo", verdict=_t(services, f"mod-action-{verdict}"))
    elif action == "reopen":
        await moderation.reopen(session, tip, moderator, press.arg)
    return _t(services, f"mod-done-{action}", reference=tip.reference)


async def _edit_card(message: object, screen: Screen) -> None:
    if not isinstance(message, Message):
        return
    try:
        await message.edit_text(screen.text, reply_markup=screen.markup)  # type: ignore[arg-type]
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.info("card not edited (%s)", type(exc).__name__)


async def _edit_markup(message: object, markup: InlineKeyboardMarkup) -> None:
    if isinstance(message, Message):
        try:
            await message.edit_reply_markup(markup)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.info("card keyboard not edited (%s)", type(exc).__name__)


# ---------------------------------------------------------------------------- views

View = Callable[[Update, Ctx, Press, Moderator], Awaitable[None]]


async def _load(context: Ctx, press: Press) -> cards.CardData | None:
    async with context.services.sessions() as session:
        tip = await session.get(Tip, press.tip_id)
        return await cards.load_card(session, tip) if tip is not None else None


def _reply_to(update: Update) -> ReplyParameters | None:
    message = update.effective_message
    if message is None:
        return None
    return ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)


async def _remember_views(
    context: Ctx,
    chat_id: int,
    tip_id: int,
    ids: list[int],
    moderator: Moderator | None = None,
    view: str | None = None,
    *,
    copy: bool = False,
) -> None:
    """Remember what was shown of a tip, so a withdrawal can take it back out of the chat;
    a view of the evidence itself (files, map, full text, metadata) goes in the custody
    log. The history (no ``view``) holds no reporter's words (custody details never do), so
    it is not a copy a withdrawal takes back — unless it quotes internal notes (``copy``)."""
    kind = "view" if view is not None or copy else "history"
    async with transaction(context.services.sessions) as session:
        for message_id in ids:
            await moderation.remember_group_message(session, chat_id, message_id, tip_id, kind)
        if moderator is not None and view is not None:
            await moderation.evidence_viewed(session, tip_id, moderator, view)
    # A withdrawal queued again (the tip was withdrawn while its copy was on the way).


async def _media(update: Update, context: Ctx, press: Press, mod: Moderator) -> None:
    data = await _load(context, press)
    query, chat = update.callback_query, update.effective_chat
    assert query is not None
    if data is None or chat is None or not data.media:
        await answer(query, _t(context.services, "mod-no-media"))
        return
    await answer(query, _t(context.services, "mod-sending-media", count=len(data.media)))
    message = update.effective_message
    caption = _t(context.services, "mod-media-caption", reference=data.tip.reference)
    sent = Sent()
    try:
        await send_files(
            context,
            chat.id,
            data.media,
            reply_to=message.message_id if message else None,
            caption=caption,
            into=sent,
        )
    finally:  # what reached the chat is remembered even if a later batch failed
        if sent.message_ids:
            await _remember_views(context, chat.id, data.tip.id, sent.message_ids, mod, "media")


async def _map(update: Update, context: Ctx, press: Press, mod: Moderator) -> None:
    data = await _load(context, press)
    query, chat = update.callback_query, update.effective_chat
    assert query is not None
    if data is None or chat is None or data.tip.lat is None or data.tip.lon is None:
        await answer(query, _t(context.services, "mod-no-location"))
        return
    await answer(query)
    sent = await context.bot.send_location(
        chat.id, data.tip.lat, data.tip.lon, reply_parameters=_reply_to(update)
    )
    await _remember_views(context, chat.id, data.tip.id, [sent.message_id], mod, "map")


async def _replies(
    update: Update,
    context: Ctx,
    tip_id: int,
    texts: list[Html],
    moderator: Moderator | None = None,
    view: str | None = None,
    *,
    copy: bool = False,
) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    sent = [
        (await context.bot.send_message(chat.id, text, reply_parameters=_reply_to(update)))
        for text in texts
    ]
    ids = [message.message_id for message in sent]
    await _remember_views(context, chat.id, tip_id, ids, moderator, view, copy=copy)


async def _text(update: Update, context: Ctx, press: Press, mod: Moderator) -> None:
    data = await _load(context, press)
    assert update.callback_query is not None
    if data is not None and data.tip.status == TIP_WITHDRAWN:
        await answer(update.callback_query, _t(context.services, "mod-refused-withdrawn"))
        return
    await answer(update.callback_query)
    if data is not None:
        texts = cards.full_text(context.services, data.tip)
        await _replies(update, context, data.tip.id, texts, mod, "text")


async def _history(update: Update, context: Ctx, press: Press, _mod: Moderator) -> None:
    services = context.services
    assert update.callback_query is not None
    async with services.sessions() as session:
        tip = await session.get(Tip, press.tip_id)
        shown = await cards.history(session, services, tip) if tip else None
    await answer(update.callback_query)
    if shown is not None:
        await _replies(update, context, press.tip_id, shown.texts, copy=shown.quotes_notes)


async def _metadata(update: Update, context: Ctx, press: Press, mod: Moderator) -> None:
    """What the files' own metadata says (capture time, GPS), against the report."""
    data = await _load(context, press)
    query = update.callback_query
    assert query is not None
    if data is None or data.tip.status == TIP_WITHDRAWN or not data.facts:
        await answer(query, _t(context.services, "mod-no-metadata"))
        return
    await answer(query)
    texts = cards.metadata_view(context.services, data)
    await _replies(update, context, data.tip.id, texts, mod, "metadata")


async def _card(update: Update, context: Ctx, press: Press, _mod: Moderator) -> None:
    """Back from a sub-menu: the card as it is now."""
    data = await _load(context, press)
    assert update.callback_query is not None
    await answer(update.callback_query)
    if data is not None:
        await _edit_card(update.callback_query.message, cards.card(context.services, data))


async def _reject_menu(update: Update, context: Ctx, press: Press, _mod: Moderator) -> None:
    data = await _load(context, press)
    query = update.callback_query
    assert query is not None
    await answer(query)
    if data is not None:
        await _edit_markup(query.message, cards.reject_keyboard(context.services, data.tip))


async def _reopen_menu(update: Update, context: Ctx, press: Press, _mod: Moderator) -> None:
    data = await _load(context, press)
    query = update.callback_query
    assert query is not None
    await answer(query)
    if data is not None:
        await _edit_markup(query.message, cards.reopen_keyboard(context.services, data.tip))


async def _duplicate_menu(update: Update, context: Ctx, press: Press, _mod: Moderator) -> None:
    data = await _load(context, press)
    query = update.callback_query
    assert query is not None
    await answer(query)
    if data is not None:
        await _edit_markup(query.message, cards.duplicate_keyboard(context.services, data))


async def _prompt(
    update: Update, context: Ctx, tip: Tip, key: str, kind: str, placeholder: str
) -> None:
    """A message moderators answer by replying to it (remembered for the reply)."""
    services = context.services
    chat = update.effective_chat
    if chat is None:
        return
    sent = await context.bot.send_message(
        chat.id,
        _t(services, key, reference=tip.reference),
        reply_markup=ForceReply(selective=True, input_field_placeholder=placeholder[:64]),
        reply_parameters=_reply_to(update),
    )
    async with transaction(services.sessions) as session:
        await moderation.remember_group_message(session, chat.id, sent.message_id, tip.id, kind)


async def _ask(update: Update, context: Ctx, press: Press, _mod: Moderator) -> None:
    services = context.services
    query = update.callback_query
    assert query is not None
    data = await _load(context, press)
    if data is None:
        await answer(query, _t(services, "mod-stale"))
        return
    if not data.tip.contact_allowed:
        await answer(
            query, _t(services, "mod-ask-not-allowed", reference=data.tip.reference), alert=True
        )
        return
    await answer(query)
    placeholder = _t(services, "mod-ask-placeholder")
    await _prompt(update, context, data.tip, "mod-ask-prompt", "ask", placeholder)


async def _note(update: Update, context: Ctx, press: Press, _mod: Moderator) -> None:
    """📝 Note: a prompt whose reply becomes an internal note (never sent to the reporter)."""
    services = context.services
    query = update.callback_query
    assert query is not None
    data = await _load(context, press)
    if data is None or data.tip.status in (TIP_DRAFT, TIP_WITHDRAWN):
        await answer(query, _t(services, "mod-stale"))
        return
    await answer(query)
    placeholder = _t(services, "mod-note-placeholder")
    await _prompt(update, context, data.tip, "mod-note-prompt", "note", placeholder)


async def _duplicate_reference(update: Update, context: Ctx, press: Press, _m: Moderator) -> None:
    services = context.services
    query = update.callback_query
    assert query is not None
    data = await _load(context, press)
    await answer(query)
    if data is not None:
        placeholder = _t(services, "mod-dup-placeholder")
        await _prompt(update, context, data.tip, "mod-dup-prompt", "dupref", placeholder)


async def _open(update: Update, context: Ctx, press: Press, _mod: Moderator) -> None:
    """From a digest line: post the tip's full card (once; later presses point to it)."""
    services = context.services
    query, chat = update.callback_query, update.effective_chat
    assert query is not None
    if chat is None:
        return
    async with services.sessions() as session:
        tip = await session.get(Tip, press.tip_id)
        live = tip is not None and tip.status != TIP_DRAFT
        data = await cards.load_card(session, tip) if tip is not None and live else None
    if data is None:
        await answer(query, _t(services, "mod-stale"))
        return
    if data.tip.card_message_id is not None:
        # Opened already: one card per tip (``/tip`` posts it again, for a long chat).
        await answer(
            query, _t(services, "mod-open-exists", reference=data.tip.reference), alert=True
        )
        return
    await answer(query, _t(services, "mod-opening", reference=data.tip.reference))
    await post_card(context, data, reply_to=_reply_to(update))


async def post_card(
    context: Ctx, data: cards.CardData, *, reply_to: ReplyParameters | None = None
) -> Message | None:
    """Post a tip's card in the moderators' group and make it the one actions edit."""
    services = context.services
    chat_id = services.settings.moderator_chat_id
    if chat_id is None:
        return None
    screen = cards.card(services, data)
    for attempt in range(2):
        thread = await topics.thread_for(context, data.tip)
        try:
            message = await context.bot.send_message(
                chat_id,
                screen.text,
                reply_markup=screen.markup,
                # In a forum, a reply must stay in its topic: the card goes to the tip's own.
                reply_parameters=reply_to if thread is None else None,
                message_thread_id=thread,
            )
            break
        except BadRequest as exc:
            # A deleted category topic: forgotten, and created again on the second attempt.
            if attempt or thread is None or not topics.is_missing_thread(exc):
                raise
            if not await topics.forget(context, thread):
                raise
    async with transaction(services.sessions) as session:
        tip = await session.get(Tip, data.tip.id)
        if tip is not None:
            tip.card_chat_id, tip.card_message_id = chat_id, message.message_id
            await moderation.remember_group_message(
                session, chat_id, message.message_id, tip.id, "card"
            )
    return message


async def _pending(session: AsyncSession, press: Press, moderator: Moderator) -> TipNote | str:
    """The question a reply to a card left waiting (or the refusal's message key)."""
    note_id = parse_id(press.arg)
    note = await session.get(TipNote, note_id) if note_id is not None else None
    if note is None or note.tip_id != press.tip_id or note.kind != moderation.PENDING_QUESTION:
        return "mod-stale"
    if note.moderator_id != moderator.id:
        return "mod-question-not-yours"
    return note


# What a confirmed reply becomes: the tip, the kept reply, and what the moderator is told
# (with whether it was done).
PendingUse = Callable[[AsyncSession, Tip, TipNote, Moderator], Awaitable[tuple[Html, bool]]]


async def _use_pending(
    update: Update, context: Ctx, press: Press, mod: Moderator, use: PendingUse
) -> bool:
    """Turn a reply kept under a card into what the pressed button says, on the locked tip;
    the toast says how it went, and when done the prompt and the card are redrawn."""
    services = context.services
    query = update.callback_query
    assert query is not None
    done = False
    async with transaction(services.sessions) as session:
        tip = await moderation.tip_for_update(session, press.tip_id)
        note = await _pending(session, press, mod) if tip is not None else "mod-stale"
        if isinstance(note, str) or tip is None:
            toast = _t(services, note if isinstance(note, str) else "mod-stale")
        else:
            try:
                toast, done = await use(session, tip, note, mod)
            except Refused as exc:
                toast = _t(services, f"mod-refused-{exc.reason}")
    await answer(query, toast)
    if done:
        await _edit_card(query.message, Screen(toast))
        await refresh_card(context, press.tip_id)
    return done


async def _send_question(update: Update, context: Ctx, press: Press, mod: Moderator) -> None:
    """[Send] under a reply to a card: the reply goes to the reporter as a question."""
    services = context.services

    async def ask(
        session: AsyncSession, tip: Tip, note: TipNote, mod: Moderator
    ) -> tuple[Html, bool]:
        if not tip.contact_allowed:
            return _t(services, "mod-ask-not-allowed", reference=tip.reference), False
        await moderation.ask(session, tip, mod, note.text or "", pending=note)
        return _t(services, "mod-ask-queued", reference=tip.reference), True

    await _use_pending(update, context, press, mod, ask)


async def _keep_question(update: Update, context: Ctx, press: Press, mod: Moderator) -> None:
    """[Don't send]: the reply stays a message among moderators."""
    services = context.services
    query = update.callback_query
    assert query is not None
    async with transaction(services.sessions) as session:
        note = await _pending(session, press, mod)
        if not isinstance(note, str):
            await session.delete(note)
    if isinstance(note, str):
        await answer(query, _t(services, note))
        return
    await answer(query)
    await _edit_card(query.message, Screen(_t(services, "mod-question-kept")))


async def _keep_as_note(update: Update, context: Ctx, press: Press, mod: Moderator) -> None:
    """[Internal note]: the reply stays with the tip as a note for the moderators."""
    services = context.services

    async def keep(
        session: AsyncSession, tip: Tip, note: TipNote, mod: Moderator
    ) -> tuple[Html, bool]:
        await moderation.add_note(session, tip, mod, note.text or "", pending=note)
        return _t(services, "mod-note-saved", reference=tip.reference), True

    await _use_pending(update, context, press, mod, keep)


async def refresh_card(context: Ctx, tip_id: int) -> None:
    """Redraw a tip's card where it was posted (after an action not pressed on it)."""
    services = context.services
    async with services.sessions() as session:
        tip = await session.get(Tip, tip_id)
        if tip is None or tip.card_message_id is None or tip.card_chat_id is None:
            return
        screen = cards.card(services, await cards.load_card(session, tip))
        chat_id, message_id = tip.card_chat_id, tip.card_message_id
    try:
        await context.bot.edit_message_text(
            screen.text,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=screen.markup,  # type: ignore[arg-type]
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.info("card not refreshed (%s)", type(exc).__name__)


async def _unknown(update: Update, context: Ctx, _press: Press, _mod: Moderator) -> None:
    assert update.callback_query is not None
    await answer(update.callback_query, _t(context.services, "mod-stale"))


VIEWS: dict[str, View] = {
    "media": _media,
    "map": _map,
    "text": _text,
    "history": _history,
    "card": _card,
    "rejectmenu": _reject_menu,
    "dupmenu": _duplicate_menu,
    "reopenmenu": _reopen_menu,
    "note": _note,
    "keepnote": _keep_as_note,
    "meta": _metadata,
    "dupref": _duplicate_reference,
    "ask": _ask,
    "open": _open,
    "sendq": _send_question,
    "dropq": _keep_question,
}
