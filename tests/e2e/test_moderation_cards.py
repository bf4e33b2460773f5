"""Every submitted tip reaches the moderators' group as one card, with what they need."""

import re
from collections.abc import Sequence

from db.models import CustodyEntry, OutboxMessage
from tests.e2e.flows import JPEG, PDF, label, onboard
from tests.e2e.moderators import Moderation, mt, tip


async def report(
    moderation: Moderation,
    *,
    long: bool = False,
    contact: bool = True,
    notify: bool = False,
    documents: Sequence[tuple[str, bytes]] = (),
) -> str:
    """A reporter files a report with a shared point, two files (a PDF and a photo, or the
    given image ``documents`` sent as files) and (maybe) a long text; ``notify``: they ask
    to be told when it has been reviewed."""
    user = moderation.fake.user(language_code="uk")
    await onboard(user, "uk")
    await user.press(label("uk", "menu-new"))
    await user.press(label("uk", "category-protected_site"))
    await user.send_text(
        "Удар по лікарні о 5 ранку, троє поранених." + (" Подробиці." * 300 if long else "")
    )
    await user.press(label("uk", "nav-next"))
    await user.send_text("24.02.2022")
    await user.share_location(50.5480, 30.2130)
    await user.press(label("uk", "party-unknown"))
    if documents:
        for name, content in documents:
            await user.send_document(content, file_name=name, mime_type="image/jpeg")
    else:
        await user.send_document(PDF, file_name="medical-report.pdf", mime_type="application/pdf")
        await user.send_photo(content=JPEG)
    files = str(len(documents) or 2)
    await user.wait_for_message(lambda m: files in (m.text or ""))
    await user.press(label("uk", "evidence-done"))
    if notify:
        await user.press(label("uk", "contact-notify-off"))
    await user.press(
        re.compile(re.escape(label("uk", "contact-yes" if contact else "contact-no")) + "$")
    )
    await user.press(label("uk", "review-submit"))
    match = re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", user.last_bot_message().text or "")
    assert match
    return match.group(0)


async def test_a_submitted_tip_becomes_one_card(moderation: Moderation) -> None:
    reference = await report(moderation)
    card = await moderation.card(reference)
    text = card.text or ""
    assert "Attack on a hospital, school, church or cultural site" in text
    assert "Rome Statute: 8(2)(b)(ix), (xxiv)" in text
    assert "24 February 2022" in text
    assert "Bucha, Kyiv Obl." in text
    assert "50.54800, 30.21300" in text
    assert "openstreetmap.org/?mlat=50.54800&amp;mlon=30.21300" in card.html
    assert "Удар по лікарні" in text
    assert "2 (1 document, 1 photo)" in text
    assert "1 compressed photo" in text
    assert "contact: yes" in text
    assert "Status: 🆕 new" in text
    buttons = [b for row in card.inline_buttons for b, _ in row]
    assert "📎 Media (2)" in buttons
    assert "🗺 Map" in buttons
    assert "📜 History" in buttons
    assert "📄 Full text" not in buttons, "the whole description fits on the card"
    assert all(len(data.encode()) <= 64 for row in card.inline_buttons for _, data in row)
    await moderation.drained()
    sent = [o for o in await moderation.bot.all(OutboxMessage) if o.kind == "tip_submitted"]
    assert [(o.status, o.telegram_message_id) for o in sent] == [("sent", card.message_id)]
    stored = await tip(moderation.bot, reference)
    assert (stored.card_chat_id, stored.card_message_id) == (moderation.group.id, card.message_id)
    posted = [m for m in moderation.group.bot_messages() if reference in (m.text or "")]
    assert len(posted) == 1


async def test_buttons_fetch_media_map_text_and_history(moderation: Moderation) -> None:
    reference = await report(moderation, long=True)
    card = await moderation.card(reference)
    alice, group, fake = moderation.alice, moderation.group, moderation.fake
    assert "more characters" in (card.text or "")

    await alice.press("📎 Media (2)", message=card, chat=group)
    call = await fake.wait_for_call(
        lambda c: (
            c.method in ("sendMediaGroup", "sendDocument", "sendPhoto")
            and c.params.get("chat_id") == group.id
        )
    )
    sent_media = [
        c
        for c in fake.calls
        if c.method in ("sendDocument", "sendPhoto") and c.params.get("chat_id") == group.id
    ]
    assert {c.method for c in sent_media} == {"sendDocument", "sendPhoto"}, (
        "a document and a photo cannot share an album"
    )
    photo = next(c for c in sent_media if c.method == "sendPhoto")
    assert photo.params.get("has_spoiler") is True
    assert photo.params["reply_parameters"]["message_id"] == card.message_id
    assert call is not None

    await alice.press("🗺 Map", message=card, chat=group)
    location = await fake.wait_for_call("sendLocation")
    assert round(location.params["latitude"], 3) == 50.548

    await alice.press("📄 Full text", message=card, chat=group)
    parts = [m for m in group.bot_messages() if "full text" in (m.text or "")]
    assert parts, "the full text is posted"
    assert all(len(p.text or "") <= 4096 for p in parts)
    assert "Подробиці." in "".join(p.text or "" for p in parts)

    await alice.press("📜 History", message=card, chat=group)
    history = group.last_bot_message().text or ""
    assert "History of" in history
    assert "agreed" not in history, "only this tip's entries"
    assert "started the report" in history
    assert "file received" in history
    assert "submitted" in history


async def test_each_action_edits_the_card_and_is_recorded(moderation: Moderation) -> None:
    reference = await report(moderation)
    card = await moderation.card(reference)
    alice, group, bot = moderation.alice, moderation.group, moderation.bot

    await alice.press("✋ Take", message=card, chat=group)
    assert alice.last_callback_answer.text == mt("mod-done-take")
    edited = moderation.latest(card.message_id)
    assert "Assignee: Alice (@alice_mod)" in (edited.text or "")
    assert "in review" in (edited.text or "")

    await alice.press("🚨 Urgent", message=card, chat=group)
    assert (moderation.latest(card.message_id).text or "").startswith("🚨")
    await alice.press("🔕 Not urgent", message=card, chat=group)
    await alice.press("↩️ Release", message=card, chat=group)
    assert "Assignee: —" in (moderation.latest(card.message_id).text or "")
    await alice.press("✅ Verified", message=card, chat=group)
    final = moderation.latest(card.message_id).text or ""
    assert "✅ verified" in final
    assert "Last: verified — Alice (@alice_mod)" in final
    assert not any(
        "Verified" in b for row in moderation.latest(card.message_id).inline_buttons for b, _ in row
    )

    entries = [e for e in await bot.all(CustodyEntry) if e.actor.startswith("moderator:")]
    assert [e.action for e in entries] == [
        "taken",
        "urgent_on",
        "urgent_off",
        "released",
        "verified",
    ]
    assert {e.actor for e in entries} == {f"moderator:{alice.id}"}
    assert entries[-1].details["moderator"] == "Alice (@alice_mod)"
    stored = await tip(bot, reference)
    assert (stored.status, stored.reviewed_at is not None) == ("verified", True)
