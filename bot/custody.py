"""The chain-of-custody log: append-only, each entry carrying the hash of the one before.

An entry's hash is SHA-256 over a canonical JSON encoding of its fields and the previous
hash, so editing or removing any row breaks every later link; :func:`verify` finds the first
broken one. Appends are serialised by locking the single ``custody_head`` row (``SELECT ...
FOR UPDATE`` on PostgreSQL; SQLite transactions already hold the write lock), which keeps the
chain linear under concurrent transactions. Details must never hold reporters' words or
places: record ids, hashes, counts and codes only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CustodyEntry, CustodyHead

GENESIS_HASH = "0" * 64
SYSTEM = "system"

JsonScalar = str | int | bool | None
JsonValue = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]


def reporter_actor(pseudonym: str) -> str:
    return f"reporter:{pseudonym}"


def canonical(
    *,
    seq: int,
    created_at: datetime,
    actor: str,
    action: str,
    tip_id: int | None,
    details: Mapping[str, Any],
    prev_hash: str,
) -> bytes:
    """The exact bytes that are hashed: sorted-key compact JSON, UTC time in microseconds."""
    document = {
        "seq": seq,
        "time": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "tip": tip_id,
        "details": details,
        "prev": prev_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: CustodyEntry) -> str:
    return hashlib.sha256(
        canonical(
            seq=entry.seq,
            created_at=entry.created_at,
            actor=entry.actor,
            action=entry.action,
            tip_id=entry.tip_id,
            details=entry.details,
            prev_hash=entry.prev_hash,
        )
    ).hexdigest()


def _check_details(value: Any) -> None:
    """Floats are refused: their text form is not stable across databases."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("custody detail keys must be strings")
            _check_details(item)
    elif isinstance(value, list):
        for item in value:
            _check_details(item)
    elif not isinstance(value, (str, int, bool)) and value is not None:
        raise TypeError(f"custody details cannot hold {type(value).__name__}")


async def append(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    tip_id: int | None = None,
    details: Mapping[str, JsonValue] | None = None,
) -> CustodyEntry:
    """Append one entry in the caller's transaction and return it.

    Call it last in a transaction where possible: it holds the chain's lock until commit.
    """
    data = dict(details or {})
    _check_details(data)
    head = (
        await session.execute(select(CustodyHead).where(CustodyHead.id == 1).with_for_update())
    ).scalar_one()
    entry = CustodyEntry(
        seq=head.seq + 1,
        created_at=datetime.now(UTC),
        actor=actor,
        action=action,
        tip_id=tip_id,
        details=data,
        prev_hash=head.hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    head.seq = entry.seq
    head.hash = entry.hash
    await session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of checking the chain: ``ok``, how many entries, and where it first broke."""

    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


async def verify(session: AsyncSession, *, batch: int = 1000) -> Verification:
    """Walk the whole chain in order, recomputing every hash and link."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(CustodyEntry)
                    .where(CustodyEntry.seq > last_seq)
                    .order_by(CustodyEntry.seq)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return Verification(False, count, expected_prev, expected_seq, "missing entry")
            if entry.prev_hash != expected_prev:
                return Verification(False, count, expected_prev, entry.seq, "broken link")
            if entry_hash(entry) != entry.hash:
                return Verification(False, count, expected_prev, entry.seq, "altered entry")
            expected_prev = entry.hash
            expected_seq += 1
            count += 1
            last_seq = entry.seq
    head = (await session.execute(select(CustodyHead).where(CustodyHead.id == 1))).scalar_one()
    if head.seq != count or head.hash != expected_prev:
        return Verification(False, count, expected_prev, head.seq, "head does not match chain")
    return Verification(True, count, expected_prev)


async def head(session: AsyncSession) -> tuple[int, str]:
    """The chain's head: how many entries it holds and the hash of the last one."""
    row = (await session.execute(select(CustodyHead).where(CustodyHead.id == 1))).scalar_one()
    return int(row.seq), str(row.hash)
