"""One job builder per kind of outbox row, and what each kind records once it was sent.

A builder gets the row the worker claimed (inside the claiming transaction) and returns
the :class:`~handlers.outbox.job.Job` to send, or None when there is nothing to send (it has
settled the row itself then: cancelled, failed or postponed). It may claim more rows of the
same kind to send with it: cards in a surge (a digest), the answers of one tip, several
redraws of one card. The data comes from :mod:`bot.delivery`; the words from the
moderators' renderers (:mod:`handlers.moderation.cards`) and the catalog.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import ForceReply

from bot import delivery, moderation, outbox, tgtext
from bot.evidence import anchors
from bot.i18n import Html
from bot.outbox import Kind
from bot.settings import Settings
from db.models import OutboxMessage, Tip, TipNote
from handlers.base import Screen, Services
from handlers.moderation import cards
from handlers.outbox.job import Job
from handlers.outbox.settling import Rows

Builder = Callable[[Services, AsyncSession, OutboxMessage], Awaitable[Job | None]]

DIGEST_SIZE = 10
# The reporter's words gathered into one message to the group, in UTF-16 units (Telegram
# allows 4096; one answer can be that long by itself: it is then split).
ANSWER_WORDS = 3600
# Why a message to a reporter cannot go (its note, tip, reporter or chat is gone).
UNREACHABLE = "unreachable"


# ---------------------------------------------------------------------------- settling


async def _card_sent(session: AsyncSession, job: Job, message_id: int) -> None:
    """Where the card is, for edits and replies."""
    await delivery.card_posted(session, job.tip_id, job.chat_id, message_id)


async def _answer_sent(session: AsyncSession, job: Job, message_id: int) -> None:
    """The answer's messages, and its card redrawn."""
    sent = (message_id, *job.more_ids, *job.sent_files.message_ids)
    await delivery.answer_posted(session, job.tip_id, job.chat_id, sent)


async def _question_sent(note_id: int, session: AsyncSession, job: Job, message_id: int) -> None:
    """The question's message, which the reporter's reply will quote."""
    await delivery.question_delivered(session, note_id, message_id)


async def _withdrawn_sent(session: AsyncSession, job: Job, message_id: int) -> None:
    """The copies taken out of the chat are forgotten."""
    if job.delete_ids:
        await delivery.copies_deleted(session, job.chat_id, job.delete_ids)


# Settling per kind: what is recorded once Telegram confirmed a message.
_PLAIN = Rows()
_CARD = Rows(_card_sent, locks_tip=True)
_ANSWER = Rows(_answer_sent, locks_tip=True)
_WITHDRAWN = Rows(_withdrawn_sent)


@dataclass(frozen=True, slots=True)
class _AnchorSettling:
    """An anchor is recorded by :func:`bot.evidence.anchors.settle` (its row, the anchor,
    the timestamps to ask for), as ``tipbot anchor`` records it."""

    posting: anchors.Posting
    settings: Settings

    async def sent(self, session: AsyncSession, job: Job, message_id: int | None) -> None:
        await anchors.settle(session, self.posting, self.settings, message=job.posted)

    async def postponed(
        self, session: AsyncSession, job: Job, error: str, wait: timedelta | None
    ) -> None:
        await anchors.settle(session, self.posting, self.settings, error=error, delay=wait)


# ---------------------------------------------------------------------------- builders


def _group(services: Services) -> int:
    """The moderators' group: the worker claims cards only once it is set."""
    chat_id = services.settings.moderator_chat_id
    assert chat_id is not None
    return chat_id


async def build_cards(services: Services, session: AsyncSession, row: OutboxMessage) -> Job | None:
    """A new tip's card; while more than ``TIPBOT_SURGE_THRESHOLD`` wait, a digest of up to
    ten tips (a line and an Open button each) instead."""
    waiting = await outbox.waiting_cards(session)
    rows = [row]
    if waiting > services.settings.tipbot_surge_threshold:
        rows += await outbox.claim(session, kinds=[Kind.CARD], limit=DIGEST_SIZE - 1)
    rows, tips = await delivery.live_tips(session, rows)
    if len(tips) > 1:
        return await _digest(services, session, rows, tips, waiting)
    if not tips:
        return None
    return Job(
        rows=rows,
        kind="card",
        chat_id=_group(services),
        screen=cards.card(services, await cards.load_card(session, tips[0])),
        tips=tips,
        place=tips[0],
        settling=_CARD,
    )


async def _digest(
    services: Services,
    session: AsyncSession,
    rows: list[OutboxMessage],
    tips: list[Tip],
    waiting: int,
) -> Job:
    counts = await moderation.file_counts(session, [tip.id for tip in tips])
    return Job(
        rows=rows,
        kind="digest",
        chat_id=_group(services),
        thread_id=services.settings.moderator_thread_id,
        screen=cards.digest(services, [(tip, counts.get(tip.id, 0)) for tip in tips], waiting),
        settling=_PLAIN,
        tips=tips,
    )


async def build_withdrawn(
    services: Services, session: AsyncSession, row: OutboxMessage
) -> Job | None:
    """The reporter withdrew a tip the moderators have seen: its card now says so, and
    the bot's copies of its content in the chat (answers, files shown) are deleted."""
    tip = await delivery.tip_of(session, row)
    chat_id = services.settings.moderator_chat_id
    if tip is None or chat_id is None:
        outbox.cancel(row)
        return None
    where = tip.card_chat_id or chat_id
    # Said in place of a copy Telegram refuses to delete (older than 48 hours where the bot
    # is no admin), and in place of a card never posted.
    note = Screen(cards.mt(services, "mod-withdrawn-note", reference=tip.reference))
    job = Job(
        rows=[row],
        kind="withdrawn",
        chat_id=where,
        tips=[tip],
        delete_ids=await delivery.content_copies(session, tip, where),
        redaction=note,
        screen=note,
        thread_id=services.settings.moderator_thread_id,
        settling=_WITHDRAWN,
    )
    if tip.card_message_id is not None:
        job.screen = cards.card(services, await cards.load_card(session, tip))
        job.edit_message_id, job.thread_id = tip.card_message_id, None
    return job


async def build_question(
    services: Services, session: AsyncSession, row: OutboxMessage
) -> Job | None:
    """A moderator's question, to the reporter (their reply quotes it)."""
    note = await delivery.note_of(session, row)
    to = await delivery.addressee(session, row, services.keyring)
    if note is None or to is None:
        outbox.mark_failed(row, UNREACHABLE)
        return None
    t = services.catalog.t
    text = t(to.language, "question-to-reporter", reference=to.tip.reference, text=note.text or "")
    markup = ForceReply(input_field_placeholder=t(to.language, "question-placeholder")[:64])
    return Job(
        rows=[row],
        kind="question",
        chat_id=to.chat_id,
        screen=Screen(text, markup),  # type: ignore[arg-type]
        tips=[to.tip],
        to_reporter=True,
        settling=Rows(functools.partial(_question_sent, note.id)),
    )


async def build_answer(services: Services, session: AsyncSession, row: OutboxMessage) -> Job | None:
    """The reporter's answers and additions to one tip, as one message (their words) with
    the files as an album in reply to it. Nothing of a banned reporter's is passed on; it
    stays with the tip."""
    tip = await delivery.tip_of(session, row)
    if tip is None:
        outbox.cancel(row)
        return None
    rows = await delivery.gather_answers(session, row, tip, DIGEST_SIZE)
    rows, notes = await delivery.words_within(session, rows, ANSWER_WORDS)
    chat_id = services.settings.moderator_chat_id
    if chat_id is None or not await delivery.passes_on(session, tip, notes):
        outbox.cancel(*rows)
        return None
    return await _answer(services, session, rows, tip, notes, chat_id)


async def _answer(
    services: Services,
    session: AsyncSession,
    rows: list[OutboxMessage],
    tip: Tip,
    notes: list[TipNote],
    chat_id: int,
) -> Job:
    screen, more = _answer_text(services, tip, notes)
    return Job(
        rows=rows,
        kind="answer",
        chat_id=tip.card_chat_id or chat_id,
        screen=screen,
        more=more,
        reply_to=tip.card_message_id,
        tips=[tip],
        files=await delivery.files_to_show(session, notes, rows),
        place=None if tip.card_message_id else tip,
        header_id=outbox.header_of(rows[0]),
        settling=_ANSWER,
    )


def _answer_text(services: Services, tip: Tip, notes: list[TipNote]) -> tuple[Screen, list[Html]]:
    """The reporter's words to the moderators. One answer can fill a message by itself
    (4096 units): then the words go on in more messages, each within the limit, none
    cutting a tag, entity or emoji."""
    key = "mod-answer" if any(note.kind == "answer" for note in notes) else "mod-addition"
    words = "\n\n".join(note.text for note in notes if note.text)
    first, *rest = tgtext.split(cards.mt(services, key, reference=tip.reference, text=words))
    return Screen(Html(first)), [Html(part) for part in rest]


async def build_notice(services: Services, session: AsyncSession, row: OutboxMessage) -> Job | None:
    """The reporter's "your report has been reviewed", if they asked for it."""
    to = await delivery.addressee(session, row, services.keyring)
    if to is None or not to.tip.notify_reviewed:
        outbox.mark_failed(row, UNREACHABLE)
        return None
    text = services.catalog.t(to.language, "reviewed-notice", reference=to.tip.reference)
    return Job(
        rows=[row],
        kind="notice",
        chat_id=to.chat_id,
        screen=Screen(text),
        settling=_PLAIN,
        to_reporter=True,
    )


async def build_redraw(services: Services, session: AsyncSession, row: OutboxMessage) -> Job | None:
    """The tip's card drawn anew where it is (nothing is posted if it is gone)."""
    tip = await delivery.tip_of(session, row)
    if tip is None or tip.card_message_id is None or tip.card_chat_id is None:
        outbox.cancel(row)
        return None
    await delivery.merge_redraws(session, tip, DIGEST_SIZE)
    return Job(
        rows=[row],
        kind="redraw",
        chat_id=tip.card_chat_id,
        screen=cards.card(services, await cards.load_card(session, tip)),
        edit_message_id=tip.card_message_id,
        edit_only=True,
        settling=_PLAIN,
        tips=[tip],
    )


async def build_anchor(services: Services, session: AsyncSession, row: OutboxMessage) -> Job | None:
    """The custody chain's head, to ANCHOR_CHAT_ID (rendered, sent and recorded by
    :mod:`bot.evidence.anchors`, shared with ``tipbot anchor``)."""
    posting = await anchors.prepare(session, row, services.settings, services.catalog)
    if posting is None:
        return None
    return Job(
        rows=[row],
        kind="anchor",
        chat_id=posting.chat_id,
        screen=Screen(posting.text),
        settling=_AnchorSettling(posting, services.settings),
        posting=posting,
    )


async def build_unknown(
    services: Services, session: AsyncSession, row: OutboxMessage
) -> Job | None:
    """A kind this version does not know (queued by a newer one): kept, tried hourly."""
    outbox.postpone(row, error=f"unknown kind {row.kind}", delay=timedelta(hours=1))
    return None


BUILDERS: dict[str, Builder] = {
    Kind.CARD: build_cards,
    Kind.WITHDRAWN: build_withdrawn,
    Kind.QUESTION: build_question,
    Kind.ANSWER: build_answer,
    Kind.NOTICE: build_notice,
    Kind.REDRAW: build_redraw,
    Kind.ANCHOR: build_anchor,
}
