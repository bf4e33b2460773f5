"""``tipbot export``: the command line's way into :func:`bot.export.service.export_table`.

``tipbot export [--format csv|jsonl|geojson|xlsx] [--profile investigator|public]
[--out FILE] [--bom] [filters]`` writes to standard output unless ``--out`` is given (XLSX
needs a file). A file is written under a temporary name beside it, readable by its owner
only, and renamed when complete, so an interrupted export leaves nothing half-written. On a
terminal a progress bar runs on standard error; a bad option is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from bot.export.filters import (
    ExportFilters,
    FilterError,
    Format,
    Profile,
    parse_format,
    parse_profile,
)
from bot.export.service import ExportResult, Progress, export_table
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.cli import Subcommands

_ACTOR_MAX = 80  # custody_entry.actor


def cli_actor() -> str:
    """``cli:<operating-system user>``: who ran a command, for the custody log."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no user name in the environment or passwd
        return "cli"
    return f"cli:{user}"[:_ACTOR_MAX] if user else "cli"


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "export",
        help="export tips as CSV, JSON Lines, GeoJSON or XLSX (docs/export.md)",
        description="Export submitted tips as a table. Every export is a custody entry.",
    )
    parser.add_argument(
        "--format",
        default=Format.CSV.value,
        metavar="FORMAT",
        help="csv (default), jsonl, geojson or xlsx",
    )
    parser.add_argument(
        "--profile",
        default=Profile.INVESTIGATOR.value,
        metavar="PROFILE",
        help="investigator (default: every field) or public (redacted, verified tips only "
        "unless --status is given)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write to FILE instead of standard output (required for xlsx)",
    )
    parser.add_argument(
        "--bom",
        action="store_true",
        help="CSV: begin with a UTF-8 byte order mark (for spreadsheet programs)",
    )
    ExportFilters.add_arguments(parser)
    parser.set_defaults(run=run_export)


def _fail(message: str, status: int = 2) -> int:
    print(f"tipbot: {message}", file=sys.stderr)
    return status


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    try:
        fmt = parse_format(args.format)
        profile = parse_profile(args.profile)
        filters = ExportFilters.from_args(args)
    except FilterError as exc:
        return _fail(str(exc))
    out_path: Path | None = args.out
    problem = _option_problem(fmt, args.bom, out_path)
    if problem is not None:
        return _fail(problem)
    try:
        with _output(out_path) as out:
            result = asyncio.run(_export(settings, fmt, profile, filters, out, bom=args.bom))
    except BrokenPipeError:
        # The reader went away (``tipbot export | head``): nothing was recorded.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _fail("the output was closed before the export finished; nothing recorded", 1)
    except PermissionError as exc:
        return _fail(f"cannot write {exc.filename or out_path}: permission denied", 1)
    print(_summary(result, out_path), file=sys.stderr)
    return 0


def _option_problem(fmt: Format, bom: bool, out_path: Path | None) -> str | None:
    """What is wrong with the format and output options together, or None."""
    if bom and fmt != Format.CSV:
        return "--bom is for CSV only (JSON must not begin with a byte order mark)"
    if out_path is None:
        xlsx = fmt == Format.XLSX
        return (
            "xlsx needs --out FILE (a workbook cannot be written to standard output)"
            if xlsx
            else None
        )
    if out_path.is_dir():
        return f"--out: {out_path} is a directory"
    if not out_path.parent.is_dir():
        return f"--out: the folder {out_path.parent} does not exist"
    return None


def _summary(result: ExportResult, out_path: Path | None) -> str:
    """The line that says what was exported where, with its hash and export id."""
    where = str(out_path) if out_path is not None else "standard output"
    left_out = f", {result.skipped} without a point left out" if result.skipped else ""
    return (
        f"exported {result.rows} tips ({result.format}, {result.profile} profile{left_out}) "
        f"to {where}: {result.bytes} bytes, sha256 {result.sha256}, export id "
        f"{result.export_id}"
    )


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[BinaryIO]:
    """Standard output, or a new owner-only file renamed into place once complete."""
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            yield out
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


async def _export(
    settings: Settings,
    fmt: Format,
    profile: Profile,
    filters: ExportFilters,
    out: BinaryIO,
    *,
    bom: bool,
) -> ExportResult:
    from db.engine import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        with _progress_bar(enabled=sys.stderr.isatty()) as progress:
            return await export_table(
                session_factory(engine),
                fmt=fmt,
                profile=profile,
                filters=filters,
                out=out,
                actor=cli_actor(),
                progress=progress,
                bom=bom,
            )
    finally:
        await engine.dispose()


@contextlib.contextmanager
def _progress_bar(*, enabled: bool) -> Iterator[Progress | None]:
    """A rich progress bar on standard error (counts, rate, time left); nothing when
    standard error is not a terminal."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tips"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("export", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
