"""The outbox service (bot/outbox.py) on a real database: claims and leases, rows in flight
and what a crash leaves of them, statuses, backoff and failure counting, hurrying held-back
rows — and one vocabulary of kinds with one job builder each."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import intake, moderation, outbox
from bot.outbox import Kind
from db.engine import SessionFactory, session_factory, transaction
from db.models import (
    OUTBOX_CANCELLED,
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_SENT,
    OutboxMessage,
    Reporter,
)
from handlers.outbox.kinds import BUILDERS


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return session_factory(engine)


async def new_tip(sessions: SessionFactory) -> int:
    async with transaction(sessions) as session:
        reporter = Reporter(pseudonym="seed" + secrets.token_hex(30), language="uk")
        session.add(reporter)
        await session.flush()
        tip = await intake.create_draft(session, reporter, "uk")
        return tip.id


async def queue(sessions: SessionFactory, kind: str, **args: object) -> int:
    async with transaction(sessions) as session:
        row = await outbox.enqueue(session, kind, **args)  # type: ignore[arg-type]
        return row.id


async def claim(sessions: SessionFactory, **args: object) -> list[int]:
    async with transaction(sessions) as session:
        return [row.id for row in await outbox.claim(session, **args)]  # type: ignore[arg-type]


async def row(sessions: SessionFactory, row_id: int) -> OutboxMessage:
    async with sessions() as session:
        found = await session.get(OutboxMessage, row_id)
        assert found is not None
        return found


async def lease_runs_out(sessions: SessionFactory, row_id: int) -> None:
    """The lease of a claimed row is over (its sender stopped renewing it)."""
    async with transaction(sessions) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(lease_until=outbox.utcnow() - timedelta(seconds=1))
        )


async def recover(sessions: SessionFactory) -> outbox.Recovered:
    async with transaction(sessions) as session:
        return await outbox.recover(session)


# ---------------------------------------------------------------------------- the vocabulary


def test_every_kind_has_one_builder() -> None:
    assert set(BUILDERS) == set(Kind)
    assert moderation.REDRAW == Kind.REDRAW, "one vocabulary: the redraw kind is the outbox's"
    assert outbox.CARD is Kind.CARD


# ---------------------------------------------------------------------------- claiming


async def test_claim_takes_the_oldest_due_rows_and_leases_them(sessions: SessionFactory) -> None:
    first = await queue(sessions, Kind.NOTICE)
    later = await queue(sessions, Kind.NOTICE, delay=timedelta(hours=1))
    second = await queue(sessions, Kind.ANCHOR, payload={"anchor": 1})
    before = outbox.utcnow()
    assert await claim(sessions, limit=5) == [first, second], "oldest first, none held back"
    claimed = await row(sessions, first)
    assert claimed.status == OUTBOX_PENDING
    assert claimed.attempts == 1
    assert claimed.lease_until is not None
    assert claimed.lease_until >= before + outbox.LEASE - timedelta(seconds=1)
    assert await claim(sessions, limit=5) == [], "rows in flight are nobody else's"
    assert (await row(sessions, later)).attempts == 0


async def test_claim_by_kind_skip_and_tip(sessions: SessionFactory) -> None:
    tip_id = await new_tip(sessions)
    card = await queue(sessions, Kind.CARD)
    answer = await queue(sessions, Kind.ANSWER, tip_id=tip_id)
    other = await queue(sessions, Kind.ANSWER)
    notice = await queue(sessions, Kind.NOTICE)
    assert await claim(sessions, kinds=[Kind.ANSWER], tip_id=tip_id, limit=5) == [answer]
    assert await claim(sessions, skip=[Kind.CARD]) == [other]
    assert await claim(sessions, kinds=[Kind.CARD, Kind.NOTICE], limit=5) == [card, notice]


async def test_two_claims_at_once_take_different_rows(sessions: SessionFactory) -> None:
    """PostgreSQL skips the row another transaction is claiming; SQLite makes the second
    wait for the first's commit, and by then that row is in flight."""
    rows = [await queue(sessions, Kind.NOTICE) for _ in range(2)]

    async def slow_claim() -> list[int]:
        async with transaction(sessions) as session:
            taken = [r.id for r in await outbox.claim(session)]
            await asyncio.sleep(0.3)
            return taken

    async def quick_claim() -> list[int]:
        await asyncio.sleep(0.1)
        return await claim(sessions)

    first, second = await asyncio.gather(slow_claim(), quick_claim())
    assert sorted(first + second) == rows


# ---------------------------------------------------------------------------- in flight


async def test_an_expired_lease_does_not_make_a_row_due(sessions: SessionFactory) -> None:
    row_id = await queue(sessions, Kind.NOTICE)
    assert await claim(sessions) == [row_id]
    await lease_runs_out(sessions, row_id)
    assert await claim(sessions) == [], "only recover() takes a row in flight back"


async def test_renew_extends_the_lease_of_rows_in_flight_only(sessions: SessionFactory) -> None:
    flying = await queue(sessions, Kind.NOTICE)
    assert await claim(sessions) == [flying]
    waiting = await queue(sessions, Kind.NOTICE)
    await lease_runs_out(sessions, flying)
    async with transaction(sessions) as session:
        await outbox.renew(session, [flying, waiting])
    renewed = await row(sessions, flying)
    assert renewed.lease_until is not None
    assert renewed.lease_until > outbox.utcnow()
    assert (await row(sessions, waiting)).lease_until is None
    assert await recover(sessions) == outbox.Recovered(), "a renewed lease is a live sender's"


async def test_a_send_cut_short_is_sent_once_more_then_given_up(sessions: SessionFactory) -> None:
    row_id = await queue(sessions, Kind.CARD)
    assert await claim(sessions) == [row_id]
    assert await recover(sessions) == outbox.Recovered(), "the lease still runs"
    await lease_runs_out(sessions, row_id)
    assert await recover(sessions) == outbox.Recovered(resent=1)
    again = await row(sessions, row_id)
    assert (again.status, again.lease_until, again.last_error) == (
        OUTBOX_PENDING,
        None,
        outbox.INTERRUPTED,
    )
    assert await claim(sessions) == [row_id], "due again at once"
    await lease_runs_out(sessions, row_id)
    assert await recover(sessions) == outbox.Recovered(failed=1)
    given_up = await row(sessions, row_id)
    assert (given_up.status, given_up.lease_until, given_up.last_error) == (
        OUTBOX_FAILED,
        None,
        outbox.INTERRUPTED_TWICE,
    )
    assert given_up.attempts == 2
    assert await claim(sessions) == []
    assert await recover(sessions) == outbox.Recovered()


async def test_a_retry_after_an_interruption_still_counts_it(sessions: SessionFactory) -> None:
    """Cut short, sent once more and failed for now (a 5xx), then cut short again: given
    up — the first interruption is remembered on the row, not in its last error."""
    row_id = await queue(sessions, Kind.NOTICE)
    await claim(sessions)
    await lease_runs_out(sessions, row_id)
    await recover(sessions)
    async with transaction(sessions) as session:
        (claimed,) = await outbox.claim(session)
        outbox.postpone(claimed, error="NetworkError", delay=timedelta(0))
    assert await claim(sessions) == [row_id]
    await lease_runs_out(sessions, row_id)
    assert await recover(sessions) == outbox.Recovered(failed=1)


# ---------------------------------------------------------------------------- settling


async def test_statuses_change_through_the_service(sessions: SessionFactory) -> None:
    ids = [await queue(sessions, Kind.NOTICE) for _ in range(4)]
    async with transaction(sessions) as session:
        sent, failed, cancelled, released = await outbox.claim(session, limit=4)
        outbox.mark_sent(sent, 77)
        outbox.mark_failed(failed, moderation.REFUSED + "message is too long")
        outbox.cancel(cancelled)
        outbox.release(released)
    rows = [await row(sessions, row_id) for row_id in ids]
    assert [r.status for r in rows] == [OUTBOX_SENT, OUTBOX_FAILED, OUTBOX_CANCELLED, "pending"]
    assert rows[0].telegram_message_id == 77
    assert rows[0].sent_at is not None
    assert rows[1].last_error == "refused: message is too long"
    assert all(r.lease_until is None for r in rows)
    assert rows[3].attempts == 0, "given back untried"
    assert await claim(sessions, limit=5) == [ids[3]]
    async with sessions() as session:
        (ago,) = await outbox.recent_sends(session, timedelta(minutes=1))
        assert 0 <= ago < 30, "the one sent row, a moment ago"
        assert await outbox.recent_sends(session, timedelta(microseconds=1)) == []


async def test_failures_back_off_by_attempts(sessions: SessionFactory) -> None:
    row_id = await queue(sessions, Kind.NOTICE)
    waits: list[float] = []
    for _ in range(12):
        async with transaction(sessions) as session:
            await session.execute(
                update(OutboxMessage).values(next_attempt_at=outbox.utcnow())
            )  # its time has come
            (claimed,) = await outbox.claim(session)
            before = outbox.utcnow()
            outbox.postpone(claimed, error="TimedOut" + "x" * 300)
            assert claimed.next_attempt_at is not None
            waits.append((claimed.next_attempt_at - before).total_seconds())
    failed = await row(sessions, row_id)
    assert failed.attempts == 12, "every claim counts an attempt"
    assert failed.last_error is not None
    assert len(failed.last_error) == 200
    assert [round(w) for w in waits[:4]] == [2, 4, 8, 16]
    assert round(waits[-1]) == outbox.MAX_BACKOFF.total_seconds()
    async with transaction(sessions) as session:
        await session.execute(update(OutboxMessage).values(next_attempt_at=outbox.utcnow()))
        (claimed,) = await outbox.claim(session)
        before = outbox.utcnow()
        outbox.postpone(claimed, error="429", delay=timedelta(seconds=5))
        assert claimed.next_attempt_at is not None
        assert round((claimed.next_attempt_at - before).total_seconds()) == 5, "Telegram's wait"


async def test_hurry_makes_held_back_rows_due(sessions: SessionFactory) -> None:
    tip_id = await new_tip(sessions)
    held = await queue(sessions, Kind.ANSWER, tip_id=tip_id, delay=timedelta(minutes=10))
    other_kind = await queue(sessions, Kind.NOTICE, tip_id=tip_id, delay=timedelta(minutes=10))
    assert await claim(sessions, limit=5) == []
    async with transaction(sessions) as session:
        await outbox.hurry(session, kind=Kind.ANSWER, tip_id=tip_id)
    assert await claim(sessions, limit=5) == [held]
    assert (await row(sessions, other_kind)).attempts == 0


async def test_hurry_leaves_rows_already_tried(sessions: SessionFactory) -> None:
    tip_id = await new_tip(sessions)
    tried = await queue(sessions, Kind.ANSWER, tip_id=tip_id)
    async with transaction(sessions) as session:
        (claimed,) = await outbox.claim(session)
        outbox.postpone(claimed, error="TimedOut", delay=timedelta(minutes=10))
        await outbox.hurry(session, kind=Kind.ANSWER, tip_id=tip_id)
    assert await claim(sessions) == [], "a row that failed keeps its backoff"
    assert (await row(sessions, tried)).attempts == 1


async def test_waiting_cards_counts_cards_not_yet_presented(sessions: SessionFactory) -> None:
    for delay in (None, timedelta(hours=1), None):
        await queue(sessions, Kind.CARD, delay=delay)
    await queue(sessions, Kind.NOTICE)
    assert await claim(sessions, kinds=[Kind.CARD]) != []
    async with sessions() as session:
        assert await outbox.waiting_cards(session) == 3, "due or not, in flight or not"


async def test_progress_of_a_message_is_remembered_on_its_rows(sessions: SessionFactory) -> None:
    ids = [await queue(sessions, Kind.ANSWER, payload={"note": n}) for n in (1, 2)]
    async with transaction(sessions) as session:
        await outbox.note_progress(session, ids, header=501)
        await outbox.note_progress(session, ids, files=[7, 8])
        await outbox.note_progress(session, ids[:1], files=[9])
    async with sessions() as session:
        rows = list(
            (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        )
    assert [outbox.header_of(r) for r in rows] == [501, 501]
    assert outbox.files_noted(rows) == {7, 8, 9}
    assert outbox.files_noted(rows[1:]) == {7, 8}
    assert rows[0].payload["note"] == 1, "the rest of the payload is kept"
