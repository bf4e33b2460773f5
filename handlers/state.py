"""Who is writing and what they have open, loaded once per update; and the common shape of a
handler (:func:`respond`): one transaction to decide, then the answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from bot import custody, intake
from bot.i18n import Html
from db.engine import retrying
from db.models import Reporter, Tip
from handlers import render
from handlers.base import Ctx, Person, Services, person
from handlers.replies import Reply, deliver

log = logging.getLogger(__name__)


@dataclass(slots=True)
class State:
    """Who is writing, in which language, and their open draft (for this transaction)."""

    services: Services
    person: Person
    reporter: Reporter | None
    draft: Tip | None
    lang: str

    @property
    def consented(self) -> bool:
        return intake.has_consented(self.reporter)

    @property
    def actor(self) -> str:
        assert self.reporter is not None
        return custody.reporter_actor(self.reporter.pseudonym)

    def t(self, key: str, **args: object) -> Html:
        return self.services.catalog.t(self.lang, key, **args)


async def load_state(session: AsyncSession, services: Services, who: Person) -> State:
    reporter, draft = await intake.find_reporter_and_draft(
        session, who.pseudonym, who.legacy_pseudonym
    )
    consented = intake.has_consented(reporter)
    lang = reporter.language if reporter is not None and consented else who.telegram_language
    return State(services, who, reporter, draft if consented else None, lang)


async def note_message(session: AsyncSession, state: State, message: Message | None) -> None:
    """Remember where the conversation is, so "erase this conversation" can reach it."""
    if message is not None and state.reporter is not None and state.consented:
        await intake.record_incoming(session, state.reporter, message.message_id, message.date)


def consent_first(state: State) -> Reply:
    """The answer to anyone who has not agreed yet: choose a language, read, agree."""
    screen = render.language_choice(state.services.catalog, state.lang)
    return Reply(
        send=[screen.with_prefix(state.t("consent-first"))], toast=state.t("consent-first-short")
    )


def stale_button(state: State) -> Reply:
    """The answer to a button that no longer applies (or that this bot never wrote)."""
    return Reply(toast=state.t("stale-button"))


Decision = Callable[[AsyncSession, State], Awaitable[Reply]]
T = TypeVar("T")


async def respond(update: Update, context: Ctx, decide: Decision) -> None:
    """The shape of every reporter-facing handler: who is writing; one short transaction in
    which their message is noted and the answer decided; then the answer is delivered (after
    the commit, so no network call happens inside a transaction)."""

    async def without_result(session: AsyncSession, state: State) -> tuple[Reply, None]:
        return await decide(session, state), None

    await respond_with(update, context, without_result)


async def respond_with(
    update: Update,
    context: Ctx,
    decide: Callable[[AsyncSession, State], Awaitable[tuple[Reply, T]]],
) -> T | None:
    """:func:`respond` for a decision that also settles what the handler does next (a file
    admitted: where it goes); returns that, once the answer is delivered (None when no one
    is writing)."""
    services = context.services
    who = person(update, services)
    if who is None:
        return None

    async def body(session: AsyncSession) -> tuple[Reply, T]:
        state = await load_state(session, services, who)
        await note_message(session, state, update.message)
        return await decide(session, state)

    # On PostgreSQL a moderator's action on the same tip may deadlock with this transaction:
    # it runs again, so the reporter still gets their answer.
    (reply, result), _ = await retrying(services.sessions, body)
    await deliver(update, context, reply)
    return result
