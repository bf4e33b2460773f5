"""The draft lives in the database: a restart, or another process, continues it."""

import re

from db.engine import create_engine
from db.models import CustodyEntry, Tip
from tests.conftest import SECRET
from tests.e2e.flows import label, t
from tests.e2e.test_wrong_input import reach
from tests.fakebot import FakeTelegram
from tests.harness import BotHarness


async def step(bot: BotHarness) -> str | None:
    return (await bot.all(Tip))[0].step


async def test_a_restart_in_the_middle_of_a_report_continues_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = fake.user(language_code="uk")
    await reach(user, "where", "uk")
    await bot.restart()
    await user.send_text("Ірпінь")
    await user.press(re.compile(r"^Ірпінь,"))
    assert await step(bot) == "who"
    await user.send_command("/start")
    assert t("uk", "resume-continue") in user.buttons(), "a new process still knows the draft"
    await user.press(t("uk", "resume-continue"))
    await user.press(label("uk", "party-unknown"))
    await user.press(label("uk", "evidence-none"))
    await user.press(re.compile("^(✓ )?Ні$"))
    await user.press(label("uk", "review-submit"))
    tip = (await bot.all(Tip))[0]
    assert (tip.status, tip.settlement, tip.category) == ("submitted", "Ірпінь", "killing")


async def test_two_processes_on_one_database_agree(
    bot: BotHarness, fake: FakeTelegram, settings
) -> None:  # type: ignore[no-untyped-def]
    other_engine = create_engine(settings.database_url)
    other = BotHarness(fake, settings, other_engine, SECRET.encode())
    user = fake.user()
    await reach(user, "when")  # handled by the first process
    await bot.pause_polling()
    await other.start()
    try:
        await user.send_text("24.02.2022")  # the second process
        assert await step(bot) == "where"
        await user.press(label("en", "where-unknown"))
        assert await step(bot) == "who"
    finally:
        await other.stop()
        await other_engine.dispose()
    await bot.resume_polling()
    await user.press(label("en", "party-unknown"))  # the first process again
    assert await step(bot) == "evidence"
    tip = (await bot.all(Tip))[0]
    assert (str(tip.incident_date), tip.location_precision, tip.perpetrator) == (
        "2022-02-24",
        "none",
        "unknown",
    )
    assert [e.action for e in await bot.all(CustodyEntry)] == ["consent", "draft_created"]
