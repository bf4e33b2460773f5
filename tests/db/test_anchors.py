"""Deciding when to anchor the custody head, recording a posted anchor, and obtaining
timestamps for it: on SQLite and PostgreSQL, one anchor however many deciders race."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody, outbox
from bot.evidence import anchors
from bot.evidence.timestamp import check_token, load_roots
from bot.settings import Settings, load_settings
from db.engine import SessionFactory, create_engine, session_factory, transaction
from db.models import (
    ANCHOR_PENDING,
    ANCHOR_POSTED,
    TIMESTAMP_OK,
    TIMESTAMP_PENDING,
    Anchor,
    CustodyEntry,
    OutboxMessage,
)
from tests.tsa import LocalTSA, unused_url

CHAT = -1001234500000
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "database_url": database_url,
        "anchor_chat_id": CHAT,
        "tipbot_anchor_interval": timedelta(hours=24),
        "tipbot_anchor_entries": 1000,
    }
    values.update(overrides)
    return load_settings(**values)


async def add_entries(sessions: SessionFactory, count: int, action: str = "consent") -> None:
    async with transaction(sessions) as session:
        for number in range(count):
            await custody.append(session, actor="test", action=action, details={"n": number})


async def head(sessions: SessionFactory) -> tuple[int, str]:
    async with sessions() as session:
        return await custody.head(session)


async def count(sessions: SessionFactory, model: Any, *where: Any) -> int:
    async with sessions() as session:
        primary = next(iter(model.__table__.primary_key.columns))
        query = select(func.count(primary)).where(*where)
        return int((await session.execute(query)).scalar_one())


async def posted(sessions: SessionFactory, anchor: Anchor, settings: Settings) -> None:
    """What the outbox worker records once Telegram confirmed the anchor's message."""
    async with transaction(sessions) as session:
        await anchors.record_posted(
            session,
            anchor.id,
            chat_id=CHAT,
            message_id=100 + anchor.id,
            message_date=T0,
            settings=settings,
        )


async def verified(sessions: SessionFactory) -> custody.Verification:
    async with sessions() as session:
        return await custody.verify(session)


# ---------------------------------------------------------------------------- deciding


async def test_an_empty_chain_or_no_anchor_chat_anchors_nothing(
    engine: AsyncEngine, database_url: str
) -> None:
    sessions = session_factory(engine)
    settings = settings_for(database_url)
    assert await anchors.maybe_anchor(sessions, settings, T0) is None
    assert await anchors.anchor_now(sessions, T0) == (None, False)
    await add_entries(sessions, 3)
    unset = settings_for(database_url, anchor_chat_id=None)
    assert await anchors.maybe_anchor(sessions, unset, T0) is None
    assert await count(sessions, Anchor) == 0


async def test_the_first_anchor_takes_the_head_and_queues_its_message(
    engine: AsyncEngine, database_url: str
) -> None:
    sessions = session_factory(engine)
    settings = settings_for(database_url)
    await add_entries(sessions, 3)
    seq, digest = await head(sessions)
    anchor = await anchors.maybe_anchor(sessions, settings, T0)
    assert anchor is not None
    assert (anchor.seq, anchor.hash, anchor.reason) == (seq, digest, anchors.REASON_INTERVAL)
    assert (anchor.status, anchor.created_at) == (ANCHOR_PENDING, T0)
    rows = await count(sessions, OutboxMessage, OutboxMessage.kind == outbox.ANCHOR)
    assert rows == 1
    async with sessions() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert row.payload == {"anchor": anchor.id}
    assert row.status == "pending"
    # Asked again, even a day later: the first is still waiting to be posted, the head
    # has not moved.
    assert await anchors.maybe_anchor(sessions, settings, T0 + timedelta(days=2)) is None


async def test_due_after_the_interval_once_the_head_moved(
    engine: AsyncEngine, database_url: str
) -> None:
    sessions = session_factory(engine)
    settings = settings_for(database_url)
    await add_entries(sessions, 3)
    first = await anchors.maybe_anchor(sessions, settings, T0)
    assert first is not None
    await posted(sessions, first, settings)
    day = settings.tipbot_anchor_interval
    # Only the anchor's own record came since: the head has not moved; no new anchor ever.
    assert await anchors.maybe_anchor(sessions, settings, T0 + 3 * day) is None
    await add_entries(sessions, 1)
    assert await anchors.maybe_anchor(sessions, settings, T0 + day / 2) is None
    second = await anchors.maybe_anchor(sessions, settings, T0 + day)
    assert second is not None
    assert second.reason == anchors.REASON_INTERVAL
    assert (second.seq, second.hash) == await head(sessions)
    assert second.seq == first.seq + 2  # the `anchored` entry and the new one


async def test_due_after_enough_entries_before_the_interval(
    engine: AsyncEngine, database_url: str
) -> None:
    sessions = session_factory(engine)
    settings = settings_for(database_url, tipbot_anchor_entries=5)
    await add_entries(sessions, 2)
    first = await anchors.maybe_anchor(sessions, settings, T0)
    assert first is not None
    await posted(sessions, first, settings)  # + 1 entry (anchored)
    await add_entries(sessions, 3)  # 4 since the anchor
    assert await anchors.maybe_anchor(sessions, settings, T0 + timedelta(minutes=5)) is None
    await add_entries(sessions, 1)  # 5
    second = await anchors.maybe_anchor(sessions, settings, T0 + timedelta(minutes=6))
    assert second is not None
    assert second.reason == anchors.REASON_ENTRIES
    assert second.seq == first.seq + 5


async def test_a_pending_anchor_holds_back_the_next(engine: AsyncEngine, database_url: str) -> None:
    sessions = session_factory(engine)
    settings = settings_for(database_url, tipbot_anchor_entries=2)
    await add_entries(sessions, 1)
    assert await anchors.maybe_anchor(sessions, settings, T0) is not None
    await add_entries(sessions, 10)
    later = T0 + timedelta(days=3)
    assert await anchors.maybe_anchor(sessions, settings, later) is None
    assert await count(sessions, Anchor) == 1


async def test_the_command_anchors_a_moved_head_even_when_not_due(
    engine: AsyncEngine, database_url: str
) -> None:
    sessions = session_factory(engine)
    settings = settings_for(database_url)
    await add_entries(sessions, 2)
    first = await anchors.maybe_anchor(sessions, settings, T0)
    assert first is not None
    await posted(sessions, first, settings)
    # Nothing but the anchor's own record since: that anchor is the answer.
    again, created = await anchors.anchor_now(sessions, T0 + timedelta(minutes=1))
    assert not created
    assert again is not None
    assert again.id == first.id
    await add_entries(sessions, 1)
    command, created = await anchors.anchor_now(sessions, T0 + timedelta(minutes=2))
    assert created
    assert command is not None
    assert command.reason == anchors.REASON_COMMAND
    assert (command.seq, command.hash) == await head(sessions)
    same, created = await anchors.anchor_now(sessions, T0 + timedelta(minutes=3))
    assert not created
    assert same is not None
    assert same.id == command.id
    assert await count(sessions, OutboxMessage, OutboxMessage.kind == outbox.ANCHOR) == 2


@pytest.mark.parametrize("engines", [1, 2])
async def test_racing_deciders_create_one_anchor(
    engine: AsyncEngine, database_url: str, engines: int
) -> None:
    """Tasks of one process, or two processes' connection pools (two engines), all asking
    at once: the head's lock lets one decide; the others see its anchor."""
    settings = settings_for(database_url, tipbot_anchor_entries=3)
    others = [create_engine(database_url) for _ in range(engines - 1)]
    factories = [session_factory(e) for e in (engine, *others)]
    try:
        await add_entries(factories[0], 3)
        for moment in (T0, T0 + timedelta(days=1)):
            created = await asyncio.gather(
                *(anchors.maybe_anchor(f, settings, moment) for f in factories * 6)
            )
            mine = [a for a in created if a is not None]
            assert len(mine) == 1
            await posted(factories[0], mine[0], settings)
            await add_entries(factories[0], 3)
    finally:
        for other in others:
            await other.dispose()
    assert await count(factories[0], Anchor) == 2
    assert await count(factories[0], OutboxMessage) == 2
    assert (await verified(factories[0])).ok


# ---------------------------------------------------------------------------- recording


async def test_a_posted_anchor_is_recorded_once_with_its_timestamps_to_ask(
    engine: AsyncEngine, database_url: str
) -> None:
    sessions = session_factory(engine)
    urls = ["https://tsa.one.example/", "https://tsa.two.example/"]
    settings = settings_for(database_url, tsa_urls=[*urls, urls[0]])
    await add_entries(sessions, 4)
    anchor = await anchors.maybe_anchor(sessions, settings, T0)
    assert anchor is not None
    await posted(sessions, anchor, settings)
    await posted(sessions, anchor, settings)  # a repeat (a lost confirmation) changes nothing
    async with sessions() as session:
        row = await session.get(Anchor, anchor.id)
        entries = list(
            (
                await session.execute(select(CustodyEntry).where(CustodyEntry.action == "anchored"))
            ).scalars()
        )
        stamps = await anchors.stamps_of(session, anchor.id)
        heads = await anchors.anchored_heads(session)
    assert row is not None
    assert (row.status, row.chat_id, row.message_id) == (ANCHOR_POSTED, CHAT, 100 + anchor.id)
    assert row.message_date == T0
    assert row.posted_at is not None
    assert len(entries) == 1
    assert entries[0].tip_id is None
    assert entries[0].details == {
        "anchor": anchor.id,
        "seq": anchor.seq,
        "hash": anchor.hash,
        "chat_id": CHAT,
        "message_id": 100 + anchor.id,
        "message_date": T0.isoformat(),
    }
    assert [(s.tsa_url, s.status, s.attempts) for s in stamps] == [
        (urls[0], TIMESTAMP_PENDING, 0),
        (urls[1], TIMESTAMP_PENDING, 0),
    ]
    assert heads == [(anchor.id, anchor.seq, anchor.hash)]
    assert (await verified(sessions)).ok


# ---------------------------------------------------------------------------- timestamps


async def test_timestamps_from_two_authorities_one_down(
    engine: AsyncEngine, database_url: str, tsa: LocalTSA
) -> None:
    authority = tsa
    down = tsa.another()
    down.mode = "down"
    dead = unused_url()
    sessions = session_factory(engine)
    settings = settings_for(
        database_url, tsa_urls=[authority.url, down.url, dead], tsa_ca_file=authority.ca_file
    )
    roots = load_roots(settings.tsa_ca_file)
    await add_entries(sessions, 2)
    anchor = await anchors.maybe_anchor(sessions, settings, T0)
    assert anchor is not None
    await posted(sessions, anchor, settings)

    async with httpx.AsyncClient() as client:
        now = datetime.now(UTC)
        outcomes = await anchors.obtain_timestamps(sessions, settings, client, roots, now)
        by_url = {o.tsa_url: o for o in outcomes}
        assert by_url[authority.url].ok
        assert (by_url[down.url].ok, by_url[down.url].error) == (False, "http_503")
        assert (by_url[dead].ok, by_url[dead].error) == (False, "unreachable")

        async with sessions() as session:
            stamps = {s.tsa_url: s for s in await anchors.stamps_of(session, anchor.id)}
            entries = list(
                (
                    await session.execute(
                        select(CustodyEntry).where(CustodyEntry.action == "timestamped")
                    )
                ).scalars()
            )
        good = stamps[authority.url]
        assert good.status == TIMESTAMP_OK
        assert good.token is not None
        assert good.certificates is not None
        assert good.gen_time is not None
        # The stored token checks again over the anchored hash, against the trusted root.
        assert check_token(good.token, bytes.fromhex(anchor.hash), good.certificates, roots)
        assert len(entries) == 1
        details = entries[0].details
        assert details["anchor"] == anchor.id
        assert details["seq"] == anchor.seq
        assert details["tsa"] == authority.url
        assert details["token_sha256"] == hashlib.sha256(good.token).hexdigest()
        assert details["gen_time"] == good.gen_time.isoformat()
        assert isinstance(details["serial"], str)
        for url, reason in ((down.url, "http_503"), (dead, "unreachable")):
            failed = stamps[url]
            assert (failed.status, failed.attempts, failed.last_error) == (
                TIMESTAMP_PENDING,
                1,
                reason,
            )
            assert failed.next_attempt_at > now

        # Not asked again before the backoff is over; the good one is never asked again.
        asked = (authority.requests, down.requests)
        assert await anchors.obtain_timestamps(sessions, settings, client, roots) == []
        assert (authority.requests, down.requests) == asked

        # Later the authority is back: its token is stored, the dead one backs off further.
        down.mode = "good"
        later = datetime.now(UTC) + anchors.stamp_backoff(1) + timedelta(seconds=1)
        outcomes = await anchors.obtain_timestamps(sessions, settings, client, roots, later)
        assert sorted((o.tsa_url, o.ok) for o in outcomes) == sorted(
            [(down.url, True), (dead, False)]
        )
    async with sessions() as session:
        stamps = {s.tsa_url: s for s in await anchors.stamps_of(session, anchor.id)}
    assert stamps[down.url].status == TIMESTAMP_OK
    assert stamps[dead].attempts == 2
    assert stamps[dead].next_attempt_at - later >= anchors.stamp_backoff(2) - timedelta(seconds=5)
    assert await count(sessions, CustodyEntry, CustodyEntry.action == "timestamped") == 2
    assert (await verified(sessions)).ok


async def test_a_token_that_does_not_verify_is_not_stored(
    engine: AsyncEngine, database_url: str, tsa: LocalTSA
) -> None:
    authority = tsa
    sessions = session_factory(engine)
    settings = settings_for(database_url, tsa_urls=[authority.url], tsa_ca_file=authority.ca_file)
    roots = load_roots(settings.tsa_ca_file)
    await add_entries(sessions, 1)
    anchor = await anchors.maybe_anchor(sessions, settings, T0)
    assert anchor is not None
    await posted(sessions, anchor, settings)
    reasons = []
    async with httpx.AsyncClient() as client:
        for attempt, mode in enumerate(("wrong_digest", "unknown_ca")):
            authority.mode = mode
            moment = datetime.now(UTC) + timedelta(days=attempt)
            outcomes = await anchors.obtain_timestamps(sessions, settings, client, roots, moment)
            reasons += [o.error for o in outcomes]
    assert reasons == ["wrong_digest", "untrusted"]
    async with sessions() as session:
        (stamp,) = await anchors.stamps_of(session, anchor.id)
    assert (stamp.status, stamp.token, stamp.attempts) == (TIMESTAMP_PENDING, None, 2)
    assert await count(sessions, CustodyEntry, CustodyEntry.action == "timestamped") == 0


async def test_an_authority_taken_out_of_the_settings_is_no_longer_asked(
    engine: AsyncEngine, database_url: str
) -> None:
    sessions = session_factory(engine)
    dead = unused_url()
    settings = settings_for(database_url, tsa_urls=[dead])
    await add_entries(sessions, 1)
    anchor = await anchors.maybe_anchor(sessions, settings, T0)
    assert anchor is not None
    await posted(sessions, anchor, settings)
    without = settings_for(database_url, tsa_urls=[])
    roots = load_roots(None)
    async with httpx.AsyncClient() as client:
        assert await anchors.obtain_timestamps(sessions, without, client, roots) == []
    async with sessions() as session:
        (stamp,) = await anchors.stamps_of(session, anchor.id)
    assert (stamp.status, stamp.attempts) == (TIMESTAMP_PENDING, 0)


def test_backoff_doubles_up_to_six_hours() -> None:
    waits = [anchors.stamp_backoff(n) for n in range(1, 12)]
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[-1] == timedelta(hours=6)
    assert waits == sorted(waits)
