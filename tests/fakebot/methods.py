"""Bot API method implementations of the fake server.

Each ``api_<name>`` coroutine takes a :class:`~tests.fakebot.core.CallContext` and returns the
``result`` of the answer or raises :class:`~tests.fakebot.models.ApiError`.  The table of
official method names is :data:`BUILTIN_METHODS`.
"""

from __future__ import annotations

import copy
import io
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .core import DEFAULT_ALLOWED_UPDATES, DELETE_WINDOW_SECONDS, CallContext, FakeTelegramCore
from .files import FakeFile, MiB, sample_jpeg
from .markup import EntityParseError, ParsedText, parse_text, utf16_len
from .models import ApiError, ChatState, StoredMessage, Upload, bad_request

__all__ = ["BUILTIN_METHODS", "ApiMethods", "MethodHandler"]

MethodHandler = Callable[[CallContext], Awaitable[Any]]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_TOAST_LENGTH = 200  # answerCallbackQuery text
MAX_CALLBACK_DATA_BYTES = 64
CLOUD_DOWNLOAD_LIMIT = 20 * MiB
LOCAL_DOWNLOAD_LIMIT = 2000 * MiB
CLOUD_UPLOAD_LIMIT = 50 * MiB
LOCAL_UPLOAD_LIMIT = 2000 * MiB

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_URL_RE = re.compile(r"^(https?|tg)://[^\s]+$", re.IGNORECASE)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COPY_KEYS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
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
    "has_media_spoiler",
    "show_caption_above_media",
    "link_preview_options",
)
_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_MEDIA_DEFAULTS: dict[str, tuple[str, str]] = {
    # kind -> (default mime type, default file name)
    "document": ("application/octet-stream", "document"),
    "video": ("video/mp4", "video.mp4"),
    "animation": ("video/mp4", "animation.mp4"),
    "audio": ("audio/mpeg", "audio.mp3"),
    "voice": ("audio/ogg", ""),
    "video_note": ("video/mp4", ""),
    "sticker": ("image/webp", ""),
}

BUILTIN_METHODS: tuple[str, ...] = (
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "deleteMessage",
    "deleteMessages",
    "sendLocation",
    "sendVenue",
    "sendContact",
    "sendDice",
    "sendPhoto",
    "sendVideo",
    "sendDocument",
    "sendAudio",
    "sendVoice",
    "sendAnimation",
    "sendVideoNote",
    "sendSticker",
    "sendMediaGroup",
    "copyMessage",
    "copyMessages",
    "forwardMessage",
    "forwardMessages",
    "getFile",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
    "setMyName",
    "getMyName",
    "setChatMenuButton",
    "getChatMenuButton",
    "getChat",
    "getChatMember",
    "getChatAdministrators",
    "getChatMemberCount",
    "createForumTopic",
    "sendChatAction",
    "pinChatMessage",
    "unpinChatMessage",
    "unpinAllChatMessages",
)
"""Official names of the methods the fake implements."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Size of an uploaded photo; None when Pillow is unavailable.

    Raises:
        ApiError: ``IMAGE_PROCESS_FAILED`` for data that isn't an image and
            ``PHOTO_INVALID_DIMENSIONS`` for images Telegram refuses as photos.
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a test dependency
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = int(image.size[0]), int(image.size[1])
    except Exception:  # anything Pillow can't open is not a photo
        raise bad_request("IMAGE_PROCESS_FAILED") from None
    if width + height > 10_000 or max(width, height) > 20 * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return width, height


@dataclass
class _Target:
    chat: ChatState
    thread_id: int | None
    reply_to: StoredMessage | None
    markup: dict[str, Any] | None


class ApiMethods(FakeTelegramCore):
    """The Bot API methods (mixed into ``FakeTelegram``)."""

    webhook: dict[str, Any] | None
    commands: dict[tuple[str, str], list[dict[str, str]]]
    bot_texts: dict[tuple[str, str], str]
    menu_buttons: dict[int | None, dict[str, Any]]

    def _init_methods(self) -> None:
        self.webhook = None
        self.commands = {}
        self.bot_texts = {}
        self.menu_buttons = {}

    def builtin_handlers(self) -> dict[str, MethodHandler]:
        """Official method name -> bound handler."""
        return {name: getattr(self, f"api_{_snake(name)}") for name in BUILTIN_METHODS}

    # ================================================================ parsing helpers

    def _parse(self, text: str, parse_mode: str | None, entities: list[Any] | None) -> ParsedText:
        try:
            return parse_text(text, parse_mode, entities)
        except EntityParseError as err:
            raise bad_request(f"can't parse entities: {err}") from err
        except LookupError as err:
            raise bad_request(f"unsupported parse_mode {parse_mode!r}") from err

    @staticmethod
    def _is_html(parse_mode: str | None, entities: list[Any] | None) -> bool:
        return not entities and (parse_mode or "").strip().lower() == "html"

    def _text_content(self, ctx: CallContext) -> tuple[dict[str, Any], str | None]:
        """``text``/``entities`` fields and the original HTML of a text message."""
        raw = ctx.get_str("text")
        if raw is None:
            raise bad_request("message text is empty")
        parse_mode = ctx.get_str("parse_mode")
        entities = ctx.get_list("entities")
        parsed = self._parse(raw, parse_mode, entities)
        if not parsed.text.strip():
            raise bad_request("message text is empty")
        # Telegram counts UTF-16 code units of the visible text, not characters: an emoji
        # outside the BMP is two.
        if utf16_len(parsed.text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        content: dict[str, Any] = {"text": parsed.text}
        if parsed.entities:
            content["entities"] = parsed.entities
        link_preview = ctx.get_dict("link_preview_options")
        if link_preview:
            content["link_preview_options"] = link_preview
        return content, raw if self._is_html(parse_mode, entities) else None

    def _caption_content(
        self,
        caption: str | None,
        parse_mode: str | None,
        entities: list[Any] | None,
    ) -> tuple[dict[str, Any], str | None]:
        """``caption``/``caption_entities`` fields (empty when no caption)."""
        if caption is None or caption == "":
            return {}, None
        parsed = self._parse(caption, parse_mode, entities)
        if utf16_len(parsed.text) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        if not parsed.text.strip():
            return {}, None
        content: dict[str, Any] = {"caption": parsed.text}
        if parsed.entities:
            content["caption_entities"] = parsed.entities
        return content, caption if self._is_html(parse_mode, entities) else None

    def _ctx_caption(self, ctx: CallContext) -> tuple[dict[str, Any], str | None]:
        content, html = self._caption_content(
            ctx.get_str("caption"), ctx.get_str("parse_mode"), ctx.get_list("caption_entities")
        )
        if content and ctx.get_bool("show_caption_above_media"):
            content["show_caption_above_media"] = True
        return content, html

    # ================================================================ markup

    def _validate_markup(self, markup: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
        """Check ``reply_markup`` like Telegram; return it as a dict."""
        if markup is None or markup == "":
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError as err:
                raise bad_request("can't parse reply keyboard markup JSON object") from err
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array '
                    "of Arrays"
                )
            total = 0
            for row in rows:
                for button in row:
                    total += 1
                    self._validate_inline_button(button)
            if total > 100:
                raise bad_request("reply markup is too long")
            return markup
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
                )
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text:
                        raise bad_request("keyboard button text must be non-empty")
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _validate_inline_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise bad_request('can\'t find field "text"')
        actions = [key for key in _INLINE_ACTIONS if key in button]
        if not actions:
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not _URL_RE.match(url):
                raise bad_request(f"inline keyboard button URL '{url}' is invalid")

    # ================================================================ sending

    def _send_target(self, ctx: CallContext, *, with_markup: bool = True) -> _Target:
        """Resolve and check chat, thread, reply target and markup of a send* call."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        self._check_bot_can_write(chat)
        thread_id = ctx.get_int("message_thread_id")
        if thread_id is not None and (chat.type == "private" or thread_id not in chat.topics):
            raise bad_request("message thread not found")
        reply_to: StoredMessage | None = None
        reply = ctx.get_dict("reply_parameters")
        reply_id: int | None = None
        allow_without = ctx.get_bool("allow_sending_without_reply")
        if reply is not None:
            reply_ctx = CallContext(ctx.method, reply)
            reply_id = reply_ctx.get_int("message_id", required=True)
            allow_without = reply_ctx.get_bool("allow_sending_without_reply")
        else:
            reply_id = ctx.get_int("reply_to_message_id")
        if reply_id is not None:
            reply_to = chat.live(reply_id)
            if reply_to is None and not allow_without:
                raise bad_request("message to be replied not found")
        markup = self._validate_markup(ctx.get("reply_markup")) if with_markup else None
        return _Target(chat, thread_id, reply_to, markup)

    def _deliver(
        self, target: _Target, items: list[tuple[dict[str, Any], str | None]]
    ) -> list[StoredMessage]:
        """Create the bot's messages (after the group limit check) and count them."""
        self._check_group_limit(target.chat, len(items))
        stored = [
            self._add_message(
                target.chat,
                content,
                sender=self.bot_user,
                from_bot=True,
                html=html,
                sent_markup=target.markup,
                reply_to=target.reply_to,
                thread_id=target.thread_id,
            )
            for content, html in items
        ]
        self._note_group_sends(target.chat, len(items))
        return stored

    @staticmethod
    def _out(message: StoredMessage) -> dict[str, Any]:
        return copy.deepcopy(message.data)

    # ================================================================ files

    def _upload_limit(self) -> int:
        return LOCAL_UPLOAD_LIMIT if self.local_mode else CLOUD_UPLOAD_LIMIT

    def _file_from_upload(
        self, ctx: CallContext, field: str, upload: Upload, kind: str, meta: dict[str, Any]
    ) -> FakeFile:
        if not upload.data:
            raise bad_request("file must be non-empty")
        if len(upload.data) > self._upload_limit():
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo":
            size = _image_size(upload.data) or (1280, 960)
            width, height = size
            scale = 90 / max(width, height, 1)
            thumb_w, thumb_h = max(1, round(width * scale)), max(1, round(height * scale))
            thumb = self.files.add(
                kind="photo",
                content=sample_jpeg(thumb_w, thumb_h, self._next_number()),
                mime_type="image/jpeg",
                width=thumb_w,
                height=thumb_h,
            )
            full = self.files.add(
                kind="photo",
                content=upload.data,
                mime_type="image/jpeg",
                width=width,
                height=height,
            )
            sizes = [thumb, full]
            thumb.photo_sizes = full.photo_sizes = sizes
            ctx.created_files[field] = full
            return full
        default_mime, default_name = _MEDIA_DEFAULTS[kind]
        mime = upload.content_type or default_mime
        if kind == "document" and mime in ("application/octet-stream", ""):
            mime = default_mime
        extra = {k: v for k, v in meta.items() if k not in ("width", "height", "duration")}
        created = self.files.add(
            kind=kind,
            content=upload.data,
            mime_type=mime,
            file_name=(upload.filename or default_name or None)
            if kind in ("document", "video", "animation", "audio")
            else None,
            width=meta.get("width"),
            height=meta.get("height"),
            duration=meta.get("duration"),
            extra=extra,
        )
        ctx.created_files[field] = created
        return created

    def _media_file(
        self,
        ctx: CallContext,
        field: str,
        kind: str,
        *,
        value: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> FakeFile:
        """Resolve media given as an upload, ``attach://name`` or a file_id."""
        meta = meta or {}
        upload = ctx.uploads.get(field) if value is None else None
        if value is None:
            value = ctx.get(field)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = ctx.uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        if upload is not None:
            return self._file_from_upload(ctx, upload.name, upload, kind, meta)
        if value is None or value == "":
            raise bad_request(f"there is no {field} in the request")
        if not isinstance(value, str):
            raise bad_request("wrong file identifier/HTTP URL specified")
        found = self.files.get(value)
        if found is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if (found.kind == "photo") != (kind == "photo"):
            raise bad_request(
                f"can't use file of type {found.kind.title()} as {kind.replace('_', ' ').title()}"
            )
        return found

    def _meta(self, ctx: CallContext, kind: str) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        keys = {
            "video": ("duration", "width", "height"),
            "animation": ("duration", "width", "height"),
            "audio": ("duration", "performer", "title"),
            "voice": ("duration",),
            "video_note": ("duration", "length"),
        }.get(kind, ())
        for key in keys:
            if ctx.has(key):
                meta[key] = ctx.get_str(key) if key in ("performer", "title") else ctx.get_int(key)
        if kind == "video_note" and "length" in meta:
            meta["width"] = meta["height"] = meta["length"]
        return meta

    async def _send_media(self, ctx: CallContext, kind: str) -> dict[str, Any]:
        target = self._send_target(ctx)
        caption: dict[str, Any] = {}
        html: str | None = None
        if kind not in ("video_note", "sticker"):
            caption, html = self._ctx_caption(ctx)  # validated before the upload is stored
        media = self._media_file(ctx, kind, kind, meta=self._meta(ctx, kind))
        content = media.message_fields()
        content.update(caption)
        if kind in ("photo", "video", "animation") and ctx.get_bool("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._out(self._deliver(target, [(content, html)])[0])

    # ================================================================ bot & updates

    async def api_get_me(self, ctx: CallContext) -> dict[str, Any]:
        """The bot's ``User`` (with ``can_join_groups`` etc.)."""
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def api_log_out(self, ctx: CallContext) -> bool:
        """Always succeeds (recorded only)."""
        return True

    async def api_close(self, ctx: CallContext) -> bool:
        """Always succeeds (recorded only)."""
        return True

    async def api_get_updates(self, ctx: CallContext) -> list[dict[str, Any]]:
        """Long poll: confirm ``offset``, wait up to ``timeout`` s for updates, ``limit``."""
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = ctx.get_int("offset")
        limit = ctx.get_int("limit") or 100
        limit = min(max(limit, 1), 100)
        timeout = max(0.0, ctx.get_float("timeout") or 0.0)
        allowed = ctx.get_list("allowed_updates")
        if allowed is not None:
            self._allowed_updates = (
                frozenset(str(a) for a in allowed) if allowed else DEFAULT_ALLOWED_UPDATES
            )
        self._confirm_updates(offset)
        deadline = time.monotonic() + timeout
        while True:
            updates = self._take_updates(limit)
            if updates or self._closing:
                return updates
            if not await self._wait_changed(deadline - time.monotonic()):
                return self._take_updates(limit)

    async def api_set_webhook(self, ctx: CallContext) -> bool:
        """Store the webhook (no deliveries are made); empty url removes it."""
        url = ctx.get_str("url") or ""
        if not url:
            self.webhook = None
            return True
        if not url.lower().startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if ctx.get_bool("drop_pending_updates"):
            self._updates.clear()
        allowed = ctx.get_list("allowed_updates")
        if allowed is not None:
            self._allowed_updates = (
                frozenset(str(a) for a in allowed) if allowed else DEFAULT_ALLOWED_UPDATES
            )
        self.webhook = {
            "url": url,
            "secret_token": ctx.get_str("secret_token"),
            "max_connections": ctx.get_int("max_connections") or 40,
            "allowed_updates": allowed,
        }
        return True

    async def api_delete_webhook(self, ctx: CallContext) -> bool:
        """Remove the webhook; ``drop_pending_updates`` empties the queue."""
        self.webhook = None
        if ctx.get_bool("drop_pending_updates"):
            self._updates.clear()
        return True

    async def api_get_webhook_info(self, ctx: CallContext) -> dict[str, Any]:
        """``WebhookInfo`` with the queue length as ``pending_update_count``."""
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook["allowed_updates"] is not None:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    # ================================================================ messages

    async def api_send_message(self, ctx: CallContext) -> dict[str, Any]:
        """Text message: 1..4096 chars after entity parsing, markup validated."""
        target = self._send_target(ctx)
        content, html = self._text_content(ctx)
        return self._out(self._deliver(target, [(content, html)])[0])

    def _edit_target(self, ctx: CallContext) -> tuple[ChatState, StoredMessage]:
        if ctx.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._resolve_chat(ctx.require("chat_id"))
        message_id = ctx.get_int(
            "message_id", required=True, reason="message identifier is not specified"
        )
        assert message_id is not None
        message = chat.live(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot or message.is_service:
            raise bad_request("message can't be edited")
        return chat, message

    @staticmethod
    def _not_modified() -> ApiError:
        return bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )

    def _edit_markup(self, ctx: CallContext) -> dict[str, Any] | None:
        markup = self._validate_markup(ctx.get("reply_markup"), inline_only=True)
        if markup is None or not markup.get("inline_keyboard"):
            return None
        return {"inline_keyboard": markup["inline_keyboard"]}

    def _apply_edit(
        self,
        message: StoredMessage,
        fields: dict[str, Any],
        field_names: tuple[str, ...],
        markup: dict[str, Any] | None,
        html: str | None,
        *,
        keep_html: bool = False,
    ) -> dict[str, Any]:
        current = {key: message.data.get(key) for key in field_names}
        new = {key: fields.get(key) for key in field_names}
        if current == new and message.data.get("reply_markup") == markup:
            raise self._not_modified()
        removals = [key for key in field_names if key not in fields]
        changes = dict(fields)
        if markup is None:
            removals.append("reply_markup")
        else:
            changes["reply_markup"] = markup
        self._edit_message(message, changes, removals)
        if not keep_html:
            message.html = html
        return self._out(message)

    async def api_edit_message_text(self, ctx: CallContext) -> dict[str, Any]:
        """Edit a bot text message; identical content+markup -> ``message is not modified``.

        As in Telegram, omitting ``reply_markup`` removes the inline keyboard.
        """
        _chat, message = self._edit_target(ctx)
        if "text" not in message.data:
            raise bad_request("there is no text in the message to edit")
        content, html = self._text_content(ctx)
        markup = self._edit_markup(ctx)
        return self._apply_edit(
            message, content, ("text", "entities", "link_preview_options"), markup, html
        )

    async def api_edit_message_caption(self, ctx: CallContext) -> dict[str, Any]:
        """Edit the caption of a bot media message (empty caption removes it)."""
        _chat, message = self._edit_target(ctx)
        if "text" in message.data or not any(
            k in message.data for k in ("photo", "video", "animation", "document", "audio", "voice")
        ):
            raise bad_request("there is no caption in the message to edit")
        content, html = self._ctx_caption(ctx)
        markup = self._edit_markup(ctx)
        return self._apply_edit(
            message,
            content,
            ("caption", "caption_entities", "show_caption_above_media"),
            markup,
            html,
        )

    async def api_edit_message_reply_markup(self, ctx: CallContext) -> dict[str, Any]:
        """Replace (or, without ``reply_markup``, remove) the inline keyboard."""
        _chat, message = self._edit_target(ctx)
        markup = self._edit_markup(ctx)
        return self._apply_edit(message, {}, (), markup, None, keep_html=True)

    async def api_answer_callback_query(self, ctx: CallContext) -> bool:
        """Answer a pressed button once; the answer is stored on the ``FakeUser``."""
        query_id = ctx.get_str("callback_query_id") or ""
        pending = self._callback_queries.get(query_id)
        if pending is None or pending.answered:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = ctx.get_str("text")
        if text is not None and utf16_len(text) > MAX_TOAST_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        pending.answered = True
        pending.user._record_callback_answer(
            query_id,
            text=text,
            show_alert=ctx.get_bool("show_alert"),
            url=ctx.get_str("url"),
            cache_time=ctx.get_int("cache_time") or 0,
        )
        self._bump()
        return True

    def _check_deletable(self, chat: ChatState, message: StoredMessage) -> None:
        if self.clock.time() - message.created_at > DELETE_WINDOW_SECONDS:
            raise bad_request("message can't be deleted for everyone")
        if message.is_service and "forum_topic_created" in message.data:
            raise bad_request("message can't be deleted")
        if chat.type != "private" and not message.from_bot and not self._bot_is_admin(chat):
            raise bad_request("message can't be deleted")

    async def api_delete_message(self, ctx: CallContext) -> bool:
        """Delete one message (48 h window on the fake clock; admin rights in groups)."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        if chat.type == "private" and chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        message_id = ctx.get_int(
            "message_id", required=True, reason="message identifier is not specified"
        )
        assert message_id is not None
        message = chat.live(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        self._check_deletable(chat, message)
        self._delete_message(chat, message)
        return True

    async def api_delete_messages(self, ctx: CallContext) -> bool:
        """Delete 1..100 messages; missing/undeletable ones are skipped; returns True."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        ids = ctx.get_list("message_ids")
        if not ids:
            raise bad_request("message identifiers are not specified")
        if len(ids) > 100:
            raise bad_request("too many message identifiers specified")
        for raw_id in ids:
            if not isinstance(raw_id, int) or isinstance(raw_id, bool):
                raise bad_request("invalid message identifier specified")
            message = chat.live(raw_id)
            if message is None:
                continue
            try:
                self._check_deletable(chat, message)
            except ApiError:
                continue
            self._delete_message(chat, message)
        return True

    # ================================================================ other content

    @staticmethod
    def _location(ctx: CallContext) -> dict[str, Any]:
        latitude = ctx.get_float("latitude", required=True)
        longitude = ctx.get_float("longitude", required=True)
        assert latitude is not None
        assert longitude is not None
        if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
            raise bad_request("wrong coordinates specified")
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        for key in ("horizontal_accuracy",):
            value = ctx.get_float(key)
            if value is not None:
                location[key] = value
        for key in ("live_period", "heading", "proximity_alert_radius"):
            int_value = ctx.get_int(key)
            if int_value is not None:
                location[key] = int_value
        return location

    async def api_send_location(self, ctx: CallContext) -> dict[str, Any]:
        """Location message (coordinates range-checked)."""
        target = self._send_target(ctx)
        content = {"location": self._location(ctx)}
        return self._out(self._deliver(target, [(content, None)])[0])

    async def api_send_venue(self, ctx: CallContext) -> dict[str, Any]:
        """Venue message (``venue`` + ``location``)."""
        target = self._send_target(ctx)
        location = self._location(ctx)
        title = ctx.get_str("title")
        address = ctx.get_str("address")
        if not title:
            raise bad_request("title is empty")
        if not address:
            raise bad_request("address is empty")
        venue: dict[str, Any] = {"location": location, "title": title, "address": address}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            value = ctx.get_str(key)
            if value:
                venue[key] = value
        content = {"venue": venue, "location": location}
        return self._out(self._deliver(target, [(content, None)])[0])

    async def api_send_contact(self, ctx: CallContext) -> dict[str, Any]:
        """Contact message."""
        target = self._send_target(ctx)
        phone = ctx.get_str("phone_number")
        first_name = ctx.get_str("first_name")
        if not phone:
            raise bad_request("phone_number is empty")
        if not first_name:
            raise bad_request("first_name is empty")
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
        for key in ("last_name", "vcard"):
            value = ctx.get_str(key)
            if value:
                contact[key] = value
        return self._out(self._deliver(target, [({"contact": contact}, None)])[0])

    async def api_send_dice(self, ctx: CallContext) -> dict[str, Any]:
        """Dice message with value 1 (🎲 by default)."""
        target = self._send_target(ctx)
        emoji = ctx.get_str("emoji") or "🎲"
        content = {"dice": {"emoji": emoji, "value": 1}}
        return self._out(self._deliver(target, [(content, None)])[0])

    async def api_send_photo(self, ctx: CallContext) -> dict[str, Any]:
        """Photo by upload or photo file_id (all sizes of that photo are sent)."""
        return await self._send_media(ctx, "photo")

    async def api_send_video(self, ctx: CallContext) -> dict[str, Any]:
        """Video by upload (duration/width/height from params) or file_id."""
        return await self._send_media(ctx, "video")

    async def api_send_document(self, ctx: CallContext) -> dict[str, Any]:
        """Document by upload (file name and MIME type from the part) or file_id."""
        return await self._send_media(ctx, "document")

    async def api_send_audio(self, ctx: CallContext) -> dict[str, Any]:
        """Audio by upload or file_id."""
        return await self._send_media(ctx, "audio")

    async def api_send_voice(self, ctx: CallContext) -> dict[str, Any]:
        """Voice by upload or file_id."""
        return await self._send_media(ctx, "voice")

    async def api_send_animation(self, ctx: CallContext) -> dict[str, Any]:
        """Animation by upload or file_id (message also carries ``document``)."""
        return await self._send_media(ctx, "animation")

    async def api_send_video_note(self, ctx: CallContext) -> dict[str, Any]:
        """Video note by upload or file_id (no caption)."""
        return await self._send_media(ctx, "video_note")

    async def api_send_sticker(self, ctx: CallContext) -> dict[str, Any]:
        """Sticker by upload or file_id (no caption)."""
        return await self._send_media(ctx, "sticker")

    async def api_send_media_group(self, ctx: CallContext) -> list[dict[str, Any]]:
        """Album of 2..10 photos/videos, documents or audios sharing a new media_group_id."""
        target = self._send_target(ctx, with_markup=False)
        media = ctx.get_list("media")
        if media is None:
            raise bad_request("there is no media in the request")
        if not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media in the album: must include 2-10 items")
        kinds = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in (
                "photo",
                "video",
                "document",
                "audio",
            ):
                raise bad_request("unsupported media type in the album")
            kinds.append(str(item["type"]))
        for special in ("document", "audio"):
            if special in kinds and any(kind != special for kind in kinds):
                raise bad_request(f"{special} can't be mixed with other media types")
        group_id = self._new_media_group_id()
        items: list[tuple[dict[str, Any], str | None]] = []
        for index, (item, kind) in enumerate(zip(media, kinds, strict=True)):
            item_ctx = CallContext(ctx.method, dict(item), ctx.uploads, ctx.created_files)
            meta = self._meta(item_ctx, kind)
            value = item.get("media")
            if not value:
                raise bad_request(f"there is no media in the album item {index}")
            file = self._media_file(ctx, f"media{index}", kind, value=value, meta=meta)
            content = file.message_fields()
            caption, html = self._caption_content(
                item_ctx.get_str("caption"),
                item_ctx.get_str("parse_mode"),
                item_ctx.get_list("caption_entities"),
            )
            content.update(caption)
            if item_ctx.get_bool("has_spoiler") and kind in ("photo", "video"):
                content["has_media_spoiler"] = True
            if caption and item_ctx.get_bool("show_caption_above_media"):
                content["show_caption_above_media"] = True
            content["media_group_id"] = group_id
            items.append((content, html))
        return [self._out(m) for m in self._deliver(target, items)]

    # ================================================================ copy & forward

    def _source(self, ctx: CallContext, what: str) -> tuple[ChatState, int]:
        chat = self._resolve_chat(ctx.require("from_chat_id"))
        message_id = ctx.get_int(
            "message_id", required=True, reason="message identifier is not specified"
        )
        assert message_id is not None
        if chat.live(message_id) is None:
            raise bad_request(f"message to {what} not found")
        return chat, message_id

    def _copied_content(
        self, source: StoredMessage, *, remove_caption: bool, media_groups: dict[str, str]
    ) -> tuple[dict[str, Any], str | None]:
        if source.is_service:
            raise bad_request("message can't be copied")
        content = {k: copy.deepcopy(v) for k, v in source.data.items() if k in _COPY_KEYS}
        if remove_caption:
            content.pop("caption", None)
            content.pop("caption_entities", None)
        group = source.data.get("media_group_id")
        if group is not None:
            if group not in media_groups:
                media_groups[group] = self._new_media_group_id()
            content["media_group_id"] = media_groups[group]
        return content, source.html

    def _forward_origin(self, source: StoredMessage) -> dict[str, Any]:
        if "forward_origin" in source.data:
            return copy.deepcopy(source.data["forward_origin"])
        sender = source.data.get("from")
        return {"type": "user", "date": source.data["date"], "sender_user": copy.deepcopy(sender)}

    async def api_copy_message(self, ctx: CallContext) -> dict[str, int]:
        """Copy a message (no link to the original); returns ``MessageId``."""
        source_chat, message_id = self._source(ctx, "copy")
        target = self._send_target(ctx)
        source = source_chat.messages[message_id]
        content, html = self._copied_content(source, remove_caption=False, media_groups={})
        content.pop("media_group_id", None)
        if ctx.params.get("caption") is not None and "text" not in content:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            caption, html = self._ctx_caption(ctx)
            content.update(caption)
        stored = self._deliver(target, [(content, html)])[0]
        return {"message_id": stored.message_id}

    def _batch_ids(self, ctx: CallContext) -> list[int]:
        ids = ctx.get_list("message_ids")
        if not ids:
            raise bad_request("message identifiers are not specified")
        if len(ids) > 100:
            raise bad_request("too many message identifiers specified")
        if any(not isinstance(i, int) or isinstance(i, bool) for i in ids):
            raise bad_request("invalid message identifier specified")
        return sorted(set(ids))

    async def api_copy_messages(self, ctx: CallContext) -> list[dict[str, int]]:
        """Copy 1..100 messages (missing ones skipped, albums kept together)."""
        source_chat = self._resolve_chat(ctx.require("from_chat_id"))
        ids = self._batch_ids(ctx)
        target = self._send_target(ctx, with_markup=False)
        groups: dict[str, str] = {}
        remove_caption = ctx.get_bool("remove_caption")
        items = [
            self._copied_content(message, remove_caption=remove_caption, media_groups=groups)
            for message in (source_chat.live(i) for i in ids)
            if message is not None
        ]
        if not items:
            raise bad_request("there are no messages to copy")
        return [{"message_id": m.message_id} for m in self._deliver(target, items)]

    async def api_forward_message(self, ctx: CallContext) -> dict[str, Any]:
        """Forward a message (``forward_origin`` set); returns the new ``Message``."""
        source_chat, message_id = self._source(ctx, "forward")
        target = self._send_target(ctx, with_markup=False)
        source = source_chat.messages[message_id]
        content, html = self._copied_content(source, remove_caption=False, media_groups={})
        content.pop("media_group_id", None)
        content["forward_origin"] = self._forward_origin(source)
        return self._out(self._deliver(target, [(content, html)])[0])

    async def api_forward_messages(self, ctx: CallContext) -> list[dict[str, int]]:
        """Forward 1..100 messages (missing ones skipped)."""
        source_chat = self._resolve_chat(ctx.require("from_chat_id"))
        ids = self._batch_ids(ctx)
        target = self._send_target(ctx, with_markup=False)
        groups: dict[str, str] = {}
        items = []
        for message in (source_chat.live(i) for i in ids):
            if message is None:
                continue
            content, html = self._copied_content(message, remove_caption=False, media_groups=groups)
            content["forward_origin"] = self._forward_origin(message)
            items.append((content, html))
        if not items:
            raise bad_request("there are no messages to forward")
        return [{"message_id": m.message_id} for m in self._deliver(target, items)]

    # ================================================================ files

    async def api_get_file(self, ctx: CallContext) -> dict[str, Any]:
        """``File`` with a relative ``file_path``; >20 MB fails unless ``local_mode``."""
        file_id = ctx.get_str("file_id")
        if not file_id:
            raise bad_request("file_id is empty")
        found = self.files.get(file_id)
        if found is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        limit = LOCAL_DOWNLOAD_LIMIT if self.local_mode else CLOUD_DOWNLOAD_LIMIT
        if found.size > limit:
            raise bad_request("file is too big")
        found.path_issued = True
        return found.get_file_api()

    # ================================================================ commands & profile

    def _scope_key(self, ctx: CallContext) -> tuple[str, str]:
        scope = ctx.get_dict("scope") or {"type": "default"}
        kind = scope.get("type")
        if kind not in _SCOPE_TYPES:
            raise bad_request("unsupported bot command scope type")
        if kind in ("chat", "chat_administrators", "chat_member"):
            chat = self._resolve_chat(scope.get("chat_id"))
            scope = {**scope, "chat_id": chat.id}
        if kind == "chat_member" and scope.get("user_id") is None:
            raise bad_request("user not found")
        language = ctx.get_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    async def api_set_my_commands(self, ctx: CallContext) -> bool:
        """Store commands for (scope, language); validates names and descriptions."""
        commands = ctx.get_list("commands")
        if commands is None:
            raise bad_request("commands is empty")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.match(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key = self._scope_key(ctx)
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    async def api_get_my_commands(self, ctx: CallContext) -> list[dict[str, str]]:
        """Commands for exactly this (scope, language) — no fallback, as in the real API."""
        return copy.deepcopy(self.commands.get(self._scope_key(ctx), []))

    async def api_delete_my_commands(self, ctx: CallContext) -> bool:
        """Delete commands of (scope, language)."""
        self.commands.pop(self._scope_key(ctx), None)
        return True

    def _set_bot_text(self, ctx: CallContext, name: str, limit: int) -> bool:
        value = ctx.get_str(name) or ""
        if len(value) > limit:
            raise bad_request(f"{name} is too long")
        self.bot_texts[(name, ctx.get_str("language_code") or "")] = value
        return True

    def _get_bot_text(self, ctx: CallContext, name: str) -> dict[str, str]:
        language = ctx.get_str("language_code") or ""
        value = self.bot_texts.get((name, language))
        if value is None:
            value = self.bot_texts.get((name, ""), "")
        if name == "name" and not value:
            value = str(self.bot_user["first_name"])
        return {name: value}

    async def api_set_my_description(self, ctx: CallContext) -> bool:
        """Store the description (<= 512 chars) per language."""
        return self._set_bot_text(ctx, "description", 512)

    async def api_get_my_description(self, ctx: CallContext) -> dict[str, str]:
        """The stored description (falls back to the default language)."""
        return self._get_bot_text(ctx, "description")

    async def api_set_my_short_description(self, ctx: CallContext) -> bool:
        """Store the short description (<= 120 chars) per language."""
        return self._set_bot_text(ctx, "short_description", 120)

    async def api_get_my_short_description(self, ctx: CallContext) -> dict[str, str]:
        """The stored short description."""
        return self._get_bot_text(ctx, "short_description")

    async def api_set_my_name(self, ctx: CallContext) -> bool:
        """Store the bot name (<= 64 chars) per language."""
        return self._set_bot_text(ctx, "name", 64)

    async def api_get_my_name(self, ctx: CallContext) -> dict[str, str]:
        """The stored bot name (default: the bot's first name)."""
        return self._get_bot_text(ctx, "name")

    async def api_set_chat_menu_button(self, ctx: CallContext) -> bool:
        """Store the menu button for a chat or the default one."""
        chat_id = self._resolve_chat(ctx.get("chat_id")).id if ctx.has("chat_id") else None
        self.menu_buttons[chat_id] = ctx.get_dict("menu_button") or {"type": "default"}
        return True

    async def api_get_chat_menu_button(self, ctx: CallContext) -> dict[str, Any]:
        """The stored menu button (``{"type": "default"}`` if none)."""
        chat_id = self._resolve_chat(ctx.get("chat_id")).id if ctx.has("chat_id") else None
        button = self.menu_buttons.get(chat_id) or self.menu_buttons.get(None)
        return copy.deepcopy(button or {"type": "default"})

    # ================================================================ chats

    async def api_get_chat(self, ctx: CallContext) -> dict[str, Any]:
        """``ChatFullInfo`` of a known chat (a private chat only once the user wrote)."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        info: dict[str, Any] = {
            **chat.chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
            **copy.deepcopy(chat.full_info),
        }
        if chat.pinned:
            pinned = chat.live(chat.pinned[-1])
            if pinned is not None:
                info["pinned_message"] = self._out(pinned)
        return info

    def _member_status(self, chat: ChatState, user_id: int) -> str:
        if user_id == self.bot_id:
            return chat.bot_status if chat.type != "private" else "member"
        if chat.type == "private":
            if user_id != chat.id:
                raise bad_request("user not found")
            return "member"
        if user_id in chat.members:
            return chat.members[user_id]
        if user_id in self._users:
            return "left"
        raise bad_request("user not found")

    async def api_get_chat_member(self, ctx: CallContext) -> dict[str, Any]:
        """``ChatMember`` by the status set through ``FakeGroup.add_member`` etc."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        user_id = ctx.get_int("user_id", required=True)
        assert user_id is not None
        status = self._member_status(chat, user_id)
        return self._member_json(
            self._user_json(user_id), status, custom_title=chat.admin_titles.get(user_id)
        )

    async def api_get_chat_administrators(self, ctx: CallContext) -> list[dict[str, Any]]:
        """Creator and administrators (the bot included when it is one)."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        admins = [
            self._member_json(self._user_json(uid), status, custom_title=chat.admin_titles.get(uid))
            for uid, status in chat.members.items()
            if status in ("creator", "administrator")
        ]
        if self._bot_is_admin(chat):
            admins.append(self._member_json(dict(self.bot_user), chat.bot_status))
        return admins

    async def api_get_chat_member_count(self, ctx: CallContext) -> int:
        """Members (not left/kicked) plus the bot."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        if chat.type == "private":
            return 2
        present = [s for s in chat.members.values() if s not in ("left", "kicked")]
        return len(present) + (1 if chat.bot_status not in ("left", "kicked") else 0)

    async def api_create_forum_topic(self, ctx: CallContext) -> dict[str, Any]:
        """Create a topic in a forum supergroup (bot must be admin); returns ``ForumTopic``.

        A ``forum_topic_created`` service message is added; its id is the thread id.
        """
        chat = self._resolve_chat(ctx.require("chat_id"))
        self._check_bot_can_write(chat)
        if chat.type == "private" or not chat.chat.get("is_forum"):
            raise bad_request("the chat is not a forum")
        if not self._bot_is_admin(chat):
            raise bad_request("not enough rights to create a topic")
        name = ctx.get_str("name") or ""
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        color = ctx.get_int("icon_color") or 7322096
        topic: dict[str, Any] = {"name": name, "icon_color": color}
        emoji = ctx.get_str("icon_custom_emoji_id")
        if emoji:
            topic["icon_custom_emoji_id"] = emoji
        thread_id = chat.next_message_id
        chat.topics[thread_id] = {"message_thread_id": thread_id, **topic}
        self._add_message(
            chat,
            {"forum_topic_created": topic},
            sender=self.bot_user,
            from_bot=True,
            thread_id=thread_id,
            is_service=True,
        )
        return copy.deepcopy(chat.topics[thread_id])

    async def api_send_chat_action(self, ctx: CallContext) -> bool:
        """Validate the action name; nothing is shown."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        self._check_bot_can_write(chat)
        action = ctx.get_str("action")
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def api_pin_chat_message(self, ctx: CallContext) -> bool:
        """Pin a message (groups need admin rights); adds a ``pinned_message`` service message."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        self._check_bot_can_write(chat)
        if chat.type != "private" and not self._bot_is_admin(chat):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        message_id = ctx.get_int(
            "message_id", required=True, reason="message identifier is not specified"
        )
        assert message_id is not None
        message = chat.live(message_id)
        if message is None or message.is_service:
            raise bad_request("message to pin not found")
        if message_id in chat.pinned:
            chat.pinned.remove(message_id)
        chat.pinned.append(message_id)
        pinned = {k: v for k, v in message.data.items() if k != "reply_to_message"}
        self._add_message(
            chat,
            {"pinned_message": pinned},
            sender=self.bot_user,
            from_bot=True,
            is_service=True,
        )
        return True

    async def api_unpin_chat_message(self, ctx: CallContext) -> bool:
        """Unpin the given (or the latest) pinned message."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        if chat.type != "private" and not self._bot_is_admin(chat):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        message_id = ctx.get_int("message_id")
        if message_id is None:
            if chat.pinned:
                chat.pinned.pop()
        elif message_id in chat.pinned:
            chat.pinned.remove(message_id)
        else:
            raise bad_request("message to unpin not found")
        self._bump()
        return True

    async def api_unpin_all_chat_messages(self, ctx: CallContext) -> bool:
        """Unpin everything."""
        chat = self._resolve_chat(ctx.require("chat_id"))
        if chat.type != "private" and not self._bot_is_admin(chat):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        chat.pinned.clear()
        self._bump()
        return True
