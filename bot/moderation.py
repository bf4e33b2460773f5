"""Moderation: what moderators do to tips, with the custody log, in the caller's transaction.

Every action names its moderator (Telegram id and display name), checks the version of the
tip the moderator saw (so of two presses at the same moment exactly one applies; the other
is told who was first), edits the tip, and appends a custody entry. Verdicts tell the
reporter — neutrally, and only if they allowed contact — through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import custody, outbox
from bot.evidence import testimony
from db.models import (
    MEDIA_FAILED,
    OUTBOX_PENDING,
    TIP_DRAFT,
    TIP_DUPLICATE,
    TIP_IN_REVIEW,
    TIP_NEEDS_INFO,
    TIP_QUARANTINED,
    TIP_REJECTED,
    TIP_SUBMITTED,
    TIP_VERIFIED,
    TIP_WITHDRAWN,
    GroupMessage,
    Media,
    OutboxMessage,
    Reporter,
    Tip,
    TipLink,
    TipNote,
)

REJECT_REASONS: tuple[str, ...] = ("spam", "not_relevant", "not_enough_info", "other")
VERDICTS = frozenset({TIP_VERIFIED, TIP_REJECTED, TIP_DUPLICATE})
# Tips a moderator can still act on.
OPEN = frozenset({TIP_SUBMITTED, TIP_IN_REVIEW, TIP_NEEDS_INFO})
# A question typed as a reply to a card, waiting for its moderator to confirm it.
PENDING_QUESTION = "pending"
# Messages in the group that show a tip's content: a withdrawal deletes them.
CONTENT_COPIES = ("card", "answer", "view")
# How long the reporter's next message counts as the answer to an open question.
QUESTION_TTL = timedelta(days=7)
# How long after answering, a reporter's further messages still belong to the answer.
ANSWER_CONTINUES = timedelta(minutes=10)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Moderator:
    id: int
    name: str

    @property
    def actor(self) -> str:
        return f"moderator:{self.id}"


class Conflict(Exception):
    """The tip changed since the moderator's card was drawn: someone else acted first."""

    def __init__(self, tip: Tip) -> None:
        super().__init__(tip.last_actor_name or "")
        self.tip = tip


class Refused(Exception):
    """The action does not apply to this tip now; ``reason`` is a message key suffix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def tip_for_update(session: AsyncSession, tip_id: int) -> Tip | None:
    """A tip, locked until the transaction ends (PostgreSQL; SQLite already serialises)."""
    return (
        await session.execute(select(Tip).where(Tip.id == tip_id).with_for_update())
    ).scalar_one_or_none()


def check_version(tip: Tip, seen: int | None) -> None:
    if seen is not None and tip.version != seen:
        raise Conflict(tip)


async def _record(
    session: AsyncSession,
    tip: Tip,
    moderator: Moderator,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    tip.last_action = action
    tip.last_actor_name = moderator.name
    tip.last_action_at = utcnow()
    tip.version += 1
    await session.flush()
    await custody.append(
        session,
        actor=moderator.actor,
        action=action,
        tip_id=tip.id,
        details={"moderator": moderator.name, **(details or {})},
    )


async def take(session: AsyncSession, tip: Tip, moderator: Moderator) -> None:
    _require_open(tip)
    tip.assignee_id = moderator.id
    tip.assignee_name = moderator.name
    if tip.status == TIP_SUBMITTED:
        tip.status = TIP_IN_REVIEW
    await _record(session, tip, moderator, "taken")


async def release(session: AsyncSession, tip: Tip, moderator: Moderator) -> None:
    _require_open(tip)
    if tip.assignee_id is None:
        raise Refused("not-taken")
    tip.assignee_id = None
    tip.assignee_name = None
    if tip.status == TIP_IN_REVIEW:
        tip.status = TIP_SUBMITTED
    await _record(session, tip, moderator, "released")


async def set_urgent(session: AsyncSession, tip: Tip, moderator: Moderator, urgent: bool) -> None:
    _require_open(tip)
    tip.urgent = urgent
    await _record(session, tip, moderator, "urgent_on" if urgent else "urgent_off")


async def verify(session: AsyncSession, tip: Tip, moderator: Moderator, *, notify: bool) -> None:
    await _verdict(session, tip, moderator, TIP_VERIFIED, "verified", {}, notify=notify)


async def reject(
    session: AsyncSession, tip: Tip, moderator: Moderator, reason: str, *, notify: bool
) -> None:
    if reason not in REJECT_REASONS:
        raise Refused("bad-reason")
    tip.reject_reason = reason
    await _verdict(
        session, tip, moderator, TIP_REJECTED, "rejected", {"reason": reason}, notify=notify
    )


async def mark_duplicate(
    session: AsyncSession, tip: Tip, original: Tip, moderator: Moderator, *, notify: bool
) -> None:
    if original.id == tip.id:
        raise Refused("duplicate-of-itself")
    if original.status in (TIP_DRAFT, TIP_WITHDRAWN):
        raise Refused("duplicate-unknown")
    tip.duplicate_of_id = original.id
    details = {"original": original.reference}
    await _verdict(session, tip, moderator, TIP_DUPLICATE, "duplicate", details, notify=notify)


async def _verdict(
    session: AsyncSession,
    tip: Tip,
    moderator: Moderator,
    status: str,
    action: str,
    details: dict[str, Any],
    *,
    notify: bool,
) -> None:
    _require_open(tip)
    tip.status = status
    tip.reviewed_at = utcnow()
    if tip.assignee_id is None:
        tip.assignee_id, tip.assignee_name = moderator.id, moderator.name
    await _close_questions(session, tip)
    await _record(session, tip, moderator, action, details)
    if notify and tip.contact_allowed:
        await outbox.enqueue(session, outbox.NOTICE, tip_id=tip.id)


def _require_open(tip: Tip) -> None:
    if tip.status == TIP_WITHDRAWN:
        raise Refused("withdrawn")
    if tip.status == TIP_QUARANTINED:
        raise Refused("quarantined")
    if tip.status not in OPEN:
        raise Conflict(tip)


async def evidence_viewed(
    session: AsyncSession, tip_id: int, moderator: Moderator, view: str
) -> None:
    """Who looked at a tip's evidence (its files, map, full text), and when: for the
    custody log, not a change of the tip (its version stays)."""
    await custody.append(
        session,
        actor=moderator.actor,
        action="evidence_viewed",
        tip_id=tip_id,
        details={"moderator": moderator.name, "view": view},
    )


# ---------------------------------------------------------------------------- bans


async def lock_reporter_of(session: AsyncSession, tip_id: int) -> None:
    """Lock the reporter of a tip before the tip itself: the order the reporter's own
    updates take locks in, so a ban and a reporter's message never wait on each other."""
    owner = select(Tip.reporter_id).where(Tip.id == tip_id).scalar_subquery()
    await session.execute(select(Reporter.id).where(Reporter.id == owner).with_for_update())


async def ban(session: AsyncSession, tip: Tip, moderator: Moderator) -> list[str]:
    """Ban the tip's reporter (silently): their tips no moderator has taken yet are
    quarantined, as their new ones will be; tips in someone's hands stay there, marked.
    Returns the references quarantined. Call :func:`lock_reporter_of` first."""
    reporter = await session.get(Reporter, tip.reporter_id, with_for_update=True)
    assert reporter is not None
    if reporter.banned_at is not None:
        raise Refused("already-banned")
    reporter.banned_at = utcnow()
    reporter.banned_by = moderator.name
    quarantined = await _set_status_where(session, reporter.id, {TIP_SUBMITTED}, TIP_QUARANTINED)
    await _record(session, tip, moderator, "reporter_banned", {"quarantined": len(quarantined)})
    return [other.reference for other in quarantined]


async def unban(session: AsyncSession, tip: Tip, moderator: Moderator) -> list[str]:
    """Lift a ban: quarantined tips go back to the queue (and are presented to moderators).
    Call :func:`lock_reporter_of` first."""
    reporter = await session.get(Reporter, tip.reporter_id, with_for_update=True)
    assert reporter is not None
    if reporter.banned_at is None:
        raise Refused("not-banned")
    reporter.banned_at = None
    reporter.banned_by = None
    restored = await _set_status_where(session, reporter.id, {TIP_QUARANTINED}, TIP_SUBMITTED)
    for other in restored:
        if other.card_message_id is None:  # submitted while banned: never shown yet
            await outbox.enqueue(session, outbox.CARD, tip_id=other.id)
    await _record(session, tip, moderator, "reporter_unbanned", {"restored": len(restored)})
    return [other.reference for other in restored]


async def _set_status_where(
    session: AsyncSession, reporter_id: int, old: frozenset[str] | set[str], new: str
) -> list[Tip]:
    tips = (
        await session.execute(
            select(Tip)
            .where(Tip.reporter_id == reporter_id, Tip.status.in_(old))
            .order_by(Tip.id)
            .with_for_update()
        )
    ).scalars()
    changed = list(tips)
    for tip in changed:
        tip.status = new
    return changed


async def other_cards(session: AsyncSession, tip: Tip, *, limit: int = 10) -> list[int]:
    """The reporter's other tips with a card in the group (most recent first)."""
    rows = await session.execute(
        select(Tip.id)
        .where(
            Tip.reporter_id == tip.reporter_id,
            Tip.id != tip.id,
            Tip.card_message_id.is_not(None),
        )
        .order_by(Tip.id.desc())
        .limit(limit)
    )
    return [int(tip_id) for (tip_id,) in rows.all()]


async def is_banned(session: AsyncSession, tip: Tip) -> bool:
    reporter = await session.get(Reporter, tip.reporter_id)
    return reporter is not None and reporter.banned_at is not None


# ---------------------------------------------------------------------------- questions


PENDING_TTL = timedelta(days=1)


async def prune_pending_questions(session: AsyncSession, now: datetime | None = None) -> int:
    """Forget replies to cards nobody chose to send within a day (their [Send] is stale)."""
    cutoff = (now or datetime.now(UTC)) - PENDING_TTL
    result = await session.execute(
        delete(TipNote).where(TipNote.kind == PENDING_QUESTION, TipNote.created_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def draft_question(
    session: AsyncSession, tip: Tip, moderator: Moderator, text: str
) -> TipNote:
    """A question typed as a reply to a card, kept until its moderator confirms sending it
    (a reply in the group may well be meant for the other moderators)."""
    note = TipNote(
        tip_id=tip.id,
        kind=PENDING_QUESTION,
        text=text,
        moderator_id=moderator.id,
        moderator_name=moderator.name,
    )
    session.add(note)
    await session.flush()
    return note


async def ask(
    session: AsyncSession,
    tip: Tip,
    moderator: Moderator,
    text: str,
    *,
    pending: TipNote | None = None,
) -> TipNote:
    """Relay a question to the reporter (the caller checked they allowed contact); with
    ``pending``, send the question :func:`draft_question` kept."""
    if tip.status in (TIP_WITHDRAWN, TIP_DRAFT):
        raise Refused("withdrawn")
    reporter = await session.get(Reporter, tip.reporter_id)
    if reporter is None or not reporter.chat_id_enc:
        raise Refused("unreachable")
    if pending is not None:
        note = pending
        note.kind, note.is_open, note.created_at = "question", True, utcnow()
    else:
        note = TipNote(
            tip_id=tip.id,
            kind="question",
            text=text,
            moderator_id=moderator.id,
            moderator_name=moderator.name,
            is_open=True,
        )
        session.add(note)
    if tip.status in (TIP_SUBMITTED, TIP_IN_REVIEW):
        tip.status = TIP_NEEDS_INFO
    await session.flush()
    await outbox.enqueue(session, outbox.QUESTION, tip_id=tip.id, payload={"note": note.id})
    await _record(session, tip, moderator, "question_asked", {"note": note.id})
    return note


async def _close_questions(session: AsyncSession, tip: Tip) -> None:
    for note in (
        await session.execute(
            select(TipNote).where(TipNote.tip_id == tip.id, TipNote.is_open.is_(True))
        )
    ).scalars():
        note.is_open = False


async def open_question(
    session: AsyncSession, reporter_id: int, *, reporter_message_id: int | None = None
) -> TipNote | None:
    """The question a reporter's message answers: the one it replies to (answered already
    or not: an answer in several messages), else the most recent open one asked within
    :data:`QUESTION_TTL` (a message weeks later is not taken for an answer unless it
    replies to the question)."""
    query = (
        select(TipNote)
        .join(Tip, Tip.id == TipNote.tip_id)
        .where(Tip.reporter_id == reporter_id, TipNote.kind == "question")
        .order_by(TipNote.id.desc())
        .limit(1)
    )
    if reporter_message_id is not None:
        query = query.where(TipNote.reporter_message_id == reporter_message_id)
    else:
        query = query.where(
            TipNote.is_open.is_(True), TipNote.created_at >= utcnow() - QUESTION_TTL
        )
    return (await session.execute(query)).scalar_one_or_none()


async def answering(session: AsyncSession, reporter_id: int) -> int | None:
    """The tip a reporter answered a question about in the last :data:`ANSWER_CONTINUES`:
    their next messages continue that answer (people write in several messages)."""
    return (
        await session.execute(
            select(TipNote.tip_id)
            .join(Tip, Tip.id == TipNote.tip_id)
            .where(
                Tip.reporter_id == reporter_id,
                TipNote.kind == "answer",
                TipNote.created_at >= utcnow() - ANSWER_CONTINUES,
            )
            .order_by(TipNote.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def add_from_reporter(
    session: AsyncSession,
    tip: Tip,
    *,
    kind: str,
    text: str | None,
    media_id: int | None,
    actor: str,
    question: TipNote | None = None,
    gather: timedelta | None = None,
) -> TipNote:
    """Attach the reporter's answer (or later addition) and queue it for the moderators;
    ``gather`` holds it back a moment so the rest of an album goes in the same message."""
    note = TipNote(tip_id=tip.id, kind=kind, text=text, media_id=media_id)
    session.add(note)
    if question is not None:
        question.is_open = False
        if tip.status == TIP_NEEDS_INFO:
            tip.status = TIP_IN_REVIEW if tip.assignee_id else TIP_SUBMITTED
    await session.flush()
    await outbox.enqueue(
        session, outbox.ANSWER, tip_id=tip.id, payload={"note": note.id}, delay=gather
    )
    await custody.append(
        session,
        actor=actor,
        action="answer_received" if kind == "answer" else "information_added",
        tip_id=tip.id,
        details={
            "note": note.id,
            "media": media_id,
            "text": text is not None,
            "record": testimony.note_digest(
                tip.reference, note, await testimony.note_file_sha256(session, note)
            ),
        },
    )
    return note


# ---------------------------------------------------------------------------- queries


async def find_by_reference(session: AsyncSession, reference: str) -> Tip | None:
    return (
        await session.execute(select(Tip).where(Tip.reference == reference))
    ).scalar_one_or_none()


async def remember_group_message(
    session: AsyncSession, chat_id: int, message_id: int, tip_id: int, kind: str
) -> None:
    """Remember a message of the bot's about a tip. If it carries the tip's content and the
    reporter withdrew the tip while it was on its way, a withdrawal is queued again so it
    is taken back out."""
    if await session.get(GroupMessage, (chat_id, message_id)) is None:
        session.add(GroupMessage(chat_id=chat_id, message_id=message_id, tip_id=tip_id, kind=kind))
        await session.flush()
    if kind not in CONTENT_COPIES:
        return
    tip = await session.get(Tip, tip_id)
    if tip is None or tip.status != TIP_WITHDRAWN:
        return
    waiting = await session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.tip_id == tip_id,
            OutboxMessage.kind == outbox.WITHDRAWN,
            OutboxMessage.status == OUTBOX_PENDING,
            OutboxMessage.lease_until.is_(None),
        )
        .limit(1)
    )
    if waiting is None:
        await outbox.enqueue(session, outbox.WITHDRAWN, tip_id=tip_id)


async def group_message(
    session: AsyncSession, chat_id: int, message_id: int
) -> GroupMessage | None:
    return await session.get(GroupMessage, (chat_id, message_id))


async def queue(
    session: AsyncSession, *, banned: bool = False, page: int = 0, per_page: int = 10
) -> tuple[list[Tip], int]:
    """Open tips, unassigned and urgent first, then oldest first (or the quarantined)."""
    statuses = {TIP_QUARANTINED} if banned else OPEN
    where = Tip.status.in_(statuses)
    total = int((await session.execute(select(func.count(Tip.id)).where(where))).scalar_one())
    order = [
        case((Tip.assignee_id.is_(None), 0), else_=1),
        case((Tip.urgent.is_(True), 0), else_=1),
        Tip.submitted_at,
        Tip.id,
    ]
    tips = (
        await session.execute(
            select(Tip).where(where).order_by(*order).offset(page * per_page).limit(per_page)
        )
    ).scalars()
    return list(tips), total


async def assigned_to(session: AsyncSession, moderator_id: int) -> list[Tip]:
    return list(
        (
            await session.execute(
                select(Tip)
                .where(Tip.assignee_id == moderator_id, Tip.status.in_(OPEN))
                .order_by(Tip.urgent.desc(), Tip.submitted_at)
                .limit(50)
            )
        ).scalars()
    )


async def reporter_record(session: AsyncSession, tip: Tip) -> dict[str, int]:
    """The reporter's other tips (not drafts) by status."""
    rows = await session.execute(
        select(Tip.status, func.count(Tip.id))
        .where(Tip.reporter_id == tip.reporter_id, Tip.id != tip.id, Tip.status != TIP_DRAFT)
        .group_by(Tip.status)
    )
    return {status: int(count) for status, count in rows.all()}


async def links(session: AsyncSession, tip: Tip) -> list[tuple[Tip, str, int | None]]:
    """Possible duplicates of a tip: (other tip, kind, distance), strongest first."""
    rows = await session.execute(
        select(Tip, TipLink.kind, TipLink.distance)
        .join(Tip, Tip.id == TipLink.other_tip_id)
        .where(TipLink.tip_id == tip.id, Tip.status.not_in((TIP_DRAFT, TIP_WITHDRAWN)))
        .order_by(TipLink.kind.desc(), TipLink.distance, Tip.id)
    )
    order = {"same_file": 0, "similar_image": 1, "similar_context": 2}
    found = [(other, kind, distance) for other, kind, distance in rows.all()]
    return sorted(found, key=lambda item: (order.get(item[1], 9), item[2] or 0))


async def media_of(session: AsyncSession, tip_id: int) -> list[Media]:
    return list(
        (await session.execute(select(Media).where(Media.tip_id == tip_id).order_by(Media.id)))
        .scalars()
        .all()
    )


async def file_counts(session: AsyncSession, tip_ids: list[int]) -> dict[int, int]:
    """How many files each tip holds (failed downloads left out)."""
    if not tip_ids:
        return {}
    rows = await session.execute(
        select(Media.tip_id, func.count(Media.id))
        .where(Media.tip_id.in_(tip_ids), Media.status != MEDIA_FAILED)
        .group_by(Media.tip_id)
    )
    return {tip_id: int(count) for tip_id, count in rows.all()}


async def stats(session: AsyncSession, *, days: int = 14) -> dict[str, Any]:
    """Counts by status, category, oblast and day (submitted tips)."""
    live = Tip.status.not_in((TIP_DRAFT,))

    async def count_by(column: Any) -> list[tuple[Any, int]]:
        rows = await session.execute(
            select(column, func.count(Tip.id)).where(live).group_by(column).order_by(column)
        )
        return [(key, int(count)) for key, count in rows.all()]

    since = utcnow() - timedelta(days=days)
    recent = (
        await session.execute(select(Tip.submitted_at).where(live, Tip.submitted_at >= since))
    ).scalars()
    per_day: dict[str, int] = {}
    for moment in recent:
        if moment is not None:
            key = moment.date().isoformat()
            per_day[key] = per_day.get(key, 0) + 1
    return {
        "status": await count_by(Tip.status),
        "category": await count_by(Tip.category),
        "oblast": await count_by(Tip.oblast),
        "day": sorted(per_day.items()),
    }
