"""The retry policy of Bot API calls: what is retried, how long it waits, when it stops."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot import telegram_retry
from bot.telegram_retry import RetryPolicy, persist

POOL_TIMEOUT = TimedOut(
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent"
)
RETRIED = {
    "500": NetworkError("Internal Server Error"),
    "502": NetworkError("Bad Gateway"),
    "read timeout": TimedOut(),
    "pool timeout": POOL_TIMEOUT,
    "dropped connection": NetworkError("httpx.RemoteProtocolError: Server disconnected"),
}
FINAL = {
    "400": BadRequest("Bad Request: message to edit not found"),
    "403": Forbidden("Forbidden: bot was blocked by the user"),
    "401": InvalidToken("Unauthorized"),
    "409": Conflict("Conflict"),
    "chat migrated": ChatMigrated(-100123),
    "unparsable answer": TelegramError("Invalid server response"),
}


@pytest.mark.parametrize("error", list(RETRIED.values()), ids=list(RETRIED))
def test_transient_failures_back_off_exponentially_up_to_the_cap(error: TelegramError) -> None:
    policy = RetryPolicy(first_backoff=0.25, max_backoff=8.0)
    waits = [policy.wait(error, attempt) for attempt in range(10)]
    assert all(w is not None for w in waits)
    assert 0.25 * 0.75 <= waits[0] <= 0.25  # type: ignore[operator]
    assert 2.0 * 0.75 <= waits[3] <= 2.0  # type: ignore[operator]
    assert all(0.0 < w <= 8.0 for w in waits)  # type: ignore[operator]


@pytest.mark.parametrize("error", list(FINAL.values()), ids=list(FINAL))
def test_final_refusals_are_not_retried(error: TelegramError) -> None:
    assert RetryPolicy().wait(error, 0) is None


@pytest.mark.parametrize("retry_after", [7, timedelta(seconds=7)])
def test_a_429_waits_what_telegram_asked(retry_after: int | timedelta) -> None:
    assert RetryPolicy(retry_after_margin=0.1).wait(RetryAfter(retry_after), 3) == 7.1


def test_the_default_policy_rides_out_forty_429s_in_a_row() -> None:
    policy = telegram_retry.POLICY
    waits = [policy.wait(RetryAfter(timedelta(seconds=1)), attempt) for attempt in range(40)]
    assert None not in waits
    assert sum(w or 0 for w in waits) < policy.deadline


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> RetryPolicy:
    policy = RetryPolicy(attempts=5, deadline=5.0, first_backoff=0.01, max_backoff=0.02)
    monkeypatch.setattr(telegram_retry, "POLICY", policy)
    return policy


class Flaky:
    """A Bot API method failing with ``errors`` in turn, then answering "sent"."""

    def __init__(self, *errors: TelegramError) -> None:
        self.errors = list(errors)
        self.calls: list[tuple[object, ...]] = []
        self.__name__ = "sendMessage"

    async def __call__(self, *args: object, **kwargs: object) -> str:
        self.calls.append((*args, *kwargs.values()))
        if self.errors:
            raise self.errors.pop(0)
        return "sent"


async def test_a_call_is_repeated_with_its_arguments_until_it_succeeds(
    quick: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    call = Flaky(NetworkError("Internal Server Error"), POOL_TIMEOUT, TimedOut())
    with caplog.at_level(logging.INFO, logger="bot.telegram_retry"):
        assert await persist(call, 42, "secret words", reply_markup=None) == "sent"
    assert call.calls == [(42, "secret words", None)] * 4
    assert [r.getMessage() for r in caplog.records] == [
        "sendMessage failed (NetworkError): retrying with backoff"
    ]


async def test_a_final_refusal_is_raised_at_once(quick: RetryPolicy) -> None:
    call = Flaky(Forbidden("Forbidden: bot was blocked by the user"))
    with pytest.raises(Forbidden):
        await persist(call, 42, "text")
    assert len(call.calls) == 1


async def test_the_attempts_are_bounded(
    quick: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    call = Flaky(*[NetworkError("Bad Gateway")] * 10)
    with pytest.raises(NetworkError), caplog.at_level(logging.INFO, logger="bot.telegram_retry"):
        await persist(call, 42, "secret words")
    assert len(call.calls) == quick.attempts
    lines = [r.getMessage() for r in caplog.records]
    assert lines[-1] == "sendMessage failed 5 times (last: NetworkError): given up"
    assert len(lines) == 2
    assert "secret" not in caplog.text


async def test_a_wait_past_the_deadline_gives_up_without_waiting(quick: RetryPolicy) -> None:
    call = Flaky(RetryAfter(timedelta(seconds=60)))
    began = time.monotonic()
    with pytest.raises(RetryAfter):
        await persist(call, 42, "text")
    assert time.monotonic() - began < 1.0
    assert len(call.calls) == 1
