"""Outside private chats the intake does not run; the command menu exists in each language."""

import pytest

from tests.e2e.flows import t
from tests.e2e.moderators import Moderation, mt
from tests.fakebot import FakeGroup, FakeTelegram, FakeUser
from tests.harness import BotHarness


async def test_start_in_a_group_points_to_the_private_chat(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    group = fake.group(title="Some group")
    user = fake.user(language_code="uk")
    group.add_member(user)
    await user.send_command("/start", chat=group, mention_bot=True)
    reply = group.last_bot_message()
    assert "@tipbot_test_bot" in reply.text
    before = len(group.bot_messages())
    await user.send_text("photos of the strike", chat=group)
    await user.send_command("/report", chat=group, mention_bot=True)
    assert len(group.bot_messages()) == before + 1, "only the pointer again, no intake"
    from db.models import Reporter

    assert await bot.count(Reporter) == 0


async def test_commands_are_registered_in_each_language(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    calls = fake.calls_to("setMyCommands")
    languages = sorted(str(c.params.get("language_code")) for c in calls)
    assert languages == ["None", "ru", "uk"]
    names = {c["command"] for c in calls[0].params["commands"]}
    assert names == {
        "start",
        "report",
        "myreports",
        "language",
        "privacy",
        "cancel",
        "help",
        "deletemydata",
    }
    uk = next(c for c in calls if c.params.get("language_code") == "uk")
    assert any("звернення" in c["description"] for c in uk.params["commands"])


async def added(fake: FakeTelegram, group: FakeGroup, by: FakeUser, *, old: str = "left") -> None:
    """Telegram's ``my_chat_member`` update: ``by`` added the bot to ``group``."""
    me = {"id": fake.bot_id, "is_bot": True, "first_name": "TipBot", "username": "tipbot_test_bot"}
    await fake.push_update(
        "my_chat_member",
        {
            "chat": {"id": group.id, "type": "supergroup", "title": group.title},
            "from": by.to_dict(),
            "date": 1_800_000_000,
            "old_chat_member": {"status": old, "user": me},
            "new_chat_member": {"status": "member", "user": me},
        },
    )


async def test_an_admin_adding_the_bot_is_told_the_id_to_set_in_the_group(
    bot: BotHarness, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    group = fake.group(title="Staff")
    owner = fake.user()
    group.add_member(owner, "creator")
    with caplog.at_level("INFO"):
        await added(fake, group, owner)
    assert f"set MODERATOR_CHAT_ID={group.id}" in caplog.text
    [said] = group.bot_messages()
    assert said.text == t("en", "group-added", chat_id=str(group.id))
    assert f"MODERATOR_CHAT_ID={group.id}" in said.text, "the id whole, digits not grouped"
    assert f"<code>MODERATOR_CHAT_ID={group.id}</code>" in said.html


async def test_a_member_adding_the_bot_gets_no_instructions_posted(
    bot: BotHarness, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """Set-up instructions go only where an admin asked for the bot: a member adding it to
    some chat leaves only the log line."""
    group = fake.group(title="Neighbours")
    member = fake.user()
    group.add_member(member, "member")
    with caplog.at_level("INFO"):
        await added(fake, group, member)
    assert f"set MODERATOR_CHAT_ID={group.id}" in caplog.text
    assert group.bot_messages() == []


async def test_a_promotion_is_not_a_new_arrival(bot: BotHarness, fake: FakeTelegram) -> None:
    group = fake.group(title="Staff")
    owner = fake.user()
    group.add_member(owner, "creator")
    await added(fake, group, owner, old="member")
    assert group.bot_messages() == []


async def test_joining_the_configured_group_confirms_it(moderation: Moderation) -> None:
    fake, group = moderation.fake, moderation.group
    owner = fake.user()
    group.add_member(owner, "administrator")
    before = len(group.bot_messages())
    await added(fake, group, owner)
    said = group.bot_messages()[before:]
    assert [m.text for m in said] == [mt("group-added-configured")]
