"""Reviewing with second thoughts and context (issue 10 §4): a verdict can be undone for a
minute (the reporter hears of it only after) and reopened later with a reason; the card stops
waiting once the reporter answered; a report is suggested once as a duplicate; internal notes
never reach the reporter; digest lines tell reports apart; what the files' metadata says is
shown and flagged where it disagrees with the report."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from PIL import Image

from bot import moderation as rules
from db.models import CustodyEntry, GroupMessage, Media, OutboxMessage, Tip, TipNote
from tests.e2e.flows import t
from tests.e2e.moderators import Moderation, button_data, mt, seed_tips, tip
from tests.e2e.test_moderation_cards import report
from tests.e2e.test_moderation_relay import ask, reporter_of
from tests.fakebot import ChatMessage


def labels(message: ChatMessage) -> list[str]:
    return [text for row in message.inline_buttons for text, _ in row]


def reviewed(user_messages: list[ChatMessage], reference: str) -> list[ChatMessage]:
    notice = t("uk", "reviewed-notice", reference=reference)
    return [m for m in user_messages if m.text == notice]


async def test_a_verdict_can_be_undone_for_a_minute_and_the_reporter_never_hears_of_it(
    moderation: Moderation,
) -> None:
    reference = await report(moderation, notify=True)
    await ask(moderation, reference, "Which floor was hit?")
    await moderation.drained()
    group, alice, bob = moderation.group, moderation.alice, moderation.bob
    card = await moderation.card(reference)
    user = reporter_of(moderation)
    await user.wait_for_message(lambda m: "Which floor" in (m.text or ""), new_only=False)

    await alice.press("✅ Verified", message=card, chat=group)
    decided = moderation.latest(card.message_id)
    assert "✅ verified" in (decided.text or "")
    assert mt("mod-btn-undo") in labels(decided)
    assert "✅ Verified" not in labels(decided)
    (notice,) = await moderation.bot.all(OutboxMessage, OutboxMessage.kind == "notice")
    assert notice.status == "pending"
    assert notice.next_attempt_at is not None
    assert notice.next_attempt_at - notice.created_at >= rules.UNDO_WINDOW, "held back"

    await alice.press(mt("mod-btn-undo"), message=decided, chat=group)
    assert alice.last_callback_answer.text == mt("mod-done-undo", verdict=mt("mod-action-verified"))
    stored = await tip(moderation.bot, reference)
    assert (stored.status, stored.assignee_id, stored.reviewed_at) == ("needs_info", None, None)
    (question,) = await moderation.bot.all(TipNote, TipNote.kind == "question")
    assert question.is_open, "the question the verdict closed is open again"
    undone = moderation.latest(card.message_id)
    assert "❓ waiting for the reporter" in (undone.text or "")
    assert "✅ Verified" in labels(undone)
    (notice,) = await moderation.bot.all(OutboxMessage, OutboxMessage.kind == "notice")
    assert notice.status == "cancelled"
    entries = [e for e in await moderation.bot.all(CustodyEntry) if e.actor.startswith("mod")]
    assert [e.action for e in entries][-2:] == ["verified", "verdict_undone"]
    assert entries[-1].details == {"moderator": "Alice (@alice_mod)", "verdict": "verified"}

    # The Undo of the card as it was: the version moved on, so it is refused.
    undo = button_data(decided, lambda text: text == mt("mod-btn-undo"))
    await bob.press_data(undo, message=undone, chat=group)
    assert bob.last_callback_answer.text == mt("mod-conflict", name="Alice (@alice_mod)")
    assert (await tip(moderation.bot, reference)).status == "needs_info"

    # The answer still finds its question; the reporter was never told of the verdict.
    await user.send_text("The third floor.")
    assert t("uk", "answer-thanks", reference=reference) in (user.last_bot_message().text or "")
    await moderation.minute_passes(reference)
    assert not reviewed(user.bot_messages(), reference)

    # A duplicate typed as a reference is undone the same way, and forgets its original.
    (other,) = await seed_tips(moderation.bot, 1)
    await moderation.drained()
    await bob.press("🔁 Duplicate…", message=moderation.latest(card.message_id), chat=group)
    await bob.press("⌨️ Type a reference", message=moderation.latest(card.message_id), chat=group)
    await bob.send_text(other, chat=group, reply_to=group.last_bot_message())
    marked = moderation.latest(card.message_id)
    assert f"duplicate of {other}" in (marked.text or "")
    await bob.press(mt("mod-btn-undo"), message=marked, chat=group)
    stored = await tip(moderation.bot, reference)
    assert (stored.status, stored.duplicate_of_id) == ("submitted", None)
    await moderation.minute_passes(reference)
    assert not reviewed(user.bot_messages(), reference)
    notices = await moderation.bot.all(OutboxMessage, OutboxMessage.kind == "notice")
    assert {row.status for row in notices} == {"cancelled"}


async def test_after_the_minute_the_reporter_is_told_and_a_verdict_is_reopened_with_a_reason(
    moderation: Moderation,
) -> None:
    reference = await report(moderation, notify=True)
    group, alice, bob = moderation.group, moderation.alice, moderation.bob
    card = await moderation.card(reference)
    user = reporter_of(moderation)
    await alice.press("❌ Reject…", message=card, chat=group)
    spam = button_data(moderation.latest(card.message_id), lambda text: text == "Spam")
    await alice.press("Spam", message=moderation.latest(card.message_id), chat=group)
    undo = button_data(moderation.latest(card.message_id), lambda x: x == mt("mod-btn-undo"))
    assert not reviewed(user.bot_messages(), reference)

    await moderation.minute_passes(reference)
    redrawn = moderation.latest(card.message_id)
    assert mt("mod-btn-undo") not in labels(redrawn), "the card no longer offers Undo"
    assert mt("mod-btn-reopen") in labels(redrawn)
    await user.wait_for_message(
        lambda m: m.text == t("uk", "reviewed-notice", reference=reference), new_only=False
    )
    await alice.press_data(undo, message=redrawn, chat=group)
    assert alice.last_callback_answer.text == mt("mod-refused-undo-expired")
    assert (await tip(moderation.bot, reference)).status == "rejected"

    await bob.press(mt("mod-btn-reopen"), message=redrawn, chat=group)
    assert labels(moderation.latest(card.message_id)) == [
        mt("mod-reopen-new_information"),
        mt("mod-reopen-mistake"),
        mt("mod-reopen-other"),
        "◀️ Back",
    ]
    await bob.press(
        mt("mod-reopen-new_information"), message=moderation.latest(card.message_id), chat=group
    )
    assert bob.last_callback_answer.text == mt("mod-done-reopen")
    stored = await tip(moderation.bot, reference)
    assert (stored.status, stored.reject_reason, stored.reviewed_at) == ("in_review", None, None)
    assert stored.assignee_name == "Alice (@alice_mod)", "the verdict's moderator keeps it"
    reopened = moderation.latest(card.message_id)
    assert "👀 in review" in (reopened.text or "")
    assert "❓ Needs info" in labels(reopened)
    (entry,) = await moderation.bot.all(CustodyEntry, CustodyEntry.action == "reopened")
    assert entry.details == {"moderator": "Bob", "reason": "new_information", "verdict": "rejected"}

    # A button of the card before the reopening is refused, as any stale press.
    await alice.press_data(spam, message=reopened, chat=group)
    assert alice.last_callback_answer.text == mt("mod-conflict", name="Bob")
    assert (await tip(moderation.bot, reference)).status == "in_review"

    # A reopened report can be asked about again.
    await ask(moderation, reference, "Do you have more photos?")
    await moderation.drained()
    await user.wait_for_message(lambda m: "more photos" in (m.text or ""), new_only=False)
    assert (await tip(moderation.bot, reference)).status == "needs_info"
    await alice.press("📜 History", message=moderation.latest(card.message_id), chat=group)
    history = group.last_bot_message().text or ""
    assert f"reopened · {mt('mod-reopen-new_information')}" in history


async def test_the_card_stops_waiting_once_the_reporter_answered(moderation: Moderation) -> None:
    reference = await report(moderation)
    await ask(moderation, reference, "Which floor was hit?")
    await moderation.drained()
    card = await moderation.card(reference)
    assert "❓ waiting for the reporter" in (moderation.latest(card.message_id).text or "")
    user = reporter_of(moderation)
    question = await user.wait_for_message(
        lambda m: "Which floor" in (m.text or ""), new_only=False
    )
    await user.send_text("The third floor.", reply_to=question)
    await moderation.drained()
    await moderation.group.wait_for_message(
        lambda m: "third floor" in (m.text or ""), new_only=False
    )
    await moderation.drained()
    now = moderation.latest(card.message_id).text or ""
    assert "waiting for the reporter" not in now
    assert "Status: 🆕 new" in now


async def test_a_report_is_suggested_once_whatever_the_reasons(moderation: Moderation) -> None:
    # The same two files, the same category, place and day: linked for the file (the
    # strongest reason), not a second time for the place and day.
    first = await report(moderation)
    second = await report(moderation)
    card = await moderation.card(second)
    text = card.text or ""
    assert text.count(first) == 1, text
    assert f"{first} (same file)" in text
    await moderation.alice.press("🔁 Duplicate…", message=card, chat=moderation.group)
    options = labels(moderation.latest(card.message_id))
    assert [o for o in options if first in o] == [f"{first} (same file)"]


async def test_internal_notes_stay_with_the_moderators(moderation: Moderation) -> None:
    reference = await report(moderation)
    card = await moderation.card(reference)
    await moderation.drained()
    group, alice, bob = moderation.group, moderation.alice, moderation.bob
    user = reporter_of(moderation)
    told = len(user.bot_messages())
    verify = button_data(card, lambda text: text == "✅ Verified")

    # A reply to the card: send it to the reporter, keep it as a note, or neither.
    await alice.send_text("Same hospital as last week?", chat=group, reply_to=card)
    offer = group.last_bot_message()
    assert labels(offer) == [
        mt("mod-btn-send-question"),
        mt("mod-btn-keep-note"),
        mt("mod-btn-keep-question"),
    ]
    await bob.press(mt("mod-btn-keep-note"), message=offer, chat=group)
    assert bob.last_callback_answer.text == mt("mod-question-not-yours")
    await alice.press(mt("mod-btn-keep-note"), message=offer, chat=group)
    assert alice.last_callback_answer.text == mt("mod-note-saved", reference=reference)
    assert not moderation.latest(offer.message_id).inline_buttons, "decided once"
    assert mt("mod-card-notes", count=1) in (moderation.latest(card.message_id).text or "")

    # 📝 Note on the card: a prompt, whose reply is the note.
    await bob.press(mt("mod-btn-note"), message=moderation.latest(card.message_id), chat=group)
    prompt = group.last_bot_message()
    assert prompt.text == mt("mod-note-prompt", reference=reference)
    await bob.send_text("Called the hospital: <b>3</b> injured.", chat=group, reply_to=prompt)
    assert group.last_bot_message().text == mt("mod-note-saved", reference=reference)
    assert mt("mod-card-notes", count=2) in (moderation.latest(card.message_id).text or "")

    notes = [(n.kind, n.text) for n in await moderation.bot.all(TipNote)]
    assert notes == [
        ("internal", "Same hospital as last week?"),
        ("internal", "Called the hospital: <b>3</b> injured."),
    ]
    entries = await moderation.bot.all(CustodyEntry, CustodyEntry.action == "note_added")
    assert [set(e.details) for e in entries] == [{"moderator", "note"}] * 2, "no words"
    # Never relayed: nothing new in the reporter's chat, nothing queued for them.
    await moderation.drained()
    assert len(user.bot_messages()) == told
    assert await moderation.bot.count(OutboxMessage, OutboxMessage.kind == "question") == 0

    await alice.press("📜 History", message=moderation.latest(card.message_id), chat=group)
    history = group.last_bot_message()
    text = history.text or ""
    assert "internal note: Same hospital as last week?" in text
    assert "Bob · internal note: Called the hospital: <b>3</b> injured." in text, "escaped"
    kept = await moderation.bot.all(GroupMessage, GroupMessage.message_id == history.message_id)
    assert [m.kind for m in kept] == ["view"], "a copy a withdrawal takes back out"

    # A note is no decision: the card drawn before the notes still acts.
    await alice.press_data(verify, message=moderation.latest(card.message_id), chat=group)
    assert (await tip(moderation.bot, reference)).status == "verified"
    # Notes can still be written on a decided report, and on one without contact.
    assert mt("mod-btn-note") in labels(moderation.latest(card.message_id))
    quiet = await report(moderation, contact=False)
    quiet_card = await moderation.card(quiet)
    await alice.press(mt("mod-btn-note"), message=quiet_card, chat=group)
    await alice.send_text(
        "No contact: check locally.", chat=group, reply_to=group.last_bot_message()
    )
    assert group.last_bot_message().text == mt("mod-note-saved", reference=quiet)


async def test_digest_lines_tell_reports_apart(moderation: Moderation) -> None:
    gazetteer = moderation.bot.services.gazetteer
    bucha, irpin = gazetteer.search("Буча")[0], gazetteer.search("Ірпінь")[0]

    def details(stored: Tip, index: int) -> list[object]:
        place = (bucha, irpin)[index % 2]
        stored.settlement_id, stored.settlement = place.id, place.name_uk
        stored.lat, stored.lon, stored.location_precision = place.lat, place.lon, "settlement"
        stored.incident_date = date(2022, 3, 1) + timedelta(days=index)
        stored.incident_date_precision = "day"
        stored.description = (
            f"Report {index}: <b>shelling</b>\nnear the school, then the market and the "
            "railway station, with many words after these."
        )
        return [
            Media(
                tip_id=stored.id,
                kind="photo",
                file_id=f"f{index}-{n}",
                file_unique_id=f"u{index}-{n}",
                status="stored",
                recompressed=False,
            )
            for n in range(index % 3)
        ]

    references = await seed_tips(moderation.bot, 12, each=details)
    await moderation.drained()
    digest = next(m for m in moderation.group.bot_messages() if (m.text or "").startswith("📥"))
    lines = (digest.text or "").splitlines()[1:]
    shown = {reference: line for line in lines for reference in references if reference in line}
    assert len(shown) >= 10
    for index, reference in enumerate(references):
        line = shown.get(reference)
        if line is None:
            continue  # in the next list
        place = (bucha, irpin)[index % 2]
        assert place.label("en") in line
        assert (date(2022, 3, 1) + timedelta(days=index)).strftime("%d.%m.%Y") in line
        assert f"📎{index % 3}" in line
        words = re.search(r"“(.*)”", line)
        assert words is not None, line
        assert words.group(1).startswith(f"Report {index}: <b>shelling</b> near the school")
        assert words.group(1).endswith("…")
        assert len(words.group(1)) <= 61
    assert "&lt;b&gt;" in digest.html, "the reporter's words are escaped"


def photo_with_metadata(lat: float, lon: float, taken: str) -> bytes:
    """A JPEG as a phone writes it: capture time and GPS in its EXIF."""
    image = Image.new("RGB", (64, 48), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0110] = "TestPhone"
    exif.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal

    def dms(value: float) -> tuple[float, float, float]:
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return (float(degrees), float(minutes), round(((value - degrees) * 60 - minutes) * 60, 3))

    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", dms(lat), "E", dms(lon)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def test_file_metadata_is_shown_and_flagged(moderation: Moderation) -> None:
    # Reported: 24.02.2022 at 50.548, 30.213 (Bucha). One photo agrees; one was taken in
    # Lviv three days later.
    near = photo_with_metadata(50.5471, 30.2088, "2022:02:24 06:10:00")
    far = photo_with_metadata(49.8397, 24.0297, "2022:02:27 10:11:12")
    reference = await report(moderation, documents=[("IMG_0001.JPG", near), ("IMG_0002.JPG", far)])
    card = await moderation.card(reference)
    text = card.text or ""
    assert mt("mod-card-metadata", timed=2, placed=2) in text
    assert mt("mod-card-metadata-date-off", count=1) in text
    assert mt("mod-card-metadata-place-off", count=1) in text

    group, alice = moderation.group, moderation.alice
    await alice.press(mt("mod-btn-metadata"), message=card, chat=group)
    shown = group.last_bot_message()
    assert shown.reply_to_message_id == card.message_id
    lines = (shown.text or "").splitlines()
    assert "Reported: 24 February 2022" in lines[1]
    agrees = next(line for line in lines if "IMG_0001.JPG" in line)
    differs = next(line for line in lines if "IMG_0002.JPG" in line)
    assert "taken 24.02.2022 06:10" in agrees
    assert "50.54710, 30.20880" in agrees
    assert "⚠️" not in agrees
    assert "taken 27.02.2022 10:11" in differs
    assert mt("mod-meta-date-off", count=2) in differs
    assert "49.83970, 24.02970" in differs
    assert re.search(r"⚠️ 4\d\d km from the reported place", differs)
    assert 'href="https://www.openstreetmap.org/?mlat=49.83970' in shown.html
    (viewed,) = await moderation.bot.all(CustodyEntry, CustodyEntry.action == "evidence_viewed")
    assert viewed.details["view"] == "metadata"
    remembered = await moderation.bot.all(GroupMessage, GroupMessage.message_id == shown.message_id)
    assert [m.kind for m in remembered] == ["view"]
