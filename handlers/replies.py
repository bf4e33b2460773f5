"""A handler's answer, decided inside its transaction and delivered after the commit.

Deciding first and talking to Telegram afterwards keeps network calls out of database
transactions, and keeps every handler's "what the user sees" in one value. Every screen is
made to fit Telegram's 4096 UTF-16 units on the way out (:func:`fitted`), so a reporter's
long, emoji-heavy words can never make their screen a refused message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import tgtext
from bot.i18n import Html
from bot.telegram_retry import persist
from handlers.base import Ctx, Screen, answer, send, show


@dataclass(frozen=True, slots=True)
class Retired:
    """An earlier message whose screen is over (its step is finished): it keeps only
    ``text`` (a receipt), without buttons, or is deleted when there is nothing to keep."""

    message_id: int
    text: Html | None = None


@dataclass(slots=True)
class Reply:
    """What the user sees next: ``toast`` answers the pressed button, ``edit`` replaces the
    pressed button's message, and the ``send`` screens are sent as new messages.

    With ``erase_from``, the first screen is sent first and then every message of the chat
    from ``erase_from`` up to just before it is deleted (both sides), so that screen is
    what remains — however many messages arrived after the pressed button.

    ``retire`` lists earlier messages showing a screen that is over, changed last.
    """

    edit: Screen | None = None
    send: list[Screen] = field(default_factory=list)
    toast: str | None = None
    alert: bool = False
    erase_from: int | None = None
    retire: list[Retired] = field(default_factory=list)


def fitted(screen: Screen, limit: int = tgtext.TEXT) -> Screen:
    """``screen`` within Telegram's limit in UTF-16 units: shortened at its end (tags kept
    balanced) when the words it shows are too long. Screens that show a reporter's words
    budget them first (``render.describe_tip``); this is the last guard."""
    if tgtext.fits(screen.text, limit):
        return screen
    return Screen(Html(tgtext.shorten(screen.text, limit)), screen.markup)


async def deliver(update: Update, context: Ctx, reply: Reply) -> None:
    """Show ``reply``: every call is retried through Telegram's transient failures
    (:mod:`bot.telegram_retry`), one after the other, so the chat sees them in order."""
    chat = update.effective_chat
    pending = await _answer_and_edit(update, context, reply)
    if chat is None:
        return
    if reply.erase_from is not None and pending:
        await _send_then_erase(update, context, chat.id, pending.pop(0), reply.erase_from)
    for screen in pending:
        await send(context, chat.id, screen)
    await retire_messages(context, chat.id, reply.retire)


async def _answer_and_edit(update: Update, context: Ctx, reply: Reply) -> list[Screen]:
    """Answer the pressed button and edit its message into ``reply.edit``, both at once;
    the screens still to send as new messages, in order."""
    query = update.callback_query
    first: list[Awaitable[object]] = []
    if query is not None:
        first.append(answer(query, reply.toast, alert=reply.alert))
    pending = [fitted(screen) for screen in reply.send]
    if reply.edit is not None:
        edit = fitted(reply.edit)
        if query is not None and reply.erase_from is None:
            first.append(show(update, context, edit))
        else:
            pending.insert(0, edit)
    if first:
        await asyncio.gather(*first)
    return pending


async def _send_then_erase(
    update: Update, context: Ctx, chat_id: int, screen: Screen, erase_from: int
) -> None:
    """Send ``screen``, then delete every message of the chat from ``erase_from`` up to it."""
    try:
        kept = await send(context, chat_id, screen)
    except TelegramError:
        # Erase anyway, up to the message that asked for it: the phone matters more.
        last = update.effective_message
        if last is not None:
            await erase_messages(context, chat_id, range(erase_from, last.message_id + 1))
        raise
    if kept is not None:
        await erase_messages(context, chat_id, range(erase_from, kept.message_id))


async def retire_messages(context: Ctx, chat_id: int, retired: Sequence[Retired]) -> None:
    """Take a finished screen's buttons away (keeping its receipt text), or delete it; one
    already gone or too old to change is left as it is."""
    bot = context.bot
    for item in retired:
        with contextlib.suppress(BadRequest, Forbidden):
            if item.text:
                receipt = tgtext.shorten(item.text)
                await persist(
                    bot.edit_message_text, receipt, chat_id=chat_id, message_id=item.message_id
                )
            else:
                await persist(bot.delete_message, chat_id, item.message_id)


async def erase_messages(context: Ctx, chat_id: int, message_ids: Sequence[int]) -> None:
    """Delete these messages of a private chat (both sides), 100 at a time; ids that are
    gone or too old are skipped by Telegram, and a refused batch is retried one by one."""
    bot = context.bot
    for start in range(0, len(message_ids), 100):
        batch = list(message_ids[start : start + 100])
        try:
            await persist(bot.delete_messages, chat_id, batch)
        except BadRequest:
            for message_id in batch:
                with contextlib.suppress(BadRequest):
                    await persist(bot.delete_message, chat_id, message_id)
        except Forbidden:
            return
