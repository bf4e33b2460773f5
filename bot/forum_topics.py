"""The forum topics the bot made in the moderators' group, one per category (``forum_topic``):
remembered once created, forgotten when someone deleted one (it is made again on next use)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ForumTopic


def category_key(category: str | None) -> str:
    """The topic's key for a tip's category (no category: ``other``)."""
    return f"category:{category or 'other'}"


async def thread_of(session: AsyncSession, key: str) -> int | None:
    topic = await session.get(ForumTopic, key)
    return topic.thread_id if topic is not None else None


async def remember(session: AsyncSession, key: str, chat_id: int, thread_id: int) -> None:
    """Remember a topic just created, unless another process was faster."""
    if await session.get(ForumTopic, key) is None:
        session.add(ForumTopic(key=key, chat_id=chat_id, thread_id=thread_id))


async def forget(session: AsyncSession, thread_id: int) -> bool:
    """Forget a topic by its thread; True if it was one of ours."""
    result = await session.execute(delete(ForumTopic).where(ForumTopic.thread_id == thread_id))
    return bool(getattr(result, "rowcount", 0))
