"""Migrations are the only way to the schema: they build it, undo it, and match the models."""

import pytest
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


async def test_upgrading_a_database_that_holds_data(engine: AsyncEngine) -> None:
    """0002 adds non-null columns to tables with rows: they must get sensible values."""
    await downgrade(engine, "0001")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO reporter (id, pseudonym, language, created_at) "
                "VALUES (1, 'p', 'uk', CURRENT_TIMESTAMP)"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO tip (id, reference, reporter_id, status, return_to_review, language,"
                " contact_allowed, originals_hint_sent, created_at, updated_at, version) "
                "VALUES (1, 'AAAA-BBBB', 1, 'submitted', false, 'uk', false, false,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO media (id, tip_id, kind, file_id, file_unique_id, status,"
                " recompressed, received_at) "
                "VALUES (1, 1, 'photo', 'f', 'u', 'stored', true, CURRENT_TIMESTAMP)"
            )
        )
    await upgrade(engine)
    async with engine.connect() as connection:
        urgent = (await connection.execute(text("SELECT urgent FROM tip"))).scalar_one()
        origin = (await connection.execute(text("SELECT origin FROM media"))).scalar_one()
    assert not urgent
    assert origin == "report"


async def test_sqlite_never_reuses_tip_or_media_ids(engine: AsyncEngine) -> None:
    """Custody entries refer to tip and media ids, so a deleted row's id must not come back."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL sequences never hand out an id twice")
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE name IN ('tip', 'media', 'tip_note')")
        )
        definitions = dict(rows.all())
    assert set(definitions) == {"tip", "media", "tip_note"}
    for name, sql in definitions.items():
        assert "AUTOINCREMENT" in sql, name
