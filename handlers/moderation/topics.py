"""Where a tip's messages go in the moderators' group: with ``MODERATOR_TOPICS=category``,
its category's forum topic (created on first use and remembered); else the fixed topic
``MODERATOR_THREAD_ID``, or the group itself. A topic someone deleted is forgotten and
created again on next use."""

from __future__ import annotations

import logging

from telegram.error import TelegramError

from bot import forum_topics
from db.engine import transaction
from db.models import Tip
from handlers.base import Ctx

log = logging.getLogger(__name__)


def is_missing_thread(exc: TelegramError) -> bool:
    return "thread not found" in str(exc).lower()


async def forget(context: Ctx, thread_id: int) -> bool:
    """Forget a category topic Telegram no longer knows (deleted in the group); True if it
    was one of ours (the next message creates it again), False for a fixed topic."""
    async with transaction(context.services.sessions) as session:
        gone = await forum_topics.forget(session, thread_id)
    if gone:
        log.warning("a forum topic was deleted in the group; it will be created again")
    return gone


async def thread_for(context: Ctx, tip: Tip) -> int | None:
    settings = context.services.settings
    if settings.moderator_topics != "category" or settings.moderator_chat_id is None:
        return settings.moderator_thread_id
    key = forum_topics.category_key(tip.category)
    async with transaction(context.services.sessions) as session:
        known = await forum_topics.thread_of(session, key)
    return known if known is not None else await _create(context, key, tip.category)


async def _create(context: Ctx, key: str, category: str | None) -> int:
    """Create the category's topic in the group, and remember it."""
    services = context.services
    chat_id = services.settings.moderator_chat_id
    assert chat_id is not None
    name = services.catalog.t(
        services.settings.tipbot_moderator_language, f"category-{category or 'other'}"
    )
    created = await context.bot.create_forum_topic(chat_id, name[:128])
    async with transaction(services.sessions) as session:
        await forum_topics.remember(session, key, chat_id, created.message_thread_id)
    return created.message_thread_id
