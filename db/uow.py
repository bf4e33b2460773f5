"""The unit of work: one transaction, and what must happen once it has committed.

Code inside a transaction never reaches outside it (no Telegram call, no file deletion, no
wake-up of a worker) until the database has the decision: it *announces* the effect on its
session, and :func:`db.engine.transaction` runs the effects after a successful commit. A
rolled-back transaction (or an attempt that :func:`db.engine.retrying` runs again) drops
what it announced.

Two forms:

- :func:`on_commit` — a callback of the transaction's own (sync or async), run once after
  the commit, in the order announced.
- :func:`emit` — a named topic with an optional payload, for effects whose performer is
  wired elsewhere: the outbox worker listens to :data:`OUTBOX` (wake up now rather than at
  the next poll), the media store's eraser to :data:`ORIGINALS` (delete these originals if
  nothing refers to them any more). Listeners are connected on the :class:`Signals` given
  to :func:`db.engine.session_factory`; a topic nobody listens to is dropped (the work is
  recorded in the database anyway, and a periodic job picks it up).

This module is the only place that touches ``Session.info``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

# Topics.
OUTBOX = "outbox"  # something was queued or made due in the outbox: no payload
ORIGINALS = "originals"  # payload: {sha256: storage key} of originals no row may reference

Effect = Callable[[], Awaitable[None] | None]
Listener = Callable[[list[Any]], Awaitable[None] | None]

_KEY = "tipbot.unit_of_work"
_SIGNALS = "tipbot.signals"


class Signals:
    """Who performs each topic's effects: connected once at wiring time."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

    def connect(self, topic: str, listener: Listener) -> None:
        """Call ``listener`` with the payloads of ``topic`` after each commit that emitted
        it (``None`` payloads are left out of the list)."""
        self._listeners.setdefault(topic, []).append(listener)

    def listeners(self, topic: str) -> list[Listener]:
        return list(self._listeners.get(topic, ()))

    def session_info(self) -> dict[str, Any]:
        """What a session factory gives every session so that its commits reach us."""
        return {_SIGNALS: self}


def signals_of(factory: async_sessionmaker[AsyncSession]) -> Signals:
    """The :class:`Signals` that ``factory``'s sessions report to (a factory built by
    :func:`db.engine.session_factory`)."""
    signals = factory.kw.get("info", {}).get(_SIGNALS)
    assert isinstance(signals, Signals), "session factory not built by session_factory()"
    return signals


@dataclass
class _Pending:
    effects: list[Effect] = field(default_factory=list)
    topics: dict[str, list[Any]] = field(default_factory=dict)


def _pending(session: AsyncSession) -> _Pending:
    pending = session.info.get(_KEY)
    if pending is None:
        pending = session.info[_KEY] = _Pending()
    return pending


def on_commit(session: AsyncSession, effect: Effect) -> None:
    """Run ``effect`` once ``session``'s transaction has committed."""
    _pending(session).effects.append(effect)


def emit(session: AsyncSession, topic: str, payload: Any = None) -> None:
    """Announce ``topic`` (with ``payload``) to its listeners once the transaction commits."""
    payloads = _pending(session).topics.setdefault(topic, [])
    if payload is not None:
        payloads.append(payload)


def take(session: AsyncSession, topic: str) -> list[Any] | None:
    """Withdraw what this transaction emitted on ``topic`` (the payloads, or None if it did
    not emit it), for a caller that performs the effect itself after the commit."""
    pending: _Pending | None = session.info.get(_KEY)
    if pending is None:
        return None
    return pending.topics.pop(topic, None)


def discard(session: AsyncSession) -> None:
    """Forget everything announced (the transaction did not commit)."""
    session.info.pop(_KEY, None)


async def run_after_commit(session: AsyncSession) -> None:
    """Perform what ``session``'s committed transaction announced. An effect that fails is
    logged (by kind only) and does not stop the others: the decision stands either way."""
    pending = session.info.pop(_KEY, None)
    if pending is None:
        return
    for effect in pending.effects:
        await _perform(effect)
    signals: Signals | None = session.info.get(_SIGNALS)
    if signals is None:
        return
    for topic, payloads in pending.topics.items():
        for listener in signals.listeners(topic):
            await _perform(listener, payloads)


async def _perform(effect: Callable[..., Awaitable[None] | None], *args: Any) -> None:
    try:
        result = effect(*args)
        if inspect.isawaitable(result):
            await result
    except Exception as exc:  # the commit stands; the owner's periodic job catches up
        log.error("an effect after commit failed: %s", type(exc).__name__)
