"""What a new operator runs into: an unset organisation name, a wrong group id.

The command-line side (one line and an exit status from ``tipbot run`` and the commands that
need a database) is in test_cli.py; the bot's words on joining a group in test_groups.py.
"""

import re

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import check_chat
from bot.i18n import LANGUAGE_NAMES, LANGUAGES
from bot.settings import ConfigError, Settings
from tests.conftest import SECRET
from tests.e2e.flows import t
from tests.fakebot import FakeTelegram, FakeUser
from tests.harness import BotHarness


async def test_without_an_org_name_reporters_read_a_neutral_phrase_in_their_language(
    fake: FakeTelegram,
    settings: Settings,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = BotHarness(fake, settings, engine, SECRET.encode())
    with caplog.at_level("WARNING"):
        await harness.start(tipbot_org_name=None)
    try:
        warnings = [r for r in caplog.records if "TIPBOT_ORG_NAME" in r.getMessage()]
        assert len(warnings) == 1, caplog.text
        for lang in LANGUAGES:
            user = fake.user(language_code=lang)
            await user.send_command("/start")
            await user.press(re.compile(rf"^(• )?{re.escape(LANGUAGE_NAMES[lang])}$"))
            texts = await consent_screens(user)
            assert len(texts) >= 2, "the introduction and the privacy notice"
            for text in texts:
                assert "not configured" not in text
                assert "Tipbot" not in text
                assert "None" not in text
            seen = "\n".join(texts).casefold()
            assert t(lang, "org-unnamed").casefold() in seen
    finally:
        await harness.stop()


async def consent_screens(user: FakeUser) -> list[str]:
    """The texts of the introduction and of every screen its "more" buttons lead to (not
    agreeing, not going back, not changing the language)."""
    texts: list[str] = []
    pressed: set[str] = set()
    while True:
        message = user.last_bot_message()
        texts.append(message.text or "")
        onward = [
            (text, data)
            for row in message.inline_buttons
            for text, data in row
            if data
            and data.startswith("c:")
            and data.split(":")[1] not in ("agree", "intro", "lang")
            and data not in pressed
        ]
        if not onward or len(texts) > 5:
            return texts
        text, data = onward[0]
        pressed.add(data)
        await user.press(text)


async def test_a_configured_org_name_is_shown_and_not_warned_about(
    fake: FakeTelegram,
    settings: Settings,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = BotHarness(fake, settings, engine, SECRET.encode())
    with caplog.at_level("WARNING"):
        await harness.start()
    try:
        assert "TIPBOT_ORG_NAME" not in caplog.text
        user = fake.user(language_code="uk")
        await user.send_command("/start")
        await user.press(re.compile(r"^(• )?Українська$"))
        seen = "\n".join(await consent_screens(user))
        assert "Test Documentation Initiative" in seen
        assert t("uk", "org-unnamed").casefold() not in seen.casefold()
    finally:
        await harness.stop()


# ---------------------------------------------------------------- start-up check of chat ids


async def test_the_chat_check_accepts_a_group_the_bot_is_in(fake: FakeTelegram) -> None:
    group = fake.group(title="Moderators", bot_status="member")
    async with fake.make_bot() as bot:
        await check_chat(bot, "MODERATOR_CHAT_ID", group.id, channel_ok=False)
        await check_chat(bot, "MODERATOR_CHAT_ID", None, channel_ok=False)  # unset: nothing
    assert fake.calls_to("getChat"), "the group was looked up with getChat"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("positive", r"^MODERATOR_CHAT_ID: 7\d+ is the id of a person .* group ids are negative"),
        ("unknown", r"^MODERATOR_CHAT_ID: there is no group -100\d+, or the bot is not in it"),
        ("left", r"^MODERATOR_CHAT_ID: the bot is not a member of -100\d+"),
        ("kicked", r"^(MODERATOR_CHAT_ID: the bot is not a member|MODERATOR_CHAT_ID: there is no)"),
    ],
)
async def test_the_chat_check_names_the_variable_and_the_mistake(
    fake: FakeTelegram, setup: str, expected: str
) -> None:
    if setup == "positive":
        user = fake.user()
        await user.send_command("/start")  # a chat that exists: the id still is not a group's
        chat_id = user.id
    elif setup == "unknown":
        chat_id = -1009999999999
    else:
        group = fake.group(title="Moderators")
        group.set_bot_status(setup)
        chat_id = group.id
    async with fake.make_bot() as bot:
        with pytest.raises(ConfigError) as caught:
            await check_chat(bot, "MODERATOR_CHAT_ID", chat_id, channel_ok=False)
    message = str(caught.value)
    assert re.match(expected, message), message
    assert "\n" not in message
