"""The outbox worker: delivers queued messages within Telegram's limits, losing none.

One row (or, in a surge, one digest of up to ten tips) at a time: claimed with a lease in a
short transaction, sent through the rate-limited bot, and marked sent in a second
transaction only once Telegram confirmed it. 429s, 5xx answers, timeouts and network errors
postpone the row with backoff; nothing is ever dropped. While more than
``TIPBOT_SURGE_THRESHOLD`` tips wait, new tips are presented as digest lines (ten to a
message, each with an Open button) instead of full cards. Stopping waits for the message in
flight, so an orderly restart neither loses nor repeats one. Delivery is at least once: a
request that timed out although Telegram did post the message (or a crash between
Telegram's answer and the commit) is sent again — a rare repeat, never a loss. An answer's
words already posted are remembered before its files go, so a retry sends only the files.
Once an answer is in the group its tip's card is redrawn (it no longer waits for the
reporter), as it is when a verdict's minute to undo is over (:data:`moderation.REDRAW`).
Anchors of the custody chain (:mod:`bot.evidence.anchors`) go to ``ANCHOR_CHAT_ID`` the same
way; rendering, sending and recording them is that module's, shared with ``tipbot anchor``.

Texts are measured as Telegram measures them, in UTF-16 units (:mod:`bot.tgtext`): an
answer too long for one message goes in several. A permanent refusal of the message itself
(a 400 other than a missing chat or missing rights) is never retried forever: the message
goes once more in a safe form (no markup, shortened), and if that is refused too, the row is
marked failed (:data:`REFUSED` in its ``last_error``), logged and counted in ``/stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import ForceReply, Message, ReplyParameters
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot import moderation, outbox, tgtext
from bot.evidence import anchors
from bot.i18n import Html
from bot.ratelimit import TelegramRateLimiter
from db.engine import retry_transaction, transaction
from db.models import (
    MEDIA_FAILED,
    OUTBOX_CANCELLED,
    OUTBOX_FAILED,
    TIP_QUARANTINED,
    TIP_WITHDRAWN,
    GroupMessage,
    Media,
    OutboxMessage,
    Reporter,
    Tip,
    TipNote,
)
from handlers.base import Ctx, Screen, Services
from handlers.moderation import cards, topics
from handlers.moderation.media import Sent, send_files

log = logging.getLogger(__name__)

DIGEST_SIZE = 10
# The reporter's words gathered into one message to the group, in UTF-16 units (Telegram
# allows 4096; one answer can be that long by itself: it is then split, see _answer_job).
ANSWER_WORDS = 3600
POLL_SECONDS = 1.0
UNDELIVERABLE = OUTBOX_FAILED
# How a row Telegram refused for good starts its last_error (what /stats counts).
REFUSED = moderation.REFUSED
# Words in a BadRequest that mean the chat or the bot's rights, not the message: an
# operator's fix, so such a row waits rather than fails.
_NOT_THE_MESSAGE = (
    "chat not found",
    "rights",
    "forbidden",
    "not a member",
    "kicked",
    "upgraded",
    "deactivated",
    "thread",
    "topic",
)


@dataclass(slots=True)
class Job:
    """What one step sends: rendered inside the claiming transaction, sent after it."""

    rows: list[OutboxMessage]
    kind: str
    chat_id: int | None = None
    thread_id: int | None = None
    screen: Screen | None = None
    reply_to: int | None = None
    edit_message_id: int | None = None
    tips: list[Tip] = field(default_factory=list)
    files: list[Media] = field(default_factory=list)
    note: TipNote | None = None
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


class OutboxWorker:
    """Drains the outbox in the background of one application."""

    def __init__(self, context_factory: Any, services: Services) -> None:
        self._context_factory = context_factory
        self._services = services
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()
        self.sent = 0

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace: float = 30.0) -> None:
        """Finish the message in flight (waiting up to ``grace`` seconds), then stop."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _prime_rate_limiter(self) -> None:
        """A restarted process does not remember what it sent a moment ago: count the
        group messages of the last window from the outbox, so the group's limit holds."""
        settings = self._services.settings
        limiter = self._context_factory().bot.rate_limiter
        if settings.moderator_chat_id is None or not isinstance(limiter, TelegramRateLimiter):
            return
        window = settings.tipbot_group_window_seconds
        now = outbox.utcnow()
        async with self._services.sessions() as session:
            sent = await outbox.sent_since(session, now - timedelta(seconds=window))
        ago = [(now - moment).total_seconds() for moment in sent]
        limiter.remember_sends(settings.moderator_chat_id, ago)

    async def _run(self) -> None:
        try:
            await self._prime_rate_limiter()
        except Exception:
            log.exception("could not prime the rate limiter")
        while not self._stopping:
            try:
                async with self._busy:
                    worked = await self.step()
            except Exception:
                log.exception("outbox step failed")
                worked = False
            if not worked and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    # ------------------------------------------------------------------------ one step

    async def step(self) -> bool:
        """Claim, send and settle one unit of work; False when nothing was due."""
        services = self._services
        async with transaction(services.sessions) as session:
            job = await self._claim(session)
        if job is None:
            return False
        context: Ctx = self._context_factory()
        while True:
            try:
                if job.place is not None:
                    job.thread_id = await topics.thread_for(context, job.place)
                message_id = await self._send(context, job)
            except RetryAfter as exc:
                await self._settle(job, error="429", delay=_seconds(exc.retry_after))
            except (BadRequest, Forbidden) as exc:
                if _make_safe(job, exc):
                    continue  # once more, in the safe form
                await self._refused(job, exc)
            except (TimedOut, NetworkError) as exc:  # 5xx answers, timeouts, the network
                await self._settle(job, error=type(exc).__name__)
            else:
                await self._settle(job, message_id=message_id)
            return True

    async def _claim(self, session: AsyncSession) -> Job | None:
        services = self._services
        # With no moderators' group yet, cards wait in the queue; the rest goes on.
        no_group = services.settings.moderator_chat_id is None
        kind = await outbox.next_due_kind(session, skip=[outbox.CARD] if no_group else [])
        if kind is None:
            return None
        if kind == outbox.CARD:
            waiting = await outbox.waiting_cards(session)
            surge = waiting > services.settings.tipbot_surge_threshold
            rows = await outbox.claim(
                session, kinds=[outbox.CARD], limit=DIGEST_SIZE if surge else 1
            )
            return await self._card_job(session, rows, surge=surge, waiting=waiting)
        rows = await outbox.claim(session, kinds=[kind], limit=1)
        if not rows:
            return None
        row = rows[0]
        if kind == outbox.WITHDRAWN:
            return await self._withdrawn_job(session, row)
        if kind == outbox.QUESTION:
            return await self._question_job(session, row)
        if kind == outbox.ANSWER:
            return await self._answer_job(session, row)
        if kind == outbox.NOTICE:
            return await self._notice_job(session, row)
        if kind == outbox.ANCHOR:
            return await self._anchor_job(session, row)
        if kind == moderation.REDRAW:
            return await self._redraw_job(session, row)
        outbox.postpone(row, error=f"unknown kind {kind}", delay=timedelta(hours=1))
        return None

    async def _card_job(
        self, session: AsyncSession, rows: list[OutboxMessage], *, surge: bool, waiting: int
    ) -> Job | None:
        services = self._services
        live: list[tuple[OutboxMessage, Tip]] = []
        for row in rows:
            tip = await session.get(Tip, row.tip_id) if row.tip_id else None
            if tip is None or tip.status in (TIP_WITHDRAWN, TIP_QUARANTINED):
                row.status = OUTBOX_CANCELLED  # withdrawn or banned since it was queued
                row.lease_until = None
                continue
            live.append((row, tip))
        if not live:
            return None
        chat_id = services.settings.moderator_chat_id
        if surge and len(live) > 1:
            counts = await moderation.file_counts(session, [tip.id for _, tip in live])
            screen = cards.digest(
                services, [(tip, counts.get(tip.id, 0)) for _, tip in live], waiting
            )
            return Job(
                rows=[row for row, _ in live],
                kind="digest",
                chat_id=chat_id,
                thread_id=services.settings.moderator_thread_id,
                screen=screen,
                tips=[tip for _, tip in live],
            )
        row, tip = live[0]
        data = await cards.load_card(session, tip)
        return Job(
            rows=[row],
            kind="card",
            chat_id=chat_id,
            screen=cards.card(services, data),
            tips=[tip],
            place=tip,
        )

    async def _withdrawn_job(self, session: AsyncSession, row: OutboxMessage) -> Job | None:
        """The reporter withdrew a tip the moderators have seen: its card now says so, and
        the bot's copies of its content in the chat (answers, files shown) are deleted."""
        services = self._services
        tip = await session.get(Tip, row.tip_id) if row.tip_id else None
        chat_id = services.settings.moderator_chat_id
        if tip is None or chat_id is None:
            row.status, row.lease_until = OUTBOX_CANCELLED, None
            return None
        copies = await session.execute(
            select(GroupMessage.message_id).where(
                GroupMessage.tip_id == tip.id,
                GroupMessage.chat_id == (tip.card_chat_id or chat_id),
                GroupMessage.kind.in_(moderation.CONTENT_COPIES),
                GroupMessage.message_id != (tip.card_message_id or 0),
            )
        )
        job = Job(
            rows=[row],
            kind="withdrawn",
            chat_id=tip.card_chat_id or chat_id,
            tips=[tip],
            delete_ids=[message_id for (message_id,) in copies],
            # Said in place of a copy Telegram refuses to delete (older than 48 hours
            # where the bot is no admin).
            redaction=Screen(cards.mt(services, "mod-withdrawn-note", reference=tip.reference)),
        )
        if tip.card_message_id is not None:
            job.screen = cards.card(services, await cards.load_card(session, tip))
            job.edit_message_id = tip.card_message_id
        else:
            job.screen = Screen(cards.mt(services, "mod-withdrawn-note", reference=tip.reference))
            job.thread_id = services.settings.moderator_thread_id
        return job

    async def _reporter_chat(
        self, session: AsyncSession, row: OutboxMessage
    ) -> tuple[Tip | None, Reporter | None, int | None]:
        """The row's tip, its reporter and their chat (None where any is gone)."""
        tip = await session.get(Tip, row.tip_id) if row.tip_id else None
        reporter = await session.get(Reporter, tip.reporter_id) if tip else None
        chat_id = (
            self._services.keyring.decrypt_chat_id(reporter.chat_id_enc)
            if reporter and reporter.chat_id_enc
            else None
        )
        return tip, reporter, chat_id

    async def _question_job(self, session: AsyncSession, row: OutboxMessage) -> Job | None:
        services = self._services
        note = await session.get(TipNote, int(row.payload.get("note", 0)))
        tip, reporter, chat_id = await self._reporter_chat(session, row)
        if note is None or tip is None or reporter is None or chat_id is None:
            row.status, row.last_error, row.lease_until = UNDELIVERABLE, "unreachable", None
            return None
        text = services.catalog.t(
            reporter.language, "question-to-reporter", reference=tip.reference, text=note.text or ""
        )
        placeholder = services.catalog.t(reporter.language, "question-placeholder")
        markup = ForceReply(input_field_placeholder=placeholder[:64])
        return Job(
            rows=[row],
            kind="question",
            chat_id=chat_id,
            screen=Screen(text, markup),  # type: ignore[arg-type]
            tips=[tip],
            note=note,
            to_reporter=True,
        )

    async def _answer_job(self, session: AsyncSession, row: OutboxMessage) -> Job | None:
        """The reporter's answers and additions to one tip, as one message (their words)
        with the files as an album in reply to it. Nothing of a banned reporter's is
        passed on; it stays with the tip."""
        services = self._services
        tip = await session.get(Tip, row.tip_id) if row.tip_id else None
        chat_id = services.settings.moderator_chat_id
        rows = [row]
        header = row.payload.get("header")
        if tip is not None:
            more = await outbox.claim(
                session, kinds=[outbox.ANSWER], limit=DIGEST_SIZE - 1, tip_id=tip.id
            )
            # A retry whose words are already posted takes only the rows those words were
            # of; anything that came since goes in a message of its own.
            for each in more:
                if each.payload.get("header") == header:
                    rows.append(each)
                else:
                    outbox.release(each)
        live: list[TipNote] = []
        taken: list[OutboxMessage] = []
        length = 0
        for index, each in enumerate(rows):
            note = await session.get(TipNote, int(each.payload.get("note", 0)))
            size = tgtext.utf16_len(note.text or "") if note is not None else 0
            if taken and length + size > ANSWER_WORDS:
                for later in rows[index:]:  # too much for one message: the rest, in order,
                    outbox.release(later)  # goes in the next one
                break
            taken.append(each)
            length += size
            if note is not None:
                live.append(note)
        rows = taken
        if (
            tip is None
            or chat_id is None
            or not live
            or tip.status in (TIP_WITHDRAWN, TIP_QUARANTINED)
            or await moderation.is_banned(session, tip)
        ):
            for each in rows:
                each.status, each.lease_until = OUTBOX_CANCELLED, None
            return None
        kind = "answer" if any(note.kind == "answer" for note in live) else "addition"
        words = "\n\n".join(note.text for note in live if note.text)
        key = "mod-answer" if kind == "answer" else "mod-addition"
        shown = {int(media_id) for each in rows for media_id in each.payload.get("files", [])}
        files: list[Media] = []
        for note in live:
            media = await session.get(Media, note.media_id) if note.media_id else None
            if media is not None and media.status != MEDIA_FAILED and media.id not in shown:
                files.append(media)
        # One answer can fill a message by itself (4096 units): then the words go on in
        # more messages, each within the limit, none cutting a tag, entity or emoji.
        first, *rest = tgtext.split(cards.mt(services, key, reference=tip.reference, text=words))
        return Job(
            rows=rows,
            kind="answer",
            chat_id=tip.card_chat_id or chat_id,
            screen=Screen(Html(first)),
            more=[Html(part) for part in rest],
            reply_to=tip.card_message_id,
            tips=[tip],
            files=files,
            note=live[0],
            place=None if tip.card_message_id else tip,
            header_id=int(header) if header else None,
        )

    async def _notice_job(self, session: AsyncSession, row: OutboxMessage) -> Job | None:
        services = self._services
        tip, reporter, chat_id = await self._reporter_chat(session, row)
        if tip is None or reporter is None or chat_id is None or not tip.notify_reviewed:
            row.status, row.last_error, row.lease_until = UNDELIVERABLE, "unreachable", None
            return None
        text = services.catalog.t(reporter.language, "reviewed-notice", reference=tip.reference)
        return Job(
            rows=[row], kind="notice", chat_id=chat_id, screen=Screen(text), to_reporter=True
        )

    async def _redraw_job(self, session: AsyncSession, row: OutboxMessage) -> Job | None:
        """The tip's card drawn anew where it is (nothing is posted if it is gone)."""
        tip = await session.get(Tip, row.tip_id) if row.tip_id else None
        if tip is None or tip.card_message_id is None or tip.card_chat_id is None:
            row.status, row.lease_until = OUTBOX_CANCELLED, None
            return None
        # Several redraws of one tip due together: one edit shows them all.
        for later in await outbox.claim(
            session, kinds=[moderation.REDRAW], limit=DIGEST_SIZE, tip_id=tip.id
        ):
            later.status, later.lease_until = OUTBOX_CANCELLED, None
        return Job(
            rows=[row],
            kind="redraw",
            chat_id=tip.card_chat_id,
            screen=cards.card(self._services, await cards.load_card(session, tip)),
            edit_message_id=tip.card_message_id,
            tips=[tip],
        )

    async def _anchor_job(self, session: AsyncSession, row: OutboxMessage) -> Job | None:
        services = self._services
        posting = await anchors.prepare(session, row, services.settings, services.catalog)
        if posting is None:
            return None
        return Job(rows=[row], kind="anchor", chat_id=posting.chat_id, posting=posting)

    # ------------------------------------------------------------------------ sending

    async def _send(self, context: Ctx, job: Job) -> int | None:
        if job.posting is not None:
            job.posted = await anchors.send(context.bot, job.posting)
            return job.posted.message_id
        assert job.chat_id is not None
        assert job.screen is not None
        bot = context.bot
        if not tgtext.fits(job.screen.text):  # the last guard: rendering should see to it
            job.screen = Screen(Html(tgtext.shorten(job.screen.text)), job.screen.markup)
        if job.delete_ids:
            kept = await _delete_each(context, job.chat_id, job.delete_ids)
            if kept and job.redaction is not None:
                await _redact(context, job.chat_id, kept, job.redaction)
        if job.edit_message_id is not None:
            try:
                edited = await bot.edit_message_text(
                    job.screen.text,
                    chat_id=job.chat_id,
                    message_id=job.edit_message_id,
                    reply_markup=job.screen.markup,  # type: ignore[arg-type]
                )
                return edited.message_id if isinstance(edited, Message) else job.edit_message_id
            except BadRequest as exc:
                problem = str(exc).lower()
                if "not modified" in problem:
                    return job.edit_message_id
                if "not found" not in problem and "can't be edited" not in problem:
                    raise
                if job.kind == "redraw":
                    return None  # the card was deleted: /tip posts it anew when needed
                # The card was deleted (or is too old to edit): say it in a new message.
        message_id = job.header_id
        if message_id is None:
            reply = (
                ReplyParameters(message_id=job.reply_to, allow_sending_without_reply=True)
                if job.reply_to
                else None
            )
            message = await bot.send_message(
                job.chat_id,
                job.screen.text,
                reply_markup=job.screen.markup,
                reply_parameters=reply,
                message_thread_id=job.thread_id,
            )
            message_id = message.message_id
            job.more_ids = []
            for part in job.more:
                more = await bot.send_message(
                    job.chat_id,
                    part,
                    reply_parameters=ReplyParameters(
                        message_id=message_id, allow_sending_without_reply=True
                    ),
                    message_thread_id=job.thread_id,
                )
                job.more_ids.append(more.message_id)
            if job.files:
                await self._header_sent(job, message_id)
        if job.files:
            await send_files(
                context,
                job.chat_id,
                job.files,
                reply_to=message_id,
                thread_id=job.thread_id,
                into=job.sent_files,
            )
        return message_id

    async def _header_sent(self, job: Job, message_id: int) -> None:
        """Remember that an answer's words are in the chat, so that if its files fail the
        retry does not post the words twice (and a withdrawal can take them back out)."""
        job.header_id = message_id
        assert job.chat_id is not None
        async with transaction(self._services.sessions) as session:
            for row in job.rows:
                fresh = await session.get(OutboxMessage, row.id)
                if fresh is not None:
                    fresh.payload = {**fresh.payload, "header": message_id}
            for sent in (message_id, *job.more_ids):
                await moderation.remember_group_message(
                    session, job.chat_id, sent, job.tips[0].id, "answer"
                )

    async def _files_half_sent(self, session: AsyncSession, job: Job) -> None:
        """Some of an answer's files went before a failure: remember them as in the chat,
        and leave them out of the retry."""
        assert job.chat_id is not None
        for message_id in job.sent_files.message_ids:
            await moderation.remember_group_message(
                session, job.chat_id, message_id, job.tips[0].id, "answer"
            )
        for row in job.rows:
            fresh = await session.get(OutboxMessage, row.id)
            if fresh is not None:
                done = [*fresh.payload.get("files", []), *job.sent_files.media_ids]
                fresh.payload = {**fresh.payload, "files": done}

    async def _settle(
        self,
        job: Job,
        *,
        message_id: int | None = None,
        error: str | None = None,
        delay: float | None = None,
    ) -> None:
        """:meth:`_settle_once`, again after a deadlock: a send Telegram confirmed must be
        marked sent, or the row is sent again when its lease runs out."""
        await retry_transaction(
            lambda: self._settle_once(job, message_id=message_id, error=error, delay=delay)
        )

    async def _settle_once(
        self,
        job: Job,
        *,
        message_id: int | None = None,
        error: str | None = None,
        delay: float | None = None,
    ) -> None:
        """Mark the rows sent (and remember where the card is), or postpone them."""
        if job.posting is not None:
            async with transaction(self._services.sessions) as session:
                await anchors.settle(
                    session,
                    job.posting,
                    self._services.settings,
                    message=job.posted if error is None else None,
                    error=error,
                    delay=timedelta(seconds=delay) if delay else None,
                )
            if error is None:
                self.sent += 1
            return
        async with transaction(self._services.sessions) as session:
            if error is None and job.kind in ("card", "answer"):
                # Tip before outbox row, the order a withdrawal takes them in (PostgreSQL
                # would otherwise deadlock the two when a card lands as the tip is withdrawn).
                await moderation.tip_for_update(session, job.tips[0].id)
            for row in job.rows:
                fresh = await session.get(OutboxMessage, row.id)
                if fresh is None:
                    continue
                if error is None:
                    outbox.mark_sent(fresh, message_id)
                else:
                    outbox.postpone(
                        fresh, error=error, delay=timedelta(seconds=delay) if delay else None
                    )
            if error is not None and job.sent_files.message_ids:
                await self._files_half_sent(session, job)
            if error is not None or message_id is None:
                return
            self.sent += 1
            if job.delete_ids and job.chat_id is not None:
                await session.execute(
                    delete(GroupMessage).where(
                        GroupMessage.chat_id == job.chat_id,
                        GroupMessage.message_id.in_(job.delete_ids),
                    )
                )
            if job.kind == "card" and job.chat_id is not None:
                tip = await session.get(Tip, job.tips[0].id)
                if tip is not None:
                    tip.card_chat_id, tip.card_message_id = job.chat_id, message_id
                    await moderation.remember_group_message(
                        session, job.chat_id, message_id, tip.id, "card"
                    )
            elif job.kind == "answer" and job.chat_id is not None:
                for sent in (message_id, *job.more_ids, *job.sent_files.message_ids):
                    await moderation.remember_group_message(
                        session, job.chat_id, sent, job.tips[0].id, "answer"
                    )
                # The card still says it waits for the reporter, and counts fewer files.
                await outbox.enqueue(session, moderation.REDRAW, tip_id=job.tips[0].id)
            elif job.kind == "question" and job.note is not None:
                note = await session.get(TipNote, job.note.id)
                if note is not None:
                    note.reporter_message_id = message_id

    async def _refused(self, job: Job, exc: TelegramError) -> None:
        """Telegram refused the message itself (400, 403)."""
        if job.posting is not None:
            # The anchor chat is missing or closed to the bot: kept until an operator fixes
            # ANCHOR_CHAT_ID or the bot's rights (settle logs it each time).
            await self._settle(job, error=type(exc).__name__, delay=60.0)
            return
        if isinstance(exc, BadRequest) and _about_the_message(exc):
            await self._failed(job, exc)
            return
        if job.to_reporter:
            # The reporter blocked the bot or deleted the chat: nothing more can be done.
            async with transaction(self._services.sessions) as session:
                for row in job.rows:
                    fresh = await session.get(OutboxMessage, row.id)
                    if fresh is not None:
                        fresh.status, fresh.lease_until = UNDELIVERABLE, None
                        fresh.last_error = type(exc).__name__
            log.info("message to a reporter refused (%s)", type(exc).__name__)
            return
        if (
            isinstance(exc, BadRequest)
            and job.thread_id is not None
            and topics.is_missing_thread(exc)
            and await topics.forget(self._context_factory(), job.thread_id)
        ):
            await self._settle(job, error="topic deleted", delay=1.0)  # a new topic next time
            return
        # The group itself refused: a configuration problem an operator must fix. Keep it.
        log.error("the moderators' group refused a message (%s)", type(exc).__name__)
        await self._settle(job, error=type(exc).__name__, delay=60.0)

    async def _failed(self, job: Job, exc: BadRequest) -> None:
        """Telegram refused the message itself, in its safe form too: never retried, one
        log line (Telegram's reason, no words of the message), counted in /stats."""
        async with transaction(self._services.sessions) as session:
            for row in job.rows:
                fresh = await session.get(OutboxMessage, row.id)
                if fresh is not None:
                    fresh.status, fresh.lease_until = OUTBOX_FAILED, None
                    fresh.last_error = f"{REFUSED}{exc.message}"[:200]
            if job.sent_files.message_ids:
                await self._files_half_sent(session, job)
        log.error(
            "Telegram refused a %s message for good (%s); %d outbox row(s) marked failed",
            job.kind,
            type(exc).__name__,
            len(job.rows),
        )


async def _delete_each(context: Ctx, chat_id: int, message_ids: list[int]) -> list[int]:
    """Delete the bot's copies one by one (a batch would skip refusals without a word);
    return the ids Telegram refused to delete (too old, or not an admin's to delete)."""
    kept: list[int] = []
    for index, message_id in enumerate(message_ids):
        try:
            await context.bot.delete_message(chat_id, message_id)
        except BadRequest as exc:
            if "not found" not in str(exc).lower():
                kept.append(message_id)
        except Forbidden:
            return kept + message_ids[index:]
    if kept:
        log.info("%d copies could not be deleted; overwriting them", len(kept))
    return kept


async def _redact(context: Ctx, chat_id: int, message_ids: list[int], screen: Screen) -> None:
    """Overwrite copies that could not be deleted: a text's words, a file's caption."""
    for message_id in message_ids:
        try:
            await context.bot.edit_message_text(screen.text, chat_id=chat_id, message_id=message_id)
        except BadRequest as exc:
            if "no text" not in str(exc).lower():
                continue  # gone, or said already: nothing left to redact
            with contextlib.suppress(BadRequest):
                await context.bot.edit_message_caption(
                    chat_id=chat_id,
                    message_id=message_id,
                    caption=tgtext.shorten(screen.text, tgtext.CAPTION),
                )
        except Forbidden:
            return


def _about_the_message(exc: TelegramError) -> bool:
    """A 400 about the message itself (its length, markup, entities), which no retry of
    the same message will change; not one about the chat or the bot's rights."""
    if not isinstance(exc, BadRequest):
        return False
    problem = exc.message.lower()
    return "not modified" not in problem and not any(w in problem for w in _NOT_THE_MESSAGE)


def _make_safe(job: Job, exc: TelegramError) -> bool:
    """Re-render a refused job once in its safe form (plain words, shortened); False when
    that is not the remedy (not the message's fault, already safe, or nothing to render)."""
    if job.safe or job.screen is None or job.posting is not None:
        return False
    if not _about_the_message(exc):
        return False
    job.safe = True
    job.screen = Screen(Html(tgtext.safe(job.screen.text)), job.screen.markup)
    job.more = [Html(tgtext.safe(part)) for part in job.more]
    log.warning("Telegram refused a %s message; sending it once more in plain form", job.kind)
    return True


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
