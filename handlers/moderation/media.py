"""Sending a tip's files to the moderators by ``file_id`` (no re-upload), in albums of up to
ten, photos and videos behind a spoiler so graphic content is never shown unasked.

Telegram's albums mix photos and videos, or hold only documents, or only audio; voice
messages, video notes and animations travel alone. Files too large for the bot to download
are still on Telegram's servers, so they can be shown too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from telegram import (
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


@dataclass(slots=True)
class Sent:
    """What :func:`send_files` has sent so far, filled as each message goes, so a failure
    halfway still tells which files are in the chat and as which messages."""

    message_ids: list[int] = field(default_factory=list)
    media_ids: list[int] = field(default_factory=list)


def _family(media: Media) -> str:
    if media.kind in ("photo", "video"):
        return "visual"
    if media.kind in ("document", "audio"):
        return media.kind
    return "single"


def _input(media: Media, caption: str | None) -> InputMedia:
    if media.kind == "photo":
        return InputMediaPhoto(media.file_id, caption=caption, has_spoiler=True)
    if media.kind == "video":
        return InputMediaVideo(media.file_id, caption=caption, has_spoiler=True)
    if media.kind == "audio":
        return InputMediaAudio(media.file_id, caption=caption)
    return InputMediaDocument(media.file_id, caption=caption)


def plan(files: Sequence[Media]) -> list[list[Media]]:
    """The messages to send: albums of one family, up to ten, in the files' order."""
    batches: list[list[Media]] = []
    by_family: dict[str, list[Media]] = {}
    for media in files:
        family = _family(media)
        if family == "single":
            batches.append([media])
            continue
        current = by_family.get(family)
        if current is None or len(current) == ALBUM:
            current = []
            by_family[family] = current
            batches.append(current)
        current.append(media)
    return batches


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
    bot = context.bot
    reply = (
        ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
    )
    thread = None if reply_to else thread_id
    progress = into if into is not None else Sent()
    for index, batch in enumerate(plan(files)):
        # Telegram's caption limit is 1024 UTF-16 units of the shown text.
        text = tgtext.shorten(caption, tgtext.CAPTION) if caption and index == 0 else None
        if len(batch) > 1:
            album = await bot.send_media_group(
                chat_id,
                [_input(media, text if n == 0 else None) for n, media in enumerate(batch)],
                reply_parameters=reply,
                message_thread_id=thread,
            )
            progress.message_ids.extend(message.message_id for message in album)
            progress.media_ids.extend(media.id for media in batch)
            continue
        media = batch[0]
        message: Message
        if media.kind == "photo":
            message = await bot.send_photo(
                chat_id, media.file_id, caption=text, has_spoiler=True,
                reply_parameters=reply, message_thread_id=thread,
            )  # fmt: skip
        elif media.kind == "video":
            message = await bot.send_video(
                chat_id, media.file_id, caption=text, has_spoiler=True,
                reply_parameters=reply, message_thread_id=thread,
            )  # fmt: skip
        elif media.kind == "animation":
            message = await bot.send_animation(
                chat_id, media.file_id, caption=text, has_spoiler=True,
                reply_parameters=reply, message_thread_id=thread,
            )  # fmt: skip
        elif media.kind == "voice":
            message = await bot.send_voice(
                chat_id, media.file_id, caption=text,
                reply_parameters=reply, message_thread_id=thread,
            )  # fmt: skip
        elif media.kind == "audio":
            message = await bot.send_audio(
                chat_id, media.file_id, caption=text,
                reply_parameters=reply, message_thread_id=thread,
            )  # fmt: skip
        elif media.kind == "video_note":
            message = await bot.send_video_note(
                chat_id, media.file_id, reply_parameters=reply, message_thread_id=thread
            )
        else:
            message = await bot.send_document(
                chat_id, media.file_id, caption=text,
                reply_parameters=reply, message_thread_id=thread,
            )  # fmt: skip
        progress.message_ids.append(message.message_id)
        progress.media_ids.append(media.id)
    return list(progress.message_ids)
