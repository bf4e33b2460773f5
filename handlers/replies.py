"""A handler's answer, decided inside its transaction and delivered after the commit.

Deciding first and talking to Telegram afterwards keeps network calls out of database
transactions, and keeps every handler's "what the user sees" in one value that is easy to
read and test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Update

from handlers.base import Ctx, Screen, answer, send, show


@dataclass(slots=True)
class Reply:
    """``edit`` replaces the pressed button's message (for callbacks), ``send`` are new
    messages in order, ``toast`` is the callback answer; ``after`` runs last."""

    edit: Screen | None = None
    send: list[Screen] = field(default_factory=list)
    toast: str | None = None
    alert: bool = False
    after: Callable[[], Awaitable[None]] | None = None


async def deliver(update: Update, context: Ctx, reply: Reply) -> None:
    chat = update.effective_chat
    query = update.callback_query
    first: list[Awaitable[object]] = []
    if query is not None:
        first.append(answer(query, reply.toast, alert=reply.alert))
    pending = list(reply.send)
    if reply.edit is not None:
        if query is not None:
            first.append(show(update, context, reply.edit))
        else:
            pending.insert(0, reply.edit)
    if first:
        await asyncio.gather(*first)
    if chat is not None:
        for screen in pending:
            await send(context, chat.id, screen)
    if reply.after is not None:
        await reply.after()
