"""Building a realistic evidence store through the services (not raw rows): reporters,
submitted tips with files, answers — every custody entry as the bot would append it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody, intake, moderation
from bot.media import MediaStore
from db.engine import SessionFactory, session_factory, transaction
from db.models import Media, Tip


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass
class BuiltTip:
    id: int
    reference: str
    media_ids: list[int]
    shas: list[str]


async def submit_tip(
    sessions: SessionFactory,
    store: MediaStore,
    *,
    pseudonym: str = "p" * 64,
    description: str = "Обстріл житлового будинку 🏠 «тест»",
    files: list[bytes] | None = None,
    lat: float | None = 50.45,
    lon: float | None = 30.52,
    category: str = "strike",
) -> BuiltTip:
    """A reporter (created if new) submits a tip with ``files``; returns its ids."""
    files = [b"original photo bytes"] if files is None else files
    async with transaction(sessions) as session:
        reporter = await intake.find_reporter(session, pseudonym)
        if reporter is None:
            # Named by ``pseudonym`` too, so the tests can look for it in what is exported.
            reporter = await intake.record_consent(
                session, pseudonym=pseudonym, chat_id_enc="enc", language="uk", name=pseudonym
            )
        tip = await intake.create_draft(session, reporter, "uk")
        tip.category = category
        tip.description = description
        tip.incident_date = date(2024, 3, 1)
        tip.incident_date_precision = "day"
        tip.location_source = "shared_point" if lat is not None else "none"
        tip.location_precision = "point" if lat is not None else "none"
        tip.lat, tip.lon = lat, lon
        tip.settlement = "Київ" if lat is not None else None
        tip.oblast = "80" if lat is not None else None
        tip.perpetrator = "unknown"
    media_ids: list[int] = []
    shas: list[str] = []
    for number, data in enumerate(files):
        staged = await store.stage(_chunks(data), max_bytes=10**9)
        async with transaction(sessions) as session:
            draft = await session.get(Tip, tip.id)
            assert draft is not None
            media = await intake.add_media(
                session,
                draft,
                intake.NewMedia(
                    kind="document",
                    file_id=f"file-{tip.id}-{number}",
                    file_unique_id=f"uniq-{staged.sha256[:12]}",
                    media_group_id=None,
                    file_name="photo.jpg",
                    declared_mime="image/jpeg",
                    size=len(data),
                    recompressed=False,
                    telegram_date=datetime.now(UTC),
                    received_at=datetime.now(UTC),
                ),
                staged,
                actor=custody.reporter_actor(pseudonym),
                store=store,
            )
            media_ids.append(media.id)
            shas.append(staged.sha256)
        store.discard(staged)
    async with transaction(sessions) as session:
        draft = await session.get(Tip, tip.id)
        reporter = await intake.find_reporter(session, pseudonym)
        assert draft is not None
        assert reporter is not None
        await intake.submit(session, draft, reporter, duplicate_distance=0)
    return BuiltTip(tip.id, tip.reference, media_ids, shas)


async def add_answer(
    sessions: SessionFactory, tip_id: int, text: str, *, pseudonym: str = "p" * 64
) -> int:
    async with transaction(sessions) as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        note = await moderation.add_from_reporter(
            session,
            tip,
            kind="addition",
            text=text,
            media_id=None,
            actor=custody.reporter_actor(pseudonym),
        )
        return note.id


@dataclass
class Store:
    sessions: SessionFactory
    store: MediaStore
    tips: list[BuiltTip]


async def build_store(engine: AsyncEngine, media_dir: Path) -> Store:
    """Two reporters, three submitted tips (one without a place), files shared between two
    tips, an addition — the evidence store the verification tests tamper with."""
    sessions = session_factory(engine)
    store = MediaStore(media_dir)
    store.prepare()
    first = await submit_tip(sessions, store, files=[b"photo one", b"shared video"])
    second = await submit_tip(
        sessions,
        store,
        pseudonym="q" * 64,
        description="Second report\nwith two lines",
        files=[b"shared video", b"photo three"],
    )
    third = await submit_tip(sessions, store, files=[], lat=None, lon=None)
    await add_answer(sessions, first.id, "More detail about the strike ✍️")
    return Store(sessions, store, [first, second, third])


async def media_row(sessions: SessionFactory, media_id: int) -> Media:
    async with sessions() as session:
        media = await session.get(Media, media_id)
        assert media is not None
        return media
