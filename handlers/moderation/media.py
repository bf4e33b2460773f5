"""Sending a tip's files to the moderators by ``file_id`` (no re-upload), in albums of up to
ten, photos and videos behind a spoiler so graphic content is never shown unasked.

Telegram's albums mix photos and videos, or hold only documents, or only audio; voice
messages, video notes and animations travel alone. Files too large for the bot to download
are still on Telegram's servers, so they can be shown too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    Bot,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
    ReplyParameters,
)

from bot import tgtext
from db.models import Media
from handlers.base import Ctx

ALBUM = 10
InputMedia = InputMediaPhoto | InputMediaVideo | InputMediaDocument | InputMediaAudio
# Albums mix photos and videos, or hold only documents, or only audio; other kinds travel
# alone.
_FAMILIES = {"photo": "visual", "video": "visual", "document": "document", "audio": "audio"}
# Shown behind a spoiler, so graphic content is never shown unasked.
_SPOILERED = frozenset({"photo", "video", "animation"})
_IN_ALBUMS: dict[str, Callable[..., InputMedia]] = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "audio": InputMediaAudio,
}


@dataclass(slots=True)
class Sent:
    """What :func:`send_files` has sent so far, filled as each message goes, so a failure
    halfway still tells which files are in the chat and as which messages."""

    message_ids: list[int] = field(default_factory=list)
    media_ids: list[int] = field(default_factory=list)


def _family(media: Media) -> str:
    return _FAMILIES.get(media.kind, "single")


def _spoiler(media: Media) -> dict[str, Any]:
    return {"has_spoiler": True} if media.kind in _SPOILERED else {}


def _input(media: Media, caption: str | None) -> InputMedia:
    make = _IN_ALBUMS.get(media.kind, InputMediaDocument)
    return make(media.file_id, caption=caption, **_spoiler(media))


def plan(files: Sequence[Media]) -> list[list[Media]]:
    """The messages to send: albums of one family, up to ten, in the files' order."""
    batches: list[list[Media]] = []
    by_family: dict[str, list[Media]] = {}
    for media in files:
        family = _family(media)
        current = by_family.get(family)
        if family == "single" or current is None or len(current) == ALBUM:
            current = by_family[family] = []
            batches.append(current)
        current.append(media)
    return batches


def _sender(bot: Bot, kind: str) -> Callable[..., Awaitable[Message]]:
    """The Bot API method that sends one file of ``kind`` on its own."""
    senders: dict[str, Callable[..., Awaitable[Message]]] = {
        "photo": bot.send_photo,
        "video": bot.send_video,
        "animation": bot.send_animation,
        "voice": bot.send_voice,
        "audio": bot.send_audio,
        "video_note": bot.send_video_note,
    }
    return senders.get(kind, bot.send_document)


async def _send_one(
    bot: Bot, chat_id: int, media: Media, caption: str | None, where: dict[str, Any]
) -> list[Message]:
    # A video note takes no caption.
    text = {} if media.kind == "video_note" else {"caption": caption}
    send = _sender(bot, media.kind)
    return [await send(chat_id, media.file_id, **text, **_spoiler(media), **where)]


async def _send_batch(
    bot: Bot, chat_id: int, batch: list[Media], caption: str | None, where: dict[str, Any]
) -> Sequence[Message]:
    if len(batch) == 1:
        return await _send_one(bot, chat_id, batch[0], caption, where)
    album = [_input(media, caption if n == 0 else None) for n, media in enumerate(batch)]
    return await bot.send_media_group(chat_id, album, **where)


async def send_files(
    context: Ctx,
    chat_id: int,
    files: Sequence[Media],
    *,
    reply_to: int | None,
    thread_id: int | None = None,
    caption: str | None = None,
    into: Sent | None = None,
) -> list[int]:
    """Send ``files`` as replies to ``reply_to``; return the ids of the messages sent (also
    recorded in ``into`` batch by batch)."""
    where = _where(reply_to, thread_id)
    progress = into if into is not None else Sent()
    # Telegram's caption limit is 1024 UTF-16 units of the shown text.
    text = tgtext.shorten(caption, tgtext.CAPTION) if caption else None
    for batch in plan(files):
        sent = await _send_batch(context.bot, chat_id, batch, text, where)
        progress.message_ids.extend(message.message_id for message in sent)
        progress.media_ids.extend(media.id for media in batch)
        text = None  # the caption goes with the first message only
    return list(progress.message_ids)


def _where(reply_to: int | None, thread_id: int | None) -> dict[str, Any]:
    """A reply goes where the message it replies to is; else into ``thread_id``."""
    if not reply_to:
        return {"reply_parameters": None, "message_thread_id": thread_id}
    reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
    return {"reply_parameters": reply, "message_thread_id": None}
