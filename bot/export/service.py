"""Tabular exports as a service: the command line, the Telegram ``/export`` dialog and the
evidence bundle all call :func:`export_table`, so they can never disagree.

An export streams the chosen tips' records (:mod:`bot.export.rows`) through a format's
writer (:mod:`bot.export.formats`) into a binary file object, hashing the bytes as they are
written, and then records one ``exported`` custody entry: who, the format, the profile, the
filters as applied, how many tips, and the SHA-256 and size of exactly the bytes written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from bot import custody
from bot.export.filters import ExportFilters, Format, Profile
from bot.export.formats import open_writer
from bot.export.rows import count_tips, iter_tip_values, redactions
from bot.gazetteer import Gazetteer
from db.engine import SessionFactory, transaction

EXPORTED = "exported"  # the custody action of an export

#: Called with (tips done, tips in all) after every page and at the end. The total is
#: counted before the export starts; tips submitted meanwhile can make ``done`` pass it.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote: ``rows`` records (``skipped`` more left out: GeoJSON tips
    without a point), ``bytes`` bytes whose SHA-256 is ``sha256``; ``custody_seq`` is the
    sequence number of its custody entry (None when not recorded)."""

    export_id: str
    format: Format
    profile: Profile
    rows: int
    skipped: int
    sha256: str
    bytes: int
    custody_seq: int | None = None


def new_export_id() -> str:
    """A unique, time-ordered export id such as ``20250301T120000Z-5f3a9c1e``."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


class _HashingSink:
    """Writes bytes to the output, hashing and counting them on the way."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def __call__(self, data: bytes) -> None:
        self._out.write(data)
        self.digest.update(data)
        self.size += len(data)


async def export_table(
    sessions: SessionFactory,
    *,
    fmt: Format,
    profile: Profile,
    filters: ExportFilters,
    out: BinaryIO,
    actor: str,
    progress: Progress | None = None,
    bom: bool = False,
    record: bool = True,
    batch: int = 1000,
    tmpdir: Path | None = None,
    gazetteer: Gazetteer | None = None,
) -> ExportResult:
    """Write the whole export to ``out`` and (``record``) append its custody entry.

    ``bom`` (CSV only) starts the file with a UTF-8 byte order mark; ``tmpdir`` is where an
    XLSX workbook is built before it is copied to ``out``; ``gazetteer`` spares loading a
    second copy where one is loaded (the bot's). ``out`` is not closed. Nothing is recorded
    if the export fails; the bundle passes ``record=False`` and records itself.
    """
    export_id = new_export_id()
    total = await count_tips(sessions, filters, profile) if progress is not None else 0
    sink = _HashingSink(out)
    writer = open_writer(fmt, sink, profile, bom=bom, tmpdir=tmpdir)
    rows = skipped = reported = 0
    try:
        # Closed at once on failure: the page being read ahead is cancelled.
        async with contextlib.aclosing(
            iter_tip_values(sessions, filters, profile, batch=batch, gazetteer=gazetteer)
        ) as slices:
            async for values in slices:
                written = writer.write_rows(values)
                rows += written
                skipped += len(values) - written
                if progress is not None and rows + skipped >= reported + batch:
                    reported = rows + skipped
                    progress(reported, max(total, reported))
        # Finishing a workbook compresses it all: off the event loop, so a bot stays
        # responsive while an admin's export completes.
        await asyncio.to_thread(writer.close)
    except BaseException:
        writer.discard()
        raise
    if progress is not None:
        progress(rows + skipped, max(total, rows + skipped))
    result = ExportResult(
        export_id=export_id,
        format=fmt,
        profile=profile,
        rows=rows,
        skipped=skipped,
        sha256=sink.digest.hexdigest(),
        bytes=sink.size,
    )
    if not record:
        return result
    async with transaction(sessions) as session:
        entry = await custody.append(
            session, actor=actor, action=EXPORTED, details=export_details(result, filters)
        )
    return ExportResult(
        export_id=result.export_id,
        format=result.format,
        profile=result.profile,
        rows=result.rows,
        skipped=result.skipped,
        sha256=result.sha256,
        bytes=result.bytes,
        custody_seq=entry.seq,
    )


def export_details(result: ExportResult, filters: ExportFilters) -> dict[str, custody.JsonValue]:
    """The custody details of an export (also what export.json says about a table)."""
    return {
        "export_id": result.export_id,
        "format": result.format.value,
        "profile": result.profile.value,
        "filters": filters.for_profile(result.profile).as_details(),
        "rows": result.rows,
        "skipped": result.skipped,
        "sha256": result.sha256,
        "bytes": result.bytes,
        "redactions": list(redactions(result.profile)),
    }
