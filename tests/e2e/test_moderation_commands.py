"""The moderators' commands, and one forum topic per category."""

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import ForumTopic
from tests.e2e.flows import t
from tests.e2e.moderators import Moderation, seed_tips, start_moderated, tip
from tests.fakebot import FakeTelegram


async def test_queue_lists_unassigned_and_urgent_first_in_pages(moderation: Moderation) -> None:
    references = await seed_tips(moderation.bot, 13)
    await moderation.drained()
    group, alice = moderation.group, moderation.alice
    taken, urgent = references[0], references[5]
    for reference, action in ((taken, "✋ Take"), (urgent, "🚨 Urgent")):
        await alice.send_command("/tip", reference, chat=group)  # they came in a digest
        await alice.press(action, message=group.last_bot_message(), chat=group)

    await alice.send_command("/queue", chat=group)
    page = group.last_bot_message()
    lines = (page.text or "").splitlines()
    assert "13 open (page 1 of 2)" in lines[0]
    assert lines[1].startswith(f"🚨 {urgent}"), "urgent first"
    assert taken not in (page.text or ""), "assigned ones after the unassigned"
    await alice.press("Next ▶️", message=page, chat=group)
    second = group.message(page.message_id)
    assert second is not None
    assert "page 2 of 2" in (second.text or "")
    assert f"{taken}" in (second.text or "")
    assert "Alice" in (second.text or "")

    await alice.send_command("/mine", chat=group)
    assert taken in (group.last_bot_message().text or "")
    await moderation.bob.send_command("/mine", chat=group)
    assert "Nothing is assigned to you" in (group.last_bot_message().text or "")


async def test_tip_posts_the_card_again_and_stats_count(moderation: Moderation) -> None:
    (reference,) = await seed_tips(moderation.bot, 1)
    old = await moderation.card(reference)
    group, alice = moderation.group, moderation.alice
    await alice.send_command("/tip", reference.lower(), chat=group)
    new = group.last_bot_message()
    assert (new.text or "").startswith(reference)
    assert new.message_id != old.message_id
    assert (await tip(moderation.bot, reference)).card_message_id == new.message_id
    await alice.send_command("/tip", "ZZZZ-ZZZZ", chat=group)
    assert "There is no report" in (group.last_bot_message().text or "")
    await alice.send_command("/tip", chat=group)
    assert "Usage" in (group.last_bot_message().text or "")

    await alice.press("✅ Verified", message=new, chat=group)
    await alice.send_command("/stats", chat=group)
    stats = group.last_bot_message().text or ""
    assert "By status: ✅ verified 1" in stats
    assert "By category: Strike on civilians or civilian buildings 1" in stats
    assert "By oblast: Kyiv Obl. 1" in stats
    await alice.send_command("/help", chat=group)
    assert "/queue" in (group.last_bot_message().text or "")


async def test_moderator_commands_do_not_exist_outside_the_group(moderation: Moderation) -> None:
    (reference,) = await seed_tips(moderation.bot, 1)
    stranger = moderation.fake.user()
    await stranger.send_command("/queue")
    reply = stranger.last_bot_message().text or ""
    assert reply == t("en", "unknown-command")
    await stranger.send_command("/tip", reference)
    assert reference not in (stranger.last_bot_message().text or "")


async def test_one_forum_topic_per_category(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    group = fake.group(title="Moderators", is_forum=True)
    bot = await start_moderated(
        fake, engine, database_url, tmp_path, group, moderator_topics="category"
    )
    try:
        moderation = Moderation(bot, fake, group, fake.user(), fake.user())
        strikes = await seed_tips(bot, 2, category="strike")
        bodies = await seed_tips(bot, 1, category="bodies")
        await moderation.drained()
        created = fake.calls_to("createForumTopic")
        assert sorted(c.params["name"] for c in created) == [
            "Bodies or a grave site found",
            "Strike on civilians or civilian buildings",
        ]
        topics = {t.key: t.thread_id for t in await bot.all(ForumTopic)}
        cards = {m.text.split(" ")[0]: m.message_thread_id for m in group.bot_messages() if m.text}
        assert cards[strikes[0]] == cards[strikes[1]] == topics["category:strike"]
        assert cards[bodies[0]] == topics["category:bodies"]

        # Someone deletes a topic: the next card creates it again instead of failing forever.
        group.delete_topic(topics["category:strike"])
        later = await seed_tips(bot, 1, category="strike")
        await moderation.drained()
        card = await moderation.card(later[0])
        renewed = {t.key: t.thread_id for t in await bot.all(ForumTopic)}
        assert renewed["category:strike"] != topics["category:strike"]
        assert card.message_thread_id == renewed["category:strike"]
        assert len(fake.calls_to("createForumTopic")) == 3
    finally:
        await bot.stop()


async def test_a_fixed_forum_topic(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    group = fake.group(title="Moderators", is_forum=True)
    topic = await fake.make_bot().create_forum_topic(group.id, "Reports")
    bot = await start_moderated(
        fake, engine, database_url, tmp_path, group, moderator_thread_id=topic.message_thread_id
    )
    try:
        moderation = Moderation(bot, fake, group, fake.user(), fake.user())
        (reference,) = await seed_tips(bot, 1)
        card = await moderation.card(reference)
        assert card.message_thread_id == topic.message_thread_id
        assert fake.calls_to("createForumTopic")[-1].params["name"] == "Reports"
    finally:
        await bot.stop()
