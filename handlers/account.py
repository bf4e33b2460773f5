"""A reporter's own data: my reports, erasing the conversation, and deleting my data."""

from __future__ import annotations

from telegram import ReplyKeyboardRemove, Update

from bot import account, intake
from bot.i18n import Html
from bot.refcode import normalise_reference
from bot.session import Session
from handlers import render
from handlers.base import Ctx, Screen, button, handler, keyboard
from handlers.replies import Reply
from handlers.state import State, consent_first, respond


async def my_reports_reply(session: Session, state: State) -> Reply:
    assert state.reporter is not None
    tips = await intake.list_tips(session, state.reporter.id)
    return Reply(send=[render.my_reports(state.services, state.lang, tips)])


@handler("account.my_reports")
async def my_reports_command(update: Update, context: Ctx) -> None:
    async def decide(session: Session, state: State) -> Reply:
        if not state.consented:
            return consent_first(state)
        return await my_reports_reply(session, state)

    await respond(update, context, decide)


def _pressed_message_id(update: Update) -> int:
    query = update.callback_query
    return query.message.message_id if query is not None and query.message else 0


def _erased_reference(update: Update) -> str:
    """The reference an ``e:`` button names, or ``-`` (none, or not one this bot wrote: a
    NUL in it would fail the query)."""
    query = update.callback_query
    reference = (query.data or "e:-").split(":", 1)[1] if query is not None else "-"
    return reference if normalise_reference(reference) == reference else "-"


@handler("account.erase")
async def erase_button(update: Update, context: Ctx) -> None:
    """``e:<reference>`` (after a submission) or ``e:-`` (from Privacy & safety): delete the
    chat's recent messages, both sides, and leave only a neutral line."""
    reference = _erased_reference(update)
    up_to = _pressed_message_id(update)

    async def decide(session: Session, state: State) -> Reply:
        if not state.consented or state.reporter is None:
            return consent_first(state)
        erasure = await account.erase_conversation(
            session, state.reporter, actor=state.actor, reference=reference, up_to=up_to
        )
        return _erased(state, erasure, reference)

    await respond(update, context, decide)


def _erased(state: State, erasure: account.Erasure, reference: str) -> Reply:
    neutral = (
        state.t("erase-done", reference=reference)
        if erasure.own_report
        else state.t("erase-done-plain")
    )
    # The messages go, but the chat itself stays in the list: say how to remove it.
    hint = state.t("delete-chat-hint")
    return Reply(
        toast=state.t("erase-working"),
        erase_from=erasure.start,
        send=[Screen(Html(f"{neutral}\n\n{hint}"), ReplyKeyboardRemove())],
    )


# ---------------------------------------------------------------------------- delete my data


def delete_confirm(state: State) -> Screen:
    rows = [
        [button(state.t("delete-yes"), "d:yes")],
        [button(state.t("delete-no"), "d:no")],
    ]
    return Screen(Html(state.t("delete-confirm")), keyboard(rows))


@handler("account.delete_command")
async def delete_command(update: Update, context: Ctx) -> None:
    async def decide(_session: Session, state: State) -> Reply:
        if not state.consented:
            return Reply(send=[Screen(Html(state.t("delete-nothing")))])
        return Reply(send=[delete_confirm(state)])

    await respond(update, context, decide)


@handler("account.delete_button")
async def delete_button(update: Update, context: Ctx) -> None:
    """``d:yes`` deletes (and erases the conversation); ``d:no`` goes back to the menu."""
    confirmed = update.callback_query is not None and update.callback_query.data == "d:yes"
    acks = context.services.acks

    async def decide(session: Session, state: State) -> Reply:
        if not state.consented or state.reporter is None:
            return Reply(edit=Screen(Html(state.t("delete-nothing"))))
        if not confirmed:
            return Reply(edit=render.menu(state.services.catalog, state.lang))
        start = await intake.erase_start(session, state.reporter.id)
        summary = await intake.delete_reporter_data(session, state.reporter)
        if acks is not None:
            acks.take(state.person.chat_id)
        return Reply(
            toast=state.t("erase-working"),
            erase_from=start,
            send=[Screen(_deletion_text(state, summary), ReplyKeyboardRemove())],
        )

    await respond(update, context, decide)


def _deletion_text(state: State, summary: intake.DeletionSummary) -> Html:
    lines = [state.t("delete-done")]
    if summary.drafts_deleted:
        lines.append(state.t("delete-drafts", count=summary.drafts_deleted))
    if summary.withdrawn:
        references = ", ".join(summary.withdrawn)
        lines.append(
            state.t("delete-withdrawn", count=len(summary.withdrawn), references=references)
        )
    if summary.kept:
        references = ", ".join(summary.kept)
        lines.append(state.t("delete-kept", count=len(summary.kept), references=references))
    lines.append(state.t("delete-remains"))
    # Erasing empties the chat, but the bot's name stays in the chat list.
    lines.append(state.t("delete-chat-hint"))
    return Html("\n\n".join(lines))
