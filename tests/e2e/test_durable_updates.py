"""Durable updates: a real bot process killed with SIGKILL loses no update and processes none
twice, and a download cut by the kill is fetched again after the restart.

The reporters are walked to the step under test by the bot in this process (the harness),
then the bot runs as a separate process against the same database and the same fake
Telegram, and is killed in the middle of its work.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from db.models import CustodyEntry, Media, Tip
from tests.conftest import SECRET
from tests.e2e.test_cli import clean_env
from tests.e2e.test_wrong_input import reach
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotHarness

CHATS = 100
PER_CHAT = 20

# `tipbot run` without Telegram's send limits (30 messages a second would make 2,000
# answers take over a minute): the application it builds, polling as it polls, stopping as
# it stops.
RUNNER = """
import os
os.environ.setdefault("PTB_TIMEDELTA", "1")
from bot.app import ALLOWED_UPDATES, build_application
from bot.cli import bounded_stop
from bot.logs import configure_logging
from bot.settings import load_settings

settings = load_settings()
configure_logging(settings.tipbot_log_level)
app = build_application(settings, os.environ["TIPBOT_SECRET_KEY"].encode(), rate_limited=False)
bounded_stop(app, settings.tipbot_stop_timeout)
app.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
"""


def _env(fake: FakeTelegram, settings: Settings) -> dict[str, str]:
    return clean_env(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.url,
        DATABASE_URL=settings.database_url,
        MEDIA_DIR=str(settings.media_dir),
        TIPBOT_DATA_DIR=str(settings.tipbot_data_dir),
        TIPBOT_SECRET_KEY=SECRET,
        TIPBOT_ORG_NAME="Test Documentation Initiative",
        TIPBOT_OFFICIAL_HANDLE="@tipbot_test_bot",
        TIPBOT_MAX_UPDATES_PER_MINUTE="100000",
        TIPBOT_CHAT_WINDOW_SECONDS="0.001",
        TIPBOT_ACK_DELAY_SECONDS="0.05",
    )


async def _start(args: list[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def _stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, and the process's log (it must stop cleanly)."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    log = stderr.decode()
    assert process.returncode == 0, log[-3000:]
    return log


async def _until(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await _value(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _value(condition: Callable[[], object]) -> object:
    result = condition()
    return await result if asyncio.iscoroutine(result) else result


async def _walk(harness: BotHarness, users: list[FakeUser], step: str) -> None:
    """Walk each user to ``step`` of a new report, with the bot in this process."""
    for start in range(0, len(users), 25):
        await asyncio.gather(*(reach(user, step) for user in users[start : start + 25]))
    await harness.stop()


def _text(user: FakeUser, n: int) -> str:
    return f"chat {user.id} message {n:02d}"


def _answers(fake: FakeTelegram, since: int) -> list[int]:
    """The chats of the messages the bot sent after call number ``since``."""
    return [
        int(call.params["chat_id"])
        for call in fake.calls[since:]
        if call.method == "sendMessage" and call.status == 200
    ]


@pytest.mark.timeout(900)
async def test_kill_under_a_backlog_loses_nothing_and_repeats_nothing(
    fake: FakeTelegram, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    """2,000 messages from 100 reporters wait at the description step; the bot is killed
    with SIGKILL part-way through them and started again: each description then holds each
    of its 20 messages exactly once, in the order they were sent."""
    harness = BotHarness(fake, settings, engine, SECRET.encode())
    await harness.start()
    users = [fake.user(first_name=f"R{n}") for n in range(CHATS)]
    await _walk(harness, users, "description")
    for n in range(PER_CHAT):  # the chats' messages interleaved, as they would arrive
        for user in users:
            await user.send_text(_text(user, n))
    assert len(fake.pending_updates) == CHATS * PER_CHAT

    env = _env(fake, settings)
    since = len(fake.calls)
    first = await _start(["-c", RUNNER], env, tmp_path)
    try:
        await _until(lambda: len(_answers(fake, since)) >= 300, 120, "300 answers")
    finally:
        await _kill(first)
    answered_before_kill = len(_answers(fake, since))
    assert answered_before_kill < CHATS * PER_CHAT - 200, "killed too late to tell anything"

    restarted = len(fake.calls)
    second = await _start(["-c", RUNNER], env, tmp_path)
    try:
        await _until(lambda: _quiet(fake, restarted, 5.0), 300, "the restarted bot's work")
    finally:
        log = await _stop(second)  # the database is read once the bot is gone

    expected = {user.id: "\n\n".join(_text(user, n) for n in range(PER_CHAT)) for user in users}
    described = {_chat_of(tip): tip.description for tip in await harness.all(Tip)}
    found = sum((text or "").count("message ") for text in described.values())
    assert described == expected, (
        f"{found} messages in the descriptions for {CHATS * PER_CHAT} sent: "
        "each must be there exactly once, in its chat's order"
    )
    assert fake.pending_updates == [], "Telegram was told every update arrived"
    answers = _answers(fake, since)
    assert max(answers.count(user.id) for user in users) <= PER_CHAT, "no update answered twice"
    assert "Traceback" not in log, log[-3000:]


def _chat_of(tip: Tip) -> int:
    """The reporter's chat, read from the first message's text."""
    return int((tip.description or "").split()[1])


def _quiet(fake: FakeTelegram, since: int, seconds: float) -> bool:
    """Whether the bot started after call number ``since`` polls, and has called nothing but
    getUpdates for ``seconds``: its work is done. (Reading the database meanwhile would
    compete with it for SQLite's write lock.)"""
    calls = fake.calls[since:]
    if not any(call.method == "getUpdates" for call in calls):
        return False
    return (
        time.monotonic()
        - max((c.finished_at for c in calls if c.method != "getUpdates"), default=0.0)
        >= seconds
    )


async def test_a_download_cut_by_a_kill_is_fetched_again_after_the_restart(
    fake: FakeTelegram, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    """The bot is killed while it downloads a reporter's file (slowly served); once it runs
    again the file is downloaded anew and recorded once, with its custody entry."""
    harness = BotHarness(fake, settings, engine, SECRET.encode())
    await harness.start()
    user = fake.user()
    await _walk(harness, [user], "evidence")
    content = os.urandom(600_000)
    slow = fake.slow_download(bytes_per_second=60_000)
    await user.send_document(content, file_name="shelling.bin")

    env = _env(fake, settings)
    first = await _start(["-m", "bot", "run"], env, tmp_path)
    try:
        await _until(lambda: slow.hits >= 1, 60, "the download to begin")
        await asyncio.sleep(1.0)  # a few chunks in
    finally:
        await _kill(first)
    slow.cancel()

    second = await _start(["-m", "bot", "run"], env, tmp_path)
    try:
        ack = await user.wait_for_message(lambda m: "received" in (m.text or ""), timeout=60)
    finally:
        log = await _stop(second)

    assert "1 file received" in (ack.text or "")
    media = await harness.all(Media)
    assert [(m.status, m.sha256) for m in media] == [
        ("stored", hashlib.sha256(content).hexdigest())
    ], "the file once, whole"
    assert await harness.count(CustodyEntry, CustodyEntry.action == "file_received") == 1
    statuses = [d.status for d in fake.downloads]
    assert statuses[0] == 499, "the first download was cut"
    assert statuses[-1] == 200, statuses
    assert list((settings.media_dir / "tmp").iterdir()) == [], "no partial download left"
    assert "Traceback" not in log, log[-3000:]
