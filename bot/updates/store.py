"""The ``inbound_update`` table: accept, claim with a lease, renew, mark done, release the
leases of processes that are gone, prune (see :mod:`bot.updates`)."""

from __future__ import annotations

import datetime as dtm
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
from collections.abc import Collection, Container, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Table, delete, func, or_, select, text, update
from sqlalchemy import Update as UpdateStatement
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate
from telegram import Update
from telegram.error import NetworkError

from bot.processor import turn_key
from db.engine import SessionFactory, transaction
from db.models import InboundUpdate, utcnow

log = logging.getLogger(__name__)

LEASE = dtm.timedelta(seconds=60)
KEEP_DONE = dtm.timedelta(days=2)
MAX_ATTEMPTS = 5
# The PostgreSQL advisory lock claims take turns on ("tipbotup"; the migrations' differs).
CLAIM_LOCK = 0x7469_7062_6F74_7570

_TABLE = cast(Table, InboundUpdate.__table__)
_C = _TABLE.c
_AD = b"inbound_update"
# Owners started in this process: their leases are live although their pid is ours.
_LIVE_OWNERS: set[str] = set()


class UpdateStoreUnavailable(NetworkError):
    """Fetched updates could not be stored, so Telegram is not told they arrived: PTB's
    polling backs off and fetches them again."""


# ---------------------------------------------------------------------------- sealing


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


class Seal:
    """An update's JSON sealed with AES-256-GCM (a random 12-byte nonce first), and the
    keyed digest of the chat it belongs to."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(_derive(secret, b"tipbot/update-store/v1"))
        self._digest_key = _derive(secret, b"tipbot/update-chat/v1")

    def close(self, data: dict[str, Any]) -> bytes:
        nonce = os.urandom(12)
        plain = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return nonce + self._aead.encrypt(nonce, plain, _AD)

    def open(self, blob: bytes | None) -> dict[str, Any] | None:
        """The update's JSON, or None when it was sealed with another key or is damaged."""
        if not blob:
            return None
        try:
            data = json.loads(self._aead.decrypt(blob[:12], blob[12:], _AD))
        except (InvalidTag, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def chat_key(self, turn: Hashable | None) -> str | None:
        if turn is None:
            return None
        return hmac.new(self._digest_key, repr(turn).encode(), hashlib.sha256).hexdigest()[:32]


# ---------------------------------------------------------------------------- owners


def new_owner() -> str:
    owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    _LIVE_OWNERS.add(owner)
    return owner


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def is_gone(owner: str) -> bool:
    """Whether ``owner`` was a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner not in _LIVE_OWNERS  # an earlier life with our pid (in a container)
    return not _alive(pid)


# ---------------------------------------------------------------------------- statements


def done_statement(update_id: int, now: dtm.datetime) -> UpdateStatement:
    """Mark a pending update done, forgetting its payload and its chat."""
    return (
        update(_TABLE)
        .where(_C.update_id == update_id, _C.done_at.is_(None))
        .values(done_at=now, payload=None, chat_key=None, lease_owner=None, lease_until=None)
    )


def _claim_statement(owner: str, now: dtm.datetime, limit: int) -> ReturningUpdate[Any]:
    """Lease to ``owner`` the first ``limit`` pending rows nobody holds, of chats no other
    live process holds a row of; returns them (in no particular order)."""
    held = (
        select(_C.chat_key)
        .where(
            _C.done_at.is_(None),
            _C.lease_owner != owner,
            _C.lease_until >= now,
            _C.chat_key.is_not(None),
        )
        .correlate(None)
    )
    chosen = (
        select(_C.update_id)
        .where(
            _C.done_at.is_(None),
            or_(_C.lease_until.is_(None), _C.lease_until < now),
            or_(_C.chat_key.is_(None), _C.chat_key.not_in(held)),
        )
        .order_by(_C.update_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .correlate(None)
    )
    return (
        update(_TABLE)
        .where(_C.update_id.in_(chosen))
        .values(lease_owner=owner, lease_until=now + LEASE, attempts=_C.attempts + 1)
        .returning(_C.update_id, _C.payload, _C.attempts)
    )


def _insert(dialect: str, rows: list[dict[str, Any]]) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(_TABLE).values(rows).on_conflict_do_nothing(index_elements=["update_id"])


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# ---------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed update: its JSON, or None when the claimer said it knows the update."""

    update_id: int
    data: dict[str, Any] | None


class UpdateStore:
    """Where updates wait from their arrival until they are done."""

    def __init__(
        self, sessions: SessionFactory, secret: bytes, *, owner: str | None = None
    ) -> None:
        self._sessions = sessions
        self._seal = Seal(secret)
        self.owner = owner or new_owner()

    async def accept(self, updates: Sequence[Update]) -> None:
        """Store ``updates`` in one transaction; those stored already are left as they are.
        Raises :class:`UpdateStoreUnavailable` when the database does not take them."""
        if not updates:
            return
        now = utcnow()
        rows = [self._row(item, now) for item in updates]
        try:
            async with transaction(self._sessions) as session:
                await session.execute(_insert(_dialect(session), rows))
        except SQLAlchemyError as exc:
            raise UpdateStoreUnavailable(f"updates not stored ({type(exc).__name__})") from exc

    def _row(self, item: Update, now: dtm.datetime) -> dict[str, Any]:
        return {
            "update_id": item.update_id,
            "chat_key": self._seal.chat_key(turn_key(item)),
            "payload": self._seal.close(item.to_dict()),
            "received_at": now,
            "attempts": 0,
        }

    async def claim(self, limit: int, known: Container[int] = ()) -> list[Claimed]:
        """Lease up to ``limit`` pending updates to this process, oldest first (those in
        ``known`` come without their JSON). Updates claimed :data:`MAX_ATTEMPTS` times
        already, or unreadable, are given up (marked done, one log line each)."""
        now = utcnow()
        async with transaction(self._sessions) as session:
            if _dialect(session) == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLAIM_LOCK})
            rows = (await session.execute(_claim_statement(self.owner, now, limit))).all()
            claimed, spent = self._sort(sorted(rows, key=lambda row: int(row.update_id)), known)
            for update_id in spent:
                await session.execute(done_statement(update_id, now))
        return claimed

    def _sort(
        self, rows: Sequence[Row[Any]], known: Container[int]
    ) -> tuple[list[Claimed], list[int]]:
        """The claimed rows, and those given up (``attempts`` counts this claim too)."""
        claimed: list[Claimed] = []
        spent: list[int] = []
        for row in rows:
            usable = row.attempts <= MAX_ATTEMPTS
            if usable and row.update_id in known:
                claimed.append(Claimed(row.update_id, None))
                continue
            data = self._seal.open(row.payload) if usable else None
            if data is None:
                log.error("update=%d given up after %d attempts", row.update_id, row.attempts - 1)
                spent.append(row.update_id)
            else:
                claimed.append(Claimed(row.update_id, data))
        return claimed, spent

    async def renew(self, update_ids: Collection[int]) -> None:
        """Extend this process's leases of ``update_ids`` (those still pending)."""
        ids = sorted(update_ids)
        until = utcnow() + LEASE
        for start in range(0, len(ids), 500):
            async with transaction(self._sessions) as session:
                await session.execute(
                    update(_TABLE)
                    .where(
                        _C.update_id.in_(ids[start : start + 500]),
                        _C.lease_owner == self.owner,
                        _C.done_at.is_(None),
                    )
                    .values(lease_until=until)
                )

    async def done(self, update_id: int) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(done_statement(update_id, utcnow()))

    async def release_gone(self) -> int:
        """Release the leases of processes of this host that are gone; how many rows."""
        async with transaction(self._sessions) as session:
            owners = await session.scalars(
                select(_C.lease_owner)
                .where(_C.done_at.is_(None), _C.lease_owner.is_not(None))
                .distinct()
            )
            gone = [owner for owner in owners if owner is not None and is_gone(owner)]
            if not gone:
                return 0
            pending = _C.lease_owner.in_(gone) & _C.done_at.is_(None)
            count = await session.scalar(select(func.count()).select_from(_TABLE).where(pending))
            await session.execute(
                update(_TABLE).where(pending).values(lease_owner=None, lease_until=None)
            )
        return int(count or 0)

    async def prune(self) -> None:
        """Forget done updates older than :data:`KEEP_DONE`."""
        async with transaction(self._sessions) as session:
            await session.execute(delete(_TABLE).where(_C.done_at < utcnow() - KEEP_DONE))

    async def pending(self) -> int:
        """How many updates are stored and not done."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(_TABLE).where(_C.done_at.is_(None))
            )
        return int(count or 0)
