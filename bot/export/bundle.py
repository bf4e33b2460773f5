"""The court-ready evidence bundle: a BagIt 1.0 bag that an investigator verifies alone.

:func:`write_bundle` writes the chosen tips, their originals byte for byte, the custody chain
from genesis to its head (other tips' entries redacted to their digests), the published
anchors with their RFC 3161 tokens, trusted timestamps over the bag's manifest, a README in
three languages and ``data/verify.py`` (a copy of :mod:`bot.evidence.verifier`): the layout
is in docs/export.md. The bag is built in a private temporary folder beside the target and
moved into place when complete — or zipped (``PATH.zip``) and, with ``encrypt_to``,
encrypted to an age recipient (``PATH.zip.age``), the plain copies then deleted.

Everything streams: tips are read in pages, originals copied in chunks while both manifest
digests are computed, manifest lines written as each file is finished, the chain written
page by page. Memory holds one page, the ids of the exported tips (8 bytes each) and the
paths of contents that several exported tips share (hard-linked, not copied twice).

The bundle is recorded as one ``bundle_exported`` custody entry, appended after the chain
was written into the bag: the bag's chain ends just before its own entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import importlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import zipfile
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import IO, Any, BinaryIO, TypeVar

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import __version__, custody
from bot.evidence import testimony, verifier
from bot.evidence.timestamp import (
    StampedToken,
    TimestampError,
    load_roots,
    openssl_verify_command,
    request_token,
)
from bot.export import bundle_readme
from bot.export.filters import ExportFilters, FilterError, Format, Profile
from bot.export.formats import neutralise
from bot.export.rows import (
    FIELD_DOCS,
    FIELD_TYPES,
    FIELDS,
    count_tips,
    iter_tip_rows,
    redactions,
)
from bot.export.service import export_table, new_export_id
from bot.gazetteer import Gazetteer
from bot.i18n import Catalog, plain
from bot.media import MediaStore
from bot.taxonomy import CATEGORIES, PARTY_CODES, PERPETRATOR_OTHER, PERPETRATOR_UNKNOWN
from db.engine import SessionFactory, transaction
from db.models import (
    ANCHOR_POSTED,
    MEDIA_STORED,
    TIMESTAMP_OK,
    Anchor,
    CustodyEntry,
    Media,
    TimestampToken,
    Tip,
    TipNote,
)

BUNDLE_FORMAT = verifier.BUNDLE_FORMAT
BUNDLE_EXPORTED = "bundle_exported"  # the custody action
CHUNK = 1024 * 1024
TIP_BATCH = 200  # tips whose rows, files and notes are loaded together
CHAIN_PAGE = 1000
TSA_TIMEOUT = 30.0
TSA_ATTEMPTS = 2
TABLES = ((Format.CSV, "tips.csv"), (Format.JSONL, "tips.jsonl"), (Format.GEOJSON, "tips.geojson"))
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
NOTE_KINDS = ("question", "answer", "addition")
# Actors of entries without a tip that a bundle shows in full (the others are redacted):
# the investigator profile hides only reporters and outsiders; the public profile shows
# only the system's and admins' own entries (anchors, timestamps, exports).
_PRIVATE_ACTORS = frozenset({"reporter", "unauthorised"})
_PUBLIC_ACTORS = frozenset({"system", "cli", "admin"})
# Extensions for the types tipbot detects, so file names do not depend on the system's
# MIME database; anything else is .bin (the detected type is in files.csv).
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/tiff": "tif",
    "image/bmp": "bmp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/x-msvideo": "avi",
    "video/3gpp": "3gp",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/x-wav": "wav",
    "audio/wav": "wav",
    "audio/opus": "opus",
    "application/pdf": "pdf",
    "application/zip": "zip",
    "text/plain": "txt",
}
_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
FILES_CSV_COLUMNS = (
    "tip",
    "tip_id",
    "media_id",
    "origin",
    "kind",
    "status",
    "sha256",
    "size",
    "detected_mime",
    "declared_mime",
    "file_name",
    "recompressed",
    "width",
    "height",
    "duration",
    "media_group_id",
    "telegram_date",
    "received_at",
    "path",
    "problem",
)

#: Called with (phase, done, total): phases "tables", "tips", "chain", "timestamps",
#: "archive" and "encrypt"; ``total`` is None when unknown.
BundleProgress = Callable[[str, int, int | None], None]


class BundleError(Exception):
    """A bundle cannot be written; the message is one line for the admin."""


class _Cancelled(Exception):
    """The bundle's task was cancelled while a thread was copying: the thread stops."""


def _stop_if(cancelled: threading.Event) -> None:
    if cancelled.is_set():
        raise _Cancelled


async def _in_thread(cancelled: threading.Event, function: Callable[..., Any], *args: Any) -> Any:
    """Run blocking file work in a thread. If the bundle's task is cancelled meanwhile (an
    admin's export over Telegram's size limit), the thread is told to stop at its next
    chunk and awaited, so that cleaning up never races a thread still writing."""
    work = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        cancelled.set()
        with contextlib.suppress(Exception):
            await work
        raise


class _CancellableReader:
    """A file read by the age encryptor, which stops when the bundle is cancelled."""

    def __init__(self, handle: IO[bytes], cancelled: threading.Event) -> None:
        self._handle = handle
        self._cancelled = cancelled

    def read(self, size: int = -1) -> bytes:
        _stop_if(self._cancelled)
        return self._handle.read(size)


@dataclass(frozen=True, slots=True)
class TimestampOutcome:
    """One authority's answer: ``detail`` is the token's time, or why there is none."""

    tsa_url: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class BundleResult:
    """What was written, where, and its custody entry."""

    export_id: str
    path: Path
    profile: Profile
    tips: int
    files: int
    file_bytes: int
    updates: int
    chain_entries: int
    head_hash: str
    payload_files: int
    payload_bytes: int
    manifest_sha256: str
    sha256: str | None  # of the ZIP or .age file; None for a folder
    encrypted: bool
    timestamps: tuple[TimestampOutcome, ...]
    anchors: int
    problems: tuple[str, ...]  # originals missing from or altered in the store (left out)
    custody_seq: int


# ---------------------------------------------------------------------------- writing files


class _HashingRaw(io.RawIOBase):
    """A write-only, unseekable stream that hashes (SHA-256, SHA-512) what it passes on."""

    def __init__(self, target: IO[bytes], *, sha512: bool = True, owner: bool = False) -> None:
        super().__init__()
        self._target = target
        self._owner = owner  # closing this stream closes the target
        self.sha256 = hashlib.sha256()
        self.sha512 = hashlib.sha512() if sha512 else None
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._target.write(view)
        self.sha256.update(view)
        if self.sha512 is not None:
            self.sha512.update(view)
        self.size += len(view)
        return len(view)

    def close(self) -> None:
        if self._owner and not self.closed:
            self._target.close()
        super().close()


def _encode_manifest_path(path: str) -> str:
    """BagIt 1.0: ``%``, CR and LF in a manifest path are percent-encoded."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _write_text_file(path: Path, text: str) -> None:
    with path.open("x", encoding="utf-8", newline="\n") as out:
        out.write(text)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _json_line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


class _Bag:
    """The bag being built: each payload file is written once, hashed while written, and
    its manifest lines are appended as soon as it is complete."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "data").mkdir()
        self.octets = 0
        self.streams = 0
        self._manifest_raw = _HashingRaw(
            (root / "manifest-sha256.txt").open("xb"), sha512=False, owner=True
        )
        self._sha256 = io.TextIOWrapper(
            io.BufferedWriter(self._manifest_raw), encoding="utf-8", newline="\n"
        )
        self._sha512 = (root / "manifest-sha512.txt").open("x", encoding="utf-8", newline="\n")
        self.manifest_sha256 = ""
        self.cancelled = threading.Event()

    def path(self, relative: str) -> Path:
        return self.root.joinpath(*relative.split("/"))

    def record(self, relative: str, sha256: str, sha512: str, size: int) -> None:
        encoded = _encode_manifest_path(relative)
        self._sha256.write(f"{sha256}  {encoded}\n")
        self._sha512.write(f"{sha512}  {encoded}\n")
        self.octets += size
        self.streams += 1

    @contextlib.contextmanager
    def create(self, relative: str) -> Iterator[BinaryIO]:
        """A new payload file (never overwriting), hashed as written."""
        path = self.path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as handle:
            raw = _HashingRaw(handle)
            out = io.BufferedWriter(raw, buffer_size=CHUNK)
            yield out
            out.flush()
        assert raw.sha512 is not None
        self.record(relative, raw.sha256.hexdigest(), raw.sha512.hexdigest(), raw.size)

    @contextlib.contextmanager
    def create_text(self, relative: str) -> Iterator[IO[str]]:
        with self.create(relative) as binary:
            text = io.TextIOWrapper(binary, encoding="utf-8", newline="\n", write_through=True)
            yield text
            text.flush()
            text.detach()

    def write_text(self, relative: str, content: str) -> None:
        with self.create_text(relative) as out:
            out.write(content)

    def copy_plain(self, source: Path, relative: str) -> None:
        """A payload file copied byte for byte from ``source``."""
        with source.open("rb") as reader, self.create(relative) as out:
            shutil.copyfileobj(reader, out, CHUNK)

    def copy_in(self, source: Path, relative: str, expected_sha256: str) -> tuple[str, int] | None:
        """Copy an original into the bag; None (and nothing left) when its bytes are not
        ``expected_sha256``. Returns (SHA-512, size). Blocking: run it in a thread."""
        path = self.path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        sha256, sha512, size = hashlib.sha256(), hashlib.sha512(), 0
        with source.open("rb") as reader, path.open("xb") as out:
            try:
                while chunk := reader.read(CHUNK):
                    _stop_if(self.cancelled)
                    sha256.update(chunk)
                    sha512.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            except BaseException:
                path.unlink()
                raise
        if sha256.hexdigest() != expected_sha256:
            path.unlink()
            return None
        path.chmod(0o444)  # like the store's originals: not edited by accident
        self.record(relative, expected_sha256, sha512.hexdigest(), size)
        return sha512.hexdigest(), size

    def link(self, existing: str, relative: str, sha256: str, sha512: str, size: int) -> None:
        """The same original under a second tip: a hard link when the file system allows."""
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self.path(existing), target)
        except OSError:
            shutil.copyfile(self.path(existing), target)
            target.chmod(0o444)
        self.record(relative, sha256, sha512, size)

    def close_manifests(self) -> str:
        """Finish both manifests; return the SHA-256 of manifest-sha256.txt."""
        self._sha256.flush()
        self._sha256.close()
        self._sha512.close()
        self.manifest_sha256 = self._manifest_raw.sha256.hexdigest()
        return self.manifest_sha256

    def abort(self) -> None:
        for handle in (self._sha256, self._sha512):
            with contextlib.suppress(Exception):
                handle.close()


def _tag_manifest(root: Path) -> None:
    """tagmanifest-sha256.txt over every file outside data/ (tag files are small)."""
    lines = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_dir() or relative.startswith(("data/", "tagmanifest-")):
            continue
        lines.append(f"{verifier.file_sha256(str(path))}  {_encode_manifest_path(relative)}\n")
    _write_text_file(root / "tagmanifest-sha256.txt", "".join(lines))


# ---------------------------------------------------------------------------- helpers


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def extension_for(mime: str | None) -> str:
    return _EXTENSIONS.get((mime or "").lower(), "bin")


def tip_folder(record: dict[str, Any], profile: Profile) -> str:
    """A tip's folder under data/tips: its reference (investigator) or id (public, where
    references are redacted)."""
    reference = record.get("reference") if profile == Profile.INVESTIGATOR else None
    if isinstance(reference, str) and _SAFE_FOLDER.match(reference):
        return reference
    return str(record["id"])


def _actor_kind(actor: str) -> str:
    return actor.split(":", 1)[0]


def _contains(ids: array[int], value: int) -> bool:
    at = bisect_left(ids, value)
    return at < len(ids) and ids[at] == value


def age_module() -> ModuleType:
    """pyrage, typed loosely (it ships no type information)."""
    return importlib.import_module("pyrage")


def parse_recipient(text: str) -> Any:
    """An age recipient (``age1...``, or an SSH public key); BundleError when invalid."""
    age = age_module()
    value = text.strip()
    try:
        if value.startswith("age1"):
            return age.x25519.Recipient.from_str(value)
        if value.startswith(("ssh-ed25519 ", "ssh-rsa ")):
            return age.ssh.Recipient.from_str(value)
    except Exception as exc:  # pyrage raises its own RecipientError and ValueError
        raise BundleError(f"--encrypt-to: not a valid age recipient ({exc})") from None
    raise BundleError("--encrypt-to: not an age recipient (age1..., or an ssh-ed25519 key)")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return neutralise(str(value))


def _json_safe(value: Any) -> Any:
    """File metadata as read from files: JSON-encodable as it is, or as text."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


# ---------------------------------------------------------------------------- the writer


@dataclass
class _Counts:
    tips: int = 0
    files: int = 0
    file_bytes: int = 0
    updates: int = 0
    chain_entries: int = 0
    redacted_entries: int = 0
    problems: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Shared:
    relative: str
    sha512: str
    size: int


_Row = TypeVar("_Row", Media, TipNote)


@dataclass(slots=True)
class _Batch:
    """A batch of tips with their files and notes (by tip id), read in one transaction, and
    the contents that more than one file has (copied once, linked for the others)."""

    tips: dict[int, Tip]
    media: dict[int, list[Media]]
    notes: dict[int, list[TipNote]]
    shared: set[str] = field(default_factory=set)


def _by_tip(ids: list[int], rows: Iterable[_Row]) -> dict[int, list[_Row]]:
    grouped: dict[int, list[_Row]] = {tip_id: [] for tip_id in ids}
    for row in rows:
        grouped[row.tip_id].append(row)
    return grouped


async def _shared_contents(session: AsyncSession, media: dict[int, list[Media]]) -> set[str]:
    """The SHA-256 of every content among ``media`` that more than one media row has."""
    shas = sorted({m.sha256 for rows in media.values() for m in rows if m.sha256})
    if not shas:
        return set()
    found = await session.execute(
        select(Media.sha256)
        .where(Media.sha256.in_(shas))
        .group_by(Media.sha256)
        .having(func.count(Media.id) > 1)
    )
    return {sha256 for sha256 in found.scalars() if sha256}


def _not_stored(item: Media) -> str | None:
    """Why a file has no original to put in the bundle, or None when it has one."""
    if item.status != MEDIA_STORED:
        return f"not stored ({item.failure_reason or item.status})"
    if not item.sha256 or not item.storage_key:
        return "no original kept (erased or purged)"
    return None


# What tip.json takes from the record besides its own fields: not the testimony (it has
# its own section), the id and reference (already there), nor what updates.jsonl and
# files.csv hold.
_NOT_IN_TIP = frozenset(
    {"id", "reference", "questions", "answers", "additions", "media_sha256"}
    | set(verifier.TESTIMONY_FIELDS)
)


def _update_line(note: TipNote, files: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """One line of updates.jsonl: a question, an answer or an addition, with its file."""
    attached = files.get(note.media_id) if note.media_id is not None else None
    update: dict[str, Any] = {
        "note_id": note.id,
        "kind": note.kind,
        "time": _iso(note.created_at),
        "text": note.text,
        "media_id": note.media_id,
        "file_sha256": attached["sha256"] if attached else None,
        "file_path": attached["path"] if attached else None,
    }
    if note.kind == "question":
        update["moderator"] = note.moderator_name
    return update


class _BundleWriter:
    def __init__(
        self,
        sessions: SessionFactory,
        store: MediaStore,
        bag: _Bag,
        *,
        profile: Profile,
        filters: ExportFilters,
        include_file_metadata: bool,
        progress: BundleProgress,
        gazetteer: Gazetteer | None = None,
    ) -> None:
        self.gazetteer = gazetteer
        self.sessions = sessions
        self.store = store
        self.bag = bag
        self.profile = profile
        self.filters = filters
        self.include_file_metadata = include_file_metadata
        self.progress = progress
        self.counts = _Counts()
        self.exported: array[int] = array("q")
        self.shared: dict[str, _Shared] = {}
        self.head_seq = 0
        self.head_hash = verifier.GENESIS_HASH

    # -- tables

    async def write_tables(self) -> None:
        for fmt, name in TABLES:
            self.progress("tables", len(self.counts.tables), len(TABLES))
            with self.bag.create(f"data/{name}") as out:
                result = await export_table(
                    self.sessions,
                    fmt=fmt,
                    profile=self.profile,
                    filters=self.filters,
                    out=out,
                    actor=custody.SYSTEM,
                    record=False,
                    gazetteer=self.gazetteer,
                )
            self.counts.tables[name] = {
                "rows": result.rows,
                "left_out": result.skipped,
                "sha256": result.sha256,
            }
        self.progress("tables", len(TABLES), len(TABLES))

    # -- tips, their files and updates

    async def write_tips(self, total: int | None) -> None:
        with self.bag.create_text("data/files.csv") as files_csv:
            writer = csv.writer(files_csv, lineterminator="\n")
            columns = list(FILES_CSV_COLUMNS)
            if self.include_file_metadata:
                columns.append("metadata")
            writer.writerow(columns)
            batch: list[dict[str, Any]] = []
            async for record in iter_tip_rows(
                self.sessions, self.filters, self.profile, gazetteer=self.gazetteer
            ):
                batch.append(record)
                if len(batch) >= TIP_BATCH:
                    await self._write_batch(batch, writer)
                    batch = []
                    self.progress("tips", self.counts.tips, total)
            if batch:
                await self._write_batch(batch, writer)
        self.progress("tips", self.counts.tips, total)

    async def _write_batch(self, records: list[dict[str, Any]], files_csv: Any) -> None:
        if self.profile == Profile.PUBLIC:
            for record in records:
                self._write_public_tip(record)
            return
        batch = await self._load_batch([int(record["id"]) for record in records])
        for record in records:
            tip = batch.tips.get(int(record["id"]))
            if tip is None:  # deleted between the two reads (a draft cannot be exported)
                continue
            await self._write_tip(
                record, tip, batch.media[tip.id], batch.notes[tip.id], batch.shared, files_csv
            )

    async def _load_batch(self, ids: list[int]) -> _Batch:
        async with transaction(self.sessions) as session:
            tips = await session.execute(select(Tip).where(Tip.id.in_(ids)))
            media = await session.execute(
                select(Media).where(Media.tip_id.in_(ids)).order_by(Media.tip_id, Media.id)
            )
            notes = await session.execute(
                select(TipNote)
                .where(TipNote.tip_id.in_(ids), TipNote.kind.in_(NOTE_KINDS))
                .order_by(TipNote.tip_id, TipNote.id)
            )
            batch = _Batch(
                {tip.id: tip for tip in tips.scalars()},
                _by_tip(ids, media.scalars()),
                _by_tip(ids, notes.scalars()),
            )
            batch.shared = await _shared_contents(session, batch.media)
        return batch

    def _write_public_tip(self, record: dict[str, Any]) -> None:
        folder = f"data/tips/{tip_folder(record, self.profile)}"
        document = {
            "bundle_format": BUNDLE_FORMAT,
            "tip_id": record["id"],
            "profile": self.profile.value,
            "testimony": {
                name: record[name] for name in verifier.TESTIMONY_FIELDS if name in record
            },
            **{k: v for k, v in record.items() if k not in verifier.TESTIMONY_FIELDS},
        }
        del document["id"]
        self.bag.write_text(f"{folder}/tip.json", _json_text(document))
        self.counts.tips += 1

    async def _write_tip(
        self,
        record: dict[str, Any],
        tip: Tip,
        media: list[Media],
        notes: list[TipNote],
        shared: set[str],
        files_csv: Any,
    ) -> None:
        reference = tip_folder(record, self.profile)
        folder = f"data/tips/{reference}"
        placed: dict[str, str] = {}  # SHA-256 → path, within this tip
        by_id: dict[int, dict[str, Any]] = {}
        for item in media:
            entry = await self._place_file(folder, reference, item, shared, placed)
            by_id[item.id] = entry
            files_csv.writerow([_cell(value) for value in self._files_row(reference, item, entry)])
        document = self._tip_document(record, tip, list(by_id.values()))
        self.bag.write_text(f"{folder}/tip.json", _json_text(document))
        if notes:
            with self.bag.create_text(f"{folder}/updates.jsonl") as out:
                out.write("".join(_json_line(_update_line(note, by_id)) for note in notes))
            self.counts.updates += len(notes)
        self.exported.append(tip.id)
        self.counts.tips += 1

    def _files_row(self, reference: str, item: Media, entry: dict[str, Any]) -> list[Any]:
        """One line of data/files.csv (:data:`FILES_CSV_COLUMNS`, then the metadata)."""
        row = [
            reference,
            item.tip_id,
            item.id,
            item.origin,
            item.kind,
            item.status,
            item.sha256,
            item.size,
            item.detected_mime,
            item.declared_mime,
            item.file_name,
            item.recompressed,
            item.width,
            item.height,
            item.duration,
            item.media_group_id,
            _iso(item.telegram_date),
            _iso(item.received_at),
            entry["path"],
            entry.get("problem"),
        ]
        if self.include_file_metadata:
            metadata = entry.get("metadata")
            row.append(json.dumps(metadata, ensure_ascii=False) if metadata else None)
        return row

    def _tip_document(
        self, record: dict[str, Any], tip: Tip, files: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """tip.json: the testimony as stored (what its custody digest covers), the files,
        then the record's other fields."""
        document: dict[str, Any] = {
            "bundle_format": BUNDLE_FORMAT,
            "tip_id": tip.id,
            "reference": tip.reference,
            "profile": self.profile.value,
            "testimony": testimony.tip_fields(tip),
            "files": files,
        }
        document.update({key: value for key, value in record.items() if key not in _NOT_IN_TIP})
        document["urgent"] = tip.urgent
        document["include_file_metadata"] = self.include_file_metadata
        return document

    async def _place_file(
        self,
        folder: str,
        reference: str,
        item: Media,
        shared: set[str],
        placed: dict[str, str],
    ) -> dict[str, Any]:
        entry = self._file_entry(item)
        problem = _not_stored(item)
        if problem is not None:
            entry["problem"] = problem
            return entry
        sha256 = str(item.sha256)
        if sha256 not in placed:  # the same content sent twice to one tip is placed once
            relative = f"{folder}/files/{sha256}.{extension_for(item.detected_mime)}"
            problem = await self._put_original(item, relative, sha256 in shared)
            if problem is not None:
                entry["problem"] = f"{problem}: left out"
                self.counts.problems.append(
                    f"tip {reference}, media {item.id} ({sha256}): original {problem}; left out"
                )
                return entry
            placed[sha256] = relative
            self.counts.files += 1
        entry["path"] = placed[sha256]
        return entry

    def _file_entry(self, item: Media) -> dict[str, Any]:
        """A file as tip.json lists it (``path`` and ``problem`` are filled in later)."""
        entry: dict[str, Any] = {
            "media_id": item.id,
            "origin": item.origin,
            "kind": item.kind,
            "status": item.status,
            "sha256": item.sha256,
            "size": item.size,
            "detected_mime": item.detected_mime,
            "declared_mime": item.declared_mime,
            "file_name": item.file_name,
            "recompressed": item.recompressed,
            "width": item.width,
            "height": item.height,
            "duration": item.duration,
            "media_group_id": item.media_group_id,
            "caption": item.caption,
            "forward_origin": item.forward_origin,
            "telegram_date": _iso(item.telegram_date),
            "received_at": _iso(item.received_at),
            "path": None,
        }
        if self.include_file_metadata:
            entry["metadata"] = _json_safe(item.file_metadata)
        return entry

    async def _put_original(self, item: Media, relative: str, shared: bool) -> str | None:
        """Put the original at ``relative``: linked to a copy made for another tip, else
        copied from the store and hashed; why it was left out, or None."""
        sha256 = str(item.sha256)
        known = self.shared.get(sha256)
        if known is not None:
            await _in_thread(
                self.bag.cancelled,
                self.bag.link,
                known.relative,
                relative,
                sha256,
                known.sha512,
                known.size,
            )
            self.counts.file_bytes += known.size
            return None
        copied, problem = await self._copy_original(item, relative)
        if copied is None:
            return problem
        sha512, size = copied
        if shared:
            self.shared[sha256] = _Shared(relative, sha512, size)
        self.counts.file_bytes += size
        return None

    async def _copy_original(
        self, item: Media, relative: str
    ) -> tuple[tuple[str, int] | None, str]:
        """The copy's SHA-512 and size (None when left out), and what a failure means. Only
        a missing original is left out; any other error (a full disk) stops the bundle."""
        try:
            source = self.store.path_for(str(item.storage_key))
            copied = await _in_thread(
                self.bag.cancelled, self.bag.copy_in, source, relative, str(item.sha256)
            )
        except (FileNotFoundError, ValueError):
            return None, "missing from the store"
        return copied, "altered in the store (its SHA-256 differs from the receipt)"

    # -- the chain

    async def write_chain(self) -> None:
        async with self.sessions() as session:
            self.head_seq, self.head_hash = await custody.head(session)
        last = 0
        with self.bag.create_text("data/custody/chain.jsonl") as out:
            while last < self.head_seq:
                async with self.sessions() as session:
                    entries = list(
                        (
                            await session.execute(
                                select(CustodyEntry)
                                .where(CustodyEntry.seq > last, CustodyEntry.seq <= self.head_seq)
                                .order_by(CustodyEntry.seq)
                                .limit(CHAIN_PAGE)
                            )
                        ).scalars()
                    )
                if not entries:
                    break  # a gap at the end: the bag's verify.py names it
                lines = []
                for entry in entries:
                    redact = not self._in_full(entry)
                    self.counts.redacted_entries += redact
                    lines.append(_json_line(custody.as_document(entry, redact=redact)))
                out.write("".join(lines))
                last = entries[-1].seq
                self.counts.chain_entries += len(entries)
                self.progress("chain", last, self.head_seq)

    def _in_full(self, entry: CustodyEntry) -> bool:
        kind = _actor_kind(entry.actor)
        if entry.tip_id is None:
            if self.profile == Profile.PUBLIC:
                return kind in _PUBLIC_ACTORS
            return kind not in _PRIVATE_ACTORS
        return self.profile == Profile.INVESTIGATOR and _contains(self.exported, entry.tip_id)

    # -- anchors and timestamps (tag files)

    async def write_anchors(self) -> int:
        """timestamps/anchors.jsonl and each anchor's stored tokens; returns how many."""
        async with self.sessions() as session:
            anchors = list(
                (
                    await session.execute(
                        select(Anchor)
                        .where(Anchor.status == ANCHOR_POSTED, Anchor.seq <= self.head_seq)
                        .order_by(Anchor.seq, Anchor.id)
                    )
                ).scalars()
            )
            tokens = await _anchor_tokens(session, [anchor.id for anchor in anchors])
        folder = self.bag.root / "timestamps"
        folder.mkdir(exist_ok=True)
        lines = [_json_line(self._anchor_line(anchor, tokens[anchor.id])) for anchor in anchors]
        _write_text_file(folder / "anchors.jsonl", "".join(lines))
        return len(anchors)

    def _anchor_line(self, anchor: Anchor, tokens: list[TimestampToken]) -> dict[str, Any]:
        """An anchor as anchors.jsonl lists it, its tokens written beside it."""
        listed = []
        for number, token in enumerate(tokens, start=1):
            if token.token is None:
                continue
            name = f"timestamps/anchor-{anchor.id}-{number}"
            self.bag.path(f"{name}.tsr").write_bytes(token.token)
            _write_text_file(self.bag.path(f"{name}.pem"), token.certificates or "")
            listed.append(
                _token_line(name, token.tsa_url, token.gen_time, None, anchor.hash, "anchored head")
            )
        return {
            "anchor_id": anchor.id,
            "seq": anchor.seq,
            "hash": anchor.hash,
            "chat_id": anchor.chat_id,
            "message_id": anchor.message_id,
            "message_date": _iso(anchor.message_date),
            "tokens": listed,
        }


async def _anchor_tokens(
    session: AsyncSession, anchor_ids: list[int]
) -> dict[int, list[TimestampToken]]:
    """The verified tokens of each anchor, in the order they were stored."""
    tokens: dict[int, list[TimestampToken]] = {anchor_id: [] for anchor_id in anchor_ids}
    if not anchor_ids:
        return tokens
    found = await session.execute(
        select(TimestampToken)
        .where(TimestampToken.anchor_id.in_(anchor_ids), TimestampToken.status == TIMESTAMP_OK)
        .order_by(TimestampToken.anchor_id, TimestampToken.id)
    )
    for token in found.scalars():
        tokens[token.anchor_id].append(token)
    return tokens


def _token_line(
    name: str,
    tsa_url: str,
    gen_time: datetime | None,
    serial: int | None,
    digest: str,
    covers: str,
) -> dict[str, Any]:
    return {
        "file": f"{name}.tsr",
        "chain": f"{name}.pem",
        "tsa_url": tsa_url,
        "gen_time": _iso(gen_time),
        "serial": None if serial is None else str(serial),
        "digest": digest,
        "covers": covers,
        "verify": openssl_verify_command(digest, f"{name}.tsr", f"{name}.pem", at=gen_time),
    }


async def _stamp_one(
    client: httpx.AsyncClient, url: str, digest: bytes, roots: Any
) -> StampedToken | TimestampError:
    for attempt in range(TSA_ATTEMPTS):
        try:
            return await request_token(client, url, digest, roots, timeout=TSA_TIMEOUT)
        except TimestampError as exc:
            if not exc.retryable or attempt + 1 == TSA_ATTEMPTS:
                return exc
        except httpx.HTTPError as exc:
            return TimestampError("unreachable", type(exc).__name__)
        await asyncio.sleep(1.0)
    raise AssertionError("unreachable")  # pragma: no cover


async def _timestamp_manifest(
    bag: _Bag, urls: Iterable[str], ca_file: Path | None, progress: BundleProgress
) -> list[TimestampOutcome]:
    """Tokens over manifest-sha256.txt from every authority; a failure is reported, never
    fatal. Appends to timestamps/tokens.jsonl."""
    urls = list(dict.fromkeys(urls))
    (bag.root / "timestamps").mkdir(exist_ok=True)
    answers = await _ask_authorities(urls, bytes.fromhex(bag.manifest_sha256), ca_file, progress)
    outcomes: list[TimestampOutcome] = []
    lines: list[str] = []
    for number, (url, answer) in enumerate(zip(urls, answers, strict=True), start=1):
        outcome, line = _keep_answer(bag, number, url, answer)
        outcomes.append(outcome)
        lines.append(_json_line(line))
    _write_text_file(bag.root / "timestamps" / "tokens.jsonl", "".join(lines))
    progress("timestamps", len(urls), len(urls))
    return outcomes


async def _ask_authorities(
    urls: list[str], digest: bytes, ca_file: Path | None, progress: BundleProgress
) -> list[StampedToken | TimestampError]:
    """Each authority's answer (a token or why there is none), asked all at once."""
    if not urls:
        return []
    try:
        roots = load_roots(ca_file)
    except ValueError as exc:
        return [TimestampError("no_trust_roots", str(exc)) for _ in urls]
    progress("timestamps", 0, len(urls))
    async with httpx.AsyncClient(follow_redirects=False) as client:
        return list(await asyncio.gather(*(_stamp_one(client, u, digest, roots) for u in urls)))


def _keep_answer(
    bag: _Bag, number: int, url: str, answer: StampedToken | TimestampError
) -> tuple[TimestampOutcome, dict[str, Any]]:
    """Write a token beside the manifest; the outcome and its tokens.jsonl line."""
    if isinstance(answer, TimestampError):
        return TimestampOutcome(url, False, str(answer)), {"tsa_url": url, "error": str(answer)}
    name = f"timestamps/manifest-{number}"
    bag.path(f"{name}.tsr").write_bytes(answer.response)
    _write_text_file(bag.path(f"{name}.pem"), answer.certificates_pem)
    line = _token_line(
        name, url, answer.gen_time, answer.serial, bag.manifest_sha256, "manifest-sha256.txt"
    )
    return TimestampOutcome(url, True, answer.gen_time.isoformat()), line


# ---------------------------------------------------------------------------- documents


def schema_document(profile: Profile) -> dict[str, Any]:
    """data/schema.json: what every field of the tables, tip.json, updates.jsonl, files.csv
    and chain.jsonl means; the categories with their Rome Statute references."""
    catalog = Catalog.load()
    return {
        "bundle_format": BUNDLE_FORMAT,
        "profile": profile.value,
        "tables": {
            "files": ["tips.csv", "tips.jsonl", "tips.geojson"],
            "fields": [
                {"name": name, "type": FIELD_TYPES[name], "description": FIELD_DOCS[name]}
                for name in FIELDS[profile]
            ],
        },
        "tip_json": bundle_readme.TIP_JSON_FIELDS,
        "testimony_fields": list(verifier.TESTIMONY_FIELDS),
        "file_fields": bundle_readme.FILE_FIELDS,
        "updates_jsonl": bundle_readme.UPDATE_FIELDS,
        "chain_jsonl": bundle_readme.CHAIN_FIELDS,
        "categories": [
            {
                "code": category.code,
                "label": _labels(catalog, f"category-{category.code}"),
                "rome_statute": category.rome_statute or None,
            }
            for category in CATEGORIES
        ],
        "perpetrators": [
            {
                "code": code,
                "label": _labels(catalog, f"party-{code}"),
            }
            for code in (PERPETRATOR_UNKNOWN, *PARTY_CODES, PERPETRATOR_OTHER)
        ],
    }


def _labels(catalog: Catalog, key: str) -> dict[str, str]:
    """A message in each language, as plain text."""
    return {lang: plain(catalog.t(lang, key)) for lang in ("en", "uk", "ru")}


def _bag_info(org: str, export_id: str, profile: Profile, bag: _Bag, now: datetime) -> str:
    def one_line(text: str) -> str:
        return " ".join(text.split())

    return (
        f"Source-Organization: {one_line(org)}\n"
        f"External-Identifier: {export_id}\n"
        f"External-Description: tipbot evidence bundle, {profile.value} profile; "
        "see data/README.txt\n"
        f"Bagging-Date: {now.date().isoformat()}\n"
        f"Payload-Oxum: {bag.octets}.{bag.streams}\n"
        f"Bag-Software-Agent: tipbot {__version__}\n"
    )


# ---------------------------------------------------------------------------- archives


def _zip_bag(root: Path, target: IO[bytes], top: str, cancelled: threading.Event) -> None:
    """Write the bag as a ZIP under one top-level folder (originals stored, text deflated),
    streaming each file; the target is written strictly in order (no seeking)."""
    with zipfile.ZipFile(target, "w", allowZip64=True) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_dir():
                continue
            relative = path.relative_to(root).as_posix()
            info = zipfile.ZipInfo.from_file(path, f"{top}/{relative}")
            info.compress_type = _compression(relative)
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as out:
                while chunk := source.read(CHUNK):
                    _stop_if(cancelled)
                    out.write(chunk)


def _compression(relative: str) -> int:
    """Originals are stored as they are (media do not compress); text is deflated."""
    original = "/files/" in relative and relative.startswith("data/tips/")
    return zipfile.ZIP_STORED if original else zipfile.ZIP_DEFLATED


def _write_archive(
    bag: _Bag,
    partial: Path,
    recipient: Any | None,
    partial_age: Path,
    progress: BundleProgress,
) -> str:
    """Zip the bag to ``partial`` (and, with a recipient, encrypt it to ``partial_age``);
    return the SHA-256 of the final file. Blocking: run in a thread. A partial file is
    removed here when anything fails, so nothing is left after a cancellation."""
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            raw = _HashingRaw(handle, sha512=False)
            buffered = io.BufferedWriter(raw, buffer_size=CHUNK)
            _zip_bag(bag.root, buffered, bag.root.name, bag.cancelled)
            buffered.flush()
        if recipient is None:
            return raw.sha256.hexdigest()
        progress("encrypt", 0, None)
        descriptor = os.open(partial_age, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with partial.open("rb") as reader, os.fdopen(descriptor, "wb") as handle:
            raw = _HashingRaw(handle, sha512=False)
            buffered = io.BufferedWriter(raw, buffer_size=CHUNK)
            source = _CancellableReader(reader, bag.cancelled)
            age_module().encrypt_io(source, buffered, [recipient])
            buffered.flush()
        return raw.sha256.hexdigest()
    except BaseException:
        _unlink_all((partial, partial_age))
        raise


def _refuse_existing(path: Path) -> None:
    if path.exists() or path.is_symlink():
        raise BundleError(f"--out: {path} already exists (a bundle never overwrites)")


def _move_into_place(folder: Path, final: Path) -> None:
    _refuse_existing(final)
    folder.rename(final)


def _remove_tree(path: Path) -> None:
    """Delete a bag folder, read-only originals included."""

    def retry(function: Callable[..., Any], name: str, _info: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), stat.S_IRWXU)
            os.chmod(name, stat.S_IRWXU)
            function(name)

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=retry)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# ---------------------------------------------------------------------------- the bundle


@dataclass(frozen=True, slots=True)
class _Target:
    """Where the bundle goes: a folder, a ZIP, or an encrypted ZIP (``.zip.age``)."""

    final: Path
    archive: bool
    recipient: Any | None

    @property
    def name(self) -> str:
        return self.final.name


def plan_target(out: Path, encrypt_to: str | None) -> _Target:
    """Check ``--out`` and ``--encrypt-to`` before any work; BundleError says what is wrong."""
    archive = out.name.lower().endswith(".zip")
    if encrypt_to is not None and not archive:
        raise BundleError("--encrypt-to needs --out ending in .zip (the ZIP is what is encrypted)")
    recipient = parse_recipient(encrypt_to) if encrypt_to is not None else None
    final = out.with_name(out.name + ".age") if recipient is not None else out
    if not out.parent.is_dir():
        raise BundleError(f"--out: the folder {out.parent} does not exist")
    for path in {out, final}:
        _refuse_existing(path)
    return _Target(final, archive, recipient)


def _effective_filters(filters: ExportFilters, cutoff: datetime) -> ExportFilters:
    """The filters with submissions after the bundle started left out, so that the tables,
    the folders and the chain describe the same tips."""
    if filters.until is not None and filters.until <= cutoff:
        return filters
    try:
        return replace(filters, until=cutoff)
    except FilterError:  # --since after now: nothing to export either way
        return filters


def _quiet(_phase: str, _done: int, _total: int | None) -> None:
    return None


@dataclass(frozen=True, slots=True)
class _Plan:
    """One bundle's facts, fixed before any work: where it goes, when it started, what
    was asked, and the scratch folder and partial files it works in."""

    out: Path
    target: _Target
    export_id: str
    started: datetime
    profile: Profile
    filters: ExportFilters  # as asked (recorded)
    effective: ExportFilters  # what is exported (:func:`_effective_filters`)
    org_name: str
    actor: str
    include_file_metadata: bool
    work: Path

    @property
    def root(self) -> Path:
        """The bag: a folder named like the ZIP inside the scratch folder, or the scratch
        folder itself (moved into place when done)."""
        out = self.out
        return self.work / out.name.removesuffix(out.suffix) if self.target.archive else self.work

    @property
    def partials(self) -> tuple[Path, Path]:
        """The ZIP and its encryption while they are written."""
        name, export_id = self.out.name, self.export_id
        return (
            self.out.with_name(f".{name}.{export_id}.partial"),
            self.out.with_name(f".{name}.age.{export_id}.partial"),
        )

    @property
    def container(self) -> str:
        if self.target.recipient is not None:
            return "zip+age"
        return "zip" if self.target.archive else "folder"


async def write_bundle(
    sessions: SessionFactory,
    store: MediaStore,
    *,
    out: Path,
    profile: Profile,
    filters: ExportFilters,
    actor: str,
    org_name: str,
    tsa_urls: Iterable[str] = (),
    tsa_ca_file: Path | None = None,
    include_file_metadata: bool = False,
    encrypt_to: str | None = None,
    progress: BundleProgress | None = None,
    gazetteer: Gazetteer | None = None,
) -> BundleResult:
    """Write the evidence bundle to ``out`` and record its ``bundle_exported`` entry.

    ``gazetteer``: the caller's loaded place index (the bot has one), else the packaged one.

    ``out`` ending in ``.zip`` makes a ZIP (``encrypt_to``: then ``out.age``, encrypted to
    that age recipient); otherwise a folder. ``out`` must not exist. Raises
    :class:`BundleError` with a one-line reason; nothing is left behind on failure.
    """
    report = progress or _quiet
    target = plan_target(out, encrypt_to)
    export_id = new_export_id()
    started = datetime.now(UTC)
    plan = _Plan(
        out,
        target,
        export_id,
        started,
        profile,
        filters,
        _effective_filters(filters, started),
        org_name,
        actor,
        include_file_metadata,
        Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)),
    )
    bag: _Bag | None = None
    moved = recorded = False
    try:
        plan.root.mkdir(exist_ok=True)
        bag = _Bag(plan.root)
        writer = _BundleWriter(
            sessions,
            store,
            bag,
            profile=profile,
            filters=plan.effective,
            include_file_metadata=include_file_metadata,
            progress=report,
            gazetteer=gazetteer,
        )
        total = (
            await count_tips(sessions, plan.effective, profile) if progress is not None else None
        )
        manifest_sha256 = await _fill_bag(plan, writer, total)
        anchors = await writer.write_anchors()
        stamps = await _timestamp_manifest(bag, tsa_urls, tsa_ca_file, report)
        _tag_manifest(plan.root)
        final_sha256 = await _put_in_place(plan, bag, report)
        moved = True
        details = _bundle_details(plan, writer, manifest_sha256, final_sha256, stamps)
        async with transaction(sessions) as session:
            entry = await custody.append(
                session, actor=actor, action=BUNDLE_EXPORTED, details=details
            )
        recorded = True
        return BundleResult(
            export_id=export_id,
            path=target.final,
            profile=profile,
            tips=writer.counts.tips,
            files=writer.counts.files,
            file_bytes=writer.counts.file_bytes,
            updates=writer.counts.updates,
            chain_entries=writer.counts.chain_entries,
            head_hash=writer.head_hash,
            payload_files=bag.streams,
            payload_bytes=bag.octets,
            manifest_sha256=manifest_sha256,
            sha256=final_sha256,
            encrypted=target.recipient is not None,
            timestamps=tuple(stamps),
            anchors=anchors,
            problems=tuple(writer.counts.problems),
            custody_seq=entry.seq,
        )
    finally:
        _clean_up(plan, bag, moved=moved, recorded=recorded)


async def _fill_bag(plan: _Plan, writer: _BundleWriter, total: int | None) -> str:
    """The payload (tables, tips and originals, chain, verifier, schema, README,
    export.json) and the bag's own files; returns the SHA-256 of manifest-sha256.txt."""
    bag, profile, counts = writer.bag, plan.profile, writer.counts
    await writer.write_tables()
    await writer.write_tips(total)
    await writer.write_chain()
    bag.copy_plain(Path(verifier.__file__), "data/verify.py")
    bag.write_text("data/schema.json", _json_text(schema_document(profile)))
    bag.write_text(
        "data/README.txt",
        bundle_readme.render(
            org=plan.org_name,
            export_id=plan.export_id,
            created=plan.started,
            profile=profile.value,
            tips=counts.tips,
            files=counts.files,
            head_seq=writer.head_seq,
            head_hash=writer.head_hash,
            include_file_metadata=plan.include_file_metadata,
            field_names=FIELDS[profile],
        ),
    )
    bag.write_text("data/export.json", _json_text(_export_document(plan, writer)))
    manifest_sha256 = bag.close_manifests()
    _write_text_file(plan.root / "bagit.txt", BAGIT_TXT)
    _write_text_file(
        plan.root / "bag-info.txt",
        _bag_info(plan.org_name, plan.export_id, profile, bag, plan.started),
    )
    return manifest_sha256


def _export_document(plan: _Plan, writer: _BundleWriter) -> dict[str, Any]:
    """data/export.json: what was exported, by whom, when, and what it holds."""
    counts = writer.counts
    return {
        "bundle_format": BUNDLE_FORMAT,
        "export_id": plan.export_id,
        "created_at": plan.started.isoformat(),
        "tipbot_version": __version__,
        "organisation": plan.org_name,
        "actor": plan.actor,
        "profile": plan.profile.value,
        "filters": plan.filters.for_profile(plan.profile).as_details(),
        "submitted_before": plan.started.isoformat(),
        "redactions": redactions(plan.profile),
        "include_file_metadata": plan.include_file_metadata,
        "counts": {
            "tips": counts.tips,
            "files": counts.files,
            "file_bytes": counts.file_bytes,
            "updates": counts.updates,
            "chain_entries": counts.chain_entries,
            "chain_entries_redacted": counts.redacted_entries,
            "tables": counts.tables,
        },
        "chain_head": {"seq": writer.head_seq, "hash": writer.head_hash},
        "problems": counts.problems,
        "custody_note": (
            "This bundle is recorded in the custody log as a bundle_exported entry "
            f"appended after entry {writer.head_seq}, the last entry in "
            "data/custody/chain.jsonl: the bag's chain ends just before its own record."
        ),
    }


async def _put_in_place(plan: _Plan, bag: _Bag, report: BundleProgress) -> str | None:
    """Move the bag folder to ``--out``, or zip it (and encrypt it) there; the SHA-256 of
    the ZIP (or of its encryption), None for a folder."""
    target = plan.target
    if not target.archive:
        _move_into_place(plan.work, target.final)
        return None
    report("archive", 0, None)
    partial, partial_age = plan.partials
    final_sha256: str = await _in_thread(
        bag.cancelled, _write_archive, bag, partial, target.recipient, partial_age, report
    )
    finished = partial_age if target.recipient is not None else partial
    os.link(finished, target.final)  # never replaces a file that appeared meanwhile
    report("archive", 1, 1)
    return final_sha256


def _bundle_details(
    plan: _Plan,
    writer: _BundleWriter,
    manifest_sha256: str,
    final_sha256: str | None,
    stamps: list[TimestampOutcome],
) -> dict[str, custody.JsonValue]:
    """The ``bundle_exported`` custody entry's details."""
    counts, bag = writer.counts, writer.bag
    return {
        "export_id": plan.export_id,
        "profile": plan.profile.value,
        "filters": plan.filters.for_profile(plan.profile).as_details(),
        "submitted_before": plan.started.isoformat(),
        "redactions": list(redactions(plan.profile)),
        "counts": {
            "tips": counts.tips,
            "files": counts.files,
            "file_bytes": counts.file_bytes,
            "updates": counts.updates,
            "chain_entries": counts.chain_entries,
            "payload_files": bag.streams,
            "payload_bytes": bag.octets,
        },
        "chain_head": {"seq": writer.head_seq, "hash": writer.head_hash},
        "manifest_sha256": manifest_sha256,
        "sha256": final_sha256,
        "container": plan.container,
        "include_file_metadata": plan.include_file_metadata,
        "encrypted": plan.target.recipient is not None,
        "timestamps": [s.tsa_url for s in stamps if s.ok],
        "timestamp_failures": [s.tsa_url for s in stamps if not s.ok],
        "originals_left_out": len(counts.problems),
    }


def _clean_up(plan: _Plan, bag: _Bag | None, *, moved: bool, recorded: bool) -> None:
    """Leave nothing but a recorded bundle: the scratch folder and partial files go, and a
    bundle whose custody entry could not be written is removed."""
    if bag is not None:
        bag.abort()
    _unlink_all(plan.partials)
    if plan.target.archive or not moved:
        _remove_tree(plan.work)
    if moved and not recorded:
        # Every bundle is a custody entry: one that could not be recorded is not kept.
        _remove_tree(plan.target.final)


def _unlink_all(paths: Iterable[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
