"""Shared fixtures: databases (SQLite and PostgreSQL), the fake Telegram server, the bot.

Every database test runs twice, on SQLite and on PostgreSQL. PostgreSQL runs need
``TEST_DATABASE_URL`` (a server where the user may create databases); they use a fresh
database made for this test session, migrated once and emptied between tests. Without the
variable they are skipped with that reason.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.settings import Settings, load_settings, normalise_database_url
from db.engine import create_engine
from db.migrate import upgrade
from tests.fakebot import FakeTelegram
from tests.harness import BotHarness
from tests.tsa import LocalTSA

os.environ.setdefault("PTB_TIMEDELTA", "1")  # as `tipbot` does: durations as timedelta
PG_URL = os.environ.get("TEST_DATABASE_URL")
SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
TABLES = (
    "inbound_update",
    "pending_erasure",
    "timestamp_token",
    "anchor",
    "group_message",
    "tip_note",
    "tip_link",
    "forum_topic",
    "chat_message",
    "outbox",
    "media",
    "tip",
    "reporter",
    "custody_entry",
)


def _pg_admin_url() -> str:
    assert PG_URL
    return normalise_database_url(PG_URL)


async def _create_pg_database(name: str) -> str:
    admin = create_async_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return url


async def _drop_pg_database(name: str) -> None:
    admin = create_async_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session (dropped at the end)."""
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests are skipped")
    name = f"tipbot_test_{os.getpid()}"
    url = asyncio.run(_create_pg_database(name))
    yield url
    asyncio.run(_drop_pg_database(name))


async def empty_database(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))
        await connection.execute(
            text("UPDATE custody_head SET seq = 0, hash = :h, v2_from_seq = 1"), {"h": "0" * 64}
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: a SQLite file, or the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tipbot.db'}"
    return str(request.getfixturevalue("pg_template"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        await upgrade(engine)
    else:
        await empty_database(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def tsa() -> Iterator[LocalTSA]:
    """A local RFC 3161 authority (tests/tsa.py): ``tsa.url``, ``tsa.ca_file``, ``tsa.mode``;
    ``tsa.another()`` starts a second one under the same root."""
    with LocalTSA() as authority:
        yield authority


def make_settings(
    fake: FakeTelegram, database_url: str, tmp_path: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "telegram_bot_token": fake.token,
        "telegram_api_url": fake.url,
        "database_url": database_url,
        "media_dir": tmp_path / "media",
        "tipbot_data_dir": tmp_path / "data",
        "tipbot_secret_key": SECRET,
        "tipbot_org_name": "Test Documentation Initiative",
        "tipbot_official_handle": "@tipbot_test_bot",
        "tipbot_ack_delay_seconds": 0.05,
        # Tests click faster than people; the flood gate and the rate limiter have their own
        # tests.
        "tipbot_max_updates_per_minute": 10_000,
        "tipbot_chat_window_seconds": 0.001,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(fake: FakeTelegram, database_url: str, tmp_path: Path) -> Settings:
    return make_settings(fake, database_url, tmp_path)


@pytest.fixture
async def bot(
    fake: FakeTelegram, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[BotHarness]:
    """The real bot, polling the fake server, on a fresh database."""
    harness = BotHarness(fake, settings, engine, SECRET.encode())
    await harness.start()
    yield harness
    await harness.stop()
