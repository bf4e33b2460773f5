"""The outbox worker: drains the outbox in the background of one application.

Rate limiting happens in the bot's rate limiter (:mod:`bot.ratelimit`, installed on the
application by :mod:`bot.app`), through which every Bot API call here passes; the worker
only primes it after a restart and postpones a row on a 429.

One step claims the oldest due row in a short transaction and builds its job there (the
kind's builder, :data:`handlers.outbox.kinds.BUILDERS`), sends it with no transaction open
(:func:`handlers.outbox.sending.send`), and settles it in another
(:class:`handlers.outbox.settling.Settler`). While the send lasts the worker renews the rows'
lease, so an expired lease always means a sender that is gone; at start and then
periodically it asks :func:`bot.outbox.recover` to send such rows once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot import outbox
from bot.outbox import Kind
from bot.ratelimit import TelegramRateLimiter
from db.engine import transaction
from handlers.base import Ctx, Services
from handlers.moderation import topics
from handlers.outbox.job import Job
from handlers.outbox.kinds import BUILDERS, build_unknown
from handlers.outbox.sending import make_safe, send
from handlers.outbox.settling import Outcome, Settler

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


def _lease_seconds() -> float:
    return outbox.LEASE.total_seconds()


class OutboxWorker:
    """Drains the outbox in the background of one application."""

    def __init__(self, context_factory: Callable[[], Ctx], services: Services) -> None:
        self._context_factory = context_factory
        self._services = services
        self._settler = Settler(services)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()
        self._next_recovery = 0.0

    @property
    def sent(self) -> int:
        """Messages Telegram confirmed since this worker started."""
        return self._settler.sent

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace: float = 30.0) -> None:
        """Finish the message in flight (waiting up to ``grace`` seconds), then stop. A send
        cut short here is sent once more by the next start (:func:`bot.outbox.recover`)."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _prime_rate_limiter(self) -> None:
        """A restarted process does not remember what it sent a moment ago: count the
        group messages of the last window from the outbox, so the group's limit holds."""
        settings = self._services.settings
        limiter = self._context_factory().bot.rate_limiter
        if settings.moderator_chat_id is None or not isinstance(limiter, TelegramRateLimiter):
            return
        window = timedelta(seconds=settings.tipbot_group_window_seconds)
        async with self._services.sessions() as session:
            ago = await outbox.recent_sends(session, window)
        limiter.remember_sends(settings.moderator_chat_id, ago)

    async def _run(self) -> None:
        try:
            await self._prime_rate_limiter()
        except Exception:
            log.exception("could not prime the rate limiter")
        while not self._stopping:
            if not await self._turn():
                await self._idle()

    async def _turn(self) -> bool:
        """One step (after recovering what a crash cut short, when due); False when there
        was nothing to do, or it failed."""
        try:
            async with self._busy:
                await self._recover_when_due()
                return await self.step()
        except Exception:
            log.exception("outbox step failed")
            return False

    async def _idle(self) -> None:
        """Wait to be woken (a row was queued), or until the next poll."""
        if self._stopping:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _recover_when_due(self) -> None:
        """Rows a crash cut short (their lease ran out): at start, then every half lease."""
        if time.monotonic() < self._next_recovery:
            return
        self._next_recovery = time.monotonic() + _lease_seconds() / 2
        async with transaction(self._services.sessions) as session:
            found = await outbox.recover(session)
        _report(found)

    # ------------------------------------------------------------------------ one step

    async def step(self) -> bool:
        """Claim, send and settle one unit of work; False when nothing was due."""
        async with transaction(self._services.sessions) as session:
            job = await self._claim(session)
        if job is None:
            return False
        context = self._context_factory()
        async with self._leased(job.row_ids):
            outcome = await self._attempt(context, job)
        await self._settler.settle(context, job, outcome)
        return True

    async def _claim(self, session: AsyncSession) -> Job | None:
        # With no moderators' group yet, cards wait in the queue; the rest goes on.
        no_group = self._services.settings.moderator_chat_id is None
        rows = await outbox.claim(session, skip=[Kind.CARD] if no_group else [])
        if not rows:
            return None
        build = BUILDERS.get(rows[0].kind, build_unknown)
        return await build(self._services, session, rows[0])

    async def _attempt(self, context: Ctx, job: Job) -> Outcome:
        """Send ``job`` (once more in its safe form if Telegram refused the message
        itself); what Telegram answered."""
        while True:
            try:
                if job.place is not None:
                    job.thread_id = await topics.thread_for(context, job.place)
                return Outcome(message_id=await send(context, job, self._settler.header_sent))
            except (BadRequest, Forbidden) as exc:
                if not make_safe(job, exc):
                    return Outcome(refusal=exc)
            except Exception as exc:
                return _failure(exc)

    @contextlib.asynccontextmanager
    async def _leased(self, ids: Sequence[int]) -> AsyncIterator[None]:
        """Keep the rows' lease while their send lasts (a slow send is not a crash)."""
        done = asyncio.Event()
        keeper = asyncio.get_running_loop().create_task(self._keep_leased(ids, done))
        try:
            yield
        finally:
            done.set()
            await keeper

    async def _keep_leased(self, ids: Sequence[int], done: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), _lease_seconds() / 4)
                return
            try:
                async with transaction(self._services.sessions) as session:
                    await outbox.renew(session, ids)
            except Exception as exc:  # the next renewal may get through
                log.warning("could not renew an outbox lease (%s)", type(exc).__name__)


def _report(found: outbox.Recovered) -> None:
    """One line for rows sent once more after a crash, one for rows given up."""
    if found.resent:
        log.warning("%d outbox message(s) cut short by a crash: sent once more", found.resent)
    if found.failed:
        log.error(
            "%d outbox message(s) cut short by a crash twice: marked failed, not sent again",
            found.failed,
        )


def _failure(exc: Exception) -> Outcome:
    """A send that failed for now: retried after Telegram's wait (429), or with backoff (5xx
    answers, timeouts, the network; a fault of ours, such as a file or the database)."""
    if isinstance(exc, RetryAfter):
        return Outcome(error="429", delay=_seconds(exc.retry_after))
    if not isinstance(exc, NetworkError):  # TimedOut is one
        log.error("outbox send failed", exc_info=exc)
    return Outcome(error=type(exc).__name__)


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
