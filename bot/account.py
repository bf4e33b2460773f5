"""A reporter's own data, as far as it is not the intake's: erasing the conversation (the
chat's messages go; a content-free custody entry says so). Deleting all of it is
:func:`bot.intake.delete_reporter_data`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import custody, intake
from db.models import Reporter, Tip


@dataclass(frozen=True, slots=True)
class Erasure:
    """What to erase: the chat's messages from ``start`` on (None: none Telegram still lets
    the bot delete), and whether the reference named is one of the reporter's reports."""

    start: int | None
    own_report: bool


async def erase_conversation(
    session: AsyncSession, reporter: Reporter, *, actor: str, reference: str, up_to: int
) -> Erasure:
    """Forget where the conversation is (its messages are deleted after the commit) and
    record the erasure, for the report ``reference`` if it is the reporter's; ``up_to``
    is the message the erasure was asked from."""
    tip_id = (
        await session.execute(
            select(Tip.id).where(Tip.reference == reference, Tip.reporter_id == reporter.id)
        )
    ).scalar_one_or_none()
    start = await intake.erase_start(session, reporter.id)
    await intake.forget_chat_messages(session, reporter)
    await custody.append(
        session,
        actor=actor,
        action="conversation_erased",
        tip_id=tip_id,
        details={"from_message": start or 0, "to_message": up_to},
    )
    return Erasure(start, tip_id is not None)
