"""What a tip's card in the moderators' group shows, loaded in one go, and the custody
history its History button lists: the data side of the card (``handlers/moderation/cards.py``
renders it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import moderation
from bot.file_facts import FileFacts, file_facts
from bot.moderation import Suggestion
from db.models import CustodyEntry, Media, Reporter, Tip, TipNote


@dataclass(slots=True)
class CardData:
    """Everything a card shows, loaded in one go."""

    tip: Tip
    media: list[Media]
    links: list[Suggestion]
    record: dict[str, int]
    pseudonym: str
    banned: bool
    original: str | None  # the reference this tip duplicates, if marked so
    notes: int = 0  # internal notes
    facts: list[FileFacts] = field(default_factory=list)  # files with a time or place inside


async def load_card(session: AsyncSession, tip: Tip) -> CardData:
    reporter = await session.get(Reporter, tip.reporter_id)
    original = await session.get(Tip, tip.duplicate_of_id) if tip.duplicate_of_id else None
    media = await moderation.media_of(session, tip.id)
    return CardData(
        tip=tip,
        media=media,
        links=await moderation.links(session, tip),
        record=await moderation.reporter_record(session, tip),
        pseudonym=(reporter.pseudonym[:8] if reporter else "?"),
        banned=bool(reporter and reporter.banned_at),
        original=original.reference if original else None,
        notes=len(await moderation.notes_of(session, tip.id)),
        facts=file_facts(tip, media),
    )


async def card_of(session: AsyncSession, tip_id: int) -> CardData | None:
    """The card of a tip the reporter has sent (None for a draft or no tip)."""
    tip = await moderation.submitted_tip(session, tip_id)
    return await load_card(session, tip) if tip is not None else None


async def posted_card(session: AsyncSession, tip_id: int) -> tuple[CardData, int, int] | None:
    """The card of a tip that has one in the group, and where it is (chat, message)."""
    tip = await session.get(Tip, tip_id)
    if tip is None or tip.card_message_id is None or tip.card_chat_id is None:
        return None
    return await load_card(session, tip), tip.card_chat_id, tip.card_message_id


@dataclass(slots=True)
class HistoryData:
    """A tip's custody entries, oldest first, and its internal notes by id (an entry of a
    note holds only the note's id)."""

    tip: Tip
    entries: list[CustodyEntry]
    notes: dict[int, TipNote]


async def history_of(session: AsyncSession, tip_id: int) -> HistoryData | None:
    tip = await session.get(Tip, tip_id)
    if tip is None:
        return None
    entries = await session.execute(
        select(CustodyEntry).where(CustodyEntry.tip_id == tip.id).order_by(CustodyEntry.seq)
    )
    notes = {note.id: note for note in await moderation.notes_of(session, tip.id)}
    return HistoryData(tip, list(entries.scalars()), notes)
