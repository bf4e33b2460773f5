"""Evidence: albums acknowledged once, every kind of file, limits, oversize, faults, and
one reporter's slow download never holding up another."""

import asyncio
import hashlib
import io
import time

from PIL import Image
from sqlalchemy import select

from db.models import CustodyEntry, Media, Tip
from tests.e2e.flows import JPEG, PDF, label, onboard, t
from tests.e2e.test_wrong_input import reach
from tests.fakebot import AlbumItem, FakeTelegram
from tests.harness import BotHarness
from tests.unit.test_metadata import jpeg_with_gps

MB = 1024 * 1024


def acks(user, lang: str = "en") -> list[str]:  # type: ignore[no-untyped-def]
    marker = t(lang, "step-evidence-count", total=0).split(":")[0]
    return [
        m.text
        for m in user.bot_messages()
        if "received" in (m.text or "") or marker in (m.text or "")
    ]


async def test_an_album_gets_one_acknowledgement(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "evidence")
    before = len(user.bot_messages())
    await user.send_album([AlbumItem.photo(content=JPEG + bytes([i])) for i in range(3)])
    ack = await user.wait_for_message(lambda m: "received" in (m.text or ""))
    await asyncio.sleep(0.3)
    new_messages = user.bot_messages()[before:]
    assert len(new_messages) == 1, [m.text for m in new_messages]
    assert "3 files received, 3 in total" in ack.text
    assert t("en", "evidence-originals-hint").split(".")[0] in ack.text
    assert label("en", "evidence-done") in user.buttons()
    media = await bot.all(Media)
    assert len(media) == 3
    assert len({m.media_group_id for m in media}) == 1

    await user.send_document(PDF, file_name="report.pdf", mime_type="application/pdf")
    second = await user.wait_for_message(lambda m: "received" in (m.text or ""))
    assert "1 file received, 4 in total" in second.text
    assert "compresses" not in second.text, "the originals hint is given once per report"


async def test_every_kind_of_file_is_recorded(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "evidence")
    await user.send_video(content=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500, duration=12)
    await user.send_animation(content=b"GIF89a" + b"\x00" * 100)
    await user.send_video_note(content=b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 300)
    await user.send_audio(content=b"ID3" + b"\x00" * 200)
    await user.send_voice(content=b"OggS" + b"\x00" * 200)
    await user.forward_from_channel(
        item=AlbumItem.photo(content=JPEG + b"fwd"), channel_title="Local news"
    )
    # Five files; the voice message is testimony and is not counted among them.
    await user.wait_for_message(lambda m: "5 in total" in (m.text or ""))
    media = {m.kind: m for m in await bot.all(Media)}
    assert set(media) == {"video", "animation", "video_note", "audio", "voice", "photo"}
    assert media["video"].duration == 12
    assert media["video"].detected_mime == "video/mp4"
    assert media["photo"].forward_origin["type"] == "channel"
    assert media["photo"].forward_origin["title"] == "Local news"
    assert all(m.status == "stored" and m.sha256 for m in media.values())
    entries = await bot.all(CustodyEntry, CustodyEntry.action == "file_received")
    assert {e.details["sha256"] for e in entries} == {m.sha256 for m in media.values()}


async def test_voice_at_the_description_step_is_testimony(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "description")
    await user.send_voice(content=b"OggS" + b"\x02" * 300, duration=40)
    assert t("en", "description-voice-saved") in user.last_bot_message().text
    assert label("en", "nav-next") in user.buttons()
    await user.press(label("en", "nav-next"))
    assert (await bot.all(Tip))[0].step == "when"
    assert [m.kind for m in await bot.all(Media)] == ["voice"]


async def test_a_file_outside_a_report_starts_one(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await onboard(user)
    await user.send_document(PDF, file_name="list.pdf", mime_type="application/pdf")
    ack = await user.wait_for_message(lambda m: "received" in (m.text or ""))
    assert t("en", "evidence-new-report") in ack.text
    assert label("en", "category-strike") in user.buttons()
    tip = (await bot.all(Tip))[0]
    assert (tip.status, tip.step) == ("draft", "category")
    assert (await bot.all(Media))[0].file_name == "list.pdf"


async def test_the_thirty_first_file_is_refused_with_a_message(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await bot.stop()
    await bot.start(tipbot_max_files_per_report=3)
    user = fake.user()
    await reach(user, "evidence")
    await user.send_album(
        [
            AlbumItem.document(
                content=PDF + bytes([i]), file_name=f"{i}.pdf", mime_type="application/pdf"
            )
            for i in range(4)
        ]
    )
    ack = await user.wait_for_message(lambda m: "received" in (m.text or ""))
    assert "3 files received, 3 in total" in ack.text
    assert t("en", "evidence-limit", count=1, max=3) in ack.text
    assert await bot.count(Media) == 3


async def test_an_oversized_file_is_recorded_not_downloaded(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "evidence")
    await user.send_video(size=45 * MB, file_name="strike.mp4")
    ack = await user.wait_for_message(
        lambda m: "received" in (m.text or "") or "larger" in (m.text or "")
    )
    assert "“strike.mp4” (45 MB) is larger than the 20 MB" in ack.text
    media = (await bot.all(Media))[0]
    assert (media.status, media.size, media.sha256) == ("too_large", 45 * MB, None)
    assert media.file_id, "moderators can still forward it by file_id"
    assert fake.calls_to("getFile") == []
    entry = (await bot.all(CustodyEntry, CustodyEntry.action == "file_received"))[0]
    assert entry.details["status"] == "too_large"


async def test_local_mode_downloads_large_files(
    fake: FakeTelegram, settings, engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SECRET

    local = FakeTelegram(local_mode=True)
    await local.start()
    harness = BotHarness(
        local,
        settings.model_copy(
            update={
                "telegram_local_mode": True,
                "telegram_api_url": local.url,
                "telegram_bot_token": settings.telegram_bot_token,
            }
        ),
        engine,
        SECRET.encode(),
    )
    await harness.start()
    try:
        user = local.user()
        await reach(user, "evidence")
        await user.send_document(size=25 * MB, file_name="big.bin")
        await user.wait_for_message(lambda m: "received" in (m.text or ""), timeout=30)
        media = (await harness.all(Media))[0]
        assert media.status == "stored"
        assert media.size == 25 * MB
        served = local.files.get(media.file_id)
        assert media.sha256 == served.sha256
    finally:
        await harness.stop()
        await local.close()


async def test_transient_faults_are_retried(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "evidence")
    fake.fail("getFile", status=500, times=1)
    fake.fail_download(None, status=502, times=1)
    fake.fail("sendMessage", status=429, retry_after=1, times=1)
    await user.send_document(PDF, file_name="a.pdf", mime_type="application/pdf")
    ack = await user.wait_for_message(lambda m: "received" in (m.text or ""), timeout=10)
    assert "1 file received" in ack.text
    media = (await bot.all(Media))[0]
    assert (media.status, media.sha256) == ("stored", hashlib.sha256(PDF).hexdigest())


async def test_a_permanent_download_failure_is_recorded_and_told(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "evidence")
    fake.fail_download(None, status=500, times=None)
    await user.send_document(PDF, file_name="a.pdf", mime_type="application/pdf")
    ack = await user.wait_for_message(lambda m: "could not be saved" in (m.text or ""), timeout=15)
    assert t("en", "evidence-failed", count=1) in ack.text
    media = (await bot.all(Media))[0]
    assert (media.status, media.failure_reason) == ("failed", "http_500")
    fake.clear_faults()
    await user.send_document(PDF, file_name="a.pdf", mime_type="application/pdf")
    await user.wait_for_message(lambda m: "1 file received, 1 in total" in (m.text or ""))


async def test_metadata_is_read_from_originals(
    bot: BotHarness, fake: FakeTelegram, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "original.jpg"
    jpeg_with_gps(path)
    user = fake.user()
    await reach(user, "evidence")
    await user.send_document(path.read_bytes(), file_name="IMG_0001.JPG", mime_type="image/jpeg")
    await user.wait_for_message(lambda m: "received" in (m.text or ""))
    media = (await bot.all(Media))[0]
    assert media.recompressed is False
    assert media.detected_mime == "image/jpeg"
    assert abs(media.file_metadata["gps"]["lat"] - 50.54741) < 1e-4
    assert media.file_metadata["exif"]["Image Model"] == "TestPhone"


async def test_the_same_content_is_stored_once(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "evidence")
    await user.send_document(PDF, file_name="a.pdf", mime_type="application/pdf")
    await user.send_document(PDF, file_name="copy.pdf", mime_type="application/pdf")
    await user.wait_for_message(lambda m: "2 in total" in (m.text or ""))
    media = await bot.all(Media)
    assert len(media) == 2
    assert media[0].storage_key == media[1].storage_key
    files = [p for p in (bot.settings.media_dir / "originals").rglob("*") if p.is_file()]
    assert len(files) == 1


async def test_a_slow_download_does_not_delay_another_reporter(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    slow, quick = fake.user(), fake.user()
    await reach(slow, "evidence")
    await onboard(quick)
    fake.slow_download(None, first_byte_delay=3.0)
    upload = asyncio.create_task(
        slow.send_document(PDF, file_name="a.pdf", mime_type="application/pdf")
    )
    await fake.wait_for_call(lambda c: c.method == "getFile", timeout=5)
    started = time.monotonic()
    await quick.press(label("en", "menu-new"))
    reply_seconds = time.monotonic() - started
    assert label("en", "category-strike") in quick.buttons()
    assert not upload.done(), "the slow download is still going"
    assert reply_seconds < 1.5, reply_seconds
    await upload
    await slow.wait_for_message(lambda m: "received" in (m.text or ""), timeout=10)
    async with bot.session() as session:
        assert (await session.execute(select(Media.status))).scalar_one() == "stored"


async def test_photo_sizes_the_largest_is_kept(bot: BotHarness, fake: FakeTelegram) -> None:
    image = io.BytesIO()
    Image.new("RGB", (1280, 960), (200, 0, 0)).save(image, "JPEG")
    user = fake.user()
    await reach(user, "evidence")
    await user.send_photo(content=image.getvalue(), sizes=((90, 67), (320, 240), (1280, 960)))
    await user.wait_for_message(lambda m: "received" in (m.text or ""))
    media = (await bot.all(Media))[0]
    assert (media.width, media.height) == (1280, 960)
    assert media.sha256 == hashlib.sha256(image.getvalue()).hexdigest()
