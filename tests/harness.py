"""Runs the real bot (``bot.app.build_application``) against the fake Bot API server.

The harness tells the fake server to wait, after each simulated user action, until the
bot has finished processing that update — so a test reads like a conversation: act, then
look at what the user sees and what the database holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.app import ALLOWED_UPDATES, build_application
from bot.settings import Settings
from db.engine import session_factory
from db.models import Base
from handlers.base import Services, TipbotApp
from tests.fakebot import FakeTelegram


class BotHarness:
    def __init__(
        self,
        fake: FakeTelegram,
        settings: Settings,
        engine: AsyncEngine,
        secret: bytes,
        *,
        request_timeout: float = 10.0,
    ) -> None:
        self.fake = fake
        self.request_timeout = request_timeout
        self.settings = settings
        self.engine = engine
        self.secret = secret
        self.app: TipbotApp | None = None
        self._done: set[int] = set()
        self._waiters: dict[int, asyncio.Event] = {}
        self.sessions = session_factory(engine)

    @property
    def services(self) -> Services:
        assert self.app is not None
        services: Services = self.app.bot_data["services"]
        return services

    def _on_done(self, update_id: int) -> None:
        self._done.add(update_id)
        event = self._waiters.pop(update_id, None)
        if event is not None:
            event.set()

    async def wait_processed(self, update_id: int) -> None:
        if update_id in self._done:
            return
        event = self._waiters.setdefault(update_id, asyncio.Event())
        async with asyncio.timeout(15.0):
            await event.wait()

    async def start(self, **settings_overrides: Any) -> None:
        settings = self.settings
        if settings_overrides:
            settings = settings.model_copy(update=settings_overrides)
        app = build_application(
            settings, self.secret, engine=self.engine, request_timeout=self.request_timeout
        )
        app.bot_data["services"].processor.update_done.append(self._on_done)
        # What Application.run_polling does, without taking over the event loop.
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        self.app = app
        await self.resume_polling()

    async def stop(self) -> None:
        app = self.app
        if app is None:
            return
        self.fake.update_waiter = None
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        self.app = None

    async def pause_polling(self) -> None:
        """Stop fetching updates but keep the application running (another takes over)."""
        assert self.app is not None
        assert self.app.updater is not None
        await self.app.updater.stop()
        if self.fake.update_waiter == self.wait_processed:
            self.fake.update_waiter = None

    async def resume_polling(self) -> None:
        assert self.app is not None
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES
        )
        self.fake.update_waiter = self.wait_processed

    async def restart(self) -> None:
        """Stop this application and start a new one on the same database (a restart)."""
        await self.stop()
        self._done.clear()
        await self.start()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def all(self, model: type[Base], *where: Any) -> list[Any]:
        async with self.session() as session:
            return list((await session.execute(select(model).where(*where))).scalars().all())

    async def count(self, model: type[Base], *where: Any) -> int:
        async with self.session() as session:
            primary = next(iter(model.__table__.primary_key.columns))
            return int(
                (await session.execute(select(func.count(primary)).where(*where))).scalar_one()
            )
