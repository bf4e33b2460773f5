"""Cards after a crash: Telegram cannot tell a send whose answer was lost from one never
made, so a card whose send a crash cut short is posted again after the restart — once. Cut
short a second time, it is given up (failed, logged), not posted at every restart; and a
lease that runs out while its sender is alive (a slow send) never sends it twice."""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import intake, outbox
from db.engine import SessionFactory, create_engine, session_factory, transaction
from db.models import OUTBOX_FAILED, OUTBOX_PENDING, OUTBOX_SENT, OutboxMessage, Reporter
from tests.conftest import SECRET
from tests.e2e.moderators import start_moderated
from tests.e2e.test_cli import clean_env
from tests.fakebot import Delay, FakeGroup, FakeTelegram
from tests.harness import BotHarness


async def seed_card(sessions: SessionFactory) -> str:
    """A submitted tip and its card waiting in the outbox; returns its reference."""
    async with transaction(sessions) as session:
        reporter = Reporter(pseudonym="seed" + secrets.token_hex(30), language="uk")
        session.add(reporter)
        await session.flush()
        tip = await intake.create_draft(session, reporter, "uk")
        tip.category, tip.oblast, tip.description = "strike", "13", "Seeded report."
        tip.incident_date_precision = "unknown"
        tip.status, tip.step, tip.submitted_at = "submitted", None, intake.utcnow()
        await outbox.enqueue(session, outbox.CARD, tip_id=tip.id)
        return tip.reference


async def card_row(sessions: SessionFactory) -> OutboxMessage:
    async with sessions() as session:
        rows = (await session.execute(OutboxMessage.__table__.select())).all()
        assert len(rows) == 1
        found = await session.get(OutboxMessage, rows[0].id)
        assert found is not None
        return found


async def lease_runs_out(sessions: SessionFactory) -> None:
    """Time passes while the bot is down: the dead process's lease is over."""
    async with transaction(sessions) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.lease_until.is_not(None))
            .values(lease_until=outbox.utcnow() - timedelta(seconds=1))
        )


def copies(group: FakeGroup, reference: str) -> int:
    return sum((m.text or "").lstrip("🚨 ").startswith(reference) for m in group.bot_messages())


def posted(group: FakeGroup, reference: str, count: int) -> bool:
    return copies(group, reference) == count


def hit(rule: Delay) -> bool:
    """The delayed request reached Telegram."""
    return rule.hits == 1


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


class Bot:
    """``tipbot run`` in a process of its own, to be killed with SIGKILL."""

    def __init__(self, fake: FakeTelegram, group: FakeGroup, database_url: str, tmp: Path):
        self.env = clean_env(
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_URL=fake.url,
            DATABASE_URL=database_url,
            MEDIA_DIR=str(tmp / "media"),
            TIPBOT_DATA_DIR=str(tmp / "data"),
            TIPBOT_SECRET_KEY=SECRET,
            MODERATOR_CHAT_ID=str(group.id),
        )
        self.cwd = tmp
        self.logs: list[str] = []
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=self.cwd, env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip

    async def end(self, how: signal.Signals) -> None:
        process, self.process = self.process, None
        assert process is not None
        if process.returncode is None:
            process.send_signal(how)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        self.logs.append(stderr.decode())


@pytest.fixture
async def bot_process(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Bot, FakeGroup]]:
    group = fake.group(title="Moderators")
    process = Bot(fake, group, database_url, tmp_path)
    yield process, group
    if process.process is not None:
        await process.end(signal.SIGKILL)


async def test_a_card_cut_short_by_crashes_is_posted_at_most_twice(
    fake: FakeTelegram, engine: AsyncEngine, bot_process: tuple[Bot, FakeGroup]
) -> None:
    bot, group = bot_process
    sessions = session_factory(engine)
    reference = await seed_card(sessions)
    for round_ in (1, 2):
        # Telegram gets the card and posts it, but its answer never reaches the bot: the
        # process is killed while it waits.
        slow = fake.delay("sendMessage", 2.0, times=1)
        await bot.start()
        await until(partial(hit, slow), 60, f"round {round_}: the card was not sent")
        await bot.end(signal.SIGKILL)
        await until(partial(posted, group, reference, round_), 10, "Telegram did not post it")
        row = await card_row(sessions)
        assert (row.status, row.attempts) == (OUTBOX_PENDING, round_), "in flight when killed"
        await lease_runs_out(sessions)
    # The third start: the card was cut short twice, and is not posted a third time.
    await bot.start()
    try:
        deadline = time.monotonic() + 30
        while (await card_row(sessions)).status == OUTBOX_PENDING:
            assert time.monotonic() < deadline, "the row was never settled"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # time for a wrong third copy to arrive
    finally:
        await bot.end(signal.SIGTERM)
    row = await card_row(sessions)
    assert copies(group, reference) == 2, "sent once more after the first crash, not again"
    assert (row.status, row.last_error) == (OUTBOX_FAILED, outbox.INTERRUPTED_TWICE)
    log = "".join(bot.logs)
    assert "1 outbox message(s) cut short by a crash: sent once more" in bot.logs[1]
    assert "1 outbox message(s) cut short by a crash twice: marked failed" in bot.logs[2]
    assert "Traceback" not in log


async def test_a_slow_send_outliving_its_lease_is_not_sent_twice(
    fake: FakeTelegram,
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two processes drain one outbox; the card's send takes four leases' time (a busy
    rate limiter, a slow Telegram). The sender keeps its lease: the other process never
    takes the row, and the card is posted once."""
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=1))
    group = fake.group(title="Moderators")
    first = await start_moderated(fake, engine, database_url, tmp_path, group)
    other_engine = create_engine(database_url)
    second = BotHarness(fake, first.settings, other_engine, SECRET.encode())
    await second.start()
    try:
        slow = fake.delay("sendMessage", 4.0, times=1)
        reference = await seed_card(first.sessions)
        for bot in (first, second):
            assert bot.services.outbox_worker is not None
            bot.services.outbox_worker.wake()
        await until(partial(posted, group, reference, 1), 30, "the card was not posted")
        deadline = time.monotonic() + 10
        while (await card_row(first.sessions)).status != OUTBOX_SENT:
            assert time.monotonic() < deadline, "the card was never marked sent"
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)  # time for a wrong second copy to arrive
        assert slow.hits == 1
        assert copies(group, reference) == 1, "posted once"
        row = await card_row(first.sessions)
        assert (row.status, row.attempts) == (OUTBOX_SENT, 1)
    finally:
        await second.stop()
        await other_engine.dispose()
        await first.stop()
