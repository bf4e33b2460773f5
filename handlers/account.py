"""A reporter's own data: my reports, erasing the conversation, and deleting my data."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import ReplyKeyboardRemove, Update
from telegram.error import BadRequest, Forbidden

from bot import custody, intake
from bot.i18n import Html
from db.engine import transaction
from db.models import Tip
from handlers import render
from handlers.base import Ctx, Screen, Services, answer, button, handler, keyboard, person, send
from handlers.intake import State, consent_first, load_state, note_message
from handlers.replies import Reply, deliver

log = logging.getLogger(__name__)


async def my_reports_reply(session: AsyncSession, services: Services, state: State) -> Reply:
    assert state.reporter is not None
    tips = await intake.list_tips(session, state.reporter.id)
    return Reply(send=[render.my_reports(services, state.lang, tips)])


@handler("account.my_reports")
async def my_reports_command(update: Update, context: Ctx) -> None:
    services = context.services
    who = person(update, services)
    if who is None:
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        if not state.consented:
            reply = consent_first(services, state.lang)
        else:
            await note_message(session, state, update.message)
            reply = await my_reports_reply(session, services, state)
    await deliver(update, context, reply)


# ---------------------------------------------------------------------------- erasing


async def erase_messages(context: Ctx, chat_id: int, message_ids: Sequence[int]) -> None:
    """Delete these messages of a private chat (both sides), 100 at a time; ids that are
    gone or too old are skipped by Telegram, and a refused batch is retried one by one."""
    for start in range(0, len(message_ids), 100):
        batch = list(message_ids[start : start + 100])
        try:
            await context.bot.delete_messages(chat_id, batch)
        except BadRequest:
            for message_id in batch:
                with contextlib.suppress(BadRequest):
                    await context.bot.delete_message(chat_id, message_id)
        except Forbidden:
            return


@handler("account.erase")
async def erase_button(update: Update, context: Ctx) -> None:
    """``e:<reference>`` (after a submission) or ``e:-`` (from Privacy & safety)."""
    services = context.services
    query = update.callback_query
    who = person(update, services)
    if query is None or who is None or not query.data or query.message is None:
        return
    reference = query.data.split(":", 1)[1] if ":" in query.data else "-"
    t = services.catalog.t
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        if not state.consented or state.reporter is None:
            reply = consent_first(services, state.lang)
            ids: list[int] = []
        else:
            tip_id: int | None = None
            if reference != "-":
                tip_id = (
                    await session.execute(
                        select(Tip.id).where(
                            Tip.reference == reference, Tip.reporter_id == state.reporter.id
                        )
                    )
                ).scalar_one_or_none()
            ids = await intake.erasable_message_ids(
                session, state.reporter.id, up_to=query.message.message_id
            )
            await intake.forget_chat_messages(session, state.reporter)
            await custody.append(
                session,
                actor=custody.reporter_actor(state.reporter.pseudonym),
                action="conversation_erased",
                tip_id=tip_id,
                details={"messages": len(ids)},
            )
            neutral = (
                t(state.lang, "erase-done", reference=reference)
                if tip_id is not None
                else t(state.lang, "erase-done-plain")
            )
            reply = Reply(
                toast=t(state.lang, "erase-working"), send=[Screen(neutral, ReplyKeyboardRemove())]
            )
    await _erase_then_reply(update, context, ids, reply)


async def _erase_then_reply(update: Update, context: Ctx, ids: list[int], reply: Reply) -> None:
    """Stop the spinner, erase, then leave the reply as the chat's only recent message."""
    chat = update.effective_chat
    if not ids or chat is None:
        await deliver(update, context, reply)
        return
    await answer(update.callback_query, reply.toast)
    await erase_messages(context, chat.id, ids)
    for screen in [*([reply.edit] if reply.edit else []), *reply.send]:
        await send(context, chat.id, screen)


# ---------------------------------------------------------------------------- delete my data


def delete_confirm(services: Services, lang: str) -> Screen:
    t = services.catalog.t
    rows = [
        [button(t(lang, "delete-yes"), "d:yes")],
        [button(t(lang, "delete-no"), "d:no")],
    ]
    return Screen(t(lang, "delete-confirm"), keyboard(rows))


@handler("account.delete_command")
async def delete_command(update: Update, context: Ctx) -> None:
    services = context.services
    who = person(update, services)
    if who is None:
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        if not state.consented:
            reply = Reply(send=[Screen(services.catalog.t(state.lang, "delete-nothing"))])
        else:
            await note_message(session, state, update.message)
            reply = Reply(send=[delete_confirm(services, state.lang)])
    await deliver(update, context, reply)


@handler("account.delete_button")
async def delete_button(update: Update, context: Ctx) -> None:
    """``d:yes`` deletes; ``d:no`` goes back to the menu."""
    services = context.services
    query = update.callback_query
    who = person(update, services)
    if query is None or who is None or not query.data or query.message is None:
        return
    t = services.catalog.t
    ids: list[int] = []
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        lang = state.lang
        if not state.consented or state.reporter is None:
            reply = Reply(edit=Screen(t(lang, "delete-nothing")))
        elif query.data != "d:yes":
            reply = Reply(edit=render.menu(services.catalog, lang))
        else:
            ids = await intake.erasable_message_ids(
                session, state.reporter.id, up_to=query.message.message_id
            )
            summary = await intake.delete_reporter_data(
                session, state.reporter, store=services.store
            )
            reply = Reply(
                send=[Screen(_deletion_text(services, lang, summary), ReplyKeyboardRemove())]
            )
    if services.acks is not None:
        services.acks.take(who.chat_id)
    reply.toast = t(lang, "erase-working") if ids else None
    await _erase_then_reply(update, context, ids, reply)


def _deletion_text(services: Services, lang: str, summary: intake.DeletionSummary) -> Html:
    t = services.catalog.t
    lines = [t(lang, "delete-done")]
    if summary.drafts_deleted:
        lines.append(t(lang, "delete-drafts", count=summary.drafts_deleted))
    if summary.withdrawn:
        lines.append(
            t(
                lang,
                "delete-withdrawn",
                count=len(summary.withdrawn),
                references=", ".join(summary.withdrawn),
            )
        )
    if summary.kept:
        lines.append(
            t(lang, "delete-kept", count=len(summary.kept), references=", ".join(summary.kept))
        )
    lines.append(t(lang, "delete-remains"))
    return Html("\n\n".join(lines))
