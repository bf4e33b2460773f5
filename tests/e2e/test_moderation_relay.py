"""Questions to reporters and their answers, both ways, without revealing the moderator."""

import asyncio
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import intake
from bot import moderation as moderation_rules
from db.engine import transaction
from db.models import CustodyEntry, GroupMessage, Media, OutboxMessage, Reporter, Tip, TipNote
from tests.e2e.flows import JPEG, PDF, label, t
from tests.e2e.moderators import Moderation, mt, start_moderated, tip
from tests.e2e.test_moderation_cards import report
from tests.fakebot import AlbumItem, FakeTelegram, FakeUser


def reporter_of(moderation: Moderation) -> FakeUser:
    """The (only) reporter of these tests: every user who is not a moderator."""
    return next(
        u for u in moderation.fake.users if u.id not in (moderation.alice.id, moderation.bob.id)
    )


async def ask(moderation: Moderation, reference: str, question: str) -> None:
    card = await moderation.card(reference)
    await moderation.alice.press("❓ Needs info", message=card, chat=moderation.group)
    prompt = moderation.group.last_bot_message()
    assert "reply to this message" in (prompt.text or "").lower()
    await moderation.alice.send_text(question, chat=moderation.group, reply_to=prompt)


async def test_a_question_and_its_answers_go_both_ways(moderation: Moderation) -> None:
    reference = await report(moderation)
    await ask(moderation, reference, "Which floor was hit, and when did the ambulance arrive?")
    assert mt("mod-ask-queued", reference=reference) in (
        moderation.group.last_bot_message().text or ""
    )
    await moderation.drained()

    stored = await tip(moderation.bot, reference)
    assert stored.status == "needs_info"
    user = next(
        u
        for u in moderation.fake.users
        if u.id != moderation.alice.id and u.id != moderation.bob.id
    )
    question = await user.wait_for_message(
        lambda m: "Which floor" in (m.text or ""), new_only=False
    )
    assert reference in (question.text or "")
    assert "Alice" not in (question.text or "")
    assert "alice" not in (question.html or "")

    # The reporter answers by replying: text, then a photo.
    await user.send_text("The third floor. The ambulance came after 40 minutes.", reply_to=question)
    assert t("uk", "answer-thanks", reference=reference) in (user.last_bot_message().text or "")
    await moderation.drained()
    card = await moderation.card(reference)
    answer = await moderation.group.wait_for_message(
        lambda m: "third floor" in (m.text or ""), new_only=False
    )
    assert answer.reply_to_message_id == card.message_id
    assert (await tip(moderation.bot, reference)).status == "submitted"

    # A second question; the answer is a photo sent without replying (no report is open).
    await ask(moderation, reference, "Can you send a photo of the entrance?")
    await moderation.drained()
    await user.wait_for_message(lambda m: "photo of the entrance" in (m.text or ""), new_only=False)
    await user.send_photo(content=JPEG + b"entrance", caption="The entrance")
    await moderation.drained()
    media = await moderation.bot.all(Media, Media.origin == "answer")
    assert len(media) == 1
    assert media[0].status == "stored"
    forwarded = await moderation.fake.wait_for_call(
        lambda c: c.method == "sendPhoto" and c.params.get("chat_id") == moderation.group.id
    )
    assert forwarded.params["photo"] == media[0].file_id
    notes = [n.kind for n in await moderation.bot.all(TipNote)]
    assert notes == ["question", "answer", "question", "answer"]
    actions = [e.action for e in await moderation.bot.all(CustodyEntry)]
    assert actions.count("question_asked") == 2
    assert actions.count("answer_received") == 2


async def test_a_reporter_who_refused_contact_is_not_asked(moderation: Moderation) -> None:
    reference = await report(moderation, contact=False)
    card = await moderation.card(reference)
    await moderation.alice.press("❓ Needs info", message=card, chat=moderation.group)
    assert moderation.alice.last_callback_answer.text == mt(
        "mod-ask-not-allowed", reference=reference
    )
    # A reply to the card can only be a conversation among moderators: no offer to send it.
    before = len(moderation.group.bot_messages())
    sent = await moderation.alice.send_text("Where exactly?", chat=moderation.group, reply_to=card)
    await moderation.bot.wait_processed(sent["update_id"])
    assert len(moderation.group.bot_messages()) == before
    assert await moderation.bot.count(TipNote) == 0


async def test_verdicts_tell_the_reporter_neutrally(moderation: Moderation) -> None:
    reference = await report(moderation, notify=True)
    card = await moderation.card(reference)
    await moderation.alice.press("❌ Reject…", message=card, chat=moderation.group)
    await moderation.alice.press(
        "Spam", message=moderation.latest(card.message_id), chat=moderation.group
    )
    await moderation.drained()
    user = next(
        u for u in moderation.fake.users if u.id not in (moderation.alice.id, moderation.bob.id)
    )
    # Held back for the minute the verdict can be undone in; then sent.
    assert not any("розглянуто" in (m.text or "") for m in user.bot_messages())
    await moderation.minute_passes(reference)
    notice = await user.wait_for_message(
        lambda m: "reviewed" in (m.text or "") or "розглянуто" in (m.text or ""), new_only=False
    )
    assert "Spam" not in (notice.text or "")
    assert t("uk", "reviewed-notice", reference=reference) == notice.text


async def test_a_reporter_can_add_information_later(moderation: Moderation) -> None:
    reference = await report(moderation)
    user = next(
        u for u in moderation.fake.users if u.id not in (moderation.alice.id, moderation.bob.id)
    )
    await user.send_command("/myreports")
    await user.press(t("uk", "mine-add-button", reference=reference))
    await user.send_text("I remembered: there were two explosions, a minute apart.")
    await user.send_document(b"%PDF-1.4 extra", file_name="list.pdf", mime_type="application/pdf")
    await user.press(t("uk", "adding-done"))
    assert t("uk", "adding-finished", reference=reference) in (user.last_bot_message().text or "")
    await user.send_text("hello")  # back to normal: the menu hint, not an addition
    await moderation.drained()
    notes = [n.kind for n in await moderation.bot.all(TipNote)]
    assert notes == ["addition", "addition"]
    posted = await moderation.group.wait_for_message(
        lambda m: "two explosions" in (m.text or ""), new_only=False
    )
    assert reference in (posted.text or "")
    assert re.search("added information", posted.text or "")


async def test_a_reply_to_a_card_is_sent_only_when_its_author_confirms(
    moderation: Moderation,
) -> None:
    reference = await report(moderation)
    card = await moderation.card(reference)
    await moderation.drained()  # the card is on record as the tip's
    group, alice, bob = moderation.group, moderation.alice, moderation.bob
    user = reporter_of(moderation)

    # Talking about the tip among moderators: the bot only offers to send it.
    await alice.send_text("Same hospital as last week?", chat=group, reply_to=card)
    offer = group.last_bot_message()
    assert (offer.text or "") == mt("mod-question-offer", reference=reference)
    await bob.press(mt("mod-btn-send-question"), message=offer, chat=group)
    assert bob.last_callback_answer.text == mt("mod-question-not-yours")
    await alice.press(mt("mod-btn-keep-question"), message=offer, chat=group)
    assert moderation.latest(offer.message_id).text == mt("mod-question-kept")
    assert await moderation.bot.count(TipNote) == 0

    # An offer left alone is forgotten after a day; its button is then stale.
    await alice.send_text("Ask them about the sirens?", chat=group, reply_to=card)
    forgotten = group.last_bot_message()
    async with transaction(moderation.bot.sessions) as session:
        later = intake.utcnow() + timedelta(days=1, minutes=1)
        assert await moderation_rules.prune_pending_questions(session, later) == 1
    await alice.press(mt("mod-btn-send-question"), message=forgotten, chat=group)
    assert alice.last_callback_answer.text == mt("mod-stale")

    # A real question, confirmed.
    await alice.send_text("Which entrance was hit?", chat=group, reply_to=card)
    offer = group.last_bot_message()
    await alice.press(mt("mod-btn-send-question"), message=offer, chat=group)
    assert alice.last_callback_answer.text == mt("mod-ask-queued", reference=reference)
    assert not moderation.latest(offer.message_id).inline_buttons, "pressed once, gone"
    await moderation.drained()
    await user.wait_for_message(lambda m: "Which entrance" in (m.text or ""), new_only=False)
    assert not any("last week" in (m.text or "") for m in user.messages)
    notes = [(n.kind, n.text) for n in await moderation.bot.all(TipNote)]
    assert notes == [("question", "Which entrance was hit?")]
    assert (await tip(moderation.bot, reference)).status == "needs_info"


async def test_an_album_answers_in_one_message(moderation: Moderation) -> None:
    reference = await report(moderation)
    await ask(moderation, reference, "Could you send photos of the entrance?")
    await moderation.drained()
    user = reporter_of(moderation)
    await user.wait_for_message(
        lambda m: "photos of the entrance" in (m.text or ""), new_only=False
    )
    before = len(user.bot_messages())
    group = moderation.group
    # The album fails once after the words went: the retry must not post the words again.
    moderation.fake.fail("sendMediaGroup", status=500, times=1, chat_id=group.id)
    await user.send_album([AlbumItem.photo(content=JPEG + bytes([i])) for i in range(3)])
    thanks = t("uk", "answer-thanks", reference=reference)
    await user.wait_for_message(lambda m: thanks in (m.text or ""), new_only=False)
    await asyncio.sleep(0.3)
    assert [m.text for m in user.bot_messages()[before:]] == [thanks], "thanked once"
    # While the album waits for its retry, the reporter writes more; both become due at once.
    await moderation.fake.wait_for_call(
        lambda call: call.method == "sendMediaGroup" and call.status == 500, timeout=10
    )
    worker = moderation.bot.services.outbox_worker
    await worker.stop()
    await user.send_text("And the door was blown off its hinges.")
    async with transaction(moderation.bot.sessions) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .values(next_attempt_at=intake.utcnow())
        )
    worker.start()
    await moderation.drained()

    media = await moderation.bot.all(Media, Media.origin == "answer")
    assert len(media) == 3, "the whole album answered; none of it opened a new report"
    assert await moderation.bot.count(Tip, Tip.status == "draft") == 0
    headers = [m for m in group.bot_messages() if "Answer from the reporter" in (m.text or "")]
    assert len(headers) == 2, "the album's words once, the later words in a message of their own"
    assert "door was blown off" not in (headers[0].text or "")
    assert "door was blown off" in (headers[1].text or "")
    calls = moderation.fake.calls_to("sendMediaGroup", chat_id=group.id)
    assert [call.status for call in calls] == [500, 200]
    albums = calls[1:]
    assert len(albums[0].params["media"]) == 3
    assert albums[0].params["reply_parameters"]["message_id"] == headers[0].message_id
    rows = await moderation.bot.all(OutboxMessage, OutboxMessage.kind == "answer")
    assert {row.status for row in rows} == {"sent"}


async def test_a_late_message_is_not_taken_for_an_answer(moderation: Moderation) -> None:
    reference = await report(moderation)
    await ask(moderation, reference, "How many people were inside?")
    await moderation.drained()
    user = reporter_of(moderation)
    question = await user.wait_for_message(
        lambda m: "How many people" in (m.text or ""), new_only=False
    )
    async with transaction(moderation.bot.sessions) as session:  # asked eight days ago
        await session.execute(
            update(TipNote).values(created_at=intake.utcnow() - timedelta(days=8))
        )
    await user.send_text("hello")
    assert t("uk", "answer-thanks", reference=reference) not in (user.last_bot_message().text or "")
    assert [n.kind for n in await moderation.bot.all(TipNote)] == ["question"]
    # A reply to the question still answers it, however late.
    await user.send_text("About twenty.", reply_to=question)
    assert t("uk", "answer-thanks", reference=reference) in (user.last_bot_message().text or "")
    assert [n.kind for n in await moderation.bot.all(TipNote)] == ["question", "answer"]


async def test_deleting_my_data_ends_questions_and_additions(moderation: Moderation) -> None:
    reference = await report(moderation)
    card = await moderation.card(reference)
    await moderation.alice.press("✋ Take", message=card, chat=moderation.group)
    await ask(moderation, reference, "Were you there yourself?")
    await moderation.drained()
    user = reporter_of(moderation)
    await user.wait_for_message(lambda m: "there yourself" in (m.text or ""), new_only=False)
    await user.send_command("/myreports")
    await user.press(t("uk", "mine-add-button", reference=reference))
    await user.send_command("/deletemydata")
    await user.press(re.compile(re.escape(t("uk", "delete-yes"))))
    stored = await tip(moderation.bot, reference)
    assert stored.status == "needs_info", "a report in review stays"
    assert not any(n.is_open for n in await moderation.bot.all(TipNote))
    reporter = (await moderation.bot.all(Reporter))[0]
    assert reporter.adding_to_tip_id is None
    assert await moderation.bot.count(OutboxMessage, OutboxMessage.kind == "answer") == 0


async def test_long_answers_waiting_together_fit_telegram_messages(
    moderation: Moderation,
) -> None:
    reference = await report(moderation)
    await ask(moderation, reference, "Please describe everything you remember.")
    await moderation.drained()
    user = reporter_of(moderation)
    question = await user.wait_for_message(
        lambda m: "everything you remember" in (m.text or ""), new_only=False
    )
    worker = moderation.bot.services.outbox_worker
    assert worker is not None
    await worker.stop()  # the worker is busy elsewhere: both answers wait together
    await user.send_text("First part. " + "a" * 3000, reply_to=question)
    await user.send_text("Second part. " + "b" * 3000, reply_to=question)  # answered already
    await user.send_text("Third part.")  # right after: still the answer
    thanks = t("uk", "answer-thanks", reference=reference)
    assert (user.last_bot_message().text or "") == thanks
    worker.start()
    await moderation.drained()
    posted = [m.text or "" for m in moderation.group.bot_messages() if "part." in (m.text or "")]
    assert len(posted) == 2, "two messages, none over Telegram's 4096 characters"
    assert all(len(text) <= 4096 for text in posted)
    assert "First part." in posted[0]
    assert posted[1].index("Second part.") < posted[1].index("Third part."), "in order"
    notes = [n.kind for n in await moderation.bot.all(TipNote)]
    assert notes == ["question", "answer", "answer", "answer"]


async def test_files_that_went_before_a_failure_are_not_sent_again(
    moderation: Moderation,
) -> None:
    reference = await report(moderation)
    await ask(moderation, reference, "Do you have a picture or the plan of the building?")
    await moderation.drained()
    user = reporter_of(moderation)
    question = await user.wait_for_message(
        lambda m: "plan of the building" in (m.text or ""), new_only=False
    )
    group = moderation.group
    # A photo and a document travel as two messages; the second fails once.
    moderation.fake.fail("sendDocument", status=500, times=1, chat_id=group.id)
    await user.send_photo(content=JPEG + b"entrance", reply_to=question)
    await user.send_document(
        b"%PDF-1.7\n" + b"plan" * 100,
        file_name="plan.pdf",
        mime_type="application/pdf",
        reply_to=question,
    )
    thanks = t("uk", "answer-thanks", reference=reference)
    await user.wait_for_message(lambda m: thanks in (m.text or ""), new_only=False)
    await moderation.fake.wait_for_call(
        lambda call: call.method == "sendDocument" and call.status == 500, timeout=10
    )
    await moderation.drained()

    assert [c.status for c in moderation.fake.calls_to("sendPhoto", chat_id=group.id)] == [200]
    documents = moderation.fake.calls_to("sendDocument", chat_id=group.id)
    assert [c.status for c in documents] == [500, 200]
    headers = [m for m in group.bot_messages() if "Answer from the reporter" in (m.text or "")]
    assert len(headers) == 1
    remembered = await moderation.bot.all(GroupMessage, GroupMessage.kind == "answer")
    assert len(remembered) == 3, "the words, the photo and the document, each once"
    rows = await moderation.bot.all(OutboxMessage, OutboxMessage.kind == "answer")
    assert {row.status for row in rows} == {"sent"}


async def test_done_with_an_answer_in_the_same_burst_gives_its_receipt(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    group = fake.group(title="Moderators")
    alice = fake.user(first_name="Alice", username="alice_mod")
    group.add_member(alice)
    bot = await start_moderated(
        fake, engine, database_url, tmp_path, group, tipbot_ack_delay_seconds=1.5
    )
    try:
        moderation = Moderation(bot, fake, group, alice, fake.user(first_name="Bob"))
        reference = await report(moderation)
        await ask(moderation, reference, "Do you have a photo of the entrance?")
        await moderation.drained()
        user = reporter_of(moderation)
        question = await user.wait_for_message(
            lambda m: "photo of the entrance" in (m.text or ""), new_only=False
        )
        # A second report, at its files step; a file answering the question and one for
        # the new report arrive together, and Done is pressed before they are acknowledged.
        await user.send_command("/report")
        await user.press(label("uk", "category-strike"))
        await user.send_text("Ще один удар, по школі.")
        await user.press(label("uk", "nav-next"))
        await user.press(label("uk", "when-unknown"))
        await user.press(label("uk", "where-unknown"))
        await user.press(label("uk", "party-unknown"))
        prompt = user.last_bot_message()
        await user.send_photo(content=JPEG + b"entrance", reply_to=question)
        await user.send_document(PDF, file_name="school.pdf", mime_type="application/pdf")
        await user.press_data("r:evidence:done", message=prompt)
        shown = user.last_bot_message().text or ""
        assert t("uk", "answer-thanks", reference=reference) in shown
        await moderation.drained(seconds=10)
        answer = await group.wait_for_message(
            lambda m: "Answer from the reporter" in (m.text or ""), timeout=5, new_only=False
        )
        assert answer.reply_to_message_id == (await moderation.card(reference)).message_id
        assert [c.status for c in fake.calls_to("sendPhoto", chat_id=group.id)] == [200]
        await asyncio.sleep(2.0)  # nothing more comes: the burst was answered by Done
        assert user.last_bot_message().text == shown
    finally:
        await bot.stop()
