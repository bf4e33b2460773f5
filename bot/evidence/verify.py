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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import IntFlag
from functools import partial
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

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

if TYPE_CHECKING:
    from bot.evidence.timestamp import TrustRoots

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
# A head that an ``anchored`` entry says was published: (seq, hash, where it is said).
Claim = tuple[int, str, str]
_Row = TypeVar("_Row")


async def _keyset_pages(
    fetch: Callable[[int], Awaitable[Sequence[_Row]]],
    key: Callable[[_Row], int],
    after: int = 0,
) -> AsyncIterator[Sequence[_Row]]:
    """Pages of rows in key order, each ``fetch``ed after the last key of the one before,
    until one comes back empty: memory stays flat however many rows there are."""
    last = after
    while True:
        rows = await fetch(last)
        if not rows:
            return
        yield rows
        last = key(rows[-1])


async def _entry_page(session: AsyncSession, after: int) -> Sequence[Any]:
    return (
        await session.execute(
            select(*_ENTRY_COLUMNS)
            .where(CustodyEntry.seq > after)
            .order_by(CustodyEntry.seq)
            .limit(PAGE * 5)
        )
    ).all()


async def _entries(session: AsyncSession, after: int) -> AsyncIterator[Any]:
    """Entries after ``after`` in order, as plain rows, a page at a time."""
    async for rows in _keyset_pages(partial(_entry_page, session), attrgetter("seq"), after):
        for row in rows:
            yield row


def _altered(entry: Any, v2_from: int) -> bool:
    """Whether the entry's own hash (and stored body digest) no longer match its content."""
    time_text = custody.entry_time(entry.created_at)
    if entry.format == CUSTODY_V2:
        return _v2_altered(entry, time_text)
    # Format 1 only before the switch, and without a body digest.
    return entry.seq >= v2_from or entry.body_digest is not None or _v1_altered(entry, time_text)


def _v2_altered(entry: Any, time_text: str) -> bool:
    digest = verifier.body_digest(time_text, entry.actor, entry.action, entry.tip_id, entry.details)
    stored: str | None = entry.body_digest
    stated: str = entry.hash
    return stored != digest or verifier.v2_hash(entry.seq, entry.prev_hash, digest) != stated


def _v1_altered(entry: Any, time_text: str) -> bool:
    stated: str = entry.hash
    expected = verifier.v1_hash(
        entry.seq,
        time_text,
        entry.actor,
        entry.action,
        entry.tip_id,
        entry.details,
        entry.prev_hash,
    )
    return expected != stated


def _claim(entry: Any) -> Claim | None:
    """The head an ``anchored`` entry says was published, if it says one."""
    details = entry.details
    if isinstance(details.get("seq"), int) and isinstance(details.get("hash"), str):
        return details["seq"], details["hash"], f"entry {entry.seq}"
    return None


class _ChainWalk:
    """The walk along the chain: each entry against the one expected next (its position and
    link) and against its own hash; the heads that ``anchored`` entries claim, collected."""

    def __init__(self, report: Report, v2_from: int, seq: int, prev: str) -> None:
        self.report = report
        self.v2_from = v2_from
        self.seq = seq  # the entry expected next
        self.prev = prev  # the hash it must link to
        self.claims: list[Claim] = []

    def step(self, entry: Any) -> None:
        self._check_link(entry)
        if _altered(entry, self.v2_from):
            self.report.add(
                Kind.CHAIN,
                "altered_entry",
                f"entry {entry.seq} ({entry.action}) was altered: its hash does not match it",
                seq=entry.seq,
                tip=entry.tip_id,
            )
        if entry.action == "anchored":
            self._collect_claim(entry)
        self.seq, self.prev = entry.seq + 1, entry.hash
        self.report.entries += 1

    def check_head(self, head: CustodyHead) -> None:
        last = self.seq - 1
        if head.seq != last or head.hash != self.prev:
            self.report.add(
                Kind.CHAIN,
                "head_mismatch",
                f"the head row (entry {head.seq}, {head.hash[:16]}…) is not the chain's last "
                f"entry (entry {last}, {self.prev[:16]}…)",
                seq=head.seq,
            )

    def _check_link(self, entry: Any) -> None:
        if entry.seq != self.seq:
            self.report.add(
                Kind.CHAIN,
                "missing_entry",
                f"entries {self.seq}–{entry.seq - 1} are missing",
                seq=self.seq,
            )
        elif entry.prev_hash != self.prev:
            self.report.add(
                Kind.CHAIN,
                "broken_link",
                f"entry {entry.seq} does not link to the entry before it",
                seq=entry.seq,
            )

    def _collect_claim(self, entry: Any) -> None:
        claim = _claim(entry)
        if claim is not None:
            self.claims.append(claim)


async def _start(session: AsyncSession, report: Report, since: int) -> str | None:
    """The hash the walk starts from: genesis, or entry ``since``'s (trusted); None (and a
    problem) when that entry is not there."""
    if not since:
        return verifier.GENESIS_HASH
    start = await session.get(CustodyEntry, since)
    if start is None:
        report.add(Kind.CHAIN, "missing_entry", f"entry {since} (--since) is not in the chain")
        return None
    return start.hash


async def check_chain(
    session: AsyncSession, report: Report, *, since: int = 0, progress: Progress = _quiet
) -> list[Claim]:
    """Walk the chain (from ``since``, trusting that entry), naming every altered, missing
    or misplaced entry and a head that does not match; return the heads that ``anchored``
    entries claim were published, as (seq, hash, where)."""
    head = (await session.execute(select(CustodyHead).where(CustodyHead.id == 1))).scalar_one()
    report.head_seq, report.head_hash = head.seq, head.hash
    start = await _start(session, report, since)
    if start is None:
        return []
    walk = _ChainWalk(report, head.v2_from_seq, since + 1, start)
    async for entry in _entries(session, since):
        walk.step(entry)
        if report.entries % PAGE == 0:
            progress("chain", report.entries, head.seq - since)
    walk.check_head(head)
    progress("chain", report.entries, report.entries)
    return walk.claims


async def check_anchors(session: AsyncSession, report: Report, claims: list[Claim]) -> None:
    """Every head ever published must still be in the chain with the published hash: a
    truncated or re-chained log fails here even when it is internally consistent."""
    for head in await _published(session) + claims:
        report.anchors += 1
        _check_anchor(report, head, await session.get(CustodyEntry, head[0]))


def _check_anchor(report: Report, head: Claim, entry: CustodyEntry | None) -> None:
    """A published head against the chain's ``entry`` at its place."""
    seq, digest, where = head
    if entry is not None and entry.hash == digest:
        return
    found = "is missing" if entry is None else f"has hash {entry.hash[:16]}…"
    report.add(
        Kind.CHAIN,
        "anchor_mismatch",
        f"the head published by {where} (entry {seq}, {digest[:16]}…) is not in the "
        f"chain: entry {seq} {found}",
        seq=seq,
    )


async def _published(session: AsyncSession) -> list[Claim]:
    """The heads of the posted anchors."""
    rows = (
        await session.execute(
            select(Anchor.id, Anchor.seq, Anchor.hash).where(Anchor.status == ANCHOR_POSTED)
        )
    ).all()
    return [(seq, digest, f"anchor {anchor_id}") for anchor_id, seq, digest in rows]


# ---------------------------------------------------------------------------- records


async def _tip_page(session: AsyncSession, after: int) -> Sequence[Tip]:
    return (
        (await session.execute(select(Tip).where(Tip.id > after).order_by(Tip.id).limit(PAGE // 2)))
        .scalars()
        .all()
    )


def _tip_pages(session: AsyncSession) -> AsyncIterator[Sequence[Tip]]:
    return _keyset_pages(partial(_tip_page, session), attrgetter("id"))


@dataclass(slots=True)
class _TipRows:
    """What one tip's records are checked against: its record entries (in order), media
    rows and answers and additions; and the SHA-256 of the media rows of its page."""

    entries: list[Any]
    media: list[Media]
    notes: list[TipNote]
    sha_by_media: dict[int, str | None]


@dataclass(slots=True)
class _Page:
    """The rows of a page of tips, grouped by tip."""

    entries: dict[int, list[Any]]
    media: dict[int, list[Media]]
    notes: dict[int, list[TipNote]]
    sha_by_media: dict[int, str | None]

    def of(self, tip_id: int) -> _TipRows:
        return _TipRows(
            self.entries.get(tip_id, []),
            self.media.get(tip_id, []),
            self.notes.get(tip_id, []),
            self.sha_by_media,
        )


class _OfTip(Protocol):
    @property
    def tip_id(self) -> int: ...


_TipRow = TypeVar("_TipRow", bound=_OfTip)


def _by_tip(rows: Iterable[_TipRow]) -> dict[int, list[_TipRow]]:
    grouped: dict[int, list[_TipRow]] = {}
    for row in rows:
        grouped.setdefault(row.tip_id, []).append(row)
    return grouped


async def _load_page(session: AsyncSession, ids: list[int]) -> _Page:
    entries = (
        await session.execute(
            select(CustodyEntry.seq, CustodyEntry.tip_id, CustodyEntry.action, CustodyEntry.details)
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
    notes = (
        await session.execute(
            select(TipNote).where(TipNote.tip_id.in_(ids), TipNote.kind.in_(("answer", "addition")))
        )
    ).scalars()
    sha_by_media = {item.id: item.sha256 for item in media}
    return _Page(_by_tip(entries), _by_tip(media), _by_tip(notes), sha_by_media)


async def check_records(session: AsyncSession, report: Report) -> None:
    """Recompute every record digest from the rows and compare it with its entry."""
    async for tips in _tip_pages(session):
        page = await _load_page(session, [tip.id for tip in tips])
        for tip in tips:
            _check_tip(report, tip, page.of(tip.id))
        session.expunge_all()


def _check_tip(report: Report, tip: Tip, rows: _TipRows) -> None:
    """One tip's media rows against their receipts, and, unless it is a draft or was erased
    on purpose, its testimony and notes against their record digests."""
    report.tips += 1
    _check_media(report, tip, rows.entries, rows.media)
    if tip.status == TIP_DRAFT or _erased(tip, rows.entries):
        return
    submitted = _last_submitted(rows.entries)
    if submitted is None:
        report.add(
            Kind.RECORDS,
            "unrecorded_tip",
            f"tip {tip.reference} is {tip.status} but was never recorded as submitted",
            tip=tip.id,
        )
        return
    _check_testimony(report, tip, submitted, rows.media)
    _check_notes(report, tip, rows)


def _last_submitted(entries: list[Any]) -> Any | None:
    """The tip's last ``submitted`` entry: its testimony's record."""
    return next((row for row in reversed(entries) if row.action == "submitted"), None)


def _erased(tip: Tip, entries: list[Any]) -> bool:
    """Whether the tip's content was erased on purpose (its custody entries stay)."""
    return any(row.action in ERASING_ACTIONS for row in entries) or tip.purged_at is not None


def _check_testimony(report: Report, tip: Tip, submitted: Any, media: list[Media]) -> None:
    """The tip's fields and files against the record digest of its last submitted entry."""
    recorded = submitted.details.get("record")
    if recorded is None or recorded == testimony.testimony_digest(tip, _report_media(media)):
        return
    report.add(
        Kind.RECORDS,
        "tip_altered",
        f"tip {tip.reference} no longer matches what was submitted "
        f"(entry {submitted.seq}): its fields or files were changed",
        seq=submitted.seq,
        tip=tip.id,
    )


def _report_media(media: list[Media]) -> list[Media]:
    """The media rows of the files sent with the report itself."""
    return [item for item in media if item.origin == testimony.REPORT_ORIGIN]


def _check_media(report: Report, tip: Tip, entries: list[Any], media: list[Media]) -> None:
    receipts = _receipts(entries)
    for item in media:
        report.media += 1
        problem = _media_problem(item, receipts.get(item.id))
        if problem is not None:
            code, text, seq = problem
            report.add(
                Kind.RECORDS,
                code,
                f"media row {item.id} of tip {tip.reference}{text}",
                seq=seq,
                tip=tip.id,
                media=item.id,
            )


def _receipts(entries: list[Any]) -> dict[Any, Any]:
    """{media id: its file_received entry}."""
    return {row.details.get("media_id"): row for row in entries if row.action == "file_received"}


def _media_problem(item: Media, receipt: Any) -> tuple[str, str, int | None] | None:
    """(code, the rest of the message, the receipt's seq) when a media row no longer
    matches its file_received receipt."""
    if receipt is None:
        return "unrecorded_media", " has no file_received entry", None
    if receipt.details.get("sha256") != item.sha256:
        text = f": its SHA-256 differs from its receipt (entry {receipt.seq})"
        return "media_altered", text, receipt.seq
    if _points_elsewhere(item):
        return "media_altered", " points at another file", None
    return None


def _points_elsewhere(item: Media) -> bool:
    """Whether a media row's original is stored under another file's content address."""
    key = item.storage_key
    if not key:
        return False
    return not key.endswith(item.sha256 or "-")


def _check_notes(report: Report, tip: Tip, rows: _TipRows) -> None:
    entries = _note_entries(rows.entries)
    for note in rows.notes:
        _check_note(report, tip, note, entries.get(note.id), rows.sha_by_media)


def _note_entries(entries: list[Any]) -> dict[Any, Any]:
    """{note id: entry} of the entries that recorded an answer or an addition."""
    return {
        row.details.get("note"): row
        for row in entries
        if row.action in ("answer_received", "information_added")
    }


def _check_note(
    report: Report, tip: Tip, note: TipNote, row: Any, sha_by_media: dict[int, str | None]
) -> None:
    """An answer or addition (with its file's SHA-256) against its entry's record digest,
    when the entry recorded one."""
    recorded = None if row is None else row.details.get("record")
    if recorded is None:
        return
    sha256 = _note_file_sha256(note, sha_by_media)
    if testimony.note_digest(tip.reference, note, sha256) != recorded:
        report.add(
            Kind.RECORDS,
            "note_altered",
            f"the {note.kind} {note.id} of tip {tip.reference} no longer matches entry {row.seq}",
            seq=row.seq,
            tip=tip.id,
        )


def _note_file_sha256(note: TipNote, sha_by_media: dict[int, str | None]) -> str | None:
    return None if note.media_id is None else sha_by_media.get(note.media_id)


# ---------------------------------------------------------------------------- files


def _originals(store: MediaStore, only: set[str] | None = None) -> Iterator[Path]:
    """Every file under the store's originals/ (none if there is no such folder), or those
    named in ``only``."""
    for directory, _dirs, names in os.walk(store.root / "originals"):
        for name in sorted(names):
            if _in_scope(only, name):
                yield Path(directory) / name


def _in_scope(only: set[str] | None, sha256: str | None) -> bool:
    """Whether a file is to be checked: all are, unless ``only`` names some."""
    return only is None or sha256 in only


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


# An original on its way: its path and, when it is re-hashed, (SHA-256, size) to come.
_Hashing = asyncio.Future[tuple[str, int]]


class _Originals:
    """Originals being checked, settled a batch at a time: each re-hashed one against its
    name (its content address), each one against the media rows that reference it."""

    BATCH = 64

    def __init__(
        self,
        sessions: SessionFactory,
        store: MediaStore,
        report: Report,
        progress: Progress,
        total: int | None,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.report = report
        self.progress = progress
        self.total = total  # bytes to re-hash, None when not re-hashing
        self.done = 0
        self.pending: list[tuple[Path, _Hashing | None]] = []

    async def check(self, paths: Iterable[Path], *, rehash: bool) -> None:
        """Each of ``paths`` (re-hashed, on two threads, if ``rehash``)."""
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify-hash") as pool:
            for path in paths:
                future = loop.run_in_executor(pool, _hash_file, path) if rehash else None
                await self._add(path, future)
            if self.pending:
                await self._settle_batch()

    async def _add(self, path: Path, future: _Hashing | None) -> None:
        self.pending.append((path, future))
        if len(self.pending) >= self.BATCH:
            await self._settle_batch()

    async def _settle_batch(self) -> None:
        async with self.sessions() as session:
            used = await _referenced(session, [path.name for path, _ in self.pending])
        for path, future in self.pending:
            await self._settle(path, future, used)
        self.pending.clear()
        self.progress("files", self.done, self.total)

    async def _settle(self, path: Path, future: _Hashing | None, used: set[str]) -> None:
        relative = str(path.relative_to(self.store.root))
        if future is not None:
            self._compare(relative, path.name, *await future)
        if path.name not in used:
            self.report.add(
                Kind.FILES,
                "stray_file",
                f"{relative} is referenced by no media row (stray or not erased)",
                path=relative,
            )

    def _compare(self, relative: str, name: str, actual: str, size: int) -> None:
        """A re-hashed original against its name."""
        self.report.files += 1
        self.report.bytes += size
        self.done += size
        if actual != name:
            self.report.add(
                Kind.FILES,
                "altered_file",
                f"{relative} was altered: its SHA-256 is now {actual}",
                path=relative,
            )


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
    originals = _Originals(sessions, store, report, progress, total)
    await originals.check(_originals(store, only), rehash=rehash)
    await _check_missing(sessions, store, report, only)


async def _stored_media_page(sessions: SessionFactory, after: int) -> Sequence[Any]:
    """A page of (id, tip id, SHA-256, storage key) of media rows with a stored original,
    read in a session of its own."""
    async with sessions() as session:
        return (
            await session.execute(
                select(Media.id, Media.tip_id, Media.sha256, Media.storage_key)
                .where(Media.id > after, Media.storage_key.is_not(None))
                .order_by(Media.id)
                .limit(PAGE)
            )
        ).all()


async def _check_missing(
    sessions: SessionFactory, store: MediaStore, report: Report, only: set[str] | None
) -> None:
    async for rows in _keyset_pages(partial(_stored_media_page, sessions), itemgetter(0)):
        for row in rows:
            _check_present(store, report, row, only)


def _check_present(store: MediaStore, report: Report, row: Any, only: set[str] | None) -> None:
    """A media row's original is where its storage key says (if it is to be checked)."""
    media_id, tip_id, sha256, key = row
    if _in_scope(only, sha256) and not (store.root / key).is_file():
        report.add(
            Kind.FILES,
            "missing_file",
            f"the original of media row {media_id} ({key}, SHA-256 {sha256}) is missing",
            tip=tip_id,
            media=media_id,
            path=key,
        )


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
    recorded = await _recorded_tokens(session)
    for token, anchor in rows:
        _check_token(report, token, anchor, recorded.get((anchor.id, token.tsa_url)), roots)


async def _recorded_tokens(session: AsyncSession) -> dict[tuple[int, str], str]:
    """{(anchor id, authority): SHA-256 of the token} as the ``timestamped`` entries say."""
    recorded: dict[tuple[int, str], str] = {}
    for (details,) in (
        await session.execute(
            select(CustodyEntry.details).where(CustodyEntry.action == "timestamped")
        )
    ).all():
        anchor_id, url = details.get("anchor"), details.get("tsa")
        if isinstance(anchor_id, int) and isinstance(url, str):
            recorded[(anchor_id, url)] = str(details.get("token_sha256"))
    return recorded


def _check_token(
    report: Report,
    token: TimestampToken,
    anchor: Anchor,
    recorded: str | None,
    roots: TrustRoots,
) -> None:
    """A stored token against the digest its entry ``recorded``, then its signature."""
    where = f"the token of {token.tsa_url} for anchor {anchor.id} (entry {anchor.seq})"
    response = _obtained(report, token, where)
    if response is None:
        return
    if recorded != hashlib.sha256(response).hexdigest():
        report.add(
            Kind.TIMESTAMPS,
            "token_altered",
            f"{where} is not the token its timestamped entry recorded",
            seq=anchor.seq,
        )
        return
    _check_signature(report, where, response, token.certificates or "", anchor, roots)


def _obtained(report: Report, token: TimestampToken, where: str) -> bytes | None:
    """The authority's response, once it was obtained (a warning until then)."""
    if token.status != TIMESTAMP_OK or token.token is None:
        report.warnings.append(f"{where} has not been obtained yet ({token.last_error})")
        return None
    report.tokens += 1
    return token.token


def _check_signature(
    report: Report, where: str, token: bytes, certificates: str, anchor: Anchor, roots: TrustRoots
) -> None:
    from bot.evidence import timestamp

    try:
        timestamp.check_token(token, bytes.fromhex(anchor.hash), certificates, roots)
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
