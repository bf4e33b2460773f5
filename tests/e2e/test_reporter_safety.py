"""Reporter safety and privacy (issue 10, section 2): a fresh start after "Delete my data",
no one-tap "send my current location" keyboard, how to delete the chat itself, "reviewed"
notices only when asked for, and an introduction and privacy notice that fit a phone."""

import math
import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import outbox
from bot.evidence.verify import verify_all
from bot.i18n import LANGUAGES, Catalog
from db.migrate import downgrade, upgrade
from db.models import CustodyEntry, OutboxMessage, Reporter, Tip
from tests.e2e.flows import file_complete_report, label, onboard, t
from tests.e2e.moderators import Moderation, mt
from tests.e2e.test_moderation_cards import report
from tests.e2e.test_wrong_input import reach
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotHarness

# ---------------------------------------------------------------------------- fresh start


def reporter_line(card_text: str) -> str:
    """The card's line about the reporter (pseudonym, earlier reports, contact)."""
    return next(line for line in card_text.splitlines() if line.startswith("🙋"))


async def test_delete_my_data_gives_a_fresh_start(moderation: Moderation) -> None:
    bot, fake = moderation.bot, moderation.fake
    user = fake.user()
    await onboard(user)
    kept = await file_complete_report(user, with_files=False)
    withdrawn = await file_complete_report(user, with_files=False)
    card = await moderation.card(kept)
    await moderation.alice.press(mt("mod-btn-take"), message=card, chat=moderation.group)
    old_line = reporter_line((await moderation.card(withdrawn)).text or "")
    old_name = re.search(r"Reporter (\w+)", old_line)
    assert old_name, old_line
    old_reporter = (await bot.all(Reporter))[0]
    old_actor = f"reporter:{old_reporter.pseudonym}"

    await user.send_command("/deletemydata")
    await user.press(label("en", "delete-yes"))
    assert t("en", "delete-chat-hint") in (user.last_bot_message().text or "")

    # The next /start is a new reporter: consent again, and nothing from before.
    await onboard(user)
    await user.send_command("/myreports")
    assert t("en", "mine-empty") in (user.last_bot_message().text or "")
    fresh = await file_complete_report(user, with_files=False)
    await user.send_command("/myreports")
    mine = user.last_bot_message().text or ""
    assert fresh in mine
    assert kept not in mine
    assert withdrawn not in mine
    new_line = reporter_line((await moderation.card(fresh)).text or "")
    assert f"earlier: {mt('mod-card-no-earlier')}" in new_line, new_line
    assert old_name.group(1) not in new_line, "a new pseudonym on the new card"

    tips = {tip.reference: tip for tip in await bot.all(Tip)}
    assert tips[kept].status == "in_review"
    assert tips[withdrawn].status == "withdrawn"
    reporters = {r.id: r for r in await bot.all(Reporter)}
    assert len(reporters) == 2
    detached = reporters[tips[kept].reporter_id]
    current = reporters[tips[fresh].reporter_id]
    assert tips[withdrawn].reporter_id == detached.id != current.id
    assert detached.lookup is None, "no Telegram id finds the old row"
    assert current.lookup == bot.services.keyring.pseudonym(user.id)
    assert detached.chat_id_enc is None
    assert detached.consented_at is None
    # The old row got a new random name too: neither the name the log knew it by, nor one
    # anybody can find again.
    names = {detached.pseudonym, current.pseudonym, old_reporter.pseudonym}
    assert len(names) == 3

    entries = await bot.all(CustodyEntry)
    old_tip_ids = {tips[kept].id, tips[withdrawn].id}
    old_actors = {e.actor for e in entries if e.tip_id in old_tip_ids and e.actor.startswith("r")}
    new_actors = {e.actor for e in entries if e.tip_id == tips[fresh].id}
    assert old_actors == {old_actor}
    assert new_actors == {f"reporter:{current.pseudonym}"}, "the new reports name the new one"
    # Nothing in the log ties the two: not the lookup key, not either row's new name.
    for entry in entries:
        document = f"{entry.actor} {entry.details}"
        assert current.lookup not in document
        assert detached.pseudonym not in document
        if entry.actor == old_actor:
            assert current.pseudonym not in document
    detach = next(e for e in entries if e.action == "reporter_detached")
    assert (detach.actor, detach.tip_id, detach.details) == ("system", None, {"tips": 2})
    report_ = await verify_all(bot.sessions, bot.services.store)
    assert report_.ok, report_.problems


async def test_a_reporter_from_before_the_lookup_key_also_starts_afresh(
    moderation: Moderation,
) -> None:
    """Reporters created before migration 0004 were found, and named in the custody log, by
    the same keyed hash of their Telegram id. Their next visit moves them to the current
    lookup key, so after "Delete my data" nothing stored equals the name the log knew them by.
    """
    bot, fake = moderation.bot, moderation.fake
    user = fake.user()
    await onboard(user)
    kept = await file_complete_report(user, with_files=False)
    legacy = bot.services.keyring.legacy_pseudonym(user.id)
    # As migration 0004 left a reporter of an older installation: name = lookup = old hash.
    async with bot.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE reporter SET pseudonym = :p, lookup = :p"), {"p": legacy}
        )
        await session.execute(
            text("UPDATE custody_entry SET actor = :a WHERE actor LIKE 'reporter:%'"),
            {"a": f"reporter:{legacy}"},
        )
    await user.send_command("/myreports")
    assert kept in (user.last_bot_message().text or ""), "still found by the old key"
    (reporter,) = await bot.all(Reporter)
    assert reporter.lookup == bot.services.keyring.pseudonym(user.id) != legacy

    await user.send_command("/deletemydata")
    await user.press(label("en", "delete-yes"))
    await onboard(user)
    await file_complete_report(user, with_files=False)
    for row in await bot.all(Reporter):
        assert legacy not in (row.lookup, row.pseudonym)


# ---------------------------------------------------------------------------- the place step


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_place_step_offers_no_current_location_button(
    bot: BotHarness, fake: FakeTelegram, lang: str
) -> None:
    user = fake.user(language_code=lang)
    await reach(user, "where", lang)
    screen = user.last_bot_message()
    assert t(lang, "step-where-title", number=4, total=8) in (screen.text or "")
    assert "📎" in (screen.text or ""), "how to send a chosen point"
    assert all(m.reply_keyboard is None for m in user.history), "no reply keyboard at all"
    assert user.reply_keyboard is None
    # A point sent the way the step explains is still taken.
    await user.share_location(50.5480, 30.2130)
    tip = (await bot.all(Tip))[0]
    assert (tip.location_source, tip.step) == ("shared_point", "who")
    assert all(m.reply_keyboard is None for m in user.history)


# ---------------------------------------------------------------------------- deleting the chat


async def test_erasing_says_how_to_delete_the_chat_itself(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user(language_code="uk")
    await onboard(user, "uk")
    reference = await file_complete_report(user, "uk", with_files=False)
    await user.press(label("uk", "erase-button"))
    expected = t("uk", "erase-done", reference=reference) + "\n\n" + t("uk", "delete-chat-hint")
    assert [m.text for m in user.messages] == [expected]
    assert "Android" in expected
    assert "iPhone" in expected


async def test_deleting_my_data_says_how_to_delete_the_chat_itself(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user(language_code="ru")
    await onboard(user, "ru")
    await user.send_command("/deletemydata")
    await user.press(label("ru", "delete-yes"))
    final = user.last_bot_message().text or ""
    assert final.endswith(t("ru", "delete-chat-hint"))
    assert t("ru", "delete-remains") in final


# ---------------------------------------------------------------------------- notices


async def test_the_contact_step_explains_and_offers_the_notice_unticked(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await reach(user, "contact")
    screen = user.last_bot_message()
    assert t("en", "step-contact-text") in (screen.text or "")
    assert "notification" in (screen.text or "")
    assert label("en", "contact-notify-off") in user.buttons()
    # Ticking stays on the step; it can be unticked again.
    await user.press(label("en", "contact-notify-off"))
    assert user.last_bot_message().message_id == screen.message_id, "edited in place"
    assert label("en", "contact-notify-on") in user.buttons()
    tip = (await bot.all(Tip))[0]
    assert (tip.step, tip.notify_reviewed) == ("contact", True)
    await user.press(label("en", "contact-notify-on"))
    assert (await bot.all(Tip))[0].notify_reviewed is False
    await user.press(label("en", "contact-notify-off"))
    await user.press(re.compile(rf"^(✓ )?{re.escape(label('en', 'contact-no'))}$"))
    # The review shows both choices, separately.
    review = user.last_bot_message().text or ""
    assert "Contact for questions: no" in review
    assert "Message when reviewed: yes" in review
    tip = (await bot.all(Tip))[0]
    assert (tip.step, tip.contact_allowed, tip.notify_reviewed) == ("review", False, True)


def reporter_of_last_report(moderation: Moderation) -> FakeUser:
    moderators = (moderation.alice.id, moderation.bob.id)
    return [u for u in moderation.fake.users if u.id not in moderators][-1]


async def reject(moderation: Moderation, reference: str) -> None:
    card = await moderation.card(reference)
    await moderation.alice.press("❌ Reject…", message=card, chat=moderation.group)
    await moderation.alice.press(
        "Spam", message=moderation.latest(card.message_id), chat=moderation.group
    )
    await moderation.minute_passes(reference)
    await moderation.drained()


def reviewed(user: FakeUser, reference: str) -> list[str]:
    """The "your report has been reviewed" messages the reporter got."""
    notice = t("uk", "reviewed-notice", reference=reference)
    return [m.text or "" for m in user.bot_messages() if m.text == notice]


async def test_no_reviewed_notice_unless_asked_for(moderation: Moderation) -> None:
    reference = await report(moderation, contact=True)
    user = reporter_of_last_report(moderation)
    await reject(moderation, reference)
    assert reviewed(user, reference) == [], "contact for questions is not a wish for notices"
    kinds = {o.kind for o in await moderation.bot.all(OutboxMessage)}
    assert outbox.NOTICE not in kinds, "not even queued"


async def test_the_notice_comes_when_asked_for_even_without_questions(
    moderation: Moderation,
) -> None:
    reference = await report(moderation, contact=False, notify=True)
    user = reporter_of_last_report(moderation)
    await reject(moderation, reference)
    expected = t("uk", "reviewed-notice", reference=reference)
    await user.wait_for_message(lambda m: m.text == expected, new_only=False)
    assert reviewed(user, reference) == [expected], "once"


async def test_the_operator_switch_still_turns_notices_off(moderation: Moderation) -> None:
    await moderation.bot.stop()
    await moderation.bot.start(tipbot_notify_reporters=False)
    reference = await report(moderation, notify=True)
    user = reporter_of_last_report(moderation)
    await reject(moderation, reference)
    assert reviewed(user, reference) == []


# ---------------------------------------------------------------------------- one screen

# A phone shows about 40 characters a line in a message and, above a keyboard of three
# buttons, about 22 lines; the brief's proxy is 700 characters and 14 lines of text.
MAX_CHARS = 700
MAX_LINES = 14
PHONE_COLUMNS = 40
PHONE_LINES = 22


def phone_lines(shown: str) -> int:
    """Lines the text takes on a phone: each line wrapped at :data:`PHONE_COLUMNS`."""
    return sum(max(1, math.ceil(len(line) / PHONE_COLUMNS)) for line in shown.split("\n"))


def assert_fits(shown: str, what: str) -> None:
    assert len(shown) <= MAX_CHARS, f"{what}: {len(shown)} characters"
    assert len(shown.split("\n")) <= MAX_LINES, f"{what}: {len(shown.splitlines())} lines"
    assert phone_lines(shown) <= PHONE_LINES, f"{what}: {phone_lines(shown)} phone lines"


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_introduction_and_privacy_notice_fit_one_screen(
    bot: BotHarness, fake: FakeTelegram, lang: str
) -> None:
    from bot.i18n import LANGUAGE_NAMES

    user = fake.user(language_code=lang)
    await user.send_command("/start")
    await user.press(re.compile(rf"^(• )?{re.escape(LANGUAGE_NAMES[lang])}$"))
    intro = user.last_bot_message()
    assert "Test Documentation Initiative" in (intro.text or "")
    assert_fits(intro.text or "", f"{lang} introduction")
    await user.press(label(lang, "intro-more"))
    notice = user.last_bot_message()
    assert_fits(notice.text or "", f"{lang} privacy notice")
    # The details are one tap further, and lead back or on to agreeing.
    await user.press(label(lang, "privacy-more"))
    details = user.last_bot_message()
    assert details.message_id == notice.message_id, "shown in place"
    assert "@tipbot_test_bot" in (details.text or "")
    assert len(details.text or "") > len(notice.text or "")
    await user.press(label(lang, "nav-back"))
    assert user.last_bot_message().text == notice.text
    await user.press(label(lang, "privacy-more"))
    await user.press(label(lang, "intro-agree"))
    assert t(lang, "menu-text") in (user.last_bot_message().text or "")
    # After consent, "Privacy & safety" is the same short notice, its details one tap on.
    await user.send_command("/privacy")
    assert user.last_bot_message().text == notice.text
    await user.press(label(lang, "privacy-more"))
    assert user.last_bot_message().text == details.text
    await user.press(label(lang, "nav-back"))
    assert user.last_bot_message().text == notice.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_screens_fit_with_the_longest_names(lang: str) -> None:
    """The introduction with a long organisation name and the longest Telegram handle."""
    catalog = Catalog.load()
    shown = t(lang, "intro", org="O" * 40, handle="@" + "b" * 32)
    assert phone_lines(shown) <= PHONE_LINES, phone_lines(shown)
    assert len(shown) <= MAX_CHARS + 40, len(shown)
    assert catalog.t(lang, "privacy-notice") == catalog.t(lang, "privacy-notice", org="x")


# ---------------------------------------------------------------------------- migration


async def test_migration_detaches_deleted_reporters_and_keeps_the_others(
    engine: AsyncEngine,
) -> None:
    await downgrade(engine, "0003")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO reporter (id, pseudonym, language, created_at, consented_at) VALUES"
                " (1, :active, 'uk', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),"
                " (2, :gone, 'en', CURRENT_TIMESTAMP, NULL)"
            ),
            {"active": "a" * 64, "gone": "g" * 64},
        )
        await connection.execute(
            text("UPDATE reporter SET data_deleted_at = CURRENT_TIMESTAMP WHERE id = 2")
        )
        await connection.execute(
            text(
                "INSERT INTO tip (id, reference, reporter_id, status, return_to_review, language,"
                " contact_allowed, originals_hint_sent, created_at, updated_at, version, urgent)"
                " VALUES (1, 'AAAA-BBBB', 1, 'submitted', false, 'uk', true, false,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, false)"
            )
        )
    await upgrade(engine)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(text("SELECT id, pseudonym, lookup FROM reporter ORDER BY id"))
        ).all()
        notify = (await connection.execute(text("SELECT notify_reviewed FROM tip"))).scalar_one()
    assert rows[0] == (1, "a" * 64, "a" * 64), "found as before"
    assert rows[1][2] is None, "already deleted: detached"
    assert rows[1][1] != "g" * 64, "and renamed"
    assert not notify, "no notices for reports sent before the opt-in existed"
    async with engine.connect() as connection:
        found = (
            await connection.execute(select(Reporter.id).where(Reporter.lookup == "a" * 64))
        ).scalar_one()
    assert found == 1
    # And back: the lookup key is the pseudonym again.
    await downgrade(engine, "0003")
    async with engine.connect() as connection:
        names = (
            await connection.execute(text("SELECT pseudonym FROM reporter ORDER BY id"))
        ).scalars()
        assert next(iter(names)) == "a" * 64
    await upgrade(engine)
