"""Privacy at rest through the real bot: a file's name and the metadata read from it (camera
owner, serial number, GPS) are stored sealed with the instance key, while the moderators'
metadata view and the investigators' bundle show them as before; rows stored clear by an
earlier version are sealed when the bot starts; ``tipbot bundle`` reads them with the key."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from pathlib import Path

from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import atrest
from bot.export.bundle import write_bundle
from bot.export.filters import ExportFilters, Profile
from bot.keys import Keyring
from bot.settings import Settings
from db.models import Media
from tests.builders import build_store
from tests.conftest import SECRET
from tests.e2e.moderators import Moderation, mt
from tests.e2e.test_cli import tipbot
from tests.e2e.test_moderation_cards import report
from tests.fakebot import FakeTelegram
from tests.harness import BotHarness

NAME = "Ivanenko-family-0001.JPG"
OWNER = "Olena Ivanenko"
SERIAL = "SN4815162342"
# What no stored column may hold in clear: the name, the owner, the serial, the camera,
# the position's digits.
CLEAR_TEXTS = ("Ivanenko", SERIAL, "TestPhone", "50.547", "30.208")


def photo_with_serial() -> bytes:
    """A JPEG as a phone writes it: camera, owner, serial, capture time and GPS in EXIF."""
    image = Image.new("RGB", (64, 48), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0110] = "TestPhone"
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = "2022:02:24 06:10:00"  # DateTimeOriginal
    ifd[0xA430] = OWNER  # CameraOwnerName
    ifd[0xA431] = SERIAL  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (50.0, 32.0, 49.56), "E", (30.0, 12.0, 31.68)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def raw_media(engine: AsyncEngine) -> list[tuple[str | None, str | None]]:
    """``file_name`` and ``metadata`` exactly as stored: plain SQL, no model, no type."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT file_name, CAST(metadata AS TEXT) FROM media ORDER BY id")
        )
        return [(row[0], row[1]) for row in rows]


def assert_nothing_clear(raw: list[tuple[str | None, str | None]]) -> None:
    assert raw
    for name, metadata in raw:
        for clear in CLEAR_TEXTS:
            assert clear not in f"{name} {metadata}"


async def test_moderators_and_investigators_read_what_is_stored_sealed(
    moderation: Moderation, tmp_path: Path
) -> None:
    reference = await report(moderation, documents=[(NAME, photo_with_serial())])
    raw = await raw_media(moderation.bot.engine)
    assert_nothing_clear(raw)
    ((name, metadata),) = raw
    assert name is not None
    assert name.startswith("enc1:")
    assert metadata is not None
    assert metadata.startswith('"enc1:')

    # The moderators' metadata view shows the name and the position.
    card = await moderation.card(reference)
    group, alice = moderation.group, moderation.alice
    await alice.press(mt("mod-btn-metadata"), message=card, chat=group)
    line = next(line for line in (group.last_bot_message().text or "").splitlines() if NAME in line)
    assert "taken 24.02.2022 06:10" in line
    assert "50.54710, 30.20880" in line

    # The investigators' bundle gives the clear name and metadata, as before.
    services = moderation.bot.services
    out = tmp_path / "bundle"
    await write_bundle(
        services.sessions,
        services.store,
        out=out,
        profile=Profile.INVESTIGATOR,
        filters=ExportFilters(),
        actor="cli:tester",
        org_name="Test",
        include_file_metadata=True,
    )
    tip = json.loads((out / "data" / "tips" / reference / "tip.json").read_text())
    (entry,) = tip["files"]
    assert entry["file_name"] == NAME
    assert entry["metadata"]["exif"]["EXIF BodySerialNumber"] == SERIAL
    assert entry["metadata"]["exif"]["EXIF CameraOwnerName"] == OWNER
    assert entry["metadata"]["gps"] == {"lat": 50.5471, "lon": 30.2088}


async def _wait_sealed(engine: AsyncEngine) -> list[tuple[str | None, str | None]]:
    async with asyncio.timeout(15):
        while True:
            raw = await raw_media(engine)
            if all(name is None or name.startswith("enc1:") for name, _ in raw):
                return raw
            await asyncio.sleep(0.05)


async def test_the_bot_seals_values_stored_clear_before(
    fake: FakeTelegram, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    # An installation from before sealing: files stored with clear names and metadata.
    built = await build_store(engine, tmp_path / "media")
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE media SET metadata = :m"),
            {"m": json.dumps({"exif": {"EXIF BodySerialNumber": SERIAL}})},
        )
    before = await raw_media(engine)
    assert {name for name, _ in before} == {"photo.jpg"}
    assert all(SERIAL in (metadata or "") for _, metadata in before)

    harness = BotHarness(fake, settings, engine, SECRET.encode())
    await harness.start()
    try:
        raw = await _wait_sealed(engine)
        assert len(raw) == len(before) == 4
        for name, metadata in raw:
            assert "photo.jpg" not in f"{name}"
            assert SERIAL not in f"{metadata}"
        files = await harness.all(Media)
        assert {(m.file_name, m.file_metadata["exif"]["EXIF BodySerialNumber"]) for m in files} == {
            ("photo.jpg", SERIAL)
        }
    finally:
        await harness.stop()
    assert built.tips


async def test_tipbot_bundle_reads_sealed_values_with_the_key(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    atrest.install(engine, Keyring(SECRET.encode()))
    await build_store(engine, tmp_path / "media")
    assert {name for name, _ in await raw_media(engine)} != {"photo.jpg"}
    env = {
        "DATABASE_URL": database_url,
        "MEDIA_DIR": str(tmp_path / "media"),
        "TIPBOT_ORG_NAME": "Test",
    }

    made = await asyncio.to_thread(
        tipbot, "bundle", "--out", "case.zip", cwd=tmp_path, TIPBOT_SECRET_KEY=SECRET, **env
    )
    assert made.returncode == 0, made.stderr
    with zipfile.ZipFile(tmp_path / "case.zip") as archive:
        table = archive.read("case/data/files.csv").decode("utf-8-sig")
    assert {row["file_name"] for row in csv.DictReader(io.StringIO(table))} == {"photo.jpg"}

    # Without the key the names cannot be read, and the command says so.
    blind = await asyncio.to_thread(tipbot, "bundle", "--out", "blind.zip", cwd=tmp_path, **env)
    assert blind.returncode == 0, blind.stderr
    assert "the file names and metadata stored sealed are left out" in blind.stderr
    with zipfile.ZipFile(tmp_path / "blind.zip") as archive:
        table = archive.read("blind/data/files.csv").decode("utf-8-sig")
    assert {row["file_name"] for row in csv.DictReader(io.StringIO(table))} == {""}
