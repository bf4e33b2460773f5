"""Times, dates and times of day in exports are formatted by the database (SQLite slices its
stored text, PostgreSQL uses ``to_char``): they must be exactly what Python's ``isoformat``
makes of the same values — truncated, never rounded, in UTC — on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.export.filters import STATUSES, ExportFilters, Profile
from bot.export.rows import iter_tip_rows
from db.engine import session_factory, transaction
from db.models import Reporter, Tip

KYIV = timezone(timedelta(hours=2))
MOMENTS = [
    datetime(2024, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC),  # never rounded up
    datetime(2024, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
    datetime(2024, 3, 1, 0, 30, tzinfo=KYIV),  # the previous day in UTC
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
]
DAYS = [date(2024, 2, 29), date(1999, 12, 31), None, date(2024, 1, 1), date(2023, 5, 1)]
CLOCKS = [time(23, 59, 59, 999_999), time(0, 0), time(5, 40, 30), None, time(12, 1)]


def iso_seconds(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"


def iso_day(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).date().isoformat()


async def test_database_formatting_is_pythons(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with transaction(sessions) as session:
        reporter = Reporter(pseudonym="t" * 64, language="uk")
        session.add(reporter)
        for n, (moment, day, clock) in enumerate(zip(MOMENTS, DAYS, CLOCKS, strict=True)):
            session.add(
                Tip(
                    reference=f"TIME-{n:04d}",
                    reporter=reporter,
                    status="verified" if n % 2 else "rejected",
                    language="uk",
                    submitted_at=moment,
                    reviewed_at=None if n == 3 else moment + timedelta(hours=n),
                    purged_at=moment if n == 4 else None,
                    incident_date=day,
                    incident_time=clock,
                )
            )
    async with sessions() as session:
        tips = {tip.reference: tip for tip in (await session.execute(select(Tip))).scalars().all()}
    everything = ExportFilters(statuses=STATUSES)
    investigator = [
        r async for r in iter_tip_rows(sessions, everything, Profile.INVESTIGATOR, batch=2)
    ]
    assert len(investigator) == len(MOMENTS)
    for record in investigator:
        tip = tips[record["reference"]]
        assert record["submitted_at"] == iso_seconds(tip.submitted_at)
        assert record["reviewed_at"] == iso_seconds(tip.reviewed_at)
        assert record["purged_at"] == iso_seconds(tip.purged_at)
        expected_day = None if tip.incident_date is None else tip.incident_date.isoformat()
        assert record["incident_date"] == expected_day
        expected_clock = (
            None if tip.incident_time is None else tip.incident_time.isoformat(timespec="minutes")
        )
        assert record["incident_time"] == expected_clock
    assert investigator[0]["submitted_at"] == "2024-03-01T23:59:59Z"
    assert investigator[2]["submitted_at"] == "2024-02-29T22:30:00Z"
    assert investigator[0]["incident_time"] == "23:59"
    public = [r async for r in iter_tip_rows(sessions, everything, Profile.PUBLIC)]
    for record, full in zip(public, investigator, strict=True):
        tip = tips[full["reference"]]
        assert record["submitted_date"] == iso_day(tip.submitted_at)
        assert record["reviewed_date"] == iso_day(tip.reviewed_at)
        assert record["incident_date"] == full["incident_date"]
    assert public[2]["submitted_date"] == "2024-02-29"
