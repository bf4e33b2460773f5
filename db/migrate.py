"""Apply Alembic migrations from the installed ``migrations`` package.

Works from a wheel as well as a checkout: the script location is found through
``importlib.resources``, not a path relative to the working directory.
"""

from __future__ import annotations

import logging
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision`` in one transaction per migration run."""
    config = alembic_config()

    def _upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    # Alembic configures logging only through fileConfig; keep its INFO lines in our format.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    config = alembic_config()

    def _downgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_downgrade)


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
