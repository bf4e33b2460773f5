"""Reporter intake: consent, drafts and their steps, evidence, submission and erasure.

Every function works inside the caller's transaction (an ``AsyncSession``) and knows nothing
of Telegram's update objects. The draft and its current step live in the database, written
at every step, so a restart or a second process continues where the reporter stopped.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import custody, duplicates, moderation, outbox
from bot.dates import DateError, parse_incident_date
from bot.evidence import testimony
from bot.evidence.verifier import TESTIMONY_FIELDS
from bot.gazetteer import NearestPlace, Place
from bot.media import MediaStore, StagedFile, StorageError
from bot.refcode import new_reference
from db import uow
from db.engine import SessionFactory, transaction
from db.models import (
    MEDIA_FAILED,
    TIP_DRAFT,
    TIP_QUARANTINED,
    TIP_SUBMITTED,
    TIP_WITHDRAWN,
    ChatMessage,
    DatePrecision,
    LocationPrecision,
    LocationSource,
    Media,
    OutboxMessage,
    PendingErasure,
    Reporter,
    Tip,
    TipNote,
)

log = logging.getLogger(__name__)

# The version of the privacy notice a reporter agrees to; bump it when the notice changes
# and everyone is asked to agree again.
PRIVACY_VERSION = "2026-11"


class Step(StrEnum):
    """The step a draft is at, as stored in ``tip.step``. What each step asks, accepts and
    leads to is its row in the step table (:mod:`handlers.steps`)."""

    CATEGORY = "category"
    DESCRIPTION = "description"
    WHEN = "when"
    WHERE = "where"
    WHO = "who"
    EVIDENCE = "evidence"
    CONTACT = "contact"
    REVIEW = "review"


STEPS: tuple[Step, ...] = tuple(Step)
# Where a new draft starts.
FIRST_STEP = Step.CATEGORY

# The longest place name and description of who was responsible a reporter may type.
PLACE_TEXT_MAX = 500
PERPETRATOR_TEXT_MAX = 1000

# Telegram lets a bot delete messages in a private chat for 48 hours; keep a margin.
ERASE_WINDOW = timedelta(hours=47, minutes=50)
CHECKPOINT_EVERY = timedelta(minutes=30)


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------- navigation


def go_to(tip: Tip, step: Step, *, from_review: bool = False) -> None:
    """Put the draft at ``step``; ``from_review``: opened from the review, to which its
    answer (or Back) returns. Reaching the review ends such an edit."""
    tip.step = Step(step)
    if step == Step.REVIEW:
        tip.return_to_review = False
    elif from_review:
        tip.return_to_review = True


def move_on(tip: Tip, leads_to: Step) -> Step:
    """After an answer: to the step it ``leads_to``, or back to the review when the step was
    opened from it. Returns where the draft is now."""
    step = Step.REVIEW if tip.return_to_review else leads_to
    go_to(tip, step)
    return step


def back_target(tip: Tip, previous: Step | None) -> Step | None:
    """Where Back leads from the draft's step: the review when the step was opened from it,
    else ``previous`` (the step before it; None: Back leads nowhere)."""
    if tip.return_to_review and tip.step != Step.REVIEW:
        return Step.REVIEW
    return previous


# ---------------------------------------------------------------------------- reporters


async def find_reporter_and_draft(
    session: AsyncSession, lookup: str, legacy: str | None = None
) -> tuple[Reporter | None, Tip | None]:
    """The reporter found by ``lookup`` (the keyed hash of their Telegram id,
    ``Keyring.pseudonym``) and their open draft, in one query.

    On PostgreSQL the reporter's row is locked until the transaction ends, so two processes
    handling the same reporter take turns (SQLite transactions already exclude each other).
    """
    row = (
        await session.execute(
            select(Reporter, Tip)
            .outerjoin(Tip, and_(Tip.reporter_id == Reporter.id, Tip.status == TIP_DRAFT))
            .where(Reporter.lookup.in_(_lookups(lookup, legacy)))
            .order_by(Tip.id.desc())
            .limit(1)
            .with_for_update(of=Reporter)
        )
    ).first()
    if row is None:
        return None, None
    reporter: Reporter = row[0]
    if reporter.lookup != lookup:
        # A reporter from before migration 0004, found by the name the custody log knows
        # them by: from now on only the current key finds them.
        reporter.lookup = lookup
    return reporter, row[1]


def _lookups(lookup: str, legacy: str | None) -> list[str]:
    return [lookup] if legacy is None else [lookup, legacy]


async def find_reporter(
    session: AsyncSession, lookup: str, legacy: str | None = None
) -> Reporter | None:
    """The reporter the keyed hash of a Telegram id finds (None after "Delete my data");
    ``legacy``: the key of installations before migration 0004, also tried."""
    return (
        (
            await session.execute(
                select(Reporter).where(Reporter.lookup.in_(_lookups(lookup, legacy)))
            )
        )
        .scalars()
        .first()
    )


def has_consented(reporter: Reporter | None) -> bool:
    return (
        reporter is not None
        and reporter.consented_at is not None
        and reporter.privacy_version == PRIVACY_VERSION
    )


def new_pseudonym() -> str:
    """A reporter's pseudonym: random, so nothing derives it from who they are."""
    return secrets.token_hex(32)


async def record_consent(
    session: AsyncSession,
    *,
    pseudonym: str,
    chat_id_enc: str,
    language: str,
    name: str | None = None,
) -> Reporter:
    """Create the reporter found by ``pseudonym`` (the keyed hash of their Telegram id,
    stored as ``Reporter.lookup``), or renew their consent after a new privacy version.

    A new reporter gets a random pseudonym of their own (``name`` only where a fixed one is
    needed, as in tests) for the custody log and the cards, so that no one who reads those
    can find their lookup key in them (nor, after "Delete my data", tie their earlier
    reports to their later ones)."""
    reporter = await find_reporter(session, pseudonym)
    now = utcnow()
    if reporter is None:
        reporter = Reporter(
            pseudonym=name or new_pseudonym(), lookup=pseudonym, language=language, created_at=now
        )
        session.add(reporter)
    reporter.chat_id_enc = chat_id_enc
    reporter.language = language
    reporter.consented_at = now
    reporter.privacy_version = PRIVACY_VERSION
    reporter.data_deleted_at = None
    await session.flush()
    await custody.append(
        session,
        actor=custody.reporter_actor(reporter.pseudonym),
        action="consent",
        details={"privacy_version": PRIVACY_VERSION, "language": language},
    )
    return reporter


async def record_incoming(
    session: AsyncSession, reporter: Reporter, message_id: int, sent_at: datetime
) -> None:
    """Note where the conversation is, so "erase this conversation" can reach back to it.

    A checkpoint (message id and time) is written at most every half hour of activity;
    erasing deletes every id from the last checkpoint older than Telegram's 48-hour window
    onwards, so nothing deletable is missed and almost nothing else is stored.
    """
    last = reporter.last_checkpoint_at
    if last is not None and sent_at - last < CHECKPOINT_EVERY:
        return
    session.add(ChatMessage(reporter_id=reporter.id, message_id=message_id, sent_at=sent_at))
    reporter.last_checkpoint_at = sent_at


# ---------------------------------------------------------------------------- drafts


async def submissions_since(session: AsyncSession, reporter_id: int, since: datetime) -> int:
    return int(
        (
            await session.execute(
                select(func.count(Tip.id)).where(
                    Tip.reporter_id == reporter_id,
                    Tip.submitted_at.is_not(None),
                    Tip.submitted_at >= since,
                )
            )
        ).scalar_one()
    )


async def _unused_reference(session: AsyncSession) -> str:
    while True:
        reference = new_reference()
        taken = (await session.execute(select(Tip.id).where(Tip.reference == reference))).first()
        if taken is None:
            return reference


async def create_draft(session: AsyncSession, reporter: Reporter, language: str) -> Tip:
    tip = Tip(
        reference=await _unused_reference(session),
        reporter_id=reporter.id,
        status=TIP_DRAFT,
        step=FIRST_STEP,
        language=language,
    )
    session.add(tip)
    await session.flush()
    await custody.append(
        session,
        actor=custody.reporter_actor(reporter.pseudonym),
        action="draft_created",
        tip_id=tip.id,
        details={"reference": tip.reference},
    )
    return tip


# Why an answer is not taken (the reporter is told, and asked again).
TOO_LONG = "too_long"
TOTAL_TOO_LONG = "total_too_long"


def append_description(tip: Tip, text_: str, *, message_limit: int, total_limit: int) -> str | None:
    """Add a message to the description; or, changing nothing, say why not: the message is
    over ``message_limit`` (:data:`TOO_LONG`), or the description would be over
    ``total_limit`` (:data:`TOTAL_TOO_LONG`)."""
    if len(text_) > message_limit:
        return TOO_LONG
    current = tip.description or ""
    combined = f"{current}\n\n{text_}" if current else text_
    if len(combined) > total_limit:
        return TOTAL_TOO_LONG
    tip.description = combined
    return None


def has_category(tip: Tip, _counts: Mapping[str, int]) -> bool:
    return bool(tip.category)


def has_description(tip: Tip, counts: Mapping[str, int]) -> bool:
    """Told in words, or in a voice message (testimony)."""
    return bool(tip.description or counts.get("voice"))


def has_date(tip: Tip, _counts: Mapping[str, int]) -> bool:
    """A date, or "I don't know": either is an answer."""
    return tip.incident_date_precision is not None


def set_category(tip: Tip, code: str) -> None:
    tip.category = code


def set_incident_date(tip: Tip, value: date | None, precision: str, at: time | None) -> None:
    tip.incident_date = value
    tip.incident_date_precision = precision
    tip.incident_time = at if precision == DatePrecision.DAY else None


def answer_date(tip: Tip, typed: str, *, today: date, earliest: date) -> str | None:
    """The date a reporter typed, set; or, changing nothing, why it is refused (a
    :class:`bot.dates.DateError` reason)."""
    try:
        parsed = parse_incident_date(typed, today=today, earliest=earliest)
    except DateError as exc:
        return exc.reason
    set_incident_date(tip, parsed.value, parsed.precision, parsed.time)
    return None


def valid_point(lat: float, lon: float) -> bool:
    return -90 <= lat <= 90 and -180 <= lon <= 180


def set_place_from_point(
    tip: Tip, lat: float, lon: float, nearest: NearestPlace | None, label: str | None
) -> None:
    """A point the reporter shared; its settlement is the nearest one, so approximate."""
    tip.location_source = LocationSource.SHARED_POINT
    tip.location_precision = LocationPrecision.POINT
    tip.lat = round(lat, 6)
    tip.lon = round(lon, 6)
    tip.place_text = label
    _set_settlement(tip, nearest.place if nearest else None)
    tip.settlement_distance_km = round(nearest.distance_km, 2) if nearest else None


def set_place_from_settlement(tip: Tip, place: Place, typed: str | None) -> None:
    tip.location_source = LocationSource.TYPED_PLACE
    tip.location_precision = LocationPrecision.SETTLEMENT
    tip.lat = place.lat
    tip.lon = place.lon
    tip.place_text = typed
    _set_settlement(tip, place)
    tip.settlement_distance_km = None


def note_place_typed(tip: Tip, text_: str) -> str | None:
    """Keep what the reporter typed for the place (spaces tidied) while they choose among the
    settlements it matches; or, changing nothing, :data:`TOO_LONG`. Returns the tidied text
    in ``tip.place_text``."""
    typed = " ".join(text_.split())
    if len(typed) > PLACE_TEXT_MAX:
        return TOO_LONG
    tip.place_text = typed
    return None


def set_place_as_typed(tip: Tip, typed: str) -> None:
    tip.location_source = LocationSource.TYPED_PLACE
    tip.location_precision = LocationPrecision.TEXT
    tip.lat = tip.lon = None
    tip.place_text = typed
    _set_settlement(tip, None)
    tip.settlement_distance_km = None


def set_place_unknown(tip: Tip) -> None:
    tip.location_source = LocationSource.NONE
    tip.location_precision = LocationPrecision.NONE
    tip.lat = tip.lon = None
    tip.place_text = None
    _set_settlement(tip, None)
    tip.settlement_distance_km = None


def _set_settlement(tip: Tip, place: Place | None) -> None:
    tip.settlement = place.name_uk if place else None
    tip.settlement_id = place.geonameid if place else None
    tip.oblast = place.oblast if place else None


def set_perpetrator(tip: Tip, code: str, text_: str | None = None) -> None:
    tip.perpetrator = code
    tip.perpetrator_text = text_


def describe_perpetrator(tip: Tip, text_: str) -> str | None:
    """ "Other": who was responsible, in the reporter's words; or, changing nothing,
    :data:`TOO_LONG`."""
    if len(text_) > PERPETRATOR_TEXT_MAX:
        return TOO_LONG
    set_perpetrator(tip, "other", text_.strip())
    return None


# ---------------------------------------------------------------------------- media


@dataclass(slots=True)
class NewMedia:
    """What the handler learned about one incoming file, before it is recorded."""

    kind: str
    file_id: str
    file_unique_id: str
    media_group_id: str | None
    file_name: str | None
    declared_mime: str | None
    size: int | None
    recompressed: bool
    telegram_date: datetime | None
    received_at: datetime
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    caption: str | None = None
    forward_origin: dict[str, Any] | None = None
    status: str = "stored"
    failure_reason: str | None = None
    metadata: dict[str, Any] | None = None
    phash: str | None = None
    origin: str = "report"


async def count_media(session: AsyncSession, tip_id: int) -> int:
    """Files that count against the per-report limit (failed downloads do not)."""
    return int(
        (
            await session.execute(
                select(func.count(Media.id)).where(
                    Media.tip_id == tip_id, Media.status != MEDIA_FAILED
                )
            )
        ).scalar_one()
    )


# Voice messages are the reporter's own account, spoken: they belong with the description
# (testimony), wherever in the report they were sent, and are not counted among its files.
TESTIMONY_KINDS = frozenset({"voice"})


def file_count(counts: Mapping[str, int]) -> int:
    """How many of a report's media (:func:`media_counts`) are files, testimony left out."""
    return sum(count for kind, count in counts.items() if kind not in TESTIMONY_KINDS)


async def media_counts(session: AsyncSession, tip_id: int) -> dict[str, int]:
    """Files of a report by kind (photo, video, ...), failed downloads left out."""
    rows = await session.execute(
        select(Media.kind, func.count(Media.id))
        .where(Media.tip_id == tip_id, Media.status != MEDIA_FAILED)
        .group_by(Media.kind)
    )
    return {kind: int(count) for kind, count in rows.all()}


async def lock_content(session: AsyncSession, sha256: str) -> None:
    """Serialise writers and erasers of one content hash (PostgreSQL advisory lock).

    SQLite needs nothing: its write transactions already exclude each other.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"content:" + sha256.encode()).digest()[:8], "big")
        key -= 1 << 63 if key >= 1 << 63 else 0
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def add_media(
    session: AsyncSession,
    tip: Tip,
    new: NewMedia,
    staged: StagedFile | None,
    *,
    actor: str,
    store: MediaStore,
) -> Media:
    """Record a file (and put its staged original in place) in the caller's transaction."""
    if staged is not None:
        await lock_content(session, staged.sha256)
    media = Media(
        tip_id=tip.id,
        kind=new.kind,
        file_id=new.file_id,
        file_unique_id=new.file_unique_id,
        media_group_id=new.media_group_id,
        file_name=new.file_name,
        declared_mime=new.declared_mime,
        detected_mime=staged.detected_mime if staged else None,
        size=staged.size if staged else new.size,
        sha256=staged.sha256 if staged else None,
        storage_key=staged.storage_key if staged else None,
        status=new.status,
        failure_reason=new.failure_reason,
        recompressed=new.recompressed,
        width=new.width,
        height=new.height,
        duration=new.duration,
        caption=new.caption,
        forward_origin=new.forward_origin,
        telegram_date=new.telegram_date,
        received_at=new.received_at,
        file_metadata=new.metadata,
        phash=new.phash,
        origin=new.origin,
    )
    session.add(media)
    tip.updated_at = utcnow()
    await session.flush()
    if staged is not None:
        store.commit(staged)
    await custody.append(
        session,
        actor=actor,
        action="file_received",
        tip_id=tip.id,
        details={
            "media_id": media.id,
            "kind": media.kind,
            "status": media.status,
            "sha256": media.sha256,
            "size": media.size,
            "file_unique_id": media.file_unique_id,
            "recompressed": media.recompressed,
        },
    )
    return media


async def find_tip(session: AsyncSession, tip_id: int) -> Tip | None:
    return await session.get(Tip, tip_id)


async def relay_media(
    session: AsyncSession,
    tip: Tip,
    new: NewMedia,
    staged: StagedFile | None,
    *,
    question_id: int | None,
    actor: str,
    store: MediaStore,
    gather: timedelta,
) -> None:
    """A file answering a moderator's question (``question_id``, if it is still open), or
    added to a sent report: recorded, and queued for the moderators, held back ``gather``
    so the rest of its album goes in the same message."""
    question = await session.get(TipNote, question_id) if question_id is not None else None
    media = await add_media(session, tip, new, staged, actor=actor, store=store)
    await moderation.add_from_reporter(
        session,
        tip,
        kind=new.origin,
        text=new.caption,
        media_id=media.id,
        actor=actor,
        question=question if question is not None and question.is_open else None,
        gather=gather,
    )


async def release_relayed(session: AsyncSession, tip_id: int) -> Tip | None:
    """The files held back for the rest of their album (answers, additions) go to the
    moderators now: the album is complete. The tip they went to, or None if it is gone."""
    await outbox.hurry(session, kind=outbox.ANSWER, tip_id=tip_id)
    return await find_tip(session, tip_id)


# What the reporter told: the columns a withdrawal or a retention purge empties (the
# reference, status and moderation outcome stay).
TESTIMONY_COLUMNS: tuple[str, ...] = (
    *(
        name
        for name in TESTIMONY_FIELDS
        if name not in ("reference", "language", "contact_allowed")
    ),
    "settlement_distance_km",
)


def erase_testimony(tip: Tip) -> None:
    """Empty a tip's testimony (:data:`TESTIMONY_COLUMNS`) and withdraw its contact consent."""
    for column in TESTIMONY_COLUMNS:
        setattr(tip, column, None)
    tip.contact_allowed = False


async def erase_media(session: AsyncSession, tip: Tip) -> int:
    """Delete a tip's media rows; their originals are deleted once the transaction has
    committed (:func:`delete_unreferenced_originals`), so a rolled-back erasure never leaves
    rows pointing at missing files. The erasure owed is written here too
    (:class:`db.models.PendingErasure`), so a file that cannot be deleted then is retried
    (:func:`retry_erasures`) until it is gone. Returns how many rows went."""
    media = (await session.execute(select(Media).where(Media.tip_id == tip.id))).scalars().all()
    if media:
        await session.execute(delete(Media).where(Media.id.in_([m.id for m in media])))
        owed = {m.sha256: m.storage_key for m in media if m.sha256 and m.storage_key}
        await _owe_erasures(session, owed)
        uow.emit(session, uow.ORIGINALS, owed)
    return len(media)


async def _owe_erasures(session: AsyncSession, owed: Mapping[str, str]) -> None:
    """Record erasures owed; one already owed for the same content stays as it is."""
    if not owed:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        insert: Any = pg_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert = sqlite_insert
    now = utcnow()
    rows = [
        {
            "sha256": sha256,
            "storage_key": key,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for sha256, key in sorted(owed.items())
    ]
    await session.execute(insert(PendingErasure).values(rows).on_conflict_do_nothing())


# Waits between attempts at an erasure that failed: doubling, at most an hour.
ERASURE_RETRY_FIRST = timedelta(seconds=30)
ERASURE_RETRY_MAX = timedelta(hours=1)


def _erasure_backoff(attempts: int) -> timedelta:
    doubled: timedelta = ERASURE_RETRY_FIRST * (1 << min(attempts - 1, 20))
    return min(ERASURE_RETRY_MAX, doubled)


async def delete_unreferenced_originals(
    sessions: SessionFactory, store: MediaStore, candidates: Mapping[str, str]
) -> int:
    """After an erasure committed: delete each original no media row references any more.

    Each check runs under the content's lock, which a concurrent sender of the same bytes
    also holds until its own commit, so a file is never deleted under a new reference.
    An erasure done (or no longer owed: the content is referenced again) is struck off;
    one the disk refused stays owed, with its next attempt put back (doubling). Returns how
    many files were deleted.
    """
    removed = 0
    for sha256, key in sorted(candidates.items()):
        async with transaction(sessions) as session:
            await lock_content(session, sha256)
            used = (
                await session.execute(select(Media.id).where(Media.sha256 == sha256).limit(1))
            ).first()
            owed = await session.get(PendingErasure, sha256)
            try:
                if used is None and store.delete(key):
                    removed += 1
            except StorageError as exc:
                if owed is None:
                    owed = PendingErasure(sha256=sha256, storage_key=key, attempts=0)
                    session.add(owed)
                owed.attempts += 1
                wait = _erasure_backoff(owed.attempts)
                owed.next_attempt_at = utcnow() + wait
                log.warning(
                    "an erased original could not be deleted (%s); retrying in %d s (attempt %d)",
                    exc.code,
                    wait.total_seconds(),
                    owed.attempts,
                )
                continue
            if owed is not None:
                await session.delete(owed)
    return removed


async def retry_erasures(
    sessions: SessionFactory, store: MediaStore, *, now: datetime | None = None, batch: int = 100
) -> int:
    """Attempt the erasures owed whose time has come (a periodic job); how many files went."""
    now = now or utcnow()
    async with sessions() as session:
        due = (
            await session.execute(
                select(PendingErasure.sha256, PendingErasure.storage_key)
                .where(PendingErasure.next_attempt_at <= now)
                .order_by(PendingErasure.next_attempt_at, PendingErasure.sha256)
                .limit(batch)
            )
        ).all()
    if not due:
        return 0
    return await delete_unreferenced_originals(sessions, store, {sha: key for sha, key in due})


# ---------------------------------------------------------------------------- submit


async def submit(
    session: AsyncSession, tip: Tip, reporter: Reporter, *, duplicate_distance: int
) -> None:
    """Submit a draft: status, duplicate links, the custody entry and the moderators' outbox
    row, together. A banned reporter is not told: their tip is quarantined, not posted."""
    now = utcnow()
    quarantined = reporter.banned_at is not None
    tip.status = TIP_QUARANTINED if quarantined else TIP_SUBMITTED
    tip.step = None
    tip.return_to_review = False
    tip.submitted_at = now
    await session.flush()
    if not quarantined:
        await outbox.enqueue(session, outbox.CARD, tip_id=tip.id)
    links = await duplicates.link(session, tip, max_distance=duplicate_distance)
    await custody.append(
        session,
        actor=custody.reporter_actor(reporter.pseudonym),
        action="submitted",
        tip_id=tip.id,
        details={
            "reference": tip.reference,
            "media": await count_media(session, tip.id),
            "duplicate_links": links,
            "quarantined": quarantined,
            # The digest of everything the reporter gave (docs/custody.md, "Testimony").
            "record": await testimony.tip_digest(session, tip),
        },
    )


async def discard_draft(session: AsyncSession, tip: Tip, *, actor: str, reason: str) -> None:
    """Delete an unfinished report and its files; a content-free custody entry remains."""
    files = await erase_media(session, tip)
    tip_id, reference = tip.id, tip.reference
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.tip_id == tip_id).values(tip_id=None)
    )
    await session.delete(tip)
    await session.flush()
    await custody.append(
        session,
        actor=actor,
        action="draft_deleted",
        tip_id=tip_id,
        details={"reference": reference, "files": files, "reason": reason},
    )


# ---------------------------------------------------------------------------- my reports


async def list_tips(session: AsyncSession, reporter_id: int, *, limit: int = 20) -> list[Tip]:
    """The reporter's reports, newest first, excluding the current draft."""
    return list(
        (
            await session.execute(
                select(Tip)
                .where(Tip.reporter_id == reporter_id, Tip.status != TIP_DRAFT)
                .order_by(Tip.id.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )


# ---------------------------------------------------------------------------- erasure


async def erase_start(
    session: AsyncSession, reporter_id: int, *, now: datetime | None = None
) -> int | None:
    """The first message id of this chat Telegram may still let the bot delete (or None).

    In a private chat with a bot both sides' messages share one id sequence, so every id
    from here up to the latest covers every deletable message: the last checkpoint before
    the 48-hour window, or else the first one inside it. Telegram skips the few too old.
    """
    now = now or utcnow()
    start = (
        await session.execute(
            select(ChatMessage.message_id)
            .where(
                ChatMessage.reporter_id == reporter_id,
                ChatMessage.sent_at < now - ERASE_WINDOW,
            )
            .order_by(ChatMessage.sent_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if start is None:
        start = (
            await session.execute(
                select(func.min(ChatMessage.message_id)).where(
                    ChatMessage.reporter_id == reporter_id
                )
            )
        ).scalar_one()
    return int(start) if start is not None else None


async def forget_chat_messages(session: AsyncSession, reporter: Reporter) -> None:
    await session.execute(delete(ChatMessage).where(ChatMessage.reporter_id == reporter.id))
    reporter.last_checkpoint_at = None


async def prune_chat_messages(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Drop checkpoints too old to matter (a day past the 48-hour window)."""
    now = now or utcnow()
    result = await session.execute(
        delete(ChatMessage).where(ChatMessage.sent_at < now - ERASE_WINDOW - timedelta(days=1))
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class DeletionSummary:
    drafts_deleted: int
    withdrawn: list[str]
    kept: list[str]


async def delete_reporter_data(session: AsyncSession, reporter: Reporter) -> DeletionSummary:
    """ "Delete my data": drafts go; submitted reports not yet reviewed are withdrawn and
    their content and files erased; reports already in review stay (they are evidence).
    The encrypted chat id and consent are forgotten; content-free custody entries remain.

    Then the row is detached from the person (:func:`_detach`): the reports that remain on
    it belong to no one the bot can find, and the person's next /start is a new reporter
    with a new pseudonym, so nothing links what they sent before to what they send after."""
    actor = custody.reporter_actor(reporter.pseudonym)
    tips = (
        (await session.execute(select(Tip).where(Tip.reporter_id == reporter.id).order_by(Tip.id)))
        .scalars()
        .all()
    )
    drafts = 0
    withdrawn: list[str] = []
    kept: list[str] = []
    for tip in tips:
        if tip.status == TIP_DRAFT:
            await discard_draft(session, tip, actor=actor, reason="data_deleted")
            drafts += 1
        elif tip.status in (TIP_SUBMITTED, TIP_QUARANTINED):
            await _withdraw_and_erase(session, tip, actor=actor)
            withdrawn.append(tip.reference)
        elif tip.status != TIP_WITHDRAWN:
            kept.append(tip.reference)
    await forget_chat_messages(session, reporter)
    # Nothing may reach them any more: no questions wait for an answer, nothing is added.
    await session.execute(
        update(TipNote)
        .where(
            TipNote.tip_id.in_(select(Tip.id).where(Tip.reporter_id == reporter.id)),
            TipNote.is_open.is_(True),
        )
        .values(is_open=False)
    )
    reporter.adding_to_tip_id = None
    reporter.chat_id_enc = None
    reporter.consented_at = None
    reporter.privacy_version = None
    reporter.data_deleted_at = utcnow()
    await session.flush()
    await custody.append(
        session,
        actor=actor,
        action="data_deleted",
        details={"drafts": drafts, "withdrawn": len(withdrawn), "kept": len(kept)},
    )
    await _detach(session, reporter, tips=len(tips) - drafts)
    return DeletionSummary(drafts, withdrawn, kept)


async def _detach(session: AsyncSession, reporter: Reporter, *, tips: int) -> None:
    """Cut the row off from the person: no lookup key (the keyed hash of their Telegram id
    finds nothing any more) and a new random pseudonym (so the row's name is not one the
    custody log used for them either). The reports left on the row keep their history and
    counts. The custody entry names no one: not the old pseudonym, not the new one."""
    reporter.lookup = None
    reporter.pseudonym = new_pseudonym()
    await session.flush()
    await custody.append(
        session, actor=custody.SYSTEM, action="reporter_detached", details={"tips": tips}
    )


async def _cancel_pending(session: AsyncSession, tip: Tip) -> bool:
    """Cancel what the outbox still holds for a tip being withdrawn: a card not yet posted
    is not posted. Whether the moderators must be told of the withdrawal: a card already
    posted is marked withdrawn, and one being sent right now (leased) may still land, so
    the withdrawal follows it (and moderation.remember_group_message queues one again if it
    lands later still)."""
    pending = await outbox.pending_of(session, tip.id)
    cards = [row for row in pending if row.kind == outbox.CARD]
    now = utcnow()
    in_flight = any(row.lease_until is not None and row.lease_until > now for row in cards)
    outbox.cancel(*pending)
    return not cards or in_flight or tip.card_message_id is not None


async def _withdraw_and_erase(session: AsyncSession, tip: Tip, *, actor: str) -> None:
    files = await erase_media(session, tip)
    # Their words to moderators (answers, additions) and the moderators' questions go too.
    await session.execute(delete(TipNote).where(TipNote.tip_id == tip.id))
    tip.status = TIP_WITHDRAWN
    erase_testimony(tip)
    if await _cancel_pending(session, tip):
        await outbox.enqueue(session, outbox.WITHDRAWN, tip_id=tip.id)
    await session.flush()
    await custody.append(
        session, actor=actor, action="withdrawn", tip_id=tip.id, details={"reason": "reporter"}
    )
    await custody.append(
        session,
        actor=actor,
        action="erased",
        tip_id=tip.id,
        details={"files": files, "content": True},
    )
