"""``/export`` through the fake Bot API server: an admin chooses with buttons and receives a
document whose SHA-256 is the one in its custody entry; anyone else is refused in their
language and the attempt is logged; an export over Telegram's 50 MB gets the command line
instead; the bot keeps answering others while an export runs."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import handlers.admin as admin_module
from bot import moderation
from bot.export.filters import STATUSES, Profile
from bot.i18n import plain
from bot.taxonomy import CATEGORY_CODES
from db.engine import transaction
from db.models import CustodyEntry
from tests.builders import BuiltTip, submit_tip
from tests.conftest import SECRET, make_settings
from tests.e2e.flows import label, onboard, t
from tests.fakebot import ChatMessage, FakeTelegram, FakeUser
from tests.harness import BotHarness

MODERATOR = moderation.Moderator(id=42, name="Olena")
MiB = 1024 * 1024


class Admin:
    """The bot configured with two admins (Ada writes in English, Oksana in Ukrainian)."""

    def __init__(
        self, bot: BotHarness, fake: FakeTelegram, user: FakeUser, oksana: FakeUser
    ) -> None:
        self.bot = bot
        self.fake = fake
        self.user = user
        self.oksana = oksana

    @property
    def exports(self) -> Path:
        return self.bot.settings.tipbot_data_dir / "exports"

    async def seed(self, files: list[bytes] | None = None, *, verify: bool = False) -> BuiltTip:
        built = await submit_tip(self.bot.sessions, self.bot.services.store, files=files)
        if verify:
            async with transaction(self.bot.sessions) as session:
                tip = await moderation.tip_for_update(session, built.id)
                assert tip is not None
                await moderation.verify(session, tip, MODERATOR, notify=False)
        return built

    async def entries(self, *actions: str) -> list[CustodyEntry]:
        found = await self.bot.all(CustodyEntry, CustodyEntry.action.in_(actions))
        return sorted(found, key=lambda entry: entry.seq)

    async def document(self) -> ChatMessage:
        return await self.user.wait_for_message(
            lambda m: m.media_kind == "document", new_only=False, timeout=30
        )

    async def settled(self) -> None:
        """Until the background export has finished and cleaned up after itself."""
        assert self.bot.app is not None
        jobs: admin_module.ExportJobs = self.bot.app.bot_data[admin_module.JOBS_KEY]
        await until(lambda: not jobs.running(self.user.id) and not jobs.running(self.oksana.id))
        await until(lambda: not any(self.exports.iterdir()))


async def until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Wait until ``condition()`` holds (polling: the export runs in the background)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the condition was not met")


@pytest.fixture
async def admin(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> AsyncIterator[Admin]:
    user = fake.user(first_name="Ada", language_code="en")
    oksana = fake.user(first_name="Оксана", language_code="uk")
    settings = make_settings(fake, database_url, tmp_path, admin_ids=[user.id, oksana.id])
    harness = BotHarness(fake, settings, engine, SECRET.encode())
    await harness.start()
    yield Admin(harness, fake, user, oksana)
    await harness.stop()


async def choose(user: FakeUser, lang: str, what: str, profile: str = "investigator") -> None:
    await user.send_command("/export")
    assert t(lang, "adm-choose-what") in (user.last_bot_message().text or "")
    await user.press(label(lang, f"adm-what-{what}"))
    await user.press(label(lang, f"adm-profile-{profile}"))


async def test_an_admin_receives_a_table_whose_hash_is_in_the_custody_log(
    admin: Admin, fake: FakeTelegram
) -> None:
    first = await admin.seed(verify=True)
    second = await admin.seed()
    user = admin.user
    await choose(user, "en", "csv")
    picker = user.last_bot_message()
    assert "2 reports match" in (picker.text or "")
    await user.press(label("en", "adm-btn-start"))
    document = await admin.document()
    await admin.settled()

    (call,) = fake.calls_to("sendDocument", chat_id=user.id)
    received = call.uploads["document"].read_bytes()
    sha256 = hashlib.sha256(received).hexdigest()
    (entry,) = await admin.entries("exported")
    assert entry.details["sha256"] == sha256
    assert entry.details["format"] == "csv"
    assert entry.details["rows"] == 2
    assert entry.actor == "admin:" + admin.bot.services.keyring.pseudonym(user.id)
    assert str(user.id) not in entry.actor
    caption = document.text or ""
    assert sha256 in caption
    assert entry.details["export_id"] in caption
    assert call.uploads["document"].file_name.endswith(".csv")
    text = received.decode("utf-8")
    assert first.reference in text
    assert second.reference in text
    # The picker became the progress message, and then says the export is ready.
    final = user.message(picker.message_id)
    assert final is not None
    assert final.text == t("en", "adm-done", export_id=entry.details["export_id"])
    assert not final.inline_buttons
    assert list(admin.exports.iterdir()) == [], "the file is deleted once sent"


async def test_a_bundle_with_filters_in_ukrainian(admin: Admin, fake: FakeTelegram) -> None:
    verified = await admin.seed([b"photo of the ruins"], verify=True)
    other = await admin.seed([b"another file"])
    user = admin.oksana
    await choose(user, "uk", "zip")
    await user.press(label("uk", "adm-btn-statuses"))
    await user.press(label("uk", "mod-status-verified"))
    assert f"✓ {t('uk', 'mod-status-verified')}" in user.buttons()
    await user.press(label("uk", "adm-btn-done"))
    await user.press(label("uk", "adm-btn-period"))
    await user.press(t("uk", "adm-period-days", days=30))
    summary = user.last_bot_message().text or ""
    assert "Відповідає 1 звернення" in summary
    assert t("uk", "adm-period-days", days=30) in summary
    await user.press(label("uk", "adm-btn-start"))
    document = await user.wait_for_message(
        lambda m: m.media_kind == "document", new_only=False, timeout=30
    )
    (call,) = fake.calls_to("sendDocument", chat_id=user.id)
    received = call.uploads["document"].read_bytes()
    (entry,) = await admin.entries("bundle_exported")
    assert entry.details["sha256"] == hashlib.sha256(received).hexdigest()
    assert entry.details["profile"] == "investigator"
    assert entry.details["filters"]["statuses"] == ["verified"]
    assert entry.details["filters"]["since"] is not None
    assert entry.actor == "admin:" + admin.bot.services.keyring.pseudonym(user.id)
    assert "Пакет доказів" in (document.text or "")
    with zipfile.ZipFile(io.BytesIO(received)) as archive:
        names = archive.namelist()
    assert any(name.endswith("/bagit.txt") for name in names)
    assert any(verified.shas[0] in name for name in names), "the verified tip's original"
    assert not any(other.shas[0] in name for name in names), "not the unverified tip's"
    await admin.settled()


async def test_anyone_else_is_refused_in_their_language_and_logged(
    admin: Admin, fake: FakeTelegram
) -> None:
    reporter = fake.user(first_name="Taras", language_code="en")
    await onboard(reporter, "uk")
    await reporter.send_command("/export")
    assert reporter.last_bot_message().text == t("uk", "adm-refused")
    # A forged button of the admin dialog, pressed on any message of the bot.
    await reporter.press_data("adm:go:csv.i.00.-.-.0")
    answer = reporter.last_callback_answer
    assert answer is not None
    assert answer.text == plain(t("uk", "adm-refused"))
    assert answer.show_alert
    stranger = fake.user(first_name="Ivan", language_code="ru")
    await stranger.send_command("/export")
    assert stranger.last_bot_message().text == t("ru", "adm-refused")

    refused = await admin.entries("export_refused")
    assert [e.details for e in refused] == [
        {"via": "command", "private": True},
        {"via": "button", "private": True},
        {"via": "command", "private": True},
    ]
    pseudonym = admin.bot.services.keyring.pseudonym(reporter.id)
    assert refused[0].actor == f"unauthorised:{pseudonym[:16]}"
    assert all(str(reporter.id) not in e.actor for e in refused)
    assert fake.calls_to("sendDocument") == []
    assert await admin.entries("exported", "bundle_exported") == []


async def test_stale_forged_and_repeated_buttons_do_nothing(
    admin: Admin, fake: FakeTelegram
) -> None:
    await admin.seed()
    user = admin.user
    await choose(user, "en", "jsonl")
    picker = user.last_bot_message()
    for forged in (
        "adm:go:pdf.i.00.-.-.0",
        "adm:go:csv.i.00.nonsense.-.0",
        "adm:go:csv.i.00.-.99.0",
        "adm:go:csv.i.00.-.-.14",
        "adm:rm:csv.i.00.-.-.0",
        "adm:go",
    ):
        await user.press_data(forged, message=picker)
        answer = user.last_callback_answer
        assert answer is not None
        assert answer.text == t("en", "adm-stale"), forged
    assert fake.calls_to("sendDocument") == []
    await user.press(label("en", "adm-btn-start"))
    start = next(d for row in picker.inline_buttons for (text, d) in row if "Start" in text)
    await user.press_data(str(start), message=picker)  # a second tap on the same Start
    answer = user.last_callback_answer
    assert answer is not None
    assert answer.text == t("en", "adm-stale")
    await admin.document()
    await admin.settled()
    assert len(await admin.entries("exported")) == 1
    assert len(fake.calls_to("sendDocument")) == 1
    # Cancel leaves a plain message.
    await user.send_command("/export")
    await user.press(label("en", "adm-btn-cancel"))
    assert user.last_bot_message().text == t("en", "adm-cancelled")
    assert not user.last_bot_message().inline_buttons


async def test_an_export_over_50_mb_gets_the_command_line_instead(
    admin: Admin, fake: FakeTelegram
) -> None:
    big = os.urandom(60 * MiB)  # incompressible: the ZIP stays over 50 MB
    await admin.seed([big])
    del big
    user = admin.user
    await choose(user, "en", "zip")
    await user.press(label("en", "adm-btn-start"))
    message = await user.wait_for_message(
        lambda m: "tipbot bundle --out" in (m.text or ""), new_only=False, timeout=120
    )
    text = message.text or ""
    assert "larger than 50 MB" in text
    assert "--profile investigator" in text
    command = text[text.index("tipbot bundle") :]
    assert command.startswith("tipbot bundle --out tipbot-bundle-")
    assert ".zip --profile investigator" in command
    await admin.settled()
    assert fake.calls_to("sendDocument") == []
    assert list(admin.exports.iterdir()) == []
    # Either stopped while it grew (nothing recorded) or recorded and then discarded.
    bundles = await admin.entries("bundle_exported")
    discarded = await admin.entries("export_discarded")
    assert len(discarded) == len(bundles)
    for made, gone in zip(bundles, discarded, strict=True):
        assert gone.details == {"export_id": made.details["export_id"], "reason": "too_large"}


async def test_the_bot_answers_others_while_an_export_runs(
    admin: Admin, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    await admin.seed()
    started, release = asyncio.Event(), asyncio.Event()
    real = admin_module.export_table

    async def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(admin_module, "export_table", held)
    user = admin.user
    await choose(user, "en", "xlsx")
    await user.press(label("en", "adm-btn-start"))
    await asyncio.wait_for(started.wait(), 10)

    other = fake.user(first_name="Olha", language_code="en")
    await other.send_command("/start")
    assert t("en", "language-choose") in (other.last_bot_message().text or "")
    # The admin's chat is not blocked either, but a second export waits for the first.
    await choose(user, "en", "csv")
    await user.press(label("en", "adm-btn-start"))
    answer = user.last_callback_answer
    assert answer is not None
    assert answer.text == t("en", "adm-busy")
    assert answer.show_alert
    assert fake.calls_to("sendDocument") == []

    release.set()
    document = await admin.document()
    assert (document.raw["document"]["file_name"] or "").endswith(".xlsx")
    await admin.settled()
    assert len(await admin.entries("exported")) == 1


async def test_an_export_growing_past_the_limit_is_stopped_early(
    admin: Admin, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table export that is still writing when its file passes 50 MB is stopped there:
    nothing more is written, nothing recorded, and the admin gets the command line."""
    await admin.seed()
    stopped = asyncio.Event()

    async def endless(*_args: Any, out: Any, **_kwargs: Any) -> Any:
        out.truncate(51 * MiB)  # sparse: the size without the disk
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    monkeypatch.setattr(admin_module, "export_table", endless)
    monkeypatch.setattr(admin_module, "PROGRESS_EVERY", 0.05)
    user = admin.user
    await choose(user, "en", "csv")
    await user.press(label("en", "adm-btn-start"))
    message = await user.wait_for_message(
        lambda m: "tipbot export --format csv" in (m.text or ""), new_only=False, timeout=30
    )
    await asyncio.wait_for(stopped.wait(), 10)
    assert "larger than 50 MB" in (message.text or "")
    assert "--profile investigator --out tipbot-export-" in (message.text or "")
    await admin.settled()
    assert fake.calls_to("sendDocument") == []
    assert await admin.entries("exported", "export_discarded") == []


async def test_in_a_group_admins_are_sent_to_a_private_chat(
    admin: Admin, fake: FakeTelegram
) -> None:
    group = fake.group(title="Staff")
    moderator = fake.user(first_name="Mykola", language_code="uk")
    group.add_member(admin.user)
    group.add_member(moderator)
    await admin.user.send_command("/export", chat=group)
    assert group.messages[-1].text == t("en", "adm-private-only")
    await moderator.send_command("/export", chat=group)
    assert group.messages[-1].text == t("uk", "adm-refused")
    (refused,) = await admin.entries("export_refused")
    assert refused.details == {"via": "command", "private": False}
    assert fake.calls_to("sendDocument") == []


def test_every_choice_fits_in_callback_data_and_reads_back() -> None:
    longest = max(CATEGORY_CODES, key=len)
    choice = admin_module.Choice(
        what="geojson",
        profile=Profile.PUBLIC,
        statuses=STATUSES,
        category=longest,
        oblast="27",
        days=90,
    )
    for screen in ("st", "go"):
        data = admin_module.data(screen, choice)
        assert len(data.encode()) <= 64, data
        assert admin_module.parse(data, CATEGORY_CODES) == (screen, choice)
    assert admin_module.parse("adm:go:" + choice.encode() + "\n", CATEGORY_CODES) is None
    assert admin_module.parse(admin_module.data("go", choice), ("strike",)) is None
    assert admin_module.parse("adm:x", CATEGORY_CODES) == ("x", None)


async def test_a_file_telegram_refuses_is_recorded_as_discarded(
    admin: Admin, fake: FakeTelegram
) -> None:
    await admin.seed()
    fake.fail("sendDocument", status=400, description="Bad Request: file must be non-empty")
    user = admin.user
    await choose(user, "en", "geojson")
    await user.press(label("en", "adm-btn-start"))
    message = await user.wait_for_message(
        lambda m: "tipbot export --format geojson" in (m.text or ""), new_only=False, timeout=30
    )
    assert "could not be sent" in (message.text or "")
    await admin.settled()
    (made,) = await admin.entries("exported")
    (gone,) = await admin.entries("export_discarded")
    assert gone.details == {"export_id": made.details["export_id"], "reason": "send_failed"}
    assert gone.actor == made.actor
