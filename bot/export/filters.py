"""What an export covers: its format, its profile and the filters that choose the tips.

The same filters serve ``tipbot export``, ``tipbot bundle`` and ``tipbot purge`` (through
:meth:`ExportFilters.add_arguments` and :meth:`ExportFilters.from_args`) and the Telegram
``/export`` dialog, and are recorded in custody entries (:meth:`ExportFilters.as_details`)
with the command line that repeats them (:meth:`ExportFilters.cli_args`). A bad value is a
:class:`FilterError` whose message is one line for the person who typed it.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum

from bot.custody import JsonValue
from bot.gazetteer import OBLAST_CODES, oblast_name
from bot.taxonomy import CATEGORY_CODES
from db.models import (
    TIP_DUPLICATE,
    TIP_IN_REVIEW,
    TIP_NEEDS_INFO,
    TIP_QUARANTINED,
    TIP_REJECTED,
    TIP_SUBMITTED,
    TIP_VERIFIED,
    TIP_WITHDRAWN,
)


class Profile(StrEnum):
    """Who the export is for: ``investigator`` gets every field, ``public`` a redacted set
    (bot.export.rows.redactions lists exactly what it removes)."""

    INVESTIGATOR = "investigator"
    PUBLIC = "public"


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    GEOJSON = "geojson"
    XLSX = "xlsx"


#: Statuses a submitted tip can have (drafts are never exported), in the order of a tip's life.
STATUSES: tuple[str, ...] = (
    TIP_SUBMITTED,
    TIP_IN_REVIEW,
    TIP_NEEDS_INFO,
    TIP_VERIFIED,
    TIP_REJECTED,
    TIP_DUPLICATE,
    TIP_QUARANTINED,
    TIP_WITHDRAWN,
)


class FilterError(ValueError):
    """A filter value that cannot be used; the message is one line naming the option."""


def _oblast_aliases() -> dict[str, str]:
    """Oblast codes by the forms an admin may type: the code ("14", "4") or a name in any of
    the three languages, full or short ("Kyiv Oblast", "Київська обл.")."""
    aliases: dict[str, str] = {}
    for code in OBLAST_CODES:
        aliases[code] = code
        aliases[str(int(code))] = code
        for lang in ("uk", "ru", "en"):
            for short in (False, True):
                aliases[oblast_name(code, lang, short=short).casefold()] = code
    return aliases


_OBLASTS = _oblast_aliases()
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(text: str, option: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 time (UTC when it names no offset)."""
    value = text.strip()
    try:
        if _DATE_ONLY.match(value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(
            f"{option}: {text!r} is not a date (use YYYY-MM-DD or an ISO 8601 time such as "
            "2024-03-01T12:00Z)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """A filter time as ISO 8601 UTC (``2024-03-01T00:00:00Z``; microseconds only if set)."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"


def _split(values: Iterable[str] | None) -> list[str]:
    """Repeated options and comma-separated lists alike: ``--status a --status b,c``."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def _known(values: Iterable[str], known: Sequence[str], option: str) -> tuple[str, ...]:
    chosen: list[str] = []
    for value in values:
        code = value.strip().lower()
        if code not in known:
            raise FilterError(f"{option}: unknown value {value!r} (known: {', '.join(known)})")
        if code not in chosen:
            chosen.append(code)
    return tuple(chosen)


def _oblast_codes(values: Iterable[str]) -> tuple[str, ...]:
    chosen: list[str] = []
    for value in values:
        code = _OBLASTS.get(value.strip().casefold())
        if code is None:
            raise FilterError(
                f"--oblast: unknown oblast {value!r} (use a code 01-27, see docs/export.md, "
                "or the oblast's name)"
            )
        if code not in chosen:
            chosen.append(code)
    return tuple(chosen)


@dataclass(frozen=True, slots=True)
class ExportFilters:
    """Which submitted tips an export covers. Empty tuples mean "any"; times are aware UTC.

    ``since`` is inclusive and ``until`` exclusive, both on the submission time. The public
    profile exports only verified tips unless ``statuses`` are given
    (:meth:`for_profile`).
    """

    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    oblasts: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    verified_only: bool = False

    def __post_init__(self) -> None:
        # Programmatic callers (the Telegram dialog) get the same checks as the command line.
        for option, values, known in (
            ("--status", self.statuses, STATUSES),
            ("--category", self.categories, CATEGORY_CODES),
            ("--oblast", self.oblasts, OBLAST_CODES),
        ):
            for value in values:
                if value not in known:
                    raise FilterError(f"{option}: unknown value {value!r}")
        for option, moment in (("--since", self.since), ("--until", self.until)):
            if moment is not None and moment.tzinfo is None:
                raise FilterError(f"{option}: the time must be timezone-aware")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise FilterError("--since must be earlier than --until")

    def for_profile(self, profile: Profile) -> ExportFilters:
        """The filters as applied: the public profile without statuses means verified only."""
        if profile == Profile.PUBLIC and not self.statuses and not self.verified_only:
            return replace(self, statuses=(TIP_VERIFIED,))
        return self

    def as_details(self) -> dict[str, JsonValue]:
        """The filters for a custody entry or ``export.json``: codes and ISO 8601 strings."""
        return {
            "statuses": list(self.statuses),
            "categories": list(self.categories),
            "oblasts": list(self.oblasts),
            "since": format_time(self.since) if self.since else None,
            "until": format_time(self.until) if self.until else None,
            "verified_only": self.verified_only,
        }

    def cli_args(self) -> list[str]:
        """The command-line options that select the same tips (for "run this instead")."""
        args: list[str] = []
        for option, values in (
            ("--status", self.statuses),
            ("--category", self.categories),
            ("--oblast", self.oblasts),
        ):
            for value in values:
                args += [option, value]
        if self.since is not None:
            args += ["--since", format_time(self.since)]
        if self.until is not None:
            args += ["--until", format_time(self.until)]
        if self.verified_only:
            args.append("--verified-only")
        return args

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        """Add ``--status --category --oblast --since --until --verified-only`` to a command.

        Values are checked by :meth:`from_args` (not by argparse), so a bad one is a single
        line rather than argparse's usage block."""
        group = parser.add_argument_group("which tips")
        group.add_argument(
            "--status",
            action="append",
            metavar="STATUS",
            help="only tips with this status (repeatable or comma-separated): "
            + ", ".join(STATUSES),
        )
        group.add_argument(
            "--category",
            action="append",
            metavar="CODE",
            help="only this incident category (repeatable): " + ", ".join(CATEGORY_CODES),
        )
        group.add_argument(
            "--oblast",
            action="append",
            metavar="OBLAST",
            help="only this oblast (repeatable): its code 01-27 or its name",
        )
        group.add_argument(
            "--since",
            metavar="TIME",
            help="submitted at or after this time (YYYY-MM-DD is midnight UTC)",
        )
        group.add_argument(
            "--until",
            metavar="TIME",
            help="submitted before this time (exclusive; YYYY-MM-DD is midnight UTC)",
        )
        group.add_argument(
            "--verified-only", action="store_true", help="only tips a moderator verified"
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ExportFilters:
        """The filters of parsed options; raises :class:`FilterError` on a bad value."""
        since = getattr(args, "since", None)
        until = getattr(args, "until", None)
        return cls(
            statuses=_known(_split(getattr(args, "status", None)), STATUSES, "--status"),
            categories=_known(
                _split(getattr(args, "category", None)), CATEGORY_CODES, "--category"
            ),
            oblasts=_oblast_codes(_split(getattr(args, "oblast", None))),
            since=parse_time(since, "--since") if since else None,
            until=parse_time(until, "--until") if until else None,
            verified_only=bool(getattr(args, "verified_only", False)),
        )


# The same, as functions, for callers that prefer them.
add_arguments = ExportFilters.add_arguments
from_args = ExportFilters.from_args


def parse_format(value: str) -> Format:
    try:
        return Format(value.strip().lower())
    except ValueError:
        raise FilterError(
            f"--format: unknown format {value!r} (choose {', '.join(f.value for f in Format)})"
        ) from None


def parse_profile(value: str) -> Profile:
    try:
        return Profile(value.strip().lower())
    except ValueError:
        raise FilterError(
            f"--profile: unknown profile {value!r} (choose {', '.join(p.value for p in Profile)})"
        ) from None
