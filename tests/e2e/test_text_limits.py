"""Telegram's text limits in UTF-16 code units, with emoji (two units each): every text the
bot sends fits, and a message Telegram refuses for good ends as failed (counted in /stats)
instead of being retried forever."""

from __future__ import annotations

import re
from typing import Any

import pytest
from telegram.error import BadRequest

from bot import tgtext
from db.models import OUTBOX_FAILED, OUTBOX_SENT, OutboxMessage, Tip
from tests.e2e.flows import label, onboard, t
from tests.e2e.moderators import Moderation, mt, seed_tips, tip
from tests.e2e.test_moderation_cards import report
from tests.e2e.test_moderation_relay import ask, reporter_of
from tests.fakebot import FakeTelegram
from tests.harness import BotHarness

EMOJI = "😀"  # outside the BMP: one character, two UTF-16 code units


def units(text: str | None) -> int:
    return tgtext.utf16_len(text or "")


async def test_the_fake_counts_utf16_units_like_telegram(fake: FakeTelegram) -> None:
    """The fake used to count characters, which is why emoji-heavy texts passed the tests
    and failed against Telegram."""
    user = fake.user()
    await user.send_command("/start")
    async with fake.make_bot() as bot:
        await bot.send_message(user.id, EMOJI * 2048)
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(user.id, EMOJI * 2048 + "x")
        await bot.send_message(user.id, "<b>" + EMOJI * 2047 + "&amp;&lt;</b>", parse_mode="HTML")
        photo = await user.send_photo()
        file_id = photo["message"]["photo"][-1]["file_id"]
        await bot.send_photo(user.id, file_id, caption=EMOJI * 512)
        with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
            await bot.send_photo(user.id, file_id, caption=EMOJI * 512 + "x")


def _emoji_heavy(tip_: Tip, _index: int) -> list[Any]:
    """Every field within its limit in characters, but two units per character."""
    tip_.description = EMOJI * 4000
    tip_.location_precision, tip_.place_text = "text", "🏠" * 500
    tip_.perpetrator, tip_.perpetrator_text = "other", "👤" * 1000
    return []


async def test_an_emoji_heavy_card_is_posted_and_its_full_text_arrives_whole(
    moderation: Moderation,
) -> None:
    (reference,) = await seed_tips(moderation.bot, 1, each=_emoji_heavy)
    card = await moderation.card(reference)
    assert units(card.text) <= tgtext.TEXT
    assert "🏠" * 100 in (card.text or ""), "the place is on the card"
    await moderation.drained()
    [row] = await moderation.bot.all(OutboxMessage, OutboxMessage.kind == "tip_submitted")
    assert row.status == OUTBOX_SENT

    await moderation.alice.press("📄 Full text", message=card, chat=moderation.group)
    await moderation.drained()
    header = mt("mod-fulltext-title", reference=reference)
    parts = [m.text or "" for m in moderation.group.bot_messages() if header in (m.text or "")]
    assert len(parts) >= 2, "8,000 units do not fit one message"
    assert all(units(part) <= tgtext.TEXT for part in parts)
    words = "".join(part.split("\n\n", 1)[1] for part in parts)
    assert words == EMOJI * 4000, "every emoji arrives, none halved"


async def test_an_answer_of_2048_emoji_arrives(moderation: Moderation) -> None:
    reference = await report(moderation)
    await ask(moderation, reference, "Please describe everything you remember.")
    await moderation.drained()
    user = reporter_of(moderation)
    question = await user.wait_for_message(
        lambda m: "everything you remember" in (m.text or ""), new_only=False
    )
    await user.send_text(EMOJI * 2048, reply_to=question)
    await moderation.drained()
    posted = [m.text or "" for m in moderation.group.bot_messages() if EMOJI in (m.text or "")]
    assert posted, "the answer is in the group"
    assert all(units(text) <= tgtext.TEXT for text in posted)
    assert "".join(posted).count(EMOJI) == 2048
    rows = await moderation.bot.all(OutboxMessage, OutboxMessage.kind == "answer")
    assert {row.status for row in rows} == {OUTBOX_SENT}


async def test_a_description_of_2000_emoji_shows_the_review_screen(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await onboard(user)
    await user.press(label("en", "menu-new"))
    await user.press(label("en", "category-strike"))
    await user.send_text(EMOJI * 2000)
    await user.press(label("en", "nav-next"))
    await user.send_text("24.02.2022")
    await user.send_text("🏠" * 500)
    await user.press(re.compile("^" + re.escape(t("en", "where-keep", typed="")[:6])))
    await user.press(label("en", "party-other"))
    await user.send_text("👤" * 1000)
    await user.press(label("en", "evidence-none"))
    await user.press(label("en", "contact-yes"))
    review = user.last_bot_message()
    assert review is not None
    assert t("en", "step-review-text") in (review.text or ""), review.text
    assert units(review.text) <= tgtext.TEXT
    assert EMOJI * 100 in (review.text or ""), "the description's start is shown"
    await user.press(label("en", "review-submit"))
    assert re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", user.last_bot_message().text or "")


async def test_a_toast_of_200_units_with_emoji(fake: FakeTelegram) -> None:
    """The toast helper cuts by UTF-16 units (the fake refuses 201)."""
    from handlers.base import answer

    class Query:
        text: str | None = None

        async def answer(self, text: str | None = None, **_: Any) -> bool:
            self.text = text
            return True

    query = Query()
    assert await answer(query, EMOJI * 150)  # type: ignore[arg-type]
    assert query.text is not None
    assert units(query.text) == tgtext.TOAST - 1, "99 emoji and the ellipsis: no emoji halved"
    assert query.text.endswith("…")
    assert await answer(query, "<b>" + EMOJI * 100 + "</b>")  # type: ignore[arg-type]
    assert query.text == EMOJI * 100


async def test_a_permanent_refusal_is_shortened_once_then_failed_and_counted(
    moderation: Moderation,
) -> None:
    group = moderation.group
    fake = moderation.fake
    # Refused once (a permanent 400): the card goes again in a safe form, and is posted.
    fault = fake.fail("sendMessage", status=400, description="Bad Request: some permanent refusal")
    (first,) = await seed_tips(moderation.bot, 1)
    card = await moderation.card(first)
    assert fault.hits == 1
    assert "<b>" not in (card.html or ""), "the safe form has no markup"
    # Refused every time: the row ends as failed, and /stats says so.
    fault = fake.fail(
        "sendMessage",
        status=400,
        description="Bad Request: some permanent refusal",
        times=None,
        chat_id=group.id,
    )
    (second,) = await seed_tips(moderation.bot, 1)
    await moderation.drained()
    fault.cancel()
    assert fault.hits == 2, "once as it was, once in the safe form; never again"
    rows = await moderation.bot.all(
        OutboxMessage, OutboxMessage.tip_id == (await tip(moderation.bot, second)).id
    )
    assert [row.status for row in rows] == [OUTBOX_FAILED]
    await moderation.alice.send_command("/stats", chat=group)
    shown = group.last_bot_message().text or ""
    assert mt("mod-stats-undelivered", count=1) in shown, shown
