"""The reporting conversation: starting a report, the presses and messages at its steps,
the draft's own buttons (continue, start over, delete).

What each step is — its screen, the presses and input it takes, where it leads — is its row
in :mod:`handlers.steps`; the handlers here parse the update and hand it to the draft's row.
State lives in the database (the draft's ``step``), loaded and saved in one short
transaction per update, so a restart or a second process continues the same draft. Files
are handled in :mod:`handlers.evidence`, whatever the step.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from bot import intake
from bot.text import clean
from handlers import render, steps
from handlers.base import Ctx, Screen, handler
from handlers.replies import Reply
from handlers.state import State, consent_first, respond, stale_button
from handlers.steps import DraftPress, StepPress, Turn

# ---------------------------------------------------------------------------- starting


async def start_report(session: AsyncSession, state: State) -> Reply:
    """New report: continue-or-restart if a draft exists, the daily limit, else step 1."""
    assert state.reporter is not None
    state.reporter.adding_to_tip_id = None  # whatever was being added to is finished
    if state.draft is not None:
        return Reply(send=[steps.resume_prompt(state.services, state.lang, state.draft)])
    refusal = await steps.daily_limit_reply(session, state)
    if refusal is not None:
        return refusal
    state.draft = await intake.create_draft(session, state.reporter, state.lang)
    return Reply(send=[await Turn(session, state, state.draft, pressed=False).screen()])


def retire_finished(state: State, reply: Reply, *, pressed: int | None = None) -> Reply:
    """Add to ``reply`` the file acknowledgement (sent with a step's buttons) that this
    update left behind: the report moved on from its step, or was sent or deleted. A press
    can overtake an acknowledgement on its way, which then sits below the new screen."""
    acks = state.services.acks
    if acks is not None and state.consented:
        reply.retire.extend(acks.retire(state.person.chat_id, state.draft, pressed=pressed))
    return reply


def _no_open_report(state: State) -> Reply:
    menu = render.menu(state.services.catalog, state.lang)
    return Reply(toast=state.t("no-open-report"), send=[menu])


@handler("intake.report")
async def report_command(update: Update, context: Ctx) -> None:
    """/report."""

    async def decide(session: AsyncSession, state: State) -> Reply:
        if not state.consented:
            return consent_first(state)
        return await start_report(session, state)

    await respond(update, context, decide)


@handler("intake.cancel")
async def cancel_command(update: Update, context: Ctx) -> None:
    async def decide(_session: AsyncSession, state: State) -> Reply:
        if state.draft is None:
            text = state.t("cancel-nothing")
            return Reply(send=[render.menu(state.services.catalog, state.lang, text)])
        return Reply(send=[steps.discard_confirm(state.services, state.lang, state.draft)])

    await respond(update, context, decide)


# ---------------------------------------------------------------------------- buttons


def _pressed(update: Update) -> tuple[str, int | None]:
    """The pressed button's data, and the id of the message it was under."""
    query = update.callback_query
    if query is None:
        return "", None
    return query.data or "", query.message.message_id if query.message else None


@handler("intake.button")
async def step_button(update: Update, context: Ctx) -> None:
    """A step's button (``r:<step>:<action>[:<arg>]``), handed to the draft's step."""
    data, pressed = _pressed(update)
    press = StepPress.parse(data)

    async def decide(session: AsyncSession, state: State) -> Reply:
        reply = await _on_step_press(session, state, press)
        return retire_finished(state, reply, pressed=pressed)

    await respond(update, context, decide)


async def _on_step_press(session: AsyncSession, state: State, press: StepPress | None) -> Reply:
    if not state.consented:
        return consent_first(state)
    if state.draft is None:
        return _no_open_report(state)
    if press is None:
        return stale_button(state)
    return await steps.on_press(Turn(session, state, state.draft, pressed=True), press)


# The draft's own buttons, for bot.app to route here: r:resume, r:restart:<tip>,
# r:discard:yes:<tip>, r:discard:no.
DRAFT_PATTERN = r"^r:(resume|restart|discard)(:|$)"


@handler("intake.draft")
async def draft_button(update: Update, context: Ctx) -> None:
    """Continue the draft, start over, or delete it (:class:`handlers.steps.DraftPress`)."""
    data, pressed = _pressed(update)
    press = DraftPress.parse(data)

    async def decide(session: AsyncSession, state: State) -> Reply:
        reply = await _on_draft_press(session, state, press)
        return retire_finished(state, reply, pressed=pressed)

    await respond(update, context, decide)


async def _on_draft_press(session: AsyncSession, state: State, press: DraftPress | None) -> Reply:
    if not state.consented:
        return consent_first(state)
    if state.draft is None:
        return _no_open_report(state)
    # Start over and delete name the draft they were shown for: pressed under an older one
    # (since sent or deleted), or from before buttons named it, they must not touch the
    # report being written now.
    if press is None or not press.applies_to(state.draft):
        return stale_button(state)
    turn = Turn(session, state, state.draft, pressed=True)
    return await _DRAFT_ACTIONS[press.action](turn)


async def _resume(turn: Turn) -> Reply:
    return Reply(edit=await turn.screen())


async def _restart(turn: Turn) -> Reply:
    state = turn.state
    await intake.discard_draft(turn.session, turn.tip, actor=state.actor, reason="restarted")
    state.draft = None
    started = await start_report(turn.session, state)
    return Reply(edit=started.send[0], send=started.send[1:])


async def _delete(turn: Turn) -> Reply:
    state = turn.state
    await intake.discard_draft(turn.session, turn.tip, actor=state.actor, reason="cancelled")
    state.draft = None
    return Reply(edit=render.menu(state.services.catalog, state.lang, state.t("discarded")))


_DRAFT_ACTIONS = {
    steps.RESUME: _resume,
    steps.KEEP: _resume,
    steps.RESTART: _restart,
    steps.DELETE: _delete,
}


# ---------------------------------------------------------------------------- messages


async def on_text(session: AsyncSession, state: State, text: str) -> Reply:
    """Typed text in a private chat, wherever the reporter is."""
    if not state.consented:
        return consent_first(state)
    if state.draft is None:
        return Reply(send=[render.menu(state.services.catalog, state.lang, state.t("menu-hint"))])
    turn = Turn(session, state, state.draft, pressed=False)
    # Control characters go before anything is stored (PostgreSQL refuses NUL in text).
    return await turn.row.typed(turn, clean(text))


async def on_location(
    session: AsyncSession,
    state: State,
    lat: float,
    lon: float,
    label: str | None,
    *,
    live: bool = False,
) -> Reply:
    """A shared point (location or venue): the incident's place, at a step that takes one.

    A live location is refused: it keeps telling where the reporter is, which is not
    necessarily the place of the incident and is dangerous to share."""
    if not state.consented:
        return consent_first(state)
    if state.draft is None:
        return _no_draft_for_point(state, live=live)
    turn = Turn(session, state, state.draft, pressed=False)
    if live:
        return await turn.reprompt("location-live")
    point = turn.row.point
    if point is None:
        return await turn.reprompt("location-wrong-step")
    return await point(turn, lat, lon, label)


def _no_draft_for_point(state: State, *, live: bool) -> Reply:
    if live:
        return Reply(send=[Screen(state.t("location-live"))])
    text = state.t("location-no-report")
    return Reply(send=[render.menu(state.services.catalog, state.lang, text)])


async def on_unsupported(session: AsyncSession, state: State, message: Message) -> Reply:
    """Stickers, contacts, polls and the like: a clear "not accepted here"."""
    if not state.consented:
        return consent_first(state)
    what = state.t(f"kind-{unsupported_kind(message)}")
    if state.draft is None:
        text = state.t("unsupported", what=what)
        return Reply(send=[render.menu(state.services.catalog, state.lang, text)])
    turn = Turn(session, state, state.draft, pressed=False)
    return await turn.reprompt("unsupported", what=what)


def unsupported_kind(message: Message) -> str:
    """A short name for a message the intake does not accept (for the reply)."""
    for attribute in ("sticker", "contact", "poll", "dice", "game", "story", "invoice"):
        if getattr(message, attribute, None) is not None:
            return attribute
    return "other"
