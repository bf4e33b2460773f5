"""Hostile input from reporters and moderators: control characters never reach the database
(PostgreSQL refuses NUL), moderators see bidirectional overrides and invisible characters
neutralised, and malformed numbers in buttons and commands are a stale button, not an
error."""

from __future__ import annotations

import re

from db.models import Media, Tip, TipNote
from tests.e2e.flows import PDF, label, onboard, t
from tests.e2e.moderators import Moderation, mt, tip
from tests.e2e.test_wrong_input import reach
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotHarness

RLO, PDF_, ZWSP, BOM = "\u202e", "\u202c", "\u200b", "\ufeff"
HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
DESCRIPTION = (
    f"Words\x00 with NUL,\x07 a bell, {RLO}a reversed part{PDF_} and zero{ZWSP}width{BOM}.\r\n"
    "Next line\tafter a tab. " + "More detail. " * 70
)
STORED = (
    f"Words with NUL, a bell, {RLO}a reversed part{PDF_} and zero{ZWSP}width{BOM}.\n"
    "Next line\tafter a tab. " + "More detail. " * 70
)


async def file_report(user: FakeUser, description: str, place: str) -> str:
    await onboard(user)
    await user.press(label("en", "menu-new"))
    await user.press(label("en", "category-strike"))
    await user.send_text(description)
    await user.press(label("en", "nav-next"))
    await user.send_text("24.02.2022")
    await user.send_text(place)
    await user.press(re.compile(r"^(Буча|Bucha),"))
    await user.press(label("en", "party-unknown"))
    await user.press(label("en", "evidence-none"))
    await user.press(label("en", "contact-yes"))
    await user.press(label("en", "review-submit"))
    match = re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", user.last_bot_message().text or "")
    assert match, user.describe()
    return match.group(0)


async def test_control_characters_are_stripped_and_hidden_ones_neutralised(
    moderation: Moderation,
) -> None:
    reporter = moderation.fake.user(first_name="Olha")
    reference = await file_report(reporter, DESCRIPTION, "Буча\x00")
    stored = await tip(moderation.bot, reference)
    # The testimony as received, but for the control characters.
    assert stored.description == STORED
    assert stored.place_text == "Буча"

    card = await moderation.card(reference)
    assert not HIDDEN.search(card.text or ""), repr(card.text)
    assert "\ufffda reversed part\ufffd and zerowidth." in (card.text or "")
    await moderation.alice.press(mt("mod-btn-text"), message=card, chat=moderation.group)
    full = moderation.group.last_bot_message()
    assert "\ufffda reversed part\ufffd and zerowidth." in (full.text or "")
    assert not HIDDEN.search(full.text or "")

    # A moderator's question, and the reporter's answer: stored without control
    # characters, shown without hidden ones.
    await moderation.alice.press(mt("mod-btn-ask"), message=card, chat=moderation.group)
    prompt = moderation.group.last_bot_message()
    await moderation.alice.send_text(
        f"Which\x00 floor? {RLO}sdrawkcab{PDF_}", chat=moderation.group, reply_to=prompt
    )
    await moderation.drained()
    question = await reporter.wait_for_message(lambda m: "floor?" in (m.text or ""), new_only=False)
    await reporter.send_text(f"The third\x00 floor, {RLO}gnorw{PDF_}{ZWSP}.", reply_to=question)
    await moderation.drained()
    answer = await moderation.group.wait_for_message(
        lambda m: "third floor" in (m.text or ""), new_only=False
    )
    assert "The third floor, \ufffdgnorw\ufffd." in (answer.text or "")
    assert not HIDDEN.search(answer.text or "")
    notes = await moderation.bot.all(TipNote, TipNote.tip_id == stored.id)
    texts = sorted(note.text or "" for note in notes)
    assert texts == [
        f"The third floor, {RLO}gnorw{PDF_}{ZWSP}.",
        f"Which floor? {RLO}sdrawkcab{PDF_}",
    ]


async def test_emoji_sequences_keep_their_joiners(moderation: Moderation) -> None:
    from bot.text import clean, neutralise

    family = "👨\u200d👩\u200d👧 and ❤️\u200d🔥"
    assert neutralise(family) == family
    assert neutralise(f"pay{ZWSP}pal\u200d") == "paypal"
    assert clean("a\x00b\x1bc\x7fd\x85e\ud800f\r\ng\th") == "abcdef\ng\th"
    assert clean("unchanged\n\tтекст 🎉") == "unchanged\n\tтекст 🎉"
    del moderation  # the rules above also run on both databases; they need none


async def test_malformed_numbers_in_reporter_buttons_are_stale(moderation: Moderation) -> None:
    reporter = moderation.fake.user(first_name="Petro")
    await onboard(reporter)
    await reporter.press(label("en", "menu-new"))
    await reporter.press(label("en", "category-strike"))
    await reporter.send_text("A missile hit the apartment block on the corner at dawn.")
    await reporter.press(label("en", "nav-next"))
    await reporter.send_text("24.02.2022")
    await reporter.send_text("Буча")
    pick = next(
        data
        for row in reporter.last_bot_message().inline_buttons
        for text, data in row
        if data and data.startswith("r:where:pick:")
    )
    settlement = pick.rsplit(":", 1)[1]
    arabic = settlement.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for data in (
        f"r:where:pick:{arabic}",
        "r:where:pick:²",
        "r:where:pick:99999999999999999999",
        f"r:where:pick:-{settlement}",
        "a:²",
        "a:٣",
        "a:99999999999999999999",
        "a:-1",
    ):
        before = len(reporter.callback_answers)
        await reporter.press_data(data)
        assert len(reporter.callback_answers) == before + 1, data
        assert reporter.last_callback_answer.text == t("en", "stale-button"), data
    draft = (await moderation.bot.all(Tip, Tip.status == "draft"))[0]
    assert draft.step == "where"
    assert draft.settlement_id is None
    # The genuine button still works.
    await reporter.press_data(pick)
    assert (await moderation.bot.all(Tip, Tip.id == draft.id))[0].settlement_id is not None
    # A NUL in data that names a report (PostgreSQL refuses it in a query's text).
    await reporter.press_data("e:\x00")
    assert reporter.last_callback_answer.text != t("en", "error-generic")
    assert all(t("en", "error-generic") not in (m.text or "") for m in reporter.messages)


async def test_malformed_queue_pages_and_tip_arguments(moderation: Moderation) -> None:
    alice, group = moderation.alice, moderation.group
    await alice.send_command("/queue", chat=group)
    for data in ("modq:²", "modq:99999999999999999999", "modq:-1", "modq:٣:1"):
        before = len(alice.callback_answers)
        await alice.press_data(data, chat=group)
        assert len(alice.callback_answers) == before + 1, data
    for argument in ("²", "٣٣٣٣-٣٣٣٣", "99999999999999999999", "-1", "\x00"):
        await alice.send_command("/tip", args=argument, chat=group)
        shown = group.last_bot_message().text or ""
        assert shown == mt("mod-tip-usage"), (argument, shown)


async def test_control_characters_in_captions_are_stripped(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    """A NUL in a caption or a file name made PostgreSQL refuse the media row: the file was
    lost."""
    user = fake.user()
    await reach(user, "evidence")
    await user.send_document(
        PDF, file_name="re\x00port.pdf", mime_type="application/pdf", caption=f"cap\x00tion{RLO}"
    )
    await user.wait_for_message(lambda m: "received" in (m.text or ""))
    (media,) = await bot.all(Media)
    assert media.caption == f"caption{RLO}"
    assert media.file_name == "report.pdf"
    assert media.sha256 is not None
