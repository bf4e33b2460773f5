"""The intake service (bot/intake.py) on its own, on SQLite and PostgreSQL: where an answer
leads, what each validation says, and a draft's life from its creation to its submission or
deletion. The end-to-end tests drive the same functions through the bot."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot import intake, outbox
from bot.dates import DAY, MONTH, UNKNOWN
from bot.intake import Step
from bot.media import MediaStore
from db.engine import SessionFactory, session_factory, transaction
from db.models import (
    TIP_DRAFT,
    TIP_QUARANTINED,
    TIP_SUBMITTED,
    CustodyEntry,
    Media,
    OutboxMessage,
    PendingErasure,
    Reporter,
    Tip,
    TipNote,
)

LOOKUP = "a" * 64
TODAY = date(2026, 3, 8)
EARLIEST = date(2014, 2, 20)


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return session_factory(engine)


async def _reporter(session: AsyncSession, lookup: str = LOOKUP) -> Reporter:
    return await intake.record_consent(
        session, pseudonym=lookup, chat_id_enc="sealed", language="en", name="reporter-one"
    )


async def _draft(sessions: SessionFactory) -> tuple[int, int]:
    """A consenting reporter with an open draft: their ids."""
    async with transaction(sessions) as session:
        reporter = await _reporter(session)
        tip = await intake.create_draft(session, reporter, "en")
        return reporter.id, tip.id


async def _actions(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        query = select(CustodyEntry.action).order_by(CustodyEntry.seq)
        return list((await session.execute(query)).scalars())


async def _last_details(sessions: SessionFactory) -> dict[str, object]:
    async with sessions() as session:
        query = select(CustodyEntry).order_by(CustodyEntry.seq.desc()).limit(1)
        entry = (await session.execute(query)).scalar_one()
        return dict(entry.details)


def _at(step: Step, *, from_review: bool = False) -> Tip:
    return Tip(step=step, return_to_review=from_review)


# ---------------------------------------------------------------------------- transitions


def test_an_answer_leads_where_its_step_leads() -> None:
    tip = _at(Step.CATEGORY)
    assert intake.move_on(tip, Step.DESCRIPTION) == Step.DESCRIPTION
    assert (tip.step, tip.return_to_review) == (Step.DESCRIPTION, False)


def test_a_step_opened_from_the_review_leads_back_to_it() -> None:
    tip = _at(Step.REVIEW)
    intake.go_to(tip, Step.WHEN, from_review=True)
    assert (tip.step, tip.return_to_review) == (Step.WHEN, True)
    # Back leads to the review too, not to the step before.
    assert intake.back_target(tip, Step.DESCRIPTION) == Step.REVIEW
    assert intake.move_on(tip, Step.WHERE) == Step.REVIEW
    assert (tip.step, tip.return_to_review) == (Step.REVIEW, False)
    # Edited and answered: the report goes on as usual again.
    intake.go_to(tip, Step.CONTACT)
    assert tip.return_to_review is False
    assert intake.back_target(tip, Step.EVIDENCE) == Step.EVIDENCE


def test_back_leads_to_the_step_before_or_nowhere() -> None:
    assert intake.back_target(_at(Step.WHERE), Step.WHEN) == Step.WHEN
    assert intake.back_target(_at(Step.CATEGORY), None) is None
    # At the review itself, even after an edit, Back is the step before.
    assert intake.back_target(_at(Step.REVIEW, from_review=True), Step.CONTACT) == Step.CONTACT


def test_only_known_steps_are_stored() -> None:
    tip = _at(Step.CATEGORY)
    with pytest.raises(ValueError, match="nowhere"):
        intake.go_to(tip, "nowhere")  # type: ignore[arg-type]
    assert tip.step == Step.CATEGORY
    assert [step.value for step in intake.STEPS] == [
        "category", "description", "when", "where", "who", "evidence", "contact", "review",
    ]  # fmt: skip


# ---------------------------------------------------------------------------- validation


def test_the_description_grows_within_its_limits() -> None:
    tip = _at(Step.DESCRIPTION)
    assert intake.append_description(tip, "First.", message_limit=10, total_limit=20) is None
    assert intake.append_description(tip, "Second.", message_limit=10, total_limit=20) is None
    assert tip.description == "First.\n\nSecond."
    too_long = intake.append_description(tip, "x" * 11, message_limit=10, total_limit=100)
    assert too_long == intake.TOO_LONG
    too_much = intake.append_description(tip, "Third.", message_limit=10, total_limit=20)
    assert too_much == intake.TOTAL_TOO_LONG
    assert tip.description == "First.\n\nSecond.", "a refused message changes nothing"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("24.02.2022", (date(2022, 2, 24), DAY, None)),
        ("02.2022", (date(2022, 2, 1), MONTH, None)),
        ("24.02.2022 05:30", (date(2022, 2, 24), DAY, time(5, 30))),
    ],
)
def test_a_typed_date_is_set(typed: str, expected: tuple[date, str, time | None]) -> None:
    tip = _at(Step.WHEN)
    assert intake.answer_date(tip, typed, today=TODAY, earliest=EARLIEST) is None
    assert (tip.incident_date, tip.incident_date_precision, tip.incident_time) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("soon", "format"),
        ("31.02.2022", "invalid"),
        ("09.03.2026", "future"),
        ("02.2013", "too_early"),
    ],
)
def test_a_refused_date_says_why_and_changes_nothing(typed: str, reason: str) -> None:
    tip = _at(Step.WHEN)
    assert intake.answer_date(tip, typed, today=TODAY, earliest=EARLIEST) == reason
    assert (tip.incident_date, tip.incident_date_precision) == (None, None)


def test_a_known_time_is_kept_only_with_its_day() -> None:
    tip = _at(Step.WHEN)
    intake.set_incident_date(tip, date(2022, 2, 1), MONTH, time(5, 30))
    assert tip.incident_time is None
    intake.set_incident_date(tip, None, UNKNOWN, None)
    assert intake.has_date(tip, {})


def test_typed_place_and_perpetrator_are_bounded() -> None:
    tip = _at(Step.WHERE)
    assert intake.note_place_typed(tip, "  Буча \n  Київська  ") is None
    assert tip.place_text == "Буча Київська"
    assert intake.note_place_typed(tip, "x" * (intake.PLACE_TEXT_MAX + 1)) == intake.TOO_LONG
    assert tip.place_text == "Буча Київська"
    assert intake.describe_perpetrator(tip, "  Soldiers in green  ") is None
    assert (tip.perpetrator, tip.perpetrator_text) == ("other", "Soldiers in green")
    too_long = "x" * (intake.PERPETRATOR_TEXT_MAX + 1)
    assert intake.describe_perpetrator(tip, too_long) == intake.TOO_LONG
    assert tip.perpetrator_text == "Soldiers in green"


def test_a_shared_point_must_be_on_the_globe() -> None:
    assert intake.valid_point(50.45, 30.52)
    assert intake.valid_point(-90, 180)
    assert not intake.valid_point(90.5, 30)
    assert not intake.valid_point(50, -180.1)


def test_what_must_be_answered() -> None:
    tip = _at(Step.REVIEW)
    assert not intake.has_category(tip, {})
    assert not intake.has_description(tip, {"photo": 2})
    assert not intake.has_date(tip, {})
    tip.category = "strike"
    assert intake.has_category(tip, {})
    # A voice message tells it as well as words.
    assert intake.has_description(tip, {"voice": 1})
    tip.description = "Words."
    assert intake.has_description(tip, {})


# ---------------------------------------------------------------------------- lifecycle


async def test_a_new_draft_starts_at_the_first_step(sessions: SessionFactory) -> None:
    reporter_id, tip_id = await _draft(sessions)
    async with transaction(sessions) as session:
        reporter, draft = await intake.find_reporter_and_draft(session, LOOKUP)
        assert reporter is not None
        assert reporter.id == reporter_id
        assert draft is not None
        assert draft.id == tip_id
        assert (draft.status, draft.step, draft.return_to_review) == (
            TIP_DRAFT,
            Step.CATEGORY,
            False,
        )
        assert draft.step == intake.FIRST_STEP
        assert draft.reference
    assert await _actions(sessions) == ["consent", "draft_created"]
    assert (await _last_details(sessions))["reference"] == draft.reference


async def test_the_step_is_stored_with_the_draft(sessions: SessionFactory) -> None:
    _, tip_id = await _draft(sessions)
    async with transaction(sessions) as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        intake.go_to(tip, Step.EVIDENCE, from_review=True)
    async with transaction(sessions) as session:
        _, draft = await intake.find_reporter_and_draft(session, LOOKUP)
        assert draft is not None
        assert (draft.step, draft.return_to_review) == ("evidence", True)


async def test_submitting_queues_the_card_and_closes_the_draft(sessions: SessionFactory) -> None:
    reporter_id, tip_id = await _draft(sessions)
    since = intake.utcnow() - timedelta(days=1)
    async with transaction(sessions) as session:
        reporter, tip = await intake.find_reporter_and_draft(session, LOOKUP)
        assert reporter is not None
        assert tip is not None
        intake.go_to(tip, Step.REVIEW)
        await intake.submit(session, tip, reporter, duplicate_distance=0)
    async with transaction(sessions) as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        assert (tip.status, tip.step, tip.return_to_review) == (TIP_SUBMITTED, None, False)
        assert tip.submitted_at is not None
        kinds = (await session.execute(select(OutboxMessage.kind))).scalars().all()
        assert list(kinds) == [outbox.CARD]
        assert await intake.submissions_since(session, reporter_id, since) == 1
        # The reporter has no open draft any more.
        _, draft = await intake.find_reporter_and_draft(session, LOOKUP)
        assert draft is None
    assert (await _actions(sessions))[-1] == "submitted"
    assert (await _last_details(sessions))["quarantined"] is False


async def test_a_banned_reporters_report_is_quarantined(sessions: SessionFactory) -> None:
    _, tip_id = await _draft(sessions)
    async with transaction(sessions) as session:
        reporter, tip = await intake.find_reporter_and_draft(session, LOOKUP)
        assert reporter is not None
        assert tip is not None
        reporter.banned_at = datetime.now(UTC)
        await intake.submit(session, tip, reporter, duplicate_distance=0)
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        assert tip.status == TIP_QUARANTINED
        count = select(func.count(OutboxMessage.id))
        assert (await session.execute(count)).scalar_one() == 0, "the moderators see nothing"
    assert (await _last_details(sessions))["quarantined"] is True


async def test_a_discarded_draft_leaves_only_a_content_free_entry(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    _, tip_id = await _draft(sessions)
    async with transaction(sessions) as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        tip.description = "Words that must go."
        new = intake.NewMedia(
            kind="photo",
            file_id="file-1",
            file_unique_id="unique-1",
            media_group_id=None,
            file_name=None,
            declared_mime="image/jpeg",
            size=10,
            recompressed=True,
            telegram_date=None,
            received_at=intake.utcnow(),
        )
        media = await intake.add_media(
            session, tip, new, None, actor="reporter:x", store=MediaStore(tmp_path)
        )
        media.sha256, media.storage_key = "b" * 64, "bb/bb/" + "b" * 64
        assert await intake.media_counts(session, tip.id) == {"photo": 1}
    async with transaction(sessions) as session:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        await intake.discard_draft(session, tip, actor="reporter:x", reason="cancelled")
    async with sessions() as session:
        assert await session.get(Tip, tip_id) is None
        assert (await session.execute(select(func.count(Media.id)))).scalar_one() == 0
        # Its original is owed an erasure until it is gone from the disk.
        owed = (await session.execute(select(PendingErasure.sha256))).scalars().all()
        assert list(owed) == ["b" * 64]
    assert (await _actions(sessions))[-2:] == ["file_received", "draft_deleted"]
    details = await _last_details(sessions)
    assert details == {"reference": details["reference"], "files": 1, "reason": "cancelled"}


async def test_the_daily_count_is_of_submitted_reports(sessions: SessionFactory) -> None:
    reporter_id, _ = await _draft(sessions)
    since = intake.utcnow() - timedelta(days=1)
    async with sessions() as session:
        assert await intake.submissions_since(session, reporter_id, since) == 0, (
            "drafts do not count"
        )


async def test_a_file_added_to_a_sent_report_waits_for_its_album(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    _, tip_id = await _draft(sessions)
    async with transaction(sessions) as session:
        reporter, tip = await intake.find_reporter_and_draft(session, LOOKUP)
        assert reporter is not None
        assert tip is not None
        await intake.submit(session, tip, reporter, duplicate_distance=0)
    async with transaction(sessions) as session:
        tip = await intake.find_tip(session, tip_id)
        assert tip is not None
        new = intake.NewMedia(
            kind="document",
            file_id="file-2",
            file_unique_id="unique-2",
            media_group_id="album-1",
            file_name=None,
            declared_mime="application/pdf",
            size=10,
            recompressed=False,
            telegram_date=None,
            received_at=intake.utcnow(),
            caption="The street sign.",
            origin="addition",
        )
        await intake.relay_media(
            session,
            tip,
            new,
            None,
            question_id=None,
            actor="reporter:x",
            store=MediaStore(tmp_path),
            gather=timedelta(minutes=1),
        )
    async with sessions() as session:
        note = (await session.execute(select(TipNote))).scalar_one()
        assert (note.tip_id, note.kind, note.text) == (tip_id, "addition", "The street sign.")
        media = (await session.execute(select(Media))).scalar_one()
        assert (note.media_id, media.origin) == (media.id, "addition")
        row = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.kind == outbox.ANSWER))
        ).scalar_one()
        assert row.next_attempt_at is not None
        assert row.next_attempt_at > intake.utcnow(), "held back for the rest of its album"
    async with transaction(sessions) as session:
        released = await intake.release_relayed(session, tip_id)
        assert released is not None
        assert released.id == tip_id
    async with sessions() as session:
        row = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.kind == outbox.ANSWER))
        ).scalar_one()
        assert row.next_attempt_at is not None
        assert row.next_attempt_at <= intake.utcnow(), "due now: the album is complete"
        assert await intake.find_tip(session, 10_000) is None
