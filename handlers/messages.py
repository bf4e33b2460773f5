"""Every non-command message in a private chat, routed by what it carries.

Text, a shared location or venue, a file, or something the intake does not accept
(stickers, contacts, polls, ...): each gets an answer in the reporter's language.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Location, Message, Update, Venue

from handlers import evidence, relay
from handlers.base import Ctx, handler
from handlers.intake import on_location, on_text, on_unsupported, retire_finished
from handlers.replies import Reply
from handlers.state import State, respond


@handler("intake.message")
async def private_message(update: Update, context: Ctx) -> None:
    message = update.message
    if message is None:
        return
    if evidence.is_media(message):
        await evidence.receive(update, context, message)
        return

    async def decide(session: AsyncSession, state: State) -> Reply:
        # Typed text or a point can finish a step (the date, the place, who): a file
        # acknowledgement left with that step's buttons is retired.
        return retire_finished(state, await _answer(session, state, message))

    await respond(update, context, decide)


async def _answer(session: AsyncSession, state: State, message: Message) -> Reply:
    for attribute, answer in _BY_CONTENT:
        content = getattr(message, attribute)
        if content is not None:
            return await answer(session, state, message, content)
    return await on_unsupported(session, state, message)


async def _text(session: AsyncSession, state: State, message: Message, text: str) -> Reply:
    """Words: an answer to a moderator's question, an addition, or the report's step."""
    target = await relay.relay_target(session, state, message)
    if target is not None:
        return await relay.relay_text(session, state, target, text)
    return await on_text(session, state, text)


async def _venue(session: AsyncSession, state: State, _message: Message, venue: Venue) -> Reply:
    """A place picked from a list (a venue): its point, with its name and address."""
    point = venue.location
    return await on_location(session, state, point.latitude, point.longitude, _label(venue))


def _label(venue: Venue) -> str | None:
    return ", ".join(part for part in (venue.title, venue.address) if part) or None


async def _location(
    session: AsyncSession, state: State, _message: Message, point: Location
) -> Reply:
    live = bool(point.live_period)
    return await on_location(session, state, point.latitude, point.longitude, None, live=live)


# What a message carries, in the order to look at it (a venue also carries a location).
_BY_CONTENT: tuple[
    tuple[str, Callable[[AsyncSession, State, Message, Any], Awaitable[Reply]]], ...
] = (
    ("text", _text),
    ("venue", _venue),
    ("location", _location),
)
