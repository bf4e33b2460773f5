"""Retention: erasing the content and the originals of tips kept long enough.

A purge chooses tips with the export filters (:class:`~bot.export.filters.ExportFilters`,
statuses always named) and an age: the time since the tip's last moderation decision
(``reviewed_at``), or since its submission when it was never decided. Drafts are never
purged. For each tip it erases what the reporter gave — the testimony fields (as a
withdrawal does, :func:`bot.intake.erase_testimony`), the text of its notes and its files'
rows — sets ``purged_at`` and appends a content-free ``purged`` custody entry in the same
transaction; the reference, status and moderation outcome stay, and so does the chain.
Originals are deleted after the commit, and only those no other tip's file still uses.

Tips go in batches, each one short transaction (on SQLite a transaction holds the write
lock), so a large purge never holds locks for long. :func:`plan_purge` is the dry run: the
same selection, counted, nothing changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot import custody, intake, outbox
from bot.export.filters import ExportFilters, Profile
from bot.export.rows import tip_conditions
from bot.media import MediaStore
from db import uow
from db.engine import SessionFactory, transaction
from db.models import (
    MEDIA_STORED,
    Media,
    Reporter,
    Tip,
    TipNote,
)

PURGED = "purged"  # the custody action, one per tip
REASON = "retention"
BATCH = 200

#: Called after every batch with (tips purged so far, tips selected at the start).
PurgeProgress = Callable[[int, int], None]


class PurgeError(ValueError):
    """The purge was asked for in a way that is refused; the message is one line."""


def duration_label(value: timedelta) -> str:
    """``180d``, ``12h``, ``90m`` or ``45s``: the age as the custody entry records it."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class PurgeCriteria:
    """Which tips a purge takes: ``filters`` (with at least one status) and decided or
    submitted more than ``older_than`` before ``now``."""

    filters: ExportFilters
    older_than: timedelta
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if not self.filters.statuses:
            raise PurgeError(
                "name the statuses to purge with --status (for example --status rejected): "
                "a purge never takes every status, and drafts are never purged"
            )
        if self.older_than < timedelta(0):
            raise PurgeError("--older-than must not be negative")

    @property
    def cutoff(self) -> datetime:
        return self.now - self.older_than

    def conditions(self) -> list[ColumnElement[bool]]:
        # The export's own filter (one definition of what --status, --category, ... mean),
        # plus the age and "not purged yet".
        where = tip_conditions(self.filters, Profile.INVESTIGATOR)
        decided_or_submitted = func.coalesce(Tip.reviewed_at, Tip.submitted_at)
        where += [
            Tip.purged_at.is_(None),
            decided_or_submitted.is_not(None),
            decided_or_submitted < self.cutoff,
        ]
        return where


@dataclass(slots=True)
class PurgeSummary:
    """What a purge took (or, for a dry run, would take): ``tips`` by status, their
    ``files`` (media rows), and the ``originals`` and ``bytes`` no other tip uses."""

    dry_run: bool
    tips: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    files: int = 0
    originals: int = 0
    bytes: int = 0


def _matching(criteria: PurgeCriteria) -> Select[Any]:
    return select(Tip.id).where(*criteria.conditions())


async def plan_purge(sessions: SessionFactory, criteria: PurgeCriteria) -> PurgeSummary:
    """The dry run: how many tips, files, originals and bytes a purge would erase."""
    summary = PurgeSummary(dry_run=True)
    matching = _matching(criteria).scalar_subquery()
    other = aliased(Media)
    # An original goes only if no tip outside the selection has a file with its content.
    used_elsewhere = (
        select(other.id)
        .where(other.sha256 == Media.sha256, other.tip_id.not_in(_matching(criteria)))
        .exists()
    )
    async with transaction(sessions) as session:
        rows = await session.execute(
            select(Tip.status, func.count(Tip.id))
            .where(*criteria.conditions())
            .group_by(Tip.status)
            .order_by(Tip.status)
        )
        summary.by_status = {status: int(count) for status, count in rows.all()}
        summary.tips = sum(summary.by_status.values())
        summary.files = int(
            (
                await session.execute(
                    select(func.count(Media.id)).where(Media.tip_id.in_(matching))
                )
            ).scalar_one()
        )
        originals = (
            select(Media.sha256, func.max(Media.size).label("size"))
            .where(
                Media.tip_id.in_(matching),
                Media.sha256.is_not(None),
                Media.storage_key.is_not(None),
                Media.status == MEDIA_STORED,
                ~used_elsewhere,
            )
            .group_by(Media.sha256)
            .subquery()
        )
        count, size = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(originals.c.size), 0))
            )
        ).one()
    summary.originals, summary.bytes = int(count), int(size)
    return summary


async def purge(
    sessions: SessionFactory,
    store: MediaStore,
    criteria: PurgeCriteria,
    *,
    actor: str,
    batch: int = BATCH,
    progress: PurgeProgress | None = None,
) -> PurgeSummary:
    """Erase the chosen tips, ``batch`` tips per transaction, each with its ``purged``
    custody entry; then delete the originals nothing references any more."""
    total = (await plan_purge(sessions, criteria)).tips if progress is not None else 0
    summary = PurgeSummary(dry_run=False)
    after = 0
    while True:
        async with transaction(sessions) as session:
            # Selected again in each batch's transaction (locked on PostgreSQL), so a tip a
            # moderator changed meanwhile is judged as it is now.
            tips = list(
                (
                    await session.execute(
                        select(Tip)
                        .where(*criteria.conditions(), Tip.id > after)
                        .order_by(Tip.id)
                        .limit(batch)
                        .with_for_update()
                    )
                ).scalars()
            )
            if not tips:
                break
            after = tips[-1].id
            files = await _erase(session, tips)
            for tip in tips:
                await custody.append(
                    session,
                    actor=actor,
                    action="purged",
                    tip_id=tip.id,
                    details={
                        "reference": tip.reference,
                        "status": tip.status,
                        "files": files[tip.id],
                        "reason": REASON,
                        "older_than": duration_label(criteria.older_than),
                    },
                )
            # This purge deletes the originals itself (to count the bytes freed).
            candidates = _merged(uow.take(session, uow.ORIGINALS) or [])
        for tip in tips:
            summary.by_status[tip.status] = summary.by_status.get(tip.status, 0) + 1
        summary.tips += len(tips)
        summary.files += sum(files.values())
        originals, freed = await _delete_originals(sessions, store, candidates)
        summary.originals += originals
        summary.bytes += freed
        if progress is not None:
            progress(summary.tips, max(total, summary.tips))
    return summary


def _merged(owed: list[dict[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for part in owed:
        merged.update(part)
    return merged


async def _erase(session: AsyncSession, tips: list[Tip]) -> dict[int, int]:
    """Erase one batch's content in the caller's transaction; files removed per tip."""
    now = datetime.now(UTC)
    ids = [tip.id for tip in tips]
    files: dict[int, int] = {}
    for tip in tips:
        files[tip.id] = await intake.erase_media(session, tip)
        intake.erase_testimony(tip)
        tip.purged_at = now
    # The reporter's answers and additions, and the moderators' questions: the rows stay
    # (who asked, when), their words go; nothing waits for an answer any more.
    await session.execute(
        update(TipNote).where(TipNote.tip_id.in_(ids)).values(text=None, is_open=False)
    )
    # Nothing about an erased tip is sent any more (a card, a question, a notice).
    await outbox.cancel_of(session, ids)
    await session.execute(
        update(Reporter).where(Reporter.adding_to_tip_id.in_(ids)).values(adding_to_tip_id=None)
    )
    await session.flush()
    return files


async def _delete_originals(
    sessions: SessionFactory, store: MediaStore, candidates: dict[str, str]
) -> tuple[int, int]:
    """Delete the batch's originals no media row references any more (under each content's
    lock, :func:`bot.intake.delete_unreferenced_originals`); how many went, and their bytes."""
    if not candidates:
        return 0, 0

    def sizes() -> dict[str, int]:
        found: dict[str, int] = {}
        for sha256, key in candidates.items():
            try:
                found[sha256] = store.path_for(key).stat().st_size
            except (OSError, ValueError):
                continue
        return found

    def gone(before: dict[str, int]) -> int:
        return sum(
            size
            for sha256, size in before.items()
            if not store.path_for(candidates[sha256]).exists()
        )

    before = await asyncio.to_thread(sizes)
    removed = await intake.delete_unreferenced_originals(sessions, store, candidates)
    return removed, await asyncio.to_thread(gone, before)
