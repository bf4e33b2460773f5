"""Public anchors of the custody chain's head, and the trusted timestamps over each anchor.

An anchor publishes the chain's head (its sequence number and hash) in ``ANCHOR_CHAT_ID``, a
channel or group outside our database: once it is posted, the log up to that entry can no
longer be rewritten (even in full, hashes recomputed) without the rewrite disagreeing with
the published message. Each anchor is then timestamped by every authority in ``TSA_URLS``
(RFC 3161): a third party's signed statement that this hash existed at that time.

The flow (docs/anchors.md):

1. :func:`maybe_anchor` (a job every minute and at start-up) decides, under the custody
   head's lock, whether an anchor is due, and if so writes the :class:`~db.models.Anchor`
   and its outbox row in one transaction. The lock makes several processes or replicas
   decide one at a time, so one anchor per interval holds across them.
   ``tipbot anchor`` calls :func:`anchor_now` instead: due or not, as long as the head moved.
2. The outbox worker (or ``tipbot anchor`` itself) claims the row, :func:`prepare` renders the
   message, :func:`send` posts it, and :func:`settle` records Telegram's confirmation — the
   message id and date on the anchor, an ``anchored`` custody entry, one pending timestamp
   per authority — or postpones the row and logs why. Both callers use these three functions.
3. :func:`obtain_timestamps` (a job, and ``tipbot anchor``) asks the authorities, outside any
   transaction, and stores each verified token with a ``timestamped`` custody entry; a
   failing authority is retried with backoff and never holds up the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode

from bot import custody, outbox
from bot.evidence.timestamp import StampedToken, TimestampError, TrustRoots, request_token
from bot.i18n import Catalog, Html
from bot.settings import Settings
from db.engine import SessionFactory, transaction
from db.models import (
    ANCHOR_PENDING,
    ANCHOR_POSTED,
    TIMESTAMP_OK,
    TIMESTAMP_PENDING,
    Anchor,
    CustodyEntry,
    CustodyHead,
    OutboxMessage,
    TimestampToken,
)

log = logging.getLogger(__name__)

# What made an anchor due (Anchor.reason).
REASON_INTERVAL = "interval"  # none yet, or the newest is older than TIPBOT_ANCHOR_INTERVAL
REASON_ENTRIES = "entries"  # TIPBOT_ANCHOR_ENTRIES entries since the newest
REASON_COMMAND = "command"  # ``tipbot anchor``

# Entries that only record an anchor's own publication. They do not count as the head
# having moved: otherwise a quiet log would be re-anchored every interval for ever, each
# anchor anchoring the record of the one before. The next real entry's anchor covers them.
BOOKKEEPING_ACTIONS = ("anchored", "timestamped")

# How often the bot looks whether an anchor is due, or a timestamp.
CHECK_INTERVAL = timedelta(minutes=1)
# A claimed timestamp row belongs to its claimer this long (a request takes at most
# REQUEST_TIMEOUT); a process that dies mid-request leaves it to be claimed again after.
REQUEST_TIMEOUT = 30.0
STAMP_LEASE = timedelta(minutes=5)
STAMP_FIRST_RETRY = timedelta(minutes=1)
STAMP_MAX_BACKOFF = timedelta(hours=6)
STAMP_BATCH = 20


def utcnow() -> datetime:
    return datetime.now(UTC)


def _or_now(now: datetime | None) -> datetime:
    """The time a caller gave (tests do), else the current time."""
    return now or utcnow()


# ---------------------------------------------------------------------------- deciding


async def _lock_head(session: AsyncSession) -> CustodyHead:
    """The custody head, locked until the transaction ends: whoever holds it decides alone
    (PostgreSQL ``FOR UPDATE``; on SQLite ``BEGIN IMMEDIATE`` already serialises writers)."""
    return (
        await session.execute(select(CustodyHead).where(CustodyHead.id == 1).with_for_update())
    ).scalar_one()


async def newest_anchor(session: AsyncSession) -> Anchor | None:
    return (
        await session.execute(select(Anchor).order_by(Anchor.id.desc()).limit(1))
    ).scalar_one_or_none()


async def _moved_since(session: AsyncSession, anchor: Anchor) -> bool:
    """Whether anything but the anchors' own records was appended after ``anchor``'s head."""
    later = await session.execute(
        select(CustodyEntry.seq)
        .where(CustodyEntry.seq > anchor.seq, CustodyEntry.action.not_in(BOOKKEEPING_ACTIONS))
        .limit(1)
    )
    return later.first() is not None


def due_reason(
    *, head_seq: int, newest: Anchor | None, moved: bool, now: datetime, settings: Settings
) -> str | None:
    """Why an anchor is due now, or None.

    Never for an empty chain or a head that has not moved since the newest anchor; not
    while the newest still waits to be posted (it is being retried; a queue of stale anchors
    would only flood the chat once it is reachable again); then when the newest is older
    than the interval or ``TIPBOT_ANCHOR_ENTRIES`` entries came after it.
    """
    if head_seq == 0:
        return None
    if newest is None:
        return REASON_INTERVAL
    if not moved or newest.status == ANCHOR_PENDING:
        return None
    return _reason_after(newest, head_seq=head_seq, now=now, settings=settings)


def _reason_after(
    newest: Anchor, *, head_seq: int, now: datetime, settings: Settings
) -> str | None:
    """Why a new anchor is due after ``newest`` (posted, and the head moved since): enough
    entries came, or enough time passed; None when neither."""
    if head_seq - newest.seq >= settings.tipbot_anchor_entries:
        return REASON_ENTRIES
    if now - newest.created_at >= settings.tipbot_anchor_interval:
        return REASON_INTERVAL
    return None


async def _create(session: AsyncSession, head: CustodyHead, reason: str, now: datetime) -> Anchor:
    """The anchor of ``head`` and its outbox row (the message to post), in the caller's
    transaction."""
    anchor = Anchor(
        seq=head.seq, hash=head.hash, created_at=now, status=ANCHOR_PENDING, reason=reason
    )
    session.add(anchor)
    await session.flush()
    await outbox.enqueue(session, outbox.ANCHOR, payload={"anchor": anchor.id})
    return anchor


async def maybe_anchor(
    sessions: SessionFactory, settings: Settings, now: datetime | None = None
) -> Anchor | None:
    """Anchor the head if an anchor is due (see :func:`due_reason`); the new anchor, or None.

    One transaction holding the custody head's lock: of several processes checking at the
    same moment, the first creates the anchor and the others then see it.
    """
    if settings.anchor_chat_id is None:
        return None
    now = _or_now(now)
    async with transaction(sessions) as session:
        head = await _lock_head(session)
        newest = await newest_anchor(session)
        moved = newest is None or await _moved_since(session, newest)
        reason = due_reason(
            head_seq=head.seq, newest=newest, moved=moved, now=now, settings=settings
        )
        if reason is None:
            return None
        return await _create(session, head, reason, now)


async def anchor_now(
    sessions: SessionFactory, now: datetime | None = None
) -> tuple[Anchor | None, bool]:
    """``tipbot anchor``: the anchor of the current head, and whether it was created now.

    Under the same lock as :func:`maybe_anchor`, due or not. When nothing but anchor records
    came since the newest anchor, that anchor is returned (``False``); an empty chain gives
    ``(None, False)``.
    """
    now = _or_now(now)
    async with transaction(sessions) as session:
        head = await _lock_head(session)
        if head.seq == 0:
            return None, False
        newest = await newest_anchor(session)
        if newest is not None and not await _moved_since(session, newest):
            return newest, False
        return await _create(session, head, REASON_COMMAND, now), True


# ---------------------------------------------------------------------------- posting


@dataclass(frozen=True, slots=True)
class Posting:
    """An anchor's message on its way: its leased outbox row, the anchor, where and what."""

    row_id: int
    anchor_id: int
    seq: int
    hash: str
    chat_id: int
    text: Html


def message_text(catalog: Catalog, settings: Settings, anchor: Anchor) -> Html:
    """The public message, in the moderators' language (TIPBOT_MODERATOR_LANGUAGE)."""
    return catalog.t(
        settings.tipbot_moderator_language,
        "anchor-message",
        org=settings.org_label,
        # As text: Fluent would group a number's digits ("12 345"), and people compare it.
        seq=str(anchor.seq),
        hash=anchor.hash,
        time=anchor.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    )


async def prepare(
    session: AsyncSession, row: OutboxMessage, settings: Settings, catalog: Catalog
) -> Posting | None:
    """What a claimed anchor row posts; None (the row settled here) when there is nothing to
    post: the anchor is gone or already posted (cancelled), or ANCHOR_CHAT_ID was unset since
    it was queued (kept, and tried again in an hour)."""
    anchor = await session.get(Anchor, int(row.payload.get("anchor", 0)))
    if anchor is None or anchor.status == ANCHOR_POSTED:
        outbox.cancel(row)
        return None
    if settings.anchor_chat_id is None:
        outbox.postpone(row, error="ANCHOR_CHAT_ID is not set", delay=timedelta(hours=1))
        log.warning("anchor %d not posted (no ANCHOR_CHAT_ID); kept for later", anchor.id)
        return None
    return Posting(
        row_id=row.id,
        anchor_id=anchor.id,
        seq=anchor.seq,
        hash=anchor.hash,
        chat_id=settings.anchor_chat_id,
        text=message_text(catalog, settings, anchor),
    )


async def send(bot: Bot, posting: Posting) -> Message:
    """Post the anchor's message (through ``bot``'s rate limiter, if it has one)."""
    return await bot.send_message(
        posting.chat_id,
        posting.text,
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


async def settle(
    session: AsyncSession,
    posting: Posting,
    settings: Settings,
    *,
    message: Message | None = None,
    error: str | None = None,
    delay: timedelta | None = None,
) -> None:
    """After a send: record Telegram's confirmation (``message``), or postpone the row after
    ``delay`` (or the outbox's backoff) and log the anchor's id and the kind of error."""
    row = await session.get(OutboxMessage, posting.row_id)
    if message is None:
        _postpone_posting(row, posting.anchor_id, error or "not sent", delay)
        return
    if row is not None:
        outbox.mark_sent(row, message.message_id)
    await record_posted(
        session,
        posting.anchor_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        message_date=message.date,
        settings=settings,
    )


def _postpone_posting(
    row: OutboxMessage | None, anchor_id: int, error: str, delay: timedelta | None
) -> None:
    """The anchor's row kept for another attempt (if it is still there), and why logged."""
    if row is not None:
        outbox.postpone(row, error=error, delay=delay)
    log.warning(
        "anchor %d not posted (%s); retrying%s",
        anchor_id,
        error,
        f" in {delay.total_seconds():.0f} s" if delay else " with backoff",
    )


async def record_posted(
    session: AsyncSession,
    anchor_id: int,
    *,
    chat_id: int,
    message_id: int,
    message_date: datetime,
    settings: Settings,
) -> None:
    """The anchor is public: its message on the row, an ``anchored`` custody entry, and a
    pending timestamp per authority in TSA_URLS — all in the caller's transaction."""
    anchor = (
        await session.execute(select(Anchor).where(Anchor.id == anchor_id).with_for_update())
    ).scalar_one_or_none()
    if anchor is None:
        return
    if anchor.status == ANCHOR_POSTED:
        # Only a lost confirmation (a timeout after Telegram posted) can lead here: the
        # first message stays the anchor's record.
        log.warning(
            "anchor %d posted again (message %d); the first one counts", anchor.id, message_id
        )
        return
    now = utcnow()
    date = message_date.astimezone(UTC)
    anchor.status = ANCHOR_POSTED
    anchor.chat_id, anchor.message_id = chat_id, message_id
    anchor.message_date, anchor.posted_at = date, now
    for url in dict.fromkeys(settings.tsa_urls):
        session.add(
            TimestampToken(
                anchor_id=anchor.id,
                tsa_url=url,
                status=TIMESTAMP_PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    await custody.append(
        session,
        actor=custody.SYSTEM,
        action="anchored",
        details={
            "anchor": anchor.id,
            "seq": anchor.seq,
            "hash": anchor.hash,
            "chat_id": chat_id,
            "message_id": message_id,
            "message_date": date.isoformat(),
        },
    )


async def claim_posting(
    session: AsyncSession, anchor_id: int, settings: Settings, catalog: Catalog
) -> Posting | None:
    """``tipbot anchor``: lease this anchor's outbox row now, backoff or not (a row the
    worker holds at this moment is left to it), and prepare it; None if there is none."""
    row = await outbox.claim_now(
        session, outbox.ANCHOR, lambda r: int(r.payload.get("anchor", 0)) == anchor_id
    )
    return None if row is None else await prepare(session, row, settings, catalog)


# ---------------------------------------------------------------------------- timestamps


@dataclass(frozen=True, slots=True)
class StampOutcome:
    """What one authority answered for one anchor."""

    anchor_id: int
    tsa_url: str
    ok: bool
    gen_time: datetime | None = None
    serial: int | None = None
    error: str | None = None  # TimestampError.reason, or the network error's kind
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Claim:
    token_id: int
    anchor_id: int
    seq: int
    hash: str
    tsa_url: str
    attempts: int


async def _claim_stamps(
    sessions: SessionFactory,
    settings: Settings,
    now: datetime,
    anchor_id: int | None,
) -> list[_Claim]:
    """Due timestamp rows of configured authorities, leased (PostgreSQL skips rows another
    process is claiming at the same moment)."""
    query = (
        select(TimestampToken, Anchor)
        .join(Anchor, Anchor.id == TimestampToken.anchor_id)
        .where(
            TimestampToken.status == TIMESTAMP_PENDING,
            TimestampToken.next_attempt_at <= now,
            # An authority taken out of TSA_URLS is no longer asked; its rows stay pending.
            TimestampToken.tsa_url.in_(settings.tsa_urls),
        )
        .order_by(TimestampToken.id)
        .limit(STAMP_BATCH)
        .with_for_update(of=TimestampToken, skip_locked=True)
    )
    if anchor_id is not None:
        query = query.where(TimestampToken.anchor_id == anchor_id)
    claims: list[_Claim] = []
    async with transaction(sessions) as session:
        for token, anchor in (await session.execute(query)).all():
            token.attempts += 1
            token.next_attempt_at = now + STAMP_LEASE
            claims.append(
                _Claim(token.id, anchor.id, anchor.seq, anchor.hash, token.tsa_url, token.attempts)
            )
    return claims


def stamp_backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 1, 2, 4 … minutes, at most six hours."""
    doublings = min(max(attempts - 1, 0), 20)
    return min(STAMP_MAX_BACKOFF, STAMP_FIRST_RETRY * (1 << doublings))


async def _store(sessions: SessionFactory, claim: _Claim, stamped: StampedToken) -> bool:
    """Keep a verified token and append its ``timestamped`` entry, in one transaction."""
    async with transaction(sessions) as session:
        token = await session.get(TimestampToken, claim.token_id, with_for_update=True)
        if token is None or token.status == TIMESTAMP_OK:
            return False  # stored by another process whose lease we outlived
        token.status = TIMESTAMP_OK
        token.token = stamped.response
        token.certificates = stamped.certificates_pem
        token.gen_time = stamped.gen_time.astimezone(UTC)
        token.last_error = None
        await custody.append(
            session,
            actor=custody.SYSTEM,
            action="timestamped",
            details={
                "anchor": claim.anchor_id,
                "seq": claim.seq,
                "tsa": claim.tsa_url,
                "token_sha256": hashlib.sha256(stamped.response).hexdigest(),
                "gen_time": stamped.gen_time.astimezone(UTC).isoformat(),
                "serial": str(stamped.serial),
            },
        )
    return True


async def _postpone(
    sessions: SessionFactory, claim: _Claim, reason: str, now: datetime
) -> datetime:
    retry_at = now + stamp_backoff(claim.attempts)
    async with transaction(sessions) as session:
        token = await session.get(TimestampToken, claim.token_id)
        if token is not None and token.status == TIMESTAMP_PENDING:
            token.next_attempt_at = retry_at
            token.last_error = reason[:200]
    log.warning(
        "timestamp of anchor %d by %s failed (%s, attempt %d); next attempt at %s",
        claim.anchor_id,
        claim.tsa_url,
        reason,
        claim.attempts,
        retry_at.isoformat(timespec="seconds"),
    )
    return retry_at


async def _stamp(
    sessions: SessionFactory,
    client: httpx.AsyncClient,
    roots: TrustRoots,
    claim: _Claim,
    now: datetime,
) -> StampOutcome:
    try:
        stamped = await request_token(
            client, claim.tsa_url, bytes.fromhex(claim.hash), roots, timeout=REQUEST_TIMEOUT
        )
    except TimestampError as exc:
        reason = exc.reason
    except httpx.HTTPError as exc:  # should request_token let one through
        reason = type(exc).__name__
    else:
        await _store(sessions, claim, stamped)
        return StampOutcome(
            claim.anchor_id,
            claim.tsa_url,
            ok=True,
            gen_time=stamped.gen_time,
            serial=stamped.serial,
        )
    retry_at = await _postpone(sessions, claim, reason, now)
    return StampOutcome(
        claim.anchor_id, claim.tsa_url, ok=False, error=reason, next_attempt_at=retry_at
    )


async def obtain_timestamps(
    sessions: SessionFactory,
    settings: Settings,
    client: httpx.AsyncClient,
    roots: TrustRoots,
    now: datetime | None = None,
    *,
    anchor_id: int | None = None,
) -> list[StampOutcome]:
    """Ask every due authority for its token (of ``anchor_id``'s rows only, if given).

    Rows are claimed in one short transaction; the requests run concurrently and outside
    any transaction, so a slow or dead authority holds up neither the database nor the
    others; each answer is settled in a transaction of its own.
    """
    now = _or_now(now)
    claims = await _claim_stamps(sessions, settings, now, anchor_id)
    if not claims:
        return []
    stamps = (_stamp(sessions, client, roots, claim, now) for claim in claims)
    return list(await asyncio.gather(*stamps))


# ---------------------------------------------------------------------------- reading


class AnchoredHead(NamedTuple):
    """A published head: ``tipbot verify`` checks that the chain still holds it."""

    anchor_id: int
    seq: int
    hash: str


async def anchored_heads(session: AsyncSession) -> list[AnchoredHead]:
    """Every posted anchor, oldest first (one a day is a few hundred a year)."""
    rows = await session.execute(
        select(Anchor.id, Anchor.seq, Anchor.hash)
        .where(Anchor.status == ANCHOR_POSTED)
        .order_by(Anchor.seq, Anchor.id)
    )
    return [AnchoredHead(int(i), int(s), str(h)) for i, s, h in rows.all()]


async def stamps_of(session: AsyncSession, anchor_id: int) -> list[TimestampToken]:
    """An anchor's timestamp rows, in the order of TSA_URLS when they were created."""
    rows = await session.execute(
        select(TimestampToken)
        .where(TimestampToken.anchor_id == anchor_id)
        .order_by(TimestampToken.id)
    )
    return list(rows.scalars())
