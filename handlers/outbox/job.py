"""One unit of the outbox worker's work: what one step sends, rendered inside the claiming
transaction and sent after it, and what its kind records once Telegram confirmed it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message

from bot.evidence import anchors
from bot.i18n import Html
from db.models import Media, OutboxMessage, Tip
from handlers.base import Screen
from handlers.moderation.media import Sent

# What a kind records in the settling transaction once its message is in the chat (with
# Telegram's message id).
OnSent = Callable[[AsyncSession, "Job", int], Awaitable[None]]


class Settling(Protocol):
    """How a kind's job is recorded, in the settling transaction: once Telegram confirmed
    it (``message_id`` None: there was nothing to show), and when it must wait. Each kind
    has its own (:mod:`handlers.outbox.kinds`), most a :class:`handlers.outbox.settling.Rows`."""

    async def sent(self, session: AsyncSession, job: Job, message_id: int | None) -> None: ...

    async def postponed(
        self, session: AsyncSession, job: Job, error: str, wait: timedelta | None
    ) -> None: ...


@dataclass(slots=True)
class Job:
    """What one step sends: rendered inside the claiming transaction, sent after it."""

    rows: list[OutboxMessage]
    kind: str  # what is sent (a card, a digest, an answer ...): in log lines
    chat_id: int
    screen: Screen
    settling: Settling
    thread_id: int | None = None
    reply_to: int | None = None
    edit_message_id: int | None = None
    tips: list[Tip] = field(default_factory=list)
    files: list[Media] = field(default_factory=list)
    to_reporter: bool = False
    place: Tip | None = None  # whose forum topic to post in (found before sending)
    # Messages to take out of the chat after sending (a withdrawn tip's relayed copies).
    delete_ids: list[int] = field(default_factory=list)
    # An answer's header already sent (its files failed): the retry sends only the files.
    header_id: int | None = None
    sent_files: Sent = field(default_factory=Sent)
    # What overwrites a copy that cannot be deleted.
    redaction: Screen | None = None
    # An anchor of the custody chain, and Telegram's confirmation once posted.
    posting: anchors.Posting | None = None
    posted: Message | None = None
    # The rest of a text too long for one message (sent in reply to the first), and the
    # ids they got.
    more: list[Html] = field(default_factory=list)
    more_ids: list[int] = field(default_factory=list)
    # Sent again in the safe form after a permanent refusal.
    safe: bool = False
    # A card that was deleted is not posted anew by an edit (a redraw: /tip posts it).
    edit_only: bool = False

    @property
    def row_ids(self) -> list[int]:
        return [row.id for row in self.rows]

    @property
    def tip_id(self) -> int:
        return self.tips[0].id
