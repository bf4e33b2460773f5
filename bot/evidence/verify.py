"""``tipbot verify``: check everything an investigator will rely on, and name what is wrong.

Four kinds of check, each with its own bit in the exit status (docs/custody.md):

- **chain** (4): every custody entry, in both formats, recomputed and linked from genesis;
  the head row; every published anchor (the ``anchor`` table and the ``anchored`` entries)
  still in the chain with the hash that was published.
- **records** (8): each submitted tip, answer and addition still matches the record digest in
  its entry; each media row matches its ``file_received`` receipt.
- **files** (16): every stored original re-hashed and compared with its content address and
  its media rows; missing originals and stray files (referenced by no media row) named.
- **timestamps** (32): every stored RFC 3161 token re-checked against its anchored head and
  against the digest its ``timestamped`` entry recorded.

Memory stays flat: entries, tips and media are read in keyset pages, the originals folder is
walked and each file hashed in chunks, on two threads (hashing releases the GIL).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import IntFlag
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import custody
from bot.evidence import testimony, verifier
from bot.media import MediaStore
from db.engine import SessionFactory
from db.models import (
    ANCHOR_POSTED,
    CUSTODY_V2,
    MEDIA_STORED,
    TIMESTAMP_OK,
    TIP_DRAFT,
    Anchor,
    CustodyEntry,
    CustodyHead,
    Media,
    TimestampToken,
    Tip,
    TipNote,
)

PAGE = 1000
# Actions after which a tip's testimony is gone on purpose (content erased, custody kept).
ERASING_ACTIONS = frozenset({"erased", "purged", "draft_deleted"})
RECORD_ACTIONS = frozenset({"submitted", "answer_received", "information_added", "file_received"})


class Kind(IntFlag):
    """What kind of problem; the exit status is the union of the kinds found."""

    CHAIN = 4
    RECORDS = 8
    FILES = 16
    TIMESTAMPS = 32


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    code: str
    message: str
    seq: int | None = None
    tip: int | None = None
    media: int | None = None
    path: str | None = None


@dataclass(slots=True)
class Report:
    """What was checked and what was found."""

    entries: int = 0
    head_seq: int = 0
    head_hash: str = verifier.GENESIS_HASH
    tips: int = 0
    media: int = 0
    files: int = 0
    bytes: int = 0
    tokens: int = 0
    anchors: int = 0
    seconds: float = 0.0
    file_seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        code = Kind(0)
        for problem in self.problems:
            code |= Kind[problem.kind.upper()]
        return int(code)

    def add(self, kind: Kind, code: str, message: str, **where: Any) -> None:
        assert kind.name is not None
        self.problems.append(Problem(kind.name.lower(), code, message, **where))

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["exit_code"] = self.exit_code
        data["head"] = {"seq": data.pop("head_seq"), "hash": data.pop("head_hash")}
        return data


# Progress: (phase, done, total) — total in bytes for files, in entries for the chain.
Progress = Callable[[str, int, int | None], None]


def _quiet(_phase: str, _done: int, _total: int | None) -> None:
    return None


# ---------------------------------------------------------------------------- the chain


_ENTRY_COLUMNS = (
    CustodyEntry.seq,
    CustodyEntry.created_at,
    CustodyEntry.actor,
    CustodyEntry.action,
    CustodyEntry.tip_id,
    CustodyEntry.details,
    CustodyEntry.prev_hash,
    CustodyEntry.hash,
    CustodyEntry.format,
    CustodyEntry.body_digest,
)


async def _entries(session: AsyncSession, after: int) -> AsyncIterator[Any]:
    """Entries after ``after`` in order, as plain rows, a page at a time."""
    last = after
    while True:
        rows = (
            await session.execute(
                select(*_ENTRY_COLUMNS)
                .where(CustodyEntry.seq > last)
                .order_by(CustodyEntry.seq)
                .limit(PAGE * 5)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].seq


def _entry_problem(entry: Any, v2_from: int) -> str | None:
    """Whether the entry's own hash (and stored body digest) match its content."""
    time_text = custody.entry_time(entry.created_at)
    if entry.format == CUSTODY_V2:
        digest = verifier.body_digest(
            time_text, entry.actor, entry.action, entry.tip_id, entry.details
        )
        if (
            entry.body_digest != digest
            or verifier.v2_hash(entry.seq, entry.prev_hash, digest) != entry.hash
        ):
            return "altered_entry"
        return None
    if entry.seq >= v2_from or entry.body_digest is not None:
        return "altered_entry"
    expected = verifier.v1_hash(
        entry.seq,
        time_text,
        entry.actor,
        entry.action,
        entry.tip_id,
        entry.details,
        entry.prev_hash,
    )
    return None if expected == entry.hash else "altered_entry"


async def check_chain(
    session: AsyncSession, report: Report, *, since: int = 0, progress: Progress = _quiet
) -> list[tuple[int, str, str]]:
    """Walk the chain (from ``since``, trusting that entry), naming every altered, missing
    or misplaced entry and a head that does not match; return the heads that ``anchored``
    entries claim were published, as (seq, hash, where)."""
    head = (await session.execute(select(CustodyHead).where(CustodyHead.id == 1))).scalar_one()
    report.head_seq, report.head_hash = head.seq, head.hash
    v2_from = head.v2_from_seq
    expected_seq, expected_prev = since + 1, verifier.GENESIS_HASH
    if since:
        start = await session.get(CustodyEntry, since)
        if start is None:
            report.add(Kind.CHAIN, "missing_entry", f"entry {since} (--since) is not in the chain")
            return []
        expected_prev = start.hash
    claims: list[tuple[int, str, str]] = []
    async for entry in _entries(session, since):
        if entry.seq != expected_seq:
            report.add(
                Kind.CHAIN,
                "missing_entry",
                f"entries {expected_seq}–{entry.seq - 1} are missing",
                seq=expected_seq,
            )
        elif entry.prev_hash != expected_prev:
            report.add(
                Kind.CHAIN,
                "broken_link",
                f"entry {entry.seq} does not link to the entry before it",
                seq=entry.seq,
            )
        problem = _entry_problem(entry, v2_from)
        if problem is not None:
            report.add(
                Kind.CHAIN,
                problem,
                f"entry {entry.seq} ({entry.action}) was altered: its hash does not match it",
                seq=entry.seq,
                tip=entry.tip_id,
            )
        if entry.action == "anchored":
            details = entry.details
            if isinstance(details.get("seq"), int) and isinstance(details.get("hash"), str):
                claims.append((details["seq"], details["hash"], f"entry {entry.seq}"))
        expected_seq, expected_prev = entry.seq + 1, entry.hash
        report.entries += 1
        if report.entries % PAGE == 0:
            progress("chain", report.entries, head.seq - since)
    last = expected_seq - 1
    if head.seq != last or head.hash != expected_prev:
        report.add(
            Kind.CHAIN,
            "head_mismatch",
            f"the head row (entry {head.seq}, {head.hash[:16]}…) is not the chain's last entry "
            f"(entry {last}, {expected_prev[:16]}…)",
            seq=head.seq,
        )
    progress("chain", report.entries, report.entries)
    return claims


async def check_anchors(
    session: AsyncSession, report: Report, claims: list[tuple[int, str, str]]
) -> None:
    """Every head ever published must still be in the chain with the published hash: a
    truncated or re-chained log fails here even when it is internally consistent."""
    rows = (
        await session.execute(
            select(Anchor.id, Anchor.seq, Anchor.hash).where(Anchor.status == ANCHOR_POSTED)
        )
    ).all()
    published = [(seq, digest, f"anchor {anchor_id}") for anchor_id, seq, digest in rows]
    for seq, digest, where in published + claims:
        report.anchors += 1
        entry = await session.get(CustodyEntry, seq)
        if entry is None or entry.hash != digest:
            found = "is missing" if entry is None else f"has hash {entry.hash[:16]}…"
            report.add(
                Kind.CHAIN,
                "anchor_mismatch",
                f"the head published by {where} (entry {seq}, {digest[:16]}…) is not in the "
                f"chain: entry {seq} {found}",
                seq=seq,
            )


# ---------------------------------------------------------------------------- records


async def _tip_pages(session: AsyncSession) -> AsyncIterator[list[Tip]]:
    last = 0
    while True:
        tips = list(
            (
                await session.execute(
                    select(Tip).where(Tip.id > last).order_by(Tip.id).limit(PAGE // 2)
                )
            ).scalars()
        )
        if not tips:
            return
        yield tips
        last = tips[-1].id


async def check_records(session: AsyncSession, report: Report) -> None:
    """Recompute every record digest from the rows and compare it with its entry."""
    async for tips in _tip_pages(session):
        ids = [tip.id for tip in tips]
        entries = (
            await session.execute(
                select(
                    CustodyEntry.seq, CustodyEntry.tip_id, CustodyEntry.action, CustodyEntry.details
                )
                .where(
                    CustodyEntry.tip_id.in_(ids),
                    CustodyEntry.action.in_(RECORD_ACTIONS | ERASING_ACTIONS),
                )
                .order_by(CustodyEntry.seq)
            )
        ).all()
        media = list(
            (
                await session.execute(select(Media).where(Media.tip_id.in_(ids)).order_by(Media.id))
            ).scalars()
        )
        notes = list(
            (
                await session.execute(
                    select(TipNote).where(
                        TipNote.tip_id.in_(ids), TipNote.kind.in_(("answer", "addition"))
                    )
                )
            ).scalars()
        )
        by_tip: dict[int, list[Any]] = {}
        for row in entries:
            by_tip.setdefault(row.tip_id, []).append(row)
        media_by_tip: dict[int, list[Media]] = {}
        for item in media:
            media_by_tip.setdefault(item.tip_id, []).append(item)
        sha_by_media = {item.id: item.sha256 for item in media}
        notes_by_tip: dict[int, list[TipNote]] = {}
        for note in notes:
            notes_by_tip.setdefault(note.tip_id, []).append(note)
        for tip in tips:
            _check_tip(
                report,
                tip,
                by_tip.get(tip.id, []),
                media_by_tip.get(tip.id, []),
                notes_by_tip.get(tip.id, []),
                sha_by_media,
            )
        session.expunge_all()


def _check_tip(
    report: Report,
    tip: Tip,
    entries: list[Any],
    media: list[Media],
    notes: list[TipNote],
    sha_by_media: dict[int, str | None],
) -> None:
    """One tip's media rows against their receipts, and, unless it is a draft or was erased
    on purpose, its testimony and notes against their record digests."""
    report.tips += 1
    _check_media(report, tip, entries, media)
    erased = any(row.action in ERASING_ACTIONS for row in entries) or tip.purged_at is not None
    if tip.status == TIP_DRAFT or erased:
        return
    submitted = [row for row in entries if row.action == "submitted"]
    if not submitted:
        report.add(
            Kind.RECORDS,
            "unrecorded_tip",
            f"tip {tip.reference} is {tip.status} but was never recorded as submitted",
            tip=tip.id,
        )
        return
    recorded = submitted[-1].details.get("record")
    report_media = [m for m in media if m.origin == testimony.REPORT_ORIGIN]
    if recorded is not None and recorded != testimony.testimony_digest(tip, report_media):
        report.add(
            Kind.RECORDS,
            "tip_altered",
            f"tip {tip.reference} no longer matches what was submitted "
            f"(entry {submitted[-1].seq}): its fields or files were changed",
            seq=submitted[-1].seq,
            tip=tip.id,
        )
    _check_notes(report, tip, entries, notes, sha_by_media)


def _check_media(report: Report, tip: Tip, entries: list[Any], media: list[Media]) -> None:
    receipts = {
        row.details.get("media_id"): row for row in entries if row.action == "file_received"
    }
    for item in media:
        report.media += 1
        receipt = receipts.get(item.id)
        where = f"media row {item.id} of tip {tip.reference}"
        if receipt is None:
            report.add(
                Kind.RECORDS,
                "unrecorded_media",
                f"{where} has no file_received entry",
                tip=tip.id,
                media=item.id,
            )
        elif receipt.details.get("sha256") != item.sha256:
            report.add(
                Kind.RECORDS,
                "media_altered",
                f"{where}: its SHA-256 differs from its receipt (entry {receipt.seq})",
                seq=receipt.seq,
                tip=tip.id,
                media=item.id,
            )
        elif item.storage_key and not item.storage_key.endswith(item.sha256 or "-"):
            report.add(
                Kind.RECORDS,
                "media_altered",
                f"{where} points at another file",
                tip=tip.id,
                media=item.id,
            )


def _check_notes(
    report: Report,
    tip: Tip,
    entries: list[Any],
    notes: list[TipNote],
    sha_by_media: dict[int, str | None],
) -> None:
    note_entries = {
        row.details.get("note"): row
        for row in entries
        if row.action in ("answer_received", "information_added")
    }
    for note in notes:
        row = note_entries.get(note.id)
        recorded = None if row is None else row.details.get("record")
        if row is None or recorded is None:
            continue
        sha256 = None if note.media_id is None else sha_by_media.get(note.media_id)
        if testimony.note_digest(tip.reference, note, sha256) != recorded:
            report.add(
                Kind.RECORDS,
                "note_altered",
                f"the {note.kind} {note.id} of tip {tip.reference} no longer matches "
                f"entry {row.seq}",
                seq=row.seq,
                tip=tip.id,
            )


# ---------------------------------------------------------------------------- files


def _originals(store: MediaStore) -> Iterator[Path]:
    root = store.root / "originals"
    if not root.is_dir():
        return
    for directory, _dirs, names in os.walk(root):
        for name in sorted(names):
            yield Path(directory) / name


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(verifier.CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def _referenced(session: AsyncSession, shas: list[str]) -> set[str]:
    rows = await session.execute(
        select(Media.sha256).where(Media.sha256.in_(shas), Media.status == MEDIA_STORED).distinct()
    )
    return {sha for (sha,) in rows.all() if sha}


async def check_files(
    sessions: SessionFactory,
    store: MediaStore,
    report: Report,
    *,
    rehash: bool = True,
    only: set[str] | None = None,
    progress: Progress = _quiet,
) -> None:
    """Re-hash every original (or those in ``only``), and match originals with media rows
    both ways: altered, missing and stray files are named by path and hash."""
    total = sum(p.stat().st_size for p in _originals(store)) if rehash else None
    done = 0
    pending: list[tuple[Path, asyncio.Future[tuple[str, int]] | None]] = []
    loop = asyncio.get_running_loop()

    async def settle() -> None:
        nonlocal done
        names = [path.name for path, _ in pending]
        async with sessions() as session:
            used = await _referenced(session, names)
        for path, future in pending:
            relative = str(path.relative_to(store.root))
            if future is not None:
                actual, size = await future
                report.files += 1
                report.bytes += size
                done += size
                if actual != path.name:
                    report.add(
                        Kind.FILES,
                        "altered_file",
                        f"{relative} was altered: its SHA-256 is now {actual}",
                        path=relative,
                    )
            if path.name not in used:
                report.add(
                    Kind.FILES,
                    "stray_file",
                    f"{relative} is referenced by no media row (stray or not erased)",
                    path=relative,
                )
        pending.clear()
        progress("files", done, total)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify-hash") as pool:
        for path in _originals(store):
            if only is not None and path.name not in only:
                continue
            future = loop.run_in_executor(pool, _hash_file, path) if rehash else None
            pending.append((path, future))
            if len(pending) >= 64:
                await settle()
        if pending:
            await settle()
    await _check_missing(sessions, store, report, only)


async def _check_missing(
    sessions: SessionFactory, store: MediaStore, report: Report, only: set[str] | None
) -> None:
    last = 0
    while True:
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(Media.id, Media.tip_id, Media.sha256, Media.storage_key)
                    .where(Media.id > last, Media.storage_key.is_not(None))
                    .order_by(Media.id)
                    .limit(PAGE)
                )
            ).all()
        if not rows:
            return
        for media_id, tip_id, sha256, key in rows:
            if only is not None and sha256 not in only:
                continue
            if key is not None and not (store.root / key).is_file():
                report.add(
                    Kind.FILES,
                    "missing_file",
                    f"the original of media row {media_id} ({key}, SHA-256 {sha256}) is missing",
                    tip=tip_id,
                    media=media_id,
                    path=key,
                )
        last = rows[-1][0]


async def referenced_since(session: AsyncSession, since: int) -> set[str]:
    """The originals that entries newer than ``since`` received."""
    shas: set[str] = set()
    async for entry in _entries(session, since):
        if entry.action == "file_received" and isinstance(entry.details.get("sha256"), str):
            shas.add(entry.details["sha256"])
    return shas


# ---------------------------------------------------------------------------- timestamps


async def check_timestamps(
    session: AsyncSession, report: Report, ca_file: Path | None = None
) -> None:
    """Re-check every stored token against the head it covers and the digest its entry
    recorded; an authority that has not answered yet is a warning, not a failure."""
    rows = (
        await session.execute(
            select(TimestampToken, Anchor).join(Anchor, Anchor.id == TimestampToken.anchor_id)
        )
    ).all()
    if not rows:
        return
    from bot.evidence import timestamp

    # The authorities' roots (TSA_CA_FILE, else the system's): a token re-signed under a
    # forger's own root must not pass.
    roots = timestamp.load_roots(ca_file)
    recorded: dict[tuple[int, str], str] = {}
    for (details,) in (
        await session.execute(
            select(CustodyEntry.details).where(CustodyEntry.action == "timestamped")
        )
    ).all():
        anchor_id, url = details.get("anchor"), details.get("tsa")
        if isinstance(anchor_id, int) and isinstance(url, str):
            recorded[(anchor_id, url)] = str(details.get("token_sha256"))
    for token, anchor in rows:
        where = f"the token of {token.tsa_url} for anchor {anchor.id} (entry {anchor.seq})"
        if token.status != TIMESTAMP_OK or token.token is None:
            report.warnings.append(f"{where} has not been obtained yet ({token.last_error})")
            continue
        report.tokens += 1
        if recorded.get((anchor.id, token.tsa_url)) != hashlib.sha256(token.token).hexdigest():
            report.add(
                Kind.TIMESTAMPS,
                "token_altered",
                f"{where} is not the token its timestamped entry recorded",
                seq=anchor.seq,
            )
            continue
        try:
            timestamp.check_token(
                token.token, bytes.fromhex(anchor.hash), token.certificates or "", roots
            )
        except timestamp.TimestampError as exc:
            report.add(
                Kind.TIMESTAMPS,
                "bad_token",
                f"{where} does not verify ({exc.reason})",
                seq=anchor.seq,
            )


# ---------------------------------------------------------------------------- all of it


async def verify_all(
    sessions: SessionFactory,
    store: MediaStore,
    *,
    since: int = 0,
    files: bool = True,
    ca_file: Path | None = None,
    progress: Progress = _quiet,
) -> Report:
    """Run every check and return the report (``since`` limits the chain and files to
    entries newer than that sequence number; ``files=False`` skips re-hashing)."""
    started = time.monotonic()
    report = Report()
    async with sessions() as session:
        claims = await check_chain(session, report, since=since, progress=progress)
        await check_anchors(session, report, claims)
        if not since:
            await check_records(session, report)
        await check_timestamps(session, report, ca_file)
        only = await referenced_since(session, since) if since else None
    files_started = time.monotonic()
    await check_files(sessions, store, report, rehash=files, only=only, progress=progress)
    report.file_seconds = time.monotonic() - files_started
    report.seconds = time.monotonic() - started
    return report
