"""Moderation: what moderators do to tips, with the custody log, in the caller's transaction.

Every action names its moderator (Telegram id and display name), checks the version of the
tip the moderator saw (so of two presses at the same moment exactly one applies; the other
is told who was first), edits the tip, and appends a custody entry. Verdicts tell the
reporter — neutrally, and only if they asked for it — through the outbox, but only once
:data:`UNDO_WINDOW` has passed: until then a verdict can be taken back with one tap (the
notice is cancelled). Later, any verdict can be reopened with a reason. Moderators' internal
notes stay with the tip and are never relayed. What the files themselves say (capture time,
GPS) is compared with the reported date and place (:func:`file_facts`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import custody, outbox
from bot.evidence import testimony
from bot.gazetteer import haversine_km
from db.models import (
    MEDIA_FAILED,
    OUTBOX_CANCELLED,
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_SENT,
    TIP_DRAFT,
    TIP_DUPLICATE,
    TIP_IN_REVIEW,
    TIP_NEEDS_INFO,
    TIP_QUARANTINED,
    TIP_REJECTED,
    TIP_SUBMITTED,
    TIP_VERIFIED,
    TIP_WITHDRAWN,
    CustodyEntry,
    GroupMessage,
    Media,
    OutboxMessage,
    Reporter,
    Tip,
    TipLink,
    TipNote,
)

REJECT_REASONS: tuple[str, ...] = ("spam", "not_relevant", "not_enough_info", "other")
REOPEN_REASONS: tuple[str, ...] = ("new_information", "mistake", "other")
VERDICTS = frozenset({TIP_VERIFIED, TIP_REJECTED, TIP_DUPLICATE})
# The custody actions of verdicts (a tip's ``last_action`` while it can be undone).
VERDICT_ACTIONS = frozenset({"verified", "rejected", "duplicate"})
# How long a verdict can be taken back with one tap. The reporter's notice waits as long,
# so an undone verdict never told anyone anything.
UNDO_WINDOW = timedelta(seconds=60)
# Outbox rows that redraw a tip's card where it is (the kind is handled by the worker in
# handlers/moderation/delivery.py): when a reporter's answer reached the group, and when a
# verdict's minute to undo it is over.
REDRAW = "card_redraw"
# A moderator's note on a tip, for the other moderators only: never relayed.
INTERNAL_NOTE = "internal"
# Tips a moderator can still act on.
OPEN = frozenset({TIP_SUBMITTED, TIP_IN_REVIEW, TIP_NEEDS_INFO})
# A question typed as a reply to a card, waiting for its moderator to confirm it.
PENDING_QUESTION = "pending"
# Messages in the group that show a tip's content: a withdrawal deletes them.
CONTENT_COPIES = ("card", "answer", "view")
# How the last_error of an outbox row Telegram refused for good starts (the message itself,
# in its safe form too): such rows are failed, never retried, and counted by stats().
REFUSED = "refused: "
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
    # What an undo restores, kept with the verdict's entry (codes and ids only).
    details = {
        **details,
        "previous": tip.status,
        "self_assigned": tip.assignee_id is None,
        "questions_closed": await _close_questions(session, tip),
    }
    tip.status = status
    tip.reviewed_at = utcnow()
    if tip.assignee_id is None:
        tip.assignee_id, tip.assignee_name = moderator.id, moderator.name
    await _record(session, tip, moderator, action, details)
    # The card's Undo button goes away when the minute is over.
    await outbox.enqueue(session, REDRAW, tip_id=tip.id, delay=UNDO_WINDOW + _REDRAW_MARGIN)
    if notify and tip.notify_reviewed:
        await outbox.enqueue(session, outbox.NOTICE, tip_id=tip.id, delay=UNDO_WINDOW)


def _require_open(tip: Tip) -> None:
    if tip.status == TIP_WITHDRAWN:
        raise Refused("withdrawn")
    if tip.status == TIP_QUARANTINED:
        raise Refused("quarantined")
    if tip.status not in OPEN:
        raise Conflict(tip)


# A little after the minute, so the redrawn card no longer offers Undo.
_REDRAW_MARGIN = timedelta(seconds=1)


def undoable(tip: Tip, now: datetime | None = None) -> bool:
    """Whether the tip's verdict is less than :data:`UNDO_WINDOW` old (its card offers Undo)."""
    return (
        tip.status in VERDICTS
        and tip.last_action in VERDICT_ACTIONS
        and tip.last_action_at is not None
        and (now or utcnow()) - tip.last_action_at < UNDO_WINDOW
    )


async def _verdict_entry(session: AsyncSession, tip: Tip) -> CustodyEntry | None:
    """The custody entry of the tip's current verdict."""
    return (
        await session.execute(
            select(CustodyEntry)
            .where(CustodyEntry.tip_id == tip.id, CustodyEntry.action == tip.last_action)
            .order_by(CustodyEntry.seq.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _hold_back_notices(session: AsyncSession, tip: Tip, since: datetime | None) -> bool:
    """Cancel the reviewed-notices queued for the tip since ``since`` that have not gone
    yet; False (cancelling nothing) if one is already on its way or delivered."""
    rows = list(
        (
            await session.execute(
                select(OutboxMessage)
                .where(
                    OutboxMessage.tip_id == tip.id,
                    OutboxMessage.kind == outbox.NOTICE,
                    OutboxMessage.created_at >= (since or utcnow()),
                )
                .with_for_update()
            )
        ).scalars()
    )
    if any(row.status == OUTBOX_SENT or row.lease_until is not None for row in rows):
        return False
    for row in rows:
        if row.status == OUTBOX_PENDING:
            row.status = OUTBOX_CANCELLED
    return True


async def undo_verdict(session: AsyncSession, tip: Tip, moderator: Moderator) -> str:
    """Take back a verdict given less than :data:`UNDO_WINDOW` ago: the tip is as it was
    before (status, assignee, open questions) and the reporter is not told. Returns the
    verdict undone."""
    if tip.status == TIP_WITHDRAWN:
        raise Refused("withdrawn")
    if tip.status not in VERDICTS or tip.last_action not in VERDICT_ACTIONS:
        raise Conflict(tip)
    verdict = str(tip.last_action)
    # The minute is measured from the verdict's own time; the notice is the last word.
    if not undoable(tip) or not await _hold_back_notices(session, tip, tip.last_action_at):
        raise Refused("undo-expired")
    entry = await _verdict_entry(session, tip)
    before: dict[str, Any] = dict(entry.details) if entry is not None else {}
    previous = before.get("previous")
    if previous in OPEN:
        tip.status = str(previous)
    else:
        tip.status = TIP_IN_REVIEW if tip.assignee_id is not None else TIP_SUBMITTED
    if before.get("self_assigned"):
        tip.assignee_id = tip.assignee_name = None
        if tip.status == TIP_IN_REVIEW:
            tip.status = TIP_SUBMITTED
    if tip.status == TIP_SUBMITTED and await is_banned(session, tip):
        tip.status = TIP_QUARANTINED  # banned meanwhile: as the ban does to untaken reports
    closed = [int(n) for n in before.get("questions_closed") or [] if isinstance(n, int)]
    if closed:
        for note in (
            await session.execute(
                select(TipNote).where(TipNote.id.in_(closed), TipNote.kind == "question")
            )
        ).scalars():
            note.is_open = True
    tip.reject_reason = None
    tip.duplicate_of_id = None
    tip.reviewed_at = None
    await _record(session, tip, moderator, "verdict_undone", {"verdict": verdict})
    return verdict


async def reopen(session: AsyncSession, tip: Tip, moderator: Moderator, reason: str) -> None:
    """Open a decided tip again (for a reason code): back in review, where it can be asked
    about, noted and decided anew. A notice of the verdict not sent yet is cancelled."""
    if reason not in REOPEN_REASONS:
        raise Refused("bad-reason")
    if tip.status == TIP_WITHDRAWN:
        raise Refused("withdrawn")
    if tip.status not in VERDICTS:
        raise Conflict(tip)
    verdict = tip.status
    await _hold_back_notices(session, tip, tip.reviewed_at)
    tip.status = TIP_IN_REVIEW if tip.assignee_id is not None else TIP_SUBMITTED
    tip.reject_reason = None
    tip.duplicate_of_id = None
    tip.reviewed_at = None
    await _record(session, tip, moderator, "reopened", {"reason": reason, "verdict": verdict})


# ---------------------------------------------------------------------------- internal notes


async def add_note(
    session: AsyncSession,
    tip: Tip,
    moderator: Moderator,
    text: str,
    *,
    pending: TipNote | None = None,
) -> TipNote:
    """A moderator's note on a tip, for the moderators only (never relayed to the reporter);
    with ``pending``, a reply to the card :func:`draft_question` kept becomes the note. Not a
    decision: the tip's version (and so every card's buttons) stays as it is."""
    if tip.status in (TIP_WITHDRAWN, TIP_DRAFT):
        raise Refused("withdrawn")
    if pending is not None:
        note = pending
        note.kind, note.is_open, note.created_at = INTERNAL_NOTE, False, utcnow()
    else:
        note = _moderators_note(session, tip, moderator, INTERNAL_NOTE, text)
    await session.flush()
    await custody.append(
        session,
        actor=moderator.actor,
        action="note_added",
        tip_id=tip.id,
        details={"moderator": moderator.name, "note": note.id},
    )
    return note


async def notes_of(session: AsyncSession, tip_id: int) -> list[TipNote]:
    """The tip's internal notes, oldest first."""
    return list(
        (
            await session.execute(
                select(TipNote)
                .where(TipNote.tip_id == tip_id, TipNote.kind == INTERNAL_NOTE)
                .order_by(TipNote.id)
            )
        ).scalars()
    )


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


def _moderators_note(
    session: AsyncSession, tip: Tip, moderator: Moderator, kind: str, text: str
) -> TipNote:
    """A new note of ``tip`` written by ``moderator`` (added to the session)."""
    note = TipNote(
        tip_id=tip.id,
        kind=kind,
        text=text,
        moderator_id=moderator.id,
        moderator_name=moderator.name,
    )
    session.add(note)
    return note


async def draft_question(
    session: AsyncSession, tip: Tip, moderator: Moderator, text: str
) -> TipNote:
    """A question typed as a reply to a card, kept until its moderator confirms sending it
    (a reply in the group may well be meant for the other moderators)."""
    note = _moderators_note(session, tip, moderator, PENDING_QUESTION, text)
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
        note = _moderators_note(session, tip, moderator, "question", text)
        note.is_open = True
    if tip.status in (TIP_SUBMITTED, TIP_IN_REVIEW):
        tip.status = TIP_NEEDS_INFO
    await session.flush()
    await outbox.enqueue(session, outbox.QUESTION, tip_id=tip.id, payload={"note": note.id})
    await _record(session, tip, moderator, "question_asked", {"note": note.id})
    return note


async def _close_questions(session: AsyncSession, tip: Tip) -> list[int]:
    """Close the tip's open questions; return their ids (an undone verdict opens them again)."""
    closed: list[int] = []
    for note in (
        await session.execute(
            select(TipNote)
            .where(TipNote.tip_id == tip.id, TipNote.is_open.is_(True))
            .order_by(TipNote.id)
        )
    ).scalars():
        note.is_open = False
        closed.append(note.id)
    return closed


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
    ``gather`` holds it back a moment so the rest of an album goes in the same message.

    The caller holds the reporter's row; the tip is locked next (the lock order, see
    docs/architecture.md) and read again, before anything refers to it: a verdict given
    meanwhile is seen (not overwritten with "submitted"), and the note's foreign key does
    not take a share lock that a moderator's lock on the tip would then deadlock with."""
    await session.refresh(tip, with_for_update=True)
    if question is not None:
        await session.refresh(question)  # a verdict closes the tip's open questions
        if not question.is_open:
            question = None
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


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A possible duplicate of a tip: the other tip, every reason it was linked for
    (strongest first), and the perceptual distance of the closest image if any."""

    tip: Tip
    kinds: tuple[str, ...]
    distance: int | None


_LINK_STRENGTH = {"same_file": 0, "similar_image": 1, "similar_context": 2}


async def links(session: AsyncSession, tip: Tip) -> list[Suggestion]:
    """Possible duplicates of a tip, one per other tip (a report linked for the same file
    and for the same place and days is one suggestion with two reasons), strongest first."""
    rows = await session.execute(
        select(Tip, TipLink.kind, TipLink.distance)
        .join(Tip, Tip.id == TipLink.other_tip_id)
        .where(TipLink.tip_id == tip.id, Tip.status.not_in((TIP_DRAFT, TIP_WITHDRAWN)))
        .order_by(Tip.id)
    )
    others: dict[int, Tip] = {}
    kinds: dict[int, set[str]] = {}
    distances: dict[int, int] = {}
    for other, kind, distance in rows.all():
        others[other.id] = other
        kinds.setdefault(other.id, set()).add(kind)
        if distance is not None and kind != "same_file":
            distances[other.id] = min(distance, distances.get(other.id, distance))
    found = [
        Suggestion(
            others[other_id],
            tuple(sorted(reasons, key=lambda kind: (_LINK_STRENGTH.get(kind, 9), kind))),
            distances.get(other_id),
        )
        for other_id, reasons in kinds.items()
    ]

    def strength(item: Suggestion) -> tuple[int, int, int]:
        best = _LINK_STRENGTH.get(item.kinds[0], 9)
        return (best, item.distance or 0, -len(item.kinds))

    return sorted(found, key=strength)


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
    """Counts by status, category, oblast and day (submitted tips), and of messages
    Telegram refused for good (``undelivered``: outbox rows failed as :data:`REFUSED`)."""
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
    undelivered = (
        await session.execute(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.status == OUTBOX_FAILED,
                OutboxMessage.last_error.startswith(REFUSED, autoescape=True),
            )
        )
    ).scalar_one()
    return {
        "status": await count_by(Tip.status),
        "category": await count_by(Tip.category),
        "oblast": await count_by(Tip.oblast),
        "day": sorted(per_day.items()),
        "undelivered": int(undelivered),
    }


# ---------------------------------------------------------------------------- file metadata

# A capture time and the reported date, or a file's GPS and the reported place, further apart
# than this are flagged to the moderators.
DATE_TOLERANCE = timedelta(days=1)
PLACE_TOLERANCE_KM = 25.0
# Cameras without a set clock write 0000:00:00 or the epoch of their format (1904, 1970).
_EARLIEST_CAPTURE = 1990
_CAPTURE_TIME = re.compile(
    r"^\s*(\d{4})[:-](\d{2})[:-](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?"
)


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a file's own metadata says of when and where it was made, against the report:
    ``days_apart`` and ``km_apart`` are None where there is nothing to compare."""

    media: Media
    taken_at: datetime | None  # as the camera wrote it: local time, no time zone
    lat: float | None
    lon: float | None
    days_apart: float | None
    km_apart: float | None

    @property
    def date_disagrees(self) -> bool:
        tolerance = DATE_TOLERANCE.total_seconds() / 86400
        return self.days_apart is not None and self.days_apart > tolerance

    @property
    def place_disagrees(self) -> bool:
        return self.km_apart is not None and self.km_apart > PLACE_TOLERANCE_KM


def capture_time(value: object) -> datetime | None:
    """A capture time as EXIF (``2022:02:24 10:11:12``) or a container tag
    (``2022-02-24 10:11:12``) writes it; None when absent or unusable."""
    if not isinstance(value, str):
        return None
    match = _CAPTURE_TIME.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    if year < _EARLIEST_CAPTURE:
        return None
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _days_from_report(tip: Tip, taken: datetime) -> float | None:
    """How many days a capture time lies outside the reported date (0 inside it)."""
    reported = tip.incident_date
    if reported is None or tip.incident_date_precision not in ("day", "month"):
        return None
    if tip.incident_date_precision == "month":
        first = date(reported.year, reported.month, 1)
        following = date(reported.year + reported.month // 12, reported.month % 12 + 1, 1)
        start = datetime.combine(first, clock())
        end = datetime.combine(following, clock())
    elif tip.incident_time is not None:  # the reported moment itself
        start = end = datetime.combine(reported, tip.incident_time)
    else:  # any time of the reported day
        start = datetime.combine(reported, clock())
        end = start + timedelta(days=1)
    if start <= taken <= end:
        return 0.0
    gap = start - taken if taken < start else taken - end
    return gap.total_seconds() / 86400


def file_facts(tip: Tip, media: list[Media]) -> list[FileFacts]:
    """The files whose metadata holds a capture time or a position, each compared with the
    reported date and place (flagged beyond a day or 25 km)."""
    found: list[FileFacts] = []
    for item in media:
        meta = item.file_metadata or {}
        taken = capture_time(meta.get("taken_at"))
        gps = meta.get("gps") if isinstance(meta.get("gps"), dict) else None
        lat = gps.get("lat") if gps else None
        lon = gps.get("lon") if gps else None
        if not (isinstance(lat, int | float) and isinstance(lon, int | float)):
            lat = lon = None
        if taken is None and lat is None:
            continue
        km = None
        if lat is not None and lon is not None and tip.lat is not None and tip.lon is not None:
            km = haversine_km(float(lat), float(lon), tip.lat, tip.lon)
        days = _days_from_report(tip, taken) if taken is not None else None
        found.append(FileFacts(item, taken, lat, lon, days, km))
    return found
