"""Data types of the fake Telegram server: recorded calls, chat state, message snapshots."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .files import FakeFile
from .markup import entities_to_html

__all__ = [
    "MEDIA_KINDS",
    "ApiCall",
    "ApiError",
    "CallbackAnswer",
    "ChatMessage",
    "ChatState",
    "DownloadRecord",
    "StoredMessage",
    "Upload",
]

MEDIA_KINDS: tuple[str, ...] = (
    "photo",
    "video",
    "animation",
    "document",
    "audio",
    "voice",
    "video_note",
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)
"""Message fields that make a message a "media" message, in the order they are looked for
(``venue`` messages also carry ``location``; animations also carry ``document``)."""


class ApiError(Exception):
    """An error answer of the Bot API (``{"ok": false, "error_code": ..., ...}``)."""

    def __init__(
        self, status: int, description: str, *, parameters: dict[str, Any] | None = None
    ) -> None:
        """Create an error with HTTP ``status``, Telegram ``description`` and ``parameters``."""
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def to_json(self) -> dict[str, Any]:
        """The JSON body of the error answer."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    """A 400 error with description ``Bad Request: <reason>``."""
    return ApiError(400, f"Bad Request: {reason}")


@dataclass(frozen=True)
class Upload:
    """A file part of a ``multipart/form-data`` request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ApiCall:
    """One recorded Bot API request.

    Attributes:
        method: official camelCase name (``sendMessage``) or, for unknown methods, as sent.
        params: decoded parameters (JSON-typed values; free-text ones as strings); an
            uploaded file part appears as ``"<upload 'name.jpg', 123 bytes>"``.
        status: HTTP status answered (200 on success).
        result: the ``result`` returned on success, else ``None``.
        error: the error ``description`` on failure, else ``None``.
        started_at: ``time.monotonic()`` when the request arrived.
        finished_at: ``time.monotonic()`` when the answer was ready.
        uploads: files created from multipart uploads, by form field name.
        http_method: ``GET`` or ``POST``.
    """

    method: str
    params: dict[str, Any]
    status: int
    result: Any
    error: str | None
    started_at: float
    finished_at: float
    uploads: dict[str, FakeFile] = field(default_factory=dict)
    http_method: str = "POST"

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.status == 200

    @property
    def duration(self) -> float:
        """Seconds between arrival and answer."""
        return self.finished_at - self.started_at

    @property
    def chat_id(self) -> int | str | None:
        """The ``chat_id`` parameter (``int`` when numeric), if any."""
        value = self.params.get("chat_id")
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                return value
        return value if isinstance(value, int) else None

    def summary(self, width: int = 160) -> str:
        """One line: ``sendMessage(chat_id=1, text='hi') -> 200``."""
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        outcome = str(self.status) if self.ok else f"{self.status} {self.error}"
        line = f"{self.method}({args}) -> {outcome}"
        return line if len(line) <= width else line[: width - 3] + "..."


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a callback query (``answerCallbackQuery``)."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass(frozen=True)
class DownloadRecord:
    """One request to the file download endpoint.

    A successful download is recorded (``status`` 200) just before its last chunk is sent;
    a download the client aborted is recorded with status 499 and the bytes sent so far.
    """

    file_path: str
    file_id: str | None
    status: int
    bytes_sent: int
    started_at: float
    finished_at: float


@dataclass(eq=False)
class StoredMessage:
    """A message as the fake server stores it (internal, mutable).

    ``data`` is the current Bot API ``Message`` JSON; ``versions`` keeps the earlier states
    (one per edit).  ``sent_markup`` is the ``reply_markup`` the bot sent with the message
    (any kind — the ``Message`` JSON only ever carries inline keyboards).
    """

    chat_id: int
    message_id: int
    sender_id: int | None
    from_bot: bool
    data: dict[str, Any]
    created_at: float
    html: str | None = None
    sent_markup: dict[str, Any] | None = None
    is_service: bool = False
    deleted: bool = False
    versions: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0

    def snapshot(self) -> ChatMessage:
        """An immutable :class:`ChatMessage` view of the current state."""
        data = self.data
        text = data.get("text", data.get("caption"))
        entities = data.get("entities", data.get("caption_entities"))
        inline = (data.get("reply_markup") or {}).get("inline_keyboard") or []
        buttons = tuple(
            tuple((str(b.get("text", "")), b.get("callback_data")) for b in row) for row in inline
        )
        markup = self.sent_markup or {}
        keyboard: tuple[tuple[dict[str, Any], ...], ...] | None = None
        if "keyboard" in markup:
            keyboard = tuple(
                tuple(b if isinstance(b, dict) else {"text": str(b)} for b in row)
                for row in markup["keyboard"]
            )
        media_kind = next((kind for kind in MEDIA_KINDS if kind in data), None)
        if media_kind == "document" and "animation" in data:
            media_kind = "animation"
        if "venue" in data:
            media_kind = "venue"
        html_text = self.html
        if html_text is None and text is not None:
            html_text = entities_to_html(text, entities)
        previous = tuple(v.get("text", v.get("caption")) or "" for v in self.versions)
        reply = data.get("reply_to_message")
        return ChatMessage(
            message_id=self.message_id,
            chat_id=self.chat_id,
            from_bot=self.from_bot,
            sender_id=self.sender_id,
            text=text,
            html=html_text,
            date=int(data.get("date", 0)),
            edit_date=data.get("edit_date"),
            inline_buttons=buttons,
            reply_keyboard=keyboard,
            removes_keyboard=bool(markup.get("remove_keyboard")),
            media_kind=media_kind,
            media_group_id=data.get("media_group_id"),
            reply_to_message_id=reply.get("message_id") if isinstance(reply, dict) else None,
            message_thread_id=data.get("message_thread_id"),
            is_service=self.is_service,
            deleted=self.deleted,
            edited=self.version > 0,
            version=self.version,
            previous_texts=previous,
            raw=json.loads(json.dumps(data)),
        )


@dataclass(frozen=True)
class ChatMessage:
    """A message as the user's phone shows it (an immutable snapshot).

    Attributes:
        message_id: id in its chat.
        chat_id: the chat.
        from_bot: sent by the bot.
        sender_id: user id of the sender (the bot's id for bot messages, None for service
            messages).
        text: text, or caption of a media message, or None.
        html: the HTML the bot sent (``parse_mode=HTML``), otherwise the text rendered from its
            entities; None without text.
        date: Unix time (fake clock) the message was sent.
        edit_date: Unix time of the last edit, if any.
        inline_buttons: rows of ``(text, callback_data)`` of the inline keyboard
            (``callback_data`` is None for url/other buttons).
        reply_keyboard: rows of ``KeyboardButton`` dicts if the bot sent a reply keyboard with
            this message.
        removes_keyboard: the bot sent ``ReplyKeyboardRemove`` with this message.
        media_kind: ``photo``, ``video``, ``document``, ``location``, ``venue``... or None.
        media_group_id: album id, if part of an album.
        reply_to_message_id: id of the message this one replies to.
        message_thread_id: forum topic id.
        is_service: a service message (pinned message, topic created...).
        deleted: the message was deleted (only seen in ``history``).
        edited: the message was edited at least once.
        version: number of edits.
        previous_texts: texts/captions before each edit, oldest first.
        raw: the full Bot API ``Message`` JSON.
    """

    message_id: int
    chat_id: int
    from_bot: bool
    sender_id: int | None
    text: str | None
    html: str | None
    date: int
    edit_date: int | None
    inline_buttons: tuple[tuple[tuple[str, str | None], ...], ...]
    reply_keyboard: tuple[tuple[dict[str, Any], ...], ...] | None
    removes_keyboard: bool
    media_kind: str | None
    media_group_id: str | None
    reply_to_message_id: int | None
    message_thread_id: int | None
    is_service: bool
    deleted: bool
    edited: bool
    version: int
    previous_texts: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False)

    @property
    def button_texts(self) -> list[str]:
        """Texts of all inline buttons, row by row."""
        return [text for row in self.inline_buttons for text, _data in row]

    @property
    def callback_data(self) -> dict[str, str | None]:
        """Inline button text -> callback_data."""
        return {text: data for row in self.inline_buttons for text, data in row}

    @property
    def file_id(self) -> str | None:
        """file_id of the media (largest photo size), if any."""
        photo = self.raw.get("photo")
        if photo:
            return str(photo[-1]["file_id"])
        for kind in ("video", "animation", "document", "audio", "voice", "video_note", "sticker"):
            if kind in self.raw:
                return str(self.raw[kind]["file_id"])
        return None


@dataclass(eq=False)
class ChatState:
    """Server-side state of one chat (internal).

    Attributes:
        chat: the short ``Chat`` JSON used inside messages.
        full_info: extra ``ChatFullInfo`` fields for ``getChat``.
        next_message_id: the next id handed out (shared by all senders, as in Telegram).
        messages: all messages ever sent (including deleted), by id.
        members: group members' status by user id.
        bot_status: the bot's membership status in the chat.
        started: private chat: the user has written to the bot (the bot can't start a
            conversation).
        blocked: private chat: the user blocked the bot.
        keyboard_message_id: message whose reply keyboard is currently shown.
        keyboard_hidden: the shown keyboard was a one-time keyboard and has been used.
        pinned: pinned message ids, newest last.
        topics: forum topics by thread id.
        recent_sends: fake-clock times of the bot's recent sends (group flood limit).
        media_groups: media_group_id of the source -> id in this chat (copyMessages).
    """

    chat: dict[str, Any]
    full_info: dict[str, Any] = field(default_factory=dict)
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    members: dict[int, str] = field(default_factory=dict)
    admin_titles: dict[int, str] = field(default_factory=dict)
    bot_status: str = "member"
    started: bool = True
    blocked: bool = False
    keyboard_message_id: int | None = None
    keyboard_hidden: bool = False
    pinned: list[int] = field(default_factory=list)
    topics: dict[int, dict[str, Any]] = field(default_factory=dict)
    recent_sends: deque[float] = field(default_factory=deque)

    @property
    def id(self) -> int:
        """The chat id."""
        return int(self.chat["id"])

    @property
    def type(self) -> str:
        """``private`` or ``supergroup``."""
        return str(self.chat["type"])

    def take_message_id(self) -> int:
        """Hand out the next message id."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def live(self, message_id: int) -> StoredMessage | None:
        """The message if it exists and is not deleted."""
        message = self.messages.get(message_id)
        return message if message is not None and not message.deleted else None
