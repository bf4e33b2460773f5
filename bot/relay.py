"""Where a reporter's message goes when it is not part of a report being written: the
answer to a moderator's question, or information added to one of their submitted reports.

A message is an answer when it replies to a relayed question, or — while a question asked
in the last week is open and no report is being written — whatever the reporter sends
next, and what they send in the ten minutes after answering; the rest of an album goes
where its first file went. "Add information" (from My reports) holds until it is ended.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import moderation
from bot.moderation import NoteKind
from db.models import TIP_DRAFT, TIP_WITHDRAWN, Media, Reporter, Tip, TipNote

_RELAYED = (NoteKind.ANSWER, NoteKind.ADDITION)


@dataclass(slots=True)
class RelayTarget:
    """Where a reporter's message goes instead of the report being written."""

    tip: Tip
    kind: str  # NoteKind.ANSWER or NoteKind.ADDITION
    question: TipNote | None = None  # the open question it answers


async def relay_target(
    session: AsyncSession,
    reporter: Reporter,
    *,
    writing: bool,
    media_group_id: str | None = None,
    reply_to: int | None = None,
) -> RelayTarget | None:
    """Whether a message of ``reporter``'s answers a question or adds to a report (else
    None). ``writing``: a report is being written; ``reply_to``: the message it replies to."""
    target = await _album_target(session, reporter, media_group_id) if media_group_id else None
    if target is None:
        target = await _adding_target(session, reporter)
    if target is not None:
        return target
    question = await _question(session, reporter, writing=writing, reply_to=reply_to)
    if question is not None:
        return await _answer_target(session, reporter, question)
    return None if writing else await _continued_answer(session, reporter)


async def _album_target(
    session: AsyncSession, reporter: Reporter, media_group_id: str
) -> RelayTarget | None:
    """Where the earlier files of this album went, if they answered or added to a report
    (the question closed with the first file; the rest of the album follows it)."""
    row = (
        await session.execute(
            select(Media.tip_id, Media.origin)
            .join(Tip, Tip.id == Media.tip_id)
            .where(
                Tip.reporter_id == reporter.id,
                Media.media_group_id == media_group_id,
                Media.origin.in_(_RELAYED),
            )
            .order_by(Media.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    tip = await own_tip(session, reporter, int(row[0]))
    return RelayTarget(tip, str(row[1])) if tip is not None else None


async def _adding_target(session: AsyncSession, reporter: Reporter) -> RelayTarget | None:
    """The report the reporter is adding information to (forgotten if it is gone)."""
    if reporter.adding_to_tip_id is None:
        return None
    tip = await own_tip(session, reporter, reporter.adding_to_tip_id)
    if tip is None:
        reporter.adding_to_tip_id = None
        return None
    return RelayTarget(tip, NoteKind.ADDITION)


async def _question(
    session: AsyncSession, reporter: Reporter, *, writing: bool, reply_to: int | None
) -> TipNote | None:
    """The question replied to; else, unless a report is being written, the open one."""
    question = None
    if reply_to is not None:
        question = await moderation.open_question(
            session, reporter.id, reporter_message_id=reply_to
        )
    if question is None and not writing:
        question = await moderation.open_question(session, reporter.id)
    return question


async def _answer_target(
    session: AsyncSession, reporter: Reporter, question: TipNote
) -> RelayTarget | None:
    tip = await own_tip(session, reporter, question.tip_id)
    if tip is None:
        return None
    return RelayTarget(tip, NoteKind.ANSWER, question if question.is_open else None)


async def _continued_answer(session: AsyncSession, reporter: Reporter) -> RelayTarget | None:
    """The answer the reporter began a moment ago, continued in a further message."""
    answered = await moderation.answering(session, reporter.id)
    tip = await own_tip(session, reporter, answered) if answered is not None else None
    return RelayTarget(tip, NoteKind.ANSWER) if tip is not None else None


async def own_tip(session: AsyncSession, reporter: Reporter, tip_id: int) -> Tip | None:
    """One of the reporter's submitted reports that is still there (not withdrawn)."""
    return (
        await session.execute(
            select(Tip).where(
                Tip.id == tip_id,
                Tip.reporter_id == reporter.id,
                Tip.status.not_in((TIP_DRAFT, TIP_WITHDRAWN)),
            )
        )
    ).scalar_one_or_none()


async def start_adding(session: AsyncSession, reporter: Reporter, tip_id: int) -> Tip | None:
    """Begin adding information to one of the reporter's reports (None: not theirs, or gone)."""
    tip = await own_tip(session, reporter, tip_id)
    if tip is not None:
        reporter.adding_to_tip_id = tip.id
    return tip


async def stop_adding(session: AsyncSession, reporter: Reporter) -> Tip | None:
    """End adding information; the report it was added to, if any."""
    tip_id, reporter.adding_to_tip_id = reporter.adding_to_tip_id, None
    return await session.get(Tip, tip_id) if tip_id else None
