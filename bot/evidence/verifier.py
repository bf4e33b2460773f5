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
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typing.TypeGuard is Python 3.10+; annotations are not evaluated here
    from typing import TypeGuard

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
    for item in _members(value):
        _refuse_floats(item)


def _members(value: Any) -> Iterable[Any]:
    """The values inside a JSON object or array (an object's keys checked on the way)."""
    if isinstance(value, dict):
        return map(_string_keyed, value.items())
    if isinstance(value, (list, tuple)):
        return value
    return ()


def _string_keyed(pair: tuple[Any, Any]) -> Any:
    if not isinstance(pair[0], str):
        raise TypeError("canonical JSON keys are strings")
    return pair[1]


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
    seq = _position(entry, expected_seq, expected_prev)
    computed = _entry_hash(entry, seq, expected_prev)
    if computed != entry.get("hash"):
        raise ChainProblem(seq, "altered_entry", "its hash does not match its content")
    return computed


def _position(entry: Mapping[str, Any], expected_seq: int, expected_prev: str) -> int:
    """The entry's sequence number, once it is the one expected and links to the one before."""
    seq = _sequence_number(entry, expected_seq)
    if entry.get("prev_hash") != expected_prev:
        raise ChainProblem(seq, "broken_link", "does not link to the entry before it")
    return seq


def _sequence_number(entry: Mapping[str, Any], expected_seq: int) -> int:
    seq = entry.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ChainProblem(expected_seq, "malformed", "has no sequence number")
    if seq != expected_seq:
        code = "missing_entry" if seq > expected_seq else "out_of_order"
        raise ChainProblem(expected_seq, code, f"expected entry {expected_seq}, found {seq}")
    return seq


def _entry_hash(entry: Mapping[str, Any], seq: int, prev: str) -> str:
    """The hash the entry must have, by its format (``v``)."""
    version = entry.get("v")
    for known, entry_hash in _FORMATS:
        if version == known:
            return entry_hash(entry, seq, prev)
    raise ChainProblem(seq, "malformed", f"has an unknown format {version!r}")


def _v2_entry_hash(entry: Mapping[str, Any], seq: int, prev: str) -> str:
    digest = _stated_digest(entry, seq)
    unreadable = "body cannot be read"
    if not entry.get("redacted") and _from_body(entry, seq, unreadable, body_digest) != digest:
        raise ChainProblem(seq, "altered_entry", "its body does not match its digest")
    return v2_hash(seq, prev, digest)


def _stated_digest(entry: Mapping[str, Any], seq: int) -> str:
    """The body digest a format-2 entry states."""
    digest = entry.get("body_digest")
    if not isinstance(digest, str) or len(digest) != 64:
        raise ChainProblem(seq, "malformed", "has no body digest")
    return digest


def _v1_entry_hash(entry: Mapping[str, Any], seq: int, prev: str) -> str:
    if entry.get("redacted"):
        raise ChainProblem(seq, "malformed", "a format-1 entry cannot be redacted")
    return _from_body(
        entry,
        seq,
        "cannot be read",
        lambda time, actor, action, tip, details: v1_hash(
            seq, time, actor, action, tip, details, prev
        ),
    )


def _from_body(
    entry: Mapping[str, Any], seq: int, unreadable: str, compute: Callable[..., str]
) -> str:
    """``compute`` over the entry's time, actor, action, tip and details; an entry that lacks
    one, or holds what canonical JSON refuses, is malformed (``unreadable`` says so)."""
    try:
        return compute(
            entry["time"], entry["actor"], entry["action"], entry["tip"], entry["details"]
        )
    except (KeyError, TypeError) as exc:
        raise ChainProblem(seq, "malformed", f"{unreadable} ({exc})") from None


# Newest format first, as they are tried.
_FORMATS: tuple[tuple[int, Callable[[Mapping[str, Any], int, str], str]], ...] = (
    (2, _v2_entry_hash),
    (1, _v1_entry_hash),
)


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


def _iso_text(value: Any) -> Any:
    """A date or time as ISO 8601 text (text and None as they are)."""
    return value if value is None or isinstance(value, str) else value.isoformat()


def _as_given(value: Any) -> Any:
    return value


# How a testimony field is written in its record; the others as they are.
_FIELD_FORMS: dict[str, Callable[[Any], Any]] = {
    "lat": coordinate,
    "lon": coordinate,
    "incident_date": _iso_text,
    "incident_time": _iso_text,
}


def testimony_record(tip: Mapping[str, Any], files: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The canonical record of what a reporter gave when submitting: every field of
    :data:`TESTIMONY_FIELDS` (dates as ``YYYY-MM-DD``, times as ``HH:MM:SS``, coordinates with
    six decimals) and the files as ``[media id, SHA-256]`` pairs in media id order."""
    record: dict[str, Any] = {"record": RECORD_VERSION}
    for field in TESTIMONY_FIELDS:
        record[field] = _FIELD_FORMS.get(field, _as_given)(tip.get(field))
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
    return hash_file(path, ("sha256",))[0]["sha256"]


def _chunks(path: str) -> Iterator[bytes]:
    """The file's bytes, a chunk at a time."""
    with open(path, "rb") as handle:
        yield from iter(lambda: handle.read(CHUNK), b"")


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """The file's non-blank lines, without their line ends, with their line numbers."""
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if line.strip():
                yield number, line


def read_jsonl(path: str) -> Iterator[dict[str, Any]]:
    name = os.path.basename(path)
    for number, line in _lines(path):
        yield _json_object(line, f"{name} line {number}")


def _json_object(line: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        raise ValueError(f"{where} is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where} is not an object")
    return value


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
_MANIFEST = "manifest-sha256.txt"
_CHAIN = "data/custody/chain.jsonl"
_ANCHORS = "timestamps/anchors.jsonl"
_TOKENS = "timestamps/tokens.jsonl"
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

    def check(self, problem: str | None) -> bool:
        """Report ``problem``, if there is one; whether there was none."""
        if problem is not None:
            self.fail(problem)
        return problem is None

    def mark(self) -> int:
        """Where the problems stand now, for :meth:`clean_since`."""
        return len(self.problems)

    def clean_since(self, mark: int) -> bool:
        """Whether no problem was reported since :meth:`mark` returned ``mark``."""
        return len(self.problems) == mark

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


class _Failed(Exception):
    """A check of a bundle's content failed; the message says what is wrong, and where."""


def _bag_path(bag: str, relative: str) -> str:
    return os.path.join(bag, *relative.split("/"))


# BagIt 1.0 percent-encodes CR, LF and ``%`` in manifest paths.
_PERCENT_ENCODED = re.compile("%(0[AaDd]|25)")
_PERCENT_DECODED = {"0A": "\n", "0D": "\r", "25": "%"}


def _decode_manifest_path(text: str) -> str:
    return _PERCENT_ENCODED.sub(lambda match: _PERCENT_DECODED[match[1].upper()], text)


def _safe_relative(path: str) -> bool:
    """Neither empty, absolute, nor with an empty or ``..`` part."""
    return not {"", ".."} & set(path.split("/"))


def _names_safe_path(value: Any) -> TypeGuard[str]:
    """Whether a JSON value names a file inside the bag (a safe relative path)."""
    return isinstance(value, str) and _safe_relative(value)


def read_manifest(path: str, report: BundleReport) -> dict[str, str]:
    """A manifest as {relative path: lower-case digest}; malformed, unsafe and repeated
    lines are reported."""
    name = os.path.basename(path)
    entries: dict[str, str] = {}
    for number, line in _lines(path):
        try:
            digest, relative = _manifest_line(line)
        except ValueError as exc:
            report.fail(f"{name} line {number} {exc}")
            continue
        if relative in entries:
            report.fail(f"{name} lists {relative} more than once")
        else:
            entries[relative] = digest
    return entries


def _manifest_line(line: str) -> tuple[str, str]:
    """(lower-case digest, path) of a ``DIGEST PATH`` line; ``ValueError`` says what is wrong."""
    parts = line.split(None, 1)
    if len(parts) != 2:
        raise ValueError("is not 'DIGEST PATH'")
    relative = _decode_manifest_path(parts[1].lstrip("*"))
    if not _safe_relative(relative):
        raise ValueError(f"names an unsafe path {relative!r}")
    return parts[0].lower(), relative


def hash_file(path: str, algorithms: Iterable[str]) -> tuple[dict[str, str], int]:
    """Every digest of ``algorithms`` over one read of the file, and its size."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    size = sum(_feed(hashers.values(), chunk) for chunk in _chunks(path))
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}, size


def _feed(hashers: Iterable[Any], chunk: bytes) -> int:
    for hasher in hashers:
        hasher.update(chunk)
    return len(chunk)


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
    return [path for name in sorted(os.listdir(bag)) for path in _tag_files_at(bag, name)]


def _tag_files_at(bag: str, name: str) -> list[str]:
    """The tag files at ``name`` in the bag's top folder: that file, unless it is a tag
    manifest, or the files in that folder, unless it is data/."""
    full = os.path.join(bag, name)
    if os.path.isdir(full):
        return [] if name == "data" else _walk_files(full, bag)
    return [] if name.startswith(_TAGMANIFEST_PREFIX) else [name]


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
    listed = _read_manifests(bag, report, manifests)
    mark = report.mark()
    sha256: dict[str, str] = {}
    total = 0
    algorithms = sorted(set(listed) | {"sha256"})
    for relative in on_disk:
        digests, size = hash_file(_bag_path(bag, relative), algorithms)
        total += size
        sha256[relative] = digests["sha256"]
        _compare_listings(report, relative, digests, manifests, listed)
    _report_missing(report, manifests, listed)
    if report.clean_since(mark):
        names = ", ".join(manifests.values())
        report.ok(f"{names}: all {len(on_disk)} {what} files present and unchanged")
    return sha256, total


def _read_manifests(
    bag: str, report: BundleReport, manifests: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """{algorithm: {path: digest}} of each manifest in ``manifests``."""
    return {
        algorithm: read_manifest(_bag_path(bag, name), report)
        for algorithm, name in manifests.items()
    }


def _compare_listings(
    report: BundleReport,
    relative: str,
    digests: Mapping[str, str],
    manifests: Mapping[str, str],
    listed: Mapping[str, dict[str, str]],
) -> None:
    """One line per file, whichever manifests disagree; its listings are taken out of
    ``listed`` (what stays there is missing)."""
    unlisted, changed = [], []
    for algorithm, name in manifests.items():
        expected = listed[algorithm].pop(relative, None)
        if expected is None:
            unlisted.append(name)
        elif expected != digests[algorithm]:
            changed.append(name)
    _report_disagreement(report, relative, unlisted, changed)


def _report_disagreement(
    report: BundleReport, relative: str, unlisted: list[str], changed: list[str]
) -> None:
    if unlisted:
        report.fail(f"{relative}: not listed in {', '.join(unlisted)} (a file added to the bundle)")
    if changed:
        report.fail(f"{relative}: changed (its digest differs from {', '.join(changed)})")


def _report_missing(
    report: BundleReport, manifests: Mapping[str, str], listed: Mapping[str, dict[str, str]]
) -> None:
    missing = _listers(manifests, listed)
    for relative in sorted(missing):
        report.fail(f"{relative}: missing (listed in {', '.join(missing[relative])})")


def _listers(
    manifests: Mapping[str, str], listed: Mapping[str, dict[str, str]]
) -> dict[str, list[str]]:
    """{path: the manifests that list it} of the paths in ``listed``."""
    found: dict[str, list[str]] = {}
    for algorithm, name in manifests.items():
        for relative in listed[algorithm]:
            found.setdefault(relative, []).append(name)
    return found


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
    if _starts_with_bom(path):
        report.fail("bagit.txt starts with a byte-order mark (BagIt forbids it)")
    try:
        version = _declared_version(path)
    except _Failed as failed:
        report.fail(str(failed))
        return False
    report.ok(f"bagit.txt: BagIt {version}, tag files in UTF-8")
    return True


def _starts_with_bom(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(3) == b"\xef\xbb\xbf"


def _declared_version(path: str) -> str | None:
    """The BagIt version bagit.txt declares, when it is one we read, with UTF-8 tag files."""
    try:
        declared = _read_tag_file(path)
    except UnicodeDecodeError:
        raise _Failed("bagit.txt is not UTF-8 text") from None
    version = declared.get("BagIt-Version")
    encoding = declared.get("Tag-File-Character-Encoding", "").upper()
    if version not in ("0.97", "1.0") or encoding != "UTF-8":
        raise _Failed(f"bagit.txt declares version {version!r}, encoding {encoding!r}")
    return version


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

    def receipt(self, seq: int, details: Mapping[str, Any]) -> None:
        if isinstance(details.get("sha256"), str):
            self.file_receipts.setdefault(details["sha256"], seq)

    def submission(self, seq: int, details: Mapping[str, Any]) -> None:
        self.testimony.append((seq, details.get("record")))

    def note(self, seq: int, details: Mapping[str, Any]) -> None:
        if isinstance(details.get("note"), int):
            self.notes[details["note"]] = (seq, details.get("record"))

    def erasure(self, seq: int, _details: Mapping[str, Any]) -> None:
        self.erased_at = seq


# What each action of a bundled tip's entry tells its TipEvidence.
_COLLECTORS: dict[str, Callable[[TipEvidence, int, Mapping[str, Any]], None]] = {
    "file_received": TipEvidence.receipt,
    "submitted": TipEvidence.submission,
    **dict.fromkeys(NOTE_ACTIONS, TipEvidence.note),
    **dict.fromkeys(ERASED_ACTIONS, TipEvidence.erasure),
}


class _BundleChain:
    """A walk along a bundle's chain.jsonl: every link until the first break, and what the
    bundled tips' entries say, and the hashes at the ``wanted`` sequence numbers, all along."""

    def __init__(
        self, report: BundleReport, tips: Mapping[int, TipEvidence], wanted: Mapping[int, None]
    ) -> None:
        self.report = report
        self.tips = tips
        self.wanted = wanted
        self.expected_prev = GENESIS_HASH
        self.count = 0
        self.redacted = 0
        self.found: dict[int, str] = {}
        self.broken = False
        self.last_hash = GENESIS_HASH

    def add(self, entry: Mapping[str, Any]) -> None:
        if not self.broken:
            self._link(entry)
        self.count += 1
        seq, stated = entry.get("seq"), entry.get("hash")
        if isinstance(stated, str):
            self.last_hash = stated
        if isinstance(seq, int):
            self._read(seq, stated, entry)

    def fail(self, text: str) -> None:
        self.report.fail(f"{_CHAIN}: {text}")
        self.broken = True

    def _link(self, entry: Mapping[str, Any]) -> None:
        try:
            self.expected_prev = check_entry(entry, self.count + 1, self.expected_prev)
        except ChainProblem as exc:
            self.fail(f"{exc} ({exc.code})")

    def _read(self, seq: int, stated: Any, entry: Mapping[str, Any]) -> None:
        self._keep_if_wanted(seq, stated)
        if entry.get("redacted"):
            self.redacted += 1
            return
        evidence = self._evidence(entry.get("tip"))
        if evidence is not None:
            _collect(evidence, seq, entry)

    def _keep_if_wanted(self, seq: int, stated: Any) -> None:
        if seq in self.wanted and isinstance(stated, str):
            self.found[seq] = stated

    def _evidence(self, tip: Any) -> TipEvidence | None:
        return self.tips.get(tip) if isinstance(tip, int) else None


def check_bundle_chain(
    path: str,
    report: BundleReport,
    tips: Mapping[int, TipEvidence],
    wanted_hashes: Mapping[int, None],
) -> dict[int, str]:
    """Walk chain.jsonl from genesis: every link, every unredacted body; collect what the
    bundled tips' entries say and the hashes at ``wanted_hashes`` (anchored entries).
    Returns {seq: hash} for the wanted ones found."""
    walk = _BundleChain(report, tips, wanted_hashes)
    try:
        for entry in read_jsonl(path):
            walk.add(entry)
    except ValueError as exc:
        walk.fail(str(exc))
    report.head_seq, report.head_hash = walk.count, walk.last_hash
    if not walk.broken:
        report.ok(
            f"{_CHAIN}: {walk.count} entries linked from genesis, "
            f"{walk.redacted} of them redacted (other tips' entries: digest only)"
        )
    return walk.found


def _collect(evidence: TipEvidence, seq: int, entry: Mapping[str, Any]) -> None:
    action = entry.get("action")
    collect = _COLLECTORS.get(action) if isinstance(action, str) else None
    if collect is not None:
        details = entry.get("details")
        collect(evidence, seq, details if isinstance(details, dict) else {})


def _load_json(path: str, report: BundleReport, shown: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        report.fail(f"{shown} is missing")
    except (ValueError, UnicodeDecodeError):
        report.fail(f"{shown} is not valid JSON")
    return None


def _load_jsonl_list(path: str, report: BundleReport, shown: str) -> list[dict[str, Any]]:
    if not os.path.isfile(path):
        return []
    try:
        return list(read_jsonl(path))
    except (ValueError, UnicodeDecodeError) as exc:
        report.fail(f"{shown}: {exc}")
        return []


def _tip_folders(bag: str) -> list[str]:
    top = os.path.join(bag, "data", "tips")
    if not os.path.isdir(top):
        return []
    return sorted(name for name in os.listdir(top) if os.path.isdir(os.path.join(top, name)))


def _load_tips(bag: str, report: BundleReport) -> dict[str, dict[str, Any]]:
    """tip.json of every bundled tip, by reference (folder name)."""
    tips: dict[str, dict[str, Any]] = {}
    for reference in _tip_folders(bag):
        document = _load_tip(bag, reference, report)
        if document is not None:
            tips[reference] = document
    return tips


def _load_tip(bag: str, reference: str, report: BundleReport) -> dict[str, Any] | None:
    shown = f"data/tips/{reference}/tip.json"
    document = _load_json(_bag_path(bag, shown), report, shown)
    if not isinstance(document, dict):
        return None
    if not _describes(document, reference):
        report.fail(f"{shown} does not describe tip {reference}")
        return None
    return document


def _describes(document: Mapping[str, Any], reference: str) -> bool:
    """Whether a tip.json is of the tip its folder is named after."""
    tip_id = document.get("tip_id")
    # Folders are named by reference; the public profile redacts references: by id.
    named = document.get("reference") or tip_id
    return isinstance(tip_id, int) and str(named) == reference


# What the tips' check counts: each check of a tip's testimony, file or update adds one.
_TIP_TALLIES = (
    "checked",
    "redacted",
    "erased",
    "unrecorded",
    "files",
    "files_unmatched",
    "files_left_out",
    "notes",
    "notes_redacted",
)
# The notes after the tips' check, in this order, each with its tally (when not zero).
_TIP_NOTES = (
    (
        "files_left_out",
        "{} files received and stored were not included when the bundle was made "
        "(tip.json 'problem' says why: erased, missing or altered)",
    ),
    (
        "files_unmatched",
        "{} files: their receipts are redacted by the public profile; checked against the "
        "manifests only",
    ),
    ("notes_redacted", "answers and additions redacted by the public profile; not checked ({})"),
    (
        "erased",
        "{} tips had their content erased (erased, purged or deleted entries in the chain); "
        "their testimony is not checked",
    ),
    (
        "unrecorded",
        "{} submissions, answers or additions were recorded before record digests were kept; "
        "not checked",
    ),
)


class _TipChecks:
    """Each bundled tip's testimony, files and updates against what its entries say, with a
    tally of what was checked and of what could not be. A check returns the tally it adds
    to (None: none) or raises :class:`_Failed`."""

    def __init__(
        self, bag: str, report: BundleReport, public: bool, sha256: Mapping[str, str]
    ) -> None:
        self.bag = bag
        self.report = report
        self.public = public
        self.sha256 = sha256
        self.counts = dict.fromkeys(_TIP_TALLIES, 0)

    def check(self, reference: str, tip: Mapping[str, Any], evidence: TipEvidence) -> None:
        self._tally(self._testimony, reference, tip, evidence)
        self._listed_files(reference, tip.get("files"))
        for name in self._stored_files(reference):
            self._tally(self._stored_file, reference, evidence, name)
        updates = f"data/tips/{reference}/updates.jsonl"
        for update in _load_jsonl_list(_bag_path(self.bag, updates), self.report, updates):
            self._tally(self._update, reference, evidence, update)

    def summary(self, tips: int) -> str:
        checked = [f"{tips} in data/tips"]
        if not self.public:
            checked += [
                f"testimony matching its submitted entry's record: {self.counts['checked']}",
                f"files matching their file_received receipts: {self.counts['files']}",
                f"answers and additions matching their entries: {self.counts['notes']}",
            ]
        return "tips: " + "; ".join(checked)

    def notes(self) -> None:
        if self.public:
            self.report.note(
                "testimony redacted by the public profile; not checked "
                f"({self.counts['redacted']} tips)"
            )
        for tally, text in _TIP_NOTES:
            if self.counts[tally]:
                self.report.note(text.format(self.counts[tally]))

    def _tally(self, check: Callable[..., str | None], *args: Any) -> None:
        try:
            tally = check(*args)
        except _Failed as failed:
            self.report.fail(str(failed))
            return
        if tally is not None:
            self.counts[tally] += 1

    def _testimony(self, reference: str, tip: Mapping[str, Any], evidence: TipEvidence) -> str:
        if self.public:
            return "redacted"
        if evidence.erased_at is not None:
            return "erased"
        return _check_testimony(reference, tip, evidence)

    def _listed_files(self, reference: str, listed: Any) -> None:
        for item in _objects(listed):
            self._listed_file(reference, item)

    def _listed_file(self, reference: str, item: Mapping[str, Any]) -> None:
        if item.get("problem") and item.get("status") == "stored":
            self.counts["files_left_out"] += 1
        path = item.get("path")
        if _absent(self.bag, path):
            self.report.fail(f"{path}: missing (data/tips/{reference}/tip.json lists it)")

    def _stored_files(self, reference: str) -> list[str]:
        folder = _bag_path(self.bag, f"data/tips/{reference}/files")
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []

    def _stored_file(self, reference: str, evidence: TipEvidence, name: str) -> str:
        relative = f"data/tips/{reference}/files/{name}"
        digest = self._sha256(relative)
        if name.split(".", 1)[0] != digest:
            raise _Failed(f"{relative}: its content does not match its name (SHA-256 {digest})")
        return self._receipt(reference, evidence, relative, digest)

    def _receipt(self, reference: str, evidence: TipEvidence, relative: str, digest: str) -> str:
        """A stored file against the tip's file_received receipts (when they are there)."""
        if self.public and not evidence.file_receipts:
            return "files_unmatched"
        if digest not in evidence.file_receipts:
            raise _Failed(
                f"{relative}: no file_received entry of tip {reference} in the chain has this "
                "SHA-256"
            )
        return "files"

    def _sha256(self, relative: str) -> str:
        """A file's SHA-256: as read with the manifests, else read now."""
        return self.sha256.get(relative) or file_sha256(_bag_path(self.bag, relative))

    def _update(
        self, reference: str, evidence: TipEvidence, update: Mapping[str, Any]
    ) -> str | None:
        if update.get("kind") not in NOTE_KINDS:
            return None
        if self.public or "text" not in update:
            return "notes_redacted"
        if evidence.erased_at is not None:
            return None  # the tip's content was erased on purpose: noted once, with the tip
        return _compare_note(reference, evidence, update)


def _absent(bag: str, path: Any) -> bool:
    """Whether ``path`` names a file that is not in the bag."""
    return isinstance(path, str) and path != "" and not os.path.isfile(_bag_path(bag, path))


def _check_testimony(reference: str, tip: Mapping[str, Any], evidence: TipEvidence) -> str:
    """The testimony in tip.json against the record of the tip's last submitted entry."""
    shown = f"data/tips/{reference}/tip.json"
    if not evidence.testimony:
        raise _Failed(f"{shown}: the chain holds no submitted entry for tip {reference}")
    seq, recorded = evidence.testimony[-1]
    if not isinstance(recorded, str):
        return "unrecorded"
    _compare_testimony(shown, tip, seq, recorded)
    return "checked"


def _compare_testimony(shown: str, tip: Mapping[str, Any], seq: int, recorded: str) -> None:
    """The testimony in tip.json against the record digest of its submitted entry ``seq``."""
    testimony, files = _testimony_of(shown, tip)
    try:
        computed = record_digest(testimony_record(testimony, _report_files(files)))
    except (TypeError, ValueError, KeyError) as exc:
        raise _Failed(f"{shown}: testimony cannot be read ({exc})") from None
    if computed != recorded:
        raise _Failed(
            f"{shown}: testimony does not match the record in its submitted entry {seq} "
            "(a field or a file hash was changed)"
        )


def _testimony_of(shown: str, tip: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """tip.json's testimony, with every field, and its file list."""
    testimony, files = tip.get("testimony"), tip.get("files")
    if not isinstance(testimony, dict) or not isinstance(files, list):
        raise _Failed(f"{shown}: has no testimony or no file list")
    missing = _missing_fields(testimony)
    if missing:
        raise _Failed(f"{shown}: testimony lacks {', '.join(missing)}")
    return testimony, files


def _missing_fields(testimony: Mapping[str, Any]) -> list[str]:
    return [name for name in TESTIMONY_FIELDS if name not in testimony]


def _report_files(files: list[Any]) -> list[dict[str, Any]]:
    """The files a reporter sent with the report itself (not with an answer or addition)."""
    return [item for item in _objects(files) if item.get("origin") == "report"]


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects in a JSON array (nothing if it is not one)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _compare_note(reference: str, evidence: TipEvidence, update: Mapping[str, Any]) -> str:
    """An answer or addition in updates.jsonl against the record digest of its entry."""
    shown = f"data/tips/{reference}/updates.jsonl"
    kind, note = update["kind"], update.get("note_id")
    note, seq, recorded = _note_entry(evidence, note, f"{shown}: {kind} {note}")
    if not isinstance(recorded, str):
        return "unrecorded"
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
        raise _Failed(f"{shown}: {kind} {note} does not match the record in entry {seq}")
    return "notes"


def _note_entry(evidence: TipEvidence, note: Any, shown: str) -> tuple[int, int, Any]:
    """The id of the answer or addition ``note`` and (seq, record digest) of its entry."""
    if not isinstance(note, int) or note not in evidence.notes:
        raise _Failed(f"{shown} has no entry in the chain")
    return (note, *evidence.notes[note])


def _check_tips(
    bag: str,
    report: BundleReport,
    tips: Mapping[str, Mapping[str, Any]],
    evidence: Mapping[int, TipEvidence],
    public: bool,
    sha256: Mapping[str, str],
) -> None:
    checks = _TipChecks(bag, report, public, sha256)
    mark = report.mark()
    for reference, tip in tips.items():
        checks.check(reference, tip, evidence[tip["tip_id"]])
    if report.clean_since(mark):
        report.ok(checks.summary(len(tips)))
    checks.notes()


def _check_anchors(
    report: BundleReport, anchors: list[dict[str, Any]], chain_hashes: Mapping[int, str]
) -> None:
    if not anchors:
        report.note(f"{_ANCHORS} lists no published anchor of the chain")
        return
    mark = report.mark()
    compared = sum(_anchor_matches(report, anchor, chain_hashes) for anchor in anchors)
    if report.clean_since(mark):
        report.ok(f"{_ANCHORS}: published anchors matching the chain's hashes: {compared}")


def _anchor_matches(
    report: BundleReport, anchor: Mapping[str, Any], chain_hashes: Mapping[int, str]
) -> bool:
    """Whether the chain has the anchor's published hash (an anchor beyond it is noted)."""
    seq, digest = anchor.get("seq"), anchor.get("hash")
    name = f"anchor {anchor.get('anchor_id')} (entry {seq})"
    if not isinstance(seq, int) or seq > report.head_seq:
        report.note(f"{_ANCHORS}: {name} is beyond this bundle's chain")
        return False
    if chain_hashes.get(seq) == digest:
        return True
    report.fail(
        f"{_ANCHORS}: {name} published hash {digest} but the chain's entry {seq} has "
        f"{chain_hashes.get(seq)}"
    )
    return False


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
    command += [] if at is None else ["-attime", str(at)]
    return _run_verification(command)


def _run_verification(command: list[str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(  # noqa: S603 - a fixed program with paths from this bag
            command, capture_output=True, timeout=_OPENSSL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return _verdict(done)


def _verdict(done: subprocess.CompletedProcess[bytes]) -> tuple[bool, str]:
    """Whether openssl said it verified, and its last line."""
    output = (done.stdout + done.stderr).decode("utf-8", "replace").strip().splitlines()
    verified = done.returncode == 0 and any("Verification: OK" in line for line in output)
    return verified, (output[-1] if output else "")


@dataclass(frozen=True)
class _Covered:
    """What a token must be a timestamp over: ``digest``, named ``over`` in messages (a file
    name, or the digest itself), for a token listed in ``listed_in``."""

    listed_in: str
    digest: str
    over: str


def _check_token(
    bag: str, report: BundleReport, item: Mapping[str, Any], covered: _Covered
) -> bool:
    """One RFC 3161 token: it names the digest and, with openssl, verifies."""
    return report.check(_token_problem(bag, item, covered))


def _token_problem(bag: str, item: Mapping[str, Any], covered: _Covered) -> str | None:
    token = item.get("file")
    if not _names_safe_path(token):
        return f"{covered.listed_in}: an entry names no token file"
    if not os.path.isfile(_bag_path(bag, token)):
        return f"{token}: missing (listed in {covered.listed_in})"
    return _token_content_problem(bag, item, token, covered)


def _token_content_problem(
    bag: str, item: Mapping[str, Any], token: str, covered: _Covered
) -> str | None:
    """The token file against the digest it must name, then against openssl."""
    named = _names_digest(_bag_path(bag, token), covered.digest)
    if item.get("digest") != covered.digest or not named:
        return f"{token} (from {item.get('tsa_url')}) is not a timestamp over {covered.over}"
    return _openssl_problem(bag, item, token, covered.digest)


def _names_digest(path: str, digest: str) -> bool:
    """Whether the token file holds the digest's bytes."""
    with open(path, "rb") as handle:
        body = handle.read()
    try:
        return bytes.fromhex(digest) in body
    except ValueError:
        return False


def _openssl_problem(bag: str, item: Mapping[str, Any], token: str, digest: str) -> str | None:
    """What openssl says against the token, when the bundle has its chain and openssl is
    installed."""
    chain = item.get("chain")
    if not _names_safe_path(chain):
        return None
    result = _openssl_verify(bag, token, chain, digest, _epoch(item.get("gen_time")))
    if result is None or result[0]:
        return None
    return f"{token} (from {item.get('tsa_url')}): openssl ts -verify failed: {result[1]}"


def _check_timestamps(
    bag: str, report: BundleReport, anchors: list[dict[str, Any]], sha256: Mapping[str, str]
) -> None:
    tokens = _load_jsonl_list(_bag_path(bag, _TOKENS), report, _TOKENS)
    mark = report.mark()
    verified, given = _check_manifest_tokens(bag, report, tokens, sha256)
    anchored = sum(_check_anchor_tokens(bag, report, anchor) for anchor in anchors)
    if report.clean_since(mark):
        _report_verified_tokens(report, verified, anchored)
    if not given:
        report.note(f"no trusted timestamp over {_MANIFEST} in this bundle")


def _check_manifest_tokens(
    bag: str, report: BundleReport, tokens: list[dict[str, Any]], sha256: Mapping[str, str]
) -> tuple[int, int]:
    """The tokens over manifest-sha256.txt, the authorities that gave none noted: how many
    verify, of how many."""
    over_manifest = _Covered(_TOKENS, _manifest_digest(bag, sha256), _MANIFEST)
    given, refused = _split_tokens(tokens)
    verified = sum(_check_token(bag, report, item, over_manifest) for item in given)
    for item in refused:
        report.note(f"{item.get('tsa_url')} gave no timestamp: {item.get('error')}")
    return verified, len(given)


def _manifest_digest(bag: str, sha256: Mapping[str, str]) -> str:
    manifest = os.path.join(bag, _MANIFEST)
    return sha256.get(_MANIFEST) or (file_sha256(manifest) if os.path.isfile(manifest) else "")


def _split_tokens(
    tokens: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The tokens.jsonl lines with a token file, and those of authorities that gave none."""
    given: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for item in tokens:
        (given if item.get("file") else refused).append(item)
    return given, refused


def _check_anchor_tokens(bag: str, report: BundleReport, anchor: Mapping[str, Any]) -> int:
    """How many of the anchor's tokens verify over its published head."""
    head = str(anchor.get("hash"))
    over_head = _Covered(_ANCHORS, head, head)
    items = anchor.get("tokens") or []
    return sum(
        _check_token(bag, report, item, over_head) for item in items if isinstance(item, dict)
    )


def _report_verified_tokens(report: BundleReport, verified: int, anchored: int) -> None:
    if verified or anchored:
        report.ok(
            f"timestamp tokens: {verified} over {_MANIFEST}, {anchored} over anchored heads "
            f"({_how_tokens_verify()}; compare each authority's root certificate with one you "
            "trust)"
        )


def _how_tokens_verify() -> str:
    if shutil.which("openssl"):
        return "verified with openssl ts -verify"
    return "openssl not found: verify them as data/README.txt shows"


def verify_bag(bag: str, write: Callable[[str], None] | None = None) -> BundleReport:
    """Check an unpacked bundle: its manifests, the custody chain, every bundled tip's
    testimony, files and updates against their entries, the anchors and the timestamps.
    Each check writes a line; the caller prints :meth:`BundleReport.result`."""
    report = BundleReport(write)
    if not _check_declaration(bag, report):
        return report
    sha256 = _check_manifests(bag, report)
    if sha256 is not None:
        _check_contents(bag, report, sha256)
    return report


def _check_manifests(bag: str, report: BundleReport) -> dict[str, str] | None:
    """The payload and tag manifests against the files, and the payload's size; the SHA-256
    of every file read, or None when there is no payload folder."""
    payload = _manifests(bag, _MANIFEST_PREFIX)
    if "sha256" not in payload:
        report.fail(f"{_MANIFEST} is missing")
    data_dir = os.path.join(bag, "data")
    if not os.path.isdir(data_dir):
        report.fail("the payload folder data/ is missing")
        return None
    on_disk = _walk_files(data_dir, bag)
    sha256, octets = _check_manifest_set(bag, report, payload, on_disk, "payload")
    _check_oxum(bag, report, octets, len(on_disk))
    sha256.update(_check_tag_manifests(bag, report))
    return sha256


def _check_tag_manifests(bag: str, report: BundleReport) -> dict[str, str]:
    tag_manifests = _manifests(bag, _TAGMANIFEST_PREFIX)
    if not tag_manifests:
        report.fail("tagmanifest-sha256.txt is missing")
        return {}
    return _check_manifest_set(bag, report, tag_manifests, _tag_files(bag), "tag")[0]


def _check_contents(bag: str, report: BundleReport, sha256: Mapping[str, str]) -> None:
    """The chain, the tips against it, the anchors and the timestamps."""
    export = _load_json(_bag_path(bag, "data/export.json"), report, "data/export.json")
    public = isinstance(export, dict) and export.get("profile") == PUBLIC_PROFILE
    tips = _load_tips(bag, report)
    evidence = {tip["tip_id"]: TipEvidence() for tip in tips.values()}
    anchors = _load_jsonl_list(_bag_path(bag, _ANCHORS), report, _ANCHORS)
    chain_hashes = _check_chain(bag, report, evidence, anchors)
    _check_tips(bag, report, tips, evidence, public, sha256)
    _check_anchors(report, anchors, chain_hashes)
    _check_timestamps(bag, report, anchors, sha256)
    report.note(
        f"custody head in this bundle: entry {report.head_seq}, hash {report.head_hash}. "
        "Compare it with the anchor messages published by the organisation (data/README.txt "
        "says how); the bundle's own export entry comes after it."
    )


def _check_chain(
    bag: str,
    report: BundleReport,
    evidence: Mapping[int, TipEvidence],
    anchors: list[dict[str, Any]],
) -> dict[int, str]:
    """The bundle's chain (see :func:`check_bundle_chain`); the hashes at anchored entries."""
    wanted = _anchored_seqs(anchors)
    chain = _bag_path(bag, _CHAIN)
    if not os.path.isfile(chain):
        report.fail(f"{_CHAIN} is missing")
        return {}
    return check_bundle_chain(chain, report, evidence, wanted)


def _anchored_seqs(anchors: list[dict[str, Any]]) -> dict[int, None]:
    return {anchor["seq"]: None for anchor in anchors if isinstance(anchor.get("seq"), int)}


def _bag_root(folder: str) -> str | None:
    """The bag in an unpacked archive: the folder itself or its single top-level folder."""
    return next((path for path in _bag_candidates(folder) if _is_bag(path)), None)


def _bag_candidates(folder: str) -> Iterator[str]:
    yield folder
    entries = [name for name in os.listdir(folder) if not name.startswith(".")]
    if len(entries) == 1:
        yield os.path.join(folder, entries[0])


def _is_bag(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "bagit.txt"))


def verify_path(path: str, write: Callable[[str], None] | None = None) -> BundleReport:
    """Check a bundle folder or ZIP archive (unpacked into a temporary folder, then
    removed); the last line written is the result."""
    report = _verify_any(path, write)
    report.finish()
    return report


def _verify_any(path: str, write: Callable[[str], None] | None) -> BundleReport:
    if os.path.isdir(path):
        return _verify_unpacked(path, path, write)
    if zipfile.is_zipfile(path):
        return _verify_zip(path, write)
    report = BundleReport(write)
    report.fail(_not_a_bundle(path))
    return report


def _verify_zip(path: str, write: Callable[[str], None] | None) -> BundleReport:
    with tempfile.TemporaryDirectory(prefix="verify-bundle-") as folder:
        with zipfile.ZipFile(path) as archive:
            # zipfile drops ".." and absolute paths from member names.
            archive.extractall(folder)
        return _verify_unpacked(folder, path, write)


def _verify_unpacked(folder: str, path: str, write: Callable[[str], None] | None) -> BundleReport:
    """The bag in ``folder`` (``path`` as the user named it)."""
    root = _bag_root(folder)
    if root is not None:
        return verify_bag(root, write)
    report = BundleReport(write)
    report.fail(f"{path} holds no bagit.txt: it is not a bundle")
    return report


def _not_a_bundle(path: str) -> str:
    """Why ``path``, neither a folder nor a ZIP archive, cannot be checked."""
    if path.endswith(".age"):
        return (
            f"{path} is encrypted: decrypt it first (age -d -i KEY -o bundle.zip {path}, or "
            "tipbot verify-bundle --identity KEY)"
        )
    if os.path.exists(path):
        return f"{path} is neither a bundle folder nor a ZIP archive"
    return f"{path} does not exist"


_USAGE = "usage: python3 verify.py [BUNDLE_FOLDER_OR_ZIP | CHAIN.jsonl]"


def main(argv: list[str] | None = None) -> int:
    """``python3 verify.py [BUNDLE]``: check the bundle (by default the one this file is in)
    and print a report; exit 0 when it is intact, 1 when not. ``verify.py CHAIN.jsonl``
    checks a bare chain file."""
    args = sys.argv[1:] if argv is None else argv
    return _command(args)(*args)


def _command(args: list[str]) -> Callable[..., int]:
    """What the arguments ask for: the usage (exit 2), a chain file's check or a bundle's."""
    if _asks_for_usage(args):
        return _usage
    if args and args[0].endswith(".jsonl"):
        return _verify_chain_file
    return _verify_bundle


def _asks_for_usage(args: list[str]) -> bool:
    return len(args) > 1 or args[:1] in (["-h"], ["--help"])


def _usage(*_args: str) -> int:
    print(_USAGE, file=sys.stderr)
    return 2


def _verify_chain_file(path: str) -> int:
    """A bare chain.jsonl: exit 0 when intact, 3 when broken."""
    try:
        count, head = check_chain(read_jsonl(path))
    except ChainProblem as exc:
        print(f"BROKEN: {exc}")
        return 3
    print(f"chain intact: {count} entries, head {head}")
    return 0


def _verify_bundle(path: str | None = None) -> int:
    """The bundle at ``path``, by default the one this file is in (as its data/verify.py)."""
    if path is None:
        path = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return 0 if verify_path(path).passed else 1


if __name__ == "__main__":
    sys.exit(main())
