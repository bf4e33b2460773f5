"""The done mark of an update, carried by its handler's own commit.

While an update from the store runs, :class:`DoneMark` is the context's current mark. The
first transaction that commits in the update's own task (after ``skip`` earlier ones: a
file's admission) also runs :func:`bot.updates.store.done_statement` — a SQLAlchemy
``before_commit`` hook — so the handler's effects and the mark are one commit. If the row
was done already (another process finished it after this one's lease ran out), the hook
raises :class:`AlreadyProcessed` and the handler's transaction rolls back instead: its
effects are never committed twice. Commits of other tasks (ones a handler started) never
carry the mark.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.updates.store import done_statement
from db.models import utcnow


class AlreadyProcessed(Exception):
    """The update was marked done by another process meanwhile: this commit is refused."""


@dataclass(slots=True, eq=False)
class DoneMark:
    """One stored update in hand (:class:`bot.processor.LedgerEntry`): ``mark_done`` marks it
    in a transaction of its own, ``finished`` frees its place."""

    update_id: int
    skip: int
    mark_done: Callable[[int], Awaitable[None]]
    finished: Callable[[int], None]
    task: asyncio.Task[Any] | None = None
    marked: bool = False
    active: bool = True
    carrier: Session | None = None
    token: contextvars.Token[DoneMark | None] | None = None

    def enter(self) -> DoneMark:
        self.task = asyncio.current_task()
        self.token = _current.set(self)
        return self

    def applies(self) -> bool:
        return self.active and not self.marked and asyncio.current_task() is self.task

    async def settle(self) -> None:
        """The update ran to its end: mark it done, unless its handler's commit did."""
        self.active = False
        if not self.marked:
            await self.mark_done(self.update_id)

    def close(self) -> None:
        """Over, either way (cut short, it stays pending for the next start)."""
        self.active = False
        if self.token is not None:
            _current.reset(self.token)
            self.token = None
        self.finished(self.update_id)


_current: contextvars.ContextVar[DoneMark | None] = contextvars.ContextVar(
    "tipbot_done_mark", default=None
)


def _before_commit(session: Session) -> None:
    mark = _current.get()
    if mark is None or not mark.applies() or mark.skip > 0:
        return
    result = session.execute(done_statement(mark.update_id, utcnow()))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyProcessed(f"update={mark.update_id}")
    mark.carrier = session


def _after_commit(session: Session) -> None:
    mark = _current.get()
    if mark is None or not mark.applies():
        return
    if mark.carrier is session:
        mark.marked = True
    elif mark.skip > 0:
        mark.skip -= 1


def _after_rollback(session: Session, _previous: Any) -> None:
    mark = _current.get()
    if mark is not None and mark.carrier is session:
        mark.carrier = None


def install_done_marks() -> None:
    """Let handlers' commits carry their update's done mark (once per process)."""
    for name, listener in (
        ("before_commit", _before_commit),
        ("after_commit", _after_commit),
        ("after_soft_rollback", _after_rollback),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
