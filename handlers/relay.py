"""The reporter's side of follow-ups: answering a moderator's question, adding information.

Which message is an answer or an addition is decided by :mod:`bot.relay`. From My reports a
reporter can add information to a report ("a:<tip>", until "a:done"). Text and files
(through the same media pipeline) are attached to the tip and posted as a reply to its card;
the reporter never learns who asked.
"""

from __future__ import annotations

from collections.abc import Callable

from telegram import Message, Update

from bot import moderation, relay
from bot.i18n import Html
from bot.moderation import NoteKind
from bot.relay import RelayTarget
from bot.session import Session
from bot.text import clean
from db.models import Tip
from handlers import render
from handlers.base import Ctx, Screen, button, handler, keyboard, parse_id
from handlers.replies import Reply
from handlers.state import State, consent_first, respond

__all__ = ["RelayTarget", "add_button", "relay_target", "relay_text", "thanks"]

ANSWER_TEXT_MAX = 4000


async def relay_target(session: Session, state: State, message: Message) -> RelayTarget | None:
    """Whether this message answers a question or adds to a report (else None)."""
    if state.reporter is None or not state.consented:
        return None
    reply_to = message.reply_to_message
    return await relay.relay_target(
        session,
        state.reporter,
        writing=state.draft is not None,
        media_group_id=message.media_group_id,
        reply_to=reply_to.message_id if reply_to is not None else None,
    )


Translate = Callable[..., Html]


def _adding_screen(t: Translate, tip: Tip, key: str) -> Screen:
    done = keyboard([[button(t("adding-done"), "a:done")]])
    return Screen(t(key, reference=tip.reference), done)


def thanks(t: Translate, tip: Tip, kind: str) -> Screen:
    """The reporter's receipt for an answer or an addition (``t`` translates)."""
    if kind == NoteKind.ANSWER:
        return Screen(t("answer-thanks", reference=tip.reference))
    return _adding_screen(t, tip, "adding-saved")


async def relay_text(session: Session, state: State, target: RelayTarget, text: str) -> Reply:
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
    value = _argument(update)

    async def decide(session: Session, state: State) -> Reply:
        if not state.consented or state.reporter is None:
            return consent_first(state)
        if value == "done":
            return _finished(state, await relay.stop_adding(session, state.reporter))
        tip_id = parse_id(value)
        tip = await relay.start_adding(session, state.reporter, tip_id) if tip_id else None
        if tip is None:
            return Reply(toast=state.t("stale-button"))
        return Reply(edit=_adding_screen(state.t, tip, "adding-prompt"))

    await respond(update, context, decide)


def _argument(update: Update) -> str:
    query = update.callback_query
    data = query.data if query is not None else None
    return data.split(":", 1)[1] if data else ""


def _finished(state: State, tip: Tip | None) -> Reply:
    text = state.t("adding-finished", reference=tip.reference) if tip else ""
    return Reply(edit=render.menu(state.services.catalog, state.lang, text))
