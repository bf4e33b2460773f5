"""Parsing the incident date a reporter types.

Accepted: ``24.02.2022``, ``24/02/2022``, ``24-02-2022``, ``2022-02-24``, ``24.02.22``,
``24.02`` (this year), ``02.2022`` and ``2022-02`` (month precision), month names in
Ukrainian, Russian or English ("24 лютого 2022", "март 2022", "Feb 2022"), and the words for
today, yesterday and the day before in each language ("вчора", "сегодня", "yesterday"), each
optionally followed by a time ``HH:MM``. A date in the future or before the configured start
is refused with a reason the bot can explain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time

from db.models import DatePrecision

DAY = DatePrecision.DAY
MONTH = DatePrecision.MONTH
UNKNOWN = DatePrecision.UNKNOWN


class DateError(ValueError):
    """Why a typed date was refused: ``format``, ``invalid``, ``future`` or ``too_early``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IncidentDate:
    value: date
    precision: str  # DAY or MONTH
    time: time | None = None


# Stems that identify a month in uk/ru/en, nominative or genitive. Order matters for stems
# sharing a prefix: "лист" (November) is checked before "ли" forms; "лип" is July.
_MONTH_STEMS: tuple[tuple[str, int], ...] = (
    ("січ", 1), ("лют", 2), ("берез", 3), ("квіт", 4), ("трав", 5), ("черв", 6),
    ("лип", 7), ("серп", 8), ("верес", 9), ("жовт", 10), ("листоп", 11), ("груд", 12),
    ("янв", 1), ("фев", 2), ("мар", 3), ("апр", 4), ("мая", 5), ("май", 5), ("июн", 6),
    ("июл", 7), ("авг", 8), ("сен", 9), ("окт", 10), ("ноя", 11), ("дек", 12),
    ("jan", 1), ("feb", 2), ("mar", 3), ("apr", 4), ("may", 5), ("jun", 6),
    ("jul", 7), ("aug", 8), ("sep", 9), ("oct", 10), ("nov", 11), ("dec", 12),
)  # fmt: skip

# Words for a day relative to today, in uk/ru/en: how many days ago.
_RELATIVE_DAYS: dict[str, int] = {
    "сьогодні": 0, "сегодня": 0, "today": 0,
    "вчора": 1, "учора": 1, "вчера": 1, "yesterday": 1,
    "позавчора": 2, "позавчера": 2,
}  # fmt: skip
# What may surround such a word: "Вчора!", "«вчера»", "today." are the same answer.
_WORD_PUNCTUATION = ".,;:!?…«»\"'“”„()"

_TIME_RE = re.compile(r"(?:^|\s)(?:о|в|at|@)?\s*([01]?\d|2[0-3]):([0-5]\d)\s*$", re.IGNORECASE)
_SEP = r"[./\-\s]"


# "2022 р.", "2022 г.", "2022 року": the year marker carries no information.
_YEAR_WORDS = frozenset({"р", "р.", "г", "г.", "рік", "року", "год", "года", "year"})


_YEAR_WITH_MARKER = re.compile(r"(\d+)(?:р\.|г\.|р|г)")


def _strip_year_marker(word: str) -> str:
    m = _YEAR_WITH_MARKER.fullmatch(word)
    return m[1] if m else word


def _month_from_word(word: str) -> int | None:
    word = word.casefold().strip(".,")
    for stem, month in _MONTH_STEMS:
        if word.startswith(stem):
            return month
    return None


def _year(text: str) -> int:
    value = int(text)
    return 2000 + value if len(text) == 2 else value


# Numeric forms, tried in order: year, month and day as named groups. No year means this
# year; no day means the reporter gave a month only.
_NUMERIC_FORMS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        rf"(?P<y>\d{{4}}){_SEP}(?P<m>\d{{1,2}}){_SEP}(?P<d>\d{{1,2}})",
        rf"(?P<d>\d{{1,2}}){_SEP}(?P<m>\d{{1,2}}){_SEP}(?P<y>\d{{4}}|\d{{2}})",
        rf"(?P<y>\d{{4}}){_SEP}(?P<m>\d{{1,2}})",
        rf"(?P<m>\d{{1,2}}){_SEP}(?P<y>\d{{4}})",
        rf"(?P<d>\d{{1,2}}){_SEP}(?P<m>\d{{1,2}})",
    )
)


def _dated(today: date, month: int, day: str | None, year: str | None) -> IncidentDate:
    """The date from its typed parts: no year is this year, no day is month precision."""
    full_year = today.year if year is None else _year(year)
    if day is None:
        return IncidentDate(_make(full_year, month, 1), MONTH)
    return IncidentDate(_make(full_year, month, int(day)), DAY)


# The same with the month as a word; "р.", "року" and the like are dropped first.
_WORD_FORMS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        r"(?P<d>\d+) (?P<w>\S+) (?P<y>\d+)",
        r"(?P<w>\S+) (?P<y>\d{4})",
        r"(?P<d>\d+) (?P<w>\S+)",
    )
)


def _first_match(forms: tuple[re.Pattern[str], ...], text: str) -> dict[str, str] | None:
    """The named parts of the first form ``text`` matches whole."""
    for form in forms:
        if m := form.fullmatch(text):
            return m.groupdict()
    return None


def _numeric(text: str, today: date) -> IncidentDate | None:
    parts = _first_match(_NUMERIC_FORMS, text)
    if parts is None:
        return None
    return _dated(today, int(parts["m"]), parts.get("d"), parts.get("y"))


def _without_year_words(text: str) -> str:
    """ "24 лютого 2022 р." → "24 лютого 2022": the year marker carries no information."""
    words = (_strip_year_marker(w) for w in text.split() if w.casefold() not in _YEAR_WORDS)
    return " ".join(w for w in words if w)


def _with_month_name(text: str, today: date) -> IncidentDate | None:
    parts = _first_match(_WORD_FORMS, _without_year_words(text))
    if parts is None:
        return None
    month = _month_from_word(parts["w"])
    return _dated(today, month, parts.get("d"), parts.get("y")) if month else None


def _relative(text: str, today: date) -> IncidentDate | None:
    days_ago = _RELATIVE_DAYS.get(text.casefold().strip(_WORD_PUNCTUATION).strip())
    if days_ago is None:
        return None
    return IncidentDate(date.fromordinal(today.toordinal() - days_ago), DAY)


def _parse_date_part(text: str, today: date) -> IncidentDate:
    text = text.strip().strip(".,")
    for parse in (_relative, _numeric, _with_month_name):
        if parsed := parse(text, today):
            return parsed
    raise DateError("format")


def _make(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateError("invalid") from None


def _split_time(text: str) -> tuple[str, time | None]:
    """The date part and the optional trailing ``HH:MM``."""
    if m := _TIME_RE.search(text):
        return text[: m.start()].strip().rstrip(","), time(int(m[1]), int(m[2]))
    return text, None


def _span(value: date, precision: str) -> tuple[int, ...]:
    """What is compared at a precision: a month date is in range if its month is."""
    if precision == MONTH:
        return value.year, value.month
    return value.year, value.month, value.day


def _check_range(parsed: IncidentDate, today: date, earliest: date) -> None:
    value = _span(parsed.value, parsed.precision)
    if value > _span(today, parsed.precision):
        raise DateError("future")
    if value < _span(earliest, parsed.precision):
        raise DateError("too_early")


def parse_incident_date(text: str, *, today: date, earliest: date) -> IncidentDate:
    """Parse what a reporter typed; raise :class:`DateError` with the reason if refused."""
    text = " ".join(text.split())
    if not 0 < len(text) <= 40:
        raise DateError("format")
    text, at = _split_time(text)
    parsed = _parse_date_part(text, today)
    _check_range(parsed, today, earliest)
    if parsed.precision == MONTH:
        return parsed
    return IncidentDate(parsed.value, DAY, at)
