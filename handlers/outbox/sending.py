"""Sending a job: the Bot API calls of one outbox step, and the safe form of a refused one.

Every call goes through the application's bot, whose rate limiter (:mod:`bot.ratelimit`)
spaces them; nothing here waits or counts. Telegram's errors are left to the worker
(:mod:`handlers.outbox.worker`), which settles the rows by them.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

from telegram import Message, ReplyParameters
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import tgtext
from bot.evidence import anchors
from bot.i18n import Html
from handlers.base import Ctx, Screen
from handlers.moderation.media import send_files
from handlers.outbox.job import Job

log = logging.getLogger(__name__)

# Called once an answer's words are in the chat, before its files go.
HeaderSent = Callable[[Job, int], Awaitable[None]]

# Words in a BadRequest that mean the chat or the bot's rights, not the message (an
# operator's fix, so such a row waits rather than fails), or a message unchanged.
_NOT_THE_MESSAGE = re.compile(
    "chat not found|rights|forbidden|not a member|kicked|upgraded|deactivated|thread|topic"
    "|not modified"
)
# Words in a BadRequest that mean the message to edit is gone (or too old to edit).
_NOT_EDITABLE = re.compile("not found|can't be edited")


async def send(context: Ctx, job: Job, header_sent: HeaderSent) -> int | None:
    """Send ``job``; the id of its (first) message, or None when there was nothing to show
    (a redraw of a card someone deleted)."""
    if job.posting is not None:
        job.posted = await anchors.send(context.bot, job.posting)
        return job.posted.message_id
    job.screen = _within_limit(job.screen)
    await _take_out(context, job)
    if job.edit_message_id is not None:
        edited = await _edit(context, job, job.edit_message_id)
        if edited is not None or job.edit_only:
            return edited  # a deleted card is not redrawn: /tip posts it anew when needed
        # The message was deleted (or is too old to edit): say it in a new message.
    return await _post_with_files(context, job, header_sent)


async def _post_with_files(context: Ctx, job: Job, header_sent: HeaderSent) -> int:
    """The job's words as new messages, then its files in reply to them."""
    message_id = await _words_once(context, job, header_sent)
    if job.files:
        await send_files(
            context,
            job.chat_id,
            job.files,
            reply_to=message_id,
            thread_id=job.thread_id,
            into=job.sent_files,
        )
    return message_id


async def _words_once(context: Ctx, job: Job, header_sent: HeaderSent) -> int:
    """The job's words posted, unless a retry finds them posted already; if files are to
    follow, that they are is remembered first (a retry then sends only the files)."""
    if job.header_id is not None:
        return job.header_id
    message_id = await _post(context, job)
    if job.files:
        await header_sent(job, message_id)
    return message_id


def _within_limit(screen: Screen) -> Screen:
    """The last guard of Telegram's limit (rendering should see to it): shortened if over."""
    if tgtext.fits(screen.text):
        return screen
    return Screen(Html(tgtext.shorten(screen.text)), screen.markup)


async def _edit(context: Ctx, job: Job, message_id: int) -> int | None:
    """The job's message edited in place; None if it is gone or too old to edit."""
    try:
        edited = await context.bot.edit_message_text(
            job.screen.text,
            chat_id=job.chat_id,
            message_id=message_id,
            reply_markup=job.screen.markup,  # type: ignore[arg-type]
        )
    except BadRequest as exc:
        problem = str(exc).lower()
        if "not modified" in problem:
            return message_id
        if not _NOT_EDITABLE.search(problem):
            raise
        return None
    return edited.message_id if isinstance(edited, Message) else message_id


async def _post(context: Ctx, job: Job) -> int:
    """The job's words as a new message (and the rest of a long text in reply to it)."""
    bot = context.bot
    message = await bot.send_message(
        job.chat_id,
        job.screen.text,
        reply_markup=job.screen.markup,
        reply_parameters=_reply(job.reply_to),
        message_thread_id=job.thread_id,
    )
    job.more_ids = []
    for part in job.more:
        more = await bot.send_message(
            job.chat_id,
            part,
            reply_parameters=_reply(message.message_id),
            message_thread_id=job.thread_id,
        )
        job.more_ids.append(more.message_id)
    return message.message_id


def _reply(message_id: int | None) -> ReplyParameters | None:
    if not message_id:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


async def _take_out(context: Ctx, job: Job) -> None:
    """Delete a withdrawn tip's copies (if any); overwrite those Telegram refuses to
    delete."""
    kept = await _delete_each(context, job.chat_id, job.delete_ids)
    if kept and job.redaction is not None:
        await _redact(context, job.chat_id, kept, job.redaction)


async def _delete_each(context: Ctx, chat_id: int, message_ids: list[int]) -> list[int]:
    """Delete the bot's copies one by one (a batch would skip refusals without a word);
    return the ids Telegram refused to delete (too old, or not an admin's to delete)."""
    kept: list[int] = []
    for index, message_id in enumerate(message_ids):
        try:
            if not await _delete(context, chat_id, message_id):
                kept.append(message_id)
        except Forbidden:  # no longer allowed at all: none of the rest goes either
            return kept + message_ids[index:]
    if kept:
        log.info("%d copies could not be deleted; overwriting them", len(kept))
    return kept


async def _delete(context: Ctx, chat_id: int, message_id: int) -> bool:
    """Delete one copy; False if Telegram refused (it is not gone already)."""
    try:
        await context.bot.delete_message(chat_id, message_id)
    except BadRequest as exc:
        return "not found" in str(exc).lower()
    return True


async def _redact(context: Ctx, chat_id: int, message_ids: list[int], screen: Screen) -> None:
    """Overwrite copies that could not be deleted: a text's words, a file's caption."""
    with contextlib.suppress(Forbidden):  # no longer allowed at all: stop
        for message_id in message_ids:
            await _redact_one(context, chat_id, message_id, screen)


async def _redact_one(context: Ctx, chat_id: int, message_id: int, screen: Screen) -> None:
    try:
        await context.bot.edit_message_text(screen.text, chat_id=chat_id, message_id=message_id)
    except BadRequest as exc:
        if "no text" not in str(exc).lower():
            return  # gone, or said already: nothing left to redact
        with contextlib.suppress(BadRequest):
            await context.bot.edit_message_caption(
                chat_id=chat_id,
                message_id=message_id,
                caption=tgtext.shorten(screen.text, tgtext.CAPTION),
            )


def about_the_message(exc: TelegramError) -> bool:
    """A 400 about the message itself (its length, markup, entities), which no retry of
    the same message will change; not one about the chat or the bot's rights."""
    return isinstance(exc, BadRequest) and not _NOT_THE_MESSAGE.search(exc.message.lower())


def make_safe(job: Job, exc: TelegramError) -> bool:
    """Re-render a refused job once in its safe form (plain words, shortened); False when
    that is not the remedy (not the message's fault, already safe, or nothing to render)."""
    if job.safe or job.posting is not None or not about_the_message(exc):
        return False
    job.safe = True
    job.screen = Screen(Html(tgtext.safe(job.screen.text)), job.screen.markup)
    job.more = [Html(tgtext.safe(part)) for part in job.more]
    log.warning("Telegram refused a %s message; sending it once more in plain form", job.kind)
    return True
