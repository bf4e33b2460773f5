"""The reporter defects of issue 10, section 3, each shown end to end through the fake Bot API:
late acknowledgements, voice testimony, Back buttons, files before consent, dates in words,
time zones, wording, and how many messages a step takes."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.settings import ConfigError, load_settings
from db.models import ChatMessage as ChatCheckpoint
from db.models import CustodyEntry, Media, Reporter, Tip
from tests.e2e.flows import JPEG, PDF, file_complete_report, label, onboard, t
from tests.e2e.moderators import Moderation, mt, seed_tips
from tests.e2e.test_wrong_input import reach
from tests.fakebot import AlbumItem, ChatMessage, FakeTelegram, FakeUser
from tests.harness import BotHarness

LANGS = ["uk", "ru", "en"]


async def settled(bot: BotHarness, user: FakeUser) -> None:
    """Until the chat has nothing in flight: no update being handled and no acknowledgement
    waiting for its quiet moment (or being sent)."""
    acks = bot.services.acks
    deadline = time.monotonic() + 10.0
    while not acks.settled(user.chat_id):
        assert time.monotonic() < deadline, "the chat did not settle"
        await asyncio.sleep(0.01)


def callback_data(message: ChatMessage) -> list[str]:
    return [str(data) for row in message.inline_buttons for _, data in row]


def step_title(lang: str, step: str, number: int) -> str:
    return t(lang, f"step-{step}-title", number=number, total=8)


# ---------------------------------------------------------------------------- late acks


async def test_a_late_acknowledgement_leaves_no_live_screen_of_a_finished_step(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    """Done pressed on the step's screen while the file's acknowledgement is on its way: the
    acknowledgement, which now sits below the rest of the report, keeps its receipt and
    loses the finished step's screen and buttons."""
    user = fake.user()
    await reach(user, "evidence")
    screen = user.last_bot_message()
    await user.send_photo(content=JPEG)
    ack = await user.wait_for_message(lambda m: "received" in (m.text or ""))
    assert "r:evidence:done" in callback_data(ack)
    # The reporter's thumb was already on the screen above the photo (then "Skip — I have
    # no files", the same button as "Done").
    await user.press_data("r:evidence:done", message=screen)
    await user.press(re.compile(rf"^(✓ )?{re.escape(label('en', 'contact-no'))}$"))
    await user.press(label("en", "review-submit"))
    await settled(bot, user)
    sent = user.message(screen.message_id)
    assert t("en", "submitted", reference=(await bot.all(Tip))[0].reference)[:20] in sent.text
    below = [m for m in user.bot_messages() if m.message_id > sent.message_id]
    assert [m.message_id for m in below] == [ack.message_id]
    for message in below:
        assert not message.inline_buttons, message.text
        assert step_title("en", "evidence", 6) not in (message.text or "")
    assert "1 file received, 1 in total" in user.message(ack.message_id).text
    assert (await bot.all(Tip))[0].status == "submitted"


async def test_a_newer_acknowledgement_retires_the_previous_one(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    """Two bursts at one step: only the latest acknowledgement keeps the step's buttons."""
    user = fake.user()
    await reach(user, "evidence")
    await user.send_photo(content=JPEG)
    first = await user.wait_for_message(lambda m: "1 in total" in (m.text or ""))
    await user.send_document(PDF, file_name="a.pdf", mime_type="application/pdf")
    second = await user.wait_for_message(lambda m: "2 in total" in (m.text or ""))
    await settled(bot, user)
    assert not user.message(first.message_id).inline_buttons
    assert "1 file received, 1 in total" in user.message(first.message_id).text
    assert "r:evidence:done" in callback_data(user.message(second.message_id))


# ---------------------------------------------------------------------------- voice


@pytest.mark.parametrize("lang", LANGS)
async def test_a_voice_message_at_step_2_is_answered_once(
    bot: BotHarness, fake: FakeTelegram, lang: str
) -> None:
    user = fake.user(language_code=lang)
    await reach(user, "description", lang)
    before = len(user.bot_messages())
    await user.send_voice(content=b"OggS" + b"\x03" * 300, duration=20)
    await settled(bot, user)
    new = user.bot_messages()[before:]
    assert len(new) == 1, [m.text for m in new]
    assert t(lang, "description-voice-saved") in new[0].text
    assert new[0].text.count(step_title(lang, "description", 2)) == 1
    assert label(lang, "nav-next") in user.buttons()


async def test_files_of_the_same_burst_join_the_voice_answer(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    """A photo and then a voice message at step 2: one answer says both."""
    user = fake.user()
    await reach(user, "description")
    before = len(user.bot_messages())
    await user.send_photo(content=JPEG)
    await user.send_voice(content=b"OggS" + b"\x04" * 300, duration=5)
    await settled(bot, user)
    new = user.bot_messages()[before:]
    assert len(new) == 1, [m.text for m in new]
    assert "1 file received, 1 in total" in new[0].text
    assert t("en", "description-voice-saved") in new[0].text


async def test_voice_testimony_is_not_counted_as_a_file(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "description")
    await user.send_voice(content=b"OggS" + b"\x05" * 300, duration=30)
    await user.press(label("en", "nav-next"))
    await user.press(label("en", "when-unknown"))
    await user.press(label("en", "where-unknown"))
    await user.press(label("en", "party-unknown"))
    evidence = user.last_bot_message()
    assert step_title("en", "evidence", 6) in evidence.text
    marker = t("en", "step-evidence-count", total=0).split(":")[0]
    assert marker not in evidence.text, evidence.text
    assert label("en", "evidence-none") in evidence.button_texts
    assert label("en", "evidence-done") not in evidence.button_texts

    await user.send_photo(content=JPEG)
    ack = await user.wait_for_message(lambda m: "received" in (m.text or ""))
    assert "1 file received, 1 in total" in ack.text
    await user.press(label("en", "evidence-done"))
    await user.press(re.compile(rf"^(✓ )?{re.escape(label('en', 'contact-no'))}$"))
    review = user.last_bot_message().text
    assert "Files: 1 (1 photo)" in review, review
    assert "1 voice message" in review.split("When:")[0], "the voice is with the description"


async def test_a_voice_message_with_the_files_is_testimony_too(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "evidence")
    await user.send_voice(content=b"OggS" + b"\x06" * 300, duration=12)
    ack = await user.wait_for_message(lambda m: "🎙" in (m.text or ""))
    assert t("en", "evidence-voices", count=1) in ack.text
    assert "in total" not in ack.text, "no file count for a voice message"
    assert [m.kind for m in await bot.all(Media)] == ["voice"]


# ---------------------------------------------------------------------------- Back


@pytest.mark.parametrize(
    ("step", "open_button", "back_to"),
    [("when", "when-type", "when-today"), ("who", "party-other", "party-unknown")],
)
async def test_a_sub_screen_has_one_back(
    bot: BotHarness, fake: FakeTelegram, step: str, open_button: str, back_to: str
) -> None:
    user = fake.user()
    await reach(user, step)
    await user.press(label("en", open_button))
    texts = user.buttons()
    assert texts.count(label("en", "nav-back")) == 1, texts
    assert len(set(texts)) == len(texts), f"two buttons look the same: {texts}"
    await user.press(label("en", "nav-back"))
    assert label("en", back_to) in user.buttons()
    assert (await bot.all(Tip))[0].step == step
    # The main screen's Back still leads to the step before.
    await user.press(label("en", "nav-back"))
    assert (await bot.all(Tip))[0].step != step


async def test_a_sub_screen_opened_from_the_review_has_one_back(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "review")
    await user.press(label("en", "review-edit-when"))
    await user.press(label("en", "when-type"))
    texts = user.buttons()
    backs = [text for text in texts if text.startswith("◀️")]
    assert len(backs) == 1, texts


# ---------------------------------------------------------------------------- before consent


@pytest.mark.parametrize("lang", LANGS)
async def test_files_before_consent_are_not_kept_and_the_reporter_is_told(
    bot: BotHarness, fake: FakeTelegram, lang: str
) -> None:
    user = fake.user(language_code=lang)
    await user.send_album([AlbumItem.photo(content=JPEG + bytes([i])) for i in range(3)])
    await settled(bot, user)
    answers = user.bot_messages()
    assert len(answers) == 1, [m.text for m in answers]
    assert t(lang, "files-before-consent", count=3) in answers[0].text
    assert any("English" in text for text in answers[0].button_texts), "and the language choice"
    assert fake.calls_to("getFile") == [], "nothing was downloaded"
    for model in (Tip, Media, Reporter, ChatCheckpoint, CustodyEntry):
        assert await bot.count(model) == 0, model

    await user.send_document(PDF, file_name="a.pdf", mime_type="application/pdf")
    await settled(bot, user)
    assert t(lang, "files-before-consent", count=1) in user.last_bot_message().text
    await onboard(user, lang)
    assert await bot.count(Media) == 0


# ---------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("lang", "typed", "days_ago"),
    [
        ("uk", "вчора", 1),
        ("uk", "Сьогодні", 0),
        ("ru", "вчера.", 1),
        ("ru", "сегодня", 0),
        ("en", " Yesterday ", 1),
        ("en", "today!", 0),
    ],
)
async def test_today_and_yesterday_can_be_typed(
    bot: BotHarness, fake: FakeTelegram, lang: str, typed: str, days_ago: int
) -> None:
    user = fake.user(language_code=lang)
    await reach(user, "when", lang)
    await user.press(label(lang, "when-type"))
    await user.send_text(typed)
    tip = (await bot.all(Tip))[0]
    expected = datetime.now(ZoneInfo("Europe/Kyiv")).date() - timedelta(days=days_ago)
    assert (tip.incident_date, tip.incident_date_precision, tip.step) == (expected, "day", "where")


# ---------------------------------------------------------------------------- time zones


def test_the_time_zone_is_a_setting() -> None:
    assert load_settings(_env_file=None).tipbot_timezone == "Europe/Kyiv"
    assert load_settings(_env_file=None, tipbot_timezone=" UTC ").tipbot_timezone == "UTC"
    with pytest.raises(ConfigError, match=r"^TIPBOT_TIMEZONE: .*Europe/Kyiv"):
        load_settings(_env_file=None, tipbot_timezone="Kyiv")
    with pytest.raises(ConfigError, match=r"^TIPBOT_TIMEZONE: "):
        load_settings(_env_file=None, tipbot_timezone="../../etc/passwd")


def test_a_moment_names_its_offset() -> None:
    from types import SimpleNamespace
    from typing import cast

    from handlers.base import Services
    from handlers.render import moment_text

    def shown(zone: str, moment: datetime) -> str:
        return moment_text(cast(Services, SimpleNamespace(timezone=ZoneInfo(zone))), moment)

    winter, summer = (
        datetime(2026, 1, 15, 10, 0, tzinfo=UTC),
        datetime(2026, 7, 15, 10, 0, tzinfo=UTC),
    )
    assert shown("Europe/Kyiv", winter) == "15.01.2026 12:00 UTC+2"
    assert shown("Europe/Kyiv", summer) == "15.07.2026 13:00 UTC+3"
    assert shown("UTC", winter) == "15.01.2026 10:00 UTC"
    assert shown("America/St_Johns", winter) == "15.01.2026 06:30 UTC-3:30"


async def test_times_on_cards_carry_their_time_zone(moderation: Moderation) -> None:
    m = moderation
    (reference,) = await seed_tips(m.bot, 1)
    card = await m.card(reference)
    await m.alice.press(mt("mod-btn-take"), chat=m.group, message=card)
    text = m.latest(card.message_id).text or ""
    offset = datetime.now(ZoneInfo("Europe/Kyiv")).utcoffset()
    assert offset is not None
    hours = int(offset.total_seconds() // 3600)
    assert re.search(rf"\d\d\.\d\d\.\d{{4}} \d\d:\d\d UTC\+{hours}\b", text), text

    await m.bot.stop()
    await m.bot.start(tipbot_timezone="UTC")
    assert m.bot.services.timezone == ZoneInfo("UTC")
    await m.alice.press(mt("mod-btn-release"), chat=m.group, message=card)
    text = m.latest(card.message_id).text or ""
    now = datetime.now(UTC)
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d UTC\b(?!\+)", text), text
    assert (
        now.strftime("%d.%m.%Y") in text
        or (now - timedelta(minutes=1)).strftime("%d.%m.%Y") in text
    )


# ---------------------------------------------------------------------------- wording


@pytest.mark.parametrize(("lang", "word"), [("uk", "Номер звернення"), ("ru", "Номер обращения")])
async def test_the_reference_keeps_its_name_after_erasing(
    bot: BotHarness, fake: FakeTelegram, lang: str, word: str
) -> None:
    user = fake.user(language_code=lang)
    await onboard(user, lang)
    reference = await file_complete_report(user, lang, with_files=False)
    assert word in user.last_bot_message().text
    await user.press(label(lang, "erase-button"))
    await settled(bot, user)
    kept = [m.text or "" for m in user.bot_messages()]
    assert any(reference in text and word in text for text in kept), kept
    assert not any("Код" in text for text in kept), kept


def test_wording_nits() -> None:
    assert "Вони" not in t("uk", "step-contact-text")
    assert "Они " not in t("ru", "step-contact-text")
    assert "Кто несёт ответственность?" in t("ru", "step-who-title", number=5, total=8)
    assert "не раніше 20 лютого 2014" in t("uk", "date-error-too_early", earliest="20 лютого 2014")
    assert "не ранее 20 февраля 2014" in t("ru", "date-error-too_early", earliest="20 февраля 2014")


# ---------------------------------------------------------------------------- fewer messages


@pytest.mark.parametrize("how", ["skip", "back", "typed", "cancel"])
async def test_no_lone_tick_when_leaving_the_place_step(
    bot: BotHarness, fake: FakeTelegram, how: str
) -> None:
    user = fake.user()
    await reach(user, "where")
    before = len(user.bot_messages())
    if how == "skip":
        await user.press(label("en", "where-unknown"))
    elif how == "back":
        await user.press(label("en", "nav-back"))
    elif how == "typed":
        await user.send_text("Буча")
        await user.press(re.compile(r"^(Буча|Bucha),"))
    else:
        await user.press(label("en", "nav-cancel"))
        await user.press(label("en", "discard-yes"))
    await settled(bot, user)
    for message in user.bot_messages()[before:]:
        assert (message.text or "").strip() not in ("✓", ""), user.describe()
    assert not user.reply_keyboard


async def test_an_acknowledgement_does_not_repeat_the_step_text(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "evidence")
    await user.send_photo(content=JPEG)
    ack = await user.wait_for_message(lambda m: "received" in (m.text or ""))
    full = t("en", "step-evidence-text", max=30)
    assert full.splitlines()[0] not in ack.text
    assert step_title("en", "evidence", 6) in ack.text, "it still says where the reporter is"
    assert label("en", "evidence-done") in ack.button_texts

    # A file at another step: the receipt, the step's name and its buttons.
    await user.press(label("en", "evidence-done"))
    await user.send_document(PDF, file_name="late.pdf", mime_type="application/pdf")
    late = await user.wait_for_message(lambda m: "received" in (m.text or ""))
    assert t("en", "step-contact-text") not in late.text
    assert step_title("en", "contact", 7) in late.text
    assert callback_data(late) == callback_data(user.message(late.message_id))
    assert any(data.startswith("r:contact:") for data in callback_data(late))


async def test_saved_description_text_is_answered_briefly(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "description")
    await user.send_text("More: the school's roof is gone.")
    reply = user.last_bot_message().text
    assert t("en", "description-saved") in reply
    assert t("en", "step-description-text").splitlines()[0] not in reply
    assert "Saved so far" in reply
    assert label("en", "nav-next") in user.buttons()


async def test_a_file_at_the_review_is_acknowledged_with_the_summary(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    """At the review the summary is what the reporter checks: it stays in the receipt, up
    to date, while the instructions are not repeated."""
    user = fake.user()
    await reach(user, "review")
    await user.send_photo(content=JPEG)
    ack = await user.wait_for_message(lambda m: "received" in (m.text or ""))
    assert step_title("en", "review", 8) in ack.text
    assert "Files: 1 (1 photo)" in ack.text
    assert t("en", "step-review-text") not in ack.text
    assert label("en", "review-submit") in ack.button_texts
