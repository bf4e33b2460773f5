"""The one retry policy for Bot API calls that show someone something.

A call is retried on 429 (after Telegram's ``retry_after``), on 5xx, timeouts, dropped
connections and an exhausted connection pool, with exponential backoff from 0.25 s up to
8 s, for at most 60 attempts within 5 minutes of the first; any other refusal (400, 401,
403 …) is raised at once, never retried.

What Telegram confirmed (a 200) is never sent again. A request that was not sent (the pool
had no free connection, the connection could not be made, a 429 or a 5xx answer) is safe
to repeat. A request whose answer was lost (a read timeout, a connection dropped after the
request went out) is ambiguous: Telegram may have carried it out. It is repeated all the
same — delivery is *at least once*: a rare duplicate message is better than a reporter left
without their screen. Edits, deletions and callback answers are harmless to repeat (a
repeated edit is answered "message is not modified", which callers treat as done).

Retries happen inline, in the caller's turn of its chat (``bot.processor``), so the chat's
replies keep their order: a later update of the chat waits until this one's reply is out.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long and how often a call is tried (see the module's docstring)."""

    attempts: int = 60
    deadline: float = 300.0  # seconds from the first attempt
    first_backoff: float = 0.25
    max_backoff: float = 8.0
    retry_after_margin: float = 0.1

    def wait(self, error: TelegramError, attempt: int) -> float | None:
        """Seconds to wait before trying again after ``error`` on try number ``attempt``
        (0 for the first), or None when it must not be retried."""
        if attempt + 1 >= self.attempts:
            return None
        if isinstance(error, RetryAfter):
            return seconds(error.retry_after) + self.retry_after_margin
        if transient(error):
            backoff = min(self.max_backoff, self.first_backoff * 2.0**attempt)
            return backoff * random.uniform(0.75, 1.0)  # noqa: S311 - jitter, not secrecy
        return None


POLICY = RetryPolicy()
"""The policy in force (tests may put a shorter one in its place)."""


def transient(error: TelegramError) -> bool:
    """5xx, timeouts (a pool timeout included), refused or dropped connections: PTB raises
    these as :class:`NetworkError`; a 400 is one too in PTB's hierarchy, but final."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


def seconds(value: Any) -> float:
    """``retry_after`` as seconds (PTB gives an int or a timedelta)."""
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


async def persist(call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """``await call(*args, **kwargs)`` (one Bot API request), tried again under
    :data:`POLICY` until it succeeds; the last error is raised when it is final or the
    policy's attempts or time are spent. One log line when a call first fails and one when
    it is given up, naming the method — never the request's content."""
    policy = POLICY
    what = getattr(call, "__name__", "Bot API call")
    give_up_at = time.monotonic() + policy.deadline
    attempt = 0
    while True:
        try:
            return await call(*args, **kwargs)
        except TelegramError as error:
            wait = policy.wait(error, attempt)
            if wait is None or time.monotonic() + wait > give_up_at:
                _given_up(what, error, attempt)
                raise
            if attempt == 0:
                log.warning("%s failed (%s): retrying with backoff", what, _kind(error))
        await asyncio.sleep(wait)
        attempt += 1


def _given_up(what: str, error: TelegramError, attempt: int) -> None:
    if attempt:
        log.error("%s failed %d times (last: %s): given up", what, attempt + 1, _kind(error))


def _kind(error: TelegramError) -> str:
    """The error's class (with the wait a 429 asked for), never the request's text."""
    if isinstance(error, RetryAfter):
        return f"RetryAfter {seconds(error.retry_after):g} s"
    return type(error).__name__
