"""``tipbot purge``: the command line's way into :mod:`bot.export.purge` (retention).

``tipbot purge --status rejected --older-than 180d [filters] [--yes]`` is a dry run unless
``--yes`` is given: it prints how many tips (by status), files, originals and bytes would be
erased, and changes nothing. With ``--yes`` it erases them and prints the same counts. Only
counts are printed, never a tip's content. A bad option is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from bot.export.commands import cli_actor
from bot.export.filters import ExportFilters, FilterError
from bot.export.purge import PurgeCriteria, PurgeError, PurgeProgress, PurgeSummary
from bot.settings import Settings, parse_duration

if TYPE_CHECKING:
    from bot.cli import Subcommands


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "purge",
        help="erase the content and originals of old tips (retention; dry run unless --yes)",
        description=(
            "Erase the testimony, notes' text and original files of the tips chosen by "
            "--status and the other filters whose last decision (or submission, if never "
            "decided) is older than --older-than. References, statuses and the custody log "
            "stay; each tip gets a 'purged' custody entry. Without --yes nothing is changed."
        ),
    )
    parser.add_argument(
        "--older-than",
        required=True,
        metavar="AGE",
        help="only tips decided (or submitted, if never decided) longer ago than this: "
        "180d, 12h, 90m",
    )
    parser.add_argument(
        "--yes", action="store_true", help="really erase (without it: a dry run that counts)"
    )
    ExportFilters.add_arguments(parser)
    parser.set_defaults(run=run_purge)


def _fail(message: str, status: int = 2) -> int:
    print(f"tipbot: {message}", file=sys.stderr)
    return status


def size_text(count: int) -> str:
    """Bytes for people: ``0 B``, ``512 B``, ``3.4 MB``, ``1.2 GB``."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def describe(summary: PurgeSummary) -> str:
    statuses = ", ".join(f"{status} {count}" for status, count in summary.by_status.items())
    tips = f"{summary.tips} tip{'' if summary.tips == 1 else 's'}"
    return (
        f"{tips} ({statuses}): {summary.files} files, "
        f"{summary.originals} originals ({size_text(summary.bytes)})"
    )


def run_purge(settings: Settings, args: argparse.Namespace) -> int:
    try:
        filters = ExportFilters.from_args(args)
        older_than = parse_duration(args.older_than)
        criteria = PurgeCriteria(filters, older_than)
    except FilterError as exc:
        return _fail(str(exc))
    except PurgeError as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"--older-than: {exc}")
    summary = asyncio.run(_purge(settings, criteria, really=bool(args.yes)))
    if summary.tips == 0:
        print("no tips match: nothing to purge")
    elif summary.dry_run:
        print(f"dry run: would purge {describe(summary)}")
        print("nothing was changed; run the same command with --yes to erase them")
    else:
        print(f"purged {describe(summary)}")
    return 0


async def _purge(settings: Settings, criteria: PurgeCriteria, *, really: bool) -> PurgeSummary:
    from bot.export.purge import plan_purge, purge
    from bot.media import MediaStore
    from db.engine import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        if not really:
            return await plan_purge(sessions, criteria)
        # Not MediaStore.prepare(): a running bot may have downloads in progress there.
        store = MediaStore(settings.media_dir)
        return await purge(
            sessions, store, criteria, actor=cli_actor(), progress=_progress(sys.stderr.isatty())
        )
    finally:
        await engine.dispose()


def _progress(enabled: bool) -> PurgeProgress | None:
    """A one-line counter on standard error (a terminal only)."""
    if not enabled:
        return None

    def update(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rpurging: {done} of {total} tips", end=end, file=sys.stderr, flush=True)

    return update
