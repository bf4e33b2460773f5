"""Evidence files: received at any step of a draft, hashed on receipt, acknowledged per burst.

A file is described from its message (kind, ids, declared name and type, size, album,
forward origin), downloaded through :class:`bot.media.FileDownloader` unless it is over the
Bot API server's limit (then it is recorded as ``too_large`` and the reporter is told), and
recorded with a custody entry. Albums arrive as separate updates with no end marker, so the
reporter gets one acknowledgement once their chat has been quiet for a moment
(:class:`BurstAcks`), not one per file. An acknowledgement comes with the current step's
title and buttons; once that step is over, it keeps only its receipt, so no screen of a
finished step is left live below the report (a press can overtake a late acknowledgement).

Nothing is stored before a person agrees to the privacy terms: a file sent before that is
not downloaded, and they are told, once per album, to send it again after agreeing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    File,
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.error import BadRequest, NetworkError, TimedOut

from bot import intake, moderation, outbox
from bot.duplicates import perceptual_hash
from bot.i18n import Html
from bot.media import DownloadError, StagedFile, StorageError, TooLargeError
from bot.metadata import extract_metadata
from bot.processor import ChatOrderedProcessor
from bot.text import clean_optional
from db.engine import transaction
from db.models import MEDIA_FAILED, MEDIA_STORED, MEDIA_TOO_LARGE, Tip, TipNote
from handlers import relay, render
from handlers.base import Ctx, Screen, Services, send
from handlers.intake import daily_limit_reply
from handlers.replies import Reply, Retired, retire_messages
from handlers.state import State, respond

log = logging.getLogger(__name__)

_MB = 1024 * 1024
# How long a relayed file waits for the rest of its album before it is passed on anyway.
RELAY_HOLD = timedelta(minutes=1)


def is_media(message: Message) -> bool:
    return bool(message.photo) or any(
        getattr(message, kind) is not None
        for kind in ("video", "document", "voice", "audio", "video_note", "animation")
    )


def _seconds(value: int | timedelta | None) -> int | None:
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return value


def forward_origin(message: Message) -> dict[str, Any] | None:
    """Where a forwarded file came from. A private person's identity is not kept."""
    origin = message.forward_origin
    if origin is None:
        return None
    data: dict[str, Any] = {"type": origin.type, "date": origin.date.isoformat()}
    if isinstance(origin, MessageOriginChannel):
        data.update(
            chat_id=origin.chat.id,
            title=clean_optional(origin.chat.title),
            username=origin.chat.username,
            message_id=origin.message_id,
        )
    elif isinstance(origin, MessageOriginChat):
        data.update(
            chat_id=origin.sender_chat.id,
            title=clean_optional(origin.sender_chat.title),
            username=origin.sender_chat.username,
        )
    elif isinstance(origin, MessageOriginUser | MessageOriginHiddenUser):
        pass  # a third person: only the fact and the date
    return data


# Message attributes holding a file, in the order to look at them (an animation also sets
# ``document``, so it comes first).
_FILE_KINDS = ("animation", "video", "video_note", "voice", "audio", "document")


def describe(message: Message, received_at: datetime) -> intake.NewMedia | None:
    """What the message says about its file, before anything is downloaded."""
    common: dict[str, Any] = {
        "media_group_id": message.media_group_id,
        "telegram_date": message.date,
        "received_at": received_at,
        "caption": clean_optional(message.caption),
        "forward_origin": forward_origin(message),
    }
    if message.photo:
        # Telegram sends several sizes of a photo; the largest is the one worth keeping.
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return intake.NewMedia(
            kind="photo",
            file_id=largest.file_id,
            file_unique_id=largest.file_unique_id,
            file_name=None,
            declared_mime="image/jpeg",
            size=largest.file_size,
            recompressed=True,
            width=largest.width,
            height=largest.height,
            **common,
        )
    for kind in _FILE_KINDS:
        item = getattr(message, kind)
        if item is None:
            continue
        side = getattr(item, "length", None)  # video notes are square
        return intake.NewMedia(
            kind=kind,
            file_id=item.file_id,
            file_unique_id=item.file_unique_id,
            file_name=clean_optional(getattr(item, "file_name", None)),
            declared_mime=getattr(item, "mime_type", None) or ("video/mp4" if side else None),
            size=item.file_size,
            recompressed=False,
            width=getattr(item, "width", side),
            height=getattr(item, "height", side),
            duration=_seconds(getattr(item, "duration", None)),
            **common,
        )
    return None


# ---------------------------------------------------------------------------- bursts


@dataclass(slots=True)
class Burst:
    """What arrived in one chat since the last acknowledgement."""

    lang: str
    stored: int = 0
    # Voice messages: testimony (they join the description), not counted among the files.
    voices: int = 0
    too_large: list[tuple[str, int | None]] = field(default_factory=list)
    failed: int = 0
    # Files the media folder refused (disk full, I/O error): to be sent again later.
    storage_failed: int = 0
    # Files past the report's limit (``refused_limit``: the limit that applied).
    refused: int = 0
    refused_limit: int | None = None
    compressed: bool = False
    new_report: bool = False
    # Files that answered a question or were added to a report: (tip id, kind).
    relay: tuple[int, str] | None = None

    @property
    def empty(self) -> bool:
        """Nothing to tell the reporter about."""
        return not (
            self.stored
            or self.voices
            or self.too_large
            or self.failed
            or self.storage_failed
            or self.refused
            or self.new_report
            or self.relay
        )


@dataclass(frozen=True, slots=True)
class ShownStep:
    """An acknowledgement sent with a step's buttons under it: the message, the report and
    step it showed, and its receipt (what the message keeps once the step is over)."""

    message_id: int
    tip_id: int
    step: str
    receipt: str


class BurstAcks:
    """One acknowledgement per album or burst, once the chat has been quiet for ``delay``.

    Wired to the update processor: a new update of the chat postpones the acknowledgement,
    the end of one (re)arms it, and the acknowledgement itself is sent in the chat's turn, so
    it never overtakes the reporter's next step. Handlers that answer a burst themselves
    (the Done button) :meth:`take` it.

    The reporter's press can still overtake an acknowledgement on its way (their thumb was on
    the screen above the files), so the last acknowledgement sent with a step's buttons is
    remembered (:meth:`show`) and handed back to be retired (:meth:`retire`) once the report
    has moved on. Like the pending bursts this lives in memory: a restart loses only that.
    """

    # How many chats' last acknowledgement (and, before consent, last album) are remembered;
    # the oldest are forgotten first: a report left unfinished must not hold memory forever.
    _CHATS_REMEMBERED = 10_000

    def __init__(
        self,
        services: Services,
        processor: ChatOrderedProcessor,
        deliver: Callable[[int, Burst], Awaitable[None]],
        *,
        delay: float,
    ) -> None:
        self._services = services
        self._processor = processor
        self._deliver = deliver
        self._delay = delay
        self._pending: dict[int, Burst] = {}
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._sleeping: set[int] = set()
        self._shown: OrderedDict[int, ShownStep] = OrderedDict()
        self._albums: OrderedDict[int, str] = OrderedDict()
        processor.chat_started.append(self._postpone)
        processor.chat_finished.append(self._arm_if_pending)

    def burst(self, chat_id: int, lang: str) -> Burst:
        burst = self._pending.setdefault(chat_id, Burst(lang))
        burst.lang = lang
        return burst

    def take(self, chat_id: int) -> Burst | None:
        self._postpone(chat_id)
        return self._pending.pop(chat_id, None)

    def show(self, chat_id: int, shown: ShownStep) -> Retired | None:
        """Remember the acknowledgement just sent with a step's buttons; the one before it
        (if any) is handed back to be retired: only the latest keeps live buttons."""
        previous = self._shown.get(chat_id)
        _remember(self._shown, chat_id, shown, self._CHATS_REMEMBERED)
        if previous is None or previous.message_id == shown.message_id:
            return None
        return _retired(previous)

    def retire(self, chat_id: int, tip: Tip | None, *, pressed: int | None) -> list[Retired]:
        """The acknowledgement to retire now that the reporter's ``tip`` (their open report
        after this update, or None) is no longer at the step it showed. The message the
        reporter pressed is being redrawn anyway: it is only forgotten."""
        shown = self._shown.get(chat_id)
        if shown is None:
            return []
        if tip is not None and tip.id == shown.tip_id and tip.step == shown.step:
            return []
        del self._shown[chat_id]
        return [] if shown.message_id == pressed else [_retired(shown)]

    def first_of_album(self, chat_id: int, media_group_id: str | None) -> bool:
        """Whether a file (sent before consent) is the first of its album seen in this chat;
        a file outside an album always is."""
        if media_group_id is None:
            return True
        if self._albums.get(chat_id) == media_group_id:
            return False
        _remember(self._albums, chat_id, media_group_id, self._CHATS_REMEMBERED)
        return True

    def settled(self, chat_id: int) -> bool:
        """Whether nothing of this chat is in flight: no update being handled, no
        acknowledgement waiting for its quiet moment or being sent."""
        return (
            chat_id not in self._pending
            and chat_id not in self._timers
            and not self._processor.chat_busy(chat_id)
        )

    def _postpone(self, chat_id: Hashable) -> None:
        if chat_id in self._sleeping:
            timer = self._timers.pop(chat_id, None)
            self._sleeping.discard(chat_id)
            if timer is not None:
                timer.cancel()

    def _arm_if_pending(self, chat_id: Hashable) -> None:
        if isinstance(chat_id, int) and chat_id in self._pending and chat_id not in self._timers:
            self._sleeping.add(chat_id)
            self._timers[chat_id] = asyncio.get_running_loop().create_task(self._fire(chat_id))

    async def _fire(self, chat_id: int) -> None:
        try:
            await asyncio.sleep(self._delay)
            self._sleeping.discard(chat_id)
            await self._processor.run_in_chat(chat_id, self._flush(chat_id))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("acknowledgement failed")
        finally:
            if self._timers.get(chat_id) is asyncio.current_task():
                self._timers.pop(chat_id, None)

    async def _flush(self, chat_id: int) -> None:
        self._timers.pop(chat_id, None)
        burst = self._pending.pop(chat_id, None)
        if burst is not None:
            await self._deliver(chat_id, burst)

    async def close(self) -> None:
        timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
        for timer in timers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await timer

    async def receipt(self, session: AsyncSession, burst: Burst) -> Screen | None:
        """For files of the burst that answered a question or were added to a report: their
        receipt, and they go to the moderators now rather than at the end of their wait."""
        if burst.relay is None:
            return None
        tip_id, kind = burst.relay
        await outbox.hurry(session, kind=outbox.ANSWER, tip_id=tip_id)
        relayed = await session.get(Tip, tip_id)
        if relayed is None:
            return None

        def t(key: str, **args: object) -> Html:
            return self._services.catalog.t(burst.lang, key, **args)

        return relay.thanks(t, relayed, kind)

    async def answer_text(self, session: AsyncSession, tip: Tip | None, burst: Burst) -> str:
        """A taken burst told in a handler's own answer: the receipt of files that answered
        a question (if any) over the acknowledgement's lines."""
        text = await self.describe(session, tip, burst)
        receipt = await self.receipt(session, burst)
        if receipt is None:
            return text
        return receipt.text + (f"\n\n{text}" if text else "")

    async def describe(self, session: AsyncSession, tip: Tip | None, burst: Burst) -> str:
        """The acknowledgement's lines (and, once per report, how to send originals)."""
        t = self._services.catalog.t
        lang = burst.lang
        lines: list[str] = []
        if burst.new_report:
            lines.append(t(lang, "evidence-new-report"))
        if burst.stored:
            total = burst.stored
            if tip is not None:
                total = intake.file_count(await intake.media_counts(session, tip.id))
            lines.append(t(lang, "evidence-received", count=burst.stored, total=total))
        if burst.voices:
            lines.append(t(lang, "evidence-voices", count=burst.voices))
        limit_mb = self._services.settings.download_limit_bytes // _MB
        for name, size in burst.too_large:
            size_mb = str(round(size / _MB)) if size else "?"
            lines.append(t(lang, "evidence-too-large", name=name, size=size_mb, limit=limit_mb))
        if burst.failed:
            lines.append(t(lang, "evidence-failed", count=burst.failed))
        if burst.storage_failed:
            lines.append(t(lang, "evidence-storage-failed", count=burst.storage_failed))
        if burst.refused:
            limit = burst.refused_limit or self._services.settings.tipbot_max_files_per_report
            lines.append(t(lang, "evidence-limit", count=burst.refused, max=limit))
        if burst.compressed and tip is not None and not tip.originals_hint_sent:
            tip.originals_hint_sent = True
            lines.append(t(lang, "evidence-originals-hint"))
        return "\n".join(lines)


async def send_burst_ack(context: Ctx, chat_id: int, burst: Burst) -> None:
    """Deliver a burst's acknowledgement with the reporter's current step under it, brief:
    its title and buttons (or, for files answering a question or added to a report, the
    receipt for those). The step's buttons then live on this message alone: the previous
    acknowledgement keeps only its receipt."""
    if burst.empty:
        return
    services = context.services
    acks: BurstAcks = services.acks
    screens: list[Screen] = []
    step: tuple[int, str, str] | None = None
    async with transaction(services.sessions) as session:
        keyring = services.keyring
        _, tip = await intake.find_reporter_and_draft(
            session, keyring.pseudonym(chat_id), keyring.legacy_pseudonym(chat_id)
        )
        text = await acks.describe(session, tip, burst)
        receipt = await acks.receipt(session, burst)
        if receipt is not None:
            screens.append(receipt.with_prefix(text))
            text = ""
        draft_files = burst.stored or burst.voices or burst.new_report
        if tip is not None and tip.step is not None and (text or draft_files):
            counts = await intake.media_counts(session, tip.id)
            brief = render.step_screen(services, burst.lang, tip, counts, brief=True)
            screens.append(brief.with_prefix(text))
            step = (tip.id, tip.step, text)
        elif text:
            screens.append(Screen(Html(text)))
    sent = None
    for screen in screens:
        sent = await send(context, chat_id, screen)
    if step is not None and sent is not None:
        previous = acks.show(chat_id, ShownStep(sent.message_id, *step))
        if previous is not None:
            await retire_messages(context, chat_id, [previous])


_T = TypeVar("_T")


def _remember(memory: OrderedDict[int, _T], chat_id: int, value: _T, limit: int) -> None:
    memory[chat_id] = value
    memory.move_to_end(chat_id)
    while len(memory) > limit:
        memory.popitem(last=False)


def _retired(shown: ShownStep) -> Retired:
    return Retired(shown.message_id, Html(shown.receipt) if shown.receipt else None)


# ---------------------------------------------------------------------------- receiving


async def _get_file(context: Ctx, file_id: str, attempts: int = 3) -> File:
    """``getFile`` with retries on network errors and 5xx answers (429s are the rate
    limiter's job); a 4xx refusal is final."""
    for attempt in range(attempts):
        try:
            return await context.bot.get_file(file_id)
        except BadRequest:
            raise
        except (TimedOut, NetworkError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5 * 3**attempt)
    raise AssertionError("unreachable")


async def _fetch(context: Ctx, new: intake.NewMedia) -> StagedFile | None:
    """Download ``new`` into staging, or mark it too large / failed (never raise)."""
    services = context.services
    limit = services.settings.download_limit_bytes
    if new.size is not None and new.size > limit:
        new.status = MEDIA_TOO_LARGE
        return None
    try:
        telegram_file = await _get_file(context, new.file_id)
        if not telegram_file.file_path:
            raise DownloadError("no_path")
        if telegram_file.file_size is not None and telegram_file.file_size > limit:
            new.status = MEDIA_TOO_LARGE
            return None
        staged = await services.downloader.fetch(telegram_file.file_path, max_bytes=limit)
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            new.status = MEDIA_TOO_LARGE
        else:
            new.status, new.failure_reason = MEDIA_FAILED, "get_file_refused"
        return None
    except TooLargeError:
        new.status = MEDIA_TOO_LARGE
        return None
    except DownloadError as exc:
        new.status, new.failure_reason = MEDIA_FAILED, exc.reason
        return None
    except (TimedOut, NetworkError):
        new.status, new.failure_reason = MEDIA_FAILED, "network"
        return None
    except StorageError as exc:
        _storage_failed(new, exc)
        return None
    new.status = MEDIA_STORED
    new.metadata = await asyncio.to_thread(extract_metadata, staged.tmp_path, staged.detected_mime)
    if staged.detected_mime.startswith("image/"):
        new.phash = await asyncio.to_thread(perceptual_hash, staged.tmp_path)
    return staged


def _storage_failed(new: intake.NewMedia, exc: StorageError) -> None:
    """The media folder refused the file: recorded as failed ("storage"), the reporter is
    asked to send it again later, the operators get one line saying what to do."""
    exc.log()
    new.status, new.failure_reason = MEDIA_FAILED, "storage"


def _file_original(
    state: State, new: intake.NewMedia, staged: StagedFile | None
) -> StagedFile | None:
    """Put a downloaded original in its place before its row is written, so a disk that
    refuses it fails this file alone (recorded as failed), not the whole transaction.
    :func:`bot.intake.add_media` files it again under the content's lock (a no-op unless
    an erasure removed it in between)."""
    if staged is None:
        return None
    try:
        state.services.store.commit(staged)
    except StorageError as exc:
        _storage_failed(new, exc)
        return None
    return staged


@dataclass(slots=True)
class Admission:
    """Where an admitted file goes: the draft (at its step), or a relay (answer, addition)."""

    tip_id: int
    step: str | None
    relay_kind: str | None = None
    question_id: int | None = None


async def receive(update: Update, context: Ctx) -> None:
    """Store one file a reporter sent, with its custody entry, and acknowledge it.

    Two short transactions around the download: the first admits the file (consent, the
    daily and per-report limits; a file sent outside a report opens one; an answer to a
    moderator's question goes to its report), the second records it; the download in
    between holds no transaction.
    """
    services = context.services
    message = update.message
    new = describe(message, intake.utcnow()) if message is not None else None
    if message is None or new is None:
        return
    admitted: list[Admission] = []

    async def admit(session: AsyncSession, state: State) -> Reply:
        if not state.consented or state.reporter is None:
            return _before_consent(state, message)
        limit = services.settings.tipbot_max_files_per_report
        target = await relay.relay_target(session, state, message)
        if target is not None:
            # Answers and additions may hold as many files again as a report. Those past
            # it are counted in the burst: one line says exactly how many were not taken.
            if await intake.count_media(session, target.tip.id) >= 2 * limit:
                refused = services.acks.burst(state.person.chat_id, state.lang)
                refused.refused += 1
                refused.refused_limit = 2 * limit
                return Reply()
            question = target.question.id if target.question else None
            admitted.append(Admission(target.tip.id, None, target.kind, question))
            return Reply()
        acks: BurstAcks = services.acks
        if state.draft is None:
            refusal = await daily_limit_reply(session, state)
            if refusal is not None:
                return refusal
            state.draft = await intake.create_draft(session, state.reporter, state.lang)
            acks.burst(state.person.chat_id, state.lang).new_report = True
        if await intake.count_media(session, state.draft.id) >= limit:
            refused = acks.burst(state.person.chat_id, state.lang)
            refused.refused += 1
            refused.refused_limit = limit
        else:
            admitted.append(Admission(state.draft.id, state.draft.step))
        return Reply()

    await respond(update, context, admit)
    if not admitted:
        return
    admission = admitted[0]
    staged = await _fetch(context, new)

    async def record(session: AsyncSession, state: State) -> Reply:
        if admission.relay_kind is not None:
            return await _record_relayed(session, state, admission, new, staged)
        acks: BurstAcks = services.acks
        tip = state.draft
        if tip is None or tip.id != admission.tip_id:
            # Sent or cancelled (from another process) while the file was downloading.
            new.status, new.failure_reason = MEDIA_FAILED, "report_closed"
            _note_in_burst(acks.burst(state.person.chat_id, state.lang), new, state)
            return Reply()
        filed = _file_original(state, new, staged)
        await intake.add_media(session, tip, new, filed, actor=state.actor, store=services.store)
        if new.kind == "voice" and admission.step == "description" and new.status == MEDIA_STORED:
            return await _voice_testimony(session, state, tip)
        _note_in_burst(acks.burst(state.person.chat_id, state.lang), new, state)
        return Reply()

    try:
        await respond(update, context, record)
    finally:
        if staged is not None:
            services.store.discard(staged)


def _before_consent(state: State, message: Message) -> Reply:
    """A file sent before the person agreed to the privacy terms: nothing is stored before
    that, so it is neither downloaded nor kept. They are told so plainly, once per album,
    in their Telegram app's language, with the language choice to start from."""
    if not state.services.acks.first_of_album(state.person.chat_id, message.media_group_id):
        return Reply()
    screen = render.language_choice(state.services.catalog, state.lang)
    return Reply(send=[screen.with_prefix(state.t("files-before-consent"))])


async def _voice_testimony(session: AsyncSession, state: State, tip: Tip) -> Reply:
    """A voice message at the description step is testimony: one answer says it is saved,
    over the step's title and buttons (files of the same burst are acknowledged in it)."""
    acks: BurstAcks = state.services.acks
    pending = acks.take(state.person.chat_id)
    lines = [await acks.answer_text(session, tip, pending)] if pending is not None else []
    lines.append(state.t("description-voice-saved"))
    counts = await intake.media_counts(session, tip.id)
    screen = render.step_screen(state.services, state.lang, tip, counts, brief=True)
    return Reply(send=[screen.with_prefix("\n".join(line for line in lines if line))])


async def _record_relayed(
    session: AsyncSession,
    state: State,
    admission: Admission,
    new: intake.NewMedia,
    staged: StagedFile | None,
) -> Reply:
    """A file answering a question (or added later): attached to its report and passed on
    (held back a moment, so an album travels as one); acknowledged once per burst."""
    services = state.services
    tip = await session.get(Tip, admission.tip_id)
    question = await session.get(TipNote, admission.question_id) if admission.question_id else None
    if tip is None:
        return Reply(send=[Screen(state.t("no-open-report"))])
    new.origin = admission.relay_kind or "answer"
    filed = _file_original(state, new, staged)
    media = await intake.add_media(
        session, tip, new, filed, actor=state.actor, store=services.store
    )
    await moderation.add_from_reporter(
        session,
        tip,
        kind=new.origin,
        text=new.caption,
        media_id=media.id,
        actor=state.actor,
        question=question if question is not None and question.is_open else None,
        # Held until the burst is acknowledged (the album is complete), at most a minute.
        gather=RELAY_HOLD,
    )
    burst = services.acks.burst(state.person.chat_id, state.lang)
    burst.relay = (tip.id, new.origin)
    if new.status != MEDIA_STORED:
        _note_in_burst(burst, new, state)
    return Reply()


def _note_in_burst(burst: Burst, new: intake.NewMedia, state: State) -> None:
    if new.status == MEDIA_STORED and new.kind in intake.TESTIMONY_KINDS:
        burst.voices += 1
    elif new.status == MEDIA_STORED:
        burst.stored += 1
        burst.compressed = burst.compressed or new.recompressed
    elif new.status == MEDIA_TOO_LARGE:
        burst.too_large.append((new.file_name or state.t(f"kind-{new.kind}"), new.size))
    elif new.failure_reason == "storage":
        burst.storage_failed += 1
    else:
        burst.failed += 1
