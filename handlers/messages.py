"""Every non-command message in a private chat, routed by what it carries.

Text, a shared location or venue, a file, or something the intake does not accept
(stickers, contacts, polls, ...): each gets an answer in the reporter's language.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

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
        await evidence.receive(update, context)
        return

    async def decide(session: AsyncSession, state: State) -> Reply:
        # Typed text or a point can finish a step (the date, the place, who): a file
        # acknowledgement left with that step's buttons is retired.
        return retire_finished(state, await answer(session, state))

    async def answer(session: AsyncSession, state: State) -> Reply:
        if message.text is not None:
            target = await relay.relay_target(session, state, message)
            if target is not None:
                return await relay.relay_text(session, state, target, message.text)
            return await on_text(session, state, message.text)
        if message.venue is not None:
            venue = message.venue
            label = ", ".join(part for part in (venue.title, venue.address) if part) or None
            point = venue.location
            return await on_location(session, state, point.latitude, point.longitude, label)
        if message.location is not None:
            point = message.location
            live = bool(point.live_period)
            return await on_location(
                session, state, point.latitude, point.longitude, None, live=live
            )
        return await on_unsupported(session, state, message)

    await respond(update, context, decide)
