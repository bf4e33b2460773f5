"""Where a tip's messages go in the moderators' group: with ``MODERATOR_TOPICS=category``,
its category's forum topic (created on first use and remembered); else the fixed topic
``MODERATOR_THREAD_ID``, or the group itself."""

from __future__ import annotations

from db.engine import transaction
from db.models import ForumTopic, Tip
from handlers.base import Ctx


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
