"""Operations: two migrations at once on a fresh database, a second process polling the same
token, a network outage, and a bounded stop on SIGTERM with a backlog."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import PG_URL, SECRET, _create_pg_database, _drop_pg_database
from tests.e2e.test_cli import clean_env
from tests.fakebot import FakeTelegram

CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


async def _tipbot(*args: str, cwd: Path, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=clean_env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _empty_pg_database(name: str) -> str:
    """A new PostgreSQL database with nothing in it (not even the schema)."""
    url = await _create_pg_database(name)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    return url


@pytest.mark.postgres
async def test_two_migrations_at_once_on_a_fresh_postgresql_database(tmp_path: Path) -> None:
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests are skipped")
    for round_ in range(3):
        name = f"tipbot_migrate_{os.getpid()}_{round_}"
        url = await _empty_pg_database(name)
        try:
            env = {"DATABASE_URL": url, "TIPBOT_SECRET_KEY": SECRET}
            processes = [await _tipbot("migrate", cwd=tmp_path, **env) for _ in range(2)]
            outputs = [await asyncio.wait_for(p.communicate(), 60) for p in processes]
            for process, (stdout, stderr) in zip(processes, outputs, strict=True):
                assert process.returncode == 0, stderr.decode()[-2000:]
                assert "up to date" in stdout.decode()
        finally:
            await _drop_pg_database(name)


async def test_two_migrations_at_once_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'tipbot.db'}"}
    processes = [await _tipbot("migrate", cwd=tmp_path, **env) for _ in range(2)]
    outputs = [await asyncio.wait_for(p.communicate(), 60) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()[-2000:]


def _env(fake: FakeTelegram, tmp_path: Path, **values: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_URL": fake.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'tipbot.db'}",
        "MEDIA_DIR": str(tmp_path / "media"),
        "TIPBOT_SECRET_KEY": SECRET,
        **values,
    }


async def test_a_second_poller_gets_one_line_and_stops(fake: FakeTelegram, tmp_path: Path) -> None:
    """Another process polls the same token: Telegram answers getUpdates with 409 Conflict.
    (The fake lets concurrent pollers share the queue, so the 409 is injected.)"""
    process = await _tipbot("run", cwd=tmp_path, **_env(fake, tmp_path))
    try:
        await fake.wait_for_call("setMyCommands", timeout=30)
        fake.fail("getUpdates", status=409, description=CONFLICT, times=None)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = stderr.decode()
    assert process.returncode == 1, log[-2000:]
    assert log.count("another process is polling this bot's token: stopping") == 1, log[-2000:]
    assert "Traceback" not in log
    assert "Conflict" not in log


async def test_a_network_outage_logs_one_line_per_kind(fake: FakeTelegram, tmp_path: Path) -> None:
    """Telegram unreachable for a few polls (502s, then a 500): one line, no tracebacks, and
    the bot answers once it gets through again."""
    process = await _tipbot("run", cwd=tmp_path, **_env(fake, tmp_path))
    try:
        await fake.wait_for_call("setMyCommands", timeout=30)
        fake.fail("getUpdates", status=502, times=3)
        fake.fail("getUpdates", status=500, times=1)
        user = fake.user()
        await user.send_command("/start")
        await user.wait_for_message(lambda m: "English" in str(m.inline_buttons), timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    log = stderr.decode()
    assert process.returncode == 0, log[-2000:]
    assert (
        log.count(
            "cannot fetch updates from Telegram (NetworkError): retrying with backoff (failure 1 "
        )
        == 1
    )
    assert log.count("cannot fetch updates") == 1, log[-2000:]
    assert "Traceback" not in log
    assert "handler failed" not in log


async def test_sigterm_with_a_backlog_stops_within_the_timeout(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """Twenty reporters' /start are in hand and Telegram answers very slowly: SIGTERM stops
    the bot after TIPBOT_STOP_TIMEOUT, not once every answer has gone."""
    process = await _tipbot("run", cwd=tmp_path, **_env(fake, tmp_path, TIPBOT_STOP_TIMEOUT="1"))
    try:
        await fake.wait_for_call("setMyCommands", timeout=30)
        slow = fake.delay("sendMessage", 120.0)
        for _ in range(20):
            await fake.user().send_command("/start")
        deadline = time.monotonic() + 30
        while slow.hits < 20 and time.monotonic() < deadline:  # noqa: ASYNC110 (the fake's count)
            await asyncio.sleep(0.05)
        assert slow.hits == 20
        process.send_signal(signal.SIGTERM)
        # Without the bound the stop would wait for the slow answers (two minutes).
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = stderr.decode()
    assert process.returncode == 0, log[-2000:]
    assert "20 updates not finished within TIPBOT_STOP_TIMEOUT (1 s) were cut short" in log
    assert "Traceback" not in log
