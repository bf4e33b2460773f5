"""The evidence commands of ``tipbot``: ``tipbot anchor`` (publish the custody head now).

Each command is one parser added by :func:`register` and a ``run(settings, args)`` that
returns the exit status; the work itself is in the services (:mod:`bot.evidence.anchors`),
which the running bot uses too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import httpx
from telegram import Bot, Message
from telegram.error import RetryAfter, TelegramError

from bot.evidence import anchors
from bot.evidence.timestamp import TrustRoots, load_roots
from bot.i18n import Catalog
from bot.settings import Settings
from db.engine import SessionFactory, create_engine, session_factory, transaction
from db.models import ANCHOR_POSTED, TIMESTAMP_OK, Anchor, TimestampToken

if TYPE_CHECKING:
    from bot.cli import Subcommands

# How long ``tipbot anchor`` waits for a running bot that is posting the same anchor.
WAIT_FOR_WORKER = 30.0


def register(commands: Subcommands) -> None:
    """Add the evidence commands to ``tipbot``."""
    _register_anchor(commands)


def _register_anchor(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "anchor",
        help="publish the custody chain's head in ANCHOR_CHAT_ID now, and timestamp it",
        description=(
            "Anchor the custody chain's head now (if it moved since the last anchor), post it "
            "to ANCHOR_CHAT_ID, obtain a timestamp from each authority in TSA_URLS, and print "
            "what was published. If posting fails the anchor stays queued for the bot "
            "(exit status 1)."
        ),
    )
    parser.set_defaults(run=run_anchor)


def run_anchor(settings: Settings, _args: argparse.Namespace) -> int:
    if settings.anchor_chat_id is None:
        print(
            "tipbot: ANCHOR_CHAT_ID is not set: give the id of the channel or group where "
            "anchors are published",
            file=sys.stderr,
        )
        return 2
    settings.token()  # a missing token is a configuration error (exit status 2)
    return asyncio.run(publish_anchor(settings))


async def publish_anchor(settings: Settings, *, out: TextIO | None = None) -> int:
    """``tipbot anchor``: 0 when the head's anchor is posted (or the log is empty), 1 when
    it stays queued for the bot, 2 when TSA_CA_FILE cannot be used."""
    out = out or sys.stdout
    try:
        roots = _trust_roots(settings)
    except ValueError as exc:  # checked first: a configuration error publishes nothing
        print(f"tipbot: configuration error: {exc}", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        return await _publish(sessions, settings, roots, out)
    finally:
        await engine.dispose()


def _trust_roots(settings: Settings) -> TrustRoots | None:
    """The authorities' roots (TSA_CA_FILE, else the system's) when there are authorities."""
    return load_roots(settings.tsa_ca_file) if settings.tsa_urls else None


async def _publish(
    sessions: SessionFactory, settings: Settings, roots: TrustRoots | None, out: TextIO
) -> int:
    """Anchor the head, post it, timestamp it, and describe the anchor."""
    anchor, created = await anchors.anchor_now(sessions)
    if anchor is None:
        print("the custody log is empty: nothing to anchor", file=out)
        return 0
    _announce(anchor, created, out)
    posted = await _posted(sessions, settings, anchor)
    if posted and roots is not None:
        async with httpx.AsyncClient() as client:
            await anchors.obtain_timestamps(sessions, settings, client, roots, anchor_id=anchor.id)
    await _show(sessions, anchor.id, out)
    return 0 if posted else 1


def _announce(anchor: Anchor, created: bool, out: TextIO) -> None:
    if created:
        print(f"anchored the custody head as anchor {anchor.id}", file=out)
    else:
        print(
            f"the head is already anchored (anchor {anchor.id}, entry {anchor.seq}); "
            "nothing but anchor records came since",
            file=out,
        )


async def _posted(sessions: SessionFactory, settings: Settings, anchor: Anchor) -> bool:
    """Whether the anchor is posted: it was, or it is now."""
    return anchor.status == ANCHOR_POSTED or await _post(sessions, settings, anchor.id)


async def _show(sessions: SessionFactory, anchor_id: int, out: TextIO) -> None:
    async with sessions() as session:
        fresh = await session.get(Anchor, anchor_id)
        stamps = await anchors.stamps_of(session, anchor_id)
    assert fresh is not None
    _describe(fresh, stamps, out)


async def _post(sessions: SessionFactory, settings: Settings, anchor_id: int) -> bool:
    """Post the anchor through its outbox row, as the bot's worker would; False (the row
    left pending for the worker, and said so) if that fails."""
    catalog = Catalog.load(settings.tipbot_locales_dir)
    async with transaction(sessions) as session:
        posting = await anchors.claim_posting(session, anchor_id, settings, catalog)
    if posting is None:
        return await _wait_for_worker(sessions, anchor_id)
    api = settings.telegram_api_url
    bot = Bot(settings.token(), base_url=f"{api}/bot", base_file_url=f"{api}/file/bot")
    message, error, delay = await _send(bot, posting)
    async with transaction(sessions) as session:
        await anchors.settle(session, posting, settings, message=message, error=error, delay=delay)
    if message is None:
        print(
            f"tipbot: could not post anchor {anchor_id} ({error}); it stays queued and the "
            "running bot will post it",
            file=sys.stderr,
        )
        return False
    return True


async def _send(
    bot: Bot, posting: anchors.Posting
) -> tuple[Message | None, str | None, timedelta | None]:
    """The message as sent, and what went wrong (with how long Telegram asks to wait)."""
    message: Message | None = None
    try:
        async with bot:
            message = await anchors.send(bot, posting)
    except RetryAfter as exc:
        return message, "429", timedelta(seconds=_seconds(exc.retry_after))
    except TelegramError as exc:
        return message, type(exc).__name__, None
    return message, None, None


async def _wait_for_worker(sessions: SessionFactory, anchor_id: int) -> bool:
    """The running bot holds the anchor's row at this moment: give it time to post."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_WORKER
    while True:
        if await _is_posted(sessions, anchor_id):
            return True
        if loop.time() >= deadline:
            print(
                f"tipbot: anchor {anchor_id} is being posted by the running bot and is not "
                "posted yet; see the bot's log",
                file=sys.stderr,
            )
            return False
        await asyncio.sleep(0.5)


async def _is_posted(sessions: SessionFactory, anchor_id: int) -> bool:
    async with sessions() as session:
        anchor = await session.get(Anchor, anchor_id)
    return anchor is not None and anchor.status == ANCHOR_POSTED


def _time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _describe(anchor: Anchor, stamps: list[TimestampToken], out: TextIO) -> None:
    lines = [
        f"anchor      {anchor.id} ({anchor.reason})",
        f"entry       {anchor.seq}",
        f"hash        {anchor.hash}",
        f"time        {_time(anchor.created_at)}",
    ]
    if anchor.status == ANCHOR_POSTED:
        lines.append(
            f"posted      chat {anchor.chat_id}, message {anchor.message_id}, "
            f"{_time(anchor.message_date)}"
        )
    else:
        lines.append("posted      not yet (queued for the bot)")
    lines += [f"timestamp   {stamp.tsa_url}: {_stamp_state(stamp)}" for stamp in stamps]
    print("\n".join(lines), file=out)


def _stamp_state(stamp: TimestampToken) -> str:
    if stamp.status == TIMESTAMP_OK:
        return f"ok, {_time(stamp.gen_time)}"
    return (
        f"pending ({stamp.last_error or 'not asked yet'}; "
        f"next attempt {_time(stamp.next_attempt_at)})"
    )


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
