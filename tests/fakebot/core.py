"""Shared state of the fake server: chats, messages, the update queue, change notification.

:class:`FakeTelegramCore` holds the world the Bot API methods (``methods.py``), the HTTP layer
(``server.py``) and the simulated users (``users.py``) operate on.  Everything runs in one
asyncio loop, so no locking is needed; every state change calls :meth:`_bump`, which wakes
whoever waits for something to happen (long polls, ``wait_for_call``, ``wait_for_message``).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .clock import FakeClock
from .files import FakeFile, FileStore
from .models import ApiCall, ApiError, ChatState, StoredMessage, Upload, bad_request

if TYPE_CHECKING:
    from .users import FakeGroup, FakeUser

__all__ = ["CallContext", "FakeTelegramCore", "GroupLimit"]

UpdateWaiter = Callable[[int], Awaitable[None]]

# Each fake of a process numbers its updates from its own million, as one bot's update ids
# never repeat on Telegram: tests sharing a PostgreSQL database (whose update store keeps the
# ids of done updates, to recognise a redelivery) never reuse an earlier test's ids.
_FAKES = itertools.count()


def _first_update_id() -> int:
    return 100_000_001 + next(_FAKES) * 1_000_000


DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
"""What Telegram delivers when ``allowed_updates`` is empty: everything except
``chat_member``, ``message_reaction`` and ``message_reaction_count``."""

DELETE_WINDOW_SECONDS = 48 * 3600
"""A message can only be deleted for everyone during this long after it was sent."""


@dataclass
class CallContext:
    """One Bot API call being executed: decoded parameters and uploaded file parts.

    The typed getters raise Telegram-style 400 errors on wrong types.
    """

    method: str
    params: dict[str, Any]
    uploads: dict[str, Upload] = field(default_factory=dict)
    created_files: dict[str, FakeFile] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        """The parameter was given (and is not null)."""
        return self.params.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        """The raw decoded value."""
        value = self.params.get(name)
        return default if value is None else value

    def require(self, name: str, reason: str | None = None) -> Any:
        """The value; missing -> 400 ``reason`` (default ``<name> is empty``)."""
        value = self.params.get(name)
        if value is None or value == "":
            raise bad_request(reason or f"{name} is empty")
        return value

    def get_int(
        self, name: str, *, required: bool = False, reason: str | None = None
    ) -> int | None:
        """An integer parameter (numeric strings accepted)."""
        value = self.require(name, reason) if required else self.params.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise bad_request(f"invalid {name} specified")

    def get_float(self, name: str, *, required: bool = False) -> float | None:
        """A number parameter."""
        value = self.require(name) if required else self.params.get(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise bad_request(f"invalid {name} specified")

    def get_str(self, name: str) -> str | None:
        """A string parameter (numbers are converted, like the real server does)."""
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise bad_request(f"invalid {name} specified")

    def get_bool(self, name: str) -> bool:
        """A boolean parameter (``true``/``false``/``1``/``0``); missing -> False."""
        value = self.params.get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        raise bad_request(f"invalid {name} specified")

    def get_list(self, name: str) -> list[Any] | None:
        """A JSON array parameter."""
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as err:
                raise bad_request(f"can't parse {name} JSON object") from err
        if not isinstance(value, list):
            raise bad_request(f"{name} must be an Array")
        return value

    def get_dict(self, name: str) -> dict[str, Any] | None:
        """A JSON object parameter."""
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as err:
                raise bad_request(f"can't parse {name} JSON object") from err
        if not isinstance(value, dict):
            raise bad_request(f"can't parse {name} JSON object")
        return value


@dataclass
class GroupLimit:
    """Per-group-chat send limit (see :meth:`FakeTelegram.set_group_limit`)."""

    max_messages: int
    per_seconds: float
    enforce: bool = True


@dataclass
class _PendingQuery:
    user: FakeUser
    chat_id: int
    message_id: int
    answered: bool = False


class FakeTelegramCore:
    """State shared by the fake server's parts (internal base class of ``FakeTelegram``)."""

    def __init__(
        self,
        *,
        token: str,
        bot_username: str,
        bot_first_name: str,
        local_mode: bool,
        clock: FakeClock | None,
        privacy_mode: bool,
    ) -> None:
        """Set up empty state for a bot with ``token`` (its id is the part before ``:``)."""
        bot_id_text, _, secret = token.partition(":")
        if not bot_id_text.isdigit() or not secret:
            raise ValueError("token must look like '<bot id>:<secret>'")
        self.token: str = token
        self.bot_id: int = int(bot_id_text)
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.local_mode: bool = local_mode
        self.privacy_mode: bool = privacy_mode
        self.clock: FakeClock = clock or FakeClock()
        self.files: FileStore = FileStore(seed=token)
        self.calls: list[ApiCall] = []
        #: Called with every recorded call as it is recorded (benchmarks, custom waits).
        self.call_listeners: list[Callable[[ApiCall], None]] = []
        self.update_waiter: UpdateWaiter | None = None
        self.group_limit: GroupLimit | None = None
        self.group_limit_violations: int = 0
        self.group_limit_rejections: int = 0
        self._chats: dict[int, ChatState] = {}
        self._users: dict[int, FakeUser] = {}
        self._groups: dict[int, FakeGroup] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id: int = _first_update_id()
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._callback_queries: dict[str, _PendingQuery] = {}
        self._seen_users: set[int] = set()
        self._changed: asyncio.Event = asyncio.Event()
        self._closing: bool = False
        self._counter: int = 0

    # ---------------------------------------------------------------- change notification

    def _bump(self) -> None:
        """Wake everybody waiting for a state change."""
        event = self._changed
        self._changed = asyncio.Event()
        event.set()

    async def _wait_changed(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the next state change; False on timeout."""
        event = self._changed
        if seconds <= 0:
            return False
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            return False
        return True

    def _new_media_group_id(self) -> str:
        return str(13_000_000_000_000_000 + self._next_number())

    def _next_number(self) -> int:
        self._counter += 1
        return self._counter

    # ---------------------------------------------------------------- time

    def advance(self, seconds: float) -> float:
        """Move the fake clock forward (see :class:`FakeClock`); returns the new time."""
        now = self.clock.advance(seconds)
        self._bump()
        return now

    # ---------------------------------------------------------------- chats

    def _resolve_chat(self, value: Any) -> ChatState:
        """Find a chat by id or ``@username``; 400 ``chat not found`` otherwise.

        The private chat of a user the bot has never received an update from is not found
        either (as in Telegram); one the bot saw elsewhere (e.g. in a group) is found, but
        sending to it fails with 403 until the user starts the bot.
        """
        if isinstance(value, bool):
            raise bad_request("chat not found")
        if isinstance(value, str):
            if value.startswith("@"):
                name = value[1:].lower()
                for candidate in self._chats.values():
                    if str(candidate.chat.get("username", "")).lower() == name:
                        return candidate
                raise bad_request("chat not found")
            try:
                value = int(value)
            except ValueError as err:
                raise bad_request("chat not found") from err
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise bad_request("chat not found")
        chat = self._chats.get(value)
        if chat is None:
            raise bad_request("chat not found")
        if chat.type == "private" and not chat.started and chat.id not in self._seen_users:
            raise bad_request("chat not found")
        return chat

    def _check_bot_can_write(self, chat: ChatState) -> None:
        """403 errors of a chat the bot can't post to."""
        if chat.type == "private":
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            return
        if chat.bot_status == "kicked":
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        if chat.bot_status == "left":
            raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")

    def _bot_is_admin(self, chat: ChatState) -> bool:
        return chat.bot_status in ("administrator", "creator")

    # ---------------------------------------------------------------- messages

    def _add_message(
        self,
        chat: ChatState,
        content: dict[str, Any],
        *,
        sender: dict[str, Any] | None,
        from_bot: bool,
        html: str | None = None,
        sent_markup: dict[str, Any] | None = None,
        reply_to: StoredMessage | None = None,
        thread_id: int | None = None,
        is_service: bool = False,
    ) -> StoredMessage:
        """Append a message to ``chat`` with the next shared message id and return it.

        ``content`` holds the type-specific fields (``text``, ``photo``...).  An inline keyboard
        in ``sent_markup`` is put into the message JSON; a reply keyboard becomes the chat's
        shown keyboard, ``remove_keyboard`` hides it.
        """
        message_id = chat.take_message_id()
        data: dict[str, Any] = {"message_id": message_id}
        if sender is not None:
            data["from"] = dict(sender)
        data["chat"] = dict(chat.chat)
        data["date"] = self.clock.now()
        if thread_id is not None:
            data["message_thread_id"] = thread_id
            data["is_topic_message"] = True
        if reply_to is not None:
            reply_data = {k: v for k, v in reply_to.data.items() if k != "reply_to_message"}
            data["reply_to_message"] = copy.deepcopy(reply_data)
        data.update(copy.deepcopy(content))
        if sent_markup is not None and "inline_keyboard" in sent_markup:
            data["reply_markup"] = {
                "inline_keyboard": copy.deepcopy(sent_markup["inline_keyboard"])
            }
        stored = StoredMessage(
            chat_id=chat.id,
            message_id=message_id,
            sender_id=None if sender is None else int(sender["id"]),
            from_bot=from_bot,
            data=data,
            created_at=self.clock.time(),
            html=html,
            sent_markup=copy.deepcopy(sent_markup),
            is_service=is_service,
        )
        chat.messages[message_id] = stored
        if sent_markup is not None:
            if "keyboard" in sent_markup:
                chat.keyboard_message_id = message_id
                chat.keyboard_hidden = False
            elif sent_markup.get("remove_keyboard"):
                chat.keyboard_message_id = None
        self._bump()
        return stored

    def _delete_message(self, chat: ChatState, message: StoredMessage) -> None:
        message.deleted = True
        if chat.keyboard_message_id == message.message_id:
            chat.keyboard_message_id = None
        self._bump()

    def _edit_message(
        self, message: StoredMessage, changes: dict[str, Any], removals: Iterable[str] = ()
    ) -> None:
        """Apply an edit: keep the old version, update fields, set ``edit_date``."""
        message.versions.append(copy.deepcopy(message.data))
        message.version += 1
        for key in removals:
            message.data.pop(key, None)
        message.data.update(copy.deepcopy(changes))
        message.data["edit_date"] = self.clock.now()
        self._bump()

    # ---------------------------------------------------------------- group flood limit

    def _check_group_limit(self, chat: ChatState, count: int) -> None:
        """429 if sending ``count`` more messages to a group would exceed the limit."""
        limit = self.group_limit
        if limit is None or chat.id >= 0 or count <= 0:
            return
        now = self.clock.time()
        window = chat.recent_sends
        while window and window[0] <= now - limit.per_seconds:
            window.popleft()
        excess = len(window) + count - limit.max_messages
        if excess <= 0 or not limit.enforce:
            return
        oldest_needed = window[min(excess, len(window)) - 1] if window else now
        retry_after = max(1, math.ceil(oldest_needed + limit.per_seconds - now))
        self.group_limit_rejections += 1
        raise ApiError(
            429,
            f"Too Many Requests: retry after {retry_after}",
            parameters={"retry_after": retry_after},
        )

    def _note_group_sends(self, chat: ChatState, count: int) -> None:
        """Count ``count`` successful sends to a group (and limit violations)."""
        limit = self.group_limit
        if limit is None or chat.id >= 0:
            return
        now = self.clock.time()
        window = chat.recent_sends
        while window and window[0] <= now - limit.per_seconds:
            window.popleft()
        for _ in range(count):
            window.append(now)
            if len(window) > limit.max_messages:
                self.group_limit_violations += 1

    # ---------------------------------------------------------------- updates

    def _queue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Append an update to the bot's queue and return it."""
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        sender = payload.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            self._seen_users.add(sender["id"])
        self._next_update_id += 1
        self._updates.append(update)
        self._bump()
        return update

    async def _await_processed(self, update_ids: Iterable[int]) -> None:
        """Run :attr:`update_waiter` for each update id (if a waiter is set)."""
        waiter = self.update_waiter
        if waiter is None:
            return
        for update_id in update_ids:
            await waiter(update_id)

    async def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an arbitrary update (``{"update_id": n, kind: payload}``) and return it.

        Awaits :attr:`update_waiter` like the user actions do.  Use it for update types the
        simulated users don't produce.
        """
        update = self._queue_update(kind, payload)
        await self._await_processed([update["update_id"]])
        return update

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by an ``offset`` (a copy)."""
        return copy.deepcopy(self._updates)

    def _confirm_updates(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            keep = -offset
            if len(self._updates) > keep:
                del self._updates[: len(self._updates) - keep]
            return
        self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _take_updates(self, limit: int) -> list[dict[str, Any]]:
        """Deliverable updates (dropping those ``allowed_updates`` excludes)."""
        allowed = self._allowed_updates
        kept = []
        for update in self._updates:
            kind = next(k for k in update if k != "update_id")
            if kind in allowed:
                kept.append(update)
        self._updates = kept
        return copy.deepcopy(kept[:limit])

    # ---------------------------------------------------------------- helpers for users

    def _user_json(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        user = self._users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        return user.to_dict()

    def _member_json(
        self, user: dict[str, Any], status: str, *, custom_title: str | None = None
    ) -> dict[str, Any]:
        """A ``ChatMember`` object of ``status`` for ``user``."""
        if status == "creator":
            member: dict[str, Any] = {"status": "creator", "user": user, "is_anonymous": False}
            if custom_title:
                member["custom_title"] = custom_title
            return member
        if status == "administrator":
            member = {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": True,
                "can_edit_stories": True,
                "can_delete_stories": True,
                "can_pin_messages": True,
                "can_manage_topics": True,
            }
            if custom_title:
                member["custom_title"] = custom_title
            return member
        if status == "restricted":
            flags = [
                "can_change_info",
                "can_invite_users",
                "can_pin_messages",
                "can_send_messages",
                "can_send_polls",
                "can_send_other_messages",
                "can_add_web_page_previews",
                "can_manage_topics",
                "can_send_audios",
                "can_send_documents",
                "can_send_photos",
                "can_send_videos",
                "can_send_video_notes",
                "can_send_voice_notes",
                "can_edit_tag",
            ]
            member = {"status": "restricted", "user": user, "is_member": True, "until_date": 0}
            member.update(dict.fromkeys(flags, False))
            return member
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        if status in ("member", "left"):
            return {"status": status, "user": user}
        raise ValueError(f"unknown member status {status!r}")
