"""What a tip's files say of themselves — the capture time and GPS position in their
metadata — compared with the date and place the reporter gave; flagged to the moderators
where they disagree by more than :data:`DATE_TOLERANCE` or :data:`PLACE_TOLERANCE_KM`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock

from bot.gazetteer import haversine_km
from db.models import DatePrecision, Media, Tip

# A capture time and the reported date, or a file's GPS and the reported place, further apart
# than this are flagged to the moderators.
DATE_TOLERANCE = timedelta(days=1)
PLACE_TOLERANCE_KM = 25.0
# Cameras without a set clock write 0000:00:00 or the epoch of their format (1904, 1970).
_EARLIEST_CAPTURE = 1990
_CAPTURE_TIME = re.compile(
    r"^\s*(\d{4})[:-](\d{2})[:-](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?"
)
_DATED = (DatePrecision.DAY, DatePrecision.MONTH)


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a file's own metadata says of when and where it was made, against the report:
    ``days_apart`` and ``km_apart`` are None where there is nothing to compare."""

    media: Media
    taken_at: datetime | None  # as the camera wrote it: local time, no time zone
    lat: float | None
    lon: float | None
    days_apart: float | None
    km_apart: float | None

    @property
    def date_disagrees(self) -> bool:
        tolerance = DATE_TOLERANCE.total_seconds() / 86400
        return self.days_apart is not None and self.days_apart > tolerance

    @property
    def place_disagrees(self) -> bool:
        return self.km_apart is not None and self.km_apart > PLACE_TOLERANCE_KM


def capture_time(value: object) -> datetime | None:
    """A capture time as EXIF (``2022:02:24 10:11:12``) or a container tag
    (``2022-02-24 10:11:12``) writes it; None when absent or unusable."""
    match = _CAPTURE_TIME.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = map(int, match.groups("0"))
    if year < _EARLIEST_CAPTURE:
        return None
    try:  # only a moment the calendar has (cameras write 2023:02:30 too)
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _reported_span(tip: Tip) -> tuple[datetime, datetime] | None:
    """The moments the reported date covers: a month, a day, or the reported moment."""
    reported = tip.incident_date
    if reported is None or tip.incident_date_precision not in _DATED:
        return None
    if tip.incident_date_precision == DatePrecision.MONTH:
        first = date(reported.year, reported.month, 1)
        following = date(reported.year + reported.month // 12, reported.month % 12 + 1, 1)
        return datetime.combine(first, clock()), datetime.combine(following, clock())
    if tip.incident_time is not None:  # the reported moment itself
        moment = datetime.combine(reported, tip.incident_time)
        return moment, moment
    start = datetime.combine(reported, clock())  # any time of the reported day
    return start, start + timedelta(days=1)


def _days_from_report(tip: Tip, taken: datetime | None) -> float | None:
    """How many days a capture time lies outside the reported date (0 inside it)."""
    span = _reported_span(tip) if taken is not None else None
    if span is None or taken is None:
        return None
    start, end = span
    gap = max(start - taken, taken - end, timedelta(0))
    return gap.total_seconds() / 86400


def _position(meta: dict[str, object]) -> tuple[float, float] | None:
    """The GPS position a file's metadata holds, if both coordinates are numbers."""
    gps = meta.get("gps")
    lat = gps.get("lat") if isinstance(gps, dict) else None
    lon = gps.get("lon") if isinstance(gps, dict) else None
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return float(lat), float(lon)
    return None


def _km_from_report(tip: Tip, position: tuple[float, float] | None) -> float | None:
    if position is None or tip.lat is None or tip.lon is None:
        return None
    return haversine_km(position[0], position[1], tip.lat, tip.lon)


def _facts(tip: Tip, item: Media) -> FileFacts | None:
    meta = item.file_metadata or {}
    taken, position = capture_time(meta.get("taken_at")), _position(meta)
    if taken is None and position is None:
        return None
    lat, lon = position or (None, None)
    days, km = _days_from_report(tip, taken), _km_from_report(tip, position)
    return FileFacts(item, taken, lat, lon, days, km)


def file_facts(tip: Tip, media: list[Media]) -> list[FileFacts]:
    """The files whose metadata holds a capture time or a position, each compared with the
    reported date and place (flagged beyond a day or 25 km)."""
    return [facts for item in media if (facts := _facts(tip, item)) is not None]
