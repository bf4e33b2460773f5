"""Simulated Telegram users and groups: what a test does instead of a human.

A :class:`FakeUser` acts (sends text, presses buttons, shares locations and files) by pushing
updates into the bot's queue, and sees its private chat as its phone would
(:class:`ChatView`).  A :class:`FakeGroup` is a supergroup with members; users act in it by
passing ``chat=group``.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .core import _PendingQuery
from .files import FakeFile, MiB, hash_chunks, sample_bytes, sample_jpeg, virtual_factory
from .markup import utf16_len
from .models import CallbackAnswer, ChatMessage, ChatState, StoredMessage

if TYPE_CHECKING:
    from .core import FakeTelegramCore

__all__ = ["DEFAULT_PHOTO_SIZES", "AlbumItem", "ChatView", "FakeGroup", "FakeUser", "MessageMatch"]

DEFAULT_PHOTO_SIZES: tuple[tuple[int, int], ...] = ((90, 67), (320, 240), (1280, 960))
"""Photo sizes a phone upload typically yields (smallest first)."""

MessageMatch = str | re.Pattern[str] | Callable[[ChatMessage], bool] | None
"""How to pick a message: substring of the text, regex searched in the text, predicate, or
None for any message."""

ButtonMatch = str | re.Pattern[str]

_MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
_PRESENT = ("creator", "administrator", "member", "restricted")
_SERVICE_KEYS = ("pinned_message", "forum_topic_created")

_DEFAULT_CONTENT: dict[str, tuple[int, str]] = {
    # kind -> (default generated size, MIME type used for the magic bytes)
    "document": (2048, "application/octet-stream"),
    "video": (64 * 1024, "video/mp4"),
    "animation": (16 * 1024, "video/mp4"),
    "audio": (32 * 1024, "audio/mpeg"),
    "voice": (4 * 1024, "audio/ogg"),
    "video_note": (32 * 1024, "video/mp4"),
    "sticker": (8 * 1024, "image/webp"),
}


def _matcher(match: MessageMatch) -> Callable[[ChatMessage], bool]:
    if match is None:
        return lambda _message: True
    if isinstance(match, str):
        return lambda message: match in (message.text or "")
    if isinstance(match, re.Pattern):
        return lambda message: match.search(message.text or "") is not None
    return match


def _button_matches(button: ButtonMatch, text: str) -> bool:
    if isinstance(button, re.Pattern):
        return button.search(text) is not None
    return text == button


@dataclass(frozen=True)
class AlbumItem:
    """One item of an album sent with :meth:`FakeUser.send_album` (build with the classmethods).

    ``content`` gives the bytes; otherwise ``size`` makes a virtual file; otherwise small
    generated content is used.
    """

    kind: str
    content: bytes | None = None
    size: int | None = None
    caption: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    performer: str | None = None
    title: str | None = None
    sizes: tuple[tuple[int, int], ...] = DEFAULT_PHOTO_SIZES
    has_spoiler: bool = False

    @classmethod
    def photo(
        cls,
        content: bytes | None = None,
        *,
        caption: str | None = None,
        sizes: Sequence[tuple[int, int]] = DEFAULT_PHOTO_SIZES,
        has_spoiler: bool = False,
    ) -> AlbumItem:
        """A photo; ``content`` (if given) becomes the largest size."""
        return cls("photo", content, caption=caption, sizes=tuple(sizes), has_spoiler=has_spoiler)

    @classmethod
    def video(
        cls,
        content: bytes | None = None,
        *,
        size: int | None = None,
        caption: str | None = None,
        duration: int = 10,
        width: int = 1280,
        height: int = 720,
        file_name: str = "video.mp4",
        mime_type: str = "video/mp4",
        has_spoiler: bool = False,
    ) -> AlbumItem:
        """A video."""
        return cls(
            "video",
            content,
            size=size,
            caption=caption,
            duration=duration,
            width=width,
            height=height,
            file_name=file_name,
            mime_type=mime_type,
            has_spoiler=has_spoiler,
        )

    @classmethod
    def document(
        cls,
        content: bytes | None = None,
        *,
        file_name: str = "file.bin",
        mime_type: str = "application/octet-stream",
        size: int | None = None,
        caption: str | None = None,
    ) -> AlbumItem:
        """A document (albums of documents can't contain other kinds)."""
        return cls(
            "document",
            content,
            size=size,
            caption=caption,
            file_name=file_name,
            mime_type=mime_type,
        )

    @classmethod
    def audio(
        cls,
        content: bytes | None = None,
        *,
        size: int | None = None,
        caption: str | None = None,
        duration: int = 120,
        performer: str | None = None,
        title: str | None = None,
        file_name: str = "audio.mp3",
        mime_type: str = "audio/mpeg",
    ) -> AlbumItem:
        """An audio file (albums of audio can't contain other kinds)."""
        return cls(
            "audio",
            content,
            size=size,
            caption=caption,
            duration=duration,
            performer=performer,
            title=title,
            file_name=file_name,
            mime_type=mime_type,
        )


class ChatView:
    """A chat as a participant's phone shows it (live: every access reads current state)."""

    def __init__(self, fake: FakeTelegramCore, chat_id: int) -> None:
        """View chat ``chat_id`` of ``fake``."""
        self._fake = fake
        self._view_chat_id = chat_id

    def _state(self) -> ChatState:
        return self._fake._chats[self._view_chat_id]

    @property
    def history(self) -> list[ChatMessage]:
        """Every message ever sent in the chat, in order, deleted ones flagged ``deleted``."""
        return [m.snapshot() for m in self._state().messages.values()]

    @property
    def messages(self) -> list[ChatMessage]:
        """Visible messages (both sides, in order, edits applied, deleted ones removed)."""
        return [m.snapshot() for m in self._state().messages.values() if not m.deleted]

    def message(self, message_id: int) -> ChatMessage:
        """The message with this id (deleted ones too).

        Raises:
            KeyError: no such message.
        """
        return self._state().messages[message_id].snapshot()

    def bot_messages(self) -> list[ChatMessage]:
        """Visible non-service messages from the bot."""
        return [m for m in self.messages if m.from_bot and not m.is_service]

    def last_bot_message(self) -> ChatMessage | None:
        """The latest visible non-service bot message."""
        messages = self.bot_messages()
        return messages[-1] if messages else None

    def last_message(self) -> ChatMessage | None:
        """The latest visible message of anybody."""
        messages = self.messages
        return messages[-1] if messages else None

    def buttons(self) -> list[str]:
        """Texts of the inline buttons of the latest visible bot message with an inline keyboard."""
        for message in reversed(self.bot_messages()):
            if message.inline_buttons:
                return message.button_texts
        return []

    @property
    def reply_keyboard(self) -> list[list[dict[str, Any]]] | None:
        """The reply keyboard shown now (rows of ``KeyboardButton`` dicts) or None.

        A reply keyboard is shown from the bot message that carried it until a message with
        ``ReplyKeyboardRemove`` or another keyboard, until that message is deleted, or — for
        ``one_time_keyboard`` — until the user sends something.
        """
        state = self._state()
        if state.keyboard_message_id is None or state.keyboard_hidden:
            return None
        snapshot = state.messages[state.keyboard_message_id].snapshot()
        if snapshot.reply_keyboard is None:
            return None
        return [list(row) for row in snapshot.reply_keyboard]

    def describe(self, last: int = 10) -> str:
        """The last ``last`` messages of the chat history, one per line."""
        lines = []
        for message in self.history[-last:]:
            who = "bot" if message.from_bot else f"user {message.sender_id}"
            if message.is_service:
                who = "service"
            flags = "".join(
                [" [deleted]" if message.deleted else "", " [edited]" if message.edited else ""]
            )
            kind = f"<{message.media_kind}> " if message.media_kind else ""
            body = f"{kind}{message.text!r}" if message.text is not None else kind.strip()
            if message.is_service:
                body = "<" + ", ".join(k for k in message.raw if k in _SERVICE_KEYS) + ">"
            buttons = f" buttons={message.button_texts}" if message.inline_buttons else ""
            lines.append(f"  #{message.message_id} {who}{flags}: {body}{buttons}")
        return "\n".join(lines) if lines else "  (empty chat)"

    async def wait_for_message(
        self,
        match: MessageMatch = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the helper's contract
        new_only: bool = True,
    ) -> ChatMessage:
        """Wait for a bot message matching ``match`` and return it.

        With ``new_only=True`` (default) only bot messages that are sent *or edited* after this
        call count (a message counts again after each edit); with ``new_only=False`` the
        existing visible bot messages are considered first.  The earliest match (by message
        id) wins.  Service messages never match.

        Raises:
            TimeoutError: after ``timeout`` seconds (real time), listing the chat.
        """
        state = self._state()
        seen = (
            {(m.message_id, m.version) for m in state.messages.values() if m.from_bot}
            if new_only
            else set()
        )
        check = _matcher(match)
        deadline = time.monotonic() + timeout
        while True:
            for stored in list(state.messages.values()):
                if (
                    not stored.from_bot
                    or stored.is_service
                    or stored.deleted
                    or (stored.message_id, stored.version) in seen
                ):
                    continue
                snapshot = stored.snapshot()
                if check(snapshot):
                    return snapshot
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"no {'new ' if new_only else ''}bot message matching {match!r} in chat "
                    f"{self._view_chat_id} within {timeout}s; chat:\n{self.describe()}"
                )
            await self._fake._wait_changed(remaining)


class FakeGroup(ChatView):
    """A supergroup; manage membership here, act in it with ``user.send_text(..., chat=group)``."""

    def __init__(
        self,
        fake: FakeTelegramCore,
        *,
        chat_id: int,
        title: str,
        is_forum: bool = False,
        username: str | None = None,
    ) -> None:
        """Use :meth:`FakeTelegram.group` instead."""
        super().__init__(fake, chat_id)
        self.id = chat_id
        self.title = title
        self.is_forum = is_forum
        self.username = username

    def __repr__(self) -> str:
        return f"FakeGroup(id={self.id}, title={self.title!r})"

    def chat_state_template(self, bot_status: str) -> ChatState:
        """The initial server-side state of this group (internal)."""
        if bot_status not in _MEMBER_STATUSES:
            raise ValueError(f"unknown status {bot_status!r}")
        chat: dict[str, Any] = {"id": self.id, "type": "supergroup", "title": self.title}
        if self.username:
            chat["username"] = self.username
        if self.is_forum:
            chat["is_forum"] = True
        return ChatState(chat=chat, bot_status=bot_status)

    def to_dict(self) -> dict[str, Any]:
        """The ``Chat`` JSON of the group."""
        return dict(self._state().chat)

    @property
    def bot_status(self) -> str:
        """The bot's membership status."""
        return self._state().bot_status

    def set_bot_status(self, status: str) -> None:
        """Change the bot's status (``administrator``, ``member``, ``left``, ``kicked``...)."""
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self._state().bot_status = status

    def add_member(
        self, user: FakeUser, status: str = "member", *, custom_title: str | None = None
    ) -> None:
        """Make ``user`` a member (``member``, ``administrator``, ``creator``, ``restricted``)."""
        if status not in _PRESENT:
            raise ValueError(f"{status!r} is not a membership status")
        state = self._state()
        state.members[user.id] = status
        if custom_title:
            state.admin_titles[user.id] = custom_title
        self._fake._bump()

    def make_public(self, username: str) -> None:
        """Give the group a public username: then anyone can see it and press its inline
        buttons without joining (as in Telegram)."""
        self._state().chat["username"] = username
        self.username = username
        self._fake._bump()

    def remove_member(self, user: FakeUser, *, ban: bool = False) -> None:
        """``user`` leaves (status ``left``), or is banned (``kicked``) with ``ban=True``."""
        state = self._state()
        state.members[user.id] = "kicked" if ban else "left"
        state.admin_titles.pop(user.id, None)
        self._fake._bump()

    def member_status(self, user: FakeUser) -> str:
        """The user's status (``left`` if never added)."""
        return self._state().members.get(user.id, "left")

    @property
    def topics(self) -> dict[int, dict[str, Any]]:
        """Forum topics by ``message_thread_id`` (``ForumTopic`` dicts)."""
        return copy.deepcopy(self._state().topics)

    def delete_topic(self, message_thread_id: int) -> None:
        """A member deletes a forum topic: sending to it fails with "message thread not found"."""
        self._state().topics.pop(message_thread_id)
        self._fake._bump()

    def topic_messages(self, message_thread_id: int) -> list[ChatMessage]:
        """Visible messages of one forum topic."""
        return [m for m in self.messages if m.message_thread_id == message_thread_id]


class FakeUser(ChatView):
    """A Telegram user talking to the bot; also a :class:`ChatView` of the private chat.

    Every action pushes an update into the bot's queue and returns it (a dict).  If
    ``fake.update_waiter`` is set, the action awaits it with the update id before returning.
    In a group where privacy mode hides the message from the bot the update is not queued;
    it is returned with ``"update_id": None``.
    """

    def __init__(
        self,
        fake: FakeTelegramCore,
        *,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool = False,
    ) -> None:
        """Use :meth:`FakeTelegram.user` instead."""
        super().__init__(fake, user_id)
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.is_premium = is_premium
        self.callback_answers: list[CallbackAnswer] = []
        self._query_counter = 0

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def chat_id(self) -> int:
        """Id of the private chat with the bot (== user id)."""
        return self.id

    def to_dict(self) -> dict[str, Any]:
        """The ``User`` JSON."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data

    def private_chat_state(self) -> ChatState:
        """The initial server-side state of the private chat (internal)."""
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return ChatState(chat=chat, bot_status="member", started=False)

    def view(self, chat: FakeGroup | None = None) -> ChatView:
        """The private chat (self) or ``chat`` as this user sees it."""
        return self if chat is None else chat

    @property
    def last_callback_answer(self) -> CallbackAnswer | None:
        """The bot's latest ``answerCallbackQuery`` to this user's button presses."""
        return self.callback_answers[-1] if self.callback_answers else None

    def _record_callback_answer(
        self,
        query_id: str,
        *,
        text: str | None,
        show_alert: bool,
        url: str | None,
        cache_time: int,
    ) -> None:
        self.callback_answers.append(CallbackAnswer(query_id, text, show_alert, url, cache_time))

    # ---------------------------------------------------------------- plumbing

    def _chat_for_action(self, chat: FakeGroup | None, *, visitor: bool = False) -> ChatState:
        """The chat an action happens in. Only members act in a group — except that anyone
        may press inline buttons in a *public* group (one with a username), as in Telegram,
        where visitors can read and press without joining (``visitor=True``)."""
        if chat is None:
            state = self._fake._chats[self.id]
            if state.blocked:
                raise RuntimeError(f"{self!r} has blocked the bot; call unblock() first")
            return state
        state = self._fake._chats[chat.id]
        if state.members.get(self.id) not in _PRESENT and not (
            visitor and state.chat.get("username")
        ):
            raise RuntimeError(f"{self!r} is not a member of {chat!r}; use group.add_member()")
        return state

    def _store(
        self,
        state: ChatState,
        content: dict[str, Any],
        *,
        reply_to: int | ChatMessage | None = None,
        message_thread_id: int | None = None,
    ) -> StoredMessage:
        reply: StoredMessage | None = None
        if reply_to is not None:
            reply_id = reply_to if isinstance(reply_to, int) else reply_to.message_id
            reply = state.live(reply_id)
            if reply is None:
                raise ValueError(f"message {reply_id} to reply to does not exist")
        if message_thread_id is not None and message_thread_id not in state.topics:
            raise ValueError(f"no forum topic {message_thread_id} in chat {state.id}")
        if state.keyboard_message_id is not None:
            markup = state.messages[state.keyboard_message_id].sent_markup or {}
            if markup.get("one_time_keyboard"):
                state.keyboard_hidden = True
        stored = self._fake._add_message(
            state,
            content,
            sender=self.to_dict(),
            from_bot=False,
            reply_to=reply,
            thread_id=message_thread_id,
        )
        if state.type == "private":
            state.started = True
        return stored

    def _bot_receives(self, state: ChatState, data: dict[str, Any]) -> bool:
        fake = self._fake
        if state.type == "private":
            return True
        if state.bot_status in ("left", "kicked"):
            return False
        if not fake.privacy_mode or state.bot_status in ("administrator", "creator"):
            return True
        text = str(data.get("text") or data.get("caption") or "")
        if text.startswith("/"):
            return True
        reply = data.get("reply_to_message") or {}
        if (reply.get("from") or {}).get("id") == fake.bot_id:
            return True
        return f"@{fake.bot_user['username']}".lower() in text.lower()

    async def _push(
        self, state: ChatState, kind: str, messages: Iterable[StoredMessage]
    ) -> list[dict[str, Any]]:
        updates: list[dict[str, Any]] = []
        delivered: list[int] = []
        for stored in messages:
            if self._bot_receives(state, stored.data):
                update = self._fake._queue_update(kind, stored.data)
                delivered.append(int(update["update_id"]))
            else:
                update = {"update_id": None, kind: copy.deepcopy(stored.data)}
            updates.append(update)
        await self._fake._await_processed(delivered)
        return updates

    async def _send(
        self,
        content: dict[str, Any],
        *,
        chat: FakeGroup | None,
        reply_to: int | ChatMessage | None = None,
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        state = self._chat_for_action(chat)
        stored = self._store(state, content, reply_to=reply_to, message_thread_id=message_thread_id)
        return (await self._push(state, "message", [stored]))[0]

    async def _new_file(
        self,
        kind: str,
        content: bytes | None,
        size: int | None,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> FakeFile:
        fake = self._fake
        default_size, magic_mime = _DEFAULT_CONTENT[kind]
        seed = fake.files.seed_for(fake._next_number() + 1_000_000)
        meta: dict[str, Any] = {
            "mime_type": mime_type,
            "file_name": file_name,
            "width": width,
            "height": height,
            "duration": duration,
            "extra": extra,
        }
        if content is None and size is None:
            content = sample_bytes(default_size, seed, mime_type or magic_mime)
        if content is not None:
            return fake.files.add(kind=kind, content=content, **meta)
        assert size is not None
        factory = virtual_factory(size, seed, mime_type or magic_mime)
        if size > 8 * MiB:
            digest = await asyncio.to_thread(hash_chunks, factory, size)
        else:
            digest = hash_chunks(factory, size)
        return fake.files.add(kind=kind, size=size, chunk_factory=factory, sha256=digest, **meta)

    async def _new_photo(self, sizes: Sequence[tuple[int, int]], content: bytes | None) -> FakeFile:
        if not sizes:
            raise ValueError("a photo needs at least one size")
        ordered = sorted(sizes, key=lambda wh: wh[0] * wh[1])
        files: list[FakeFile] = []
        for index, (width, height) in enumerate(ordered):
            largest = index == len(ordered) - 1
            data = content if largest and content is not None else None
            if data is None:
                data = sample_jpeg(width, height, self._fake._next_number())
            files.append(
                self._fake.files.add(
                    kind="photo", content=data, mime_type="image/jpeg", width=width, height=height
                )
            )
        for file in files:
            file.photo_sizes = files
        return files[-1]

    @staticmethod
    def _caption(caption: str | None) -> dict[str, Any]:
        return {"caption": caption} if caption else {}

    async def _item_content(self, item: AlbumItem) -> dict[str, Any]:
        if item.kind == "photo":
            file = await self._new_photo(item.sizes, item.content)
        else:
            extra = (
                {"performer": item.performer, "title": item.title} if item.kind == "audio" else None
            )
            file = await self._new_file(
                item.kind,
                item.content,
                item.size,
                mime_type=item.mime_type,
                file_name=item.file_name,
                width=item.width,
                height=item.height,
                duration=item.duration,
                extra=extra,
            )
        content = file.message_fields()
        content.update(self._caption(item.caption))
        if item.has_spoiler and item.kind in ("photo", "video"):
            content["has_media_spoiler"] = True
        return content

    # ---------------------------------------------------------------- text & commands

    async def send_text(
        self,
        text: str,
        *,
        chat: FakeGroup | None = None,
        reply_to: int | ChatMessage | None = None,
        entities: list[dict[str, Any]] | None = None,
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        """Send a text message (a leading ``/command`` gets a ``bot_command`` entity)."""
        if not text:
            raise ValueError("Telegram clients can't send empty messages")
        content: dict[str, Any] = {"text": text}
        if entities is None:
            command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
            if command:
                entities = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
                ]
        if entities:
            content["entities"] = entities
        return await self._send(
            content, chat=chat, reply_to=reply_to, message_thread_id=message_thread_id
        )

    async def send_command(
        self,
        command: str,
        args: str = "",
        *,
        chat: FakeGroup | None = None,
        mention_bot: bool = False,
        reply_to: int | ChatMessage | None = None,
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        """Send ``/command args`` (``/command@botname`` with ``mention_bot``)."""
        if not command.startswith("/"):
            command = f"/{command}"
        if mention_bot:
            command = f"{command}@{self._fake.bot_user['username']}"
        text = f"{command} {args}" if args else command
        entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        return await self.send_text(
            text,
            chat=chat,
            reply_to=reply_to,
            entities=entities,
            message_thread_id=message_thread_id,
        )

    async def edit_text(
        self, message_id: int, new_text: str, *, chat: FakeGroup | None = None
    ) -> dict[str, Any]:
        """Edit one of this user's text messages (an ``edited_message`` update)."""
        state = self._chat_for_action(chat)
        stored = state.live(message_id)
        if stored is None or stored.sender_id != self.id or "text" not in stored.data:
            raise ValueError(f"{self!r} has no text message {message_id} in chat {state.id}")
        self._fake._edit_message(stored, {"text": new_text}, ("entities",))
        return (await self._push(state, "edited_message", [stored]))[0]

    async def delete_message(self, message_id: int, *, chat: FakeGroup | None = None) -> None:
        """Delete a message for everyone from the phone (the bot gets no update)."""
        state = self._chat_for_action(chat)
        stored = state.live(message_id)
        if stored is None:
            raise ValueError(f"no message {message_id} in chat {state.id}")
        if state.type != "private" and stored.sender_id != self.id:
            raise ValueError("only own messages can be deleted in groups")
        self._fake._delete_message(state, stored)

    # ---------------------------------------------------------------- buttons

    async def press(
        self,
        button: ButtonMatch,
        *,
        message: int | ChatMessage | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Press an inline button (exact text or regex) and return the ``callback_query`` update.

        Looks in ``message`` or else in the latest bot message of the chat having such a
        button.  The bot's ``answerCallbackQuery`` lands in :attr:`last_callback_answer`.

        Raises:
            LookupError: no such button (the message lists the available ones) or the button
                has no ``callback_data``.
        """
        state = self._chat_for_action(chat, visitor=True)
        if message is not None:
            message_id = message if isinstance(message, int) else message.message_id
            found = state.live(message_id)
            if found is None:
                raise LookupError(f"message {message_id} does not exist in chat {state.id}")
            candidates = [found]
        else:
            candidates = [
                m
                for m in reversed(state.messages.values())
                if m.from_bot and not m.deleted and (m.data.get("reply_markup") or {})
            ]
        available: list[str] = []
        for candidate in candidates:
            rows = (candidate.data.get("reply_markup") or {}).get("inline_keyboard") or []
            for row in rows:
                for key in row:
                    text = str(key.get("text", ""))
                    available.append(text)
                    if not _button_matches(button, text):
                        continue
                    if "callback_data" not in key:
                        raise LookupError(
                            f"button {text!r} has no callback_data (keys: {sorted(key)})"
                        )
                    return await self._press_key(state, candidate, str(key["callback_data"]))
        shown = available[:30] if available else "none"
        raise LookupError(
            f"no inline button matching {button!r} in chat {state.id}; available buttons: "
            f"{shown}\nchat:\n{self.view(chat).describe()}"
        )

    async def press_data(
        self, data: str, *, message: int | ChatMessage | None = None, chat: FakeGroup | None = None
    ) -> dict[str, Any]:
        """Send a ``callback_query`` with arbitrary ``data``, as if from a button of ``message``
        (default: the latest bot message) — an old, forged or foreign button."""
        state = self._chat_for_action(chat, visitor=True)
        if message is None:
            found = next((m for m in reversed(state.messages.values()) if m.from_bot), None)
        else:
            message_id = message if isinstance(message, int) else message.message_id
            found = state.live(message_id)
        if found is None:
            raise LookupError(f"no bot message to press a button on in chat {state.id}")
        return await self._press_key(state, found, data)

    async def _press_key(
        self, state: ChatState, message: StoredMessage, data: str
    ) -> dict[str, Any]:
        fake = self._fake
        self._query_counter += 1
        query_id = str((self.id << 20) + self._query_counter)
        fake._callback_queries[query_id] = _PendingQuery(self, state.id, message.message_id)
        payload = {
            "id": query_id,
            "from": self.to_dict(),
            "message": copy.deepcopy(message.data),
            "chat_instance": str(abs(state.id) * 7919 % 10**19),
            "data": data,
        }
        update = fake._queue_update("callback_query", payload)
        await fake._await_processed([int(update["update_id"])])
        return update

    async def tap_keyboard(
        self,
        text: ButtonMatch,
        *,
        location: tuple[float, float] | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Tap a button of the shown reply keyboard.

        A plain button sends its text; a ``request_location`` button shares ``location``
        (required); a ``request_contact`` button shares the user's own contact.

        Raises:
            LookupError: no reply keyboard shown or no such button.
        """
        keyboard = self.view(chat).reply_keyboard
        if keyboard is None:
            raise LookupError(f"no reply keyboard is shown in chat {self.view(chat)._view_chat_id}")
        for row in keyboard:
            for key in row:
                label = str(key.get("text", ""))
                if not _button_matches(text, label):
                    continue
                if key.get("request_location"):
                    if location is None:
                        raise ValueError(f"button {label!r} requests a location; pass location=")
                    return await self.share_location(*location, chat=chat)
                if key.get("request_contact"):
                    return await self.send_contact(user_id=self.id, chat=chat)
                return await self.send_text(label, chat=chat, entities=[])
        labels = [str(k.get("text")) for row in keyboard for k in row]
        raise LookupError(f"no reply keyboard button matching {text!r}; shown: {labels}")

    # ---------------------------------------------------------------- locations & contacts

    async def share_location(
        self,
        latitude: float,
        longitude: float,
        *,
        live_period: int | None = None,
        horizontal_accuracy: float | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Share a (live, with ``live_period``) location."""
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if live_period is not None:
            location["live_period"] = live_period
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return await self._send({"location": location}, chat=chat)

    async def update_live_location(
        self,
        message_id: int,
        latitude: float,
        longitude: float,
        *,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Move a shared live location (an ``edited_message`` update)."""
        state = self._chat_for_action(chat)
        stored = state.live(message_id)
        if stored is None or stored.sender_id != self.id or "location" not in stored.data:
            raise ValueError(f"{self!r} has no location message {message_id}")
        location = {**stored.data["location"], "latitude": latitude, "longitude": longitude}
        self._fake._edit_message(stored, {"location": location})
        return (await self._push(state, "edited_message", [stored]))[0]

    async def send_venue(
        self,
        latitude: float,
        longitude: float,
        title: str,
        address: str,
        *,
        foursquare_id: str | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Share a venue (the message has ``venue`` and ``location``)."""
        location = {"latitude": latitude, "longitude": longitude}
        venue: dict[str, Any] = {"location": location, "title": title, "address": address}
        if foursquare_id:
            venue["foursquare_id"] = foursquare_id
        return await self._send({"venue": venue, "location": location}, chat=chat)

    async def send_contact(
        self,
        phone_number: str = "+380501234567",
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        user_id: int | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Share a contact (``user_id=user.id`` for one's own contact)."""
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or self.first_name,
        }
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return await self._send({"contact": contact}, chat=chat)

    # ---------------------------------------------------------------- media

    async def send_photo(
        self,
        *,
        sizes: Sequence[tuple[int, int]] = DEFAULT_PHOTO_SIZES,
        content: bytes | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
        has_spoiler: bool = False,
        chat: FakeGroup | None = None,
        reply_to: int | ChatMessage | None = None,
    ) -> dict[str, Any]:
        """Send a photo: one file per size; the largest gets ``content`` or a generated JPEG."""
        item = AlbumItem.photo(content, caption=caption, sizes=sizes, has_spoiler=has_spoiler)
        content_fields = await self._item_content(item)
        if media_group_id:
            content_fields["media_group_id"] = media_group_id
        return await self._send(content_fields, chat=chat, reply_to=reply_to)

    async def _send_file(
        self,
        kind: str,
        content: bytes | None,
        size: int | None,
        *,
        caption: str | None,
        media_group_id: str | None,
        chat: FakeGroup | None,
        reply_to: int | ChatMessage | None = None,
        **meta: Any,
    ) -> dict[str, Any]:
        extra = meta.pop("extra", None)
        file = await self._new_file(kind, content, size, extra=extra, **meta)
        fields = file.message_fields()
        fields.update(self._caption(caption))
        if media_group_id:
            fields["media_group_id"] = media_group_id
        return await self._send(fields, chat=chat, reply_to=reply_to)

    async def send_document(
        self,
        content: bytes | None = None,
        *,
        file_name: str = "file.bin",
        mime_type: str = "application/octet-stream",
        size: int | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
        chat: FakeGroup | None = None,
        reply_to: int | ChatMessage | None = None,
    ) -> dict[str, Any]:
        """Send a document; ``size`` without ``content`` makes a large virtual file."""
        return await self._send_file(
            "document",
            content,
            size,
            caption=caption,
            media_group_id=media_group_id,
            chat=chat,
            reply_to=reply_to,
            file_name=file_name,
            mime_type=mime_type,
        )

    async def send_video(
        self,
        content: bytes | None = None,
        *,
        size: int | None = None,
        duration: int = 10,
        width: int = 1280,
        height: int = 720,
        file_name: str = "video.mp4",
        mime_type: str = "video/mp4",
        caption: str | None = None,
        media_group_id: str | None = None,
        chat: FakeGroup | None = None,
        reply_to: int | ChatMessage | None = None,
    ) -> dict[str, Any]:
        """Send a video."""
        return await self._send_file(
            "video",
            content,
            size,
            caption=caption,
            media_group_id=media_group_id,
            chat=chat,
            reply_to=reply_to,
            duration=duration,
            width=width,
            height=height,
            file_name=file_name,
            mime_type=mime_type,
        )

    async def send_animation(
        self,
        content: bytes | None = None,
        *,
        size: int | None = None,
        duration: int = 3,
        width: int = 320,
        height: int = 240,
        file_name: str = "animation.mp4",
        mime_type: str = "video/mp4",
        caption: str | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Send a GIF-like animation (the message also carries ``document``)."""
        return await self._send_file(
            "animation",
            content,
            size,
            caption=caption,
            media_group_id=None,
            chat=chat,
            duration=duration,
            width=width,
            height=height,
            file_name=file_name,
            mime_type=mime_type,
        )

    async def send_voice(
        self,
        content: bytes | None = None,
        *,
        size: int | None = None,
        duration: int = 5,
        mime_type: str = "audio/ogg",
        caption: str | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Send a voice message."""
        return await self._send_file(
            "voice",
            content,
            size,
            caption=caption,
            media_group_id=None,
            chat=chat,
            duration=duration,
            mime_type=mime_type,
        )

    async def send_audio(
        self,
        content: bytes | None = None,
        *,
        size: int | None = None,
        duration: int = 120,
        performer: str | None = None,
        title: str | None = None,
        file_name: str = "audio.mp3",
        mime_type: str = "audio/mpeg",
        caption: str | None = None,
        media_group_id: str | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Send an audio file."""
        return await self._send_file(
            "audio",
            content,
            size,
            caption=caption,
            media_group_id=media_group_id,
            chat=chat,
            duration=duration,
            file_name=file_name,
            mime_type=mime_type,
            extra={"performer": performer, "title": title},
        )

    async def send_video_note(
        self,
        content: bytes | None = None,
        *,
        size: int | None = None,
        duration: int = 5,
        length: int = 240,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Send a round video note (no caption)."""
        return await self._send_file(
            "video_note",
            content,
            size,
            caption=None,
            media_group_id=None,
            chat=chat,
            duration=duration,
            width=length,
            height=length,
            extra={"length": length},
        )

    async def send_sticker(
        self, *, emoji: str = "👍", set_name: str | None = "TestPack", chat: FakeGroup | None = None
    ) -> dict[str, Any]:
        """Send a (static) sticker."""
        file = await self._new_file(
            "sticker",
            None,
            None,
            mime_type="image/webp",
            width=512,
            height=512,
            extra={"emoji": emoji, "set_name": set_name},
        )
        return await self._send({"sticker": file.to_api()}, chat=chat)

    async def send_album(
        self, items: Sequence[AlbumItem], *, chat: FakeGroup | None = None
    ) -> list[dict[str, Any]]:
        """Send 2..10 items as one album (one fresh ``media_group_id``), back-to-back.

        All updates are queued before :attr:`update_waiter` is awaited for each of them.

        Raises:
            ValueError: wrong count, or documents/audio mixed with other kinds.
        """
        if not 2 <= len(items) <= 10:
            raise ValueError("an album has 2..10 items")
        kinds = {item.kind for item in items}
        for special in ("document", "audio"):
            if special in kinds and len(kinds) > 1:
                raise ValueError(f"{special} items can't be mixed with other kinds in an album")
        state = self._chat_for_action(chat)
        group_id = self._fake._new_media_group_id()
        stored: list[StoredMessage] = []
        for item in items:
            fields = await self._item_content(item)
            fields["media_group_id"] = group_id
            stored.append(self._store(state, fields))
        return await self._push(state, "message", stored)

    # ---------------------------------------------------------------- misc content

    async def send_poll(
        self, question: str, options: Sequence[str], *, chat: FakeGroup | None = None
    ) -> dict[str, Any]:
        """Send a regular anonymous poll."""
        if not 2 <= len(options) <= 12:
            raise ValueError("a poll has 2..12 options")
        poll = {
            "id": str(5_000_000_000_000_000_000 + self._fake._next_number()),
            "question": question,
            "options": [
                {"text": option, "voter_count": 0, "persistent_id": str(index)}
                for index, option in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
        return await self._send({"poll": poll}, chat=chat)

    async def send_dice(
        self, emoji: str = "🎲", value: int = 6, *, chat: FakeGroup | None = None
    ) -> dict[str, Any]:
        """Throw a dice."""
        return await self._send({"dice": {"emoji": emoji, "value": value}}, chat=chat)

    async def forward_from_channel(
        self,
        text: str | None = "Forwarded channel post",
        *,
        item: AlbumItem | None = None,
        channel_id: int = -1_001_987_654_321,
        channel_title: str = "News channel",
        channel_username: str | None = None,
        channel_message_id: int = 100,
        date: int | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Forward a channel post (text, or the media ``item`` with its caption) to the bot.

        The message has ``forward_origin`` of type ``channel``.
        """
        content: dict[str, Any] = (
            await self._item_content(item) if item is not None else {"text": text or "."}
        )
        channel: dict[str, Any] = {"id": channel_id, "type": "channel", "title": channel_title}
        if channel_username:
            channel["username"] = channel_username
        content["forward_origin"] = {
            "type": "channel",
            "chat": channel,
            "message_id": channel_message_id,
            "date": date if date is not None else self._fake.clock.now() - 3600,
        }
        return await self._send(content, chat=chat)

    async def forward_from_user(
        self,
        text: str,
        *,
        original_sender: FakeUser | None = None,
        hidden_sender_name: str | None = None,
        date: int | None = None,
        chat: FakeGroup | None = None,
    ) -> dict[str, Any]:
        """Forward a text message of another user (or of a user hiding their account)."""
        when = date if date is not None else self._fake.clock.now() - 3600
        origin: dict[str, Any]
        if original_sender is not None:
            origin = {"type": "user", "sender_user": original_sender.to_dict(), "date": when}
        else:
            origin = {
                "type": "hidden_user",
                "sender_user_name": hidden_sender_name or "Hidden",
                "date": when,
            }
        return await self._send({"text": text, "forward_origin": origin}, chat=chat)

    # ---------------------------------------------------------------- blocking

    async def _my_chat_member(self, old: str, new: str) -> dict[str, Any]:
        fake = self._fake
        state = fake._chats[self.id]
        bot = dict(fake.bot_user)
        payload = {
            "chat": dict(state.chat),
            "from": self.to_dict(),
            "date": fake.clock.now(),
            "old_chat_member": fake._member_json(bot, old),
            "new_chat_member": fake._member_json(bot, new),
        }
        update = fake._queue_update("my_chat_member", payload)
        await fake._await_processed([int(update["update_id"])])
        return update

    async def block(self) -> dict[str, Any]:
        """Block the bot: sends then fail with 403; a ``my_chat_member`` update is pushed."""
        self._fake._chats[self.id].blocked = True
        return await self._my_chat_member("member", "kicked")

    async def unblock(self) -> dict[str, Any]:
        """Unblock the bot (``my_chat_member`` update)."""
        self._fake._chats[self.id].blocked = False
        return await self._my_chat_member("kicked", "member")
