"""Tips that may report the same thing, found when a tip is submitted.

* ``same_file``: a file with the same SHA-256, or the same Telegram ``file_unique_id`` —
  linked automatically;
* ``similar_image``: images whose perceptual hashes (pHash, 64 bits) differ in at most
  ``max_distance`` bits — a photo and its recompressed copy, a resized or lightly cropped one;
* ``similar_context``: the same category and oblast, incident dates within three days.

These are suggestions shown on the moderators' card; only a moderator marks a duplicate.
Links are stored both ways so each tip's card finds them, one per pair of tips: the
strongest kind found.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import pillow_heif
from PIL import Image
from sqlalchemy import ColumnElement, Row, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.phash import phash
from db.models import TIP_DRAFT, TIP_WITHDRAWN, DatePrecision, Media, Tip, TipLink

log = logging.getLogger(__name__)

SAME_FILE = "same_file"
SIMILAR_IMAGE = "similar_image"
SIMILAR_CONTEXT = "similar_context"
CONTEXT_DAYS = 3
# At most this many suggestions of each kind per tip: after a strike, hundreds of reports
# share a place and a day, and linking each to all the others would grow as n².
MAX_SUGGESTIONS = 10
# Images compared against at most this many recent ones: a linear scan inside the submitting
# transaction (about 15 ms of comparing for 20,000 on this machine), so it must stay short.
_RECENT_IMAGES = 20_000


# HEIC/HEIF (iPhones' photos sent "as File") opened by Pillow like any other image.
pillow_heif.register_heif_opener()


def perceptual_hash(path: Path) -> str | None:
    """The pHash of an image file as 16 hex digits, or None if it cannot be read as one.

    The same value imagehash.phash gave (see bot/phash.py), so stored hashes stay comparable.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return phash(image)
    except Exception as exc:  # any undecodable image simply has no hash
        log.info("no perceptual hash (%s)", type(exc).__name__)
        return None


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


async def link(session: AsyncSession, tip: Tip, *, max_distance: int) -> int:
    """Find and store this tip's possible duplicates; return how many links were made."""
    found = await _same_file(session, tip)
    found += await _similar_images(session, tip, _others(found), max_distance)
    # One link per other tip, of its strongest kind: a report found by its file is not
    # suggested again for its place and days (nor does it take one of their places).
    found += await _similar_context(session, tip, _others(found))
    return await _store(session, tip, found)


# A possible duplicate: the other tip, the kind of link and the bits apart (images only).
_Found = tuple[int, str, int | None]


def _others(found: list[_Found]) -> set[int]:
    return {other for other, _, _ in found}


def _live() -> ColumnElement[bool]:
    """Tips that count: neither a draft nor withdrawn."""
    return Tip.status.not_in((TIP_DRAFT, TIP_WITHDRAWN))


async def _same_file(session: AsyncSession, tip: Tip) -> list[_Found]:
    """Other live tips holding a file with one of this tip's SHA-256s or Telegram unique ids."""
    mine = select(Media.sha256, Media.file_unique_id).where(Media.tip_id == tip.id).subquery()
    rows = await session.scalars(
        select(Media.tip_id)
        .join(Tip, Tip.id == Media.tip_id)
        .where(
            Media.tip_id != tip.id,
            _live(),
            or_(
                Media.sha256.in_(select(mine.c.sha256)),
                Media.file_unique_id.in_(select(mine.c.file_unique_id)),
            ),
        )
        .distinct()
    )
    return [(other, SAME_FILE, 0) for other in rows]


async def _my_hashes(session: AsyncSession, tip: Tip) -> list[int]:
    """The perceptual hashes of this tip's images, as 64-bit numbers."""
    hashes = await session.scalars(
        select(Media.phash).where(Media.tip_id == tip.id, Media.phash.is_not(None))
    )
    return [int(p, 16) for p in hashes if p]


async def _similar_images(
    session: AsyncSession, tip: Tip, skip: set[int], max_distance: int
) -> list[_Found]:
    """The closest other tips by image, nearest first, leaving out those in ``skip``."""
    bits = await _my_hashes(session, tip)
    if not bits:
        return []
    candidates = await session.execute(
        select(Media.tip_id, Media.phash)
        .join(Tip, Tip.id == Media.tip_id)
        .where(Media.tip_id != tip.id, Media.phash.is_not(None), _live())
        .order_by(Media.id.desc())
        .limit(_RECENT_IMAGES)
    )
    similar = _closest(bits, candidates, skip, max_distance)
    nearest = sorted(similar.items(), key=lambda item: item[1])[:MAX_SUGGESTIONS]
    return [(other, SIMILAR_IMAGE, apart) for other, apart in nearest]


def _closest(
    mine: list[int],
    candidates: Iterable[Row[int, str | None]],
    skip: set[int],
    max_distance: int,
) -> dict[int, int]:
    """Each candidate tip within ``max_distance`` bits of one of ``mine``, with its least."""
    similar: dict[int, int] = {}
    for other, other_hash in candidates:
        if other_hash is None or other in skip:
            continue
        theirs = int(other_hash, 16)
        best = min((bits ^ theirs).bit_count() for bits in mine)
        if best <= max_distance:
            similar[other] = min(best, similar.get(other, best))
    return similar


def _context_day(tip: Tip) -> date | None:
    """The tip's incident date if it is a day and the tip has a category and an oblast."""
    if all((tip.category, tip.oblast, tip.incident_date_precision == DatePrecision.DAY)):
        return tip.incident_date
    return None


async def _similar_context(session: AsyncSession, tip: Tip, linked: set[int]) -> list[_Found]:
    """Other live tips of the same category and oblast within three days, newest first."""
    day = _context_day(tip)
    if day is None:
        return []
    window = timedelta(days=CONTEXT_DAYS)
    rows = await session.execute(
        select(Tip.id)
        .where(
            Tip.id != tip.id,
            Tip.id.not_in(linked or {0}),
            _live(),
            and_(Tip.category == tip.category, Tip.oblast == tip.oblast),
            Tip.incident_date_precision == DatePrecision.DAY,
            Tip.incident_date.between(day - window, day + window),
        )
        .order_by(Tip.id.desc())
        .limit(MAX_SUGGESTIONS)
    )
    return [(other, SIMILAR_CONTEXT, None) for (other,) in rows]


async def _store(session: AsyncSession, tip: Tip, found: list[_Found]) -> int:
    """Add the links not stored yet, both ways; return how many pairs were added."""
    existing = set(
        (
            await session.execute(
                select(TipLink.other_tip_id, TipLink.kind).where(TipLink.tip_id == tip.id)
            )
        ).all()
    )
    made = 0
    for other, kind, dist in found:
        if (other, kind) in existing:
            continue
        session.add(TipLink(tip_id=tip.id, other_tip_id=other, kind=kind, distance=dist))
        session.add(TipLink(tip_id=other, other_tip_id=tip.id, kind=kind, distance=dist))
        made += 1
    await session.flush()
    return made
