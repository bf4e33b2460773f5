"""Apply Alembic migrations from the installed ``migrations`` package.

Works from a wheel as well as a checkout: the script location is found through
``importlib.resources``, not a path relative to the working directory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine

# The key of the PostgreSQL advisory lock migrations hold (any constant no other lock uses:
# the content locks of bot/intake.py are hashes of b"content:...").
MIGRATION_LOCK = 0x7469_7062_6F74_6D67  # "tipbotmg"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    return config


class MigrationError(Exception):
    """The migrated database fails its integrity check."""


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision``, in one transaction."""
    await _migrate(engine, lambda config: command.upgrade(config, revision))


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    await _migrate(engine, lambda config: command.downgrade(config, revision))


async def _migrate(engine: AsyncEngine, run: Callable[[Config], None]) -> None:
    config = alembic_config()

    def _run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        run(config)

    # Alembic configures logging only through fileConfig; keep its INFO lines quiet.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            # Two processes migrating one database (two `tipbot migrate`, or `run` started
            # twice) take turns: the second waits here until the first has committed, then
            # finds the schema current. Without it both create the same tables and one
            # fails. The lock ends with the transaction.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
            await connection.run_sync(_run)
        return
    # SQLite needs no lock of its own: the migration's transaction begins with BEGIN
    # IMMEDIATE (db/engine.py), so a second process waits for the file's write lock.
    # SQLite: batch operations recreate tables; with foreign keys enforced, dropping the old
    # table would cascade into the rows that reference it. Enforcement can only be switched
    # outside a transaction, so migrations get their own connection without it, and the
    # result is checked afterwards.
    url = engine.url.render_as_string(hide_password=False)
    migration_engine = create_engine(url, enforce_foreign_keys=False)
    try:
        async with migration_engine.begin() as connection:
            await connection.run_sync(_run)
            problems = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
            if problems:
                raise MigrationError(f"{len(problems)} rows break foreign keys after migrating")
    finally:
        await migration_engine.dispose()


async def pending_revisions(engine: AsyncEngine) -> list[str]:
    """Revisions not yet applied (empty when the schema is current)."""
    script = ScriptDirectory.from_config(alembic_config())

    def _current(connection: Connection) -> tuple[str, ...]:
        return MigrationContext.configure(connection).get_current_heads()

    async with engine.connect() as connection:
        current = set(await connection.run_sync(_current))
    head = script.get_current_head()
    if head is None or head in current:
        return []
    return [rev.revision for rev in script.iterate_revisions(head, tuple(current) or "base")]
