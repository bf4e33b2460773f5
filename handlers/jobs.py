"""The bot's periodic work, scheduled on PTB's job queue by :func:`schedule`: each job opens
a unit of work, calls a service and logs what it did (never a reporter's words)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from telegram.ext import Application

from bot import atrest, custody
from bot.evidence import anchors
from bot.evidence.timestamp import TrustRoots, load_roots
from bot.intake import prune_chat_messages, retry_erasures
from bot.moderation import prune_pending_questions
from db.engine import transaction
from handlers.base import Ctx, Services

log = logging.getLogger(__name__)


async def schedule(app: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
    """Start the periodic jobs (once the bot is connected and the database migrated)."""
    queue = app.job_queue
    if queue is None:
        return
    queue.run_repeating(
        prune_job, interval=timedelta(hours=1), first=timedelta(minutes=1), name="prune"
    )
    queue.run_repeating(custody_head_job, interval=timedelta(hours=1), first=5, name="custody-head")
    queue.run_repeating(erasure_job, interval=timedelta(minutes=1), first=10, name="erasures")
    # However late the scheduler starts after this, the pass still runs.
    queue.run_once(seal_job, when=0, name="seal-media", job_kwargs={"misfire_grace_time": None})
    await start_evidence_jobs(app, services)


async def custody_head_job(context: Ctx) -> None:
    """Log the custody chain's head every hour: a copy of the logs then pins the chain, so
    rewriting it later (even in full) no longer matches what was logged at the time."""
    async with context.services.sessions() as session:
        seq, digest = await custody.head(session)
    log.info("custody head seq=%d hash=%s", seq, digest)


async def start_evidence_jobs(
    app: Application[Any, Any, Any, Any, Any, Any], services: Services
) -> None:
    """With ANCHOR_CHAT_ID, look for a due anchor now and every minute; with TSA_URLS, ask
    the authorities for due timestamps as often."""
    assert app.job_queue is not None
    settings = services.settings
    every = anchors.CHECK_INTERVAL
    if settings.anchor_chat_id is not None:
        # The first check here rather than as the job's first run: a repeating job whose
        # start lies in the past when the scheduler starts waits a whole interval.
        await check_anchor(services)
        app.job_queue.run_repeating(anchor_job, interval=every, first=every, name="anchor")
    if settings.tsa_urls:
        try:
            roots = load_roots(settings.tsa_ca_file)
        except ValueError as exc:
            # Intake matters more than timestamps: run without them, loudly. Anchors still
            # get their pending timestamp rows, asked for once this is fixed.
            log.error("no trusted timestamps: %s", exc)
            return
        app.job_queue.run_repeating(
            timestamp_job, interval=every, first=5, name="timestamps", data=roots
        )


async def anchor_job(context: Ctx) -> None:
    await check_anchor(context.services)


async def check_anchor(services: Services) -> None:
    """Queue an anchor of the custody head if one is due (its message is sent by the
    outbox, woken when the anchor's transaction commits)."""
    anchor = await anchors.maybe_anchor(services.sessions, services.settings)
    if anchor is not None:
        log.info("anchor %d of custody entry %d queued (%s)", anchor.id, anchor.seq, anchor.reason)


async def timestamp_job(context: Ctx) -> None:
    assert context.job is not None
    roots = context.job.data
    assert isinstance(roots, TrustRoots)
    async with httpx.AsyncClient() as client:
        await anchors.obtain_timestamps(
            context.services.sessions, context.services.settings, client, roots
        )


async def erasure_job(context: Ctx) -> None:
    """Erased originals whose deletion failed (a transient disk error) are retried until
    they are gone (:func:`bot.intake.retry_erasures`, with backoff per file)."""
    removed = await retry_erasures(context.services.sessions, context.services.store)
    if removed:
        log.info("deleted %d erased originals on retry", removed)


async def seal_job(context: Ctx) -> None:
    """Seal the file names and metadata stored clear before sealing existed
    (:func:`bot.atrest.seal_clear_media`), once at start, in batches."""
    await atrest.seal_clear_media_logged(context.services.sessions.kw["bind"])


async def prune_job(context: Ctx) -> None:
    """Forget message ids past Telegram's deletion window, and replies to cards that were
    never sent."""
    async with transaction(context.services.sessions) as session:
        removed = await prune_chat_messages(session)
        unsent = await prune_pending_questions(session)
    if removed:
        log.info("pruned %d expired message ids", removed)
    if unsent:
        log.info("forgot %d replies to cards that were never sent", unsent)
