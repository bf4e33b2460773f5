"""What every handler shares: the services, the typed context, who is writing, and replies.

A handler is wrapped with :func:`handler` so the update's log line names it and an
exception is turned into an apology in the user's language (the error handler does that).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from zoneinfo import ZoneInfo

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackContext, ExtBot

from bot import tgtext
from bot.gazetteer import Gazetteer
from bot.i18n import Catalog, Html, pick_language, plain
from bot.keys import Keyring
from bot.media import FileDownloader, MediaStore
from bot.processor import ChatOrderedProcessor, mark_handled
from bot.settings import Settings
from bot.telegram_retry import persist
from db.engine import SessionFactory

if TYPE_CHECKING:  # they use Services themselves
    from handlers.evidence import BurstAcks
    from handlers.moderation.access import ModeratorGate
    from handlers.outbox.worker import OutboxWorker

log = logging.getLogger(__name__)

Markup: TypeAlias = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


@dataclass(slots=True)
class Services:
    """Everything handlers need, built once by :mod:`bot.app`."""

    settings: Settings
    catalog: Catalog
    keyring: Keyring
    sessions: SessionFactory
    store: MediaStore
    downloader: FileDownloader
    gazetteer: Gazetteer
    processor: ChatOrderedProcessor
    timezone: ZoneInfo
    gate: ModeratorGate
    official_handle: str = ""
    bot_username: str = ""
    # The two that talk to Telegram on their own are made with the application, right after
    # these (bot.app.attach_workers): the file acknowledgements and the outbox worker.
    acks: BurstAcks = field(init=False)
    outbox_worker: OutboxWorker = field(init=False)


class Ctx(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context with a typed view of our services."""

    @property
    def services(self) -> Services:
        return cast(Services, self.bot_data["services"])


TipbotApp: TypeAlias = Application[
    ExtBot[None], Ctx, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]
Callback: TypeAlias = Callable[[Update, Ctx], Coroutine[Any, Any, None]]


def handler(name: str) -> Callable[[Callback], Callback]:
    """Name a callback in the per-update log line."""

    def decorate(func: Callback) -> Callback:
        @functools.wraps(func)
        async def wrapper(update: Update, context: Ctx) -> None:
            mark_handled(name)
            await func(update, context)

        return wrapper

    return decorate


# Ids of our tables are 32-bit integers (SQLite and PostgreSQL's INTEGER).
ID_MAX = 2**31 - 1


def parse_id(text: str, *, minimum: int = 1, maximum: int = ID_MAX) -> int | None:
    """A number in a button's data or a command's argument, or None unless it is written
    as this bot writes one: ASCII digits only, no sign, spaces, underscores or leading
    zeros, within ``minimum..maximum``. (``int()`` accepts "٣", " 12 " and "1_000", and a
    20-digit id overflows the database's column: each would be an error, not a refusal.)"""
    if not text or len(text) > len(str(maximum)) or not text.isascii() or not text.isdigit():
        return None
    if text != "0" and text.startswith("0"):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


@dataclass(frozen=True, slots=True)
class Person:
    """The human behind a private-chat update, as the bot may know them."""

    user_id: int
    chat_id: int
    pseudonym: str  # the lookup key (Keyring.pseudonym)
    legacy_pseudonym: str  # the key of installations before migration 0004
    telegram_language: str


def person(update: Update, services: Services) -> Person | None:
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    return Person(
        user_id=user.id,
        chat_id=chat.id,
        pseudonym=services.keyring.pseudonym(user.id),
        legacy_pseudonym=services.keyring.legacy_pseudonym(user.id),
        telegram_language=pick_language(user.language_code),
    )


# ---------------------------------------------------------------------------- keyboards


def button(text: str, data: str) -> InlineKeyboardButton:
    if len(data.encode()) > 64:
        raise ValueError(f"callback data over 64 bytes: {data[:20]}...")
    return InlineKeyboardButton(text, callback_data=data)


def keyboard(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(row) for row in rows if row])


@dataclass(frozen=True, slots=True)
class Screen:
    """A message to show: HTML text and its keyboard."""

    text: Html
    markup: Markup = None

    def with_prefix(self, prefix: str) -> Screen:
        return Screen(Html(f"{prefix}\n\n{self.text}" if prefix else self.text), self.markup)


# ---------------------------------------------------------------------------- replies


async def send(context: Ctx, chat_id: int, screen: Screen) -> Message | None:
    """Send a message, retried through Telegram's transient failures
    (:mod:`bot.telegram_retry`); a reporter who blocked the bot is not an error worth more
    than a log line, and is not retried."""
    try:
        return await persist(
            context.bot.send_message, chat_id, screen.text, reply_markup=screen.markup
        )
    except Forbidden:
        log.info("chat unreachable (blocked or deleted)")
        return None


async def show(update: Update, context: Ctx, screen: Screen) -> Message | None:
    """Show ``screen``: in place of the pressed button's message for a callback with an inline
    keyboard (or none), as a new message otherwise."""
    chat = update.effective_chat
    if chat is None:
        return None
    pressed = _replaceable(update.callback_query, screen)
    if pressed is None:
        return await send(context, chat.id, screen)
    try:
        edited = await _edit(pressed, screen)
    except Forbidden:
        log.info("chat unreachable (blocked or deleted)")
        return None
    return edited if edited is not None else await send(context, chat.id, screen)


def _replaceable(query: CallbackQuery | None, screen: Screen) -> Message | None:
    """The pressed button's message, if ``screen`` can take its place (an edit keeps only
    an inline keyboard, or none)."""
    inline = screen.markup is None or isinstance(screen.markup, InlineKeyboardMarkup)
    message = query.message if query is not None else None
    return message if inline and isinstance(message, Message) else None


async def _edit(message: Message, screen: Screen) -> Message | None:
    """``message`` edited into ``screen`` (retried like :func:`send`), or None when that
    failed for good — too old to edit, gone, or Telegram kept failing — so that the caller
    sends the screen as a new message and the user always has the current one."""
    markup = cast(InlineKeyboardMarkup | None, screen.markup)
    try:
        edited = await persist(message.edit_text, screen.text, reply_markup=markup)
    except BadRequest as exc:
        # "Not modified": it shows the screen already (or a retried edit had gone through).
        return message if "not modified" in str(exc).lower() else None
    except Forbidden:
        raise  # blocked: nothing more to try
    except TelegramError:
        return None
    return edited if isinstance(edited, Message) else message


async def answer(
    query: CallbackQuery | None, text: str | None = None, *, alert: bool = False
) -> bool:
    """Stop the button's spinner (with a toast, or an alert to dismiss); an expired or
    already answered query is not worth failing for (False). Toasts are plain text of at
    most 200 UTF-16 code units (Telegram's measure: an emoji can count two)."""
    if query is None:
        return False
    if text is not None:
        text = tgtext.shorten_plain(plain(text), tgtext.TOAST)
    try:
        await persist(query.answer, text, show_alert=alert)
    except TelegramError:  # too old, already answered, or Telegram kept failing
        return False
    return True
