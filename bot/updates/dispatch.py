"""Feeding stored updates to the application (see :mod:`bot.updates`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update

from bot.updates.marks import DoneMark
from bot.updates.store import Claimed, UpdateStore

log = logging.getLogger(__name__)

RENEW_EVERY = 20.0  # seconds between renewals of the leases in hand
POLL_EVERY = 1.0  # an idle dispatcher looks for what other processes stored this often
PRUNE_EVERY = 3600.0
CLAIM_BATCH = 256
STOP_WAIT = 5.0
FRESH_KEPT = 4096  # parsed updates this process stored, kept until it claims them


def _parsed(data: dict[str, Any], bot: Bot) -> Update | None:
    try:
        return Update.de_json(data, bot)
    except (TypeError, ValueError, KeyError):
        return None


@dataclass(slots=True)
class _Timers:
    renewed: float = field(default_factory=time.monotonic)
    pruned: float = 0.0
    failures: int = 0


class Dispatcher:
    """Claims stored updates and feeds them to the application, at most ``capacity`` in
    hand; :class:`bot.processor.Ledger` of the processor, which reports each update's start
    and end."""

    def __init__(
        self, store: UpdateStore, bot: Bot, feed: Callable[[Update], None], capacity: int
    ) -> None:
        self._store = store
        self._bot = bot
        self._feed = feed
        self._capacity = capacity
        self._in_hand: set[int] = set()
        self._fresh: OrderedDict[int, Update] = OrderedDict()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._timers = _Timers()

    # -- lifecycle

    def start(self) -> None:
        if self._task is None:
            self._stopped.clear()
            self._task = asyncio.create_task(self._run(), name="tipbot:update-dispatcher")

    async def stop(self) -> None:
        """Stop claiming (a claim under way is given :data:`STOP_WAIT` seconds); the updates
        in hand go on."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopped.set()
        self._wake.set()
        try:
            await asyncio.wait_for(task, STOP_WAIT)
        except TimeoutError:
            log.warning("stopped claiming stored updates in the middle of a claim")

    def stored(self, updates: Iterable[Update]) -> None:
        """``updates`` were just stored by this process: claim them (no need to parse)."""
        for item in updates:
            self._fresh[item.update_id] = item
        while len(self._fresh) > FRESH_KEPT:
            self._fresh.popitem(last=False)
        self._wake.set()

    # -- the ledger

    def begin(self, update_id: int, *, deferred: bool) -> DoneMark | None:
        if update_id not in self._in_hand:
            return None
        skip = 1 if deferred else 0
        return DoneMark(update_id, skip, self._mark_done, self._finished).enter()

    async def _mark_done(self, update_id: int) -> None:
        try:
            await self._store.done(update_id)
        except SQLAlchemyError as exc:  # it stays pending, and runs again later
            log.error("update=%d not marked done (%s)", update_id, type(exc).__name__)

    def _finished(self, update_id: int) -> None:
        self._in_hand.discard(update_id)
        self._wake.set()

    # -- the loop

    async def _run(self) -> None:
        await self._guarded(self._release_gone)
        while not self._stopped.is_set():
            if not await self._guarded(self._round):
                await self._idle(POLL_EVERY)

    async def _guarded(self, step: Callable[[], Awaitable[bool]]) -> bool:
        """Run ``step``; a failure (the database, mostly) is logged by kind and waited out:
        the loop never dies."""
        try:
            result = await step()
        except Exception as exc:
            self._timers.failures += 1
            log.warning("stored updates not claimed (%s): retrying", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(30.0, 0.5 * 2**self._timers.failures)):
                    await self._stopped.wait()
            return False
        self._timers.failures = 0
        return result

    async def _release_gone(self) -> bool:
        released = await self._store.release_gone()
        if released:
            log.info("continuing %d stored updates a stopped process had in hand", released)
        return False

    async def _round(self) -> bool:
        """Claim what there is room for; True when there may be more to claim at once."""
        self._wake.clear()  # what is stored or finished from now on wakes the next round
        room = min(self._capacity - len(self._in_hand), CLAIM_BATCH)
        known = dict(self._fresh)  # as the claim saw it, whatever is stored meanwhile
        claimed = await self._store.claim(room, known) if room > 0 else []
        unreadable = [c.update_id for c in claimed if not self._hand_over(c, known)]
        for update_id in unreadable:
            log.error("update=%d cannot be read: given up", update_id)
            await self._store.done(update_id)
        await self._housekeeping()
        return room > 0 and len(claimed) == room

    def _hand_over(self, item: Claimed, known: dict[int, Update]) -> bool:
        """Feed a claimed update to the application; False if it cannot be read."""
        self._fresh.pop(item.update_id, None)
        if item.update_id in self._in_hand:
            return True  # in hand already (its lease was renewed late)
        if item.data is None:
            update: Update | None = known[item.update_id]
        else:
            update = _parsed(item.data, self._bot)
        if update is None:
            return False
        self._in_hand.add(item.update_id)
        self._feed(update)
        return True

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._timers.renewed >= RENEW_EVERY:
            self._timers.renewed = now
            await self._store.renew(set(self._in_hand))
        if now - self._timers.pruned >= PRUNE_EVERY:
            self._timers.pruned = now
            await self._store.prune()

    async def _idle(self, seconds: float) -> None:
        """Wait ``seconds``, or until woken (something was stored or finished, or stop)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
