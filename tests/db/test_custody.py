"""The custody log: every entry links to the one before; any edit or removal is found."""

import asyncio

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody
from db.engine import session_factory, transaction
from db.models import CustodyEntry


async def test_chain_links_and_verifies(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        first = await custody.append(session, actor="system", action="a", details={"n": 1})
        second = await custody.append(session, actor="system", action="b", tip_id=7)
    assert first.prev_hash == custody.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert second.seq == first.seq + 1
    async with sessions() as session:
        result = await custody.verify(session)
    assert result.ok
    assert result.entries == 2
    assert result.head_hash == second.hash


async def test_an_edited_entry_is_detected(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        for i in range(5):
            await custody.append(session, actor="system", action="x", details={"i": i})
    async with transaction(sessions) as session:
        await session.execute(
            update(CustodyEntry).where(CustodyEntry.seq == 3).values(details={"i": 99})
        )
    async with sessions() as session:
        result = await custody.verify(session)
    assert not result.ok
    assert result.first_bad_seq == 3
    assert result.problem == "altered entry"


async def test_a_removed_entry_is_detected(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        for i in range(4):
            await custody.append(session, actor="system", action="x", details={"i": i})
    async with transaction(sessions) as session:
        await session.execute(delete(CustodyEntry).where(CustodyEntry.seq == 2))
    async with sessions() as session:
        result = await custody.verify(session)
    assert not result.ok
    assert result.first_bad_seq == 2


async def test_concurrent_appends_stay_one_chain(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)

    async def writer(n: int) -> None:
        for i in range(10):
            async with transaction(sessions) as session:
                await custody.append(session, actor=f"w{n}", action="x", details={"i": i})

    await asyncio.gather(*(writer(n) for n in range(5)))
    async with sessions() as session:
        result = await custody.verify(session)
        seqs = (await session.execute(select(CustodyEntry.seq))).scalars().all()
    assert result.ok, result
    assert sorted(seqs) == list(range(1, 51))


async def test_details_refuse_unstable_values(engine: AsyncEngine) -> None:
    async with transaction(session_factory(engine)) as session:
        with pytest.raises(TypeError):
            await custody.append(session, actor="system", action="x", details={"f": 1.5})
