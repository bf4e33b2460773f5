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
from datetime import timedelta
from pathlib import Path

import pillow_heif
from PIL import Image
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.phash import phash
from db.models import TIP_DRAFT, TIP_WITHDRAWN, Media, Tip, TipLink

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
    found: dict[tuple[int, str], int | None] = {}
    mine = (
        await session.execute(
            select(Media.sha256, Media.file_unique_id, Media.phash).where(Media.tip_id == tip.id)
        )
    ).all()
    live = Tip.status.not_in((TIP_DRAFT, TIP_WITHDRAWN))
    hashes = {m.sha256 for m in mine if m.sha256}
    uniques = {m.file_unique_id for m in mine}
    if mine:
        rows = await session.execute(
            select(Media.tip_id)
            .join(Tip, Tip.id == Media.tip_id)
            .where(
                Media.tip_id != tip.id,
                live,
                or_(Media.sha256.in_(hashes or {""}), Media.file_unique_id.in_(uniques)),
            )
            .distinct()
        )
        for (other,) in rows:
            found[(other, SAME_FILE)] = 0
    phashes = [m.phash for m in mine if m.phash]
    if phashes:
        candidates = await session.execute(
            select(Media.tip_id, Media.phash)
            .join(Tip, Tip.id == Media.tip_id)
            .where(Media.tip_id != tip.id, Media.phash.is_not(None), live)
            .order_by(Media.id.desc())
            .limit(_RECENT_IMAGES)
        )
        similar: dict[int, int] = {}
        mine_bits = [int(p, 16) for p in phashes]
        for other, other_hash in candidates:
            if other_hash is None or (other, SAME_FILE) in found:
                continue
            theirs = int(other_hash, 16)
            best = min((bits ^ theirs).bit_count() for bits in mine_bits)
            if best <= max_distance:
                similar[other] = min(best, similar.get(other, best))
        for other, bits in sorted(similar.items(), key=lambda item: item[1])[:MAX_SUGGESTIONS]:
            found[(other, SIMILAR_IMAGE)] = bits
    if tip.category and tip.oblast and tip.incident_date and tip.incident_date_precision == "day":
        window = timedelta(days=CONTEXT_DAYS)
        # One link per other tip, of its strongest kind: a report found by its file is not
        # suggested again for its place and days (nor does it take one of their places).
        linked = {other for other, _ in found}
        rows = await session.execute(
            select(Tip.id)
            .where(
                Tip.id != tip.id,
                Tip.id.not_in(linked or {0}),
                live,
                and_(Tip.category == tip.category, Tip.oblast == tip.oblast),
                Tip.incident_date_precision == "day",
                Tip.incident_date.between(tip.incident_date - window, tip.incident_date + window),
            )
            .order_by(Tip.id.desc())
            .limit(MAX_SUGGESTIONS)
        )
        for (other,) in rows:
            found.setdefault((other, SIMILAR_CONTEXT), None)
    existing = set(
        (
            await session.execute(
                select(TipLink.other_tip_id, TipLink.kind).where(TipLink.tip_id == tip.id)
            )
        ).all()
    )
    made = 0
    for (other, kind), dist in found.items():
        if (other, kind) in existing:
            continue
        session.add(TipLink(tip_id=tip.id, other_tip_id=other, kind=kind, distance=dist))
        session.add(TipLink(tip_id=other, other_tip_id=tip.id, kind=kind, distance=dist))
        made += 1
    await session.flush()
    return made
