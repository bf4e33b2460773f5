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


# Every moderator action: (custody action, what it does, the change it makes). Each is
# applied once with a failing append (nothing may change) and once for real (its entry
# follows the change, in the same transaction).
Act = Callable[[Any, Tip, Tip], Awaitable[Any]]


async def _take(session: Any, tip: Tip, _other: Tip) -> None:
    await moderation.take(session, tip, MODERATOR)


async def _release(session: Any, tip: Tip, _other: Tip) -> None:
    await moderation.take(session, tip, MODERATOR)
    await moderation.release(session, tip, MODERATOR)


async def _urgent(session: Any, tip: Tip, _other: Tip) -> None:
    await moderation.set_urgent(session, tip, MODERATOR, True)


async def _reject(session: Any, tip: Tip, _other: Tip) -> None:
    await moderation.reject(session, tip, MODERATOR, "spam", notify=True)


async def _duplicate(session: Any, tip: Tip, other: Tip) -> None:
    await moderation.mark_duplicate(session, tip, other, MODERATOR, notify=False)


async def _ask(session: Any, tip: Tip, _other: Tip) -> None:
    await moderation.ask(session, tip, MODERATOR, "When exactly?")


async def _ban(session: Any, tip: Tip, _other: Tip) -> None:
    await moderation.ban(session, tip, MODERATOR)


def _state(tip: Tip) -> tuple[object, ...]:
    return (tip.status, tip.assignee_id, tip.urgent, tip.reject_reason, tip.version)


@pytest.mark.parametrize(
    ("action", "act"),
    [
        ("taken", _take),
        ("released", _release),
        ("urgent_on", _urgent),
        ("rejected", _reject),
        ("duplicate", _duplicate),
        ("question_asked", _ask),
        ("reporter_banned", _ban),
    ],
)
async def test_each_moderator_action_is_one_transaction_with_its_entry(
    built: Store, monkeypatch: pytest.MonkeyPatch, action: str, act: Act
) -> None:
    tip_id, other_id = built.tips[0].id, built.tips[1].id

    async def apply(session: Any) -> None:
        tip = await moderation.tip_for_update(session, tip_id)
        other = await session.get(Tip, other_id)
        await act(session, tip, other)

    async with built.sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        before = _state(tip)
    await _fails_together(built, monkeypatch, action, apply)
    async with built.sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        assert _state(tip) == before

    async with transaction(built.sessions) as session:
        await apply(session)
    async with built.sessions() as session:
        tip = await session.get(Tip, tip_id)
        entry = (
            await session.execute(select(CustodyEntry).order_by(CustodyEntry.seq.desc()).limit(1))
        ).scalar_one()
    assert tip is not None
    assert _state(tip) != before
    assert (entry.action, entry.tip_id, entry.actor) == (action, tip_id, "moderator:42")
    assert entry.details["moderator"] == "Olena"


async def test_delete_my_data_and_its_entries_are_one_transaction(
    built: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def delete_data(session: Any) -> None:
        reporter = await intake.find_reporter(session, "q" * 64)
        await intake.delete_reporter_data(session, reporter)

    await _fails_together(built, monkeypatch, "data_deleted", delete_data)
    async with built.sessions() as session:
        tip = await session.get(Tip, built.tips[1].id)
        assert tip is not None
        assert tip.status == TIP_SUBMITTED  # not withdrawn, not erased
        assert tip.description is not None
    async with transaction(built.sessions) as session:
        await delete_data(session)
    actions = await _actions(built)
    assert actions[-4:] == ["withdrawn", "erased", "data_deleted", "reporter_detached"]
