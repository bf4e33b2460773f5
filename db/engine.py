"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite is the embedded default. Its writers are serialised by the file lock anyway, so the
bot keeps one connection per process (waiting happens in asyncio, not in SQLite's busy
loop) and starts every transaction with ``BEGIN IMMEDIATE`` so that two processes on one
file queue for the write lock instead of failing half-way through a transaction.

PostgreSQL takes row locks as a transaction goes, so two transactions can still deadlock
(SQLSTATE 40P01) or fail to serialise (40001) when their lock orders cross somewhere not yet
made consistent (docs/architecture.md, "Lock order"). :func:`retrying` runs a whole
transaction body again after such a failure, so both sides get their answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from db import uow
from db.uow import Signals

SessionFactory = async_sessionmaker[AsyncSession]
T = TypeVar("T")

log = logging.getLogger(__name__)

# Failures after which running the same transaction again may well succeed: a deadlock
# (PostgreSQL broke the cycle by aborting us) and a serialisation failure.
RETRYABLE_SQLSTATES = {"40P01": "deadlock", "40001": "serialisation failure"}
# The pause before attempt n is random in [0, BACKOFF * 2**n): two transactions that just
# deadlocked must not come back at the same moment.
BACKOFF = 0.02


def _private_file(database: Path) -> None:
    """Create the database's folder (0700) and file (0600) before SQLite does, whatever the
    umask: SQLite gives its WAL and shared-memory files the database file's mode."""
    folder = database.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)  # mkdir's mode is filtered by the umask
    if not database.exists():
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
        database.chmod(0o600)


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
            _private_file(Path(database))
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
        # Erased rows are overwritten with zeros, not left readable in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine, signals: Signals | None = None) -> SessionFactory:
    """Sessions on ``engine``; what their transactions emit (:mod:`db.uow`) reaches the
    listeners connected on ``signals``."""
    info = (signals or Signals()).session_info()
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A unit of work: a session inside one transaction, committed on success and rolled
    back on error; what it announced (:func:`db.uow.on_commit`, :func:`db.uow.emit`) is
    performed after the commit, and dropped with a rollback.

    Keep network calls (Telegram, downloads) outside: on SQLite a transaction holds the
    process's only connection and the file's write lock.
    """
    async with factory() as session:
        try:
            async with session.begin():
                yield session
        except BaseException:
            uow.discard(session)
            raise
        await uow.run_after_commit(session)


def retryable(exc: BaseException) -> str | None:
    """What kind of passing failure ``exc`` is (``"deadlock"``, ...), or None when running
    the transaction again would not help."""
    if not isinstance(exc, DBAPIError):
        return None
    original = exc.orig
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return RETRYABLE_SQLSTATES.get(str(code)) if code else None


async def retrying(
    factory: SessionFactory,
    body: Callable[[AsyncSession], Awaitable[T]],
    *,
    attempts: int = 5,
) -> tuple[T, AsyncSession]:
    """Run ``body`` in one transaction (as :func:`transaction`), again from the start after a
    deadlock or a serialisation failure, up to ``attempts`` times with a short random pause.

    ``body`` must do nothing outside the database that cannot be done twice (it is given a
    new session each time; anything it read from an earlier attempt is stale). Returns what
    it returned and its (committed, closed) session, whose ``info`` callers read.
    """

    async def once() -> tuple[T, AsyncSession]:
        async with transaction(factory) as session:
            result = await body(session)
        return result, session

    return await retry_transaction(once, attempts=attempts)


async def retry_transaction(run: Callable[[], Awaitable[T]], *, attempts: int = 5) -> T:
    """Call ``run`` (which opens and ends its own transaction, e.g. a method built around
    ``async with transaction(...)``) again after a deadlock or a serialisation failure, as
    :func:`retrying` does. ``run`` must raise those before it does anything that cannot be
    done twice (a network call)."""
    for attempt in range(1, attempts + 1):
        try:
            return await run()
        except DBAPIError as exc:
            kind = retryable(exc)
            if kind is None or attempt == attempts:
                raise
            log.warning("transaction rolled back by a %s: running it again (%d)", kind, attempt)
        await asyncio.sleep(random.uniform(0, BACKOFF * 2**attempt))  # noqa: S311 (not secret)
    raise AssertionError("unreachable")  # pragma: no cover
