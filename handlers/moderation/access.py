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

import logging
import time

from telegram import Update, User
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot import custody
from bot.i18n import plain
from bot.moderation import Moderator
from db.engine import transaction
from handlers.base import Ctx, handler

log = logging.getLogger(__name__)

_MEMBERS = frozenset(
    {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)


def moderator_of(user: User) -> Moderator:
    name = user.full_name or str(user.id)
    if user.username:
        name = f"{name} (@{user.username})"
    return Moderator(user.id, name[:160])


class ModeratorGate:
    """Decides, and remembers for a while, whether a user may act as a moderator."""

    def __init__(self, chat_id: int | None, listed: set[int], ttl: float) -> None:
        self.chat_id = chat_id
        self._listed = listed
        self._ttl = ttl
        self._cache: dict[int, tuple[bool, float]] = {}

    async def allows(self, context: Ctx, user_id: int, chat_id: int | None) -> bool:
        if self.chat_id is None or chat_id != self.chat_id:
            return False
        if user_id in self._listed:
            return True
        now = time.monotonic()
        cached = self._cache.get(user_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await context.bot.get_chat_member(self.chat_id, user_id)
        except TelegramError as exc:
            log.warning("membership check failed (%s)", type(exc).__name__)
            return False
        allowed = member.status in _MEMBERS or (
            member.status == ChatMemberStatus.RESTRICTED
            and bool(getattr(member, "is_member", False))
        )
        self._cache[user_id] = (allowed, now + self._ttl)
        return allowed

    def forget(self, user_id: int) -> None:
        self._cache.pop(user_id, None)


@handler("moderation.member")
async def member_changed(update: Update, context: Ctx) -> None:
    """Someone joined or left the moderators' group, or their status there changed."""
    change = update.chat_member
    gate: ModeratorGate = context.services.gate
    if change is None or gate.chat_id is None or change.chat.id != gate.chat_id:
        return
    # Forgotten rather than set from the update: the next press asks Telegram, which an
    # update delivered out of order cannot contradict.
    gate.forget(change.new_chat_member.user.id)
    gate.forget(change.old_chat_member.user.id)


async def authorise(update: Update, context: Ctx, action: str) -> Moderator | None:
    """The moderator behind an update, or None after refusing (alert, custody entry)."""
    services = context.services
    user = update.effective_user
    chat = update.effective_chat
    gate: ModeratorGate = services.gate
    if user is None:
        return None
    if await gate.allows(context, user.id, chat.id if chat else None):
        return moderator_of(user)
    pseudonym = services.keyring.pseudonym(user.id)
    async with transaction(services.sessions) as session:
        await custody.append(
            session,
            actor=f"unauthorised:{pseudonym[:16]}",
            action="moderation_refused",
            details={"action": action[:32], "in_group": bool(chat and chat.id == gate.chat_id)},
        )
    text = services.catalog.t(services.settings.tipbot_moderator_language, "mod-not-allowed")
    query = update.callback_query
    if query is not None:
        try:
            await query.answer(plain(text), show_alert=True)
        except TelegramError:
            log.info("refusal not delivered")
    return None
