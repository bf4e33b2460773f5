"""Who may moderate: in the moderators' group only, its current members (asked of Telegram
with ``getChatMember`` and remembered for at most ``TIPBOT_MEMBER_CACHE_SECONDS``), and
anyone listed in ``MODERATOR_IDS`` or ``ADMIN_IDS``. Everyone else is refused, and the
attempt goes to the custody log under a keyed pseudonym (it may be a reporter).

Telegram tells the bot (an administrator of the group) when someone joins or leaves it
(``chat_member`` updates): what was remembered of them is forgotten at once, so a removed
moderator loses their rights with their next press, and someone just added is not turned
away by a refusal remembered from before. The remembered answers stay for when such an
update is late or lost."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import ChatMember, Update, User
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot import custody
from bot.i18n import plain
from bot.moderation import Moderator
from bot.telegram_retry import persist
from db.engine import transaction
from handlers.base import Callback, Ctx, handler

log = logging.getLogger(__name__)

_MEMBERS = frozenset(
    {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)


def moderator_of(user: User) -> Moderator:
    name = user.full_name or str(user.id)
    if user.username:
        name = f"{name} (@{user.username})"
    return Moderator(user.id, name[:160])


def _is_member(member: ChatMember) -> bool:
    return member.status in _MEMBERS or (
        member.status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", False))
    )


class ModeratorGate:
    """Decides, and remembers for a while, whether a user may act as a moderator."""

    def __init__(self, chat_id: int | None, listed: set[int], ttl: float) -> None:
        self.chat_id = chat_id
        self._listed = listed
        self._ttl = ttl
        self._cache: dict[int, tuple[bool, float]] = {}

    def in_group(self, chat_id: int | None) -> bool:
        """Whether ``chat_id`` is the moderators' group (there is one)."""
        return self.chat_id is not None and chat_id == self.chat_id

    async def allows(self, context: Ctx, user_id: int, chat_id: int | None) -> bool:
        if not self.in_group(chat_id):
            return False
        if user_id in self._listed:
            return True
        remembered = self._remembered(user_id)
        return remembered if remembered is not None else await self._ask(context, user_id)

    def _remembered(self, user_id: int) -> bool | None:
        cached = self._cache.get(user_id)
        return cached[0] if cached is not None and cached[1] > time.monotonic() else None

    async def _ask(self, context: Ctx, user_id: int) -> bool:
        """Ask Telegram whether the user is in the group (a failure is a refusal, not
        remembered)."""
        assert self.chat_id is not None
        try:
            member = await context.bot.get_chat_member(self.chat_id, user_id)
        except TelegramError as exc:
            log.warning("membership check failed (%s)", type(exc).__name__)
            return False
        allowed = _is_member(member)
        self._cache[user_id] = (allowed, time.monotonic() + self._ttl)
        return allowed

    def forget(self, user_id: int) -> None:
        self._cache.pop(user_id, None)


@handler("moderation.member")
async def member_changed(update: Update, context: Ctx) -> None:
    """Someone joined or left the moderators' group, or their status there changed."""
    change = update.chat_member
    gate: ModeratorGate = context.services.gate
    if change is None or not gate.in_group(change.chat.id):
        return
    # Forgotten rather than set from the update: the next press asks Telegram, which an
    # update delivered out of order cannot contradict.
    gate.forget(change.new_chat_member.user.id)
    gate.forget(change.old_chat_member.user.id)


def _chat_id(update: Update) -> int | None:
    chat = update.effective_chat
    return chat.id if chat is not None else None


async def authorise(update: Update, context: Ctx, action: str) -> Moderator | None:
    """The moderator behind an update, or None after refusing (alert, custody entry)."""
    user = update.effective_user
    if user is None:
        return None
    gate: ModeratorGate = context.services.gate
    if await gate.allows(context, user.id, _chat_id(update)):
        return moderator_of(user)
    await _refuse(update, context, user, action)
    return None


async def _refuse(update: Update, context: Ctx, user: User, action: str) -> None:
    """Record the attempt under a keyed pseudonym (it may be a reporter) and say no."""
    services = context.services
    pseudonym = services.keyring.pseudonym(user.id)
    in_group = services.gate.in_group(_chat_id(update))
    async with transaction(services.sessions) as session:
        await custody.append(
            session,
            actor=f"unauthorised:{pseudonym[:16]}",
            action="moderation_refused",
            details={"action": action[:32], "in_group": in_group},
        )
    text = services.catalog.t(services.settings.tipbot_moderator_language, "mod-not-allowed")
    query = update.callback_query
    if query is None:
        return
    try:
        await persist(query.answer, plain(text), show_alert=True)
    except TelegramError:
        log.info("refusal not delivered")


ModeratorCallback = Callable[[Update, Ctx, Moderator], Awaitable[None]]


def for_moderators(
    name: str, action: str | Callable[[Update], str]
) -> Callable[[ModeratorCallback], Callback]:
    """A handler (named ``name`` in the log line) that runs for moderators only, given who
    they are; anyone else is refused (:func:`authorise`) as attempting ``action`` (or what
    ``action`` reads from the update)."""

    def decorate(func: ModeratorCallback) -> Callback:
        @handler(name)
        @functools.wraps(func)
        async def wrapper(update: Update, context: Ctx) -> None:
            attempted = action if isinstance(action, str) else action(update)
            moderator = await authorise(update, context, attempted)
            if moderator is not None:
                await func(update, context, moderator)

        return wrapper

    return decorate
