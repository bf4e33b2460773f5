"""What the outbox's messages are made of, and what their delivery records.

The service half of the outbox worker (:mod:`handlers.outbox`, which renders and sends):
every query it needs to build a message of one kind from its claimed rows — the tip, the
reporter's chat, the notes and files of an answer, the copies a withdrawal deletes — and
what is written once Telegram confirmed it (where a card is, which messages of an answer
are in the group, the reporter's message of a question). The rows themselves change only
through :mod:`bot.outbox`.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import moderation, outbox, tgtext
from bot.keys import Keyring
from db.models import (
    MEDIA_FAILED,
    TIP_QUARANTINED,
    TIP_WITHDRAWN,
    GroupMessage,
    Media,
    OutboxMessage,
    Reporter,
    Tip,
    TipNote,
)

# Tips whose messages are no longer passed on.
_GONE = (TIP_WITHDRAWN, TIP_QUARANTINED)


async def tip_of(session: AsyncSession, row: OutboxMessage) -> Tip | None:
    return await session.get(Tip, row.tip_id) if row.tip_id else None


async def note_of(session: AsyncSession, row: OutboxMessage) -> TipNote | None:
    return await session.get(TipNote, int(row.payload.get("note", 0)))


@dataclass(frozen=True, slots=True)
class Addressee:
    """The reporter a row's message goes to: their tip, language and chat."""

    tip: Tip
    language: str
    chat_id: int


async def addressee(
    session: AsyncSession, row: OutboxMessage, keyring: Keyring
) -> Addressee | None:
    """Who the row's message goes to; None if its tip, the reporter or their chat is gone
    (or the chat cannot be read with this key)."""
    tip = await tip_of(session, row)
    reporter = await session.get(Reporter, tip.reporter_id) if tip else None
    chat_id = _chat_of(reporter, keyring)
    if tip is None or reporter is None or chat_id is None:
        return None
    return Addressee(tip, reporter.language, chat_id)


def _chat_of(reporter: Reporter | None, keyring: Keyring) -> int | None:
    if reporter is None or not reporter.chat_id_enc:
        return None
    return keyring.decrypt_chat_id(reporter.chat_id_enc)


async def live_tips(
    session: AsyncSession, rows: Sequence[OutboxMessage]
) -> tuple[list[OutboxMessage], list[Tip]]:
    """The card rows whose tip is still to be presented, and their tips; the others (the
    tip withdrawn or banned since the row was queued) are cancelled."""
    live: tuple[list[OutboxMessage], list[Tip]] = ([], [])
    for row in rows:
        tip = await tip_of(session, row)
        if tip is None or tip.status in _GONE:
            outbox.cancel(row)
            continue
        live[0].append(row)
        live[1].append(tip)
    return live


async def content_copies(session: AsyncSession, tip: Tip, chat_id: int) -> list[int]:
    """The bot's messages in ``chat_id`` that show the tip's content (answers, files shown),
    its card left out: what a withdrawal deletes."""
    copies = await session.scalars(
        select(GroupMessage.message_id).where(
            GroupMessage.tip_id == tip.id,
            GroupMessage.chat_id == chat_id,
            GroupMessage.kind.in_(moderation.CONTENT_COPIES),
            GroupMessage.message_id != (tip.card_message_id or 0),
        )
    )
    return list(copies)


async def merge_redraws(session: AsyncSession, tip: Tip, limit: int) -> None:
    """Several redraws of one tip due together: one edit shows them all, the rest are
    cancelled."""
    outbox.cancel(*await outbox.claim(session, kinds=[outbox.REDRAW], limit=limit, tip_id=tip.id))


# ---------------------------------------------------------------------------- answers


async def gather_answers(
    session: AsyncSession, row: OutboxMessage, tip: Tip, limit: int
) -> list[OutboxMessage]:
    """``row`` and the tip's other due answer rows (up to ``limit`` in all). A retry whose
    words are already posted takes only the rows those words were of; anything that came
    since is given back, to go in a message of its own."""
    header = outbox.header_of(row)
    rows = [row]
    for each in await outbox.claim(session, kinds=[outbox.ANSWER], limit=limit - 1, tip_id=tip.id):
        if outbox.header_of(each) == header:
            rows.append(each)
        else:
            outbox.release(each)
    return rows


async def words_within(
    session: AsyncSession, rows: list[OutboxMessage], limit: int
) -> tuple[list[OutboxMessage], list[TipNote]]:
    """The first rows whose notes' words fit ``limit`` UTF-16 units together (at least
    one), and those notes; the rest of the rows are given back, in order, for the next
    message."""
    notes = [await note_of(session, row) for row in rows]
    count = _fitting(list(map(_words, notes)), limit)
    outbox.release(*rows[count:])
    return rows[:count], [note for note in notes[:count] if note is not None]


def _words(note: TipNote | None) -> int:
    return tgtext.utf16_len(note.text or "") if note is not None else 0


def _fitting(sizes: Sequence[int], limit: int) -> int:
    """How many of ``sizes`` go together: the first, then as long as their sum fits."""
    return max(1, bisect.bisect_right(list(itertools.accumulate(sizes)), limit))


async def passes_on(session: AsyncSession, tip: Tip, notes: Sequence[TipNote]) -> bool:
    """Whether a reporter's notes about the tip go to the moderators: not if there are none
    (erased since), nothing of a withdrawn or quarantined tip, nothing of a banned
    reporter's (it stays with the tip)."""
    if not notes or tip.status in _GONE:
        return False
    return not await moderation.is_banned(session, tip)


async def files_to_show(
    session: AsyncSession, notes: Sequence[TipNote], rows: Sequence[OutboxMessage]
) -> list[Media]:
    """The notes' files not yet in the chat (a retry after some went) and not failed."""
    shown = outbox.files_noted(rows)
    files: list[Media] = []
    for note in notes:
        media = await session.get(Media, note.media_id) if note.media_id else None
        if media is not None and media.status != MEDIA_FAILED and media.id not in shown:
            files.append(media)
    return files


async def remember_answer(
    session: AsyncSession, chat_id: int, tip_id: int, message_ids: Sequence[int]
) -> None:
    """Messages of an answer are in the group (a withdrawal can take them back out)."""
    for message_id in message_ids:
        await moderation.remember_group_message(session, chat_id, message_id, tip_id, "answer")


# ---------------------------------------------------------------------------- delivered


async def card_posted(session: AsyncSession, tip_id: int, chat_id: int, message_id: int) -> None:
    """The tip's card is in the group: where it is, for edits and replies."""
    tip = await session.get(Tip, tip_id)
    if tip is None:
        return
    tip.card_chat_id, tip.card_message_id = chat_id, message_id
    await moderation.remember_group_message(session, chat_id, message_id, tip.id, "card")


async def answer_posted(
    session: AsyncSession, tip_id: int, chat_id: int, message_ids: Sequence[int]
) -> None:
    """An answer is in the group: its messages remembered, and its card redrawn (it still
    says it waits for the reporter, and counts fewer files)."""
    await remember_answer(session, chat_id, tip_id, message_ids)
    await outbox.enqueue(session, outbox.REDRAW, tip_id=tip_id)


async def question_delivered(session: AsyncSession, note_id: int, message_id: int) -> None:
    """The reporter has the question: its message, which their reply will quote."""
    note = await session.get(TipNote, note_id)
    if note is not None:
        note.reporter_message_id = message_id


async def copies_deleted(session: AsyncSession, chat_id: int, message_ids: Sequence[int]) -> None:
    """A withdrawn tip's copies are out of the chat (or overwritten): forget them."""
    await session.execute(
        delete(GroupMessage).where(
            GroupMessage.chat_id == chat_id, GroupMessage.message_id.in_(message_ids)
        )
    )
