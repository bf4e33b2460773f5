"""The SQLite database holds reporters' words: its file, WAL and shared-memory files are
created 0600 inside a 0700 folder whatever the umask, and erased rows are overwritten
(``secure_delete``) rather than left in free pages."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import atrest, intake
from bot.atrest import field_cipher
from bot.export.bundle import write_bundle
from bot.export.filters import ExportFilters, Profile
from bot.keys import Keyring
from bot.media import MediaStore
from db.crypto import bind_cipher
from db.engine import SessionFactory, create_engine, session_factory, transaction
from db.migrate import upgrade
from db.models import Media, Tip
from tests.builders import BuiltTip, submit_tip
from tests.conftest import SECRET

INSERT = "INSERT INTO reporter (pseudonym, language, created_at) VALUES (:p, 'en', '2026-01-01')"


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_the_database_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    database = folder / "tipbot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(text(INSERT), {"p": "x"})
            assert (await connection.execute(text("PRAGMA secure_delete"))).scalar_one() == 1
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(path.exists() for path in files)
        assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}
        assert _mode(folder) == 0o700
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("open_umask")
async def test_erased_words_do_not_stay_in_the_file(tmp_path: Path) -> None:
    database = tmp_path / "data" / "tipbot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    secret = "a-reporter-s-words-" * 20
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(
                text(INSERT),
                {"p": secret[:64]},
            )
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM reporter"))
    finally:
        await engine.dispose()  # the last connection to close checkpoints the WAL
    assert secret[:64].encode() not in database.read_bytes()


# ---------------------------------------------------------------------------- sealed columns
# File names and the metadata read from files (EXIF/XMP: names, serial numbers, GPS) are
# stored sealed with the instance key (db.crypto, bot.atrest); every reader sees them clear.

NAME = "Ivanenko-family-Kharkiv.jpg"
SERIAL = "SN4815162342"
OWNER = "Olena Ivanenko"
METADATA = {
    "exif": {
        "Image Model": "TestPhone",
        "EXIF BodySerialNumber": SERIAL,
        "EXIF CameraOwnerName": OWNER,
    },
    "gps": {"lat": 50.5471234, "lon": 30.2088765},
    "taken_at": "2022:02:24 06:10:00",
}
# What no raw column may hold: the name, the serial, the owner, the position's digits.
CLEAR_TEXTS = (NAME, "Ivanenko", SERIAL, "TestPhone", "50.547", "30.208")
# Sealed with the key Keyring(b"k" * 40).derive(bot.atrest.PURPOSE): if this stops opening,
# Keyring's derivation changed and every sealed value of an installation would be lost.
PINNED_TOKEN = "enc1:2BE82bOOY4TeReZfAhr9WP7Hp9GOjfTXi4OiET287AJO8nxrH84OSQ=="


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(SECRET.encode())


async def _raw_media(engine: AsyncEngine) -> list[tuple[str | None, str | None]]:
    """Both columns exactly as stored: plain SQL, no model, no type."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT file_name, CAST(metadata AS TEXT) FROM media ORDER BY id")
        )
        return [(row[0], row[1]) for row in rows]


def _assert_sealed(raw: list[tuple[str | None, str | None]]) -> None:
    assert raw
    for name, metadata in raw:
        stored = f"{name} {metadata}"
        for clear in CLEAR_TEXTS:
            assert clear not in stored
        assert name is not None
        assert name.startswith("enc1:")
        assert metadata is not None
        assert metadata.startswith('"enc1:')


async def _add_file(
    sessions: SessionFactory, store: MediaStore, tip_id: int, number: int = 0
) -> int:
    staged = await store.stage(_chunks(b"photo %d" % number), max_bytes=10**6)
    async with transaction(sessions) as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        media = await intake.add_media(
            session,
            tip,
            intake.NewMedia(
                kind="document",
                file_id=f"f-{number}",
                file_unique_id=f"u-{number}",
                media_group_id=None,
                file_name=NAME,
                declared_mime="image/jpeg",
                size=None,
                recompressed=False,
                telegram_date=None,
                received_at=datetime.now(UTC),
                metadata=METADATA,
            ),
            staged,
            actor="system",
            store=store,
        )
    store.discard(staged)
    return media.id


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _submitted_with_file(
    engine: AsyncEngine, tmp_path: Path
) -> tuple[SessionFactory, MediaStore, BuiltTip]:
    sessions = session_factory(engine)
    store = MediaStore(tmp_path / "media")
    store.prepare()
    built = await submit_tip(sessions, store, files=[])
    await _add_file(sessions, store, built.id)
    return sessions, store, built


def test_the_key_comes_from_the_instance_secret() -> None:
    assert field_cipher(Keyring(b"k" * 40)).open(PINNED_TOKEN, "file_name") == "IMG_0001.JPG"
    assert field_cipher(Keyring(b"j" * 40)).open(PINNED_TOKEN, "file_name") is None
    # Bound to its column: the same token is refused as metadata.
    assert field_cipher(Keyring(b"k" * 40)).open(PINNED_TOKEN, "metadata") is None
    cipher = field_cipher(Keyring(b"k" * 40))
    assert cipher.seal(NAME, "file_name") != cipher.seal(NAME, "file_name")  # random nonces


async def test_file_names_and_metadata_are_stored_sealed(
    engine: AsyncEngine, tmp_path: Path, keyring: Keyring
) -> None:
    atrest.install(engine, keyring)
    sessions, _store, built = await _submitted_with_file(engine, tmp_path)
    _assert_sealed(await _raw_media(engine))
    (media,) = await _media_rows(sessions)
    assert (media.file_name, media.file_metadata) == (NAME, METADATA)
    if engine.dialect.name == "sqlite":
        database = Path(str(engine.url.database))
        await engine.dispose()  # checkpoints the WAL into the file
        content = await asyncio.to_thread(database.read_bytes)
        for clear in CLEAR_TEXTS:
            assert clear.encode() not in content
    assert built.id


async def _media_rows(sessions: SessionFactory) -> list[Media]:
    async with sessions() as session:
        return list((await session.execute(select(Media).order_by(Media.id))).scalars())


async def test_the_export_bundle_gives_investigators_the_clear_values(
    engine: AsyncEngine, tmp_path: Path, keyring: Keyring
) -> None:
    atrest.install(engine, keyring)
    sessions, store, built = await _submitted_with_file(engine, tmp_path)
    out = tmp_path / "bundle"
    await write_bundle(
        sessions,
        store,
        out=out,
        profile=Profile.INVESTIGATOR,
        filters=ExportFilters(),
        actor="cli:tester",
        org_name="Test",
        include_file_metadata=True,
    )
    tip = json.loads((out / "data" / "tips" / built.reference / "tip.json").read_text())
    (entry,) = tip["files"]
    assert entry["file_name"] == NAME
    assert entry["metadata"]["exif"]["EXIF BodySerialNumber"] == SERIAL
    assert entry["metadata"]["gps"] == METADATA["gps"]
    table = (out / "data" / "files.csv").read_text(encoding="utf-8")
    assert NAME in table
    assert SERIAL in table
    assert "50.5471234" in table


async def test_values_stored_clear_before_are_read_then_sealed(
    engine: AsyncEngine, tmp_path: Path, keyring: Keyring
) -> None:
    # Written by an installation from before sealing: no key on the engine, values clear.
    sessions, store, _built = await _submitted_with_file(engine, tmp_path)
    await _add_file(sessions, store, _built.id, 1)
    async with engine.begin() as connection:  # and one file with neither (a photo)
        await connection.execute(
            text("UPDATE media SET file_name = NULL, metadata = NULL WHERE file_unique_id = 'u-1'")
        )
    assert (await _raw_media(engine))[0][0] == NAME
    atrest.install(engine, keyring)
    rows = await _media_rows(sessions)
    assert [(m.file_name, m.file_metadata) for m in rows] == [(NAME, METADATA), (None, None)]

    assert await atrest.seal_clear_media(engine, batch=1) == 1
    raw = await _raw_media(engine)
    _assert_sealed(raw[:1])
    assert raw[1] == (None, None)
    rows = await _media_rows(sessions)
    assert [(m.file_name, m.file_metadata) for m in rows] == [(NAME, METADATA), (None, None)]
    assert await atrest.seal_clear_media(engine) == 0, "sealed once"


async def test_without_the_key_sealed_values_cannot_be_read(
    engine: AsyncEngine, tmp_path: Path, keyring: Keyring
) -> None:
    atrest.install(engine, keyring)
    sessions, _store, _built = await _submitted_with_file(engine, tmp_path)
    bind_cipher(engine, None)
    assert [(m.file_name, m.file_metadata) for m in await _media_rows(sessions)] == [(None, None)]
    assert await atrest.has_sealed(engine)
    atrest.install(engine, Keyring(b"another-secret-" * 3))
    assert [(m.file_name, m.file_metadata) for m in await _media_rows(sessions)] == [(None, None)]
    atrest.install(engine, keyring)
    assert [(m.file_name, m.file_metadata) for m in await _media_rows(sessions)] == [
        (NAME, METADATA)
    ]
