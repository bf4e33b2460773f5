"""What a reporter gave, as the canonical records whose digests the custody log carries.

The ``submitted`` entry holds the digest of the tip's testimony (every field the reporter
filled in and the SHA-256 of each file sent with the report); each answer or later addition
holds the digest of its own record. ``tipbot verify`` and a bundle's ``verify.py`` recompute
them, so an edit to a submitted tip's row is found even though the chain itself is intact.
The encodings are in :mod:`bot.evidence.verifier` (docs/custody.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.evidence import verifier
from db.models import Media, Tip, TipNote

# Files a reporter sent with the report itself (answers and additions have their own records).
REPORT_ORIGIN = "report"
_COLUMNS = verifier.TESTIMONY_FIELDS


def tip_fields(tip: Tip) -> dict[str, Any]:
    """The testimony fields of ``tip`` by name (:data:`verifier.TESTIMONY_FIELDS`), in the
    form the record uses: dates and times as ISO text, coordinates with six decimals."""
    record = verifier.testimony_record({name: getattr(tip, name) for name in _COLUMNS}, [])
    return {name: record[name] for name in verifier.TESTIMONY_FIELDS}


def media_file(media: Media) -> dict[str, Any]:
    return {"media_id": media.id, "sha256": media.sha256}


def testimony_digest(tip: Tip, report_media: list[Media]) -> str:
    """The digest of ``tip``'s testimony with the files sent with the report."""
    fields = {name: getattr(tip, name) for name in _COLUMNS}
    return verifier.record_digest(
        verifier.testimony_record(fields, [media_file(m) for m in report_media])
    )


async def report_media(session: AsyncSession, tip_id: int) -> list[Media]:
    return list(
        (
            await session.execute(
                select(Media)
                .where(Media.tip_id == tip_id, Media.origin == REPORT_ORIGIN)
                .order_by(Media.id)
            )
        ).scalars()
    )


async def tip_digest(session: AsyncSession, tip: Tip) -> str:
    return testimony_digest(tip, await report_media(session, tip.id))


def note_digest(reference: str, note: TipNote, file_sha256: str | None) -> str:
    """The digest of an answer or addition: its text and the SHA-256 of its file."""
    return verifier.record_digest(
        verifier.note_record(
            reference=reference,
            note_id=note.id,
            kind=note.kind,
            text=note.text,
            file_sha256=file_sha256,
        )
    )


async def note_file_sha256(session: AsyncSession, note: TipNote) -> str | None:
    if note.media_id is None:
        return None
    return (
        await session.execute(select(Media.sha256).where(Media.id == note.media_id))
    ).scalar_one_or_none()
