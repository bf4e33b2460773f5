"""The moderation service on a real database (SQLite and PostgreSQL), without Telegram:
a card's decisions (versions, confirmation, conflicts), verdicts and their undo, bans, and
questions to reporters, from the moderator's reply to the reporter's answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot import moderation, outbox
from bot.moderation import Belongs, Conflict, Decided, Decision, NoteKind, Refused, Shown
from db.engine import SessionFactory, session_factory, transaction
from db.models import (
    OUTBOX_CANCELLED,
    OUTBOX_PENDING,
    TIP_DUPLICATE,
    TIP_IN_REVIEW,
    TIP_NEEDS_INFO,
    TIP_QUARANTINED,
    TIP_REJECTED,
    TIP_SUBMITTED,
    TIP_VERIFIED,
    CustodyEntry,
    GroupMessage,
    OutboxMessage,
    Reporter,
    Tip,
    TipNote,
)
from tests.builders import BuiltTip, submit_tip

OLENA = moderation.Moderator(id=42, name="Olena")
TARAS = moderation.Moderator(id=43, name="Taras")
T = TypeVar("T")


class World:
    """Two reporters: P with three submitted tips, Q with one."""

    def __init__(self, sessions: SessionFactory, tips: list[BuiltTip]) -> None:
        self.sessions = sessions
        self.tips = tips

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with transaction(self.sessions) as session:
            return await work(session)

    async def tip(self, tip_id: int) -> Tip:
        async with self.sessions() as session:
            tip = await session.get(Tip, tip_id)
        assert tip is not None
        return tip

    async def decide(
        self, tip_id: int, action: str, moderator: moderation.Moderator = OLENA, **kwargs: Any
    ) -> Decided:
        version = kwargs.pop("version", None)
        if version is None:
            version = (await self.tip(tip_id)).version
        decision = Decision(action, version, **kwargs)

        async def work(session: AsyncSession) -> Decided | None:
            return await moderation.decide(session, tip_id, decision, moderator, notify=True)

        decided = await self.run(work)
        assert decided is not None
        return decided

    async def change(self, tip_id: int, **values: Any) -> None:
        async def work(session: AsyncSession) -> None:
            tip = await session.get(Tip, tip_id)
            assert tip is not None
            for name, value in values.items():
                setattr(tip, name, value)

        await self.run(work)

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.execute(select(model).where(*where))).scalars())

    async def actions(self, tip_id: int) -> list[str]:
        entries = await self.rows(CustodyEntry, CustodyEntry.tip_id == tip_id)
        return [entry.action for entry in sorted(entries, key=lambda entry: entry.seq)]


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> World:
    from bot.media import MediaStore

    sessions = session_factory(engine)
    store = MediaStore(tmp_path / "media")
    store.prepare()
    tips = [
        await submit_tip(sessions, store, files=[]),
        await submit_tip(sessions, store, files=[]),
        await submit_tip(sessions, store, files=[]),
        await submit_tip(sessions, store, pseudonym="q" * 64, files=[]),
    ]
    return World(sessions, tips)


# ---------------------------------------------------------------------------- decisions


async def test_a_decision_on_the_current_version_applies(world: World) -> None:
    tip_id = world.tips[0].id
    before = (await world.tip(tip_id)).version
    decided = await world.decide(tip_id, "take")
    assert (decided.done, decided.problem, decided.confirm) == ("take", None, False)
    tip = await world.tip(tip_id)
    assert (tip.status, tip.assignee_id, tip.assignee_name) == (TIP_IN_REVIEW, 42, "Olena")
    assert tip.version == before + 1
    assert (tip.last_action, tip.last_actor_name) == ("taken", "Olena")
    assert (await world.actions(tip_id))[-1] == "taken"


async def test_a_decision_on_a_stale_card_is_a_conflict_and_changes_nothing(world: World) -> None:
    tip_id = world.tips[0].id
    seen = (await world.tip(tip_id)).version
    await world.decide(tip_id, "urgent", arg="1", version=seen, moderator=TARAS)
    decided = await world.decide(tip_id, "verify", version=seen)
    assert isinstance(decided.problem, Conflict)
    assert decided.problem.tip.last_actor_name == "Taras"
    assert decided.done is None
    tip = await world.tip(tip_id)
    assert tip.status == TIP_SUBMITTED
    assert tip.urgent is True
    assert (await world.actions(tip_id))[-1] == "urgent_on"


async def test_of_two_presses_on_one_version_exactly_one_applies(world: World) -> None:
    tip_id = world.tips[0].id
    seen = (await world.tip(tip_id)).version
    first = await world.decide(tip_id, "reject", arg="spam", version=seen, moderator=TARAS)
    second = await world.decide(tip_id, "verify", version=seen)
    assert first.done == "reject"
    assert isinstance(second.problem, Conflict)
    tip = await world.tip(tip_id)
    assert (tip.status, tip.reject_reason) == (TIP_REJECTED, "spam")


async def test_someone_elses_tip_asks_for_confirmation_first(world: World) -> None:
    tip_id = world.tips[0].id
    await world.decide(tip_id, "take", moderator=TARAS)
    asked = await world.decide(tip_id, "verify")
    assert asked.confirm
    assert asked.done is None
    assert (await world.tip(tip_id)).status == TIP_IN_REVIEW
    confirmed = await world.decide(tip_id, "verify", force=True)
    assert confirmed.done == "verify"
    tip = await world.tip(tip_id)
    assert tip.status == TIP_VERIFIED
    assert tip.assignee_name == "Taras"  # the verdict leaves the tip with who had it


async def test_what_was_done_is_named_for_the_toast(world: World) -> None:
    tip_id = world.tips[0].id
    assert (await world.decide(tip_id, "urgent", arg="1")).done == "urgent-on"
    assert (await world.decide(tip_id, "urgent", arg="0")).done == "urgent-off"
    untaken = await world.decide(tip_id, "release")
    assert isinstance(untaken.problem, Refused)
    assert untaken.problem.reason == "not-taken"
    bad = await world.decide(tip_id, "reject", arg="because")
    assert isinstance(bad.problem, Refused)
    assert bad.problem.reason == "bad-reason"


async def test_a_decision_on_no_tip_is_none(world: World) -> None:
    async def work(session: AsyncSession) -> Decided | None:
        return await moderation.decide(session, 999_999, Decision("take", 1), OLENA, notify=False)

    assert await world.run(work) is None


async def test_a_duplicate_needs_a_submitted_original_other_than_itself(world: World) -> None:
    tip_id, original = world.tips[0].id, world.tips[1]
    unknown = await world.decide(tip_id, "dup", original_id=999_999)
    assert isinstance(unknown.problem, Refused)
    assert unknown.problem.reason == "duplicate-unknown"
    itself = await world.decide(tip_id, "dup", original_id=tip_id)
    assert isinstance(itself.problem, Refused)
    assert itself.problem.reason == "duplicate-of-itself"
    decided = await world.decide(tip_id, "dup", original_id=original.id)
    assert decided.done == "dup"
    tip = await world.tip(tip_id)
    assert (tip.status, tip.duplicate_of_id) == (TIP_DUPLICATE, original.id)


# ---------------------------------------------------------------------------- verdicts


async def test_a_verdict_tells_the_reporter_only_after_the_minute_to_undo(world: World) -> None:
    tip_id = world.tips[0].id
    await world.change(tip_id, notify_reviewed=True)
    await world.decide(tip_id, "verify")
    notices = await world.rows(OutboxMessage, OutboxMessage.tip_id == tip_id)
    kinds = {row.kind: row for row in notices}
    assert set(kinds) >= {outbox.NOTICE, moderation.REDRAW}
    notice = kinds[outbox.NOTICE]
    assert notice.next_attempt_at - notice.created_at == moderation.UNDO_WINDOW


async def test_an_undo_within_the_minute_restores_the_tip_and_cancels_the_notice(
    world: World,
) -> None:
    tip_id = world.tips[0].id
    await world.change(tip_id, notify_reviewed=True)
    await world.decide(tip_id, "verify")
    undone = await world.decide(tip_id, "undo")
    assert (undone.done, undone.result) == ("undo", "verified")
    tip = await world.tip(tip_id)
    # Olena had not taken it: the verdict's own assignment goes with it.
    assert (tip.status, tip.assignee_id, tip.reviewed_at) == (TIP_SUBMITTED, None, None)
    notice = await world.rows(
        OutboxMessage, OutboxMessage.tip_id == tip_id, OutboxMessage.kind == outbox.NOTICE
    )
    assert [row.status for row in notice] == [OUTBOX_CANCELLED]
    assert (await world.actions(tip_id))[-2:] == ["verified", "verdict_undone"]


async def test_an_undo_after_the_minute_is_refused_and_reopen_takes_a_reason(
    world: World,
) -> None:
    tip_id = world.tips[0].id
    await world.decide(tip_id, "take")
    await world.decide(tip_id, "reject", arg="spam")
    past = (await world.tip(tip_id)).last_action_at
    assert past is not None
    await world.change(tip_id, last_action_at=past - moderation.UNDO_WINDOW - timedelta(seconds=1))
    late = await world.decide(tip_id, "undo")
    assert isinstance(late.problem, Refused)
    assert late.problem.reason == "undo-expired"
    assert (await world.tip(tip_id)).status == TIP_REJECTED
    bad = await world.decide(tip_id, "reopen", arg="whim")
    assert isinstance(bad.problem, Refused)
    assert bad.problem.reason == "bad-reason"
    reopened = await world.decide(tip_id, "reopen", arg="mistake")
    assert reopened.done == "reopen"
    tip = await world.tip(tip_id)
    assert (tip.status, tip.reject_reason, tip.assignee_id) == (TIP_IN_REVIEW, None, 42)


async def test_a_verdict_closes_open_questions_and_an_undo_opens_them_again(
    world: World,
) -> None:
    tip_id = world.tips[0].id
    await world.change(tip_id, contact_allowed=True)
    await world.run(lambda s: moderation.ask_reporter(s, tip_id, OLENA, "When?"))
    assert (await world.tip(tip_id)).status == TIP_NEEDS_INFO
    await world.decide(tip_id, "verify")
    questions = await world.rows(TipNote, TipNote.tip_id == tip_id)
    assert [note.is_open for note in questions] == [False]
    await world.decide(tip_id, "undo")
    questions = await world.rows(TipNote, TipNote.tip_id == tip_id)
    assert [note.is_open for note in questions] == [True]
    assert (await world.tip(tip_id)).status == TIP_NEEDS_INFO


# ---------------------------------------------------------------------------- bans


async def test_a_ban_quarantines_the_reporters_untaken_tips_and_names_their_cards(
    world: World,
) -> None:
    first, second, third, other = (tip.id for tip in world.tips)
    await world.decide(second, "take", moderator=TARAS)
    await world.run(lambda s: moderation.card_posted(s, third, -100, 7))
    await world.run(lambda s: moderation.card_posted(s, other, -100, 8))
    banned = await world.decide(first, "ban")
    assert banned.done == "ban"
    # Untaken: the pressed one too.
    assert banned.result == [world.tips[0].reference, world.tips[2].reference]
    assert banned.others == [third]  # the reporter's other tips with a card
    assert (await world.tip(second)).status == TIP_IN_REVIEW  # in someone's hands
    assert (await world.tip(third)).status == TIP_QUARANTINED
    assert (await world.tip(other)).status == TIP_SUBMITTED  # another reporter
    reporters = await world.rows(Reporter, Reporter.banned_at.is_not(None))
    assert [reporter.banned_by for reporter in reporters] == ["Olena"]
    again = await world.decide(first, "ban")
    assert isinstance(again.problem, Refused)
    assert again.problem.reason == "already-banned"
    assert again.others == []
    quarantined = await world.decide(third, "verify")
    assert isinstance(quarantined.problem, Refused)
    assert quarantined.problem.reason == "quarantined"


async def test_lifting_a_ban_restores_the_quarantined_and_presents_the_unseen(
    world: World,
) -> None:
    first, _, third, _ = (tip.id for tip in world.tips)
    await world.decide(first, "ban")
    # /unban names a tip without a card's version.
    lifted = await world.decide(first, "unban", version=None, force=True)
    assert lifted.done == "unban"
    assert sorted(lifted.result) == sorted(tip.reference for tip in world.tips[:3])
    assert (await world.tip(third)).status == TIP_SUBMITTED
    cards = await world.rows(
        OutboxMessage, OutboxMessage.kind == outbox.CARD, OutboxMessage.tip_id == third
    )
    assert [row.status for row in cards][-1] == OUTBOX_PENDING
    again = await world.decide(first, "unban", version=None, force=True)
    assert isinstance(again.problem, Refused)
    assert again.problem.reason == "not-banned"


async def test_an_undo_while_the_reporter_is_banned_quarantines(world: World) -> None:
    first, second, _, _ = (tip.id for tip in world.tips)
    await world.decide(first, "verify")
    await world.decide(second, "ban")
    await world.decide(first, "undo")
    assert (await world.tip(first)).status == TIP_QUARANTINED


# ---------------------------------------------------------------------------- questions


async def test_a_question_needs_the_reporters_consent_to_contact(world: World) -> None:
    tip_id = world.tips[0].id
    with pytest.raises(Refused) as refused:
        await world.run(lambda s: moderation.ask_reporter(s, tip_id, OLENA, "When?"))
    assert refused.value.reason == "no-contact"
    assert refused.value.tip is not None  # for the refusal's words (its reference)
    assert await world.rows(TipNote, TipNote.tip_id == tip_id) == []
    with pytest.raises(Refused):
        await world.run(lambda s: moderation.prompt_target(s, tip_id, Shown.ASK))
    await world.change(tip_id, contact_allowed=True)
    await world.run(lambda s: moderation.ask_reporter(s, tip_id, OLENA, "When?"))
    (question,) = await world.rows(TipNote, TipNote.tip_id == tip_id)
    assert (question.kind, question.is_open, question.text) == (NoteKind.QUESTION, True, "When?")
    queued = await world.rows(
        OutboxMessage, OutboxMessage.kind == outbox.QUESTION, OutboxMessage.tip_id == tip_id
    )
    assert [row.payload for row in queued] == [{"note": question.id}]


async def test_the_reporters_answer_closes_the_question(world: World) -> None:
    tip_id = world.tips[0].id
    await world.change(tip_id, contact_allowed=True)
    await world.run(lambda s: moderation.ask_reporter(s, tip_id, OLENA, "When?"))

    async def answer(session: AsyncSession) -> None:
        tip = await session.get(Tip, tip_id)
        assert tip is not None
        reporter = await session.get(Reporter, tip.reporter_id)
        assert reporter is not None
        question = await moderation.open_question(session, reporter.id)
        assert question is not None
        await moderation.add_from_reporter(
            session,
            tip,
            kind=NoteKind.ANSWER,
            text="At noon",
            media_id=None,
            actor="reporter:x",
            question=question,
        )

    await world.run(answer)
    notes = await world.rows(TipNote, TipNote.tip_id == tip_id)
    assert sorted((note.kind, note.is_open) for note in notes) == [
        (NoteKind.ANSWER, False),
        (NoteKind.QUESTION, False),
    ]
    assert (await world.tip(tip_id)).status == TIP_SUBMITTED


async def test_a_reply_kept_under_a_card_is_its_moderators_to_send(world: World) -> None:
    tip_id = world.tips[0].id
    await world.change(tip_id, contact_allowed=True)
    offered = await world.run(lambda s: moderation.offer_question(s, tip_id, OLENA, "Where?"))
    assert offered is not None
    _, note = offered
    assert note.kind == NoteKind.PENDING
    with pytest.raises(Refused) as refused:
        await world.run(lambda s: moderation.send_pending_question(s, tip_id, note.id, TARAS))
    assert refused.value.reason == "not-yours"
    with pytest.raises(Refused) as refused:
        await world.run(lambda s: moderation.send_pending_question(s, tip_id + 1, note.id, OLENA))
    assert refused.value.reason == "stale"
    await world.run(lambda s: moderation.send_pending_question(s, tip_id, note.id, OLENA))
    (sent,) = await world.rows(TipNote, TipNote.id == note.id)
    assert (sent.kind, sent.is_open) == (NoteKind.QUESTION, True)
    with pytest.raises(Refused) as refused:  # sent already: the offer's buttons are stale
        await world.run(lambda s: moderation.drop_pending_question(s, tip_id, note.id, OLENA))
    assert refused.value.reason == "stale"


async def test_a_kept_reply_becomes_a_note_or_is_forgotten(world: World) -> None:
    tip_id = world.tips[0].id
    await world.change(tip_id, contact_allowed=True)
    version = (await world.tip(tip_id)).version
    kept = await world.run(lambda s: moderation.offer_question(s, tip_id, OLENA, "For us"))
    dropped = await world.run(lambda s: moderation.offer_question(s, tip_id, OLENA, "Never mind"))
    assert kept is not None
    assert dropped is not None
    await world.run(lambda s: moderation.keep_pending_as_note(s, tip_id, kept[1].id, OLENA))
    await world.run(lambda s: moderation.drop_pending_question(s, tip_id, dropped[1].id, OLENA))
    notes = await world.rows(TipNote, TipNote.tip_id == tip_id)
    assert [(note.kind, note.text) for note in notes] == [(NoteKind.INTERNAL, "For us")]
    assert (await world.tip(tip_id)).version == version  # a note is no decision
    assert (await world.actions(tip_id))[-1] == "note_added"


async def test_no_question_is_offered_where_none_could_be_sent(world: World) -> None:
    tip_id = world.tips[0].id  # the reporter did not allow contact
    assert await world.run(lambda s: moderation.offer_question(s, tip_id, OLENA, "?")) is None
    await world.change(tip_id, contact_allowed=True)
    await world.decide(tip_id, "verify")
    assert await world.run(lambda s: moderation.offer_question(s, tip_id, OLENA, "?")) is None


async def test_a_duplicate_named_by_reference(world: World) -> None:
    tip_id, original = world.tips[0].id, world.tips[3]
    with pytest.raises(Refused) as refused:
        await world.run(
            lambda s: moderation.duplicate_by_reference(s, tip_id, "NONE-XXXX", OLENA, notify=False)
        )
    assert refused.value.reason == "no-such-reference"
    await world.run(
        lambda s: moderation.duplicate_by_reference(
            s, tip_id, original.reference, OLENA, notify=False
        )
    )
    assert (await world.tip(tip_id)).duplicate_of_id == original.id
    with pytest.raises(Conflict):  # decided already
        await world.run(
            lambda s: moderation.duplicate_by_reference(
                s, tip_id, original.reference, OLENA, notify=False
            )
        )


# ---------------------------------------------------------------------------- the group's messages


async def test_whose_message_a_press_is_on(world: World) -> None:
    first, second = world.tips[0].id, world.tips[1].id
    await world.run(lambda s: moderation.card_posted(s, first, -100, 10))
    await world.run(
        lambda s: moderation.remember_shown(
            s, -100, [11, 12], second, Shown.VIEW, viewer=OLENA, view="media"
        )
    )

    async def belongs(tip_id: int, where: tuple[int, int] | None) -> Belongs:
        async with world.sessions() as session:
            return await moderation.message_belongs(session, tip_id, where)

    assert await belongs(first, (-100, 10)) is Belongs.THIS_TIP
    assert await belongs(first, (-100, 11)) is Belongs.OTHER_TIP
    assert await belongs(second, (-100, 12)) is Belongs.THIS_TIP
    assert await belongs(first, (-100, 99)) is Belongs.UNKNOWN
    assert await belongs(first, None) is Belongs.UNKNOWN
    assert await belongs(999_999, (-100, 10)) is Belongs.NO_TIP
    shown = await world.rows(GroupMessage, GroupMessage.tip_id == second)
    assert sorted((row.message_id, row.kind) for row in shown) == [(11, "view"), (12, "view")]
    assert (await world.actions(second))[-1] == "evidence_viewed"
    tip = await world.tip(first)
    assert (tip.card_chat_id, tip.card_message_id) == (-100, 10)
