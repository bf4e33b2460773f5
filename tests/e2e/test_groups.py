"""Outside private chats the intake does not run; the command menu exists in each language."""

import pytest

from tests.fakebot import FakeTelegram
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


async def test_the_group_id_is_logged_when_the_bot_is_added(
    bot: BotHarness, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    group = fake.group(title="Staff")
    admin = fake.user()
    me = {"id": fake.bot_id, "is_bot": True, "first_name": "TipBot", "username": "tipbot_test_bot"}
    with caplog.at_level("INFO"):
        await fake.push_update(
            "my_chat_member",
            {
                "chat": {"id": group.id, "type": "supergroup", "title": "Staff"},
                "from": admin.to_dict(),
                "date": 1_800_000_000,
                "old_chat_member": {"status": "left", "user": me},
                "new_chat_member": {"status": "member", "user": me},
            },
        )
    assert f"set MODERATOR_CHAT_ID={group.id}" in caplog.text
