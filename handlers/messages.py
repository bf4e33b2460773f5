"""Every non-command message in a private chat, routed by what it carries.

Text, a shared location or venue, a file, or something the intake does not accept
(stickers, contacts, polls, ...): each gets an answer in the reporter's language.
"""

from __future__ import annotations

from telegram import Update

from db.engine import transaction
from handlers import evidence
from handlers.base import Ctx, handler, person
from handlers.intake import (
    load_state,
    note_message,
    on_location,
    on_text,
    on_unsupported,
    unsupported_kind,
)
from handlers.replies import deliver


@handler("intake.message")
async def private_message(update: Update, context: Ctx) -> None:
    message = update.message
    services = context.services
    who = person(update, services)
    if message is None or who is None:
        return
    if evidence.is_media(message):
        await evidence.receive(update, context)
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        await note_message(session, state, message)
        if message.text is not None:
            reply = await on_text(session, services, state, message.text)
        elif message.venue is not None:
            venue = message.venue
            label = ", ".join(part for part in (venue.title, venue.address) if part)
            loc = venue.location
            reply = await on_location(
                session, services, state, loc.latitude, loc.longitude, label or None
            )
        elif message.location is not None:
            loc = message.location
            reply = await on_location(session, services, state, loc.latitude, loc.longitude, None)
        else:
            reply = await on_unsupported(session, services, state, unsupported_kind(message))
    await deliver(update, context, reply)
