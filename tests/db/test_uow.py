"""The unit of work (db.uow): effects announced in a transaction run after its commit, and
never after a rollback or a failed attempt that is run again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot import outbox
from db import uow
from db.engine import retrying, session_factory, transaction
from db.models import OutboxMessage


class Boom(Exception):
    pass


def recording() -> tuple[uow.Signals, list[tuple[str, list[Any]]]]:
    signals = uow.Signals()
    heard: list[tuple[str, list[Any]]] = []
    for topic in (uow.OUTBOX, uow.ORIGINALS):
        signals.connect(topic, lambda payloads, topic=topic: heard.append((topic, payloads)))
    return signals, heard


async def test_effects_run_after_commit_in_order(engine: AsyncEngine) -> None:
    factory = session_factory(engine)
    seen: list[str] = []

    async def later() -> None:
        seen.append("async")

    async with transaction(factory) as session:
        uow.on_commit(session, lambda: seen.append("first"))
        uow.on_commit(session, later)
        assert seen == []  # nothing leaves the transaction before the commit
    assert seen == ["first", "async"]


async def test_rollback_drops_what_was_announced(engine: AsyncEngine) -> None:
    signals, heard = recording()
    factory = session_factory(engine, signals)
    seen: list[str] = []

    async def fails() -> None:
        async with transaction(factory) as session:
            uow.on_commit(session, lambda: seen.append("never"))
            uow.emit(session, uow.OUTBOX)
            raise Boom

    with pytest.raises(Boom):
        await fails()
    assert seen == []
    assert heard == []


async def test_topics_reach_their_listeners_with_payloads(engine: AsyncEngine) -> None:
    signals, heard = recording()
    factory = session_factory(engine, signals)
    async with transaction(factory) as session:
        uow.emit(session, uow.ORIGINALS, {"a" * 64: "aa/a"})
        uow.emit(session, uow.ORIGINALS, {"b" * 64: "bb/b"})
        uow.emit(session, "nobody-listens")
    assert heard == [(uow.ORIGINALS, [{"a" * 64: "aa/a"}, {"b" * 64: "bb/b"}])]


async def test_enqueue_wakes_the_outbox_once_committed(engine: AsyncEngine) -> None:
    signals, heard = recording()
    factory = session_factory(engine, signals)
    async with transaction(factory) as session:
        await outbox.enqueue(session, outbox.ANCHOR, payload={"anchor": 1})
        assert heard == []
    assert heard == [(uow.OUTBOX, [])]
    async with factory() as session:
        assert await session.get(OutboxMessage, 1) is not None


async def test_take_lets_the_caller_perform_the_effect(engine: AsyncEngine) -> None:
    signals, heard = recording()
    factory = session_factory(engine, signals)
    async with transaction(factory) as session:
        uow.emit(session, uow.ORIGINALS, {"c" * 64: "cc/c"})
        assert uow.take(session, uow.ORIGINALS) == [{"c" * 64: "cc/c"}]
        assert uow.take(session, uow.ORIGINALS) is None
    assert heard == []


async def test_a_failing_effect_does_not_stop_the_others(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    factory = session_factory(engine)
    seen: list[str] = []

    def broken() -> None:
        raise OSError("disk")

    async with transaction(factory) as session:
        uow.on_commit(session, broken)
        uow.on_commit(session, lambda: seen.append("after"))
    assert seen == ["after"]
    assert "an effect after commit failed: OSError" in caplog.text


async def test_an_attempt_run_again_announces_only_once(engine: AsyncEngine) -> None:
    """retrying() runs the body again after a deadlock: what the failed attempt announced
    is dropped with it."""
    factory = session_factory(engine)
    seen: list[int] = []
    attempts = 0

    async def body(session: AsyncSession) -> int:
        nonlocal attempts
        attempts += 1
        uow.on_commit(session, lambda n=attempts: seen.append(n))
        await session.execute(text("SELECT 1"))
        if attempts == 1:
            raise DBAPIError("SELECT 1", None, Deadlock())
        return attempts

    result, _ = await retrying(factory, body)
    assert result == 2
    assert seen == [2]


class Deadlock(Exception):
    sqlstate = "40P01"
