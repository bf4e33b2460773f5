"""The session a unit of work (:func:`db.engine.transaction`) hands to the services, named
here so that handlers can pass it on — and annotate what they pass it to — without
importing SQLAlchemy: they never build or run a statement themselves."""

from __future__ import annotations

from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession

Session: TypeAlias = AsyncSession
