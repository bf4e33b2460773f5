"""Moving around a report: Back, Edit from the review, Cancel, old buttons, double taps,
and coming back to an unfinished report."""

import re

from db.models import CustodyEntry, Media, Tip
from tests.e2e.flows import JPEG, label, onboard, t
from tests.e2e.test_wrong_input import reach
from tests.fakebot import FakeTelegram
from tests.harness import BotHarness


async def step(bot: BotHarness) -> str | None:
    return (await bot.all(Tip))[0].step


async def test_back_walks_to_the_first_step_and_keeps_answers(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "contact")
    for expected in ("evidence", "who", "where", "when", "description", "category"):
        await user.press(re.compile(r"^◀️ Back$"))
        assert await step(bot) == expected
    assert label("en", "nav-back") not in user.buttons(), "no Back on the first step"
    tip = (await bot.all(Tip))[0]
    assert tip.category == "killing"
    assert tip.description == "Two men were shot near the bridge."
    assert f"✓ {label('en', 'category-killing')}" in user.buttons()


async def test_edit_from_review_returns_to_review(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "review")
    await user.press(label("en", "review-edit-when"))
    assert await step(bot) == "when"
    assert label("en", "nav-back-review") in user.buttons()
    await user.send_text("05.05.2023")
    assert await step(bot) == "review"
    assert "5 May 2023" in user.last_bot_message().text

    await user.press(label("en", "review-edit-category"))
    await user.press(label("en", "category-torture"))
    assert await step(bot) == "review"
    assert label("en", "category-torture") in user.last_bot_message().text

    await user.press(label("en", "review-edit-where"))
    await user.press(label("en", "nav-back-review"))
    assert await step(bot) == "review"


async def test_add_files_from_review(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "review")
    await user.press(label("en", "review-edit-evidence"))
    await user.send_photo(content=JPEG)
    await user.wait_for_message(lambda m: "1 file received" in (m.text or ""))
    await user.press(label("en", "evidence-done"))
    assert await step(bot) == "review"
    assert "1 (1 photo)" in user.last_bot_message().text


async def test_cancel_asks_then_deletes_everything(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "evidence")
    await user.send_photo(content=JPEG)
    await user.wait_for_message(lambda m: "1 file received" in (m.text or ""))
    stored = bot.settings.media_dir / (await bot.all(Media))[0].storage_key
    assert stored.exists()

    await user.press(label("en", "nav-cancel"))
    assert t("en", "discard-confirm") in user.last_bot_message().text
    await user.press(label("en", "discard-no"))
    assert await step(bot) == "evidence"

    await user.send_command("/cancel")
    await user.press(label("en", "discard-yes"))
    assert await bot.count(Tip) == 0
    assert await bot.count(Media) == 0
    assert not stored.exists(), "the original of a cancelled draft is erased"
    assert t("en", "discarded") in user.last_bot_message().text
    actions = [e.action for e in await bot.all(CustodyEntry)]
    assert actions[-1] == "draft_deleted"
    await user.send_command("/cancel")
    assert t("en", "cancel-nothing") in user.last_bot_message().text


async def test_old_buttons_and_double_taps_are_harmless(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "category")
    category_screen = user.last_bot_message()
    await user.press(label("en", "category-strike"))
    await user.send_text("Described.")
    assert await step(bot) == "description"
    # The same category button again (a double tap arriving late):
    await user.press_data("r:category:set:killing", message=category_screen)
    assert user.last_callback_answer.text == t("en", "stale-button")
    tip = (await bot.all(Tip))[0]
    assert (tip.category, tip.step) == ("strike", "description")
    # Forged data is refused, not a crash.
    await user.press_data("r:description:explode:1")
    await user.press_data("r:nonsense")
    await user.press_data("m:nonsense")
    assert (await bot.all(Tip))[0].step == "description"


async def test_an_old_delete_button_cannot_delete_the_next_report(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "description")
    await user.send_command("/cancel")
    old_confirm = user.last_bot_message()
    await user.press(label("en", "discard-no"), message=old_confirm)
    await user.send_command("/report")
    resume = user.last_bot_message()
    await user.press(t("en", "resume-continue"), message=resume)
    await user.send_text("What I saw.")
    await user.press(label("en", "nav-next"))
    first = (await bot.all(Tip))[0]
    # That report is cancelled from its own prompt; a new one is started.
    await user.send_command("/cancel")
    await user.press(label("en", "discard-yes"))
    await user.send_command("/report")
    await user.press(label("en", "category-strike"))
    current = (await bot.all(Tip))[0]
    assert current.id != first.id
    # The old prompts' buttons, pressed now, are stale: the new report stays.
    await user.press_data(f"r:discard:yes:{first.id}", message=old_confirm)
    assert user.last_callback_answer.text == t("en", "stale-button")
    await user.press_data(f"r:restart:{first.id}", message=resume)
    assert user.last_callback_answer.text == t("en", "stale-button")
    # Buttons from before they named their draft cannot say which one they meant.
    for data in ("r:discard:yes", "r:restart"):
        await user.press_data(data, message=resume)
        assert user.last_callback_answer.text == t("en", "stale-button")
    tips = await bot.all(Tip)
    assert [(tip.id, tip.category) for tip in tips] == [(current.id, "strike")]


async def test_unfinished_report_continue_or_start_over(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "when")
    await user.send_command("/start")
    assert t("en", "resume-continue") in user.buttons()
    await user.press(t("en", "resume-continue"))
    assert label("en", "when-today") in user.buttons()

    await user.send_command("/report")
    first = (await bot.all(Tip))[0]
    await user.press(t("en", "resume-restart"))
    tips = await bot.all(Tip)
    assert len(tips) == 1
    assert tips[0].id != first.id
    assert tips[0].reference != first.reference
    assert tips[0].step == "category"
    assert label("en", "category-strike") in user.buttons()


async def test_menu_items(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user(language_code="uk")
    await onboard(user, "uk")
    await user.press(label("uk", "menu-privacy"))
    assert "Telegram" in user.last_bot_message().text
    await user.press(label("uk", "back-to-menu"))
    await user.press(label("uk", "menu-mine"))
    assert t("uk", "mine-empty") in user.last_bot_message().text
    await user.press(label("uk", "back-to-menu"))
    await user.press(label("uk", "menu-language"))
    await user.press("English")
    assert t("en", "language-set") in user.last_bot_message().text
    await user.send_command("/help")
    assert "/deletemydata" in user.last_bot_message().text
    await user.send_command("/privacy")
    assert label("en", "erase-chat-button") in user.buttons()


async def test_language_can_change_mid_report(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "when")
    await user.send_command("/language")
    await user.press("Русский")
    await user.send_text("на прошлой неделе")
    assert t("ru", "date-error-format") in user.last_bot_message().text
    await user.press(label("ru", "when-yesterday"))
    assert (await bot.all(Tip))[0].step == "where"
