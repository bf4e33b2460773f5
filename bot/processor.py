"""How updates are scheduled: different chats concurrently, one chat's updates in order.

PTB hands every update to :class:`ChatOrderedProcessor`. Updates of one chat wait for each
other on a per-chat lock (FIFO), so a reporter's album arrives in order while another
reporter's slow download never delays anyone else. In a group the turn is per member, so
one moderator's album of evidence does not hold up the others' buttons. The processor also
drops floods of taps and texts from one private chat (sending one polite notice per flood;
files always pass: evidence is never dropped) and logs one line
per update: its id, the handler that took it, the outcome and the milliseconds it took —
never its content.

Updates that come from the durable store (:mod:`bot.updates`) are reported to its
:class:`Ledger` as they start and end, so that they are marked done — in the handler's own
commit where there is one — and an update cut short stays stored for the next start.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger("tipbot.updates")


@dataclass(slots=True)
class UpdateRecord:
    """What the log line says about the update being processed."""

    update_id: int
    handler: str = "none"
    outcome: str = "ignored"


_current: ContextVar[UpdateRecord | None] = ContextVar("tipbot_update", default=None)


def mark_handled(handler: str, outcome: str = "ok") -> None:
    """Called by handlers (through a decorator) to name themselves in the update's log line."""
    record = _current.get()
    if record is not None:
        record.handler = handler
        record.outcome = outcome


def mark_outcome(outcome: str) -> None:
    record = _current.get()
    if record is not None:
        record.outcome = outcome


class FloodGate:
    """At most ``limit`` updates a minute per private chat, as a bucket of ``limit`` tokens
    refilled at ``limit`` a minute.

    A steady pace at the limit (a tap every 2 s under 30 a minute) keeps the bucket full,
    however its timing jitters; a burst may use the whole bucket at once. An update past it
    still spends what has refilled meanwhile, so a flood faster than the limit stays ignored
    until it slows down below it. :meth:`admit` says ``"ok"``, ``"first_excess"`` (notify
    once per flood) or ``"excess"``.

    Files never come here (:class:`ChatOrderedProcessor` lets them through): evidence is
    never dropped, and the per-report file limit tells the reporter exactly what was not
    taken. ``media_group_id`` makes an album count once, for callers that count files.
    """

    def __init__(
        self, limit: int, *, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = float(limit)
        self._rate = limit / window
        self._window = window
        self._clock = clock
        # Per chat: tokens left, and when they were counted.
        self._buckets: dict[int, tuple[float, float]] = {}
        self._albums: dict[int, deque[str]] = {}
        self._flooding: set[int] = set()

    def admit(self, key: int, media_group_id: str | None = None) -> str:
        now = self._clock()
        if media_group_id is not None:
            albums = self._albums.setdefault(key, deque(maxlen=8))
            if media_group_id in albums:
                return "ok"
            albums.append(media_group_id)
        tokens, counted = self._buckets.get(key, (self._limit, now))
        tokens = min(self._limit, tokens + (now - counted) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self._flooding.discard(key)
            if len(self._buckets) > 10_000:
                self._forget_idle(now)
            return "ok"
        # Past the limit: what refilled is spent all the same (never below empty).
        self._buckets[key] = (0.0, now)
        if key in self._flooding:
            return "excess"
        self._flooding.add(key)
        return "first_excess"

    def _forget_idle(self, now: float) -> None:
        # A chat quiet for a whole window has a full bucket again: nothing to remember.
        for key in [k for k, (_, at) in self._buckets.items() if now - at > self._window]:
            self._buckets.pop(key, None)
            self._albums.pop(key, None)
            self._flooding.discard(key)


def turn_key(update: object) -> Hashable | None:
    """Whose turn an update waits for: its private chat, or (chat, member) in a group."""
    if isinstance(update, Update):
        chat, user = update.effective_chat, update.effective_user
        if chat is not None:
            if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP) and user is not None:
                return (chat.id, user.id)
            return chat.id
        if user is not None:
            return user.id
    return None


# Message attributes that carry a file: evidence, which the flood gate never drops.
_FILE_ATTRIBUTES = ("photo", "video", "document", "voice", "audio", "video_note", "animation")


def _carries_file(message: Message | None) -> bool:
    return message is not None and any(getattr(message, name) for name in _FILE_ATTRIBUTES)


def carries_evidence(update: object) -> bool:
    """A file sent in a private chat: :mod:`handlers.evidence` admits it in one transaction,
    downloads it, and records it in a second one."""
    if not isinstance(update, Update):
        return False
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE and _carries_file(update.message)


class LedgerEntry(Protocol):
    """One stored update in hand (see :class:`Ledger`)."""

    async def settle(self) -> None:
        """The update ran to its end: mark it done unless a commit of its handler did."""

    def close(self) -> None:
        """It is over either way (an update cut short stays stored and is not done)."""


class Ledger(Protocol):
    """Where stored updates come from (:class:`bot.updates.Dispatcher`)."""

    def begin(self, update_id: int, *, deferred: bool) -> LedgerEntry | None:
        """The entry of a stored update this process has in hand (None for any other).
        ``deferred``: the done mark goes with the handler's second commit, not its first."""


def _private_flood_key(update: object) -> int | None:
    """The private chat whose flood gate an update passes; None when it passes none (a
    group, or a file: files are counted by the per-report limit instead)."""
    if not isinstance(update, Update):
        return None
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE or _carries_file(update.message):
        return None
    return chat.id


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Concurrent across chats, sequential within a chat, with a flood gate and a log line."""

    def __init__(
        self,
        max_concurrent_updates: int,
        *,
        flood_gate: FloodGate | None = None,
        on_flood: Callable[[Update], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}
        self._flood_gate = flood_gate
        self.on_flood = on_flood
        # Called with the turn's key: a private chat's id, or (chat id, user id) in a group.
        self.chat_started: list[Callable[[Hashable], None]] = []
        self.chat_finished: list[Callable[[Hashable], None]] = []
        self.update_done: list[Callable[[int], None]] = []
        self.ledger: Ledger | None = None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    def chat_busy(self, chat_id: int) -> bool:
        """Whether an update of this chat is being processed or waiting."""
        return chat_id in self._locks

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        record = UpdateRecord(update.update_id if isinstance(update, Update) else -1)
        token = _current.set(record)
        entry = self._ledger_entry(update, record.update_id)
        started = time.perf_counter()
        try:
            await self._process(update, coroutine, record)
            if entry is not None:
                await entry.settle()
        finally:
            _current.reset(token)
            if entry is not None:
                entry.close()
            log.info(
                "update=%d handler=%s outcome=%s ms=%.1f",
                record.update_id,
                record.handler,
                record.outcome,
                (time.perf_counter() - started) * 1000,
            )
            for listener in self.update_done:
                listener(record.update_id)

    def _ledger_entry(self, update: object, update_id: int) -> LedgerEntry | None:
        if self.ledger is None or update_id < 0:
            return None
        return self.ledger.begin(update_id, deferred=carries_evidence(update))

    async def _process(
        self, update: object, coroutine: Awaitable[Any], record: UpdateRecord
    ) -> None:
        try:
            if await self._dropped_by_flood(update, coroutine, record):
                return
            key = turn_key(update)
            if key is None:
                await coroutine
                return
            await self.run_in_chat(key, coroutine)
        except Exception:  # PTB routes handler errors to the error handler; this is the rest
            record.outcome = "error"
            log.exception("update=%d failed outside its handler", record.update_id)

    async def _dropped_by_flood(
        self, update: object, coroutine: Awaitable[Any], record: UpdateRecord
    ) -> bool:
        """Whether the flood gate drops ``update`` (then its handler never runs)."""
        flood = _private_flood_key(update)
        if self._flood_gate is None or flood is None:
            return False
        verdict = self._flood_gate.admit(flood)
        if verdict == "ok":
            return False
        if inspect.iscoroutine(coroutine):
            coroutine.close()
        record.handler, record.outcome = "flood", "dropped"
        if verdict == "first_excess" and self.on_flood is not None:
            await self.on_flood(update)  # type: ignore[arg-type]
        return True

    async def run_in_chat(self, key: Hashable, coroutine: Awaitable[Any]) -> None:
        """Run ``coroutine`` in the chat's turn: after its updates already waiting, before any
        that arrive later. Work that is not an update (a delayed acknowledgement) uses it too."""
        lock, waiting = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                for listener in self.chat_started:
                    listener(key)
                try:
                    await coroutine
                finally:
                    for listener in self.chat_finished:
                        listener(key)
        finally:
            lock, waiting = self._locks[key]
            if waiting <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, waiting - 1)
