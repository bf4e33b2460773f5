"""The update store (bot.updates): idempotent intake, claims in order with per-chat leases,
the done mark carried by the handler's own commit, attempts given up, leases of processes
that are gone released, done rows emptied and pruned."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Chat, Message, Update, User
from telegram.request import BaseRequest

from bot.updates import (
    MAX_ATTEMPTS,
    AlreadyProcessed,
    Dispatcher,
    IntakeQueue,
    StoreFirst,
    UpdateStore,
    UpdateStoreUnavailable,
)
from bot.updates.marks import DoneMark, install_done_marks
from bot.updates.store import LEASE, is_gone, new_owner
from db.engine import SessionFactory, create_engine, session_factory, transaction
from db.models import InboundUpdate, Reporter, utcnow

SECRET = b"test-secret-key-0123456789-abcdefghijklmnop"


def message(update_id: int, chat_id: int, text_: str = "hello") -> Update:
    user = User(chat_id, "Olena", is_bot=False, username="olena_k")
    chat = Chat(chat_id, "private", first_name="Olena")
    when = dtm.datetime.now(dtm.UTC).replace(microsecond=0)
    return Update(update_id, message=Message(update_id, when, chat, from_user=user, text=text_))


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[SessionFactory]:
    async with engine.begin() as connection:  # the shared PostgreSQL database keeps rows
        await connection.execute(delete(InboundUpdate))
    return session_factory(engine)


async def rows(sessions: SessionFactory) -> dict[int, InboundUpdate]:
    async with sessions() as session:
        found = (await session.scalars(select(InboundUpdate))).all()
    return {row.update_id: row for row in found}


async def test_accept_is_idempotent_and_seals_the_update(sessions: SessionFactory) -> None:
    store = UpdateStore(sessions, SECRET)
    await store.accept([message(1, 10), message(2, 10)])
    await store.accept([message(2, 10, "changed"), message(3, 11)])
    stored = await rows(sessions)
    assert sorted(stored) == [1, 2, 3]
    payload = stored[2].payload or b""
    assert b"Olena" not in payload
    assert b"hello" not in payload
    assert b"olena_k" not in payload
    assert stored[1].chat_key == stored[2].chat_key != stored[3].chat_key
    claimed = await store.claim(10)
    assert [c.update_id for c in claimed] == [1, 2, 3]
    assert claimed[1].data is not None
    assert claimed[1].data["message"]["text"] == "hello"


async def test_a_chat_held_by_one_process_waits_for_it(sessions: SessionFactory) -> None:
    first, second = UpdateStore(sessions, SECRET), UpdateStore(sessions, SECRET)
    await first.accept([message(1, 10), message(2, 11)])
    assert [c.update_id for c in await first.claim(1)] == [1]
    await first.accept([message(3, 10), message(4, 12)])
    # Chat 10 is in the first process's hands: its later update waits for it.
    assert [c.update_id for c in await second.claim(10)] == [2, 4]
    assert [c.update_id for c in await first.claim(10)] == [3]
    await first.done(1)
    await first.done(3)
    await first.accept([message(5, 10)])
    assert [c.update_id for c in await second.claim(10)] == [5], "free again once done"


async def test_a_lease_that_ran_out_is_claimed_again(sessions: SessionFactory) -> None:
    first, second = UpdateStore(sessions, SECRET), UpdateStore(sessions, SECRET)
    await first.accept([message(1, 10)])
    assert [c.update_id for c in await first.claim(5)] == [1]
    assert await second.claim(5) == []
    async with transaction(sessions) as session:
        await session.execute(update(InboundUpdate).values(lease_until=utcnow() - LEASE))
    assert [c.update_id for c in await second.claim(5)] == [1]


async def test_an_update_that_keeps_failing_is_given_up(sessions: SessionFactory) -> None:
    store = UpdateStore(sessions, SECRET)
    await store.accept([message(1, 10), message(2, 11)])
    async with transaction(sessions) as session:
        await session.execute(
            update(InboundUpdate)
            .where(InboundUpdate.update_id == 1)
            .values(attempts=MAX_ATTEMPTS, payload=None)
        )
    assert [c.update_id for c in await store.claim(5)] == [2]
    given_up = (await rows(sessions))[1]
    assert given_up.done_at is not None
    assert given_up.payload is None


async def test_done_rows_are_emptied_and_pruned_after_two_days(sessions: SessionFactory) -> None:
    store = UpdateStore(sessions, SECRET)
    await store.accept([message(1, 10), message(2, 10)])
    await store.done(1)
    done = (await rows(sessions))[1]
    assert done.done_at is not None
    assert (done.payload, done.chat_key) == (None, None)
    await store.accept([message(1, 10)])
    assert (await rows(sessions))[1].done_at is not None, "a redelivery stays done"
    assert [c.update_id for c in await store.claim(5)] == [2]
    async with transaction(sessions) as session:
        old = utcnow() - dtm.timedelta(days=3)
        await session.execute(
            update(InboundUpdate).values(done_at=old).where(InboundUpdate.update_id == 1)
        )
    await store.prune()
    assert sorted(await rows(sessions)) == [2]
    assert await store.pending() == 1


async def test_the_leases_of_a_process_that_is_gone_are_released(
    sessions: SessionFactory,
) -> None:
    import socket

    store = UpdateStore(sessions, SECRET)
    await store.accept([message(1, 10), message(2, 11), message(3, 12)])
    here = socket.gethostname()
    owners = {1: f"{here}:999999999:dead", 2: f"elsewhere:{1}:alive", 3: store.owner}
    async with transaction(sessions) as session:
        for update_id, owner in owners.items():
            await session.execute(
                update(InboundUpdate)
                .where(InboundUpdate.update_id == update_id)
                .values(lease_owner=owner, lease_until=utcnow() + LEASE)
            )
    assert is_gone(owners[1])
    assert not is_gone(owners[2])
    assert not is_gone(new_owner())
    assert await UpdateStore(sessions, SECRET).release_gone() == 1
    assert [c.update_id for c in await UpdateStore(sessions, SECRET).claim(5)] == [1]


# ---------------------------------------------------------------------------- done marks


async def _handler_commits(sessions: SessionFactory, mark: DoneMark, commits: int) -> None:
    """What a handler does: ``commits`` transactions, each writing a reporter row."""
    mark.enter()
    try:
        for n in range(commits):
            async with transaction(sessions) as session:
                session.add(Reporter(pseudonym=f"p{mark.update_id}-{n}", language="en"))
    finally:
        mark.close()


def _mark(update_id: int, skip: int, done: list[int]) -> DoneMark:
    async def mark_done(update_id: int) -> None:
        done.append(update_id)

    return DoneMark(update_id, skip, mark_done, lambda _id: None)


async def test_the_handlers_commit_carries_the_done_mark(sessions: SessionFactory) -> None:
    install_done_marks()
    store = UpdateStore(sessions, SECRET)
    await store.accept([message(1, 10), message(2, 11)])
    separate: list[int] = []
    first = _mark(1, 0, separate)
    await asyncio.create_task(_handler_commits(sessions, first, 2))
    assert first.marked
    assert separate == []
    assert (await rows(sessions))[1].done_at is not None
    # A file: admitted in a first transaction, recorded in a second; the second marks it.
    second = _mark(2, 1, separate)
    second.enter()
    async with transaction(sessions) as session:
        session.add(Reporter(pseudonym="admit", language="en"))
    assert (await rows(sessions))[2].done_at is None
    async with transaction(sessions) as session:
        session.add(Reporter(pseudonym="record", language="en"))
    second.close()
    assert second.marked
    assert (await rows(sessions))[2].done_at is not None


async def test_an_update_done_elsewhere_does_not_commit_again(sessions: SessionFactory) -> None:
    install_done_marks()
    store = UpdateStore(sessions, SECRET)
    await store.accept([message(1, 10)])
    await store.done(1)  # another process finished it
    with pytest.raises(AlreadyProcessed):
        await asyncio.create_task(_handler_commits(sessions, _mark(1, 0, []), 1))
    async with sessions() as session:
        assert (await session.scalar(text("SELECT count(*) FROM reporter"))) == 0


# ---------------------------------------------------------------------------- dispatching


async def test_the_dispatcher_feeds_in_order_within_its_capacity(
    sessions: SessionFactory,
) -> None:
    store = UpdateStore(sessions, SECRET)
    fed: list[Update] = []
    dispatcher = Dispatcher(store, None, fed.append, capacity=3)  # type: ignore[arg-type]
    mine = [message(n, 10 + n % 2) for n in range(1, 6)]
    await store.accept(mine)
    dispatcher.stored(mine[:2])
    dispatcher.start()
    try:
        await asyncio.sleep(0.3)
        assert [u.update_id for u in fed] == [1, 2, 3], "three in hand at most"
        assert fed[0] is mine[0], "an update stored here is not parsed again"
        for update_id in (1, 2):
            entry = dispatcher.begin(update_id, deferred=False)
            assert entry is not None
            await entry.settle()
            entry.close()
        await asyncio.sleep(0.3)
        assert [u.update_id for u in fed] == [1, 2, 3, 4, 5]
        assert dispatcher.begin(99, deferred=False) is None, "not from the store"
    finally:
        await dispatcher.stop()
    assert await store.pending() == 3


# ---------------------------------------------------------------------------- intake


class Telegram(BaseRequest):
    """A getUpdates request that records which updates were stored when it went out."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self.seen: list[list[int]] = []

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        self.seen.append(sorted(await rows(self.sessions)))
        return 200, b'{"ok": true, "result": []}'


async def test_fetched_updates_are_stored_before_the_next_request(
    sessions: SessionFactory,
) -> None:
    queue = IntakeQueue(UpdateStore(sessions, SECRET))
    telegram = Telegram(sessions)
    request = StoreFirst(telegram, queue.flush)
    await queue.put(message(1, 10))
    await queue.put(message(2, 11))
    assert await rows(sessions) == {}, "kept until the next request"
    await request.do_request("https://api/getUpdates", "POST")
    assert telegram.seen == [[1, 2]], "stored before the offset confirms them"


async def test_a_refused_batch_is_kept_and_not_confirmed(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.db'}")  # no tables
    queue = IntakeQueue(UpdateStore(session_factory(broken), SECRET))
    telegram = Telegram(session_factory(engine))
    await queue.put(message(1, 10))
    with pytest.raises(UpdateStoreUnavailable):
        await StoreFirst(telegram, queue.flush).do_request("https://api/getUpdates", "POST")
    assert telegram.seen == [], "Telegram is not asked (nor told) anything"
    await broken.dispose()


async def test_a_webhook_put_returns_once_the_update_is_committed(
    sessions: SessionFactory,
) -> None:
    queue = IntakeQueue(UpdateStore(sessions, SECRET))
    queue.immediate = True
    await queue.put(message(1, 10))
    assert sorted(await rows(sessions)) == [1]


async def test_an_update_done_elsewhere_is_not_reported_as_a_failure() -> None:
    from types import SimpleNamespace

    from telegram.ext import ApplicationHandlerStop

    from bot.updates.intake import _already_processed

    with pytest.raises(ApplicationHandlerStop):
        await _already_processed(None, SimpleNamespace(error=AlreadyProcessed("update=1")))  # type: ignore[arg-type]
    await _already_processed(None, SimpleNamespace(error=RuntimeError()))  # type: ignore[arg-type]
