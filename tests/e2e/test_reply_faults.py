"""Replies through Telegram's failures (issue 9, durable replies): 500s, 429 storms, dropped
connections, slow answers, an exhausted connection pool and random faults — the reporter
sees every screen, with its live buttons, and the database agrees with it.

What the reporter sees is what the fake server holds as the chat's visible messages; each
case also checks how often the screen arrived: exactly once where Telegram confirmed it, at
least once where its answer was lost (``bot.telegram_retry``: at least once, by design).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.app
from bot import telegram_retry
from bot.settings import Settings
from db.models import Reporter, Tip
from tests.conftest import SECRET
from tests.e2e.flows import file_complete_report, label, onboard, t
from tests.fakebot import ChatMessage, FakeTelegram, FakeUser
from tests.harness import BotHarness

ENGLISH = re.compile(r"^(• )?English$")


@pytest.fixture
async def start_bot(
    fake: FakeTelegram, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[Callable[..., Any]]:
    """Starts the real bot, as the ``bot`` fixture does, with a chosen request timeout."""
    harnesses: list[BotHarness] = []

    async def start(request_timeout: float = 10.0) -> BotHarness:
        harness = BotHarness(
            fake, settings, engine, SECRET.encode(), request_timeout=request_timeout
        )
        harnesses.append(harness)
        await harness.start()
        return harness

    yield start
    for harness in harnesses:
        await harness.stop()


def title(step: str) -> str:
    """The part of a step's title that names it ("What happened?")."""
    return t("en", f"step-{step}-title", number=1, total=8).split("· ")[-1]


# ---------------------------------------------------------------------------- the steps


@dataclass(frozen=True)
class Step:
    """Where the reporter is, what they do there, and what they must see next."""

    reach: Callable[[FakeUser], Any]
    act: Callable[[FakeUser], Any]
    shows: str  # a line of the next screen
    button: str | re.Pattern[str]  # one of its buttons
    step: str | None  # the draft's step the database must hold (None: no draft, no reporter)
    go_on: Callable[[FakeUser], Any]  # a press of a live button of that screen …
    then: str | None  # … which moves the draft here (None: the screen says go_on_shows)
    go_on_shows: str = ""


async def nothing(_user: FakeUser) -> None:
    return None


async def to_menu(user: FakeUser) -> None:
    await onboard(user)


async def to_category(user: FakeUser) -> None:
    await onboard(user)
    await user.press(label("en", "menu-new"))


async def describe(user: FakeUser) -> None:
    await user.send_text("Two men were shot near the bridge.")
    await user.press(label("en", "nav-next"))


STEPS = {
    # /start from someone who never wrote: the language choice (nothing is stored yet).
    "start": Step(
        reach=nothing,
        act=lambda user: user.send_command("/start"),
        shows=t("en", "language-choose"),
        button=ENGLISH,
        step=None,
        go_on=lambda user: user.press(ENGLISH),
        then=None,
        go_on_shows=label("en", "intro-agree"),
    ),
    # "New report" in the menu: the menu becomes step 1.
    "new report": Step(
        reach=to_menu,
        act=lambda user: user.press(label("en", "menu-new")),
        shows=title("category"),
        button=label("en", "category-strike"),
        step="category",
        go_on=lambda user: user.press(label("en", "category-strike")),
        then="description",
    ),
    # A category pressed: step 1 becomes step 2.
    "category": Step(
        reach=to_category,
        act=lambda user: user.press(label("en", "category-strike")),
        shows=title("description"),
        button=label("en", "nav-back"),
        step="description",
        go_on=describe,
        then="when",
    ),
}


# ---------------------------------------------------------------------------- the faults


@dataclass(frozen=True)
class Case:
    at: str  # a key of STEPS
    inject: Callable[[FakeTelegram, int], Any]  # (fake, chat id) → the faults
    copies: tuple[int, int] = (1, 1)  # how many times the screen may show (min, max)
    request_timeout: float = 10.0
    short_policy: bool = False  # the retries are spent within a second (a failure for good)


CASES = {
    "one 500 on /start's answer": Case(
        "start", lambda fake, chat: fake.fail("sendMessage", status=500, chat_id=chat)
    ),
    "502 twice on the screen edit": Case(
        "new report",
        lambda fake, chat: fake.fail("editMessageText", status=502, times=2, chat_id=chat),
    ),
    "500 on the edit and on its fallback": Case(
        "category",
        lambda fake, chat: (
            fake.fail("editMessageText", status=500, chat_id=chat),
            fake.fail("sendMessage", status=500, chat_id=chat),
        ),
    ),
    "six 429s on the edit, past the rate limiter's own five retries": Case(
        "category",
        lambda fake, chat: fake.fail(
            "editMessageText", status=429, retry_after=1, times=6, chat_id=chat
        ),
    ),
    "500s on the button's answer": Case(
        "category",
        lambda fake, chat: fake.fail("answerCallbackQuery", status=500, times=2),
    ),
    "a connection dropped before the edit": Case(
        "new report", lambda fake, chat: fake.drop("editMessageText", chat_id=chat)
    ),
    "a connection dropped after the send (the answer lost)": Case(
        "start",
        lambda fake, chat: fake.drop("sendMessage", chat_id=chat, execute=True),
        copies=(1, 2),
    ),
    "a slow edit: timed out, never carried out": Case(
        "new report",
        lambda fake, _chat: fake.delay("editMessageText", 2.5, times=1, execute=False),
        request_timeout=1.0,
    ),
    "a slow edit: timed out, carried out late": Case(
        "category",
        lambda fake, _chat: fake.delay("editMessageText", 2.5, times=1),
        request_timeout=1.0,
    ),
    "a slow send: timed out, carried out late": Case(
        "start",
        lambda fake, _chat: fake.delay("sendMessage", 2.5, times=1),
        copies=(1, 2),
        request_timeout=1.0,
    ),
    "the edit fails for good: the screen comes as a new message": Case(
        "category",
        lambda fake, chat: fake.fail("editMessageText", status=500, times=None, chat_id=chat),
        short_policy=True,
    ),
}


def current_screen(user: FakeUser) -> ChatMessage:
    """The latest message with live buttons: the screen the reporter acts on."""
    screens = [m for m in user.bot_messages() if m.inline_buttons]
    assert screens, f"no screen with buttons:\n{user.describe()}"
    return screens[-1]


def has_button(message: ChatMessage, button: str | re.Pattern[str]) -> bool:
    texts = message.button_texts
    if isinstance(button, str):
        return button in texts
    return any(button.match(text) for text in texts)


async def draft_step(harness: BotHarness) -> str | None:
    tips = await harness.all(Tip)
    return tips[0].step if tips else None


@pytest.mark.parametrize("name", list(CASES))
async def test_the_reporter_sees_every_screen_through_faults(
    name: str,
    fake: FakeTelegram,
    start_bot: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    case, step = CASES[name], STEPS[CASES[name].at]
    harness: BotHarness = await start_bot(case.request_timeout)
    if case.short_policy:
        short = telegram_retry.RetryPolicy(attempts=3, first_backoff=0.05, max_backoff=0.1)
        monkeypatch.setattr(telegram_retry, "POLICY", short)
    user = fake.user()
    await step.reach(user)
    case.inject(fake, user.id)
    await step.act(user)
    await user.wait_for_message(lambda m: step.shows in (m.text or ""), new_only=False)

    screen = current_screen(user)
    assert step.shows in (screen.text or ""), user.describe()
    assert has_button(screen, step.button), user.describe()
    copies = sum(step.shows in (m.text or "") for m in user.bot_messages())
    low, high = case.copies
    assert low <= copies <= high, user.describe()
    if step.step is None:
        assert await harness.count(Reporter) == 0
    else:
        assert await draft_step(harness) == step.step, "the database agrees with the screen"
    assert "handler failed" not in caplog.text

    # The screen's buttons are live: the next step follows.
    fake.clear_faults()
    await step.go_on(user)
    if step.then is None:
        assert has_button(current_screen(user), step.go_on_shows), user.describe()
    else:
        assert await draft_step(harness) == step.then
        assert title(step.then) in (current_screen(user).text or ""), user.describe()


# ---------------------------------------------------------------------------- a 429 storm


@pytest.mark.parametrize(
    ("method", "act"),
    [
        ("editMessageText", lambda user: user.press(label("en", "menu-new"))),
        ("sendMessage", lambda user: user.send_command("/report")),
    ],
    ids=["new report pressed", "/report"],
)
async def test_forty_429s_while_five_reporters_start_a_report(
    bot: BotHarness, fake: FakeTelegram, method: str, act: Callable[[FakeUser], Any]
) -> None:
    """Observed: none of the five saw step 1 (``handler failed: RetryAfter``)."""
    users = [fake.user() for _ in range(5)]
    for user in users:
        await onboard(user)
    storm = fake.fail(method, status=429, retry_after=1, times=40)
    fake.update_waiter = None  # the storm takes longer than the harness waits for one update
    try:
        await asyncio.gather(*(act(user) for user in users))
        for user in users:
            await user.wait_for_message(
                lambda m: title("category") in (m.text or ""), new_only=False, timeout=90
            )
    finally:
        fake.update_waiter = bot.wait_processed
    assert storm.hits == 40
    for user in users:
        screen = current_screen(user)
        assert title("category") in (screen.text or ""), user.describe()
        assert label("en", "category-strike") in screen.button_texts
        assert sum(title("category") in (m.text or "") for m in user.bot_messages()) == 1
    tips = await bot.all(Tip)
    assert sorted(tip.step or "" for tip in tips) == ["category"] * 5


# ---------------------------------------------------------------------------- the pool


async def test_an_exhausted_connection_pool_queues_the_replies(
    fake: FakeTelegram, start_bot: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observed under load: ``PoolTimeout: … Request was *not* sent`` and replies dropped.
    A busy machine is stood for by two connections, slow answers and a pool wait cut to
    half a second (wherever the bot sets a finite one): ten reporters at once."""
    real = bot.app.HTTPXRequest

    def small_pool(**kwargs: Any) -> Any:
        if "pool_timeout" in kwargs:  # the Bot API request; getUpdates has its own
            kwargs["connection_pool_size"] = 2
            if kwargs["pool_timeout"] is not None:
                kwargs["pool_timeout"] = min(kwargs["pool_timeout"], 0.5)
        return real(**kwargs)

    monkeypatch.setattr(bot.app, "HTTPXRequest", small_pool)
    harness: BotHarness = await start_bot()
    users = [fake.user() for _ in range(10)]
    for user in users:
        await user.send_command("/start")
        await user.press(ENGLISH)
    fake.delay("editMessageText", 0.6)
    fake.delay("answerCallbackQuery", 0.6)
    await asyncio.gather(*(user.press(label("en", "intro-agree")) for user in users))
    for user in users:
        assert label("en", "menu-new") in current_screen(user).button_texts, user.describe()
    assert await harness.count(Reporter) == 10


# ---------------------------------------------------------------------------- at random


async def test_a_whole_report_through_random_faults(bot: BotHarness, fake: FakeTelegram) -> None:
    """One call in ten fails with a 500 or a 429: every screen still comes (each step's
    button is found on it) and the report is submitted."""
    user = fake.user()
    faults = fake.fail_randomly(0.1, seed=9)
    await onboard(user)
    await file_complete_report(user)
    assert faults.hits > 0
    tips = await bot.all(Tip)
    assert [tip.status for tip in tips] == ["submitted"]
    assert t("en", "erase-button") in user.buttons()


# ---------------------------------------------------------------------------- blocked


@pytest.mark.parametrize(
    ("at", "method"), [("start", "sendMessage"), ("new report", "editMessageText")]
)
async def test_a_blocked_reporter_is_not_retried(
    at: str,
    method: str,
    fake: FakeTelegram,
    start_bot: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    step = STEPS[at]
    await start_bot()
    user = fake.user()
    await step.reach(user)
    blocked = fake.fail(
        method, status=403, description="Forbidden: bot was blocked by the user", times=None
    )
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await step.act(user)
    assert blocked.hits == 1, "a refusal for good is not retried"
    refused = fake.calls_to(method)[-1]
    later = [c.method for c in fake.calls if c.started_at > refused.started_at]
    assert "sendMessage" not in later, "no new message after the blocked edit"
    unreachable = [r for r in caplog.records if "chat unreachable" in r.getMessage()]
    assert [r.levelno for r in unreachable] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
