"""Settling a job once Telegram answered: its rows marked sent (and what its kind records),
postponed, or failed — each in one transaction, run again after a deadlock (a send Telegram
confirmed must be recorded, or the row would be sent again after a restart)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import BadRequest, Forbidden

from bot import delivery, moderation, outbox
from db.engine import retrying, transaction
from handlers.base import Ctx, Services
from handlers.moderation import topics
from handlers.outbox.job import Job, OnSent
from handlers.outbox.sending import about_the_message

log = logging.getLogger(__name__)

# How a row Telegram refused for good starts its last_error (what /stats counts).
REFUSED = moderation.REFUSED
# How long a row waits that the chat itself refused (an operator's fix).
_CHAT_REFUSED_DELAY = 60.0


async def _nothing_more(session: AsyncSession, job: Job, message_id: int) -> None:
    """What most kinds record beyond their rows."""


@dataclass(frozen=True, slots=True)
class Rows:
    """How most kinds settle: their rows marked sent, then what the kind records
    (``on_sent``); or postponed, an answer's files already sent remembered."""

    on_sent: OnSent = _nothing_more
    # Tip before outbox rows, the order a withdrawal takes them in (PostgreSQL would
    # otherwise deadlock the two when a card lands as the tip is withdrawn).
    locks_tip: bool = False

    async def sent(self, session: AsyncSession, job: Job, message_id: int | None) -> None:
        if self.locks_tip:
            await moderation.tip_for_update(session, job.tip_id)
        for row in await outbox.reload(session, job.row_ids):
            outbox.mark_sent(row, message_id)
        if message_id is not None:
            await self.on_sent(session, job, message_id)

    async def postponed(
        self, session: AsyncSession, job: Job, error: str, wait: timedelta | None
    ) -> None:
        for row in await outbox.reload(session, job.row_ids):
            outbox.postpone(row, error=error, delay=wait)
        await _files_half_sent(session, job)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What Telegram answered to one job: a message id (or None: nothing to show), a
    transient error with its wait, or a refusal."""

    message_id: int | None = None
    error: str | None = None
    delay: float | None = None
    refusal: BadRequest | Forbidden | None = None


class Settler:
    """Records outcomes for the worker."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self.sent = 0  # messages Telegram confirmed, since start

    async def settle(self, context: Ctx, job: Job, outcome: Outcome) -> None:
        if outcome.refusal is not None:
            await self._refused(context, job, outcome.refusal)
        elif outcome.error is not None:
            await self.retry(job, outcome.error, outcome.delay)
        else:
            await self._delivered(job, outcome.message_id)

    # ------------------------------------------------------------------------ delivered

    async def _delivered(self, job: Job, message_id: int | None) -> None:
        await retrying(self._services.sessions, lambda s: job.settling.sent(s, job, message_id))
        if message_id is not None:
            self.sent += 1

    # ------------------------------------------------------------------------ not yet

    async def retry(self, job: Job, error: str, delay: float | None = None) -> None:
        """Postpone the rows: after ``delay`` seconds, or with backoff."""
        wait = timedelta(seconds=delay) if delay else None
        postpone = job.settling.postponed
        await retrying(self._services.sessions, lambda s: postpone(s, job, error, wait))

    async def header_sent(self, job: Job, message_id: int) -> None:
        """Remember that an answer's words are in the chat, so that if its files fail the
        retry does not post the words twice (and a withdrawal can take them back out)."""
        job.header_id = message_id
        async with transaction(self._services.sessions) as session:
            await outbox.note_progress(session, job.row_ids, header=message_id)
            sent = (message_id, *job.more_ids)
            await delivery.remember_answer(session, job.chat_id, job.tip_id, sent)

    # ------------------------------------------------------------------------ refused

    async def _refused(self, context: Ctx, job: Job, exc: BadRequest | Forbidden) -> None:
        """Telegram refused the message (400, 403), in its safe form too where one helps."""
        if job.posting is not None:
            # The anchor chat is missing or closed to the bot: kept until an operator fixes
            # ANCHOR_CHAT_ID or the bot's rights (settle logs it each time).
            await self.retry(job, type(exc).__name__, _CHAT_REFUSED_DELAY)
        elif about_the_message(exc):
            await self._failed(job, exc)
        elif job.to_reporter:
            # The reporter blocked the bot or deleted the chat: nothing more can be done.
            await self._give_up(job, type(exc).__name__)
            log.info("message to a reporter refused (%s)", type(exc).__name__)
        elif await _topic_deleted(context, job, exc):
            await self.retry(job, "topic deleted", 1.0)  # a new topic next time
        else:
            # The group itself refused: a configuration problem an operator must fix.
            log.error("the moderators' group refused a message (%s)", type(exc).__name__)
            await self.retry(job, type(exc).__name__, _CHAT_REFUSED_DELAY)

    async def _failed(self, job: Job, exc: BadRequest | Forbidden) -> None:
        """Telegram refused the message itself, in its safe form too: never retried, one
        log line (Telegram's reason, no words of the message), counted in /stats."""
        await self._give_up(job, f"{REFUSED}{exc.message}")
        log.error(
            "Telegram refused a %s message for good (%s); %d outbox row(s) marked failed",
            job.kind,
            type(exc).__name__,
            len(job.rows),
        )

    async def _give_up(self, job: Job, error: str) -> None:
        await retrying(self._services.sessions, lambda s: _mark_failed(s, job, error))


async def _mark_failed(session: AsyncSession, job: Job, error: str) -> None:
    for row in await outbox.reload(session, job.row_ids):
        outbox.mark_failed(row, error)
    await _files_half_sent(session, job)


async def _files_half_sent(session: AsyncSession, job: Job) -> None:
    """Some of an answer's files went before a failure: remember them as in the chat, and
    leave them out of the retry."""
    sent = job.sent_files
    if not sent.message_ids:
        return
    await delivery.remember_answer(session, job.chat_id, job.tip_id, sent.message_ids)
    await outbox.note_progress(session, job.row_ids, files=sent.media_ids)


async def _topic_deleted(context: Ctx, job: Job, exc: BadRequest | Forbidden) -> bool:
    """The job's forum topic was deleted in the group (and forgotten: the next message
    creates it again)."""
    if job.thread_id is None or not topics.is_missing_thread(exc):
        return False
    return await topics.forget(context, job.thread_id)
