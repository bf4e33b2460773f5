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
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    Chat,
    File,
    Message,
    MessageOrigin,
    MessageOriginChannel,
    MessageOriginChat,
    PhotoSize,
    Update,
)
from telegram.error import BadRequest, NetworkError, TimedOut

from bot import intake
from bot.duplicates import perceptual_hash
from bot.i18n import Html
from bot.media import DownloadError, StagedFile, StorageError, TooLargeError
from bot.metadata import extract_metadata
from bot.processor import ChatOrderedProcessor
from bot.settings import Settings
from bot.telegram_retry import persist
from bot.text import clean_optional
from db.engine import transaction
from db.models import MEDIA_FAILED, MEDIA_STORED, MEDIA_TOO_LARGE, Tip
from handlers import relay, render, steps
from handlers.base import Ctx, Screen, Services, send
from handlers.replies import Reply, Retired, retire_messages
from handlers.state import State, respond, respond_with

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
    return {"type": origin.type, "date": origin.date.isoformat(), **_source_chat(origin)}


def _source_chat(origin: MessageOrigin) -> dict[str, Any]:
    """The channel or group a forwarded file came from; of a person (a user, hidden or
    not), only the fact and the date are kept."""
    if isinstance(origin, MessageOriginChannel):
        chat = origin.chat
        return _chat(chat) | {"message_id": origin.message_id}
    if isinstance(origin, MessageOriginChat):
        return _chat(origin.sender_chat)
    return {}


def _chat(chat: Chat) -> dict[str, Any]:
    return {"chat_id": chat.id, "title": clean_optional(chat.title), "username": chat.username}


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
        return _photo(message.photo, common)
    kind = _file_kind(message)
    return _file(kind, getattr(message, kind), common) if kind else None


def _file_kind(message: Message) -> str:
    """Which of :data:`_FILE_KINDS` the message holds ('' if none)."""
    return next((kind for kind in _FILE_KINDS if getattr(message, kind) is not None), "")


def _photo(sizes: Sequence[PhotoSize], common: dict[str, Any]) -> intake.NewMedia:
    # Telegram sends several sizes of a photo; the largest is the one worth keeping.
    largest = max(sizes, key=lambda p: (p.width * p.height, p.file_size or 0))
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


def _file(kind: str, item: Any, common: dict[str, Any]) -> intake.NewMedia:
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
    def for_draft(self) -> bool:
        """Files were taken into the report being written (or it was opened for them)."""
        return any((self.stored, self.voices, self.new_report))

    @property
    def empty(self) -> bool:
        """Nothing to tell the reporter about."""
        told = (self.stored, self.voices, self.too_large, self.failed, self.storage_failed)
        return not any((*told, self.refused, self.new_report, self.relay))

    def note(self, new: intake.NewMedia, name: str) -> None:
        """Count a file recorded for the report (``name``: what to call it if too large)."""
        if new.status == MEDIA_STORED:
            self._stored(new)
        elif new.status == MEDIA_TOO_LARGE:
            self.too_large.append((name, new.size))
        elif new.failure_reason == "storage":
            self.storage_failed += 1
        else:
            self.failed += 1

    def _stored(self, new: intake.NewMedia) -> None:
        if new.kind in intake.TESTIMONY_KINDS:
            self.voices += 1
        else:
            self.stored += 1
            self.compressed = self.compressed or new.recompressed

    def refuse(self, limit: int) -> None:
        """One more file past the report's ``limit``: not taken."""
        self.refused += 1
        self.refused_limit = limit


@dataclass(frozen=True, slots=True)
class ShownStep:
    """An acknowledgement sent with a step's buttons under it: the message, the report and
    step it showed, and its receipt (what the message keeps once the step is over)."""

    message_id: int
    tip_id: int
    step: str
    receipt: str

    def current(self, tip: Tip | None) -> bool:
        """Whether the reporter's open report (``tip``) is still at the step shown."""
        return tip is not None and (tip.id, tip.step) == (self.tip_id, self.step)


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
        if shown is None or shown.current(tip):
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
        relayed = await intake.release_relayed(session, tip_id)
        if relayed is None:
            return None

        def t(key: str, **args: object) -> Html:
            return self._services.catalog.t(burst.lang, key, **args)

        return relay.thanks(t, relayed, kind)

    async def take_text(self, session: AsyncSession, tip: Tip | None, chat_id: int) -> str:
        """The chat's burst, taken to be told in a handler's own answer ('' if none): the
        receipt of files that answered a question (if any) over the acknowledgement's
        lines."""
        burst = self.take(chat_id)
        if burst is None:
            return ""
        text = await self.describe(session, tip, burst)
        receipt = await self.receipt(session, burst)
        return text if receipt is None else receipt.text + (f"\n\n{text}" if text else "")

    async def describe(self, session: AsyncSession, tip: Tip | None, burst: Burst) -> str:
        """The acknowledgement's lines (and, once per report, how to send originals)."""
        total = await _files_now(session, tip, burst)
        settings = self._services.settings
        lines = [*_received(burst, total), *_not_taken(burst, settings), *_hint(tip, burst)]
        t = self._services.catalog.t
        return "\n".join(t(burst.lang, key, **args) for key, args in lines)


# A line of an acknowledgement: its catalog key and arguments.
Line = tuple[str, dict[str, object]]


async def _files_now(session: AsyncSession, tip: Tip | None, burst: Burst) -> int:
    """How many files the report holds now that the burst's are stored (counted only when
    the line saying so is shown)."""
    if not burst.stored or tip is None:
        return burst.stored
    return intake.file_count(await intake.media_counts(session, tip.id))


def _received(burst: Burst, total: int) -> list[Line]:
    lines: list[Line] = [("evidence-new-report", {})] if burst.new_report else []
    if burst.stored:
        lines.append(("evidence-received", {"count": burst.stored, "total": total}))
    if burst.voices:
        lines.append(("evidence-voices", {"count": burst.voices}))
    return lines


def _not_taken(burst: Burst, settings: Settings) -> list[Line]:
    """Files too large, failed, refused by the disk, or past the report's limit."""
    limit_mb = settings.download_limit_bytes // _MB
    lines: list[Line] = [
        ("evidence-too-large", {"name": name, "size": _megabytes(size), "limit": limit_mb})
        for name, size in burst.too_large
    ]
    failed = (("evidence-failed", burst.failed), ("evidence-storage-failed", burst.storage_failed))
    lines.extend((key, {"count": count}) for key, count in failed if count)
    return lines + _refused(burst, settings)


def _refused(burst: Burst, settings: Settings) -> list[Line]:
    if not burst.refused:
        return []
    limit = burst.refused_limit or settings.tipbot_max_files_per_report
    return [("evidence-limit", {"count": burst.refused, "max": limit})]


def _megabytes(size: int | None) -> str:
    return str(round(size / _MB)) if size else "?"


def _hint(tip: Tip | None, burst: Burst) -> list[Line]:
    """How to send originals: once per report, with its first recompressed photo."""
    if not burst.compressed or tip is None or tip.originals_hint_sent:
        return []
    tip.originals_hint_sent = True
    return [("evidence-originals-hint", {})]


async def send_burst_ack(context: Ctx, chat_id: int, burst: Burst) -> None:
    """Deliver a burst's acknowledgement with the reporter's current step under it, brief:
    its title and buttons (or, for files answering a question or added to a report, the
    receipt for those). The step's buttons then live on this message alone: the previous
    acknowledgement keeps only its receipt."""
    if burst.empty:
        return
    services = context.services
    async with transaction(services.sessions) as session:
        screens, step = await _acknowledgement(session, services, chat_id, burst)
    sent = await _send_all(context, chat_id, screens)
    if step is not None and sent is not None:
        await _shown(context, chat_id, ShownStep(sent.message_id, *step))


async def _acknowledgement(
    session: AsyncSession, services: Services, chat_id: int, burst: Burst
) -> tuple[list[Screen], tuple[int, str, str] | None]:
    """The acknowledgement's messages, and the step (report, step, receipt) whose buttons
    the last one carries, if any."""
    acks: BurstAcks = services.acks
    keyring = services.keyring
    _, tip = await intake.find_reporter_and_draft(
        session, keyring.pseudonym(chat_id), keyring.legacy_pseudonym(chat_id)
    )
    screens, text = await _receipt_first(
        session, acks, burst, await acks.describe(session, tip, burst)
    )
    step = _step_under(tip, text, burst)
    if tip is None or step is None:
        return [*screens, *_plain(text)], None
    counts = await intake.media_counts(session, tip.id)
    brief = steps.step_screen(services, burst.lang, tip, counts, brief=True)
    return [*screens, brief.with_prefix(text)], (tip.id, step, text)


def _step_under(tip: Tip | None, text: str, burst: Burst) -> str | None:
    """The step whose title and buttons go under the acknowledgement (None: none): the
    report's, when there are lines to show or files went into it."""
    return tip.step if tip is not None and (text or burst.for_draft) else None


async def _send_all(context: Ctx, chat_id: int, screens: list[Screen]) -> Message | None:
    """Send the screens in order; the last one sent."""
    sent = None
    for screen in screens:
        sent = await send(context, chat_id, screen)
    return sent


def _plain(text: str) -> list[Screen]:
    return [Screen(Html(text))] if text else []


async def _receipt_first(
    session: AsyncSession, acks: BurstAcks, burst: Burst, text: str
) -> tuple[list[Screen], str]:
    """The receipt for files that answered a question or were added to a report, over the
    acknowledgement's lines (then nothing is left to say under the step)."""
    receipt = await acks.receipt(session, burst)
    if receipt is None:
        return [], text
    return [receipt.with_prefix(text)], ""


async def _shown(context: Ctx, chat_id: int, shown: ShownStep) -> None:
    """Remember the acknowledgement carrying the step's buttons; the one before keeps only
    its receipt."""
    previous = context.services.acks.show(chat_id, shown)
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


async def _get_file(context: Ctx, file_id: str) -> File:
    """``getFile`` through 429s, 5xx answers and network errors (:mod:`bot.telegram_retry`);
    a 4xx refusal is final."""
    return await persist(context.bot.get_file, file_id)


async def _fetch(context: Ctx, new: intake.NewMedia) -> StagedFile | None:
    """Download ``new`` into staging, or mark it too large / failed (never raise)."""
    try:
        staged = await _download(context, new)
    except (BadRequest, DownloadError, TimedOut, NetworkError, StorageError) as exc:
        new.status, new.failure_reason = _failure(exc)
        return None
    new.status = MEDIA_STORED
    new.metadata = await asyncio.to_thread(extract_metadata, staged.tmp_path, staged.detected_mime)
    if staged.detected_mime.startswith("image/"):
        new.phash = await asyncio.to_thread(perceptual_hash, staged.tmp_path)
    return staged


async def _download(context: Ctx, new: intake.NewMedia) -> StagedFile:
    """``getFile``, then the file streamed into staging; :class:`TooLargeError` for a file
    over the Bot API server's limit, said before or during the download."""
    services = context.services
    limit = services.settings.download_limit_bytes
    if _over(new.size, limit):
        raise TooLargeError
    telegram_file = await _get_file(context, new.file_id)
    if not telegram_file.file_path:
        raise DownloadError("no_path")
    if _over(telegram_file.file_size, limit):
        raise TooLargeError
    return await services.downloader.fetch(telegram_file.file_path, max_bytes=limit)


def _over(size: int | None, limit: int) -> bool:
    return size is not None and size > limit


def _failure(exc: Exception) -> tuple[str, str | None]:
    """What a file that could not be fetched is recorded as: its status, and why."""
    if _too_big(exc):
        return MEDIA_TOO_LARGE, None
    if isinstance(exc, StorageError):
        exc.log()
        return MEDIA_FAILED, "storage"
    return MEDIA_FAILED, _reason(exc)


def _too_big(exc: Exception) -> bool:
    """Over the Bot API server's limit: said by the download, or by ``getFile``."""
    refused = isinstance(exc, BadRequest) and "too big" in str(exc).lower()
    return refused or isinstance(exc, TooLargeError)


def _reason(exc: Exception) -> str:
    if isinstance(exc, DownloadError):
        return exc.reason
    return "get_file_refused" if isinstance(exc, BadRequest) else "network"


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


async def receive(update: Update, context: Ctx, message: Message) -> None:
    """Store one file a reporter sent, with its custody entry, and acknowledge it.

    Two short transactions around the download: the first admits the file (consent, the
    daily and per-report limits; a file sent outside a report opens one; an answer to a
    moderator's question goes to its report), the second records it; the download in
    between holds no transaction.
    """
    new = describe(message, intake.utcnow())
    if new is None:
        return
    admission = await respond_with(update, context, partial(_admit, message))
    if admission is not None:
        await _fetch_and_record(update, context, admission, new)


async def _fetch_and_record(
    update: Update, context: Ctx, admission: Admission, new: intake.NewMedia
) -> None:
    staged = await _fetch(context, new)
    try:
        await respond(update, context, partial(_record, admission, new, staged))
    finally:
        if staged is not None:
            context.services.store.discard(staged)


def _burst(state: State) -> Burst:
    """The reporter's burst being gathered for one acknowledgement."""
    acks: BurstAcks = state.services.acks
    return acks.burst(state.person.chat_id, state.lang)


async def _admit(
    message: Message, session: AsyncSession, state: State
) -> tuple[Reply, Admission | None]:
    """Whether, and where, a file goes (None: not taken; the reply says why, or the burst's
    acknowledgement will)."""
    if not state.consented or state.reporter is None:
        return _before_consent(state, message), None
    target = await relay.relay_target(session, state, message)
    if target is not None:
        return Reply(), await _admit_relayed(session, state, target)
    return await _admit_to_draft(session, state)


async def _admit_relayed(
    session: AsyncSession, state: State, target: relay.RelayTarget
) -> Admission | None:
    # Answers and additions may hold as many files again as a report. Those past it are
    # counted in the burst: one line says exactly how many were not taken.
    limit = 2 * state.services.settings.tipbot_max_files_per_report
    if await intake.count_media(session, target.tip.id) >= limit:
        _burst(state).refuse(limit)
        return None
    question = target.question.id if target.question else None
    return Admission(target.tip.id, None, target.kind, question)


async def _admit_to_draft(session: AsyncSession, state: State) -> tuple[Reply, Admission | None]:
    draft = await _draft_for_file(session, state)
    if isinstance(draft, Reply):
        return draft, None
    limit = state.services.settings.tipbot_max_files_per_report
    if await intake.count_media(session, draft.id) >= limit:
        _burst(state).refuse(limit)
        return Reply(), None
    return Reply(), Admission(draft.id, draft.step)


async def _draft_for_file(session: AsyncSession, state: State) -> Tip | Reply:
    """The report a file goes to: the one being written, or one opened for it — unless the
    day's limit of reports is reached (the refusal)."""
    if state.draft is not None:
        return state.draft
    refusal = await steps.daily_limit_reply(session, state)
    if refusal is not None:
        return refusal
    assert state.reporter is not None
    state.draft = await intake.create_draft(session, state.reporter, state.lang)
    _burst(state).new_report = True
    return state.draft


async def _record(
    admission: Admission,
    new: intake.NewMedia,
    staged: StagedFile | None,
    session: AsyncSession,
    state: State,
) -> Reply:
    """Record an admitted file (its download done, or failed) where it was admitted to."""
    if admission.relay_kind is not None:
        return await _record_relayed(session, state, admission, new, staged)
    return await _record_in_draft(session, state, admission, new, staged)


async def _record_in_draft(
    session: AsyncSession,
    state: State,
    admission: Admission,
    new: intake.NewMedia,
    staged: StagedFile | None,
) -> Reply:
    """A file for the report being written, if it is still the one the file was admitted
    to (else it is recorded nowhere, and the burst says it failed)."""
    tip = state.draft
    if tip is None or tip.id != admission.tip_id:
        # Sent or cancelled (from another process) while the file was downloading.
        new.status, new.failure_reason = MEDIA_FAILED, "report_closed"
        _note(state, new)
        return Reply()
    filed = _file_original(state, new, staged)
    store = state.services.store
    await intake.add_media(session, tip, new, filed, actor=state.actor, store=store)
    if _answers_step(new, admission):
        return await _voice_testimony(session, state, tip)
    _note(state, new)
    return Reply()


def _answers_step(new: intake.NewMedia, admission: Admission) -> bool:
    """A voice message stored at a step it answers (the description: testimony)."""
    voice = new.kind in intake.TESTIMONY_KINDS and new.status == MEDIA_STORED
    return voice and steps.takes_voice(admission.step)


def _note(state: State, new: intake.NewMedia) -> None:
    """Count the file in the burst's acknowledgement."""
    _burst(state).note(new, new.file_name or state.t(f"kind-{new.kind}"))


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
    received = await acks.take_text(session, tip, state.person.chat_id)
    saved = state.t("description-voice-saved")
    counts = await intake.media_counts(session, tip.id)
    screen = steps.step_screen(state.services, state.lang, tip, counts, brief=True)
    return Reply(send=[screen.with_prefix(f"{received}\n{saved}" if received else saved)])


async def _record_relayed(
    session: AsyncSession,
    state: State,
    admission: Admission,
    new: intake.NewMedia,
    staged: StagedFile | None,
) -> Reply:
    """A file answering a question (or added later): attached to its report and passed on
    (held back a moment, so an album travels as one); acknowledged once per burst."""
    tip = await intake.find_tip(session, admission.tip_id)
    if tip is None:
        return Reply(send=[Screen(state.t("no-open-report"))])
    new.origin = admission.relay_kind or "answer"
    await intake.relay_media(
        session,
        tip,
        new,
        _file_original(state, new, staged),
        question_id=admission.question_id,
        actor=state.actor,
        store=state.services.store,
        # Held until the burst is acknowledged (the album is complete), at most a minute.
        gather=RELAY_HOLD,
    )
    _burst(state).relay = (tip.id, new.origin)
    if new.status != MEDIA_STORED:
        _note(state, new)
    return Reply()
