"""Two processes appending to one chain at once leave one unbroken chain: the head row's
lock serialises them (no fork: two entries with one predecessor; no gap)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody
from db.engine import session_factory
from db.models import CustodyEntry

WRITER = """
import asyncio, sys
from bot import custody
from db.engine import create_engine, session_factory, transaction

async def main(url: str, name: str) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    for i in range(60):
        async with transaction(sessions) as session:
            await custody.append(session, actor=name, action="x", details={"i": i})
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.parametrize("writers", [2])
async def test_two_processes_append_one_chain(
    engine: AsyncEngine, database_url: str, writers: int
) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            database_url,
            f"process-{n}",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(writers)
    ]
    for process in processes:
        _out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, err.decode()
    sessions = session_factory(engine)
    async with sessions() as session:
        result = await custody.verify(session)
        rows = (await session.execute(select(CustodyEntry.actor, CustodyEntry.prev_hash))).all()
    assert result.ok, result
    assert result.entries == 60 * writers
    assert len({prev for _actor, prev in rows}) == len(rows)  # no two share a predecessor
    assert {actor for actor, _prev in rows} == {f"process-{n}" for n in range(writers)}
