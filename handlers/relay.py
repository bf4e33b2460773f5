"""The reporter's side of follow-ups: answering a moderator's question, adding information.

A message is an answer when it replies to a relayed question, or — while a question asked in
the last week is open and no report is being written — whatever the reporter sends next, and
what they send in the ten minutes after answering; the rest of an album goes where its first
file went. From My reports a
reporter can also add information to a report ("a:<tip>", until "a:done"). Text and files
(through the same media pipeline) are attached to the tip and posted as a reply to its card;
the reporter never learns who asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from bot import moderation
from bot.i18n import Html
from bot.text import clean
from db.models import TIP_DRAFT, TIP_WITHDRAWN, Media, Tip, TipNote
from handlers import render
from handlers.base import Ctx, Screen, button, handler, keyboard, parse_id
from handlers.replies import Reply
from handlers.state import State, consent_first, respond

ANSWER_TEXT_MAX = 4000


@dataclass(slots=True)
class RelayTarget:
    """Where a reporter's message goes instead of the report being written."""

    tip: Tip
    kind: str  # "answer" or "addition"
    question: TipNote | None = None


async def relay_target(session: AsyncSession, state: State, message: Message) -> RelayTarget | None:
    """Whether this message answers a question or adds to a report (else None)."""
    reporter = state.reporter
    if reporter is None or not state.consented:
        return None
    if message.media_group_id:
        continued = await _album_target(session, state, message.media_group_id)
        if continued is not None:
            return continued
    if reporter.adding_to_tip_id is not None:
        tip = await _own_tip(session, state, reporter.adding_to_tip_id)
        if tip is not None:
            return RelayTarget(tip, "addition")
        reporter.adding_to_tip_id = None
    question = None
    if message.reply_to_message is not None:
        question = await moderation.open_question(
            session, reporter.id, reporter_message_id=message.reply_to_message.message_id
        )
    if question is None and state.draft is None:
        question = await moderation.open_question(session, reporter.id)
    if question is not None:
        tip = await _own_tip(session, state, question.tip_id)
        return RelayTarget(tip, "answer", question if question.is_open else None) if tip else None
    if state.draft is None:
        answered = await moderation.answering(session, reporter.id)
        tip = await _own_tip(session, state, answered) if answered is not None else None
        if tip is not None:
            return RelayTarget(tip, "answer")
    return None


async def _album_target(
    session: AsyncSession, state: State, media_group_id: str
) -> RelayTarget | None:
    """Where the earlier files of this album went, if they answered or added to a report
    (the question closed with the first file; the rest of the album follows it)."""
    assert state.reporter is not None
    row = (
        await session.execute(
            select(Media.tip_id, Media.origin)
            .join(Tip, Tip.id == Media.tip_id)
            .where(
                Tip.reporter_id == state.reporter.id,
                Media.media_group_id == media_group_id,
                Media.origin.in_(("answer", "addition")),
            )
            .order_by(Media.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    tip = await _own_tip(session, state, int(row[0]))
    return RelayTarget(tip, str(row[1])) if tip is not None else None


async def _own_tip(session: AsyncSession, state: State, tip_id: int) -> Tip | None:
    assert state.reporter is not None
    return (
        await session.execute(
            select(Tip).where(
                Tip.id == tip_id,
                Tip.reporter_id == state.reporter.id,
                Tip.status.not_in((TIP_DRAFT, TIP_WITHDRAWN)),
            )
        )
    ).scalar_one_or_none()


Translate = Callable[..., Html]


def _adding_screen(t: Translate, tip: Tip, key: str) -> Screen:
    done = keyboard([[button(t("adding-done"), "a:done")]])
    return Screen(t(key, reference=tip.reference), done)


def thanks(t: Translate, tip: Tip, kind: str) -> Screen:
    """The reporter's receipt for an answer or an addition (``t`` translates)."""
    if kind == "answer":
        return Screen(t("answer-thanks", reference=tip.reference))
    return _adding_screen(t, tip, "adding-saved")


async def relay_text(session: AsyncSession, state: State, target: RelayTarget, text: str) -> Reply:
    text = clean(text)  # before storage: PostgreSQL refuses NUL in text
    if len(text) > ANSWER_TEXT_MAX:
        return Reply(send=[Screen(state.t("answer-too-long", limit=ANSWER_TEXT_MAX))])
    await moderation.add_from_reporter(
        session,
        target.tip,
        kind=target.kind,
        text=text,
        media_id=None,
        actor=state.actor,
        question=target.question,
    )
    return Reply(send=[thanks(state.t, target.tip, target.kind)])


@handler("relay.add_button")
async def add_button(update: Update, context: Ctx) -> None:
    """``a:<tip>`` starts adding information to a report; ``a:done`` ends it."""
    query = update.callback_query
    value = (query.data or "").split(":", 1)[1] if query is not None and query.data else ""

    async def decide(session: AsyncSession, state: State) -> Reply:
        if not state.consented or state.reporter is None:
            return consent_first(state)
        if value == "done":
            tip_id = state.reporter.adding_to_tip_id
            state.reporter.adding_to_tip_id = None
            tip = await session.get(Tip, tip_id) if tip_id else None
            text = state.t("adding-finished", reference=tip.reference) if tip else ""
            return Reply(edit=render.menu(state.services.catalog, state.lang, text))
        tip_id = parse_id(value)
        tip = await _own_tip(session, state, tip_id) if tip_id is not None else None
        if tip is None:
            return Reply(toast=state.t("stale-button"))
        state.reporter.adding_to_tip_id = tip.id
        return Reply(edit=_adding_screen(state.t, tip, "adding-prompt"))

    await respond(update, context, decide)


def stop_adding(state: State) -> None:
    """Leaving "add information" (a new report, the menu, /start)."""
    if state.reporter is not None:
        state.reporter.adding_to_tip_id = None
