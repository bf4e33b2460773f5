"""Public anchors through the fake Bot API server: the custody head posted to ANCHOR_CHAT_ID
and recorded; retried after a 429 and a 500; never posted twice across restarts;
``tipbot anchor`` from the command line; timestamps from a local authority."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody, outbox
from bot.evidence.verify import verify_all
from bot.media import MediaStore
from db.engine import SessionFactory, session_factory, transaction
from db.models import (
    ANCHOR_POSTED,
    OUTBOX_PENDING,
    OUTBOX_SENT,
    TIMESTAMP_OK,
    TIMESTAMP_PENDING,
    Anchor,
    CustodyEntry,
    OutboxMessage,
    TimestampToken,
)
from tests.conftest import SECRET, make_settings
from tests.fakebot import ChatMessage, FakeGroup, FakeTelegram
from tests.harness import BotHarness
from tests.tsa import LocalTSA, unused_url

ROOT = Path(__file__).resolve().parents[2]


async def add_entries(sessions: SessionFactory, count: int) -> tuple[int, str]:
    """Entries as the bot appends them (the action does not matter here); the new head."""
    async with transaction(sessions) as session:
        for number in range(count):
            await custody.append(session, actor="test", action="consent", details={"n": number})
    async with sessions() as session:
        return await custody.head(session)


async def start_anchoring(
    fake: FakeTelegram,
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    channel: FakeGroup,
    **overrides: Any,
) -> BotHarness:
    settings = make_settings(
        fake,
        database_url,
        tmp_path,
        anchor_chat_id=channel.id,
        tipbot_group_window_seconds=1.0,
        **overrides,
    )
    harness = BotHarness(fake, settings, engine, SECRET.encode())
    await harness.start()
    return harness


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition was not met in time")
        await asyncio.sleep(0.05)


async def anchors_posted(sessions: SessionFactory, count: int = 1) -> None:
    async def done() -> bool:
        async with sessions() as session:
            rows = (await session.execute(select(Anchor))).scalars().all()
        return len(rows) == count and all(a.status == ANCHOR_POSTED for a in rows)

    await until(done)


async def run_job(bot: BotHarness, name: str) -> None:
    """Run one of the bot's repeating jobs now (it also runs by itself every minute)."""
    assert bot.app is not None
    assert bot.app.job_queue is not None
    (job,) = bot.app.job_queue.get_jobs_by_name(name)
    await job.run(bot.app)


def anchor_messages(channel: FakeGroup) -> list[ChatMessage]:
    return [m for m in channel.bot_messages() if "custody" in (m.text or "")]


async def entries(bot: BotHarness, action: str) -> list[CustodyEntry]:
    found: list[CustodyEntry] = await bot.all(CustodyEntry, CustodyEntry.action == action)
    return found


async def chain_intact(sessions: SessionFactory) -> bool:
    async with sessions() as session:
        return (await custody.verify(session)).ok


# ---------------------------------------------------------------------------- the bot


async def test_the_head_is_posted_at_start_and_recorded(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    channel = fake.group(title="Evidence anchors")
    sessions = session_factory(engine)
    seq, digest = await add_entries(sessions, 5)
    bot = await start_anchoring(fake, engine, database_url, tmp_path, channel)
    try:
        message = await channel.wait_for_message(digest, timeout=15, new_only=False)
        await anchors_posted(sessions)
        assert f"<code>{digest}</code>" in (message.html or "")
        assert f"Entry {seq} " in (message.text or "")
        assert "tipbot verify" in (message.text or "")
        (anchor,) = await bot.all(Anchor)
        assert (anchor.seq, anchor.hash, anchor.reason) == (seq, digest, "interval")
        assert (anchor.chat_id, anchor.message_id) == (channel.id, message.message_id)
        assert anchor.message_date is not None
        assert anchor.message_date.timestamp() == message.date
        (entry,) = await entries(bot, "anchored")
        assert entry.seq == seq + 1
        assert entry.details == {
            "anchor": anchor.id,
            "seq": seq,
            "hash": digest,
            "chat_id": channel.id,
            "message_id": message.message_id,
            "message_date": anchor.message_date.isoformat(),
        }
        assert await chain_intact(sessions)
        # The next check finds nothing new (only the anchor's own record): nothing is posted.
        await run_job(bot, "anchor")
        assert len(await bot.all(Anchor)) == 1
        assert await bot.all(OutboxMessage, OutboxMessage.status == OUTBOX_PENDING) == []
        assert len(anchor_messages(channel)) == 1
    finally:
        await bot.stop()


async def test_an_anchor_is_retried_after_a_500_and_a_429_and_posted_once(
    fake: FakeTelegram,
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.evidence.anchors")
    channel = fake.group(title="Evidence anchors")
    sessions = session_factory(engine)
    _, digest = await add_entries(sessions, 3)
    fake.fail("sendMessage", status=500, times=1, chat_id=channel.id)
    fake.fail("sendMessage", status=429, retry_after=1, times=1, chat_id=channel.id)
    bot = await start_anchoring(fake, engine, database_url, tmp_path, channel)
    try:
        await anchors_posted(sessions)
    finally:
        await bot.stop()
    failed = [c for c in fake.calls_to("sendMessage", chat_id=channel.id) if c.status != 200]
    assert sorted(c.status for c in failed) == [429, 500], "both faults happened"
    messages = anchor_messages(channel)
    assert len(messages) == 1
    assert digest in (messages[0].text or "")
    (row,) = await bot.all(OutboxMessage, OutboxMessage.kind == outbox.ANCHOR)
    assert row.status == OUTBOX_SENT
    assert row.attempts == 2  # the 500 postponed it; the 429 was waited out within a send
    (anchor,) = await bot.all(Anchor)
    reported = [r.getMessage() for r in caplog.records if r.name == "bot.evidence.anchors"]
    assert any(f"anchor {anchor.id} not posted (NetworkError)" in line for line in reported)
    assert len(await entries(bot, "anchored")) == 1


async def test_not_posted_twice_across_restarts(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    channel = fake.group(title="Evidence anchors")
    sessions = session_factory(engine)
    _, digest = await add_entries(sessions, 4)
    down = fake.fail("sendMessage", status=500, times=None, chat_id=channel.id)
    bot = await start_anchoring(fake, engine, database_url, tmp_path, channel)
    await fake.wait_for_call(lambda call: call.method == "sendMessage" and call.status == 500)
    await bot.stop()  # stopped while the anchor is still waiting to be posted
    down.cancel()
    assert anchor_messages(channel) == []
    (waiting,) = await bot.all(Anchor)
    assert waiting.status != ANCHOR_POSTED

    await bot.start()  # a new process continues with the same anchor
    try:
        await anchors_posted(sessions)
        await bot.restart()  # and another one finds nothing left to do
        await run_job(bot, "anchor")
    finally:
        await bot.stop()
    messages = anchor_messages(channel)
    assert len(messages) == 1
    assert digest in (messages[0].text or "")
    (anchor,) = await bot.all(Anchor)
    assert anchor.id == waiting.id
    assert await bot.all(OutboxMessage, OutboxMessage.status == OUTBOX_PENDING) == []
    assert len(await entries(bot, "anchored")) == 1
    assert await chain_intact(sessions)


async def test_timestamps_by_the_bot_one_authority_down(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path, tsa: LocalTSA
) -> None:
    channel = fake.group(title="Evidence anchors")
    sessions = session_factory(engine)
    down = tsa.another()
    down.mode = "down"
    await add_entries(sessions, 2)
    bot = await start_anchoring(
        fake,
        engine,
        database_url,
        tmp_path,
        channel,
        tsa_urls=[tsa.url, down.url],
        tsa_ca_file=tsa.ca_file,
    )
    try:
        await anchors_posted(sessions)
        await run_job(bot, "timestamps")

        async def answered() -> bool:
            rows = await bot.all(TimestampToken)
            return len(rows) == 2 and all(r.status == TIMESTAMP_OK or r.last_error for r in rows)

        await until(answered)
    finally:
        await bot.stop()
    stamps = {s.tsa_url: s for s in await bot.all(TimestampToken)}
    good, failed = stamps[tsa.url], stamps[down.url]
    assert good.status == TIMESTAMP_OK
    assert good.token is not None
    assert (failed.status, failed.last_error) == (TIMESTAMP_PENDING, "http_503")
    (entry,) = await entries(bot, "timestamped")
    assert entry.details["tsa"] == tsa.url
    assert entry.details["token_sha256"] == hashlib.sha256(good.token).hexdigest()
    assert await chain_intact(sessions)


# ---------------------------------------------------------------------------- tipbot anchor


def cli_env(fake: FakeTelegram, database_url: str, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env.update(
        PYTHONPATH=str(ROOT),
        PTB_TIMEDELTA="1",
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.url,
        DATABASE_URL=database_url,
    )
    env.update(values)
    return env


async def tipbot_anchor(cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """``tipbot anchor`` as a process (the fake server answers it from this event loop)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "anchor", cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_tipbot_anchor_publishes_and_timestamps_now(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path, tsa: LocalTSA
) -> None:
    channel = fake.group(title="Evidence anchors")
    sessions = session_factory(engine)
    seq, digest = await add_entries(sessions, 3)
    dead = unused_url()
    env = cli_env(
        fake,
        database_url,
        ANCHOR_CHAT_ID=str(channel.id),
        TSA_URLS=f"{tsa.url},{dead}",
        TSA_CA_FILE=str(tsa.ca_file),
    )
    status, out, err = await tipbot_anchor(tmp_path, env)
    assert status == 0, err
    assert "Traceback" not in err
    (message,) = anchor_messages(channel)
    assert digest in (message.text or "")
    assert f"entry       {seq}\n" in out
    assert f"hash        {digest}\n" in out
    assert f"chat {channel.id}, message {message.message_id}," in out
    assert f"timestamp   {tsa.url}: ok, " in out
    assert f"timestamp   {dead}: pending (unreachable; next attempt " in out
    async with sessions() as session:
        (anchor,) = (await session.execute(select(Anchor))).scalars().all()
        stamps = {s.tsa_url: s for s in (await session.execute(select(TimestampToken))).scalars()}
        (row,) = (await session.execute(select(OutboxMessage))).scalars().all()
        timestamped = (
            (
                await session.execute(
                    select(CustodyEntry).where(CustodyEntry.action == "timestamped")
                )
            )
            .scalars()
            .all()
        )
    assert (anchor.reason, anchor.status, anchor.message_id) == (
        "command",
        ANCHOR_POSTED,
        message.message_id,
    )
    assert row.status == OUTBOX_SENT, "the command settled the outbox row the bot would"
    assert stamps[tsa.url].status == TIMESTAMP_OK
    assert (stamps[dead].status, stamps[dead].attempts) == (TIMESTAMP_PENDING, 1)
    assert len(timestamped) == 1
    # `tipbot verify` finds the published head in the chain and the token intact.
    store = MediaStore(tmp_path / "media")
    store.prepare()
    report = await verify_all(sessions, store, ca_file=tsa.ca_file)
    assert report.problems == []
    assert (report.anchors, report.tokens) == (2, 1)  # the anchor row and its entry; one token

    # Again at once: nothing new to anchor; it says so, posts nothing, asks no authority.
    asked = tsa.requests
    status, out, err = await tipbot_anchor(tmp_path, env)
    assert status == 0, err
    assert f"already anchored (anchor {anchor.id}, entry {seq})" in out
    assert len(anchor_messages(channel)) == 1
    assert tsa.requests == asked


async def test_tipbot_anchor_that_cannot_post_leaves_it_to_the_bot(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    channel = fake.group(title="Evidence anchors")
    sessions = session_factory(engine)
    _, digest = await add_entries(sessions, 2)
    down = fake.fail("sendMessage", status=500, times=None, chat_id=channel.id)
    env = cli_env(fake, database_url, ANCHOR_CHAT_ID=str(channel.id))
    status, out, err = await tipbot_anchor(tmp_path, env)
    assert status == 1
    problems = [line for line in err.splitlines() if line.startswith("tipbot:")]
    assert problems == [
        "tipbot: could not post anchor 1 (NetworkError); it stays queued and the running bot "
        "will post it"
    ]
    assert "posted      not yet (queued for the bot)" in out
    assert "Traceback" not in err
    async with sessions() as session:
        (row,) = (await session.execute(select(OutboxMessage))).scalars().all()
    assert (row.status, row.last_error) == (OUTBOX_PENDING, "NetworkError")
    down.cancel()
    bot = await start_anchoring(fake, engine, database_url, tmp_path, channel)
    try:
        await anchors_posted(sessions)
    finally:
        await bot.stop()
    (message,) = anchor_messages(channel)
    assert digest in (message.text or "")
    (anchor,) = await bot.all(Anchor)
    assert anchor.reason == "command"


def test_tipbot_anchor_needs_an_anchor_chat(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(PYTHONPATH=str(ROOT), TELEGRAM_BOT_TOKEN="123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5")
    subprocess.run(  # a database, so that what is missing is only the anchor chat
        [sys.executable, "-m", "bot", "migrate"], cwd=tmp_path, env=env, timeout=60, check=True
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "anchor"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "ANCHOR_CHAT_ID is not set" in lines[0]


async def test_reports_waiting_for_a_moderators_group_do_not_hold_up_anchors(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """With no MODERATOR_CHAT_ID yet, cards wait in the outbox; the anchor behind them goes."""
    channel = fake.group(title="Evidence anchors")
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        await outbox.enqueue(session, outbox.CARD, tip_id=None)
    _seq, digest = await add_entries(sessions, 3)
    bot = await start_anchoring(fake, engine, database_url, tmp_path, channel)
    try:
        await channel.wait_for_message(digest, timeout=15, new_only=False)
        await anchors_posted(sessions)
        cards = await bot.all(OutboxMessage, OutboxMessage.kind == outbox.CARD)
        assert [row.status for row in cards] == [OUTBOX_PENDING]
    finally:
        await bot.stop()
