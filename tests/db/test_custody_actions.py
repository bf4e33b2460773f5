"""Each action that matters to evidence is appended in the same transaction as its change:
the entry is there with the change, and when the append fails the change is rolled back
with it (issue 7 §1). Exports, purges, anchors, timestamps and refused exports have their
own tests beside their services (test_export, test_purge, test_anchors, e2e admin export)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody, intake, moderation
from db.engine import transaction
from db.models import TIP_DRAFT, TIP_SUBMITTED, TIP_VERIFIED, CustodyEntry, Tip, TipNote
from tests.builders import Store, build_store, submit_tip

MODERATOR = moderation.Moderator(id=42, name="Olena")


class Boom(Exception):
    pass


@pytest.fixture
async def built(engine: AsyncEngine, tmp_path: Path) -> Store:
    return await build_store(engine, tmp_path / "media")


async def _actions(built: Store) -> list[str]:
    async with built.sessions() as session:
        return list(
            (
                await session.execute(select(CustodyEntry.action).order_by(CustodyEntry.seq))
            ).scalars()
        )


def _failing_append(monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    original = custody.append

    async def append(session: Any, **kwargs: Any) -> CustodyEntry:
        if kwargs.get("action") == action:
            raise Boom(action)
        return await original(session, **kwargs)

    monkeypatch.setattr(custody, "append", append)


async def _fails_together(
    built: Store,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    change: Callable[[Any], Awaitable[None]],
) -> None:
    before = await _actions(built)
    _failing_append(monkeypatch, action)
    with pytest.raises(Boom):
        async with transaction(built.sessions) as session:
            await change(session)
    assert await _actions(built) == before
    monkeypatch.undo()


async def test_submit_and_its_entry_are_one_transaction(
    built: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with transaction(built.sessions) as session:
        reporter = await intake.find_reporter(session, "p" * 64)
        assert reporter is not None
        draft = await intake.create_draft(session, reporter, "en")
    draft_id = draft.id

    async def submit(session: Any) -> None:
        tip = await session.get(Tip, draft_id)
        reporter = await intake.find_reporter(session, "p" * 64)
        await intake.submit(session, tip, reporter, duplicate_distance=0)

    await _fails_together(built, monkeypatch, "submitted", submit)
    async with built.sessions() as session:
        tip = await session.get(Tip, draft_id)
        assert tip is not None
        assert tip.status == TIP_DRAFT  # rolled back with its entry
    async with transaction(built.sessions) as session:
        await submit(session)
    assert (await _actions(built))[-1] == "submitted"


async def test_a_verdict_and_its_entry_are_one_transaction(
    built: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    tip_id = built.tips[0].id

    async def verify(session: Any) -> None:
        tip = await moderation.tip_for_update(session, tip_id)
        await moderation.verify(session, tip, MODERATOR, notify=False)

    await _fails_together(built, monkeypatch, "verified", verify)
    async with built.sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        assert tip.status == TIP_SUBMITTED
    async with transaction(built.sessions) as session:
        await verify(session)
    async with built.sessions() as session:
        entry = (
            await session.execute(select(CustodyEntry).order_by(CustodyEntry.seq.desc()).limit(1))
        ).scalar_one()
        tip = await session.get(Tip, tip_id)
    assert tip is not None
    assert tip.status == TIP_VERIFIED
    assert (entry.action, entry.tip_id, entry.actor) == ("verified", tip_id, "moderator:42")


async def test_an_answer_and_its_entry_are_one_transaction(
    built: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    tip_id = built.tips[1].id

    async def add(session: Any) -> None:
        tip = await session.get(Tip, tip_id)
        await moderation.add_from_reporter(
            session, tip, kind="addition", text="later words", media_id=None, actor="reporter:x"
        )

    await _fails_together(built, monkeypatch, "information_added", add)
    async with built.sessions() as session:
        notes = (
            await session.execute(select(func.count(TipNote.id)).where(TipNote.tip_id == tip_id))
        ).scalar_one()
    assert notes == 0


async def test_a_file_and_its_receipt_are_one_transaction(
    built: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_append(monkeypatch, "file_received")
    with pytest.raises(Boom):
        await submit_tip(built.sessions, built.store, files=[b"never recorded"])
    monkeypatch.undo()
    async with built.sessions() as session:
        receipts = (
            await session.execute(
                select(func.count(CustodyEntry.seq)).where(CustodyEntry.action == "file_received")
            )
        ).scalar_one()
    assert receipts == 4  # the store's own files only


async def test_a_view_of_evidence_is_recorded(built: Store) -> None:
    async with transaction(built.sessions) as session:
        await moderation.evidence_viewed(session, built.tips[0].id, MODERATOR, "files")
    async with built.sessions() as session:
        entry = (
            await session.execute(select(CustodyEntry).order_by(CustodyEntry.seq.desc()).limit(1))
        ).scalar_one()
    assert entry.action == "evidence_viewed"
    assert entry.tip_id == built.tips[0].id
    assert entry.details == {"moderator": "Olena", "view": "files"}
