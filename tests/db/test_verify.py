"""``tipbot verify`` names every kind of tampering (issue 7 §5), on SQLite and PostgreSQL.

Each case builds a store through the services, tampers with it as an attacker with access
to the database or the disk would, and checks the exact problem named and the exit bits.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody
from bot.evidence import anchors, verifier
from bot.evidence.timestamp import load_roots
from bot.evidence.verify import Kind, Report, verify_all
from bot.settings import load_settings
from db.engine import transaction
from db.models import (
    ANCHOR_POSTED,
    Anchor,
    CustodyEntry,
    CustodyHead,
    Media,
    TimestampToken,
    Tip,
    TipNote,
)
from tests.builders import Store, build_store
from tests.tsa import LocalTSA


async def _verify(built: Store, **options: object) -> Report:
    return await verify_all(built.sessions, built.store, **options)  # type: ignore[arg-type]


def _codes(report: Report) -> set[str]:
    return {problem.code for problem in report.problems}


@pytest.fixture
async def built(engine: AsyncEngine, tmp_path: Path) -> Store:
    return await build_store(engine, tmp_path / "media")


async def test_an_untouched_store_verifies_clean(built: Store) -> None:
    report = await _verify(built)
    assert report.ok, report.problems
    assert report.exit_code == 0
    assert report.entries == report.head_seq > 10
    assert report.files == 3  # the shared video is stored once
    assert report.bytes == len(b"photo one") + len(b"shared video") + len(b"photo three")
    assert report.tips == 3
    assert report.media == 4


async def test_submitted_entries_carry_the_testimony_digest(built: Store) -> None:
    async with built.sessions() as session:
        entry = (
            await session.execute(
                select(CustodyEntry).where(
                    CustodyEntry.action == "submitted",
                    CustodyEntry.tip_id == built.tips[0].id,
                )
            )
        ).scalar_one()
        tip = await session.get(Tip, built.tips[0].id)
    assert tip is not None
    fields = {name: getattr(tip, name) for name in verifier.TESTIMONY_FIELDS}
    files = [
        {"media_id": m, "sha256": s}
        for m, s in zip(built.tips[0].media_ids, built.tips[0].shas, strict=True)
    ]
    assert entry.details["record"] == verifier.record_digest(
        verifier.testimony_record(fields, files)
    )
    # Details never hold the reporter's words.
    assert "Обстріл" not in str(entry.details)


async def _tamper_sql(built: Store, *statements: object) -> None:
    async with transaction(built.sessions) as session:
        for statement in statements:
            await session.execute(statement)  # type: ignore[call-overload]


async def _entry(built: Store, action: str, tip_id: int | None = None) -> CustodyEntry:
    async with built.sessions() as session:
        query = select(CustodyEntry).where(CustodyEntry.action == action)
        if tip_id is not None:
            query = query.where(CustodyEntry.tip_id == tip_id)
        return (await session.execute(query.order_by(CustodyEntry.seq).limit(1))).scalar_one()


async def test_an_edited_custody_row_is_named(built: Store) -> None:
    entry = await _entry(built, "file_received")
    await _tamper_sql(
        built,
        update(CustodyEntry)
        .where(CustodyEntry.seq == entry.seq)
        .values(details={**entry.details, "size": 1}),
    )
    report = await _verify(built)
    assert any(p.code == "altered_entry" and p.seq == entry.seq for p in report.problems), (
        report.problems
    )
    assert report.exit_code & Kind.CHAIN


async def test_a_deleted_entry_is_named(built: Store) -> None:
    entry = await _entry(built, "draft_created", built.tips[1].id)
    await _tamper_sql(built, delete(CustodyEntry).where(CustodyEntry.seq == entry.seq))
    report = await _verify(built)
    assert [p.code for p in report.problems] == ["missing_entry"]
    assert report.problems[0].seq == entry.seq
    assert report.exit_code == Kind.CHAIN


async def test_two_swapped_entries_are_named(built: Store) -> None:
    async with built.sessions() as session:
        a = await session.get(CustodyEntry, 4)
        b = await session.get(CustodyEntry, 5)
    assert a is not None
    assert b is not None

    def values(entry: CustodyEntry) -> dict[str, object]:
        return {
            column: getattr(entry, column)
            for column in (
                "created_at",
                "actor",
                "action",
                "tip_id",
                "details",
                "prev_hash",
                "hash",
                "format",
                "body_digest",
            )
        }

    await _tamper_sql(
        built,
        update(CustodyEntry).where(CustodyEntry.seq == 4).values(hash="x" * 64),
        update(CustodyEntry).where(CustodyEntry.seq == 5).values(**values(a)),
        update(CustodyEntry).where(CustodyEntry.seq == 4).values(**values(b)),
    )
    report = await _verify(built)
    assert {4, 5} <= {p.seq for p in report.problems}, report.problems
    assert report.exit_code & Kind.CHAIN


async def test_an_edited_head_is_named(built: Store) -> None:
    await _tamper_sql(built, update(CustodyHead).values(hash="f" * 64))
    report = await _verify(built)
    assert _codes(report) == {"head_mismatch"}


async def _anchor_now(built: Store) -> tuple[int, str]:
    """Publish the current head as an anchor (as the anchor service records one)."""
    async with transaction(built.sessions) as session:
        seq, digest = await custody.head(session)
        session.add(
            Anchor(
                seq=seq,
                hash=digest,
                reason="command",
                status=ANCHOR_POSTED,
                chat_id=-100123,
                message_id=7,
                message_date=datetime.now(UTC),
                posted_at=datetime.now(UTC),
            )
        )
        await session.flush()
        await custody.append(
            session,
            actor=custody.SYSTEM,
            action="anchored",
            details={"seq": seq, "hash": digest, "chat_id": -100123, "message_id": 7},
        )
    return seq, digest


async def test_truncation_after_an_anchor_is_caught(built: Store) -> None:
    seq, _digest = await _anchor_now(built)
    async with built.sessions() as session:
        keep = await session.get(CustodyEntry, seq - 3)
    assert keep is not None
    # Delete the last entries and reset the head to match: internally consistent.
    await _tamper_sql(
        built,
        delete(CustodyEntry).where(CustodyEntry.seq > keep.seq),
        update(CustodyHead).values(seq=keep.seq, hash=keep.hash),
    )
    report = await _verify(built, files=False)
    mismatches = [p for p in report.problems if p.code == "anchor_mismatch"]
    # Found by the published anchor (the `anchored` entry itself went with the tail).
    assert [p.seq for p in mismatches] == [seq], report.problems
    assert "is missing" in mismatches[0].message
    assert report.exit_code & Kind.CHAIN


async def test_rechaining_after_an_anchor_is_caught(built: Store) -> None:
    await _anchor_now(built)
    # Edit entry 3 and recompute every later hash, the head too: the chain is consistent.
    async with transaction(built.sessions) as session:
        entries = list(
            (await session.execute(select(CustodyEntry).order_by(CustodyEntry.seq))).scalars()
        )
        prev = verifier.GENESIS_HASH
        for entry in entries:
            if entry.seq == 3:
                entry.details = {**entry.details, "forged": True}
            entry.prev_hash = prev
            entry.body_digest = verifier.body_digest(
                custody.entry_time(entry.created_at),
                entry.actor,
                entry.action,
                entry.tip_id,
                entry.details,
            )
            entry.hash = verifier.v2_hash(entry.seq, prev, entry.body_digest)
            prev = entry.hash
        # Unique hashes are rewritten one by one: clear them first on PostgreSQL.
        await session.flush()
        await session.execute(update(CustodyHead).values(hash=prev))
    report = await _verify(built, files=False)
    assert "anchor_mismatch" in _codes(report), report.problems
    assert report.exit_code == Kind.CHAIN


Tamper = Callable[[Store], Awaitable[None]]


async def _edit_description(built: Store) -> None:
    await _tamper_sql(
        built,
        update(Tip).where(Tip.id == built.tips[0].id).values(description="something else"),
    )


async def _edit_date(built: Store) -> None:
    await _tamper_sql(
        built,
        update(Tip).where(Tip.id == built.tips[0].id).values(incident_date=date(2024, 3, 2)),
    )


async def _edit_place(built: Store) -> None:
    await _tamper_sql(built, update(Tip).where(Tip.id == built.tips[0].id).values(lat=50.46))


async def _edit_category(built: Store) -> None:
    await _tamper_sql(
        built, update(Tip).where(Tip.id == built.tips[0].id).values(category="looting")
    )


@pytest.mark.parametrize(
    "tamper", [_edit_description, _edit_date, _edit_place, _edit_category], ids=str
)
async def test_an_edited_submitted_tip_is_named(built: Store, tamper: Tamper) -> None:
    await tamper(built)
    report = await _verify(built, files=False)
    assert _codes(report) == {"tip_altered"}, report.problems
    assert report.problems[0].tip == built.tips[0].id
    assert built.tips[0].reference in report.problems[0].message
    assert report.exit_code == Kind.RECORDS


async def test_an_edited_answer_is_named(built: Store) -> None:
    await _tamper_sql(built, update(TipNote).values(text="not what they said"))
    report = await _verify(built, files=False)
    assert _codes(report) == {"note_altered"}


async def test_a_changed_media_hash_is_named(built: Store) -> None:
    media_id = built.tips[1].media_ids[1]
    await _tamper_sql(built, update(Media).where(Media.id == media_id).values(sha256="a" * 64))
    report = await _verify(built, files=False)
    assert "media_altered" in _codes(report)
    assert {p.media for p in report.problems if p.code == "media_altered"} == {media_id}
    assert report.exit_code & Kind.RECORDS


def _original(built: Store, sha: str) -> Path:
    return built.store.path_for(built.store.key_for(sha))


async def test_one_changed_byte_of_an_original_is_named(built: Store) -> None:
    sha = built.tips[0].shas[0]
    path = _original(built, sha)
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    report = await _verify(built)
    assert _codes(report) == {"altered_file"}
    assert sha in (report.problems[0].path or "")
    assert hashlib.sha256(bytes(data)).hexdigest() in report.problems[0].message
    assert report.exit_code == Kind.FILES
    # Without re-hashing, the change goes unseen (that is what --no-files means).
    assert (await _verify(built, files=False)).ok


async def test_a_deleted_original_is_named(built: Store) -> None:
    sha = built.tips[1].shas[1]
    _original(built, sha).unlink()
    report = await _verify(built)
    assert _codes(report) == {"missing_file"}
    assert {p.media for p in report.problems} == {built.tips[1].media_ids[1]}


async def test_a_stray_file_is_named(built: Store) -> None:
    data = b"planted"
    sha = hashlib.sha256(data).hexdigest()
    path = built.store.root / built.store.key_for(sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    report = await _verify(built)
    assert _codes(report) == {"stray_file"}
    assert report.problems[0].path == built.store.key_for(sha)


async def test_since_checks_only_newer_entries_and_their_files(built: Store) -> None:
    head = (await _verify(built, files=False)).head_seq
    # An altered original received before SEQ is not looked at with --since SEQ.
    path = _original(built, built.tips[0].shas[0])
    os.chmod(path, 0o600)
    path.write_bytes(b"changed")
    report = await _verify(built, since=head)
    assert report.ok, report.problems
    assert report.entries == 0
    assert not (await _verify(built)).ok


async def test_old_format_entries_still_verify(built: Store) -> None:
    """Entries written before format 2 (hash over the whole entry) verify as written."""
    async with transaction(built.sessions) as session:
        head = (await session.execute(select(CustodyHead))).scalar_one()
        entries = list(
            (await session.execute(select(CustodyEntry).order_by(CustodyEntry.seq))).scalars()
        )
        prev = verifier.GENESIS_HASH
        for entry in entries[:5]:  # the first five as a v1 installation wrote them
            entry.format, entry.body_digest, entry.prev_hash = 1, None, prev
            entry.hash = custody.entry_hash(entry)
            prev = entry.hash
        for entry in entries[5:]:
            entry.prev_hash = prev
            entry.hash = custody.entry_hash(entry)
            prev = entry.hash
        await session.flush()
        head.hash, head.v2_from_seq = prev, 6
    report = await _verify(built)
    assert report.ok, report.problems
    # A format-2 entry turned into format 1 after v2 started is refused.
    await _tamper_sql(built, update(CustodyEntry).where(CustodyEntry.seq == 7).values(format=1))
    assert "altered_entry" in _codes(await _verify(built, files=False))


async def _timestamped(built: Store, tsa: LocalTSA) -> None:
    """An anchor posted and timestamped by the local authority, as the anchor service does."""
    settings = load_settings(_env_file=None, tsa_urls=[tsa.url], tsa_ca_file=tsa.ca_file)
    anchor, _created = await anchors.anchor_now(built.sessions)
    assert anchor is not None
    async with transaction(built.sessions) as session:
        await anchors.record_posted(
            session,
            anchor.id,
            chat_id=-100123,
            message_id=9,
            message_date=datetime.now(UTC),
            settings=settings,
        )
    async with httpx.AsyncClient() as client:
        (outcome,) = await anchors.obtain_timestamps(
            built.sessions, settings, client, load_roots(tsa.ca_file)
        )
    assert outcome.ok, outcome


async def test_stored_timestamp_tokens_are_rechecked(built: Store, tsa: LocalTSA) -> None:
    await _timestamped(built, tsa)
    report = await _verify(built, files=False, ca_file=tsa.ca_file)
    assert report.ok, report.problems
    assert report.tokens == 1
    assert report.anchors == 2  # the anchor row and its `anchored` entry

    async with built.sessions() as session:
        token = (await session.execute(select(TimestampToken))).scalar_one()
    assert token.token is not None
    altered = bytearray(token.token)
    altered[len(altered) // 2] ^= 0xFF
    await _tamper_sql(built, update(TimestampToken).values(token=bytes(altered)))
    report = await _verify(built, files=False, ca_file=tsa.ca_file)
    assert _codes(report) == {"token_altered"}
    assert report.exit_code == Kind.TIMESTAMPS


async def test_a_token_under_an_untrusted_root_fails(built: Store, tsa: LocalTSA) -> None:
    """Checked against roots that do not include the authority's (TSA_CA_FILE changed, or a
    token re-signed by a forger's own authority): named, never passed."""
    await _timestamped(built, tsa)
    report = await _verify(built, files=False, ca_file=tsa.pki.rogue_ca_file)
    assert _codes(report) == {"bad_token"}
    assert "untrusted" in report.problems[0].message
