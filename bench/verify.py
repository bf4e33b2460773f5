"""Benchmark ``tipbot verify``: re-hashing speed against ``sha256sum``, chain speed, memory.

Builds a store in a scratch folder (SQLite): originals of 1–50 MB adding up to ``--gigabytes``
(default 2) and a custody chain of ``--entries`` (default 1,000,000) entries with a
``file_received`` receipt per file. Then, in the same run and on the same (warm) files:

- ``sha256sum`` over every original, and ``tipbot verify`` (files re-hashed): MB/s each and
  the ratio (target ≥ 0.9);
- ``tipbot verify --no-files``: chain entries per second;
- peak memory (max RSS of the verifying process) for that store, and again after the chain
  has grown to four times its length: it should stay flat.

Figures are printed, not asserted. Usage: ``python bench/verify.py [--gigabytes 2]
[--entries 1000000] [--dir /tmp/x] [--keep]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.evidence import verifier
from db.engine import create_engine
from db.migrate import upgrade

MB = 1024 * 1024


def _write_originals(media: Path, total: int, rng: random.Random) -> list[tuple[str, int]]:
    files: list[tuple[str, int]] = []
    written = 0
    block = os.urandom(MB)
    while written < total:
        size = min(rng.randint(1, 50) * MB, max(MB, total - written))
        digest = hashlib.sha256()
        tmp = media / "tmp.part"
        with tmp.open("wb") as out:
            left = size
            salt = os.urandom(32)  # every file distinct
            out.write(salt)
            digest.update(salt)
            left -= len(salt)
            while left > 0:
                chunk = block[: min(left, MB)]
                out.write(chunk)
                digest.update(chunk)
                left -= len(chunk)
        sha = digest.hexdigest()
        final = media / "originals" / sha[:2] / sha[2:4] / sha
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(final)
        files.append((sha, size))
        written += size
    return files


def _entries(start_seq: int, prev: str, count: int, files: list[tuple[str, int]], t0: datetime):
    """Format-2 entries, with one file_received receipt per file first."""
    for offset in range(count):
        seq = start_seq + offset
        created = t0 + timedelta(microseconds=seq)
        time_text = created.isoformat(timespec="microseconds")
        if offset < len(files) and start_seq == 1:
            sha, size = files[offset]
            action, tip = "file_received", 1
            details = {"media_id": offset + 1, "sha256": sha, "size": size, "kind": "document"}
        else:
            action, tip = "evidence_viewed", 1
            details = {"moderator": "bench", "view": "files"}
        digest = verifier.body_digest(time_text, "system", action, tip, details)
        entry_hash = verifier.v2_hash(seq, prev, digest)
        yield (
            seq,
            created.replace(tzinfo=None).isoformat(sep=" "),
            "system",
            action,
            tip,
            json.dumps(details),
            prev,
            entry_hash,
            2,
            digest,
        )
        prev = entry_hash


def _append_chain(db: Path, count: int, files: list[tuple[str, int]]) -> None:
    connection = sqlite3.connect(db)
    seq, prev = connection.execute("SELECT seq, hash FROM custody_head").fetchone()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = _entries(seq + 1, prev, count, files, t0)
    batch: list[tuple[object, ...]] = []
    last = (seq, prev)
    for row in rows:
        batch.append(row)
        last = (int(row[0]), str(row[7]))
        if len(batch) == 50_000:
            connection.executemany(
                "INSERT INTO custody_entry (seq, created_at, actor, action, tip_id, details, "
                "prev_hash, hash, format, body_digest) VALUES (?,?,?,?,?,?,?,?,?,?)",
                batch,
            )
            batch.clear()
    if batch:
        connection.executemany(
            "INSERT INTO custody_entry (seq, created_at, actor, action, tip_id, details, "
            "prev_hash, hash, format, body_digest) VALUES (?,?,?,?,?,?,?,?,?,?)",
            batch,
        )
    connection.execute("UPDATE custody_head SET seq = ?, hash = ?", last)
    connection.commit()
    connection.close()


def _add_media(db: Path, files: list[tuple[str, int]]) -> None:
    connection = sqlite3.connect(db)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    connection.execute(
        "INSERT INTO reporter (id, pseudonym, language, created_at) VALUES (1, 'bench', 'en', ?)",
        (now,),
    )
    connection.execute(
        "INSERT INTO tip (id, reference, reporter_id, status, language, return_to_review, "
        "contact_allowed, originals_hint_sent, created_at, updated_at, version, urgent) "
        "VALUES (1, 'BNCH-0001', 1, 'draft', 'en', 0, 0, 0, ?, ?, 1, 0)",
        (now, now),
    )
    connection.executemany(
        "INSERT INTO media (id, tip_id, kind, file_id, file_unique_id, size, sha256, "
        "storage_key, status, recompressed, received_at, origin) "
        "VALUES (?, 1, 'document', 'f', ?, ?, ?, ?, 'stored', 0, ?, 'report')",
        [
            (n + 1, sha[:16], size, sha, f"originals/{sha[:2]}/{sha[2:4]}/{sha}", now)
            for n, (sha, size) in enumerate(files)
        ],
    )
    connection.commit()
    connection.close()


def _measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Seconds, peak RSS (KiB) and output of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own commands
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _pid, _status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(_status)
    return time.perf_counter() - started, usage.ru_maxrss, output


def _verify(folder: Path, *extra: str) -> tuple[float, int, dict[str, object]]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'tipbot.db'}",
        "MEDIA_DIR": str(folder / "media"),
        "TIPBOT_DATA_DIR": str(folder),
    }
    seconds, rss, output = _measure(
        [sys.executable, "-m", "bot", "verify", "--json", *extra], env=env
    )
    return seconds, rss, json.loads(output)


def _sha256sum(media: Path) -> float:
    paths = [str(p) for p in (media / "originals").rglob("*") if p.is_file()]
    seconds, _rss, _output = _measure(["sha256sum", *paths])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tipbot-bench-verify-", dir=args.dir))
    try:
        media = folder / "media"
        (media / "originals").mkdir(parents=True)
        db = folder / "tipbot.db"
        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        asyncio.run(upgrade(engine))
        asyncio.run(engine.dispose())

        started = time.perf_counter()
        files = _write_originals(media, int(args.gigabytes * 1024 * MB), random.Random(args.seed))
        total = sum(size for _sha, size in files)
        _add_media(db, files)
        _append_chain(db, max(args.entries, len(files)), files)
        print(
            f"store: {len(files)} files, {total / 1e9:.2f} GB, {args.entries:,} entries "
            f"(built in {time.perf_counter() - started:.0f} s)"
        )

        _sha256sum(media)  # warm the page cache for both
        baseline = min(_sha256sum(media) for _ in range(2))
        runs = [_verify(folder) for _ in range(2)]
        seconds, rss, report = min(runs, key=lambda run: float(run[2]["file_seconds"]))
        assert report["ok"], report["problems"]
        file_seconds = float(report["file_seconds"])  # type: ignore[arg-type]
        ours = total / file_seconds / 1e6
        theirs = total / baseline / 1e6
        print(
            f"re-hashing: tipbot verify {ours:.0f} MB/s ({file_seconds:.1f} s for the files; "
            f"{seconds:.1f} s whole run with the chain), sha256sum {theirs:.0f} MB/s "
            f"({baseline:.1f} s): ratio {ours / theirs:.2f}"
        )
        chain_seconds, chain_rss, chain_report = _verify(folder, "--no-files")
        print(
            f"chain: {chain_report['entries']:,} entries in {chain_seconds:.1f} s "
            f"({int(chain_report['entries']) / chain_seconds:,.0f} entries/s, whole run)"
        )
        print(
            f"peak memory: {rss / 1024:.0f} MiB (files + chain), {chain_rss / 1024:.0f} MiB (chain)"
        )

        _append_chain(db, 3 * args.entries, [])
        big_seconds, big_rss, big_report = _verify(folder, "--no-files")
        assert big_report["ok"], big_report["problems"]
        print(
            f"chain ×4: {big_report['entries']:,} entries in {big_seconds:.1f} s "
            f"({int(big_report['entries']) / big_seconds:,.0f} entries/s), "
            f"peak memory {big_rss / 1024:.0f} MiB (was {chain_rss / 1024:.0f} MiB)"
        )
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
