"""Bundle benchmark: figures printed, not asserted (issue 8, section 6).

Builds an evidence store in a scratch folder (SQLite) through the services, as the bot
would: ``--tips`` submitted tips (default 300), the first ones with one or two files —
photos of 1–5 MB and now and then a video of 10–50 MB, JPEG and MP4 by their first bytes,
random (incompressible, as real media are) — until the originals add up to ``--gigabytes``
(default 1); every fortieth tip re-sends a file another tip sent (stored once, in the
bundle under both). Each file is staged, hashed and recorded with its ``file_received``
custody entry by :mod:`bot.intake`, so the bundle and its ``verify.py`` see a real chain.

Then, on the same (warm) files, each command in its own process:

- ``tar -cf`` of the originals folder: the baseline;
- ``tipbot bundle --out X.zip``: the BagIt bag (originals copied and hashed with SHA-256
  and SHA-512, tables, chain, manifests) then zipped (originals stored, text deflated);
- ``tipbot bundle --out X``: the same bag as a folder;
- ``tipbot verify-bundle X.zip`` once, to show the bundle verifies.

For each: seconds (wall, the whole command with Python's start), MB/s of originals, CPU
seconds and peak memory (max RSS). Each starts after ``sync`` (no earlier writes pending)
and writes into the page cache, as on any machine with memory to spare; the best of
``--runs`` (default 2) is printed.

    python bench/bundle.py [--gigabytes 1] [--tips 300] [--runs 2] [--dir /tmp] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bot import custody, intake
from bot.media import MediaStore
from db.engine import SessionFactory, create_engine, session_factory, transaction
from db.migrate import upgrade
from db.models import Tip

MB = 1024 * 1024
BLOCK = os.urandom(MB)  # the bulk of every file; a salt at its start makes each one distinct
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


@dataclass(frozen=True)
class FileSpec:
    """One file's content, reproducible (a re-sent file is the same bytes)."""

    video: bool
    size: int
    salt: bytes

    def head(self) -> bytes:
        return (MP4 if self.video else JPEG) + self.salt

    async def chunks(self) -> AsyncIterator[bytes]:
        head = self.head()
        yield head
        left = self.size - len(head)
        while left > 0:
            chunk = BLOCK[: min(left, MB)]
            left -= len(chunk)
            yield chunk


def plan_files(total: int, tips: int, rng: random.Random) -> list[list[FileSpec]]:
    """Files per tip: one or two each until ``total`` bytes, then none."""
    plan: list[list[FileSpec]] = []
    planned = 0
    sent: list[FileSpec] = []
    for number in range(tips):
        files: list[FileSpec] = []
        if number % 40 == 39 and sent:
            files.append(rng.choice(sent))  # the same file sent to a second tip
        for _ in range(rng.choice((1, 1, 2))):
            if planned >= total:
                break
            video = rng.random() < 0.05
            size = rng.randint(10, 50) * MB if video else rng.randint(1 * MB, 5 * MB)
            size = max(MB, min(size, total - planned))
            spec = FileSpec(video, size, os.urandom(32))
            files.append(spec)
            sent.append(spec)
            planned += size
        plan.append(files)
    return plan


async def submit(
    sessions: SessionFactory, store: MediaStore, number: int, files: list[FileSpec]
) -> None:
    """One reporter's tip with its files, through the intake service."""
    lookup = f"{number % 50:064x}"
    async with transaction(sessions) as session:
        reporter = await intake.find_reporter(session, lookup)
        if reporter is None:
            reporter = await intake.record_consent(
                session, pseudonym=lookup, chat_id_enc="bench", language="uk"
            )
        tip = await intake.create_draft(session, reporter, "uk")
        tip.category = "strike"
        tip.description = f"Обстріл житлового будинку, повідомлення {number}"
        tip.incident_date = date(2024, 3, 1)
        tip.incident_date_precision = "day"
        tip.location_source = "shared_point"
        tip.location_precision = "point"
        tip.lat, tip.lon = 50.45 + number / 1e4, 30.52
        tip.settlement, tip.oblast = "Київ", "12"
        tip.perpetrator = "unknown"
        actor = custody.reporter_actor(reporter.pseudonym)
        tip_id = tip.id
    for index, spec in enumerate(files):
        staged = await store.stage(spec.chunks(), max_bytes=2000 * MB)
        now = datetime.now(UTC)
        async with transaction(sessions) as session:
            draft = await session.get(Tip, tip_id)
            assert draft is not None
            await intake.add_media(
                session,
                draft,
                intake.NewMedia(
                    kind="video" if spec.video else "photo",
                    file_id=f"bench-{tip_id}-{index}",
                    file_unique_id=f"bench-{staged.sha256[:16]}",
                    media_group_id=None,
                    file_name="VID_0001.mp4" if spec.video else "IMG_0001.jpg",
                    declared_mime="video/mp4" if spec.video else "image/jpeg",
                    size=staged.size,
                    recompressed=False,
                    telegram_date=now,
                    received_at=now,
                ),
                staged,
                actor=actor,
                store=store,
            )
        store.discard(staged)
    async with transaction(sessions) as session:
        draft = await session.get(Tip, tip_id)
        reporter = await intake.find_reporter(session, lookup)
        assert draft is not None
        assert reporter is not None
        await intake.submit(session, draft, reporter, duplicate_distance=0)


async def build_store(folder: Path, gigabytes: float, tips: int, seed: int) -> tuple[int, int]:
    """The store; returns (files, bytes) of the originals folder."""
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'tipbot.db'}")
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        store = MediaStore(folder / "media")
        store.prepare()
        plan = plan_files(int(gigabytes * 1024 * MB), tips, random.Random(seed))
        for number, files in enumerate(plan):
            await submit(sessions, store, number, files)
    finally:
        await engine.dispose()
    originals = [p for p in (folder / "media" / "originals").rglob("*") if p.is_file()]
    return len(originals), sum(p.stat().st_size for p in originals)


# ---------------------------------------------------------------------------- measuring


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_mb: float
    output: str


def peak_kb(pid: int) -> int:
    """A process's peak resident memory so far (VmHWM, kB): unlike ``ru_maxrss`` it starts
    afresh at ``exec``, so a child does not inherit the peak of this process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run one command to completion: wall and CPU seconds, peak memory (read from /proc
    while it runs), and what it printed."""
    with tempfile.TemporaryFile() as printed:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own commands
            argv, cwd=cwd, env=env, stdout=printed, stderr=subprocess.STDOUT
        )
        peak = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, peak_kb(process.pid))
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        printed.seek(0)
        output = printed.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed:\n{output}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, peak / 1024, output)


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def remove(path: Path) -> None:
    """Delete an output (a bag's originals are read-only)."""
    if path.is_dir():
        for item in path.rglob("*"):
            if not item.is_symlink():
                item.chmod(0o700 if item.is_dir() else 0o600)
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--tips", type=int, default=300)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None, help="where the scratch folder goes")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="tipbot-bench-bundle-", dir=args.dir))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'tipbot.db'}",
        "MEDIA_DIR": str(folder / "media"),
        "TIPBOT_DATA_DIR": str(folder),
        "TIPBOT_ORG_NAME": "tipbot bench",
        "TSA_URLS": "",  # no network: timestamps are another benchmark's business
    }
    tipbot = [sys.executable, "-m", "bot"]
    try:
        started = time.perf_counter()
        files, total = asyncio.run(build_store(folder, args.gigabytes, args.tips, args.seed))
        mb = total / 1e6
        print(
            f"tipbot bundle benchmark — {os.cpu_count()} cores, Python {sys.version.split()[0]}\n"
            f"store: {args.tips} tips, {files} originals, {mb:,.0f} MB "
            f"(built through the services in {time.perf_counter() - started:.0f} s)"
        )
        out = folder / "out"
        out.mkdir()
        tar_cmd = ["tar", "-cf", str(out / "originals.tar"), "-C", str(folder / "media")]
        commands = {
            "tar -cf (originals)": [*tar_cmd, "originals"],
            "tipbot bundle --out X.zip": [*tipbot, "bundle", "--out", str(out / "bundle.zip")],
            "tipbot bundle --out X (folder)": [*tipbot, "bundle", "--out", str(out / "bundle")],
        }
        products = {
            "tar -cf (originals)": out / "originals.tar",
            "tipbot bundle --out X.zip": out / "bundle.zip",
            "tipbot bundle --out X (folder)": out / "bundle",
        }
        measure(commands["tar -cf (originals)"], cwd=folder)  # warm the page cache
        remove(products["tar -cf (originals)"])
        best: dict[str, Run] = {}
        sizes: dict[str, int] = {}
        for _ in range(args.runs):
            for label, argv in commands.items():
                # Each command starts with nothing waiting to be written back, so that none
                # is slowed down by the writes of the one before.
                os.sync()
                run = measure(argv, cwd=folder, env=env)
                sizes[label] = size_of(products[label])
                if label not in best or run.seconds < best[label].seconds:
                    best[label] = run
                if label != "tipbot bundle --out X.zip":
                    remove(products[label])
                else:
                    verified = products[label].with_name("verified.zip")
                    remove(verified)
                    products[label].rename(verified)
        check = measure([*tipbot, "verify-bundle", str(out / "verified.zip")], cwd=folder, env=env)
        result = next(
            (line for line in check.output.splitlines() if line.startswith("RESULT")), "?"
        )

        print(
            f"  {'run':32} {'seconds':>8} {'MB/s':>7} {'cpu s':>6} {'peak MB':>8} {'output MB':>10}"
        )
        for label, run in best.items():
            print(
                f"  {label:32} {run.seconds:8.2f} {mb / run.seconds:7.0f} {run.cpu_seconds:6.2f} "
                f"{run.peak_mb:8.1f} {sizes[label] / 1e6:10.0f}"
            )
        tar = best["tar -cf (originals)"].seconds
        for label in ("tipbot bundle --out X.zip", "tipbot bundle --out X (folder)"):
            print(f"  {label}: {tar / best[label].seconds:.2f} × tar's speed")
        print(
            f"  tipbot verify-bundle of the ZIP: {check.seconds:.1f} s, "
            f"{check.peak_mb:.0f} MB peak: {result}"
        )
        print(
            "  (MB/s: megabytes of originals per second of the whole command; the ZIP stores "
            "originals\n   uncompressed and deflates the text files; MB = 10^6 bytes)"
        )
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            remove(folder)


if __name__ == "__main__":
    main()
