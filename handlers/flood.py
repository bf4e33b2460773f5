"""The one notice a chat gets when it sends faster than the flood gate allows
(:class:`bot.processor.FloodGate`): taps and texts beyond the limit are ignored, files never
are."""

from __future__ import annotations

import logging

from telegram import Bot, Update
from telegram.error import TelegramError

from bot.telegram_retry import persist
from handlers import common
from handlers.base import Services

log = logging.getLogger(__name__)


async def flood_notice(bot: Bot, services: Services, update: Update) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    lang = await common.chosen_language(services, chat.id, update.effective_user)
    try:
        await persist(bot.send_message, chat.id, services.catalog.t(lang, "flood-notice"))
    except TelegramError:
        log.info("flood notice not delivered")
