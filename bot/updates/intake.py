"""Updates into the store before Telegram is told they arrived (see :mod:`bot.updates`).

PTB's polling loop puts each fetched update into the updater's queue and, once the batch is
queued, asks for the next one with an offset past it — which confirms the batch to
Telegram. :class:`IntakeQueue` keeps what is put, and :class:`StoreFirst`, the request
object of ``getUpdates``, commits it before that next request goes out: one transaction a
batch, and nothing confirmed that is not stored. If the database refuses, the request
fails with :class:`UpdateStoreUnavailable` (a network error to PTB: it backs off and tries
again, the batch still kept).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from telegram import Bot, Update
from telegram.ext import Application, ApplicationHandlerStop, CallbackContext, Updater
from telegram.request import BaseRequest, RequestData

from bot.processor import ChatOrderedProcessor
from bot.updates.dispatch import Dispatcher
from bot.updates.marks import AlreadyProcessed, install_done_marks
from bot.updates.store import UpdateStore
from db.engine import SessionFactory


class IntakeQueue(asyncio.Queue[object]):
    """The updater's queue: updates put here are kept until :meth:`flush` stores them (at
    once with ``immediate``, for a webhook); anything else passes through."""

    def __init__(self, store: UpdateStore) -> None:
        super().__init__()
        self._store = store
        self._kept: list[Update] = []
        self._lock = asyncio.Lock()
        self.immediate = False
        self.stored: Callable[[Iterable[Update]], None] = lambda _updates: None

    async def put(self, item: object) -> None:
        if not isinstance(item, Update):
            await super().put(item)
            return
        self._kept.append(item)
        if self.immediate:
            await self.flush()

    async def flush(self) -> None:
        """Store what was put (one transaction); raises
        :class:`bot.updates.store.UpdateStoreUnavailable` and keeps it if that fails."""
        async with self._lock:
            batch = list(self._kept)
            if not batch:
                return
            await self._store.accept(batch)
            del self._kept[: len(batch)]
        self.stored(batch)


class StoreFirst(BaseRequest):
    """The request object of ``getUpdates``: before each request, whose offset confirms
    what was fetched so far, runs ``before`` (the intake's flush)."""

    __slots__ = ("_before", "_inner")

    def __init__(self, inner: BaseRequest, before: Callable[[], Awaitable[None]]) -> None:
        self._inner = inner
        self._before = before

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        await self._before()
        return await self._inner.do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


class DurableUpdater(Updater):
    """PTB's updater (polling loop, backoff, error callback, webhook server) over
    :class:`IntakeQueue`, with the dispatcher running while it runs: a stopped (or paused)
    updater takes no new work, and the updates in hand go on."""

    __slots__ = ("_dispatcher", "_intake")

    def __init__(self, bot: Bot, intake: IntakeQueue, dispatcher: Dispatcher) -> None:
        super().__init__(bot=bot, update_queue=intake)
        self._intake = intake
        self._dispatcher = dispatcher

    async def start_polling(
        self,
        poll_interval: float = 0.0,
        timeout: Any = dtm.timedelta(seconds=10),  # noqa: ASYNC109 (PTB's signature)
        bootstrap_retries: int = 0,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        error_callback: Callable[[Any], None] | None = None,
    ) -> asyncio.Queue[object]:
        queue = await super().start_polling(
            poll_interval=poll_interval,
            timeout=timeout,
            bootstrap_retries=bootstrap_retries,
            allowed_updates=allowed_updates,
            drop_pending_updates=drop_pending_updates,
            error_callback=error_callback,
        )
        self._dispatcher.start()
        return queue

    async def start_webhook(self, *args: Any, **kwargs: Any) -> asyncio.Queue[object]:
        """PTB's webhook server, answering Telegram only once the update is committed."""
        self._intake.immediate = True
        queue = await super().start_webhook(*args, **kwargs)
        self._dispatcher.start()
        return queue

    async def stop(self) -> None:
        await super().stop()  # its last getUpdates stores and confirms what was fetched
        await self._dispatcher.stop()


class DurableUpdates:
    """The wiring: the store, the intake queue, the ``getUpdates`` request and, once the
    application is built, the updater and the dispatcher."""

    def __init__(self, sessions: SessionFactory, secret: bytes) -> None:
        install_done_marks()
        self.store = UpdateStore(sessions, secret)
        self.intake = IntakeQueue(self.store)

    def get_updates_request(self, inner: BaseRequest) -> BaseRequest:
        return StoreFirst(inner, self.intake.flush)

    def install(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        processor: ChatOrderedProcessor,
        capacity: int,
    ) -> Dispatcher:
        """Give ``app`` (built with ``.updater(None)``) its updater; at most ``capacity``
        updates in hand."""
        dispatcher = Dispatcher(self.store, app.bot, app.update_queue.put_nowait, capacity)
        self.intake.stored = dispatcher.stored
        app.updater = DurableUpdater(app.bot, self.intake, dispatcher)
        processor.ledger = dispatcher
        app.add_error_handler(_already_processed)  # the first: no apology for it
        return dispatcher


async def _already_processed(_update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
    """An update another process committed first (its lease had run out): its handler's
    transaction was refused, and there is nothing to tell anyone."""
    if isinstance(context.error, AlreadyProcessed):
        raise ApplicationHandlerStop
