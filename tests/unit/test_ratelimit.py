"""The rate limiter: strict sliding windows, albums counted per item, 429s waited out."""

import asyncio
import time
from datetime import timedelta

import pytest
from telegram.error import RetryAfter

from bot.ratelimit import SlidingWindow, TelegramRateLimiter


def max_in_any_window(starts: list[float], period: float) -> int:
    return max(sum(1 for s in starts if t <= s < t + period) for t in starts)


async def test_a_sliding_window_never_lets_more_than_the_limit_through() -> None:
    window = SlidingWindow(5, 0.2)
    starts: list[float] = []

    async def one() -> None:
        await window.acquire()
        starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(one() for _ in range(17)))
    elapsed = time.monotonic() - began
    assert max_in_any_window(starts, 0.2 * 0.999) <= 5
    assert elapsed >= 0.6, "17 through a 5-per-0.2 s window take at least three windows"
    assert elapsed < 1.2


async def test_an_album_takes_one_slot_per_item() -> None:
    window = SlidingWindow(10, 0.3)
    await window.acquire(8)
    began = time.monotonic()
    await window.acquire(5)  # only 2 free: waits for the first 8 to age out
    assert time.monotonic() - began >= 0.28


def make_call(log: list[str], failures: int = 0, retry_after: int = 1):  # type: ignore[no-untyped-def]
    remaining = [failures]

    async def call(endpoint: str, data: dict) -> bool:  # type: ignore[type-arg]
        log.append(endpoint)
        if remaining[0]:
            remaining[0] -= 1
            raise RetryAfter(timedelta(seconds=retry_after))
        return True

    return call


async def test_group_sends_respect_the_group_window() -> None:
    limiter = TelegramRateLimiter(group=(3, 0.3), overall=(100, 1.0))
    log: list[str] = []
    call = make_call(log)
    starts: list[float] = []

    async def send() -> None:
        data = {"chat_id": -100123, "text": "x"}
        await limiter.process_request(call, ("sendMessage", data), {}, "sendMessage", data, None)
        starts.append(time.monotonic())

    await asyncio.gather(*(send() for _ in range(7)))
    assert len(log) == 7
    assert max_in_any_window(starts, 0.3) <= 3


async def test_a_429_is_waited_out_and_retried() -> None:
    limiter = TelegramRateLimiter(max_retries=2)
    log: list[str] = []
    call = make_call(log, failures=1, retry_after=1)
    data = {"chat_id": 5, "text": "x"}
    began = time.monotonic()
    assert await limiter.process_request(call, ("sendMessage", data), {}, "sendMessage", data, None)
    assert time.monotonic() - began >= 1.0
    assert log == ["sendMessage", "sendMessage"]
    assert limiter.retries_after_429 == 1


async def test_too_many_429s_give_up() -> None:
    limiter = TelegramRateLimiter(max_retries=1)
    call = make_call([], failures=5, retry_after=0)
    data = {"chat_id": 5}
    with pytest.raises(RetryAfter):
        await limiter.process_request(call, ("sendMessage", data), {}, "sendMessage", data, None)


async def test_requests_without_a_chat_are_not_held() -> None:
    limiter = TelegramRateLimiter(overall=(1, 10.0))
    log: list[str] = []
    call = make_call(log)
    began = time.monotonic()
    for _ in range(5):
        data = {"callback_query_id": "1"}
        await limiter.process_request(
            call, ("answerCallbackQuery", data), {}, "answerCallbackQuery", data, None
        )
    assert time.monotonic() - began < 0.5
