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
    _show(report, as_json=args.json)
    return report.exit_code


def _show(report: Report, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        _print(report)


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
    """Bytes in B, KB, MB, GB or TB (powers of 1000), one decimal past bytes."""
    if count < 1000:
        return f"{count} B"
    value = float(count)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"


def _print(report: Report) -> None:
    for problem in report.problems:
        print(f"{problem.kind.upper()}: {problem.message}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    print(_summary(report))


def _summary(report: Report) -> str:
    rate = report.bytes / report.seconds / 1e6 if report.seconds > 0 else 0.0
    verdict = "OK" if report.ok else f"{len(report.problems)} problem(s), exit {report.exit_code}"
    return (
        f"verified {report.entries} entries (head {report.head_seq} {report.head_hash}), "
        f"{report.tips} tips, {report.media} media rows, {report.anchors} anchors, "
        f"{report.tokens} timestamps, {report.files} files, {_size(report.bytes)} "
        f"in {report.seconds:.1f} s ({rate:.0f} MB/s): {verdict}"
    )
