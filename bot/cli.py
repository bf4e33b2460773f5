"""The ``tipbot`` command line: ``run``, ``migrate``, and the commands that feature modules
register (:data:`REGISTRARS`: verification, anchors, exports, bundles, purge).

Configuration problems end the program with one line naming the variable and exit status
2; an unreachable database or Telegram with one line and status 1. Never a traceback.

Every command reads an existing database unless its parser says otherwise
(``set_defaults(needs_database=False)``: ``run`` and ``migrate`` create it, ``verify-bundle``
reads only a bundle). A SQLite file that is not there is reported, not created empty.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError

from bot import __version__
from bot.keys import SecretKeyError, load_or_create_secret
from bot.logs import configure_logging
from bot.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from telegram import Bot, ChatFullInfo, ChatMember
    from telegram.ext import Application

log = logging.getLogger("tipbot")

# A feature module's commands: each module named here has ``register(commands)``, which adds
# its parsers (``commands.add_parser(...)``) and sets ``run``: ``run(settings, args)`` returns
# the exit status (``parser.set_defaults(run=...)``).
CommandRun = Callable[[Settings, argparse.Namespace], int]
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
REGISTRARS: tuple[str, ...] = (
    "bot.evidence.verify_commands",
    "bot.evidence.commands",
    "bot.export.commands",
    "bot.export.purge_commands",
    "bot.export.bundle_commands",
)


def _fail(message: str, status: int) -> int:
    print(f"tipbot: {message}", file=sys.stderr)
    return status


def _where(settings: Settings) -> str:
    """The database's host or file, for error messages (never its password)."""
    url = make_url(settings.database_url)
    return (
        url.database or ""
        if url.get_backend_name() == "sqlite"
        else f"{url.host}:{url.port or 5432}"
    )


def missing_database(settings: Settings) -> str | None:
    """The SQLite file DATABASE_URL names, when it does not exist; None for PostgreSQL, an
    in-memory or URI-style SQLite database, or a file that is there."""
    database = _sqlite_file(make_url(settings.database_url))
    return database if database and not Path(database).exists() else None


def _sqlite_file(url: URL) -> str | None:
    """The file a SQLite URL names; None for another database, or an in-memory or URI-style
    SQLite one."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or "uri" in url.query:
        return None
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return database


async def _migrate(settings: Settings) -> None:
    from db.engine import create_engine
    from db.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _verify(settings: Settings) -> int:
    from bot.custody import verify
    from db.engine import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            result = await verify(session)
    finally:
        await engine.dispose()
    if result.ok:
        print(f"custody log intact: {result.entries} entries, head {result.head_hash}")
        return 0
    print(
        f"custody log BROKEN at entry {result.first_bad_seq}: {result.problem} "
        f"({result.entries} entries verified before it)"
    )
    return 3


async def check_chat(bot: Bot, name: str, chat_id: int | None, *, channel_ok: bool) -> None:
    """Raise :class:`ConfigError` naming ``name`` unless ``chat_id`` is a group (or, with
    ``channel_ok``, a channel) that exists and that the bot is in; ``None`` is unset."""
    if chat_id is None:
        return
    if chat_id > 0:
        # The usual mistake: a person's id (one's own, from an id bot) instead of the group's.
        raise ConfigError(
            f"{name}: {chat_id} is the id of a person or a bot, not of a group: group ids are "
            "negative, e.g. -1001234567890 (the bot posts it in a group when an admin adds it)"
        )
    chat, member = await _chat_and_member(bot, name, chat_id)
    problem = _kind_problem(chat, chat_id, channel_ok) or _member_problem(chat, chat_id, member)
    if problem:
        raise ConfigError(f"{name}: {problem}")


async def _chat_and_member(bot: Bot, name: str, chat_id: int) -> tuple[ChatFullInfo, ChatMember]:
    """The chat and the bot's membership in it; :class:`ConfigError` if either is not there."""
    try:
        return await bot.get_chat(chat_id), await bot.get_chat_member(chat_id, bot.id)
    except (BadRequest, Forbidden):
        raise ConfigError(
            f"{name}: there is no group {chat_id}, or the bot is not in it "
            "(add the bot to the group, or correct the id)"
        ) from None


def _kind_problem(chat: ChatFullInfo, chat_id: int, channel_ok: bool) -> str | None:
    kinds = ("group", "supergroup", "channel") if channel_ok else ("group", "supergroup")
    return None if chat.type in kinds else f"{chat_id} is a {chat.type}, not a group"


def _member_problem(chat: ChatFullInfo, chat_id: int, member: ChatMember) -> str | None:
    """Why the bot cannot post in the chat: it is not in it, or not an admin of a channel."""
    if _has_left(member):
        return f"the bot is not a member of {chat_id} (add it to the group)"
    if chat.type == "channel" and member.status not in ("administrator", "creator"):
        return f"the bot must be an administrator of the channel {chat_id} to post there"
    return None


def _has_left(member: ChatMember) -> bool:
    from telegram import ChatMemberRestricted

    restricted_out = isinstance(member, ChatMemberRestricted) and not member.is_member
    return member.status in ("left", "kicked") or restricted_out


async def _preflight(settings: Settings) -> None:
    """Fail fast, with one line, on what would otherwise surface deep inside PTB or only
    later: the token (``getMe``), the configured chats (``getChat``), then the database
    (migrated here, so a bad setting leaves no new database behind)."""
    from telegram import Bot

    api = settings.telegram_api_url
    bot = Bot(settings.token(), base_url=f"{api}/bot", base_file_url=f"{api}/file/bot")
    try:
        await bot.initialize()
        await check_chat(bot, "MODERATOR_CHAT_ID", settings.moderator_chat_id, channel_ok=False)
        await check_chat(bot, "ANCHOR_CHAT_ID", settings.anchor_chat_id, channel_ok=True)
    finally:
        await bot.shutdown()
    await _migrate(settings)


def _secret(settings: Settings) -> bytes:
    """TIPBOT_SECRET_KEY, or the key file (created on first run, with a warning to back it up)."""
    configured = settings.tipbot_secret_key
    secret = load_or_create_secret(
        configured.get_secret_value() if configured else None, settings.tipbot_data_dir
    )
    if secret.created:
        log.warning(
            "generated a new secret key in %s: back it up; without it reporters cannot be "
            "recognised and stored chat ids cannot be read",
            secret.source,
        )
    return secret.value


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import ALLOWED_UPDATES, build_application

    settings.token()
    asyncio.run(_preflight(settings))
    app = build_application(settings, _secret(settings))
    log.info(
        "starting: database %s, media in %s",
        make_url(settings.database_url).get_backend_name(),
        settings.media_dir,
    )
    bounded_stop(app, settings.tipbot_stop_timeout)
    app.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
    if app.bot_data.get("polling_conflict"):
        return 1  # another process polls this token (bot.app.PollingErrors said so)
    return 0


# The name PTB gives the task of each update it processes (Application.create_task).
_UPDATE_TASK = ":process_concurrent_update"


def bounded_stop(app: Application[Any, Any, Any, Any, Any, Any], timeout: float) -> None:
    """Make SIGTERM and SIGINT stop the bot within ``timeout`` seconds.

    PTB stops by processing every update it has fetched, however many: with a backlog that
    can take minutes. Here the updates in hand get ``timeout`` seconds, then those not
    finished are cancelled (their transactions roll back). They stay in the update store
    (:mod:`bot.updates`) and run at the next start (the log line counts them). A second
    signal cuts short at once.
    """
    original = app.post_init

    async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        if original is not None:
            await original(application)
        loop = asyncio.get_running_loop()
        stopping = False

        def cut_short() -> None:
            unfinished = [
                task
                for task in asyncio.all_tasks(loop)
                if (task.get_name() or "").endswith(_UPDATE_TASK) and not task.done()
            ]
            if unfinished:
                log.warning(
                    "stopping: %d updates not finished within TIPBOT_STOP_TIMEOUT (%g s) "
                    "were cut short",
                    len(unfinished),
                    timeout,
                )
            for task in unfinished:
                task.cancel()

        def on_signal() -> None:
            nonlocal stopping
            if stopping:
                cut_short()
                return
            stopping = True
            log.info("stopping: the updates in hand get up to %g s", timeout)
            # The outbox worker's message in flight gets what is left (bot.app's post_stop).
            application.bot_data["stop_deadline"] = loop.time() + timeout
            loop.call_later(timeout, cut_short)
            application.stop_running()

        # Replaces the handlers run_polling installed (they wait for every fetched update).
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows' event loop
                loop.add_signal_handler(signum, on_signal)

    app.post_init = post_init


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tipbot",
        description="A Telegram bot for reporting war crimes, with evidence kept intact.",
    )
    parser.add_argument("--version", action="version", version=f"tipbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "run", help="apply pending migrations and start the bot (long polling)"
    ).set_defaults(needs_database=False, run=_run)
    commands.add_parser("migrate", help="apply database migrations and exit").set_defaults(
        needs_database=False, run=_migrate_command
    )
    commands.add_parser(
        "verify-custody", help="check that the custody log's hash chain is intact"
    ).set_defaults(run=_verify_command)
    for module in REGISTRARS:
        importlib.import_module(module).register(commands)
    return parser


def _migrate_command(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(_migrate(settings))
    print("database is up to date")
    return 0


def _verify_command(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_verify(settings))


# The failures a command ends with in one line (the first kind that matches), and its status.
# Other OSErrors are not the database's: they end with a traceback.
_DATABASE_ERRORS = (
    OperationalError,
    DBAPIError,
    ConnectionError,
    FileNotFoundError,
    PermissionError,
)
_FAILURES: tuple[tuple[type[Exception] | tuple[type[Exception], ...], str, int], ...] = (
    (ConfigError, "configuration error: {exc}", 2),
    (SecretKeyError, "secret key: {exc}", 2),
    (InvalidToken, "Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)", 2),
    (_DATABASE_ERRORS, "cannot use the database at {where} ({kind})", 1),
    (NetworkError, "cannot reach Telegram at {api} ({kind})", 1),
    (TelegramError, "Telegram refused to start the bot ({kind})", 1),
)


def _reported(exc: Exception, settings: Settings) -> int | None:
    """Report a command's failure in one line and return the exit status; None if it is
    not one of the expected failures."""
    for kinds, message, status in _FAILURES:
        if isinstance(exc, kinds):
            where = _where(settings)
            api = settings.telegram_api_url
            return _fail(
                message.format(exc=exc, kind=type(exc).__name__, where=where, api=api), status
            )
    return None


def _execute(settings: Settings, args: argparse.Namespace) -> int:
    run: CommandRun = getattr(args, "run", _run)
    try:
        return run(settings, args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        status = _reported(exc, settings)
        if status is None:
            raise
        return status


def main(argv: Sequence[str] | None = None) -> int:
    # Durations as timedelta (PTB's future default); our code reads both forms.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}", 2)
    configure_logging(settings.tipbot_log_level)
    if getattr(args, "needs_database", True) and (missing := missing_database(settings)):
        return _fail(
            f"no database at {missing} (run `tipbot migrate` or `tipbot run` first, "
            "or set DATABASE_URL)",
            1,
        )
    return _execute(settings, args)
