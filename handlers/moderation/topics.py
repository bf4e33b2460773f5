"""Where a tip's messages go in the moderators' group: with ``MODERATOR_TOPICS=category``,
its category's forum topic (created on first use and remembered); else the fixed topic
``MODERATOR_THREAD_ID``, or the group itself. A topic someone deleted is forgotten and
created again on next use."""

from __future__ import annotations

import logging

from sqlalchemy import delete
from telegram.error import TelegramError

from db.engine import transaction
from db.models import ForumTopic, Tip
from handlers.base import Ctx

log = logging.getLogger(__name__)


def is_missing_thread(exc: TelegramError) -> bool:
    return "thread not found" in str(exc).lower()


async def forget(context: Ctx, thread_id: int) -> bool:
    """Forget a category topic Telegram no longer knows (deleted in the group); True if it
    was one of ours (the next message creates it again), False for a fixed topic."""
    async with transaction(context.services.sessions) as session:
        result = await session.execute(delete(ForumTopic).where(ForumTopic.thread_id == thread_id))
    gone = bool(getattr(result, "rowcount", 0))
    if gone:
        log.warning("a forum topic was deleted in the group; it will be created again")
    return gone


async def thread_for(context: Ctx, tip: Tip) -> int | None:
    services = context.services
    settings = services.settings
    chat_id = settings.moderator_chat_id
    if settings.moderator_topics != "category" or chat_id is None:
        return settings.moderator_thread_id
    category = tip.category or "other"
    key = f"category:{category}"
    async with transaction(services.sessions) as session:
        topic = await session.get(ForumTopic, key)
        if topic is not None:
            return topic.thread_id
    name = services.catalog.t(settings.tipbot_moderator_language, f"category-{category}")
    created = await context.bot.create_forum_topic(chat_id, name[:128])
    async with transaction(services.sessions) as session:
        if await session.get(ForumTopic, key) is None:  # another process may have been faster
            session.add(ForumTopic(key=key, chat_id=chat_id, thread_id=created.message_thread_id))
    return created.message_thread_id
