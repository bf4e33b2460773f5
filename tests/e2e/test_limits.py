"""At most N reports a day and M updates a minute per reporter; past that, one polite
message and the flood is ignored."""

from bot.processor import FloodGate
from db.models import Tip
from tests.e2e.flows import file_complete_report, onboard, t
from tests.fakebot import FakeTelegram
from tests.harness import BotHarness


async def test_daily_report_limit(bot: BotHarness, fake: FakeTelegram) -> None:
    await bot.stop()
    await bot.start(tipbot_max_reports_per_day=2)
    user = fake.user()
    await onboard(user)
    await file_complete_report(user, with_files=False)
    await file_complete_report(user, with_files=False)
    await user.send_command("/report")
    assert t("en", "limit-reports", limit=2) in user.last_bot_message().text
    assert await bot.count(Tip) == 2
    # Tomorrow it works again.
    async with bot.session() as session:
        from datetime import timedelta

        for tip in (await session.execute(__import__("sqlalchemy").select(Tip))).scalars():
            tip.submitted_at = tip.submitted_at - timedelta(days=1, minutes=1)
        await session.commit()
    await user.send_command("/report")
    assert await bot.count(Tip) == 3


async def test_a_flood_gets_one_notice_and_is_ignored(bot: BotHarness, fake: FakeTelegram) -> None:
    await bot.stop()
    await bot.start(tipbot_max_updates_per_minute=6)
    user = fake.user()
    other = fake.user()
    await onboard(user)  # three updates
    await user.send_command("/report")
    await user.send_command("/help")
    await user.send_command("/help")  # the sixth update
    before = len(user.bot_messages())
    for _ in range(10):
        await user.send_command("/help")
    new = [m.text for m in user.bot_messages()[before:]]
    assert new == [t("en", "flood-notice")], new
    await onboard(other)  # others are not affected


def test_flood_gate_counts_albums_once_and_recovers() -> None:
    now = [0.0]
    gate = FloodGate(3, clock=lambda: now[0])
    assert [gate.admit(1) for _ in range(3)] == ["ok"] * 3
    assert [gate.admit(1, "album") for _ in range(5)] == ["first_excess", "ok", "ok", "ok", "ok"]
    assert gate.admit(1) == "excess"
    assert gate.admit(2) == "ok", "other chats are separate"
    now[0] = 61.0
    assert gate.admit(1) == "ok", "after a quiet minute the chat is heard again"


def test_a_continuing_flood_stays_ignored() -> None:
    now = [0.0]
    gate = FloodGate(3, clock=lambda: now[0])
    verdicts = []
    for _ in range(200):
        now[0] += 1.0  # one a second, forever: 60 a minute
        verdicts.append(gate.admit(1))
    assert verdicts[:3] == ["ok"] * 3
    assert verdicts[3] == "first_excess"
    assert set(verdicts[4:]) == {"excess"}
