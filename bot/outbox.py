"""The outbox: messages waiting to be sent, written in the transaction that caused them.

A row is claimed with a lease (so two processes never send it both), sent, and marked sent
only when Telegram confirmed it; a failed send is postponed with backoff and tried again.
Only a message Telegram refuses for good (a 400 about the message itself, even re-sent once
in a safe plain form) ends as ``failed`` — logged and counted in /stats, never retried
forever and never silently stuck. A crash between Telegram's confirmation and the commit can
repeat one message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import uow
from db.models import OUTBOX_PENDING, OUTBOX_SENT, OutboxMessage

# Kinds of outbox rows.
CARD = "tip_submitted"  # a new tip: its card (or a digest line) for the moderators
WITHDRAWN = "tip_withdrawn"  # the reporter withdrew a tip already shown to the moderators
QUESTION = "question"  # a moderator's question, to the reporter
ANSWER = "answer"  # the reporter's answer or addition, to the moderators
NOTICE = "notice"  # "your report has been reviewed", to the reporter
ANCHOR = "anchor"  # the custody chain's head, to ANCHOR_CHAT_ID (bot.evidence.anchors)

LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=10)


def utcnow() -> datetime:
    return datetime.now(UTC)


async def enqueue(
    session: AsyncSession,
    kind: str,
    *,
    tip_id: int | None = None,
    payload: dict[str, Any] | None = None,
    delay: timedelta | None = None,
) -> OutboxMessage:
    now = utcnow()
    row = OutboxMessage(
        kind=kind,
        tip_id=tip_id,
        payload=payload or {},
        status=OUTBOX_PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now + delay if delay else now,
    )
    session.add(row)
    await session.flush()
    uow.emit(session, uow.OUTBOX)  # the worker wakes once this is committed
    return row


def _due(now: datetime) -> Any:
    return (
        (OutboxMessage.status == OUTBOX_PENDING)
        & (OutboxMessage.next_attempt_at <= now)
        & or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)
    )


async def waiting_cards(session: AsyncSession) -> int:
    """Tips waiting to be presented (due or not): the measure of a surge."""
    return int(
        (
            await session.execute(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.status == OUTBOX_PENDING, OutboxMessage.kind == CARD
                )
            )
        ).scalar_one()
    )


async def claim(
    session: AsyncSession,
    *,
    kinds: Sequence[str] | None = None,
    limit: int = 1,
    tip_id: int | None = None,
) -> list[OutboxMessage]:
    """Lease up to ``limit`` due rows (of ``tip_id``'s, if given), oldest first (PostgreSQL
    skips rows another process is claiming at the same moment)."""
    now = utcnow()
    query = select(OutboxMessage).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
    if kinds is not None:
        query = query.where(OutboxMessage.kind.in_(kinds))
    if tip_id is not None:
        query = query.where(OutboxMessage.tip_id == tip_id)
    rows = list((await session.execute(query.with_for_update(skip_locked=True))).scalars())
    for row in rows:
        row.lease_until = now + LEASE
        row.attempts += 1
    await session.flush()
    return rows


async def hurry(session: AsyncSession, *, kind: str, tip_id: int) -> None:
    """Make a tip's rows of ``kind`` that were held back (and never tried) due now."""
    now = utcnow()
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == kind,
            OutboxMessage.tip_id == tip_id,
            OutboxMessage.status == OUTBOX_PENDING,
            OutboxMessage.lease_until.is_(None),
            OutboxMessage.attempts == 0,
            OutboxMessage.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
    uow.emit(session, uow.OUTBOX)


async def next_due_kind(session: AsyncSession, *, skip: Sequence[str] = ()) -> str | None:
    """The kind of the oldest due row (of a kind not in ``skip``), or None when nothing is
    due."""
    query = select(OutboxMessage.kind).where(_due(utcnow()))
    if skip:
        query = query.where(OutboxMessage.kind.not_in(skip))
    return (await session.execute(query.order_by(OutboxMessage.id).limit(1))).scalar_one_or_none()


async def sent_since(session: AsyncSession, since: datetime) -> list[datetime]:
    """When rows were sent since ``since`` (to prime a fresh rate limiter)."""
    rows = await session.execute(
        select(OutboxMessage.sent_at).where(
            OutboxMessage.status == OUTBOX_SENT, OutboxMessage.sent_at >= since
        )
    )
    return [moment for (moment,) in rows.all() if moment is not None]


def mark_sent(row: OutboxMessage, telegram_message_id: int | None) -> None:
    row.status = OUTBOX_SENT
    row.sent_at = utcnow()
    row.lease_until = None
    row.telegram_message_id = telegram_message_id
    row.last_error = None


def postpone(row: OutboxMessage, *, error: str, delay: timedelta | None = None) -> None:
    """Try again later: after ``delay``, or with exponential backoff by attempts."""
    if delay is None:
        delay = min(MAX_BACKOFF, timedelta(seconds=2 ** min(row.attempts, 10)))
    row.next_attempt_at = utcnow() + delay
    row.lease_until = None
    row.last_error = error[:200]


def release(row: OutboxMessage) -> None:
    """Give a claimed row back untouched (shutting down before sending it)."""
    row.lease_until = None
    row.attempts = max(0, row.attempts - 1)
