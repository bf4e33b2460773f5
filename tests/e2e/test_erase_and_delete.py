"""Erasing the conversation and deleting my data: what goes, what stays, what the log says."""

import pytest
from sqlalchemy import update

from bot import telegram_retry
from bot.custody import verify
from db.models import ChatMessage, CustodyEntry, Media, OutboxMessage, Reporter, Tip
from tests.e2e.flows import JPEG, file_complete_report, label, onboard, t
from tests.e2e.test_wrong_input import reach
from tests.fakebot import FakeTelegram
from tests.harness import BotHarness


async def test_erase_leaves_only_a_neutral_confirmation(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user()
    await onboard(user)
    reference = await file_complete_report(user)
    assert len(user.messages) > 10
    await user.press(label("en", "erase-button"))
    visible = [m.text for m in user.messages]
    # Only the reference, and how to remove the chat itself from the chat list.
    neutral = t("en", "erase-done", reference=reference) + "\n\n" + t("en", "delete-chat-hint")
    assert visible == [neutral], visible
    deleted = {m.message_id for m in user.history if m.deleted}
    assert 1 in deleted, "the reporter's own /start is gone too"
    entry = (await bot.all(CustodyEntry))[-1]
    assert entry.action == "conversation_erased"
    assert entry.details["from_message"] == 1
    assert await bot.count(ChatMessage) == 0
    # The report itself is untouched.
    assert (await bot.all(Tip))[0].status == "submitted"


async def test_erase_goes_ahead_when_its_confirmation_cannot_be_sent(
    bot: BotHarness, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = fake.user()
    await onboard(user)
    await file_complete_report(user)
    assert len(user.messages) > 10
    # Replies ride out passing faults (bot.telegram_retry): fail for longer than it tries.
    monkeypatch.setattr(telegram_retry, "POLICY", telegram_retry.RetryPolicy(attempts=2))
    fake.fail("sendMessage", status=502, times=2, chat_id=user.id)
    await user.press(label("en", "erase-button"))
    # The button's toast went first, so the apology comes as a message: all that is left.
    await user.wait_for_message(
        lambda m: (m.text or "") == t("en", "error-generic"), new_only=False
    )
    assert [m.text for m in user.messages] == [t("en", "error-generic")]
    assert (await bot.all(CustodyEntry))[-1].action == "conversation_erased"


async def test_erase_reaches_only_the_last_48_hours(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await onboard(user)
    await user.send_command("/help")
    fake.advance(50 * 3600)
    await user.send_command("/privacy")
    recent = user.last_bot_message().message_id
    await user.press(label("en", "erase-chat-button"))
    remaining = [m.message_id for m in user.messages]
    assert remaining[:4] == [1, 2, 3, 4], "messages older than 48 hours cannot be deleted"
    assert recent not in remaining
    plain = t("en", "erase-done-plain") + "\n\n" + t("en", "delete-chat-hint")
    assert user.last_bot_message().text == plain


async def test_delete_my_data(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await onboard(user)
    reviewed = await file_complete_report(user)
    waiting = await file_complete_report(user)
    async with bot.session() as session:
        # A moderator has started on the first report.
        await session.execute(
            update(Tip).where(Tip.reference == reviewed).values(status="in_review")
        )
        await session.commit()
    await reach_draft_with_file(user)
    files_before = {m.storage_key for m in await bot.all(Media)}
    assert files_before

    await user.send_command("/deletemydata")
    assert t("en", "delete-yes") in user.buttons()
    await user.press(label("en", "delete-yes"))

    final = user.last_bot_message().text
    assert t("en", "delete-done") in final
    assert t("en", "delete-drafts", count=1) in final
    assert t("en", "delete-withdrawn", count=1, references=waiting) in final
    assert reviewed in final, "the kept report is named, with why"
    assert len(user.messages) == 1, "the conversation was erased as well"

    tips = {tip.reference: tip for tip in await bot.all(Tip)}
    assert set(tips) == {reviewed, waiting}
    assert tips[reviewed].status == "in_review"
    assert tips[reviewed].description
    erased = tips[waiting]
    assert erased.status == "withdrawn"
    assert (erased.description, erased.lat, erased.settlement, erased.category) == (
        None,
        None,
        None,
        None,
    )

    remaining = await bot.all(Media)
    assert {m.tip_id for m in remaining} == {tips[reviewed].id}
    for media in remaining:
        assert (bot.settings.media_dir / media.storage_key).exists()
    gone = files_before - {m.storage_key for m in remaining}
    for key in gone:
        assert not (bot.settings.media_dir / key).exists()

    reporter = (await bot.all(Reporter))[0]
    assert (reporter.chat_id_enc, reporter.consented_at) == (None, None)
    assert reporter.lookup is None, "detached: no Telegram id finds this row any more"
    outbox = sorted((o.tip_id, o.kind, o.status) for o in await bot.all(OutboxMessage))
    assert outbox == [
        (tips[reviewed].id, "tip_submitted", "pending"),
        (erased.id, "tip_submitted", "cancelled"),
    ], "the withdrawn report is never posted to the moderators"
    actions = [e.action for e in await bot.all(CustodyEntry)]
    assert actions[-5:] == [
        "withdrawn",
        "erased",
        "draft_deleted",
        "data_deleted",
        "reporter_detached",
    ], actions[-8:]
    for entry in await bot.all(CustodyEntry):
        assert "description" not in entry.details
    async with bot.session() as session:
        assert (await verify(session)).ok

    # Starting again asks for consent again.
    await user.send_command("/start")
    assert t("en", "language-choose") in user.last_bot_message().text
    await user.send_command("/deletemydata")
    assert t("en", "delete-nothing") in user.last_bot_message().text


async def reach_draft_with_file(user) -> None:  # type: ignore[no-untyped-def]
    await user.send_command("/report")
    await user.press(label("en", "category-looting"))
    await user.send_photo(content=JPEG + b"draft")
    await user.wait_for_message(lambda m: "received" in (m.text or ""))


async def test_delete_can_be_declined(bot: BotHarness, fake: FakeTelegram) -> None:
    user = fake.user()
    await reach(user, "when")
    await user.send_command("/deletemydata")
    await user.press(label("en", "delete-no"))
    assert t("en", "menu-text") in user.last_bot_message().text
    assert await bot.count(Tip) == 1
    assert (await bot.all(Reporter))[0].chat_id_enc is not None
