"""Evidence is never lost to the flood gate, a full disk or an erasure that failed once.

Issue 9: 35 forwarded photos lost 12 to the flood gate (and the next message); a disk that
filled up lost the file with "something went wrong" and no word to the operators; an
original whose erasure failed once stayed on disk for good.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import select, update

from bot import intake
from bot.evidence.verify import Report, check_files
from bot.media import MediaStore
from db.models import MEDIA_FAILED, MEDIA_STORED, Media, PendingErasure, Tip
from tests.e2e.flows import JPEG, label, onboard, t
from tests.e2e.moderators import Moderation
from tests.e2e.test_moderation_cards import report
from tests.fakebot import AlbumItem, FakeTelegram, FakeUser
from tests.harness import BotHarness


def photo(number: int) -> bytes:
    """A distinct small JPEG per number (the store keeps each content once)."""
    return JPEG + number.to_bytes(4, "big")


async def forward_photos_at_once(user: FakeUser, count: int) -> None:
    """``count`` photos forwarded from a channel in one go: all queued before any is
    processed, as Telegram delivers a multi-select forward (no album: one update each)."""
    state = user._chat_for_action(None)
    stored = []
    for number in range(count):
        content = await user._item_content(AlbumItem.photo(photo(number)))
        content["forward_origin"] = {
            "type": "channel",
            "chat": {"id": -1_001_987_654_321, "type": "channel", "title": "News"},
            "message_id": 100 + number,
            "date": user._fake.clock.now() - 3600,
        }
        stored.append(user._store(state, content))
    await user._push(state, "message", stored)


def last_text(user: FakeUser) -> str:
    message = user.last_bot_message()
    return (message.text or "") if message is not None else ""


async def settle(bot: BotHarness, user: FakeUser) -> None:
    """Until the chat's acknowledgement is out (the ack delay is 50 ms in tests)."""
    await user.wait_for_message(lambda m: bot.services.acks.settled(user.id), timeout=5)


# ---------------------------------------------------------------------------- flood gate


async def test_35_forwarded_photos_are_all_counted(bot: BotHarness, fake: FakeTelegram) -> None:
    await bot.stop()
    await bot.start(tipbot_max_updates_per_minute=30)  # the default
    user = fake.user()
    await onboard(user)
    await user.send_command("/report")
    before = len(user.bot_messages())
    await forward_photos_at_once(user, 35)
    limit = t("en", "evidence-limit", count=5, max=30)
    await user.wait_for_message(lambda m: limit in (m.text or ""), timeout=10)
    stored = await bot.count(Media, Media.status == MEDIA_STORED)
    assert stored == 30, "every photo up to the report's limit is kept"
    said = "\n".join(m.text or "" for m in user.bot_messages()[before:])
    assert t("en", "evidence-received", count=30, total=30) in said
    assert t("en", "flood-notice") not in said, "files never trip the flood gate"
    # The next message is heard.
    await user.send_command("/help")
    assert t("en", "help").split("\n")[0] in last_text(user)


async def test_files_past_the_limit_in_several_bursts_are_told_exactly(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await bot.stop()
    await bot.start(tipbot_max_files_per_report=3)
    user = fake.user()
    await onboard(user)
    await user.send_command("/report")
    await user.send_album([AlbumItem.photo(photo(n)) for n in range(5)])
    await user.wait_for_message(
        lambda m: t("en", "evidence-limit", count=2, max=3) in (m.text or ""), timeout=5
    )
    await user.send_photo(content=photo(9))
    await user.wait_for_message(
        lambda m: t("en", "evidence-limit", count=1, max=3) in (m.text or ""), timeout=5
    )
    assert await bot.count(Media) == 3


async def test_a_flood_of_taps_still_gets_one_notice(bot: BotHarness, fake: FakeTelegram) -> None:
    await bot.stop()
    await bot.start(tipbot_max_updates_per_minute=6)
    user = fake.user()
    await onboard(user)
    await user.send_command("/report")
    before = len(user.bot_messages())
    for _ in range(12):
        await user.send_command("/help")
    said = [m.text for m in user.bot_messages()[before:]]
    assert said.count(t("en", "flood-notice")) == 1, said
    # Files sent in the middle of the flood are still all kept.
    await forward_photos_at_once(user, 4)
    await user.wait_for_message(
        lambda m: t("en", "evidence-received", count=4, total=4) in (m.text or ""), timeout=5
    )


# ---------------------------------------------------------------------------- disk full


class _Quota:
    """A file writer that fails like a full disk once the store's quota is used up."""

    def __init__(self, handle: IO[bytes], store: QuotaStore) -> None:
        self._handle = handle
        self._store = store

    def write(self, data: bytes) -> int:
        if self._store.used + len(data) > self._store.quota:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._store.used += len(data)
        return self._handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class QuotaStore(MediaStore):
    """A media folder on a small filesystem (``quota`` bytes), whose links and unlinks can
    be made to fail (``fail_links``, ``fail_deletes``) like a broken disk."""

    def __init__(self, root: Path, quota: int) -> None:
        super().__init__(root)
        self.quota = quota
        self.used = 0
        self.fail_links = 0
        self.fail_deletes = 0

    def _open_staging(self, path: Path) -> Any:
        return _QuotaFile(path, self)

    def _link(self, source: Path, target: Path) -> None:
        if self.fail_links:
            self.fail_links -= 1
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        super()._link(source, target)

    def _unlink(self, path: Path) -> None:
        if self.fail_deletes:
            self.fail_deletes -= 1
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        super()._unlink(path)


class _QuotaFile:
    def __init__(self, path: Path, store: QuotaStore) -> None:
        self._handle = path.open("wb")
        self._writer = _Quota(self._handle, store)

    def __enter__(self) -> _Quota:
        return self._writer

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


@pytest.fixture
def small_disk(bot: BotHarness) -> Iterator[QuotaStore]:
    """The running bot's media folder, now on a small (fault-injecting) filesystem."""
    services = bot.services
    store = QuotaStore(services.store.root, quota=2 * len(photo(0)) + 10)
    original = services.store
    services.store = store
    services.downloader._store = store
    yield store
    services.store = original


async def test_disk_full_tells_the_reporter_and_the_operator(
    bot: BotHarness, fake: FakeTelegram, small_disk: QuotaStore, caplog: pytest.LogCaptureFixture
) -> None:
    user = fake.user()
    await onboard(user)
    await user.send_command("/report")
    await user.send_photo(content=photo(1))
    await user.send_photo(content=photo(2))
    await settle(bot, user)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await user.send_photo(content=photo(3))  # the third does not fit
        await settle(bot, user)
    said = last_text(user)
    assert t("en", "evidence-storage-failed", count=1) in said
    assert t("en", "error-generic") not in said
    assert label("en", "category-strike") in user.buttons(), "the step is still on screen"
    media = await bot.all(Media)
    assert [m.status for m in media] == [MEDIA_STORED, MEDIA_STORED, MEDIA_FAILED]
    assert media[2].failure_reason == "storage"
    assert (await bot.all(Tip))[0].status == "draft"
    storage = [r for r in caplog.records if "storage" in r.getMessage()]
    assert len(storage) == 1, [r.getMessage() for r in caplog.records]
    line = storage[0]
    assert line.levelno == logging.ERROR
    assert line.exc_info is None
    assert "storage full" in line.getMessage()
    assert "ENOSPC" in line.getMessage()
    assert not list((small_disk.root / "tmp").iterdir()), "no partial file is left"
    # Space is freed: the same photo sent again is kept.
    small_disk.quota *= 4
    await user.send_photo(content=photo(3))
    await settle(bot, user)
    assert t("en", "evidence-received", count=1, total=3) in last_text(user)


async def test_a_storage_error_while_filing_the_original(
    bot: BotHarness, fake: FakeTelegram, small_disk: QuotaStore, caplog: pytest.LogCaptureFixture
) -> None:
    small_disk.quota = 10**9
    user = fake.user(language_code="ru")
    await onboard(user, "ru")
    await user.send_command("/report")
    await user.send_photo(content=photo(1))
    small_disk.fail_links = 1
    with caplog.at_level(logging.INFO):
        await user.send_photo(content=photo(2))
        await settle(bot, user)
    said = last_text(user)
    assert t("ru", "evidence-storage-failed", count=1) in said
    assert t("ru", "evidence-received", count=1, total=1) in said
    assert [r.getMessage() for r in caplog.records if "storage error" in r.getMessage()] == [
        "storage error: could not store a file (EIO); check the disk holding MEDIA_DIR"
    ]
    stored = await bot.all(Media, Media.status == MEDIA_STORED)
    assert len(stored) == 1
    assert small_disk.path_for(stored[0].storage_key).exists()


# ---------------------------------------------------------------------------- erasures


async def test_a_failed_erasure_is_retried_until_the_file_is_gone(
    bot: BotHarness, fake: FakeTelegram, small_disk: QuotaStore
) -> None:
    small_disk.quota = 10**9
    user = fake.user()
    await onboard(user)
    await user.send_command("/report")
    await user.send_photo(content=photo(7))
    await settle(bot, user)
    (media,) = await bot.all(Media)
    original = small_disk.path_for(media.storage_key)
    assert original.exists()

    small_disk.fail_deletes = 1  # a transient error (say, a backup holding the file)
    await user.send_command("/cancel")
    await user.press(label("en", "discard-yes"))
    assert t("en", "discarded") in last_text(user)
    assert await bot.count(Media) == 0
    assert original.exists(), "the first attempt failed"
    (pending,) = await bot.all(PendingErasure)
    assert pending.attempts == 1
    assert pending.next_attempt_at > intake.utcnow()

    # `tipbot verify` names the leftover meanwhile.
    report = Report()
    await check_files(bot.sessions, small_disk, report)
    assert [p.code for p in report.problems] == ["stray_file"]

    # Not due yet: nothing happens.
    assert await intake.retry_erasures(bot.sessions, small_disk) == 0
    assert original.exists()
    # Its time comes: the bot's periodic job deletes it.
    async with bot.session() as session:
        await session.execute(
            update(PendingErasure).values(next_attempt_at=intake.utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    assert bot.app is not None
    assert bot.app.job_queue is not None
    (job,) = bot.app.job_queue.get_jobs_by_name("erasures")
    await job.run(bot.app)
    assert not original.exists()
    assert await bot.count(PendingErasure) == 0
    report = Report()
    await check_files(bot.sessions, small_disk, report)
    assert report.ok


async def test_a_retried_erasure_never_deletes_content_sent_again(
    bot: BotHarness, fake: FakeTelegram, small_disk: QuotaStore
) -> None:
    small_disk.quota = 10**9
    user = fake.user()
    await onboard(user)
    await user.send_command("/report")
    await user.send_photo(content=photo(8))
    await settle(bot, user)
    small_disk.fail_deletes = 3
    await user.send_command("/cancel")
    await user.press(label("en", "discard-yes"))
    assert await bot.count(PendingErasure) == 1
    # The same photo, sent again for a new report, before the retry.
    await user.send_command("/report")
    await user.send_photo(content=photo(8))
    await settle(bot, user)
    (media,) = await bot.all(Media)
    later = intake.utcnow() + timedelta(hours=2)
    assert await intake.retry_erasures(bot.sessions, small_disk, now=later) == 0
    assert small_disk.path_for(media.storage_key).exists()
    assert await bot.count(PendingErasure) == 0, "nothing left to erase"
    async with bot.session() as session:
        assert (await session.execute(select(Media.sha256))).scalar_one() == media.sha256


async def test_additions_past_their_limit_are_told_exactly_once(moderation: Moderation) -> None:
    """Files added to a sent report may number twice the report's limit; those past it
    are counted in one line, not answered one message each."""
    bot = moderation.bot
    await bot.stop()
    await bot.start(tipbot_max_files_per_report=2)  # a report and its additions: 4 files
    reference = await report(moderation)  # two files
    user = next(
        u for u in moderation.fake.users if u.id not in (moderation.alice.id, moderation.bob.id)
    )
    await user.send_command("/myreports")
    await user.press(t("uk", "mine-add-button", reference=reference))
    before = len(user.bot_messages())
    await forward_photos_at_once(user, 5)
    await settle(bot, user)
    said = [m.text or "" for m in user.bot_messages()[before:]]
    limit = t("uk", "evidence-limit", count=3, max=4)
    assert sum(limit in text for text in said) == 1, said
    assert not any(t("uk", "evidence-limit", count=1, max=4) in text for text in said)
    assert await bot.count(Media) == 4
