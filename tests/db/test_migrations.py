"""Migrations are the only way to the schema: they build it, undo it, and match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.migrate import downgrade, pending_revisions, upgrade
from db.models import Base


async def test_models_match_the_migrated_schema(engine: AsyncEngine) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    assert await pending_revisions(engine) == []


async def test_downgrade_and_upgrade_again(engine: AsyncEngine) -> None:
    await downgrade(engine, "base")
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    assert "tip" not in tables
    await upgrade(engine)
    async with engine.connect() as connection:
        head = (await connection.execute(text("SELECT seq, hash FROM custody_head"))).one()
    assert head == (0, "0" * 64)
