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

DAY = "day"
MONTH = "month"
UNKNOWN = "unknown"


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


def _strip_year_marker(word: str) -> str:
    for suffix in ("р.", "г.", "р", "г"):
        if word[: -len(suffix)].isdigit() and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _month_from_word(word: str) -> int | None:
    word = word.casefold().strip(".,")
    for stem, month in _MONTH_STEMS:
        if word.startswith(stem):
            return month
    return None


def _year(text: str) -> int:
    value = int(text)
    return 2000 + value if len(text) == 2 else value


def _parse_date_part(text: str, today: date) -> IncidentDate:
    text = text.strip().strip(".,")
    days_ago = _RELATIVE_DAYS.get(text.casefold().strip(_WORD_PUNCTUATION).strip())
    if days_ago is not None:
        return IncidentDate(date.fromordinal(today.toordinal() - days_ago), DAY)
    if m := re.fullmatch(rf"(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})", text):
        return IncidentDate(_make(int(m[1]), int(m[2]), int(m[3])), DAY)
    if m := re.fullmatch(rf"(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}(\d{{4}}|\d{{2}})", text):
        return IncidentDate(_make(_year(m[3]), int(m[2]), int(m[1])), DAY)
    if m := re.fullmatch(rf"(\d{{4}}){_SEP}(\d{{1,2}})", text):
        return IncidentDate(_make(int(m[1]), int(m[2]), 1), MONTH)
    if m := re.fullmatch(rf"(\d{{1,2}}){_SEP}(\d{{4}})", text):
        return IncidentDate(_make(int(m[2]), int(m[1]), 1), MONTH)
    if m := re.fullmatch(rf"(\d{{1,2}}){_SEP}(\d{{1,2}})", text):
        return IncidentDate(_make(today.year, int(m[2]), int(m[1])), DAY)
    words = [_strip_year_marker(w) for w in text.split() if w.casefold() not in _YEAR_WORDS]
    words = [w for w in words if w]
    if len(words) == 3 and words[0].isdigit() and words[2].isdigit():
        month = _month_from_word(words[1])
        if month:
            return IncidentDate(_make(_year(words[2]), month, int(words[0])), DAY)
    if len(words) == 2 and words[1].isdigit() and len(words[1]) == 4:
        month = _month_from_word(words[0])
        if month:
            return IncidentDate(_make(int(words[1]), month, 1), MONTH)
    if len(words) == 2 and words[0].isdigit():
        month = _month_from_word(words[1])
        if month:
            return IncidentDate(_make(today.year, month, int(words[0])), DAY)
    raise DateError("format")


def _make(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateError("invalid") from None


def parse_incident_date(text: str, *, today: date, earliest: date) -> IncidentDate:
    """Parse what a reporter typed; raise :class:`DateError` with the reason if refused."""
    text = " ".join(text.split())
    if not text or len(text) > 40:
        raise DateError("format")
    at: time | None = None
    if m := _TIME_RE.search(text):
        at = time(int(m[1]), int(m[2]))
        text = text[: m.start()].strip().rstrip(",")
    parsed = _parse_date_part(text, today)
    if parsed.precision == MONTH:
        if (parsed.value.year, parsed.value.month) > (today.year, today.month):
            raise DateError("future")
        if (parsed.value.year, parsed.value.month) < (earliest.year, earliest.month):
            raise DateError("too_early")
        return parsed
    if parsed.value > today:
        raise DateError("future")
    if parsed.value < earliest:
        raise DateError("too_early")
    return IncidentDate(parsed.value, DAY, at)
