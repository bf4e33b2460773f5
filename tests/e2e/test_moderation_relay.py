"""Questions to reporters and their answers, both ways, without revealing the moderator."""

import re

from db.models import CustodyEntry, Media, TipNote
from tests.e2e.flows import JPEG, t
from tests.e2e.moderators import Moderation, mt, tip
from tests.e2e.test_moderation_cards import report


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
    # Replying to the card directly is refused too.
    await moderation.alice.send_text("Where exactly?", chat=moderation.group, reply_to=card)
    assert mt("mod-ask-not-allowed", reference=reference) in (
        moderation.group.last_bot_message().text or ""
    )
    assert await moderation.bot.count(TipNote) == 0


async def test_verdicts_tell_the_reporter_neutrally(moderation: Moderation) -> None:
    reference = await report(moderation)
    card = await moderation.card(reference)
    await moderation.alice.press("❌ Reject…", message=card, chat=moderation.group)
    await moderation.alice.press(
        "Spam", message=moderation.latest(card.message_id), chat=moderation.group
    )
    await moderation.drained()
    user = next(
        u for u in moderation.fake.users if u.id not in (moderation.alice.id, moderation.bob.id)
    )
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
