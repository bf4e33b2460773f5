"""The chain-of-custody log: append-only, each entry carrying the hash of the one before.

An entry's hash (format 2, docs/custody.md) is SHA-256 over its sequence number, the
previous hash and a digest of its body (time, actor, action, tip, details), so editing or
removing any row breaks every later link, and an export can leave other tips' bodies out
without breaking the chain. The encodings live in :mod:`bot.evidence.verifier`, the module
shipped to investigators; :func:`verify` finds the first broken link.

Appends are serialised by locking the single ``custody_head`` row (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite transactions already hold the write lock), which keeps the
chain linear under concurrent transactions. Details must never hold reporters' words or
places: record ids, hashes, counts and codes only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.evidence import verifier
from db.models import CUSTODY_V2, CustodyEntry, CustodyHead

GENESIS_HASH = verifier.GENESIS_HASH
SYSTEM = "system"

JsonScalar = str | int | bool | None
JsonValue = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]


def reporter_actor(pseudonym: str) -> str:
    return f"reporter:{pseudonym}"


def entry_time(created_at: datetime) -> str:
    """An entry's time as it is hashed: UTC, ISO 8601 with microseconds and ``+00:00``."""
    return created_at.astimezone(UTC).isoformat(timespec="microseconds")


def as_document(entry: CustodyEntry, *, redact: bool = False) -> dict[str, Any]:
    """The entry as a line of an exported ``chain.jsonl`` (docs/custody.md); ``redact``
    leaves a format-2 entry's body out (its digest still links the chain)."""
    if entry.format == CUSTODY_V2 and redact:
        return {
            "v": 2,
            "seq": entry.seq,
            "prev_hash": entry.prev_hash,
            "body_digest": entry.body_digest,
            "hash": entry.hash,
            "redacted": True,
        }
    document: dict[str, Any] = {
        "v": entry.format,
        "seq": entry.seq,
        "time": entry_time(entry.created_at),
        "actor": entry.actor,
        "action": entry.action,
        "tip": entry.tip_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    if entry.format == CUSTODY_V2:
        document["body_digest"] = entry.body_digest
    document["hash"] = entry.hash
    return document


def entry_hash(entry: CustodyEntry) -> str:
    """The hash an entry must carry, recomputed from its columns in its own format."""
    time = entry_time(entry.created_at)
    if entry.format == CUSTODY_V2:
        digest = verifier.body_digest(time, entry.actor, entry.action, entry.tip_id, entry.details)
        return verifier.v2_hash(entry.seq, entry.prev_hash, digest)
    return verifier.v1_hash(
        entry.seq, time, entry.actor, entry.action, entry.tip_id, entry.details, entry.prev_hash
    )


# What details may hold besides objects and arrays; not floats, whose text form is not
# stable across databases.
_JSON_SCALARS = (str, int, bool, type(None))


def _check_details(value: Any) -> None:
    """Floats are refused: their text form is not stable across databases."""
    if isinstance(value, dict):
        _check_object(value)
    elif isinstance(value, list):
        for item in value:
            _check_details(item)
    elif not isinstance(value, _JSON_SCALARS):
        raise TypeError(f"custody details cannot hold {type(value).__name__}")


def _check_object(value: dict[Any, Any]) -> None:
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError("custody detail keys must be strings")
        _check_details(item)


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
    seq = head.seq + 1
    created_at = datetime.now(UTC)
    digest = verifier.body_digest(entry_time(created_at), actor, action, tip_id, data)
    entry = CustodyEntry(
        seq=seq,
        created_at=created_at,
        actor=actor,
        action=action,
        tip_id=tip_id,
        details=data,
        prev_hash=head.hash,
        format=CUSTODY_V2,
        body_digest=digest,
        hash=verifier.v2_hash(seq, head.hash, digest),
    )
    session.add(entry)
    head.seq = entry.seq
    head.hash = entry.hash
    await session.flush()
    return entry


def _digest_matches(entry: CustodyEntry) -> bool:
    """A format-2 entry's stored body digest (what a redacted export shows) is its body's."""
    if entry.format != CUSTODY_V2:
        return entry.body_digest is None
    time = entry_time(entry.created_at)
    return entry.body_digest == verifier.body_digest(
        time, entry.actor, entry.action, entry.tip_id, entry.details
    )


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
    head = (await session.execute(select(CustodyHead).where(CustodyHead.id == 1))).scalar_one()
    # Entries are numbered from 1 without gaps: after ``count`` good ones, the last is ``count``.
    count, expected_prev, v2_from = 0, GENESIS_HASH, head.v2_from_seq
    while rows := await _entries_after(session, count, batch):
        for entry in rows:
            problem = _problem(entry, count + 1, expected_prev, v2_from)
            if problem is not None:
                return Verification(False, count, expected_prev, *problem)
            count, expected_prev = count + 1, entry.hash
    if (head.seq, head.hash) != (count, expected_prev):
        return Verification(False, count, expected_prev, head.seq, "head does not match chain")
    return Verification(True, count, expected_prev)


async def _entries_after(session: AsyncSession, seq: int, batch: int) -> Sequence[CustodyEntry]:
    """The next ``batch`` entries after ``seq``, in order."""
    query = select(CustodyEntry).where(CustodyEntry.seq > seq).order_by(CustodyEntry.seq)
    return (await session.scalars(query.limit(batch))).all()


def _problem(
    entry: CustodyEntry, expected_seq: int, expected_prev: str, v2_from: int
) -> tuple[int, str] | None:
    """Where the chain breaks at ``entry`` and how, or None if it holds there."""
    if entry.seq != expected_seq:
        return expected_seq, "missing entry"
    if entry.prev_hash != expected_prev:
        return entry.seq, "broken link"
    if not _intact(entry, v2_from):
        return entry.seq, "altered entry"
    return None


def _intact(entry: CustodyEntry, v2_from: int) -> bool:
    """The entry's hash and digest are its own, and it is in format 2 from ``v2_from`` on."""
    return (
        entry_hash(entry) == entry.hash
        and _digest_matches(entry)
        and (entry.format == CUSTODY_V2 or entry.seq < v2_from)
    )


async def head(session: AsyncSession) -> tuple[int, str]:
    """The chain's head: how many entries it holds and the hash of the last one."""
    row = (await session.execute(select(CustodyHead).where(CustodyHead.id == 1))).scalar_one()
    return int(row.seq), str(row.hash)
