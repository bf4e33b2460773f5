"""Every step answers wrong input with a clear message in the reporter's language; nothing
crashes and nothing is silently dropped."""

import re

import pytest

from db.models import Media, Tip
from tests.e2e.flows import PDF, label, onboard, t
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotHarness


async def start_report(user: FakeUser, lang: str = "en") -> None:
    await onboard(user, lang)
    await user.press(label(lang, "menu-new"))


async def reach(user: FakeUser, step: str, lang: str = "en") -> None:
    """Walk a new report up to ``step``."""
    await start_report(user, lang)
    order = ["category", "description", "when", "where", "who", "evidence", "contact", "review"]
    for current in order[: order.index(step)]:
        if current == "category":
            await user.press(label(lang, "category-killing"))
        elif current == "description":
            await user.send_text("Two men were shot near the bridge.")
            await user.press(label(lang, "nav-next"))
        elif current == "when":
            await user.press(label(lang, "when-unknown"))
        elif current == "where":
            await user.press(label(lang, "where-unknown"))
        elif current == "who":
            await user.press(label(lang, "party-unknown"))
        elif current == "evidence":
            await user.press(label(lang, "evidence-none"))
        elif current == "contact":
            await user.press(re.compile(rf"^(✓ )?{re.escape(label(lang, 'contact-no'))}$"))


async def current_step(bot: BotHarness) -> str | None:
    tips = await bot.all(Tip)
    return tips[0].step if tips else None


@pytest.mark.parametrize("lang", ["uk", "en"])
async def test_text_where_buttons_are_expected(
    bot: BotHarness, fake: FakeTelegram, lang: str
) -> None:
    user = fake.user(language_code=lang)
    await start_report(user, lang)
    await user.send_text("a strike")
    reply = user.last_bot_message()
    assert t(lang, "use-buttons-category") in reply.text
    assert label(lang, "category-strike") in user.buttons()
    assert await current_step(bot) == "category"


async def test_too_long_description_is_refused_and_nothing_saved(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "description")
    await user.send_text("x" * 4001)
    assert "4,001 characters; up to 4,000" in user.last_bot_message().text
    assert (await bot.all(Tip))[0].description is None
    await user.send_text("first part")
    await user.send_text("second part")
    assert (await bot.all(Tip))[0].description == "first part\n\nsecond part"
    assert label("en", "nav-next") in user.buttons()


async def test_description_total_limit(bot: BotHarness, fake: FakeTelegram) -> None:
    await bot.stop()
    await bot.start(tipbot_description_total_chars=1000)
    user = fake.user()
    await reach(user, "description")
    await user.send_text("a" * 900)
    await user.send_text("b" * 200)
    assert "1,000" in user.last_bot_message().text
    assert (await bot.all(Tip))[0].description == "a" * 900


async def test_next_without_a_description_is_refused(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "description")
    assert label("en", "nav-next") not in user.buttons()
    # An old "Next" can still be pressed from an earlier screen.
    await user.press_data("r:description:next")
    assert t("en", "description-empty") == user.last_callback_answer.text
    assert await current_step(bot) == "description"


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("yesterday-ish", "date-error-format"),
        ("31.02.2022", "date-error-invalid"),
        ("01.01.2099", "date-error-future"),
        ("01.01.2010", "date-error-too_early"),
    ],
)
async def test_bad_dates_say_why(bot: BotHarness, fake: FakeTelegram, typed: str, key: str) -> None:
    user = fake.user()
    await reach(user, "when")
    await user.send_text(typed)
    expected = t("en", key, earliest="20 February 2014")
    assert expected in user.last_bot_message().text
    assert await current_step(bot) == "when"
    assert label("en", "when-today") in user.buttons()


async def test_month_precision_and_time(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "when")
    await user.send_text("03.2022")
    tip = (await bot.all(Tip))[0]
    assert (str(tip.incident_date), tip.incident_date_precision) == ("2022-03-01", "month")
    assert "March 2022" in user.last_bot_message().text
    await user.press(label("en", "nav-back"))
    await user.press(label("en", "when-type"))
    await user.send_text("24.02.2022 05:30")
    tip = (await bot.all(Tip))[0]
    assert str(tip.incident_time) == "05:30:00"


async def test_unknown_place_can_be_kept_as_written(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "where")
    await user.send_text("Zzyzxqwv")
    text = user.last_bot_message().text
    assert t("en", "where-not-found", typed="Zzyzxqwv") in text
    await user.press(re.compile("^Keep “Zzyzxqwv”"))
    tip = (await bot.all(Tip))[0]
    assert (tip.location_source, tip.location_precision, tip.place_text) == (
        "typed_place",
        "text",
        "Zzyzxqwv",
    )
    assert tip.step == "who"


async def test_shared_location_is_placed_approximately(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user(language_code="uk")
    await reach(user, "where", "uk")
    assert not user.reply_keyboard, "no one-tap current-location keyboard"
    await user.share_location(50.5480, 30.2130)
    tip = (await bot.all(Tip))[0]
    assert tip.location_source == "shared_point"
    assert tip.location_precision == "point"
    assert (tip.settlement, tip.oblast) == ("Буча", "13")
    assert tip.lat == pytest.approx(50.548)
    assert "Буча" in user.last_bot_message().text, "saved, above the next step"


async def test_venue_keeps_its_name(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "where")
    await user.send_venue(49.99, 36.23, "School No. 134", "Kharkiv")
    tip = (await bot.all(Tip))[0]
    assert tip.place_text == "School No. 134, Kharkiv"
    assert tip.location_source == "shared_point"


async def test_a_live_location_is_refused_and_its_moves_ignored(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "where")
    sent = await user.share_location(50.45, 30.52, live_period=900)
    assert t("en", "location-live") in (user.last_bot_message().text or "")
    tip = (await bot.all(Tip))[0]
    assert (tip.lat, tip.step) == (None, "where"), "not kept; still at the place step"
    before = len(user.bot_messages())
    for step in range(3):  # the phone moves the point every few seconds
        update = await user.update_live_location(
            sent["message"]["message_id"], 50.45 + step / 1000, 30.52
        )
        await bot.wait_processed(update["update_id"])
    assert len(user.bot_messages()) == before, "no answer to each move"
    assert (await bot.all(Tip))[0].lat is None


async def test_location_at_another_step_is_not_taken(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "category")
    await user.share_location(50.45, 30.52)
    assert t("en", "location-wrong-step") in user.last_bot_message().text
    assert (await bot.all(Tip))[0].lat is None


async def test_responsible_other_with_description(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "who")
    await user.press(label("en", "party-other"))
    await user.send_text("Green uniforms, white armbands, a Z on the truck")
    tip = (await bot.all(Tip))[0]
    assert (tip.perpetrator, tip.perpetrator_text) == (
        "other",
        "Green uniforms, white armbands, a Z on the truck",
    )
    await user.press(label("en", "nav-back"))
    await user.send_text("x" * 1001)
    assert "1,000" in user.last_bot_message().text


@pytest.mark.parametrize(
    "step", ["category", "description", "when", "where", "who", "evidence", "contact", "review"]
)
async def test_stickers_polls_and_contacts_are_not_accepted(
    bot: BotHarness, fake: FakeTelegram, step: str
) -> None:
    user = fake.user()
    await reach(user, step)
    await user.send_sticker()
    assert t("en", "unsupported", what=t("en", "kind-sticker")) in user.last_bot_message().text
    await user.send_contact()
    assert "Contacts are not accepted" in user.last_bot_message().text
    await user.send_poll("Which?", ["a", "b"])
    assert "Polls are not accepted" in user.last_bot_message().text
    assert await current_step(bot) == step
    assert user.buttons(), "the step's buttons are shown again"


@pytest.mark.parametrize("step", ["contact", "review"])
async def test_text_at_button_only_steps(bot: BotHarness, fake: FakeTelegram, step: str) -> None:
    user = fake.user()
    await reach(user, step)
    await user.send_text("hello?")
    assert t("en", f"use-buttons-{step}") in user.last_bot_message().text
    assert await current_step(bot) == step


async def test_text_while_files_are_expected_joins_the_description(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "evidence")
    await user.send_text("The photo shows the school from the north side.")
    tip = (await bot.all(Tip))[0]
    assert tip.description.endswith("The photo shows the school from the north side.")
    assert t("en", "description-appended") in user.last_bot_message().text


async def test_edits_and_unknown_commands_get_an_answer(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "description")
    sent = await user.send_text("First version")
    await user.edit_text(sent["message"]["message_id"], "Second version")
    assert t("en", "edited-ignored") in user.last_bot_message().text
    await user.send_command("/frobnicate")
    assert t("en", "unknown-command") in user.last_bot_message().text
    assert (await bot.all(Tip))[0].description == "First version"


async def test_nothing_is_stored_before_consent(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user(language_code="ru")
    await user.send_command("/start")
    await user.send_text("Hello, I want to report")
    assert t("ru", "consent-first") in user.last_bot_message().text
    await user.send_document(PDF, file_name="a.pdf", mime_type="application/pdf")
    await user.send_command("/report")
    assert await bot.count(Tip) == 0
    assert await bot.count(Media) == 0
    from db.models import ChatMessage, CustodyEntry, Reporter

    assert await bot.count(Reporter) == 0
    assert await bot.count(ChatMessage) == 0
    assert await bot.count(CustodyEntry) == 0
