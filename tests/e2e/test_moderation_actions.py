"""Rules of the road: only moderators act, one action wins, taken tips ask first; reject and
duplicate flows."""

import asyncio
import re

from db.models import CustodyEntry, OutboxMessage
from tests.e2e.moderators import Moderation, button_data, mt, seed_tips, tip


async def card_of_new_tip(moderation: Moderation) -> tuple[str, int]:
    (reference,) = await seed_tips(moderation.bot, 1)
    card = await moderation.card(reference)
    return reference, card.message_id


async def test_outsiders_are_refused_and_logged(moderation: Moderation) -> None:
    reference, card_id = await card_of_new_tip(moderation)
    card = moderation.latest(card_id)
    stranger = moderation.fake.user(first_name="Mallory")
    verify = button_data(card, lambda text: text == "✅ Verified")
    # Were the group public, a visitor could press its buttons without joining:
    moderation.group.make_public("oops_public_group")
    await stranger.press_data(verify, message=card, chat=moderation.group)
    assert stranger.last_callback_answer.text == mt("mod-not-allowed")
    assert stranger.last_callback_answer.show_alert
    # The same data sent from a private chat:
    await stranger.send_command("/start")
    await stranger.press_data(verify)
    assert (await tip(moderation.bot, reference)).status == "submitted"
    refused = await moderation.bot.all(CustodyEntry, CustodyEntry.action == "moderation_refused")
    assert len(refused) == 2
    assert all(str(stranger.id) not in e.actor for e in refused), "pseudonymous, not the raw id"
    assert [e.details["in_group"] for e in refused] == [True, False]

    # Someone who left is refused once the membership is checked again (the cache is
    # at most five minutes old; here it is forgotten at once).
    moderation.group.remove_member(moderation.bob)
    moderation.bot.services.gate.forget(moderation.bob.id)
    await moderation.bob.press("✅ Verified", message=card, chat=moderation.group)
    assert moderation.bob.last_callback_answer.text == mt("mod-not-allowed")
    assert (await tip(moderation.bot, reference)).status == "submitted"


async def test_listed_moderators_may_act_without_membership(moderation: Moderation) -> None:
    reference, card_id = await card_of_new_tip(moderation)
    outsider = moderation.fake.user(first_name="Olena")
    moderation.bot.services.gate._listed.add(outsider.id)
    moderation.group.make_public("visible_group")
    await outsider.press("✋ Take", message=moderation.latest(card_id), chat=moderation.group)
    assert (await tip(moderation.bot, reference)).assignee_name == "Olena"


async def test_two_presses_at_once_apply_exactly_one(moderation: Moderation) -> None:
    reference, card_id = await card_of_new_tip(moderation)
    card = moderation.latest(card_id)
    verify = button_data(card, lambda text: text == "✅ Verified")
    await moderation.alice.press("❌ Reject…", message=card, chat=moderation.group)
    spam = button_data(moderation.latest(card_id), lambda text: text == "Spam")
    await asyncio.gather(
        moderation.alice.press_data(verify, message=card, chat=moderation.group),
        moderation.bob.press_data(spam, message=card, chat=moderation.group),
    )
    answers = {moderation.alice.last_callback_answer.text, moderation.bob.last_callback_answer.text}
    stored = await tip(moderation.bot, reference)
    assert stored.status in ("verified", "rejected")
    winner = "Alice (@alice_mod)" if stored.status == "verified" else "Bob"
    assert mt("mod-conflict", name=winner) in answers
    decisions = [
        e.action
        for e in await moderation.bot.all(CustodyEntry)
        if e.action in ("verified", "rejected")
    ]
    assert len(decisions) == 1


async def test_a_double_tap_is_harmless(moderation: Moderation) -> None:
    _reference, card_id = await card_of_new_tip(moderation)
    card = moderation.latest(card_id)
    verify = button_data(card, lambda text: text == "✅ Verified")
    await moderation.alice.press_data(verify, message=card, chat=moderation.group)
    await moderation.alice.press_data(verify, message=card, chat=moderation.group)
    assert moderation.alice.last_callback_answer.text == mt(
        "mod-conflict", name="Alice (@alice_mod)"
    )
    verified = await moderation.bot.all(CustodyEntry, CustodyEntry.action == "verified")
    assert len(verified) == 1
    notices = [o for o in await moderation.bot.all(OutboxMessage) if o.kind == "notice"]
    assert len(notices) <= 1


async def test_a_taken_tip_asks_before_someone_else_acts(moderation: Moderation) -> None:
    reference, card_id = await card_of_new_tip(moderation)
    group = moderation.group
    await moderation.alice.press("✋ Take", message=moderation.latest(card_id), chat=group)
    await moderation.bob.press("✅ Verified", message=moderation.latest(card_id), chat=group)
    assert moderation.bob.last_callback_answer.text == mt(
        "mod-confirm-taken", name="Alice (@alice_mod)"
    )
    assert (await tip(moderation.bot, reference)).status == "in_review"
    await moderation.bob.press("Yes, do it", message=moderation.latest(card_id), chat=group)
    stored = await tip(moderation.bot, reference)
    assert stored.status == "verified"
    assert "verified — Bob" in (moderation.latest(card_id).text or "")


async def test_reject_with_a_reason(moderation: Moderation) -> None:
    reference, card_id = await card_of_new_tip(moderation)
    group = moderation.group
    await moderation.alice.press("❌ Reject…", message=moderation.latest(card_id), chat=group)
    reasons = [t for row in moderation.latest(card_id).inline_buttons for t, _ in row]
    assert reasons == ["Spam", "Not relevant", "Not enough information", "Other reason", "◀️ Back"]
    await moderation.alice.press("◀️ Back", message=moderation.latest(card_id), chat=group)
    await moderation.alice.press("❌ Reject…", message=moderation.latest(card_id), chat=group)
    await moderation.alice.press(
        "Not enough information", message=moderation.latest(card_id), chat=group
    )
    stored = await tip(moderation.bot, reference)
    assert (stored.status, stored.reject_reason) == ("rejected", "not_enough_info")
    assert "rejected (Not enough information)" in (moderation.latest(card_id).text or "")
    entry = (await moderation.bot.all(CustodyEntry, CustodyEntry.action == "rejected"))[0]
    assert entry.details["reason"] == "not_enough_info"


async def test_duplicate_by_suggestion_and_by_typed_reference(moderation: Moderation) -> None:
    first, second, third = await seed_tips(moderation.bot, 3)
    group = moderation.group
    await moderation.drained()
    card = await moderation.card(third)
    await moderation.alice.press("🔁 Duplicate…", message=card, chat=group)
    options = [t for row in moderation.latest(card.message_id).inline_buttons for t, _ in row]
    assert "⌨️ Type a reference" in options
    await moderation.alice.press(
        "⌨️ Type a reference", message=moderation.latest(card.message_id), chat=group
    )
    prompt = group.last_bot_message()
    assert "Reply to this message" in (prompt.text or "")
    await moderation.alice.send_text(first.lower().replace("-", " "), chat=group, reply_to=prompt)
    stored = await tip(moderation.bot, third)
    assert stored.status == "duplicate"
    assert f"duplicate of {first}" in (moderation.latest(card.message_id).text or "")
    await moderation.alice.send_text("ZZZZ-ZZZZ", chat=group, reply_to=prompt)
    assert (
        "no report" in (group.last_bot_message().text or "").lower()
        or "already" in (group.last_bot_message().text or "").lower()
    )
    _ = second
    assert re.search(r"duplicate", (moderation.latest(card.message_id).text or ""))
