"""Races between moderators and reporters on one tip (PostgreSQL: row locks can deadlock).

Each race presses two things at the same moment through the fake Bot API, several rounds:
Verify against Ban, Verify against the reporter's answer to that tip's question, Verify
against the reporter submitting a report linked to it. Both sides must get their answer and
the database must stay consistent (the custody chain intact, the tip in one final state).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot import custody
from db.engine import SessionFactory, retrying, session_factory, transaction
from db.models import Reporter, Tip
from tests.e2e.flows import JPEG, label, onboard, t
from tests.e2e.moderators import Moderation, mt, tip
from tests.e2e.test_moderation_bans_duplicates import quick_report
from tests.e2e.test_moderation_relay import ask
from tests.fakebot import FakeUser

pytestmark = pytest.mark.postgres
ROUNDS = 4
VERIFY = "✅ Verified"
BAN = "⛔ Ban reporter"


@pytest.fixture(autouse=True)
def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row-lock races are PostgreSQL's (SQLite runs one transaction at a time)")


async def _reporter(moderation: Moderation) -> FakeUser:
    user = moderation.fake.user(language_code="en")
    await onboard(user)
    return user


async def _chain_intact(moderation: Moderation) -> None:
    async with moderation.bot.session() as session:
        result = await custody.verify(session)
    assert result.ok, result.problem


async def test_verify_and_ban_at_once_both_answered(moderation: Moderation) -> None:
    alice, bob, group = moderation.alice, moderation.bob, moderation.group
    for _ in range(ROUNDS):
        user = await _reporter(moderation)
        # Two tips: the ban also quarantines the reporter's other waiting tip.
        other = await quick_report(user, [JPEG + b"other"])
        reference = await quick_report(user, [JPEG + user.first_name.encode()])
        card = await moderation.card(reference)
        await moderation.card(other)
        before = len(alice.callback_answers), len(bob.callback_answers)
        await asyncio.gather(
            alice.press(VERIFY, message=card, chat=group),
            bob.press(BAN, message=card, chat=group),
        )
        assert len(alice.callback_answers) == before[0] + 1, "Verify got no answer"
        assert len(bob.callback_answers) == before[1] + 1, "Ban got no answer"
        # Whichever came second saw a changed card and said so; the state is one of the two.
        stored = await tip(moderation.bot, reference)
        reporters = await moderation.bot.all(Reporter, Reporter.id == stored.reporter_id)
        if reporters[0].banned_at is not None:  # Ban first: the tip is quarantined with it
            assert stored.status == "quarantined"
            assert alice.callback_answers[-1].text == mt("mod-conflict", name="Bob")
        else:  # Verify first: the Ban pressed on the old card is told so
            assert stored.status == "verified"
            assert bob.callback_answers[-1].text == mt("mod-conflict", name="Alice (@alice_mod)")
        expected = "quarantined" if reporters[0].banned_at is not None else "submitted"
        assert (await tip(moderation.bot, other)).status == expected
    await _chain_intact(moderation)


async def test_verify_and_an_answer_at_once_both_answered(moderation: Moderation) -> None:
    alice, bob, group = moderation.alice, moderation.bob, moderation.group
    for round_ in range(ROUNDS):
        user = await _reporter(moderation)
        reference = await quick_report(user, [])
        await ask(moderation, reference, f"Which floor? ({round_})")
        await moderation.drained()
        question = await user.wait_for_message(
            lambda m: "Which floor" in (m.text or ""), new_only=False
        )
        card = await moderation.card(reference)
        before = len(bob.callback_answers)
        await asyncio.gather(
            bob.press(VERIFY, message=card, chat=group),
            user.send_text("The third floor.", reply_to=question),
        )
        assert len(bob.callback_answers) == before + 1, "Verify got no answer"
        assert t("en", "answer-thanks", reference=reference) in (
            user.last_bot_message().text or ""
        ), "the reporter got no answer"
        assert (await tip(moderation.bot, reference)).status == "verified"
        assert alice.callback_answers
    await _chain_intact(moderation)


async def test_verify_and_a_linked_submit_at_once_both_answered(moderation: Moderation) -> None:
    alice, group = moderation.alice, moderation.group
    for round_ in range(ROUNDS):
        user = await _reporter(moderation)
        photo = JPEG + f"same evidence {round_}".encode()
        first = await quick_report(user, [photo])
        card = await moderation.card(first)
        # The second report carries the same file (an exact duplicate: linked to the first),
        # and waits on its review screen.
        await user.send_command("/report")
        await user.press(label("en", "category-strike"))
        await user.send_text("The same strike, seen from the street.")
        await user.press(label("en", "nav-next"))
        await user.press(label("en", "when-unknown"))
        await user.press(label("en", "where-unknown"))
        await user.press(label("en", "party-unknown"))
        await user.send_document(photo, file_name="IMG_0.jpg", mime_type="image/jpeg")
        await user.wait_for_message(lambda m: "in total" in (m.text or ""))
        await user.press(label("en", "evidence-done"))
        await user.press(re.compile(re.escape(label("en", "contact-yes")) + "$"))
        before = len(alice.callback_answers)
        await asyncio.gather(
            alice.press(VERIFY, message=card, chat=group),
            user.press(label("en", "review-submit")),
        )
        assert len(alice.callback_answers) == before + 1, "Verify got no answer"
        assert "Your report has been sent" in (user.last_bot_message().text or ""), (
            "the reporter got no answer"
        )
        assert (await tip(moderation.bot, first)).status == "verified"
        submitted = await moderation.bot.all(
            Tip,
            Tip.status == "submitted",
            Tip.reporter_id == (await tip(moderation.bot, first)).reporter_id,
        )
        assert len(submitted) == 1
    await _chain_intact(moderation)


async def test_a_deadlocked_transaction_runs_again(engine: AsyncEngine) -> None:
    """Two transactions locking two rows in opposite orders: PostgreSQL aborts one with a
    deadlock; :func:`retrying` runs it again and both complete."""
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        first = Reporter(pseudonym="a" * 64, language="uk")
        second = Reporter(pseudonym="b" * 64, language="uk")
        session.add_all([first, second])
    both_hold_one = asyncio.Barrier(2)
    runs: list[str] = []

    def crossing(name: str, order: tuple[int, int]) -> Callable[[AsyncSession], Awaitable[str]]:
        async def body(session: AsyncSession) -> str:
            runs.append(name)
            await session.get(Reporter, order[0], with_for_update=True)
            if runs.count(name) == 1:  # the first attempt waits until both hold a row
                await both_hold_one.wait()
            reporter = await session.get(Reporter, order[1], with_for_update=True)
            assert reporter is not None
            reporter.language = name
            return name

        return body

    results = await asyncio.gather(
        retrying(sessions, crossing("en", (first.id, second.id))),
        retrying(sessions, crossing("ru", (second.id, first.id))),
    )
    assert [result for result, _ in results] == ["en", "ru"]
    assert len(runs) == 3, "one of the two ran again"
    assert sorted(r.language for r in await _all(sessions)) in (["en", "ru"], ["ru", "en"])


async def _all(sessions: SessionFactory) -> list[Reporter]:
    async with sessions() as session:
        return list((await session.execute(select(Reporter))).scalars())
