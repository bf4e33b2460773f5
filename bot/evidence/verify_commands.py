"""``tipbot verify``: the command-line face of :mod:`bot.evidence.verify`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bot.cli import Subcommands
from bot.evidence.verify import Progress, Report, verify_all
from bot.media import MediaStore
from bot.settings import Settings

EXIT_CODES = """exit status: 0 all clean; otherwise the sum of 4 (the custody chain, its head or a
published anchor), 8 (a tip, answer or media row no longer matches its entry), 16 (an
original altered, missing or stray), 32 (a stored timestamp token); 1 the database cannot be
used, 2 a configuration error."""


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "verify",
        help="check the custody chain, anchors, testimony records, originals and timestamps",
        description="Check everything an investigator relies on and name each problem.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--since",
        type=int,
        default=0,
        metavar="SEQ",
        help="check only entries after SEQ (trusting it) and the files they received",
    )
    parser.add_argument(
        "--no-files",
        action="store_true",
        help="do not re-hash the originals (still checks they exist)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (for monitoring)"
    )
    parser.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.since < 0:
        print("tipbot: --since must be a sequence number (0 or more)", file=sys.stderr)
        return 2
    with _progress(enabled=not args.json and sys.stderr.isatty()) as progress:
        report = asyncio.run(_verify(settings, args, progress))
    if args.json:
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        _print(report)
    return report.exit_code


async def _verify(settings: Settings, args: argparse.Namespace, progress: Progress) -> Report:
    from db.engine import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        return await verify_all(
            session_factory(engine),
            MediaStore(settings.media_dir),
            since=args.since,
            files=not args.no_files,
            ca_file=settings.tsa_ca_file,
            progress=progress,
        )
    finally:
        await engine.dispose()


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Progress]:
    """A progress bar (bytes and ETA for the originals, entries for the chain) on a terminal."""
    if not enabled:
        yield lambda _phase, _done, _total: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import (
        Progress as Bar,
    )

    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        tasks: dict[str, object] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                label = "custody chain" if phase == "chain" else "originals"
                tasks[phase] = bar.add_task(label, total=total)
            bar.update(tasks[phase], completed=done, total=total)  # type: ignore[arg-type]

        yield update


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{count} B"
        value /= 1000
    return f"{count} B"


def _print(report: Report) -> None:
    for problem in report.problems:
        print(f"{problem.kind.upper()}: {problem.message}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    rate = report.bytes / report.seconds / 1e6 if report.seconds > 0 else 0.0
    verdict = "OK" if report.ok else f"{len(report.problems)} problem(s), exit {report.exit_code}"
    print(
        f"verified {report.entries} entries (head {report.head_seq} {report.head_hash}), "
        f"{report.tips} tips, {report.media} media rows, {report.anchors} anchors, "
        f"{report.tokens} timestamps, {report.files} files, {_size(report.bytes)} "
        f"in {report.seconds:.1f} s ({rate:.0f} MB/s): {verdict}"
    )
