"""Bans quarantine silently; duplicates are linked (exact) and suggested (perceptual)."""

import asyncio
import io
import re

from PIL import Image, ImageDraw

from db.models import CustodyEntry, OutboxMessage, TipLink, TipNote
from tests.e2e.flows import label, onboard, t
from tests.e2e.moderators import Moderation, mt, tip
from tests.fakebot import FakeUser


def picture(size: tuple[int, int], quality: int) -> bytes:
    """A photo with structure (so its perceptual hash means something)."""
    image = Image.new("RGB", (640, 480), (230, 230, 220))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        draw.rectangle(
            (i * 50, 40 + i * 25, i * 50 + 40, 300 + i * 10), fill=(20 * i, 80, 255 - 20 * i)
        )
    draw.ellipse((380, 60, 600, 280), fill=(200, 30, 30))
    image = image.resize(size)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


async def quick_report(user: FakeUser, files: list[bytes], *, as_document: bool = True) -> str:
    await user.send_command("/report")
    await user.press(label("en", "category-strike"))
    await user.send_text("A strike on the market.")
    await user.press(label("en", "nav-next"))
    await user.press(label("en", "when-unknown"))
    await user.press(label("en", "where-unknown"))
    await user.press(label("en", "party-unknown"))
    for index, data in enumerate(files):
        if as_document:
            await user.send_document(data, file_name=f"IMG_{index}.jpg", mime_type="image/jpeg")
        else:
            await user.send_photo(content=data)
    if files:
        await user.wait_for_message(lambda m: "in total" in (m.text or ""))
        await user.press(label("en", "evidence-done"))
    else:
        await user.press(label("en", "evidence-none"))
    await user.press(re.compile(re.escape(label("en", "contact-yes")) + "$"))
    await user.press(label("en", "review-submit"))
    match = re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", user.last_bot_message().text or "")
    assert match
    return match.group(0)


async def test_a_banned_reporter_is_quarantined_silently(moderation: Moderation) -> None:
    user = moderation.fake.user()
    await onboard(user)
    first = await quick_report(user, [])
    card = await moderation.card(first)
    await moderation.alice.press("⛔ Ban reporter", message=card, chat=moderation.group)
    assert (await tip(moderation.bot, first)).status == "quarantined"
    assert "banned" in (moderation.latest(card.message_id).text or "")

    second = await quick_report(user, [])
    assert t("en", "submitted", reference=second).split(".")[0] in (
        user.last_bot_message().text or ""
    ), "not told"
    await moderation.drained()
    assert (await tip(moderation.bot, second)).status == "quarantined"
    assert not any(second in (m.text or "") for m in moderation.group.bot_messages()), "not posted"
    await user.send_command("/myreports")
    assert t("en", "status-submitted") in (user.last_bot_message().text or "")

    await moderation.alice.send_command("/queue", "banned", chat=moderation.group)
    listing = moderation.group.last_bot_message().text or ""
    assert first in listing
    assert second in listing
    await moderation.alice.send_command("/unban", second, chat=moderation.group)
    await moderation.drained()
    assert (await tip(moderation.bot, second)).status == "submitted"
    assert await moderation.card(second), "the report held back is presented now"
    cards_of_first = [
        m for m in moderation.group.bot_messages() if (m.text or "").startswith(first)
    ]
    assert len(cards_of_first) == 1, [
        (m.message_id, (m.text or "")[:60], m.reply_to_message_id) for m in cards_of_first
    ]


async def test_identical_and_recompressed_images_are_linked(moderation: Moderation) -> None:
    original = picture((640, 480), 95)
    recompressed = picture((320, 240), 40)  # as Telegram shrinks a photo
    assert original != recompressed
    one, two, three = moderation.fake.user(), moderation.fake.user(), moderation.fake.user()
    for user in (one, two, three):
        await onboard(user)
    first = await quick_report(one, [original])
    second = await quick_report(two, [original])  # the very same file
    third = await quick_report(three, [recompressed], as_document=False)
    await moderation.drained()
    links = {
        (link.tip_id, link.other_tip_id, link.kind) for link in await moderation.bot.all(TipLink)
    }
    ids = {ref: (await tip(moderation.bot, ref)).id for ref in (first, second, third)}
    assert (ids[second], ids[first], "same_file") in links
    assert (ids[first], ids[second], "same_file") in links
    assert (ids[third], ids[first], "similar_image") in links
    card = await moderation.card(third)
    assert f"{first} (similar image)" in (card.text or "")
    await moderation.alice.press("🔁 Duplicate…", message=card, chat=moderation.group)
    await moderation.alice.press(
        re.compile(rf"^{first} \(similar image\)$"),
        message=moderation.latest(card.message_id),
        chat=moderation.group,
    )
    stored = await tip(moderation.bot, third)
    assert stored.status == "duplicate"
    assert stored.duplicate_of_id == ids[first]


async def test_a_withdrawn_report_updates_its_card(moderation: Moderation) -> None:
    user = moderation.fake.user()
    await onboard(user)
    reference = await quick_report(user, [])
    card = await moderation.card(reference)
    await user.send_command("/deletemydata")
    await user.press(label("en", "delete-yes"))
    await moderation.drained()
    updated = moderation.latest(card.message_id).text or ""
    assert "Withdrawn by the reporter" in updated
    assert "A strike on the market" not in updated
    kinds = sorted((o.kind, o.status) for o in await moderation.bot.all(OutboxMessage))
    assert ("tip_withdrawn", "sent") in kinds


async def test_a_ban_leaves_reports_in_hand_and_passes_nothing_on(
    moderation: Moderation,
) -> None:
    group, alice, bob = moderation.group, moderation.alice, moderation.bob
    user = moderation.fake.user()
    await onboard(user)
    in_hand = await quick_report(user, [])
    waiting = await quick_report(user, [])
    in_hand_card = await moderation.card(in_hand)
    await bob.press("✋ Take", message=in_hand_card, chat=group)
    await bob.press("❓ Needs info", message=moderation.latest(in_hand_card.message_id), chat=group)
    await bob.send_text("Which market?", chat=group, reply_to=group.last_bot_message())
    await moderation.drained()
    question = await user.wait_for_message(
        lambda m: "Which market" in (m.text or ""), new_only=False
    )

    await alice.press("⛔ Ban reporter", message=await moderation.card(waiting), chat=group)
    assert (await tip(moderation.bot, waiting)).status == "quarantined"
    kept = await tip(moderation.bot, in_hand)
    assert (kept.status, kept.assignee_name) == ("needs_info", "Bob"), "stays with Bob"
    assert mt("mod-card-banned") in (moderation.latest(in_hand_card.message_id).text or "")

    # The banned reporter answers: kept with the tip, not passed on, and they are not told.
    await user.send_text("The central one.", reply_to=question)
    assert t("en", "answer-thanks", reference=in_hand) in (user.last_bot_message().text or "")
    await moderation.drained()
    assert not any("central one" in (m.text or "") for m in group.bot_messages())
    assert [n.kind for n in await moderation.bot.all(TipNote)] == ["question", "answer"]
    answers = await moderation.bot.all(OutboxMessage, OutboxMessage.kind == "answer")
    assert [row.status for row in answers] == ["cancelled"]


async def test_a_withdrawal_takes_the_copies_out_of_the_group(moderation: Moderation) -> None:
    group, alice = moderation.group, moderation.alice
    user = moderation.fake.user()
    await onboard(user)
    reference = await quick_report(user, [picture((640, 480), 90)])
    card = await moderation.card(reference)
    await alice.press(re.compile(r"^📎 Media"), message=card, chat=group)
    # (a short text has no Full text button; the view is there all the same)
    full_text = f"mod:text:{(await tip(moderation.bot, reference)).id}"
    await alice.press_data(full_text, message=card, chat=group)
    await user.send_command("/myreports")
    await user.press(t("en", "mine-add-button", reference=reference))
    await user.send_text("Also: the shelter next door was hit.")
    await user.press(t("en", "adding-done"))
    await moderation.drained()
    copies = [
        m
        for m in group.bot_messages()
        if m.message_id != card.message_id
        and m.reply_to_message_id == card.message_id
        and not (m.text or "").startswith(reference)
    ]
    assert len(copies) >= 3, "the file, the full text and the addition"
    viewed = await moderation.bot.all(CustodyEntry, CustodyEntry.action == "evidence_viewed")
    assert sorted(e.details["view"] for e in viewed) == ["media", "text"]
    assert {e.details["moderator"] for e in viewed} == {"Alice (@alice_mod)"}
    assert {e.actor for e in viewed} == {f"moderator:{alice.id}"}
    # /tip posts the card again: the new one is the one kept up to date, the old one goes.
    await alice.send_command("/tip", reference, chat=group)
    reposted = await group.wait_for_message(
        lambda m: (m.text or "").startswith(reference) and m.message_id != card.message_id,
        new_only=False,
    )

    await user.send_command("/deletemydata")
    await user.press(label("en", "delete-yes"))
    await moderation.drained()
    assert all(group.message(m.message_id).deleted for m in copies)
    assert group.message(card.message_id).deleted, "the earlier card"
    # Nothing is left to show.
    posted = len(group.bot_messages())
    await alice.press_data(full_text, message=moderation.latest(reposted.message_id), chat=group)
    assert alice.last_callback_answer.text == mt("mod-refused-withdrawn")
    assert len(group.bot_messages()) == posted
    assert "Withdrawn by the reporter" in (moderation.latest(reposted.message_id).text or "")
    assert await moderation.bot.count(TipNote) == 0


async def test_copies_too_old_to_delete_are_overwritten(moderation: Moderation) -> None:
    group, alice = moderation.group, moderation.alice
    user = moderation.fake.user()
    await onboard(user)
    reference = await quick_report(user, [picture((640, 480), 90)])
    card = await moderation.card(reference)
    await alice.press(re.compile(r"^📎 Media"), message=card, chat=group)
    full_text = f"mod:text:{(await tip(moderation.bot, reference)).id}"
    await alice.press_data(full_text, message=card, chat=group)
    await moderation.drained()
    shown = [m for m in group.bot_messages() if m.message_id != card.message_id]
    await alice.press(re.compile(r"^📜 History"), message=card, chat=group)
    history = group.last_bot_message()  # no reporter's words in it: it stays as it is
    moderation.fake.advance(49 * 3600)  # Telegram no longer lets the bot delete them

    await user.send_command("/deletemydata")
    await user.press(label("en", "delete-yes"))
    await moderation.drained()
    note = mt("mod-withdrawn-note", reference=reference)
    copies = [moderation.latest(m.message_id) for m in shown]
    assert len(copies) == 2, "the file and the full text"
    assert moderation.latest(history.message_id).text == history.text
    assert not any(m.deleted for m in copies)
    assert sorted(m.text or m.caption or "" for m in copies) == [note, note]
    assert "Withdrawn by the reporter" in (moderation.latest(card.message_id).text or "")
    left = [m.text or m.caption or "" for m in group.bot_messages()]
    assert not any("A strike on the market" in text for text in left)


async def test_a_card_on_its_way_when_the_report_is_withdrawn_is_taken_back(
    moderation: Moderation,
) -> None:
    worker = moderation.bot.services.outbox_worker
    await worker.stop()
    user = moderation.fake.user()
    await onboard(user)
    reference = await quick_report(user, [])
    moderation.fake.delay("sendMessage", 1.5, times=1)  # the card, slow to reach the group
    worker.start()
    for _ in range(100):  # until the worker has claimed the card and is sending it
        claimed = await moderation.bot.all(OutboxMessage, OutboxMessage.lease_until.is_not(None))
        if claimed:
            break
        await asyncio.sleep(0.02)
    assert [row.kind for row in claimed] == ["tip_submitted"]
    await user.send_command("/deletemydata")
    await user.press(label("en", "delete-yes"))
    card = await moderation.card(reference)  # it did land, after the withdrawal
    await moderation.drained()
    assert "Withdrawn by the reporter" in (moderation.latest(card.message_id).text or "")
    left = [m.text or "" for m in moderation.group.bot_messages() if not m.deleted]
    assert not any("A strike on the market" in text for text in left)
    stored = await tip(moderation.bot, reference)
    assert (stored.status, stored.card_message_id) == ("withdrawn", card.message_id)
