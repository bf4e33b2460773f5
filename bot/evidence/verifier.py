"""Check tipbot evidence without tipbot: the custody chain, testimony records, and bundles.

This one module is standard-library Python (3.9 or newer) so that it can be shipped, as it
is, into every evidence bundle as ``data/verify.py``: an investigator runs
``python3 verify.py`` in the bundle and needs nothing else. tipbot uses the same functions
for its own checks (``tipbot verify``, ``tipbot verify-bundle``), so the two never disagree.
The formats are specified in ``docs/custody.md``.

Custody entries come in two formats. Format 1 (the first entries of older installations)
hashes the whole entry. Format 2 hashes a *digest* of the entry's body, so an export can
carry another tip's entry as ``seq, prev_hash, body_digest, hash`` alone: the link still
verifies and nothing of the body is revealed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

GENESIS_HASH = "0" * 64
V2_PREFIX = "tipbot-custody-v2"
RECORD_VERSION = 1

# The testimony fields a reporter gives, in the order they are listed in docs/custody.md.
# Their canonical record (below) is hashed into the ``submitted`` entry.
TESTIMONY_FIELDS = (
    "reference",
    "language",
    "category",
    "description",
    "incident_date",
    "incident_date_precision",
    "incident_time",
    "location_source",
    "location_precision",
    "lat",
    "lon",
    "place_text",
    "settlement",
    "settlement_id",
    "oblast",
    "perpetrator",
    "perpetrator_text",
    "contact_allowed",
)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, non-ASCII as UTF-8 (not escaped), floats refused."""
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("canonical JSON holds no floats (their text form is not stable)")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("canonical JSON keys are strings")
            _refuse_floats(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_floats(item)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------- entries


def body_bytes(time: str, actor: str, action: str, tip: int | None, details: Any) -> bytes:
    """The canonical body of a format-2 entry."""
    return canonical_json(
        {"time": time, "actor": actor, "action": action, "tip": tip, "details": details}
    )


def body_digest(time: str, actor: str, action: str, tip: int | None, details: Any) -> str:
    return sha256_hex(body_bytes(time, actor, action, tip, details))


def v2_hash(seq: int, prev_hash: str, digest: str) -> str:
    """A format-2 entry's hash: over its position, the previous hash and its body's digest."""
    return sha256_hex(f"{V2_PREFIX}:{seq}:{prev_hash}:{digest}".encode("ascii"))


def v1_hash(
    seq: int, time: str, actor: str, action: str, tip: int | None, details: Any, prev: str
) -> str:
    """A format-1 entry's hash: over the whole entry."""
    return sha256_hex(
        canonical_json(
            {
                "seq": seq,
                "time": time,
                "actor": actor,
                "action": action,
                "tip": tip,
                "details": details,
                "prev": prev,
            }
        )
    )


class ChainProblem(Exception):
    """The chain is broken at ``seq``; ``code`` names how (see docs/custody.md)."""

    def __init__(self, seq: int, code: str, message: str) -> None:
        super().__init__(f"entry {seq}: {message}")
        self.seq = seq
        self.code = code
        self.message = message


def check_entry(entry: Mapping[str, Any], expected_seq: int, expected_prev: str) -> str:
    """Check one exported entry (a line of ``chain.jsonl``) against the link before it and
    return its hash; raise :class:`ChainProblem` when it does not belong there."""
    seq = entry.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ChainProblem(expected_seq, "malformed", "has no sequence number")
    if seq != expected_seq:
        code = "missing_entry" if seq > expected_seq else "out_of_order"
        raise ChainProblem(expected_seq, code, f"expected entry {expected_seq}, found {seq}")
    if entry.get("prev_hash") != expected_prev:
        raise ChainProblem(seq, "broken_link", "does not link to the entry before it")
    version = entry.get("v")
    if version == 2:
        digest = entry.get("body_digest")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ChainProblem(seq, "malformed", "has no body digest")
        if not entry.get("redacted"):
            try:
                recomputed = body_digest(
                    entry["time"], entry["actor"], entry["action"], entry["tip"], entry["details"]
                )
            except (KeyError, TypeError) as exc:
                raise ChainProblem(seq, "malformed", f"body cannot be read ({exc})") from None
            if recomputed != digest:
                raise ChainProblem(seq, "altered_entry", "its body does not match its digest")
        computed = v2_hash(seq, expected_prev, digest)
    elif version == 1:
        if entry.get("redacted"):
            raise ChainProblem(seq, "malformed", "a format-1 entry cannot be redacted")
        try:
            computed = v1_hash(
                seq,
                entry["time"],
                entry["actor"],
                entry["action"],
                entry["tip"],
                entry["details"],
                expected_prev,
            )
        except (KeyError, TypeError) as exc:
            raise ChainProblem(seq, "malformed", f"cannot be read ({exc})") from None
    else:
        raise ChainProblem(seq, "malformed", f"has an unknown format {version!r}")
    if computed != entry.get("hash"):
        raise ChainProblem(seq, "altered_entry", "its hash does not match its content")
    return computed


def check_chain(entries: Iterable[Mapping[str, Any]]) -> tuple[int, str]:
    """Walk entries from genesis in order; return (count, head hash) or raise ChainProblem."""
    expected_prev = GENESIS_HASH
    count = 0
    for entry in entries:
        expected_prev = check_entry(entry, count + 1, expected_prev)
        count += 1
    return count, expected_prev


# ---------------------------------------------------------------------------- testimony


def coordinate(value: float | None) -> str | None:
    """A latitude or longitude in a testimony record: six decimals, as text."""
    return None if value is None else format(float(value), ".6f")


def testimony_record(tip: Mapping[str, Any], files: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The canonical record of what a reporter gave when submitting: every field of
    :data:`TESTIMONY_FIELDS` (dates as ``YYYY-MM-DD``, times as ``HH:MM:SS``, coordinates with
    six decimals) and the files as ``[media id, SHA-256]`` pairs in media id order."""
    record: dict[str, Any] = {"record": RECORD_VERSION}
    for field in TESTIMONY_FIELDS:
        value = tip.get(field)
        if field in ("lat", "lon"):
            value = coordinate(value)
        elif value is not None and field in ("incident_date", "incident_time"):
            value = value if isinstance(value, str) else value.isoformat()
        record[field] = value
    record["files"] = sorted([int(item["media_id"]), item.get("sha256")] for item in files)
    return record


def note_record(
    *, reference: str, note_id: int, kind: str, text: str | None, file_sha256: str | None
) -> dict[str, Any]:
    """The canonical record of an answer or an addition the reporter sent later."""
    return {
        "record": RECORD_VERSION,
        "reference": reference,
        "note": note_id,
        "kind": kind,
        "text": text,
        "file": file_sha256,
    }


def record_digest(record: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json(dict(record)))


# ---------------------------------------------------------------------------- files


CHUNK = 1024 * 1024


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def read_jsonl(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                raise ValueError(f"{os.path.basename(path)} line {number} is not JSON") from None
            if not isinstance(value, dict):
                raise ValueError(f"{os.path.basename(path)} line {number} is not an object")
            yield value


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: verify.py CHAIN.jsonl", file=sys.stderr)
        return 2
    try:
        count, head = check_chain(read_jsonl(args[0]))
    except ChainProblem as exc:
        print(f"BROKEN: {exc}")
        return 3
    print(f"chain intact: {count} entries, head {head}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
