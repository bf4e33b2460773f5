"""Typed incident dates: every accepted form, and every reason for refusal."""

from datetime import date, time

import pytest

from bot.dates import DAY, MONTH, DateError, parse_incident_date

TODAY = date(2026, 11, 24)
EARLIEST = date(2014, 2, 20)


def parse(text: str):
    return parse_incident_date(text, today=TODAY, earliest=EARLIEST)


@pytest.mark.parametrize(
    ("text", "value", "precision"),
    [
        ("24.02.2022", date(2022, 2, 24), DAY),
        ("2022-02-24", date(2022, 2, 24), DAY),
        ("24/02/2022", date(2022, 2, 24), DAY),
        ("24-2-2022", date(2022, 2, 24), DAY),
        ("24.02.22", date(2022, 2, 24), DAY),
        ("24.02", date(2026, 2, 24), DAY),
        ("02.2022", date(2022, 2, 1), MONTH),
        ("2022-02", date(2022, 2, 1), MONTH),
        ("24 лютого 2022", date(2022, 2, 24), DAY),
        ("24 февраля 2022 г.", date(2022, 2, 24), DAY),
        ("березень 2022", date(2022, 3, 1), MONTH),
        ("March 2022", date(2022, 3, 1), MONTH),
        ("3 листопада", date(2026, 11, 3), DAY),
        ("  24.02.2022  ", date(2022, 2, 24), DAY),
    ],
)
def test_accepted_forms(text: str, value: date, precision: str) -> None:
    parsed = parse(text)
    assert (parsed.value, parsed.precision) == (value, precision)


def test_time_is_kept_with_a_day() -> None:
    assert parse("24.02.2022 05:30").time == time(5, 30)
    assert parse("24 февраля 2022 в 14:10").time == time(14, 10)
    assert parse("24.02.2022").time is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hello", "format"),
        ("", "format"),
        ("31.02.2022", "invalid"),
        ("2022-13-01", "invalid"),
        ("25.12.2026", "future"),
        ("12.2026", "future"),
        ("25.11", "future"),
        ("19.02.2014", "too_early"),
        ("01.2014", "too_early"),
        ("1" * 50, "format"),
    ],
)
def test_refusals_say_why(text: str, reason: str) -> None:
    with pytest.raises(DateError) as caught:
        parse(text)
    assert caught.value.reason == reason


def test_today_and_the_earliest_day_are_accepted() -> None:
    assert parse("24.11.2026").value == TODAY
    assert parse("20.02.2014").value == EARLIEST
    assert parse("02.2014").precision == MONTH


@pytest.mark.parametrize(
    ("text", "days_ago"),
    [
        ("сьогодні", 0),
        ("сегодня", 0),
        ("today", 0),
        ("вчора", 1),
        ("учора", 1),
        ("вчера", 1),
        ("yesterday", 1),
        ("позавчора", 2),
        ("позавчера", 2),
        ("Вчора", 1),
        ("  ВЧЕРА  ", 1),
        ("Yesterday.", 1),
        ("сьогодні!", 0),
        ("«вчора»", 1),
        ("Today,", 0),
    ],
)
def test_today_and_yesterday_in_words(text: str, days_ago: int) -> None:
    parsed = parse(text)
    assert (parsed.value, parsed.precision, parsed.time) == (
        date.fromordinal(TODAY.toordinal() - days_ago),
        DAY,
        None,
    )


def test_a_word_for_the_day_takes_a_time() -> None:
    assert parse("вчора о 05:30").time == time(5, 30)
    assert parse("сегодня в 14:10").value == TODAY
    assert parse("yesterday at 23:59").time == time(23, 59)


@pytest.mark.parametrize("text", ["yesterday-ish", "вчорашній", "todays", "вчера вечером"])
def test_only_the_words_themselves_count(text: str) -> None:
    with pytest.raises(DateError) as caught:
        parse(text)
    assert caught.value.reason == "format"


def test_yesterday_before_the_earliest_day_is_refused() -> None:
    with pytest.raises(DateError) as caught:
        parse_incident_date("вчора", today=date(2014, 2, 20), earliest=EARLIEST)
    assert caught.value.reason == "too_early"


@pytest.mark.parametrize("text", ["² лютого", "12² Feb", "1 березня ²", "²р. березня"])
def test_digits_that_are_not_decimal_are_a_format_error(text: str) -> None:
    # "²" is a digit to str.isdigit() but not a number to int(): such a text used to end
    # in a ValueError (a crash of the conversation) instead of a refusal the bot explains.
    with pytest.raises(DateError) as caught:
        parse(text)
    assert caught.value.reason == "format"


@pytest.mark.parametrize(
    ("text", "value", "precision"),
    [
        ("24 лютого 2022 р.", date(2022, 2, 24), DAY),
        ("24 лютого 2022р.", date(2022, 2, 24), DAY),
        ("лютий 2022 року", date(2022, 2, 1), MONTH),
        ("март 2022г", date(2022, 3, 1), MONTH),
        ("3 березня", date(TODAY.year, 3, 3), DAY),
    ],
)
def test_month_names_with_year_markers(text: str, value: date, precision: str) -> None:
    parsed = parse(text)
    assert (parsed.value, parsed.precision) == (value, precision)
