"""No raw Telegram user id in any database column; no content, coordinates, file names,
user ids or tokens in the logs of a full run."""

import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from bot.logs import configure_logging
from db.models import Base
from tests.e2e.flows import PDF, file_complete_report, label, onboard
from tests.e2e.test_wrong_input import reach
from tests.fakebot import FakeGroup, FakeTelegram, FakeUser
from tests.harness import BotHarness

DESCRIPTION = "A missile hit the apartment block on the corner at dawn."
FILLED_BY_THE_RUN = {
    "reporter", "tip", "media", "custody_entry", "outbox", "custody_head", "group_message",
    "tip_note",
}  # fmt: skip


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


async def full_run(fake: FakeTelegram, bot: BotHarness) -> list[int]:
    """Two reporters: a full report that a moderator questions and the reporter answers, a
    shared location, files with names and captions, a deletion."""
    first, second = fake.user(language_code="uk"), fake.user()
    await onboard(first, "uk")
    reference = await file_complete_report(first, "uk")
    group = fake.group(title="Moderators")
    moderator = fake.user(first_name="Mod")
    group.add_member(moderator)
    await moderate(bot, group, moderator, reference, first)
    await reach(second, "where")
    await second.share_location(50.4501, 30.5234)
    await second.press(label("en", "party-unknown"))
    await second.send_document(
        PDF,
        file_name="secret-list-of-names.pdf",
        mime_type="application/pdf",
        caption="Caption with names",
    )
    await second.wait_for_message(lambda m: "received" in (m.text or ""))
    await second.send_command("/myreports")
    await second.send_command("/deletemydata")
    await second.press(label("en", "delete-yes"))
    return [first.id, second.id]


async def moderate(
    bot: BotHarness, group: FakeGroup, moderator: FakeUser, reference: str, reporter: FakeUser
) -> None:
    await bot.stop()
    await bot.start(moderator_chat_id=group.id, tipbot_group_window_seconds=1.0)
    card = await group.wait_for_message(lambda m: (m.text or "").startswith(reference), timeout=10)
    await moderator.press("❓ Needs info", message=card, chat=group)
    await moderator.send_text("Which street?", chat=group, reply_to=group.last_bot_message())
    # The question may already be there: the outbox wakes as soon as it is committed.
    question = await reporter.wait_for_message(
        lambda m: "Which street?" in (m.text or ""), timeout=10, new_only=False
    )
    await reporter.send_text("Vokzalna street, near the school", reply_to=question)
    await group.wait_for_message(lambda m: "Vokzalna" in (m.text or ""), timeout=10)


async def test_no_raw_user_id_in_any_column(bot: BotHarness, fake: FakeTelegram) -> None:
    user_ids = await full_run(fake, bot)
    found: list[str] = []
    async with bot.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(text(f"SELECT * FROM {table.name}"))).all()
            if table.name in FILLED_BY_THE_RUN:
                assert rows, f"{table.name} is empty: the run wrote nothing to check"
            for row in rows:
                for column, value in zip(row._fields, row, strict=True):
                    for user_id in user_ids:
                        if str(user_id) in str(value):
                            found.append(f"{table.name}.{column}")
    assert not found, f"raw Telegram user id stored in {found}"


async def test_logs_carry_no_content(
    bot: BotHarness, fake: FakeTelegram, log_output: io.StringIO
) -> None:
    user_ids = await full_run(fake, bot)
    logs = log_output.getvalue()
    assert "handler=intake." in logs, "one line per update is logged"
    forbidden = [
        DESCRIPTION, "apartment", "Caption with names", "secret-list-of-names", "statement.pdf",
        "50.4501", "30.5234", "Буча", "Which street", "Vokzalna", bot.settings.token(),
        *map(str, user_ids),
    ]  # fmt: skip
    leaked = [item for item in forbidden if item in logs]
    assert not leaked, f"found in the logs: {leaked}"
    for line in logs.splitlines():
        if "update=" in line and "handler=" in line:
            assert "ms=" in line
            assert "outcome=" in line
