"""Fixtures and helpers for the moderation tests: a moderators' group, its members, a bot
configured for it, and tips seeded straight into the database for surges."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import intake, outbox
from bot import moderation as rules
from bot.i18n import Catalog
from db.engine import transaction
from db.models import OUTBOX_PENDING, OutboxMessage, Reporter, Tip
from tests.conftest import SECRET, make_settings
from tests.fakebot import ChatMessage, FakeGroup, FakeTelegram, FakeUser
from tests.harness import BotHarness

CATALOG = Catalog.load()
# Outbox rows a verdict holds back for its minute to undo it.
HELD = (outbox.NOTICE, rules.REDRAW)


def mt(key: str, **args: Any) -> str:
    """A moderator-facing message (English) as shown: tags stripped, entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", CATALOG.t("en", key, **args)))


@dataclass
class Moderation:
    bot: BotHarness
    fake: FakeTelegram
    group: FakeGroup
    alice: FakeUser
    bob: FakeUser

    async def card(self, reference: str) -> ChatMessage:
        """The card of a tip (it starts with its reference), once the worker posted it."""
        return await self.group.wait_for_message(
            lambda m: (m.text or "").lstrip("🚨 ").startswith(reference),
            timeout=10.0,
            new_only=False,
        )

    def latest(self, message_id: int) -> ChatMessage:
        found = self.group.message(message_id)
        assert found is not None
        return found

    async def drained(self, seconds: float = 30.0) -> None:
        """Until nothing is left to send (but what a verdict holds back for its minute to
        undo it: see :meth:`minute_passes`)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            async with self.bot.session() as session:
                pending = (
                    await session.execute(
                        select(OutboxMessage.id).where(
                            OutboxMessage.status == OUTBOX_PENDING,
                            ~(
                                OutboxMessage.kind.in_(HELD)
                                & (OutboxMessage.attempts == 0)
                                & (OutboxMessage.next_attempt_at > intake.utcnow())
                            ),
                        )
                    )
                ).first()
            if pending is None:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the outbox did not drain")

    async def minute_passes(self, reference: str) -> None:
        """The minute to undo the tip's verdict is over: its verdict is a minute older, and
        what waited for that (the reporter's notice, the card's redraw) is due; then sent."""
        ago = rules.UNDO_WINDOW + timedelta(seconds=2)
        now = intake.utcnow()
        async with transaction(self.bot.sessions) as session:
            stored = (
                await session.execute(select(Tip).where(Tip.reference == reference))
            ).scalar_one()
            assert stored.last_action_at is not None
            stored.last_action_at -= ago
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.tip_id == stored.id,
                    OutboxMessage.kind.in_(HELD),
                    OutboxMessage.status == OUTBOX_PENDING,
                )
                .values(next_attempt_at=now)
            )
        worker = self.bot.services.outbox_worker
        assert worker is not None
        worker.wake()
        await self.drained()


async def start_moderated(
    fake: FakeTelegram,
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    group: FakeGroup,
    *,
    request_timeout: float = 10.0,
    **overrides: Any,
) -> BotHarness:
    values: dict[str, Any] = {
        "moderator_chat_id": group.id,
        "tipbot_group_max_messages": 20,
        "tipbot_group_window_seconds": 1.0,
    }
    values.update(overrides)
    settings = make_settings(fake, database_url, tmp_path, **values)
    harness = BotHarness(fake, settings, engine, SECRET.encode(), request_timeout=request_timeout)
    await harness.start()
    return harness


@pytest.fixture
async def moderation(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> AsyncIterator[Moderation]:
    group = fake.group(title="Moderators")
    alice = fake.user(first_name="Alice", username="alice_mod")
    bob = fake.user(first_name="Bob")
    group.add_member(alice)
    group.add_member(bob)
    harness = await start_moderated(fake, engine, database_url, tmp_path, group)
    yield Moderation(harness, fake, group, alice, bob)
    await harness.stop()


async def seed_tips(
    bot: BotHarness,
    count: int,
    *,
    category: str = "strike",
    oblast: str = "13",
    each: Callable[[Tip, int], list[Any] | None] | None = None,
) -> list[str]:
    """``count`` submitted tips (with their outbox rows), as if reporters had sent them;
    ``each(tip, index)`` may fill in more of each, and return rows to add with it (files)."""
    references: list[str] = []
    async with transaction(bot.sessions) as session:
        reporter = Reporter(pseudonym="seed" + secrets.token_hex(30), language="uk")
        session.add(reporter)
        await session.flush()
        for index in range(count):
            tip = await intake.create_draft(session, reporter, "uk")
            tip.category, tip.oblast = category, oblast
            tip.description = "Seeded report."
            tip.incident_date_precision = "unknown"
            tip.status, tip.step, tip.submitted_at = "submitted", None, intake.utcnow()
            if each is not None:
                session.add_all(each(tip, index) or [])
            await session.flush()
            await outbox.enqueue(session, outbox.CARD, tip_id=tip.id)
            references.append(tip.reference)
    if bot.services.outbox_worker is not None:
        bot.services.outbox_worker.wake()
    return references


async def tip(bot: BotHarness, reference: str) -> Tip:
    tips = await bot.all(Tip, Tip.reference == reference)
    assert tips, reference
    return tips[0]


def button_data(message: ChatMessage, matches: Callable[[str], bool]) -> str:
    for row in message.inline_buttons:
        for text, data in row:
            if matches(text):
                return str(data)
    raise LookupError([text for row in message.inline_buttons for text, _ in row])
