"""One rate-limited path for everything the bot sends, within Telegram's limits.

PTB hands every Bot API request (but ``getUpdates``) to :class:`TelegramRateLimiter`:

* at most 30 requests a second that address a chat, overall;
* at most 20 messages a minute into one group (sends and edits alike);
* about one message a second into one private chat (short bursts allowed);
* on 429 (flood control) everything waits ``retry_after`` and the request is retried.

The windows are *sliding*: in any span of ``period`` seconds at most ``limit`` requests
start. (A leaky bucket such as aiolimiter's lets a full bucket go at once and then drip,
which can put up to twice the limit into one minute.) A small margin covers the network's
jitter between our clock and Telegram's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

JSON = bool | dict[str, Any] | list[dict[str, Any]]

_SENDS = frozenset(
    {
        "sendMessage", "sendPhoto", "sendVideo", "sendDocument", "sendAudio", "sendVoice",
        "sendAnimation", "sendVideoNote", "sendMediaGroup", "sendLocation", "sendVenue",
        "sendContact", "sendPoll", "sendDice", "sendSticker", "copyMessage", "copyMessages",
        "forwardMessage", "forwardMessages",
    }
)  # fmt: skip
_EDITS = frozenset(
    {"editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia"}
)


class SlidingWindow:
    """At most ``limit`` acquisitions in any ``period`` seconds, granted first come first
    served."""

    def __init__(
        self, limit: int, period: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    def _expire(self, now: float) -> None:
        while self._starts and now - self._starts[0] >= self.period:
            self._starts.popleft()

    async def acquire(self, slots: int = 1) -> None:
        """Wait until ``slots`` more fit into the window (an album counts each item)."""
        slots = max(1, min(slots, self.limit))
        async with self._lock:
            while True:
                now = self._clock()
                self._expire(now)
                free = self.limit - len(self._starts)
                if free >= slots:
                    self._starts.extend([now] * slots)
                    return
                await asyncio.sleep(self._starts[slots - free - 1] + self.period - now)

    def prime(self, starts: list[float]) -> None:
        """Count earlier starts (``clock`` times), e.g. another process's before a restart."""
        now = self._clock()
        merged = sorted([*self._starts, *(s for s in starts if now - s < self.period)])
        self._starts = deque(merged[-self.limit :])

    @property
    def idle(self) -> bool:
        self._expire(self._clock())
        return not self._starts and not self._lock.locked()


class TelegramRateLimiter(BaseRateLimiter[int]):
    """Telegram's limits as sliding windows, and waiting out 429s (``max_retries`` times)."""

    def __init__(
        self,
        *,
        overall: tuple[int, float] = (30, 1.0),
        group: tuple[int, float] = (20, 60.0),
        private: tuple[int, float] = (3, 3.0),
        max_retries: int = 5,
        margin: float = 0.02,
    ) -> None:
        self._margin = margin
        self._overall = SlidingWindow(overall[0], overall[1] * (1 + margin))
        self._group_rule = group
        self._private_rule = private
        self._chats: dict[int | str, SlidingWindow] = {}
        self._max_retries = max_retries
        self._resume = asyncio.Event()
        self._resume.set()
        self.retries_after_429 = 0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    def _chat_window(self, chat_id: int | str, group: bool) -> SlidingWindow:
        window = self._chats.get(chat_id)
        return self._add_window(chat_id, group) if window is None else window

    def _add_window(self, chat_id: int | str, group: bool) -> SlidingWindow:
        if len(self._chats) > 4096:
            self._forget_quiet_chats()
        limit, period = self._group_rule if group else self._private_rule
        # The margin keeps network jitter from squeezing one more into the window.
        window = SlidingWindow(limit, period * (1 + self._margin) + 0.05)
        self._chats[chat_id] = window
        return window

    def _forget_quiet_chats(self) -> None:
        self._chats = {chat: window for chat, window in self._chats.items() if not window.idle}

    def remember_sends(self, chat_id: int, seconds_ago: list[float]) -> None:
        """Tell the chat's window about messages sent before this process started."""
        now = time.monotonic()
        self._chat_window(chat_id, chat_id < 0).prime([now - ago for ago in seconds_ago])

    async def _acquire(self, endpoint: str, chat_id: int | str | None, items: int) -> None:
        if chat_id is None:
            return
        group = _is_group(chat_id)
        if _counts_for_chat(endpoint, group):
            await self._chat_window(chat_id, group).acquire(items)
        await self._overall.acquire()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        chat_id = _chat_id(data.get("chat_id"))
        items = _items(endpoint, data)
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            await self._resume.wait()
            await self._acquire(endpoint, chat_id, items)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                await self._wait_out(exc, endpoint)
        raise AssertionError("unreachable")

    async def _wait_out(self, exc: RetryAfter, endpoint: str) -> None:
        """Hold every request for Telegram's ``retry_after`` (and a little more)."""
        self.retries_after_429 += 1
        wait = _seconds(exc.retry_after) + 0.1
        log.warning("flood control: waiting %.1f s before retrying %s", wait, endpoint)
        self._resume.clear()
        try:
            await asyncio.sleep(wait)
        finally:
            self._resume.set()


def _is_group(chat_id: int | str) -> bool:
    """A group or channel: a negative id, or an ``@username``."""
    return isinstance(chat_id, str) or chat_id < 0


def _counts_for_chat(endpoint: str, group: bool) -> bool:
    """Sends count against a chat's window; edits too, in a group."""
    return endpoint in _SENDS or (group and endpoint in _EDITS)


def _items(endpoint: str, data: dict[str, Any]) -> int:
    """How many messages a request sends: an album's items, else one."""
    media = data.get("media") if endpoint == "sendMediaGroup" else None
    return len(media) if isinstance(media, list | tuple) else 1


def _chat_id(value: Any) -> int | str | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
