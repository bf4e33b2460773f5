"""Duplicate links: exact files both ways, similar images by distance, context capped."""

from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import duplicates, moderation
from bot.duplicates import MAX_SUGGESTIONS, distance, perceptual_hash
from db.engine import session_factory, transaction
from db.models import Media, Reporter, Tip, TipLink


async def make_tip(session, reporter: Reporter, number: int, **fields) -> Tip:  # type: ignore[no-untyped-def]
    tip = Tip(
        reference=f"T{number:03d}-AAAA",
        reporter_id=reporter.id,
        status="submitted",
        language="en",
        category=fields.get("category", "strike"),
        oblast=fields.get("oblast", "13"),
        incident_date=fields.get("incident_date", date(2022, 3, 1)),
        incident_date_precision="day",
    )
    session.add(tip)
    await session.flush()
    for sha, unique, phash in fields.get("media", []):
        session.add(
            Media(
                tip_id=tip.id, kind="photo", file_id=f"f{unique}", file_unique_id=unique,
                sha256=sha, phash=phash, status="stored", recompressed=False,
            )
        )  # fmt: skip
    await session.flush()
    return tip


async def test_links_are_made_both_ways_and_capped(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        reporter = Reporter(pseudonym="x" * 64, language="en")
        session.add(reporter)
        await session.flush()
        same = await make_tip(session, reporter, 1, media=[("a" * 64, "u1", None)], oblast="01")
        near = await make_tip(
            session, reporter, 2, media=[("b" * 64, "u2", "f0f0f0f0f0f0f0f0")], oblast="02"
        )
        far = await make_tip(
            session, reporter, 3, media=[("c" * 64, "u3", "0f0f0f0f0f0f0f0f")], oblast="03"
        )
        crowd = [await make_tip(session, reporter, 10 + n) for n in range(15)]
        new = await make_tip(
            session, reporter, 99,
            media=[("a" * 64, "u9", None), ("d" * 64, "u8", "f0f0f0f0f0f0f0f1")],
        )  # fmt: skip
        await duplicates.link(session, new, max_distance=8)
        links = (await session.execute(select(TipLink))).scalars().all()
    mine = {(link.other_tip_id, link.kind) for link in links if link.tip_id == new.id}
    assert (same.id, "same_file") in mine
    assert (near.id, "similar_image") in mine
    assert (far.id, "similar_image") not in mine
    context = [other for other, kind in mine if kind == "similar_context"]
    assert len(context) == MAX_SUGGESTIONS, "a crowd of same-day reports is capped"
    assert set(context) <= {t.id for t in crowd}
    back = {(link.tip_id, link.kind) for link in links if link.other_tip_id == new.id}
    assert (same.id, "same_file") in back


def test_perceptual_hash_survives_recompression(tmp_path: Path) -> None:
    image = Image.new("RGB", (640, 480), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((50, 50, 300, 400), fill="navy")
    draw.ellipse((350, 100, 600, 350), fill="firebrick")
    big, small = tmp_path / "big.jpg", tmp_path / "small.jpg"
    image.save(big, "JPEG", quality=95)
    image.resize((320, 240)).save(small, "JPEG", quality=35)
    other = tmp_path / "other.jpg"
    Image.new("RGB", (640, 480), "gray").save(other, "JPEG")
    a, b, c = perceptual_hash(big), perceptual_hash(small), perceptual_hash(other)
    assert a is not None
    assert b is not None
    assert c is not None
    assert distance(a, b) <= 8
    assert distance(a, c) > 8
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    assert perceptual_hash(broken) is None


async def test_one_suggestion_per_report_whatever_the_reasons(engine: AsyncEngine) -> None:
    """A report with the same file *and* the same place and days is linked once, for the
    stronger reason; pairs linked twice before (older rows) are still shown once."""
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        reporter = Reporter(pseudonym="y" * 64, language="en")
        session.add(reporter)
        await session.flush()
        same = await make_tip(session, reporter, 1, media=[("a" * 64, "u1", None)])
        context = await make_tip(session, reporter, 2)
        new = await make_tip(session, reporter, 3, media=[("a" * 64, "u3", None)])
        assert await duplicates.link(session, new, max_distance=8) == 2
        rows = (await session.execute(select(TipLink).where(TipLink.tip_id == new.id))).scalars()
        assert sorted((link.other_tip_id, link.kind) for link in rows) == [
            (same.id, "same_file"),
            (context.id, "similar_context"),
        ]
        # An older pair stored under two kinds: one suggestion with both reasons.
        session.add(TipLink(tip_id=new.id, other_tip_id=same.id, kind="similar_context"))
        await session.flush()
        found = await moderation.links(session, new)
    assert [(item.tip.id, item.kinds) for item in found] == [
        (same.id, ("same_file", "similar_context")),
        (context.id, ("similar_context",)),
    ]
