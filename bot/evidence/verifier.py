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
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
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


# ---------------------------------------------------------------------------- bundles
#
# An evidence bundle is a BagIt 1.0 bag (RFC 8493) written by ``tipbot bundle``; its layout
# is described in docs/export.md and in the bundle's own data/README.txt. Everything below
# reads it with the standard library only, one file and one chunk at a time.

BUNDLE_FORMAT = 1
PUBLIC_PROFILE = "public"
# Answers and additions carry a record digest; their actions in the chain.
NOTE_ACTIONS = ("answer_received", "information_added")
NOTE_KINDS = ("answer", "addition")
# After these a tip's content is gone on purpose (the custody entries stay).
ERASED_ACTIONS = ("erased", "purged", "draft_deleted")
# Tag files listed in no tag manifest are problems, except the tag manifests themselves.
_TAGMANIFEST_PREFIX = "tagmanifest-"
_MANIFEST_PREFIX = "manifest-"
_OPENSSL_TIMEOUT = 60


class BundleReport:
    """The verifier's report: one line per check, written as it goes, and the problems."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self._write = write if write is not None else _print_line
        self.problems: list[str] = []
        self.head_seq = 0
        self.head_hash = GENESIS_HASH

    def ok(self, text: str) -> None:
        self._write(f"OK      {text}")

    def note(self, text: str) -> None:
        self._write(f"NOTE    {text}")

    def fail(self, text: str) -> None:
        self.problems.append(text)
        self._write(f"FAILED  {text}")

    @property
    def passed(self) -> bool:
        return not self.problems

    def result(self) -> str:
        if self.passed:
            return "RESULT: OK"
        count = len(self.problems)
        return f"RESULT: FAILED ({count} problem{'' if count == 1 else 's'})"

    def finish(self) -> None:
        self._write(self.result())


def _print_line(text: str) -> None:
    print(text, flush=True)


def _bag_path(bag: str, relative: str) -> str:
    return os.path.join(bag, *relative.split("/"))


def _decode_manifest_path(text: str) -> str:
    """BagIt 1.0 percent-encodes CR, LF and ``%`` in manifest paths."""
    if "%" not in text:
        return text
    out = []
    index = 0
    while index < len(text):
        code = text[index + 1 : index + 3].upper()
        if text[index] == "%" and code in ("0A", "0D", "25"):
            out.append({"0A": "\n", "0D": "\r", "25": "%"}[code])
            index += 3
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def _safe_relative(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and ".." not in parts and "" not in parts


def read_manifest(path: str, report: BundleReport) -> dict[str, str]:
    """A manifest as {relative path: lower-case digest}; malformed, unsafe and repeated
    lines are reported."""
    name = os.path.basename(path)
    entries: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split(None, 1)
            if len(parts) != 2:
                report.fail(f"{name} line {number} is not 'DIGEST PATH'")
                continue
            digest, relative = parts[0].lower(), _decode_manifest_path(parts[1].lstrip("*"))
            if not _safe_relative(relative):
                report.fail(f"{name} line {number} names an unsafe path {relative!r}")
                continue
            if relative in entries:
                report.fail(f"{name} lists {relative} more than once")
                continue
            entries[relative] = digest
    return entries


def hash_file(path: str, algorithms: Iterable[str]) -> tuple[dict[str, str], int]:
    """Every digest of ``algorithms`` over one read of the file, and its size."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    size = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}, size


def _walk_files(top: str, relative_to: str) -> list[str]:
    """Files under ``top`` as sorted bag-relative paths with ``/``."""
    found = []
    for folder, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            found.append(os.path.relpath(full, relative_to).replace(os.sep, "/"))
    return found


def _tag_files(bag: str) -> list[str]:
    """Every file outside data/ except the tag manifests: what the tag manifests cover."""
    found = []
    for name in sorted(os.listdir(bag)):
        full = os.path.join(bag, name)
        if os.path.isdir(full):
            if name != "data":
                found += _walk_files(full, bag)
        elif not name.startswith(_TAGMANIFEST_PREFIX):
            found.append(name)
    return found


def _manifests(bag: str, prefix: str) -> dict[str, str]:
    """{algorithm: file name} of the bag's (tag) manifests whose algorithm hashlib knows."""
    found = {}
    for name in sorted(os.listdir(bag)):
        if name.startswith(prefix) and name.endswith(".txt"):
            algorithm = name[len(prefix) : -len(".txt")]
            if algorithm in hashlib.algorithms_available:
                found[algorithm] = name
    return found


def _check_manifest_set(
    bag: str,
    report: BundleReport,
    manifests: Mapping[str, str],
    on_disk: list[str],
    what: str,
) -> tuple[dict[str, str], int]:
    """Compare files on disk with every manifest of one kind (payload or tag): changed,
    missing and unlisted files are named. Returns the SHA-256 of each file read (bag path →
    digest) and the total size."""
    listed = {
        algorithm: read_manifest(_bag_path(bag, name), report)
        for algorithm, name in manifests.items()
    }
    failures_before = len(report.problems)
    sha256: dict[str, str] = {}
    total = 0
    algorithms = sorted(set(listed) | {"sha256"})
    for relative in on_disk:
        digests, size = hash_file(_bag_path(bag, relative), algorithms)
        total += size
        sha256[relative] = digests["sha256"]
        unlisted, changed = [], []
        for algorithm, name in manifests.items():
            expected = listed[algorithm].pop(relative, None)
            if expected is None:
                unlisted.append(name)
            elif expected != digests[algorithm]:
                changed.append(name)
        # One line per file, whichever manifests disagree.
        if unlisted:
            report.fail(
                f"{relative}: not listed in {', '.join(unlisted)} (a file added to the bundle)"
            )
        if changed:
            report.fail(f"{relative}: changed (its digest differs from {', '.join(changed)})")
    missing: dict[str, list[str]] = {}
    for algorithm, name in manifests.items():
        for relative in listed[algorithm]:
            missing.setdefault(relative, []).append(name)
    for relative in sorted(missing):
        report.fail(f"{relative}: missing (listed in {', '.join(missing[relative])})")
    if len(report.problems) == failures_before:
        names = ", ".join(manifests.values())
        report.ok(f"{names}: all {len(on_disk)} {what} files present and unchanged")
    return sha256, total


def _read_tag_file(path: str) -> dict[str, str]:
    """A ``Label: value`` tag file (bagit.txt, bag-info.txt); continuation lines joined."""
    values: dict[str, str] = {}
    last = None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if line[:1] in (" ", "\t") and last is not None:
                values[last] += " " + line.strip()
            elif ":" in line:
                label, value = line.split(":", 1)
                last = label.strip()
                values[last] = value.strip()
    return values


def _check_declaration(bag: str, report: BundleReport) -> bool:
    path = os.path.join(bag, "bagit.txt")
    if not os.path.isfile(path):
        report.fail("bagit.txt is missing: this is not a BagIt bag")
        return False
    with open(path, "rb") as handle:
        if handle.read(3) == b"\xef\xbb\xbf":
            report.fail("bagit.txt starts with a byte-order mark (BagIt forbids it)")
    try:
        declared = _read_tag_file(path)
    except UnicodeDecodeError:
        report.fail("bagit.txt is not UTF-8 text")
        return False
    version = declared.get("BagIt-Version")
    encoding = declared.get("Tag-File-Character-Encoding", "").upper()
    if version not in ("0.97", "1.0") or encoding != "UTF-8":
        report.fail(f"bagit.txt declares version {version!r}, encoding {encoding!r}")
        return False
    report.ok(f"bagit.txt: BagIt {version}, tag files in UTF-8")
    return True


def _check_oxum(bag: str, report: BundleReport, octets: int, streams: int) -> None:
    path = os.path.join(bag, "bag-info.txt")
    if not os.path.isfile(path):
        report.fail("bag-info.txt is missing")
        return
    oxum = _read_tag_file(path).get("Payload-Oxum")
    if oxum is None:
        report.fail("bag-info.txt has no Payload-Oxum")
    elif oxum != f"{octets}.{streams}":
        report.fail(
            f"bag-info.txt: Payload-Oxum {oxum} but data/ holds {streams} files, {octets} bytes"
        )
    else:
        report.ok(f"Payload-Oxum {oxum}: {streams} files, {octets} bytes in data/")


class TipEvidence:
    """What the chain says about one bundled tip: file receipts, record digests, erasure."""

    def __init__(self) -> None:
        self.file_receipts: dict[str, int] = {}  # SHA-256 → seq of its file_received entry
        self.testimony: list[tuple[int, Any]] = []  # (seq, record digest or None)
        self.notes: dict[int, tuple[int, Any]] = {}  # note id → (seq, record digest or None)
        self.erased_at: int | None = None  # seq of an erasing entry


def check_bundle_chain(
    path: str,
    report: BundleReport,
    tips: Mapping[int, TipEvidence],
    wanted_hashes: Mapping[int, None],
) -> dict[int, str]:
    """Walk chain.jsonl from genesis: every link, every unredacted body; collect what the
    bundled tips' entries say and the hashes at ``wanted_hashes`` (anchored entries).
    Returns {seq: hash} for the wanted ones found."""
    expected_prev = GENESIS_HASH
    count = redacted = 0
    found: dict[int, str] = {}
    broken = False
    last_hash = GENESIS_HASH
    try:
        for entry in read_jsonl(path):
            if not broken:
                try:
                    expected_prev = check_entry(entry, count + 1, expected_prev)
                except ChainProblem as exc:
                    report.fail(f"data/custody/chain.jsonl: {exc} ({exc.code})")
                    broken = True
            count += 1
            seq, stated = entry.get("seq"), entry.get("hash")
            last_hash = stated if isinstance(stated, str) else last_hash
            if not isinstance(seq, int):
                continue
            if seq in wanted_hashes and isinstance(stated, str):
                found[seq] = stated
            if entry.get("redacted"):
                redacted += 1
                continue
            tip = entry.get("tip")
            evidence = tips.get(tip) if isinstance(tip, int) else None
            if evidence is not None:
                _collect(evidence, seq, entry)
    except ValueError as exc:
        report.fail(f"data/custody/chain.jsonl: {exc}")
        broken = True
    report.head_seq, report.head_hash = count, last_hash
    if not broken:
        report.ok(
            f"data/custody/chain.jsonl: {count} entries linked from genesis, "
            f"{redacted} of them redacted (other tips' entries: digest only)"
        )
    return found


def _collect(evidence: TipEvidence, seq: int, entry: Mapping[str, Any]) -> None:
    action = entry.get("action")
    details = entry.get("details")
    details = details if isinstance(details, dict) else {}
    if action == "file_received" and isinstance(details.get("sha256"), str):
        evidence.file_receipts.setdefault(details["sha256"], seq)
    elif action == "submitted":
        evidence.testimony.append((seq, details.get("record")))
    elif action in NOTE_ACTIONS and isinstance(details.get("note"), int):
        evidence.notes[details["note"]] = (seq, details.get("record"))
    elif action in ERASED_ACTIONS:
        evidence.erased_at = seq


def _load_json(path: str, report: BundleReport, shown: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        report.fail(f"{shown} is missing")
    except (ValueError, UnicodeDecodeError):
        report.fail(f"{shown} is not valid JSON")
    return None


def _tip_folders(bag: str) -> list[str]:
    top = os.path.join(bag, "data", "tips")
    if not os.path.isdir(top):
        return []
    return sorted(name for name in os.listdir(top) if os.path.isdir(os.path.join(top, name)))


def _load_tips(bag: str, report: BundleReport) -> dict[str, dict[str, Any]]:
    """tip.json of every bundled tip, by reference (folder name)."""
    tips: dict[str, dict[str, Any]] = {}
    for reference in _tip_folders(bag):
        shown = f"data/tips/{reference}/tip.json"
        document = _load_json(_bag_path(bag, shown), report, shown)
        if not isinstance(document, dict):
            continue
        tip_id = document.get("tip_id")
        # Folders are named by reference; the public profile redacts references: by id.
        named = document.get("reference") or tip_id
        if not isinstance(tip_id, int) or str(named) != reference:
            report.fail(f"{shown} does not describe tip {reference}")
            continue
        tips[reference] = document
    return tips


def _check_testimony(
    reference: str,
    tip: Mapping[str, Any],
    evidence: TipEvidence,
    public: bool,
    report: BundleReport,
    counts: dict[str, int],
) -> None:
    shown = f"data/tips/{reference}/tip.json"
    if public:
        counts["redacted"] += 1
        return
    if evidence.erased_at is not None:
        counts["erased"] += 1
        return
    if not evidence.testimony:
        report.fail(f"{shown}: the chain holds no submitted entry for tip {reference}")
        return
    seq, recorded = evidence.testimony[-1]
    if not isinstance(recorded, str):
        counts["unrecorded"] += 1
        return
    testimony = tip.get("testimony")
    files = tip.get("files")
    if not isinstance(testimony, dict) or not isinstance(files, list):
        report.fail(f"{shown}: has no testimony or no file list")
        return
    missing = [name for name in TESTIMONY_FIELDS if name not in testimony]
    if missing:
        report.fail(f"{shown}: testimony lacks {', '.join(missing)}")
        return
    report_files = [
        item for item in files if isinstance(item, dict) and item.get("origin") == "report"
    ]
    try:
        computed = record_digest(testimony_record(testimony, report_files))
    except (TypeError, ValueError, KeyError) as exc:
        report.fail(f"{shown}: testimony cannot be read ({exc})")
        return
    if computed != recorded:
        report.fail(
            f"{shown}: testimony does not match the record in its submitted entry {seq} "
            "(a field or a file hash was changed)"
        )
        return
    counts["checked"] += 1


def _check_files(
    bag: str,
    reference: str,
    tip: Mapping[str, Any],
    evidence: TipEvidence,
    public: bool,
    sha256: Mapping[str, str],
    report: BundleReport,
    counts: dict[str, int],
) -> None:
    folder = f"data/tips/{reference}/files"
    listed = tip.get("files")
    for item in listed if isinstance(listed, list) else []:
        path = item.get("path") if isinstance(item, dict) else None
        if isinstance(item, dict) and item.get("problem") and item.get("status") == "stored":
            counts["files_left_out"] += 1
        if isinstance(path, str) and path and not os.path.isfile(_bag_path(bag, path)):
            report.fail(f"{path}: missing (data/tips/{reference}/tip.json lists it)")
    if not os.path.isdir(_bag_path(bag, folder)):
        return
    for name in sorted(os.listdir(_bag_path(bag, folder))):
        relative = f"{folder}/{name}"
        digest = sha256.get(relative) or file_sha256(_bag_path(bag, relative))
        if name.split(".", 1)[0] != digest:
            report.fail(f"{relative}: its content does not match its name (SHA-256 {digest})")
        elif public and not evidence.file_receipts:
            counts["files_unmatched"] += 1
        elif digest not in evidence.file_receipts:
            report.fail(
                f"{relative}: no file_received entry of tip {reference} in the chain has this "
                "SHA-256"
            )
        else:
            counts["files"] += 1


def _check_updates(
    bag: str,
    reference: str,
    evidence: TipEvidence,
    public: bool,
    report: BundleReport,
    counts: dict[str, int],
) -> None:
    shown = f"data/tips/{reference}/updates.jsonl"
    path = _bag_path(bag, shown)
    if not os.path.isfile(path):
        return
    try:
        updates = list(read_jsonl(path))
    except (ValueError, UnicodeDecodeError) as exc:
        report.fail(f"{shown}: {exc}")
        return
    for update in updates:
        kind, note = update.get("kind"), update.get("note_id")
        if kind not in NOTE_KINDS:
            continue
        if public or "text" not in update:
            counts["notes_redacted"] += 1
            continue
        if evidence.erased_at is not None:
            continue  # the tip's content was erased on purpose: noted once, with the tip
        if not isinstance(note, int) or note not in evidence.notes:
            report.fail(f"{shown}: {kind} {note} has no entry in the chain")
            continue
        seq, recorded = evidence.notes[note]
        if not isinstance(recorded, str):
            counts["notes_unrecorded"] += 1
            continue
        computed = record_digest(
            note_record(
                reference=reference,
                note_id=note,
                kind=kind,
                text=update.get("text"),
                file_sha256=update.get("file_sha256"),
            )
        )
        if computed != recorded:
            report.fail(f"{shown}: {kind} {note} does not match the record in entry {seq}")
        else:
            counts["notes"] += 1


def _check_tips(
    bag: str,
    report: BundleReport,
    tips: Mapping[str, Mapping[str, Any]],
    evidence: Mapping[int, TipEvidence],
    public: bool,
    sha256: Mapping[str, str],
) -> None:
    counts = dict.fromkeys(
        (
            "checked",
            "redacted",
            "erased",
            "unrecorded",
            "files",
            "files_unmatched",
            "files_left_out",
            "notes",
            "notes_redacted",
            "notes_unrecorded",
        ),
        0,
    )
    before = len(report.problems)
    for reference, tip in tips.items():
        found = evidence[tip["tip_id"]]
        _check_testimony(reference, tip, found, public, report, counts)
        _check_files(bag, reference, tip, found, public, sha256, report, counts)
        _check_updates(bag, reference, found, public, report, counts)
    if len(report.problems) == before:
        checked = [f"{len(tips)} in data/tips"]
        if not public:
            checked += [
                f"testimony matching its submitted entry's record: {counts['checked']}",
                f"files matching their file_received receipts: {counts['files']}",
                f"answers and additions matching their entries: {counts['notes']}",
            ]
        report.ok("tips: " + "; ".join(checked))
    if public:
        report.note(
            f"testimony redacted by the public profile; not checked ({counts['redacted']} tips)"
        )
    if counts["files_left_out"]:
        report.note(
            f"{counts['files_left_out']} files received and stored were not included when the "
            "bundle was made (tip.json 'problem' says why: erased, missing or altered)"
        )
    if counts["files_unmatched"]:
        report.note(
            f"{counts['files_unmatched']} files: their receipts are redacted by the public "
            "profile; checked against the manifests only"
        )
    if counts["notes_redacted"]:
        report.note(
            f"answers and additions redacted by the public profile; not checked "
            f"({counts['notes_redacted']})"
        )
    if counts["erased"]:
        report.note(
            f"{counts['erased']} tips had their content erased (erased, purged or deleted "
            "entries in the chain); their testimony is not checked"
        )
    if counts["unrecorded"] or counts["notes_unrecorded"]:
        report.note(
            f"{counts['unrecorded'] + counts['notes_unrecorded']} submissions, answers or "
            "additions were recorded before record digests were kept; not checked"
        )


def _load_jsonl_list(path: str, report: BundleReport, shown: str) -> list[dict[str, Any]]:
    if not os.path.isfile(path):
        return []
    try:
        return list(read_jsonl(path))
    except (ValueError, UnicodeDecodeError) as exc:
        report.fail(f"{shown}: {exc}")
        return []


def _check_anchors(
    report: BundleReport, anchors: list[dict[str, Any]], chain_hashes: Mapping[int, str]
) -> None:
    if not anchors:
        report.note("timestamps/anchors.jsonl lists no published anchor of the chain")
        return
    before = len(report.problems)
    compared = 0
    for anchor in anchors:
        seq, digest = anchor.get("seq"), anchor.get("hash")
        name = f"anchor {anchor.get('anchor_id')} (entry {seq})"
        if not isinstance(seq, int) or seq > report.head_seq:
            report.note(f"timestamps/anchors.jsonl: {name} is beyond this bundle's chain")
            continue
        if chain_hashes.get(seq) != digest:
            report.fail(
                f"timestamps/anchors.jsonl: {name} published hash {digest} but the chain's "
                f"entry {seq} has {chain_hashes.get(seq)}"
            )
        else:
            compared += 1
    if len(report.problems) == before:
        report.ok(
            f"timestamps/anchors.jsonl: published anchors matching the chain's hashes: {compared}"
        )


def _epoch(text: Any) -> int | None:
    """An ISO 8601 time as seconds since 1970, for openssl's -attime."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # noqa: UP017 - UTC is 3.11+; this runs on 3.9
    return int(moment.timestamp())


def _openssl_verify(
    bag: str, token: str, chain: str, digest: str, at: int | None
) -> tuple[bool, str] | None:
    """Run ``openssl ts -verify`` when openssl is installed: (verified, its last line).
    Certificates are checked at the token's time (``at``), so a token signed with a
    certificate that has expired since still verifies."""
    program = shutil.which("openssl")
    if program is None:
        return None
    command = [program, "ts", "-verify", "-digest", digest, "-in", _bag_path(bag, token)]
    command += ["-CAfile", _bag_path(bag, chain)]
    if at is not None:
        command += ["-attime", str(at)]
    try:
        done = subprocess.run(  # noqa: S603 - a fixed program with paths from this bag
            command, capture_output=True, timeout=_OPENSSL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    output = (done.stdout + done.stderr).decode("utf-8", "replace").strip().splitlines()
    verified = done.returncode == 0 and any("Verification: OK" in line for line in output)
    return verified, (output[-1] if output else "")


def _check_token(
    bag: str,
    report: BundleReport,
    item: Mapping[str, Any],
    *,
    shown: str,
    digest: str,
    data: str | None,
) -> bool:
    """One RFC 3161 token: it names ``digest`` and, with openssl, verifies."""
    token, chain = item.get("file"), item.get("chain")
    authority = item.get("tsa_url")
    if not isinstance(token, str) or not _safe_relative(token):
        report.fail(f"{shown}: an entry names no token file")
        return False
    path = _bag_path(bag, token)
    if not os.path.isfile(path):
        report.fail(f"{token}: missing (listed in {shown})")
        return False
    with open(path, "rb") as handle:
        body = handle.read()
    try:
        named = bytes.fromhex(digest) in body
    except ValueError:
        named = False
    if item.get("digest") != digest or not named:
        report.fail(f"{token} (from {authority}) is not a timestamp over {data or digest}")
        return False
    if not isinstance(chain, str) or not _safe_relative(chain):
        return True
    result = _openssl_verify(bag, token, chain, digest, _epoch(item.get("gen_time")))
    if result is not None and not result[0]:
        report.fail(f"{token} (from {authority}): openssl ts -verify failed: {result[1]}")
        return False
    return True


def _check_timestamps(
    bag: str, report: BundleReport, anchors: list[dict[str, Any]], sha256: Mapping[str, str]
) -> None:
    shown = "timestamps/tokens.jsonl"
    tokens = _load_jsonl_list(_bag_path(bag, shown), report, shown)
    manifest = os.path.join(bag, "manifest-sha256.txt")
    manifest_digest = sha256.get("manifest-sha256.txt") or (
        file_sha256(manifest) if os.path.isfile(manifest) else ""
    )
    good = [item for item in tokens if item.get("file")]
    before = len(report.problems)
    verified = 0
    for item in good:
        if _check_token(
            bag, report, item, shown=shown, digest=manifest_digest, data="manifest-sha256.txt"
        ):
            verified += 1
    for item in tokens:
        if not item.get("file"):
            report.note(f"{item.get('tsa_url')} gave no timestamp: {item.get('error')}")
    anchor_tokens = 0
    for anchor in anchors:
        for item in anchor.get("tokens") or []:
            if isinstance(item, dict) and _check_token(
                bag,
                report,
                item,
                shown="timestamps/anchors.jsonl",
                digest=str(anchor.get("hash")),
                data=None,
            ):
                anchor_tokens += 1
    if len(report.problems) == before and (verified or anchor_tokens):
        how = (
            "verified with openssl ts -verify"
            if shutil.which("openssl")
            else "openssl not found: verify them as data/README.txt shows"
        )
        report.ok(
            f"timestamp tokens: {verified} over manifest-sha256.txt, {anchor_tokens} over "
            f"anchored heads ({how}; compare each authority's root certificate with one you "
            "trust)"
        )
    if not good:
        report.note("no trusted timestamp over manifest-sha256.txt in this bundle")


def verify_bag(bag: str, write: Callable[[str], None] | None = None) -> BundleReport:
    """Check an unpacked bundle: its manifests, the custody chain, every bundled tip's
    testimony, files and updates against their entries, the anchors and the timestamps.
    Each check writes a line; the caller prints :meth:`BundleReport.result`."""
    report = BundleReport(write)
    if not _check_declaration(bag, report):
        return report
    payload = _manifests(bag, _MANIFEST_PREFIX)
    if "sha256" not in payload:
        report.fail("manifest-sha256.txt is missing")
    data_dir = os.path.join(bag, "data")
    if not os.path.isdir(data_dir):
        report.fail("the payload folder data/ is missing")
        return report
    on_disk = _walk_files(data_dir, bag)
    sha256, octets = _check_manifest_set(bag, report, payload, on_disk, "payload")
    _check_oxum(bag, report, octets, len(on_disk))
    tag_manifests = _manifests(bag, _TAGMANIFEST_PREFIX)
    if tag_manifests:
        tag_files = _tag_files(bag)
        tag_sha256, _size = _check_manifest_set(bag, report, tag_manifests, tag_files, "tag")
        sha256.update(tag_sha256)
    else:
        report.fail("tagmanifest-sha256.txt is missing")

    export = _load_json(os.path.join(data_dir, "export.json"), report, "data/export.json")
    export = export if isinstance(export, dict) else {}
    public = export.get("profile") == PUBLIC_PROFILE
    tips = _load_tips(bag, report)
    evidence = {tip["tip_id"]: TipEvidence() for tip in tips.values()}
    anchors = _load_jsonl_list(
        _bag_path(bag, "timestamps/anchors.jsonl"), report, "timestamps/anchors.jsonl"
    )
    wanted = {anchor["seq"]: None for anchor in anchors if isinstance(anchor.get("seq"), int)}
    chain = os.path.join(data_dir, "custody", "chain.jsonl")
    chain_hashes: dict[int, str] = {}
    if os.path.isfile(chain):
        chain_hashes = check_bundle_chain(chain, report, evidence, wanted)
    else:
        report.fail("data/custody/chain.jsonl is missing")
    _check_tips(bag, report, tips, evidence, public, sha256)
    _check_anchors(report, anchors, chain_hashes)
    _check_timestamps(bag, report, anchors, sha256)
    report.note(
        f"custody head in this bundle: entry {report.head_seq}, hash {report.head_hash}. "
        "Compare it with the anchor messages published by the organisation (data/README.txt "
        "says how); the bundle's own export entry comes after it."
    )
    return report


def _bag_root(folder: str) -> str | None:
    """The bag in an unpacked archive: the folder itself or its single top-level folder."""
    if os.path.isfile(os.path.join(folder, "bagit.txt")):
        return folder
    entries = [name for name in os.listdir(folder) if not name.startswith(".")]
    if len(entries) == 1 and os.path.isfile(os.path.join(folder, entries[0], "bagit.txt")):
        return os.path.join(folder, entries[0])
    return None


def verify_path(path: str, write: Callable[[str], None] | None = None) -> BundleReport:
    """Check a bundle folder or ZIP archive (unpacked into a temporary folder, then
    removed); the last line written is the result."""
    report = BundleReport(write)
    if os.path.isdir(path):
        root = _bag_root(path)
        if root is None:
            report.fail(f"{path} holds no bagit.txt: it is not a bundle")
        else:
            report = verify_bag(root, write)
    elif zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="verify-bundle-") as folder:
            with zipfile.ZipFile(path) as archive:
                # zipfile drops ".." and absolute paths from member names.
                archive.extractall(folder)
            root = _bag_root(folder)
            if root is None:
                report.fail(f"{path} holds no bagit.txt: it is not a bundle")
            else:
                report = verify_bag(root, write)
    elif path.endswith(".age"):
        report.fail(
            f"{path} is encrypted: decrypt it first (age -d -i KEY -o bundle.zip {path}, or "
            "tipbot verify-bundle --identity KEY)"
        )
    elif os.path.exists(path):
        report.fail(f"{path} is neither a bundle folder nor a ZIP archive")
    else:
        report.fail(f"{path} does not exist")
    report.finish()
    return report


def main(argv: list[str] | None = None) -> int:
    """``python3 verify.py [BUNDLE]``: check the bundle (by default the one this file is in)
    and print a report; exit 0 when it is intact, 1 when not. ``verify.py CHAIN.jsonl``
    checks a bare chain file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: python3 verify.py [BUNDLE_FOLDER_OR_ZIP | CHAIN.jsonl]", file=sys.stderr)
        return 2
    if args and args[0].endswith(".jsonl"):
        try:
            count, head = check_chain(read_jsonl(args[0]))
        except ChainProblem as exc:
            print(f"BROKEN: {exc}")
            return 3
        print(f"chain intact: {count} entries, head {head}")
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    target = args[0] if args else os.path.dirname(here)
    report = verify_path(target)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
