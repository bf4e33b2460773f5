"""The moderators' side of the one handler shape: decide in a unit of work, then deliver.

A moderators' handler parses the update, is authorised (:mod:`handlers.moderation.access`),
and calls :func:`respond` with its decision: services of ``bot/`` read and change the
database inside one unit of work and the handler renders what moderators are to see into an
:class:`Outcome`. Only after the commit is the outcome delivered: the button answered, the
pressed message edited, replies sent (and remembered as messages of the tip), a card posted
or redrawn. This module is the card's one home outside its rendering (:mod:`cards`):
posting it in its topic, redrawing it where it was posted, editing a pressed message into
it; and the one place that takes Telegram's "message is not modified" (an edit to what a
message shows already) for success.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from telegram import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest

from bot import card_data, moderation
from bot.card_data import CardData
from bot.moderation import Moderator, Shown
from bot.session import Session
from bot.telegram_retry import persist
from db.engine import retrying, transaction
from db.models import Media
from handlers.base import Ctx, Screen, answer
from handlers.moderation import cards, topics
from handlers.moderation.media import Sent, send_files

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prompt:
    """A message moderators answer by replying to it (the reply is for the bot)."""

    text: str
    placeholder: str


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Files:
    """A tip's files, by ``file_id``, the first with ``caption``."""

    media: Sequence[Media]
    caption: str


Sendable = str | Screen | Prompt | Location | Files  # a text is a screen without buttons
ReplyMarkup = InlineKeyboardMarkup | ForceReply | None


@dataclass(frozen=True, slots=True)
class Remember:
    """How the replies are remembered as messages of a tip (:func:`bot.moderation.
    remember_shown`): as ``kind``, and as a view of the evidence by ``viewer``."""

    tip_id: int
    kind: Shown
    viewer: Moderator | None = None
    view: str | None = None


@dataclass(slots=True)
class Outcome:
    """What moderators see of a handler's decision, delivered after the commit.

    ``toast`` (an ``alert`` to dismiss) answers the pressed button; ``edit`` replaces the
    pressed message, or ``keyboard`` only its buttons; ``replies`` are sent in reply to the
    update's message and remembered as ``remember`` says; ``post`` is a card to post;
    ``refresh`` lists tips whose cards are redrawn where they were posted."""

    toast: str | None = None
    alert: bool = False
    edit: Screen | None = None
    keyboard: InlineKeyboardMarkup | None = None
    replies: list[Sendable] = field(default_factory=list)
    remember: Remember | None = None
    post: CardData | None = None
    refresh: list[int] = field(default_factory=list)


Decide = Callable[[Session], Awaitable[Outcome]]


async def respond(update: Update, context: Ctx, decide: Decide, *, writes: bool = True) -> None:
    """Decide (in one transaction, run again after a deadlock; ``writes=False``: a read in a
    plain session), then deliver the outcome."""
    sessions = context.services.sessions
    if writes:
        outcome, _ = await retrying(sessions, decide)
    else:
        async with sessions() as session:
            outcome = await decide(session)
    await deliver(update, context, outcome)


async def deliver(update: Update, context: Ctx, outcome: Outcome) -> None:
    await _answer(update.callback_query, outcome)
    await _reply(update, context, outcome.replies, outcome.remember)
    if outcome.post is not None:
        await post_card(context, outcome.post, reply_to=_reply_to(update))
    for tip_id in outcome.refresh:
        await refresh_card(context, tip_id)


async def _answer(query: CallbackQuery | None, outcome: Outcome) -> None:
    """Answer the pressed button, and change the message it is on."""
    if query is None:
        return
    await answer(query, outcome.toast, alert=outcome.alert)
    if isinstance(query.message, Message):
        await _change(query.message, outcome)


async def _change(message: Message, outcome: Outcome) -> None:
    if outcome.edit is not None:
        await edit(message.edit_text(outcome.edit.text, reply_markup=_inline(outcome.edit)))
    elif outcome.keyboard is not None:
        await edit(message.edit_reply_markup(outcome.keyboard))


def _inline(screen: Screen) -> InlineKeyboardMarkup | None:
    markup = screen.markup
    return markup if isinstance(markup, InlineKeyboardMarkup) else None


async def edit(change: Awaitable[object]) -> bool:
    """Make an edit of a message; True when the message shows it (Telegram's "message is
    not modified": it did already). Any other refusal is logged, not raised: the decision
    stands, and the message is redrawn with the next one."""
    try:
        await change
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return True
        log.info("message not edited (%s)", type(exc).__name__)
        return False
    return True


# ---------------------------------------------------------------------------- replies


def _reply_to(update: Update) -> ReplyParameters | None:
    message = update.effective_message
    if message is None:
        return None
    return ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)


def _thread(update: Update) -> int | None:
    """A command's reply stays in its topic; a button's reply goes with the message it
    replies to."""
    message = update.message
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


async def _reply(
    update: Update, context: Ctx, replies: list[Sendable], remember: Remember | None
) -> None:
    chat = update.effective_chat
    if chat is None or not replies:
        return
    sent = Sent()
    try:
        for reply in replies:
            await _send(update, context, chat.id, reply, sent)
    finally:  # what reached the chat is remembered even if a later message failed
        await _remember(context, chat.id, sent.message_ids, remember)


async def _send(update: Update, context: Ctx, chat_id: int, reply: Sendable, sent: Sent) -> None:
    bot, where = context.bot, _reply_to(update)
    if isinstance(reply, Files):
        reply_to = where.message_id if where is not None else None
        await send_files(
            context, chat_id, reply.media, reply_to=reply_to, caption=reply.caption, into=sent
        )
        return
    if isinstance(reply, Location):
        message = await persist(
            bot.send_location, chat_id, reply.lat, reply.lon, reply_parameters=where
        )
    else:
        text, markup = _text_and_markup(reply)
        message = await persist(
            bot.send_message,
            chat_id,
            text,
            reply_markup=markup,
            reply_parameters=where,
            message_thread_id=_thread(update),
        )
    sent.message_ids.append(message.message_id)


def _text_and_markup(reply: str | Screen | Prompt) -> tuple[str, ReplyMarkup]:
    if isinstance(reply, str):
        return reply, None
    if isinstance(reply, Prompt):
        placeholder = reply.placeholder[:64]
        return reply.text, ForceReply(selective=True, input_field_placeholder=placeholder)
    return reply.text, _inline(reply)


async def _remember(context: Ctx, chat_id: int, ids: list[int], remember: Remember | None) -> None:
    if remember is None or not ids:
        return
    async with transaction(context.services.sessions) as session:
        await moderation.remember_shown(
            session,
            chat_id,
            ids,
            remember.tip_id,
            remember.kind,
            viewer=remember.viewer,
            view=remember.view,
        )


# ---------------------------------------------------------------------------- the card


async def post_card(
    context: Ctx, data: CardData, *, reply_to: ReplyParameters | None = None
) -> Message | None:
    """Post a tip's card in the moderators' group and make it the one actions edit."""
    services = context.services
    chat_id = services.settings.moderator_chat_id
    if chat_id is None:
        return None
    message = await _send_card(context, chat_id, data, reply_to)
    async with transaction(services.sessions) as session:
        await moderation.card_posted(session, data.tip.id, chat_id, message.message_id)
    return message


async def _send_card(
    context: Ctx, chat_id: int, data: CardData, reply_to: ReplyParameters | None
) -> Message:
    """Send the card into the tip's topic; a deleted category topic is forgotten, and the
    card goes to the topic created again."""
    screen = cards.card(context.services, data)
    thread = await topics.thread_for(context, data.tip)
    try:
        return await _send_screen(context, chat_id, screen, thread, reply_to)
    except BadRequest as exc:
        if thread is None or not topics.is_missing_thread(exc):
            raise
        if not await topics.forget(context, thread):
            raise
    thread = await topics.thread_for(context, data.tip)
    return await _send_screen(context, chat_id, screen, thread, reply_to)


async def _send_screen(
    context: Ctx,
    chat_id: int,
    screen: Screen,
    thread: int | None,
    reply_to: ReplyParameters | None,
) -> Message:
    return await persist(
        context.bot.send_message,
        chat_id,
        screen.text,
        reply_markup=screen.markup,
        # In a forum, a reply must stay in its topic: the card goes to the tip's own.
        reply_parameters=reply_to if thread is None else None,
        message_thread_id=thread,
    )


async def refresh_card(context: Ctx, tip_id: int) -> None:
    """Redraw a tip's card where it was posted (after an action not pressed on it)."""
    services = context.services
    async with services.sessions() as session:
        posted = await card_data.posted_card(session, tip_id)
    if posted is None:
        return
    data, chat_id, message_id = posted
    screen = cards.card(services, data)
    await edit(
        persist(
            context.bot.edit_message_text,
            screen.text,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=_inline(screen),
        )
    )
