"""The one place that wires handlers, services and PTB's ``Application`` together."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import Conflict, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot import atrest
from bot.gazetteer import Gazetteer
from bot.i18n import LANGUAGES, Catalog
from bot.intake import delete_unreferenced_originals
from bot.keys import Keyring
from bot.media import FileDownloader, MediaStore
from bot.processor import ChatOrderedProcessor, FloodGate
from bot.ratelimit import TelegramRateLimiter
from bot.settings import ConfigError, Settings
from bot.updates import DurableUpdates
from db import uow
from db.engine import create_engine, session_factory
from db.migrate import upgrade
from handlers import account, admin, common, intake, jobs, messages, relay
from handlers.base import Ctx, Services, TipbotApp
from handlers.evidence import Burst, BurstAcks, send_burst_ack
from handlers.flood import flood_notice
from handlers.moderation import access, actions, commands
from handlers.moderation.access import ModeratorGate
from handlers.outbox import OutboxWorker

log = logging.getLogger(__name__)

COMMANDS = ("start", "report", "myreports", "language", "privacy", "cancel", "help", "deletemydata")
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
    # Joins and departures in the moderators' group (handlers.moderation.access).
    Update.CHAT_MEMBER,
]


def check_catalog(catalog: Catalog, settings: Settings) -> None:
    """Every configured category and party must have a label in every language."""
    keys = [f"category-{c}" for c in settings.tipbot_categories]
    keys += [f"party-{p}" for p in settings.tipbot_parties]
    for lang in LANGUAGES:
        for key in keys:
            if not catalog.has(lang, key):
                raise ConfigError(f"message {key} is missing from the {lang} catalog")


def build_services(
    settings: Settings, secret: bytes, engine: AsyncEngine, processor: ChatOrderedProcessor
) -> Services:
    catalog = Catalog.load(settings.tipbot_locales_dir)
    check_catalog(catalog, settings)
    store = MediaStore(settings.media_dir)
    store.prepare()
    keyring = Keyring(secret)
    atrest.install(engine, keyring)  # file names and metadata sealed with the instance key
    return Services(
        settings=settings,
        catalog=catalog,
        keyring=keyring,
        sessions=session_factory(engine),
        store=store,
        downloader=FileDownloader(store),
        gazetteer=Gazetteer.load(),
        processor=processor,
        timezone=ZoneInfo(settings.tipbot_timezone),
        gate=ModeratorGate(
            settings.moderator_chat_id,
            set(settings.moderator_ids) | set(settings.admin_ids),
            settings.tipbot_member_cache_seconds,
        ),
        official_handle=settings.tipbot_official_handle or "",
    )


def attach_workers(app: TipbotApp, services: Services) -> None:
    """What works on its own beside the handlers, made once the application exists: the
    file acknowledgements (sent in the chat's turn), the outbox worker, and who performs
    what committed transactions announce."""

    async def deliver_ack(chat_id: int, burst: Burst) -> None:
        await send_burst_ack(Ctx.from_update(None, app), chat_id, burst)

    delay = services.settings.tipbot_ack_delay_seconds
    services.acks = BurstAcks(services, services.processor, deliver_ack, delay=delay)
    services.outbox_worker = OutboxWorker(lambda: Ctx.from_update(None, app), services)
    connect_effects(services)
    services.processor.on_flood = functools.partial(flood_notice, app.bot, services)


def connect_effects(services: Services) -> None:
    """Who performs what a committed transaction announced (:mod:`db.uow`): the outbox
    worker wakes for new rows; erased originals no row refers to any more are deleted."""
    signals = uow.signals_of(services.sessions)
    signals.connect(uow.OUTBOX, lambda _payloads: services.outbox_worker.wake())

    async def erase_originals(owed: list[dict[str, str]]) -> None:
        candidates = {sha256: key for part in owed for sha256, key in part.items()}
        await delete_unreferenced_originals(services.sessions, services.store, candidates)

    signals.connect(uow.ORIGINALS, erase_originals)


def build_application(
    settings: Settings,
    secret: bytes,
    *,
    engine: AsyncEngine | None = None,
    request_timeout: float = 30.0,
    rate_limited: bool = True,
) -> TipbotApp:
    """A ready-to-start application; ``engine`` may be shared (tests pass their own).

    ``rate_limited=False`` drops Telegram's send limits (30/s overall, 20/min per group):
    only for benchmarks that measure processing capacity against a fake server.
    """
    own_engine = engine is None
    engine = engine or create_engine(settings.database_url)
    flood_gate = FloodGate(settings.tipbot_max_updates_per_minute)
    processor = ChatOrderedProcessor(settings.tipbot_concurrent_updates, flood_gate=flood_gate)
    services = build_services(settings, secret, engine, processor)
    # Updates are stored before Telegram is told they arrived (bot.updates).
    durable = DurableUpdates(services.sessions, secret)

    async def post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await upgrade(engine)
        me = await app.bot.get_me()
        services.bot_username = me.username or ""
        if not services.official_handle:
            services.official_handle = f"@{me.username}"
            log.warning("TIPBOT_OFFICIAL_HANDLE is not set; showing the bot's own username")
        await register_commands(app, services.catalog)
        if settings.moderator_chat_id is None:
            log.warning("MODERATOR_CHAT_ID is not set: tips are kept and queued, not posted")
        if settings.tipbot_org_name is None:
            log.warning(
                "TIPBOT_ORG_NAME is not set: reporters are told only that the bot's team runs it"
            )
        services.outbox_worker.start()
        await jobs.schedule(app, services)

    async def post_stop(_app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await admin.stop(cast(TipbotApp, _app))  # running exports tell their admins
        # Within the time a stop was given (bot.cli.bounded_stop), if it was; a message cut
        # short in flight is sent again after the restart.
        deadline = _app.bot_data.get("stop_deadline")
        loop_time = asyncio.get_running_loop().time()
        grace = 30.0 if deadline is None else max(0.5, float(deadline) - loop_time)
        await services.outbox_worker.stop(grace=grace)

    async def post_shutdown(_app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await services.acks.close()
        await services.downloader.aclose()
        if own_engine:
            await engine.dispose()

    api = settings.telegram_api_url
    builder = (
        ApplicationBuilder()
        .token(settings.token())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .local_mode(settings.telegram_local_mode)
        .context_types(ContextTypes(context=Ctx))
        .concurrent_updates(processor)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .request(
            # Past 64 requests in flight the others queue for a connection, however long
            # (pool_timeout=None): a PoolTimeout would drop a reply that was never sent.
            HTTPXRequest(
                connection_pool_size=64,
                connect_timeout=10.0,
                read_timeout=request_timeout,
                write_timeout=request_timeout,
                pool_timeout=None,
            )
        )
        .get_updates_request(
            durable.get_updates_request(HTTPXRequest(connection_pool_size=2, read_timeout=60.0))
        )
        .updater(None)  # PTB's, over the store: durable.install below
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    if rate_limited:
        limiter = TelegramRateLimiter(
            group=(settings.tipbot_group_max_messages, settings.tipbot_group_window_seconds),
            private=(settings.tipbot_chat_max_messages, settings.tipbot_chat_window_seconds),
        )
        builder = builder.rate_limiter(cast(Any, limiter))
    app = cast(TipbotApp, builder.build())
    durable.install(app, processor, settings.tipbot_concurrent_updates)
    quiet_polling_tracebacks()
    app.bot_data["services"] = services

    attach_workers(app, services)
    register_handlers(app)
    return app


def register_handlers(app: TipbotApp) -> None:
    private = filters.ChatType.PRIVATE
    add = app.add_handler
    moderator_chat = app.bot_data["services"].settings.moderator_chat_id
    if moderator_chat is not None:
        # First: in the moderators' group, /help and the rest are moderator commands.
        in_group = filters.Chat(chat_id=moderator_chat)
        add(CommandHandler("queue", commands.queue_command, filters=in_group))
        add(CommandHandler("mine", commands.mine_command, filters=in_group))
        add(CommandHandler("tip", commands.tip_command, filters=in_group))
        add(CommandHandler("stats", commands.stats_command, filters=in_group))
        add(CommandHandler("unban", commands.unban_command, filters=in_group))
        add(CommandHandler("help", commands.help_command, filters=in_group))
        add(MessageHandler(in_group & filters.REPLY & ~filters.COMMAND, commands.reply_message))
    add(CallbackQueryHandler(actions.button, pattern=r"^mod(:|$)"))
    add(CallbackQueryHandler(commands.queue_page, pattern=r"^modq:"))
    add(CallbackQueryHandler(relay.add_button, pattern=r"^a:"))
    add(CommandHandler("start", common.start, filters=private))
    add(CommandHandler(["start", "report", "help"], common.in_group, filters=~private))
    add(CommandHandler("report", intake.report_command, filters=private))
    add(CommandHandler("cancel", intake.cancel_command, filters=private))
    add(CommandHandler("myreports", account.my_reports_command, filters=private))
    add(CommandHandler("deletemydata", account.delete_command, filters=private))
    add(CommandHandler("language", common.language_command, filters=private))
    add(CommandHandler("privacy", common.privacy_command, filters=private))
    add(CommandHandler("help", common.help_command, filters=private))
    admin.install(app)  # /export and its adm: buttons, before the unknown-command catch-all
    add(MessageHandler(private & filters.COMMAND, common.unknown_command))
    add(CallbackQueryHandler(common.language_button, pattern=r"^l:"))
    add(CallbackQueryHandler(common.consent_button, pattern=r"^c:"))
    add(CallbackQueryHandler(common.menu_button, pattern=r"^m:"))
    add(CallbackQueryHandler(intake.draft_button, pattern=intake.DRAFT_PATTERN))
    add(CallbackQueryHandler(intake.step_button, pattern=r"^r:"))
    add(CallbackQueryHandler(account.erase_button, pattern=r"^e:"))
    add(CallbackQueryHandler(account.delete_button, pattern=r"^d:"))
    add(
        MessageHandler(
            private & filters.UpdateType.MESSAGE & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
            messages.private_message,
        )
    )
    add(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, common.edited_message))
    add(ChatMemberHandler(common.added_to_group, ChatMemberHandler.MY_CHAT_MEMBER))
    add(ChatMemberHandler(access.member_changed, ChatMemberHandler.CHAT_MEMBER))
    app.add_error_handler(PollingErrors())  # before on_error: it ends polling failures
    app.add_error_handler(common.on_error)


async def register_commands(
    app: Application[Any, Any, Any, Any, Any, Any], catalog: Catalog
) -> None:
    """The command menu in each language (English is also the default for others)."""
    for lang in LANGUAGES:
        commands = [BotCommand(name, catalog.t(lang, f"cmd-{name}")) for name in COMMANDS]
        try:
            await app.bot.set_my_commands(commands, language_code=None if lang == "en" else lang)
        except TelegramError as exc:
            log.warning("could not register the %s commands: %s", lang, type(exc).__name__)


# ---------------------------------------------------------------------------- polling failures

# PTB's own lines about failed polls (the updater's) carry the error's traceback: one line
# says enough (the kind), and the updater retries with backoff anyway.
_POLLING_LOGGERS = ("telegram.ext.Updater", "telegram.ext.Application", "telegram.ext")


class _OneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, Conflict):
            return False  # PollingErrors has said it (and is stopping the application)
        if isinstance(error, NetworkError):
            first = record.getMessage().split(". ")[0].rstrip(".")
            record.msg, record.args = "%s (%s)", (first, type(error).__name__)
            record.exc_info = record.exc_text = None
        return True


def quiet_polling_tracebacks() -> None:
    for name in _POLLING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _OneLine) for f in logger.filters):
            logger.addFilter(_OneLine())


class PollingErrors:
    """The error handler for failures of fetching updates (PTB hands them over with no
    update and no job): a second process polling the same token (409 Conflict) gets one line
    and stops this application; a network outage gets one line per kind of failure (and a
    reminder every :attr:`REMIND` seconds while it lasts), not a traceback per poll — PTB's
    polling loop retries with its own backoff (up to 30 s)."""

    REMIND = 600.0

    def __init__(self) -> None:
        self._said: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    async def __call__(self, update: object, context: Ctx) -> None:
        error = context.error
        if update is not None or context.job is not None:
            return
        if isinstance(error, Conflict):
            log.error("another process is polling this bot's token: stopping")
            context.application.bot_data["polling_conflict"] = True
            context.application.stop_running()
            raise ApplicationHandlerStop
        if isinstance(error, NetworkError):  # includes TimedOut
            kind = type(error).__name__
            self._failures[kind] = self._failures.get(kind, 0) + 1
            now = time.monotonic()
            if now - self._said.get(kind, -self.REMIND) >= self.REMIND:
                self._said[kind] = now
                log.warning(
                    "cannot fetch updates from Telegram (%s): retrying with backoff "
                    "(failure %d of this kind)",
                    kind,
                    self._failures[kind],
                )
            raise ApplicationHandlerStop
