"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite is the embedded default. Its writers are serialised by the file lock anyway, so the
bot keeps one connection per process (waiting happens in asyncio, not in SQLite's busy
loop) and starts every transaction with ``BEGIN IMMEDIATE`` so that two processes on one
file queue for the write lock instead of failing half-way through a transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(
    url: str, *, pool_size: int = 10, enforce_foreign_keys: bool = True
) -> AsyncEngine:
    """An async engine for ``url``; parameters are hidden from error messages and logs, since
    they can hold what reporters wrote.

    ``enforce_foreign_keys=False`` is for SQLite migrations only: Alembic's batch mode
    recreates tables, and with enforcement on, dropping the old table cascades into rows
    that reference it.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = _create_async_engine(
            parsed,
            hide_parameters=True,
            pool_size=1,
            max_overflow=0,
            pool_timeout=120,
            connect_args={"timeout": 60},
        )
        _configure_sqlite(engine, enforce_foreign_keys)
        return engine
    return _create_async_engine(
        parsed,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _configure_sqlite(engine: AsyncEngine, enforce_foreign_keys: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (below) instead of the driver's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enforce_foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed on success, rolled back on error.

    Keep network calls (Telegram, downloads) outside: on SQLite a transaction holds the
    process's only connection and the file's write lock.
    """
    async with factory() as session, session.begin():
        yield session
