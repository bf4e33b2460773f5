"""Export benchmark: figures printed, not asserted.

Generates N submitted tips (default 100,000) with two files each (and an answer on every
tenth) in a scratch database — SQLite, PostgreSQL, or both — bulk-inserted (``executemany``
on SQLite, ``COPY`` on PostgreSQL). Then, each in its own process so that peak memories are
separate, it runs:

- ``tipbot export --format csv`` (investigator profile, every field) of a tenth of the tips
  and of all of them: rows per second and peak memory (flat memory means the two peaks
  match);
- the database's own bulk export of the same columns in the same run (``sqlite3 -csv`` and
  ``psql -c "COPY (SELECT ...) TO STDOUT WITH CSV"``), with files and answers aggregated by
  the database: rows per second and peak memory;

and prints them side by side with the ratio (tipbot / database; the issue's target is 0.5).
Times are wall-clock for the export itself (tipbot's excludes starting Python and importing);
with ``--runs N`` each export runs N times (the full ones taking turns) and the fastest
counts. CPU seconds are the exporting process's (for PostgreSQL the server's are in
neither figure). The evidence bundle has its own benchmark: bench/bundle.py.

    python bench/export.py [--tips 100000] [--database sqlite|postgresql|both] [--runs 1]
                           [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
START = datetime(2022, 2, 24, tzinfo=UTC)
REPORTERS = 2_000
FILES_PER_TIP = 2
STATUSES = ("submitted", "in_review", "verified", "verified", "verified", "rejected")
CATEGORIES = ("strike", "protected_site", "killing", "torture", "detention", "looting", "other")
SETTLEMENTS = (
    (711350, "Буча", "13", 50.54741, 30.20879),
    (707292, "Ізюм", "07", 49.20697, 37.27679),
    (706483, "Харків", "07", 49.98177, 36.25475),
    (711635, "Бородянка", "13", 50.64306, 29.92329),
)
SENTENCES = (
    "Ракета влучила в п'ятиповерховий будинок на розі вулиці, троє людей поранені.",
    "Військові без розпізнавальних знаків забрали сусіда, його досі не знайшли.",
    "Снаряд пошкодив школу вночі; вибито всі вікна, дах частково зруйновано.",
    "Неизвестные вывезли технику с фермы и сожгли склад.",
    'They said "leave now" and fired at the car; the driver was wounded.',
)


# ---------------------------------------------------------------------------- the data


def tip_values(tip_id: int, rng: random.Random) -> dict[str, Any]:
    settlement = SETTLEMENTS[tip_id % len(SETTLEMENTS)]
    status = STATUSES[tip_id % len(STATUSES)]
    submitted = START + timedelta(minutes=7 * tip_id)
    point = tip_id % 3 == 0
    return {
        "id": tip_id,
        "reference": f"{tip_id:08d}"[:4] + "-" + f"{tip_id:08d}"[4:],
        "reporter_id": tip_id % REPORTERS + 1,
        "status": status,
        "return_to_review": False,
        "language": ("uk", "ru", "en")[tip_id % 3],
        "category": CATEGORIES[tip_id % len(CATEGORIES)],
        "description": " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 4))),
        "incident_date": (submitted - timedelta(days=rng.randint(0, 30))).date(),
        "incident_date_precision": "day",
        "incident_time": clock(rng.randint(0, 23), rng.randint(0, 59)),
        "location_source": "shared_point" if point else "typed_place",
        "location_precision": "point" if point else "settlement",
        "lat": round(settlement[3] + (rng.random() - 0.5) / 50, 6) if point else settlement[3],
        "lon": round(settlement[4] + (rng.random() - 0.5) / 50, 6) if point else settlement[4],
        "place_text": f"біля будинку {rng.randint(1, 200)}" if point else settlement[1],
        "settlement": settlement[1],
        "settlement_id": settlement[0],
        "settlement_distance_km": round(rng.random() * 3, 2) if point else None,
        "oblast": settlement[2],
        "perpetrator": ("unknown", "russia", "other")[tip_id % 3],
        "perpetrator_text": "зелена форма, без шевронів" if tip_id % 3 == 2 else None,
        "contact_allowed": tip_id % 2 == 0,
        "originals_hint_sent": False,
        "created_at": submitted - timedelta(minutes=5),
        "updated_at": submitted,
        "submitted_at": submitted,
        "version": 1,
        "urgent": False,
        "reviewed_at": submitted + timedelta(hours=5)
        if status in ("verified", "rejected")
        else None,
        "reject_reason": "not_enough_info" if status == "rejected" else None,
        "last_action": status if status in ("verified", "rejected") else None,
        "last_actor_name": "Олена (модератор)" if status in ("verified", "rejected") else None,
    }


def media_values(media_id: int, tip_id: int, received: datetime) -> dict[str, Any]:
    sha = f"{media_id:064x}"
    return {
        "id": media_id,
        "tip_id": tip_id,
        "kind": "photo",
        "file_id": f"AgACAgIAAxkBAAI{media_id:012d}",
        "file_unique_id": f"AQAD{media_id:012d}",
        "sha256": sha,
        "storage_key": f"originals/{sha[:2]}/{sha[2:4]}/{sha}",
        "status": "stored",
        "recompressed": False,
        "received_at": received,
        "origin": "report",
        "size": 123_456,
    }


def note_values(note_id: int, tip_id: int, created: datetime) -> dict[str, Any]:
    return {
        "id": note_id,
        "tip_id": tip_id,
        "kind": "answer",
        "text": "Так, це було близько п'ятої ранку, біля аптеки.",
        "is_open": False,
        "created_at": created,
    }


Tables = dict[str, list[dict[str, Any]]]
CHUNK = 20_000  # tips generated and inserted at a time (a million would not fit in memory)


def generate(tips: int) -> Iterator[Tables]:
    """The rows to insert, a chunk of tips (with their files and answers) at a time; the
    reporters come with the first chunk."""
    rng = random.Random(7)
    chunk: Tables = {
        "reporter": [
            {"id": i, "pseudonym": f"{i:064x}", "language": "uk", "created_at": START}
            for i in range(1, REPORTERS + 1)
        ]
    }
    for first in range(1, tips + 1, CHUNK):
        tip_rows, media_rows, note_rows = [], [], []
        for tip_id in range(first, min(first + CHUNK, tips + 1)):
            tip = tip_values(tip_id, rng)
            tip_rows.append(tip)
            for k in range(FILES_PER_TIP):
                media_id = (tip_id - 1) * FILES_PER_TIP + k + 1
                media_rows.append(media_values(media_id, tip_id, tip["created_at"]))
            if tip_id % 10 == 0:
                note_rows.append(note_values(tip_id // 10, tip_id, tip["submitted_at"]))
        chunk.update({"tip": tip_rows, "media": media_rows, "tip_note": note_rows})
        yield chunk
        chunk = {}


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it on SQLite: naive UTC text, ISO dates and times, 0/1."""
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )
    if isinstance(value, date | clock):
        return value.isoformat() if isinstance(value, date) else value.strftime("%H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def fill_sqlite(path: Path, chunks: Iterator[Tables]) -> None:
    connection = sqlite3.connect(path)
    with connection:
        for tables in chunks:
            for table, rows in tables.items():
                if not rows:
                    continue
                columns = list(rows[0])
                connection.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - our names
                    f"VALUES ({', '.join('?' for _ in columns)})",
                    ([_sqlite_value(row[c]) for c in columns] for row in rows),
                )
    connection.close()


async def fill_postgres(url: str, chunks: Iterator[Tables]) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        for tables in chunks:
            for table, rows in tables.items():
                if not rows:
                    continue
                columns = list(rows[0])
                await connection.copy_records_to_table(
                    table, records=[tuple(row[c] for c in columns) for row in rows], columns=columns
                )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


# ---------------------------------------------------------------------------- the databases


def migrate(url: str) -> None:
    from db.engine import create_engine
    from db.migrate import upgrade

    async def run() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


async def _pg_admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def scratch_postgres(admin_url: str) -> str:
    """A fresh database beside ``admin_url``'s, migrated; its plain ``postgresql://`` URL."""
    from sqlalchemy.engine import make_url

    name = f"tipbot_bench_export_{os.getpid()}"
    plain = make_url(admin_url).set(drivername="postgresql")
    admin = plain.render_as_string(hide_password=False)
    asyncio.run(_pg_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_pg_admin(admin, f'CREATE DATABASE "{name}"'))
    url = plain.set(database=name).render_as_string(hide_password=False)
    migrate(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    return url


def drop_postgres(admin_url: str, url: str) -> None:
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    name = make_url(url).database
    asyncio.run(_pg_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# The investigator CSV's columns, computed by the database (files and answers aggregated).
_COLUMNS = """SELECT t.id, t.reference, t.status, t.submitted_at, t.reviewed_at,
 t.last_actor_name, t.reject_reason, o.reference, t.duplicate_of_id, t.category,
 t.perpetrator, t.perpetrator_text, t.description, t.incident_date, t.incident_date_precision,
 t.incident_time, t.place_text, t.settlement, t.settlement_id, t.settlement_distance_km,
 t.oblast, t.lat, t.lon, t.location_precision, t.location_source, t.contact_allowed,
 t.language, (SELECT count(*) FROM media m WHERE m.tip_id = t.id AND m.status = 'stored'),"""
_FROM = """, r.pseudonym, t.purged_at
 FROM tip t JOIN reporter r ON r.id = t.reporter_id
 LEFT JOIN tip o ON o.id = t.duplicate_of_id WHERE t.status <> 'draft' ORDER BY t.id"""
SQLITE_QUERY = f"""{_COLUMNS}
 (SELECT group_concat(sha256, '|') FROM (SELECT m.sha256 FROM media m
   WHERE m.tip_id = t.id AND m.status = 'stored' ORDER BY m.id)),
 (SELECT group_concat(text, '|') FROM (SELECT n.text FROM tip_note n
   WHERE n.tip_id = t.id AND n.kind = 'answer' ORDER BY n.id)){_FROM}"""  # noqa: S608
POSTGRES_QUERY = f"""{_COLUMNS}
 (SELECT string_agg(m.sha256, '|' ORDER BY m.id) FROM media m
   WHERE m.tip_id = t.id AND m.status = 'stored'),
 (SELECT string_agg(n.text, '|' ORDER BY n.id) FROM tip_note n
   WHERE n.tip_id = t.id AND n.kind = 'answer'){_FROM}"""  # noqa: S608


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def peak_kb(pid: int | str = "self") -> int | None:
    """A process's peak resident memory (VmHWM, kB). Unlike ``ru_maxrss`` it starts afresh
    at ``exec``, so a child does not inherit the peak of this (large) parent."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def run_measured(argv: list[str], out: Path) -> dict[str, Any]:
    """Run a command with its standard output into ``out``: its wall time, CPU time and peak
    memory (read from /proc while it runs: the last reading before it exits)."""
    peak = 0
    with out.open("wb") as sink:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdout=sink)  # noqa: S603 - our own commands
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, peak_kb(process.pid) or 0)
            time.sleep(0.002)
        elapsed = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{argv[0]} failed with status {process.returncode}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mb": peak / 1024}


def database_export(kind: str, url: str, out: Path) -> dict[str, float]:
    if kind == "sqlite":
        sqlite_cli = shutil.which("sqlite3")
        if sqlite_cli:
            figures = run_measured([sqlite_cli, "-csv", url, SQLITE_QUERY], out)
            figures["tool"] = "sqlite3 -csv"  # type: ignore[assignment]
            return figures
        figures = run_measured([sys.executable, __file__, "--sqlite-module", url], out)
        figures["tool"] = "python sqlite3 module + csv (no sqlite3 CLI)"  # type: ignore[assignment]
        return figures
    psql = shutil.which("psql")
    if not psql:
        raise SystemExit("psql is not installed: cannot run PostgreSQL's own COPY export")
    copy = f"COPY ({POSTGRES_QUERY}) TO STDOUT WITH CSV"
    figures = run_measured([psql, "-X", "-q", url, "-c", copy], out)
    figures["tool"] = "psql COPY ... TO STDOUT WITH CSV"  # type: ignore[assignment]
    return figures


def sqlite_module_export(path: str) -> None:
    """The fallback when the sqlite3 CLI is missing: Python's sqlite3 module writing CSV."""
    import csv

    writer = csv.writer(sys.stdout)
    for row in sqlite3.connect(path).execute(SQLITE_QUERY):
        writer.writerow(row)


def tipbot_export(url: str, out: Path, until: str | None) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", url, "--out", str(out)]
    if until:
        argv += ["--until", until]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)  # noqa: S603
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


async def child_export(url: str, out: Path, until: str | None) -> dict[str, Any]:
    """In its own process: one investigator CSV export through the service, as the CLI does."""
    from bot.export.filters import ExportFilters, Format, Profile
    from bot.export.service import export_table
    from bot.gazetteer import Gazetteer
    from db.engine import create_engine, session_factory

    engine = create_engine(url)
    filters = ExportFilters(until=datetime.fromisoformat(until) if until else None)
    # The gazetteer (raion, hromada) is a constant cost, measured apart from the streaming.
    rss_bare = (peak_kb() or 0) / 1024
    gazetteer = Gazetteer.load()
    rss_before = (peak_kb() or 0) / 1024
    cpu_before = _cpu()
    started = time.monotonic()
    with out.open("wb") as sink:
        result = await export_table(
            session_factory(engine),
            fmt=Format.CSV,
            profile=Profile.INVESTIGATOR,
            filters=filters,
            out=sink,
            actor="cli:bench",
            gazetteer=gazetteer,
        )
    elapsed = time.monotonic() - started
    cpu = _cpu() - cpu_before
    await engine.dispose()
    return {
        "cpu_seconds": cpu,
        "rows": result.rows,
        "bytes": result.bytes,
        "seconds": elapsed,
        "rss_bare_mb": rss_bare,
        "rss_before_mb": rss_before,
        "peak_rss_mb": (peak_kb() or 0) / 1024,
    }


# ---------------------------------------------------------------------------- main


def best_of(runs: int, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The fastest of ``runs`` runs (the others were slowed by something else)."""
    return min((measure() for _ in range(runs)), key=lambda figures: float(figures["seconds"]))


def bench(kind: str, tips: int, admin_url: str, workdir: Path, runs: int = 1) -> dict[str, Any]:
    print(f"\n{kind}: generating {tips:,} tips with {FILES_PER_TIP * tips:,} files ...", flush=True)
    started = time.monotonic()
    if kind == "sqlite":
        path = workdir / "bench.db"
        migrate(f"sqlite+aiosqlite:///{path}")
        fill_sqlite(path, generate(tips))
        tipbot_url, native_url = f"sqlite+aiosqlite:///{path}", str(path)
    else:
        native_url = scratch_postgres(admin_url)
        asyncio.run(fill_postgres(native_url, generate(tips)))
        tipbot_url = native_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    print(f"  generated and inserted in {time.monotonic() - started:.1f} s", flush=True)
    tenth = (START + timedelta(minutes=7 * (tips // 10) + 1)).isoformat()
    try:
        small = best_of(runs, lambda: tipbot_export(tipbot_url, workdir / "small.csv", tenth))
        # The two full exports take turns, so that a busy moment slows both alike.
        fulls, natives = [], []
        for _ in range(runs):
            fulls.append(tipbot_export(tipbot_url, workdir / "tipbot.csv", None))
            natives.append(database_export(kind, native_url, workdir / "native.csv"))
        full = min(fulls, key=lambda figures: float(figures["seconds"]))
        native = min(natives, key=lambda figures: float(figures["seconds"]))
    finally:
        if kind == "postgresql":
            drop_postgres(admin_url, native_url)
    native["rows"] = tips
    native["bytes"] = (workdir / "native.csv").stat().st_size
    return {"small": small, "full": full, "native": native}


def report(kind: str, figures: dict[str, Any]) -> None:
    small, full, native = figures["small"], figures["full"], figures["native"]
    print(
        f"  {'run':34} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'cpu s':>6} {'MB out':>7} "
        f"{'peak MB':>8}"
    )
    for label, r in (
        ("tipbot export csv (a tenth)", small),
        ("tipbot export csv (all)", full),
        (str(native["tool"]), native),
    ):
        print(
            f"  {label:34} {r['rows']:9,d} {r['seconds']:8.2f} {r['rows'] / r['seconds']:9,.0f} "
            f"{r['cpu_seconds']:6.2f} {r['bytes'] / 1e6:7.1f} {r['peak_rss_mb']:8.1f}"
        )
    ratio = (full["rows"] / full["seconds"]) / (native["rows"] / native["seconds"])
    print(
        f"  tipbot before exporting: {full['rss_bare_mb']:.1f} MB (interpreter and imports) + "
        f"{full['rss_before_mb'] - full['rss_bare_mb']:.1f} MB (gazetteer); growth while "
        f"streaming {small['peak_rss_mb'] - small['rss_before_mb']:.1f} MB at "
        f"{small['rows']:,} tips, {full['peak_rss_mb'] - full['rss_before_mb']:.1f} MB at "
        f"{full['rows']:,}"
    )
    print(f"  ratio tipbot / {kind} rows per second: {ratio:.2f} (target >= 0.50)")
    if kind == "postgresql":
        print("  (cpu s: the client process only; the server's work is in neither figure)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tips", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG),
        help="a PostgreSQL server where the user may create databases (a scratch one is made)",
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="run each export this many times; the fastest counts"
    )
    parser.add_argument("--verbose", action="store_true", help="print the raw figures too")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--until", help=argparse.SUPPRESS)
    parser.add_argument("--sqlite-module", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(asyncio.run(child_export(args.child, Path(args.out), args.until))))
        return
    if args.sqlite_module:
        sqlite_module_export(args.sqlite_module)
        return

    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    print(
        f"tipbot export benchmark — {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{args.tips:,} tips, {FILES_PER_TIP} files each"
    )
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="tipbot-bench-") as workdir:
            figures = bench(kind, args.tips, args.database_url, Path(workdir), args.runs)
        report(kind, figures)
        if args.verbose:
            print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
