"""Retention (``tipbot purge``): a dry run changes nothing; ``--yes`` erases the chosen tips'
content and the originals no other tip uses, in batches, each tip with a content-free
``purged`` custody entry in the same transaction; the chain and ``tipbot verify`` stay clean."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody, moderation
from bot.evidence.verify import verify_all
from bot.export import purge_commands
from bot.export.filters import ExportFilters
from bot.export.purge import PurgeCriteria, PurgeError, plan_purge, purge
from bot.settings import Settings, load_settings
from db.engine import transaction
from db.models import TIP_REJECTED, TIP_VERIFIED, CustodyEntry, Media, OutboxMessage, Tip, TipNote
from tests.builders import Store, build_store, submit_tip

MODERATOR = moderation.Moderator(id=42, name="Olena")
OLD = timedelta(days=200)
REJECTED = ExportFilters(statuses=(TIP_REJECTED,))


@pytest.fixture
async def built(engine: AsyncEngine, tmp_path: Path) -> Store:
    """The builders' store (A: two files, one shared with B, and an addition; B: two files;
    C: none), with A rejected 200 days ago, B verified and C rejected just now."""
    store = await build_store(engine, tmp_path / "media")
    a, b, c = (tip.id for tip in store.tips)
    async with transaction(store.sessions) as session:
        for tip_id, verdict in ((a, "reject"), (b, "verify"), (c, "reject")):
            tip = await moderation.tip_for_update(session, tip_id)
            assert tip is not None
            if verdict == "reject":
                await moderation.reject(session, tip, MODERATOR, "not_relevant", notify=False)
            else:
                await moderation.verify(session, tip, MODERATOR, notify=False)
    await age(store, a, OLD)
    return store


async def age(store: Store, tip_id: int, by: timedelta) -> None:
    """Move a tip's submission and decision back in time (as if it were that old)."""
    async with transaction(store.sessions) as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        assert tip.submitted_at is not None
        tip.submitted_at -= by
        if tip.reviewed_at is not None:
            tip.reviewed_at -= by


async def snapshot(store: Store) -> dict[str, Any]:
    """Every row that a purge may touch, the chain, and the originals on disk."""

    def rows(items: Any) -> list[tuple[Any, ...]]:
        return [
            tuple(getattr(item, c.key) for c in item.__table__.columns)
            for item in items.scalars().all()
        ]

    async with store.sessions() as session:
        state = {
            "tips": rows(await session.execute(select(Tip).order_by(Tip.id))),
            "media": rows(await session.execute(select(Media).order_by(Media.id))),
            "notes": rows(await session.execute(select(TipNote).order_by(TipNote.id))),
            "chain": rows(await session.execute(select(CustodyEntry).order_by(CustodyEntry.seq))),
        }
    originals = store.store.root / "originals"
    state["files"] = sorted(
        (str(path.relative_to(originals)), hashlib.sha256(path.read_bytes()).hexdigest())
        for path in originals.rglob("*")
        if path.is_file()
    )
    return state


def original(store: Store, data: bytes) -> Path:
    sha256 = hashlib.sha256(data).hexdigest()
    return store.store.root / store.store.key_for(sha256)


async def test_a_dry_run_counts_and_changes_nothing(built: Store) -> None:
    before = await snapshot(built)
    plan = await plan_purge(built.sessions, PurgeCriteria(REJECTED, timedelta(days=180)))
    assert plan.dry_run
    assert (plan.tips, plan.by_status, plan.files) == (1, {TIP_REJECTED: 1}, 2)
    # "shared video" is also B's: only "photo one" would go.
    assert (plan.originals, plan.bytes) == (1, len(b"photo one"))
    assert await snapshot(built) == before


async def test_purge_erases_content_notes_and_unshared_originals(built: Store) -> None:
    a, b, _c = built.tips
    before = await snapshot(built)
    summary = await purge(
        built.sessions,
        built.store,
        PurgeCriteria(REJECTED, timedelta(days=180)),
        actor="cli:admin",
    )
    assert not summary.dry_run
    assert (summary.tips, summary.by_status, summary.files) == (1, {TIP_REJECTED: 1}, 2)
    assert (summary.originals, summary.bytes) == (1, len(b"photo one"))

    async with built.sessions() as session:
        tip = await session.get(Tip, a.id)
        assert tip is not None
        notes = (await session.execute(select(TipNote).where(TipNote.tip_id == a.id))).scalars()
        assert [(n.kind, n.text, n.is_open) for n in notes] == [("addition", None, False)]
        media = (await session.execute(select(Media.tip_id).order_by(Media.id))).scalars()
        assert list(media) == [b.id, b.id], "A's file rows went, B's stay"
    assert tip.purged_at is not None
    assert (tip.reference, tip.status, tip.reject_reason) == (
        a.reference,
        TIP_REJECTED,
        "not_relevant",
    )
    assert (tip.description, tip.category, tip.lat, tip.lon, tip.settlement) == (None,) * 5
    assert tip.contact_allowed is False
    assert not original(built, b"photo one").exists()
    assert original(built, b"shared video").exists(), "still B's file"
    assert original(built, b"photo three").exists()

    after = await snapshot(built)
    assert after["tips"][1:] == before["tips"][1:], "B and C are untouched"
    assert after["chain"][: len(before["chain"])] == before["chain"], "the chain only grows"
    assert len(after["chain"]) == len(before["chain"]) + 1
    async with built.sessions() as session:
        purged = (
            await session.execute(select(CustodyEntry).where(CustodyEntry.action == "purged"))
        ).scalar_one()
        assert (await custody.verify(session)).ok
    assert (purged.tip_id, purged.actor) == (a.id, "cli:admin")
    assert purged.details == {
        "reference": a.reference,
        "status": TIP_REJECTED,
        "files": 2,
        "reason": "retention",
        "older_than": "180d",
    }
    report = await verify_all(built.sessions, built.store)
    assert report.ok, report.as_json()

    again = await purge(
        built.sessions, built.store, PurgeCriteria(REJECTED, timedelta(days=180)), actor="cli"
    )
    assert again.tips == 0, "a purged tip is not purged twice"
    assert (await snapshot(built))["chain"] == after["chain"]


async def test_age_counts_from_the_decision_or_the_submission(built: Store) -> None:
    c = built.tips[2]
    # C was submitted long ago but rejected just now: it is not old yet.
    async with transaction(built.sessions) as session:
        await session.execute(
            update(Tip).where(Tip.id == c.id).values(submitted_at=datetime.now(UTC) - OLD)
        )
    plan = await plan_purge(built.sessions, PurgeCriteria(REJECTED, timedelta(days=180)))
    assert plan.tips == 1
    everything = await plan_purge(built.sessions, PurgeCriteria(REJECTED, timedelta(0)))
    assert everything.tips == 2
    # A submitted tip never decided counts from its submission.
    fresh = await submit_tip(built.sessions, built.store, files=[b"new file"])
    submitted = ExportFilters(statuses=("submitted",))
    assert (await plan_purge(built.sessions, PurgeCriteria(submitted, timedelta(days=1)))).tips == 0
    await age(built, fresh.id, timedelta(days=2))
    plan = await plan_purge(built.sessions, PurgeCriteria(submitted, timedelta(days=1)))
    assert (plan.tips, plan.files, plan.originals) == (1, 1, 1)


async def test_other_filters_narrow_the_selection(built: Store) -> None:
    a = built.tips[0]
    async with transaction(built.sessions) as session:
        await session.execute(update(Tip).where(Tip.id == a.id).values(category="torture"))
    strikes = ExportFilters(statuses=(TIP_REJECTED,), categories=("strike",))
    torture = ExportFilters(statuses=(TIP_REJECTED,), categories=("torture",))
    old_enough = timedelta(days=180)
    assert (await plan_purge(built.sessions, PurgeCriteria(strikes, old_enough))).tips == 0
    assert (await plan_purge(built.sessions, PurgeCriteria(torture, old_enough))).tips == 1
    assert (await plan_purge(built.sessions, PurgeCriteria(strikes, timedelta(0)))).tips == 1
    verified = ExportFilters(statuses=(TIP_VERIFIED,))
    assert (await plan_purge(built.sessions, PurgeCriteria(verified, timedelta(0)))).tips == 1


def test_statuses_must_be_named() -> None:
    with pytest.raises(PurgeError, match="--status"):
        PurgeCriteria(ExportFilters(), timedelta(days=1))
    with pytest.raises(PurgeError, match="--status"):
        PurgeCriteria(ExportFilters(verified_only=True), timedelta(days=1))
    with pytest.raises(PurgeError, match="negative"):
        PurgeCriteria(REJECTED, timedelta(days=-1))


async def test_a_large_purge_goes_in_batches(engine: AsyncEngine, tmp_path: Path) -> None:
    store = await build_store(engine, tmp_path / "media")
    ids = [tip.id for tip in store.tips]
    for number in range(4):
        ids.append((await submit_tip(store.sessions, store.store, files=[b"f%d" % number])).id)
    async with transaction(store.sessions) as session:
        for tip_id in ids:
            tip = await moderation.tip_for_update(session, tip_id)
            assert tip is not None
            await moderation.reject(session, tip, MODERATOR, "spam", notify=False)
        # A pending message about one of them is not sent any more.
        pending = OutboxMessage(kind="notice", tip_id=ids[-1], payload={}, status="pending")
        session.add(pending)
    seen: list[tuple[int, int]] = []
    summary = await purge(
        store.sessions,
        store.store,
        PurgeCriteria(REJECTED, timedelta(0)),
        actor="cli",
        batch=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert summary.tips == 7
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert summary.originals == 7, "every original went: no tip keeps any"
    async with store.sessions() as session:
        left = (await session.execute(select(Media.id))).scalars().all()
        purged = (
            await session.execute(
                select(CustodyEntry.tip_id).where(CustodyEntry.action == "purged")
            )
        ).scalars()
        row = await session.get(OutboxMessage, pending.id)
        assert (await custody.verify(session)).ok
    assert left == []
    assert sorted(purged) == sorted(ids)
    assert row is not None
    assert row.status == "cancelled"
    assert [p for p in (store.store.root / "originals").rglob("*") if p.is_file()] == []


async def test_the_erasure_and_its_entries_are_one_transaction(
    built: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await snapshot(built)
    real_append = custody.append

    async def append(session: Any, **kwargs: Any) -> CustodyEntry:
        if kwargs.get("action") == "purged":
            raise RuntimeError("the log is unavailable")
        return await real_append(session, **kwargs)

    monkeypatch.setattr(custody, "append", append)
    with pytest.raises(RuntimeError):
        await purge(
            built.sessions, built.store, PurgeCriteria(REJECTED, timedelta(days=1)), actor="cli"
        )
    assert await snapshot(built) == before, "rolled back, and no original deleted"


# ---------------------------------------------------------------------------- the command


def run_cli(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="tipbot")
    purge_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["purge", *argv])
    status: int = args.run(settings, args)
    return status


@pytest.fixture
def cli_settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        _env_file=None,
        database_url=database_url,
        media_dir=tmp_path / "media",
        tipbot_data_dir=tmp_path / "data",
    )


async def test_the_command_is_a_dry_run_unless_told_yes(
    built: Store, cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    before = await snapshot(built)
    args = ("--status", "rejected", "--older-than", "180d")
    assert await asyncio.to_thread(run_cli, cli_settings, *args) == 0
    out = capsys.readouterr().out
    assert "dry run: would purge 1 tip (rejected 1): 2 files, 1 originals (9 B)" in out
    assert "--yes" in out
    assert await snapshot(built) == before

    assert await asyncio.to_thread(run_cli, cli_settings, *args, "--yes") == 0
    out = capsys.readouterr().out
    assert out.strip() == "purged 1 tip (rejected 1): 2 files, 1 originals (9 B)"
    async with built.sessions() as session:
        entry = (
            await session.execute(select(CustodyEntry).where(CustodyEntry.action == "purged"))
        ).scalar_one()
    assert entry.actor.startswith("cli")
    assert not original(built, b"photo one").exists()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--older-than", "180d"), "--status"),
        (("--status", "draft", "--older-than", "1d"), "--status"),
        (("--status", "rejected", "--older-than", "six months"), "--older-than"),
        (("--status", "rejected", "--older-than", "1d", "--oblast", "Narnia"), "--oblast"),
    ],
)
async def test_a_bad_option_is_one_line(
    built: Store,
    cli_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    named: str,
) -> None:
    before = await snapshot(built)
    assert await asyncio.to_thread(run_cli, cli_settings, *args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert named in lines[0]
    assert captured.out == ""
    assert await snapshot(built) == before


async def test_the_command_says_when_nothing_matches(
    built: Store, cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--status", "duplicate", "--older-than", "1d")
    for extra in ((), ("--yes",)):
        assert await asyncio.to_thread(run_cli, cli_settings, *args, *extra) == 0
        assert capsys.readouterr().out.strip() == "no tips match: nothing to purge"
