"""The outbox: messages waiting to be sent, written in the transaction that caused them.

This module is the queue and the only code that changes a row's delivery state: a row is
claimed with a lease (so two processes never send it both), sent by the worker
(:mod:`handlers.outbox`), and marked sent only when Telegram confirmed it; a failed send is
postponed with backoff and tried again. Only a message Telegram refuses for good (a 400
about the message itself, even re-sent once in a safe plain form) or whose reader is gone
ends as ``failed`` — logged and counted, never retried forever, never silently stuck.

**At least once, not exactly once.** Telegram offers no idempotent send: a request whose
answer was lost (a timeout, a dropped connection, a crash of the process between
Telegram's answer and the commit that records it) cannot be told from one that never
reached Telegram, so it is sent again — a rare repeat rather than a loss. Duplicates are
kept rare: a claimed row is *in flight* (leased and not settled) until it is settled, and
an expired lease never makes it due again. A living worker renews its leases while it
sends (:func:`renew`), so an in-flight row whose lease ran out was cut short by a crash (or
a cancelled stop): :func:`recover` makes it due once more, and if that second send is cut
short too the row is marked failed (:data:`INTERRUPTED_TWICE`) instead of being sent at
every restart — at most two copies of a message, and a message that crashes the process
does not crash it forever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import uow
from db.models import (
    OUTBOX_CANCELLED,
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_SENT,
    OutboxMessage,
)


class Kind(StrEnum):
    """What an outbox row carries (stored in ``outbox.kind``)."""

    CARD = "tip_submitted"  # a new tip: its card (or a digest line) for the moderators
    WITHDRAWN = "tip_withdrawn"  # the reporter withdrew a tip already shown to the moderators
    QUESTION = "question"  # a moderator's question, to the reporter
    ANSWER = "answer"  # the reporter's answer or addition, to the moderators
    NOTICE = "notice"  # "your report has been reviewed", to the reporter
    ANCHOR = "anchor"  # the custody chain's head, to ANCHOR_CHAT_ID (bot.evidence.anchors)
    REDRAW = "card_redraw"  # a card drawn anew where it is (bot.moderation.REDRAW)


# The names the services use.
CARD = Kind.CARD
WITHDRAWN = Kind.WITHDRAWN
QUESTION = Kind.QUESTION
ANSWER = Kind.ANSWER
NOTICE = Kind.NOTICE
ANCHOR = Kind.ANCHOR
REDRAW = Kind.REDRAW

LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=10)
# What a row's last_error says once a crash cut its send short (it is sent once more), and
# once a crash cut that second send short too (failed: it may have been delivered twice).
INTERRUPTED = "interrupted"
INTERRUPTED_TWICE = "interrupted twice: may have been delivered, not sent again"
# The payload key that remembers the first interruption.
_INTERRUPTED_KEY = "interrupted"


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
        kind=str(kind),
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
    """Pending, its time come, and not in flight (a row in flight is settled by its sender,
    or by :func:`recover` once its lease ran out — never simply claimed again)."""
    return (
        (OutboxMessage.status == OUTBOX_PENDING)
        & (OutboxMessage.next_attempt_at <= now)
        & OutboxMessage.lease_until.is_(None)
    )


async def waiting_cards(session: AsyncSession) -> int:
    """Tips waiting to be presented (due or not, in flight or not): the measure of a surge."""
    return int(
        (
            await session.execute(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.status == OUTBOX_PENDING, OutboxMessage.kind == Kind.CARD
                )
            )
        ).scalar_one()
    )


async def claim(
    session: AsyncSession,
    *,
    kinds: Sequence[str] | None = None,
    skip: Sequence[str] = (),
    limit: int = 1,
    tip_id: int | None = None,
) -> list[OutboxMessage]:
    """Lease up to ``limit`` due rows (of ``kinds``, of no kind in ``skip``, of ``tip_id``'s,
    if given), oldest first (PostgreSQL skips rows another process is claiming at the same
    moment): from the commit on they are in flight."""
    now = utcnow()
    query = select(OutboxMessage).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
    if kinds is not None:
        query = query.where(OutboxMessage.kind.in_(kinds))
    if skip:
        query = query.where(OutboxMessage.kind.not_in(skip))
    if tip_id is not None:
        query = query.where(OutboxMessage.tip_id == tip_id)
    rows = list((await session.execute(query.with_for_update(skip_locked=True))).scalars())
    for row in rows:
        row.lease_until = now + LEASE
        row.attempts += 1
    await session.flush()
    return rows


async def claim_now(
    session: AsyncSession, kind: str, pick: Callable[[OutboxMessage], bool]
) -> OutboxMessage | None:
    """Lease the oldest pending row of ``kind`` that ``pick`` chooses, due or held back by
    a backoff (a command asked for it now); a row leased by someone else is left to them."""
    now = utcnow()
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == kind,
            OutboxMessage.status == OUTBOX_PENDING,
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
        )
        .order_by(OutboxMessage.id)
        .with_for_update(skip_locked=True)
    )
    row = next((r for r in (await session.execute(query)).scalars() if pick(r)), None)
    if row is not None:
        row.lease_until = now + LEASE
        row.attempts += 1
        await session.flush()
    return row


async def renew(session: AsyncSession, ids: Sequence[int]) -> None:
    """Extend the lease of rows still in flight (the sender is alive, only slow: a
    rate-limited or retried send may take longer than :data:`LEASE`)."""
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == OUTBOX_PENDING,
            OutboxMessage.lease_until.is_not(None),
        )
        .values(lease_until=utcnow() + LEASE)
    )


@dataclass(frozen=True, slots=True)
class Recovered:
    """What :func:`recover` found: rows to send once more, and rows given up."""

    resent: int = 0
    failed: int = 0


async def recover(session: AsyncSession) -> Recovered:
    """Rows whose send a crash cut short (in flight, their lease run out): due again once;
    a row cut short a second time is marked failed (:data:`INTERRUPTED_TWICE`)."""
    now = utcnow()
    rows = (
        await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.status == OUTBOX_PENDING, OutboxMessage.lease_until < now)
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    resent = failed = 0
    for row in rows:
        if row.payload.get(_INTERRUPTED_KEY):
            mark_failed(row, INTERRUPTED_TWICE)
            failed += 1
            continue
        row.payload = {**row.payload, _INTERRUPTED_KEY: 1}
        postpone(row, error=INTERRUPTED, delay=timedelta(0))
        resent += 1
    if resent:
        uow.emit(session, uow.OUTBOX)
    return Recovered(resent, failed)


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


async def recent_sends(session: AsyncSession, window: timedelta) -> list[float]:
    """How many seconds ago each row sent within the last ``window`` was sent (to prime a
    fresh rate limiter: a restarted process does not remember what it sent)."""
    now = utcnow()
    moments = await session.scalars(
        select(OutboxMessage.sent_at).where(
            OutboxMessage.status == OUTBOX_SENT, OutboxMessage.sent_at >= now - window
        )
    )
    return [(now - moment).total_seconds() for moment in moments if moment is not None]


async def reload(session: AsyncSession, ids: Sequence[int]) -> list[OutboxMessage]:
    """The rows of ``ids`` as they are now (to settle what was sent), in id order."""
    query = select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
    return list((await session.execute(query)).scalars())


async def note_progress(
    session: AsyncSession,
    ids: Sequence[int],
    *,
    header: int | None = None,
    files: Sequence[int] = (),
) -> None:
    """Remember on the rows what of their message is in the chat already — its words
    (``header``, their message id) or some of its files — so a retry sends only the rest."""
    for row in await reload(session, ids):
        payload = dict(row.payload)
        if header is not None:
            payload["header"] = header
        if files:
            payload["files"] = [*payload.get("files", []), *files]
        row.payload = payload


def header_of(row: OutboxMessage) -> int | None:
    """The message id of the row's words already in the chat (see :func:`note_progress`)."""
    header = row.payload.get("header")
    return int(header) if header else None


def files_noted(rows: Sequence[OutboxMessage]) -> set[int]:
    """The media ids of the rows' files already in the chat (see :func:`note_progress`)."""
    return {int(media_id) for row in rows for media_id in row.payload.get("files", [])}


# ---------------------------------------------------------------------------- settling


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


def mark_failed(row: OutboxMessage, error: str) -> None:
    """Never tried again: Telegram refused it for good, its reader is gone, or crashes cut
    it short twice. ``error`` says which (/stats counts those starting with
    ``bot.moderation.REFUSED``)."""
    row.status = OUTBOX_FAILED
    row.lease_until = None
    row.last_error = error[:200]


def cancel(*rows: OutboxMessage) -> None:
    """Not to be sent: what they were for is gone (a withdrawn tip, a card already drawn)."""
    for row in rows:
        row.status = OUTBOX_CANCELLED
        row.lease_until = None


async def pending_of(session: AsyncSession, tip_id: int) -> list[OutboxMessage]:
    """A tip's rows not yet sent (due, held back or in flight)."""
    query = select(OutboxMessage).where(
        OutboxMessage.tip_id == tip_id, OutboxMessage.status == OUTBOX_PENDING
    )
    return list((await session.execute(query)).scalars())


async def cancel_of(session: AsyncSession, tip_ids: Sequence[int]) -> None:
    """Nothing about these tips is sent any more (their content is gone)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.tip_id.in_(tip_ids), OutboxMessage.status == OUTBOX_PENDING)
        .values(status=OUTBOX_CANCELLED, lease_until=None)
    )


def release(*rows: OutboxMessage) -> None:
    """Give claimed rows back untouched (they go with a later message)."""
    for row in rows:
        row.lease_until = None
        row.attempts = max(0, row.attempts - 1)
