"""The reporting conversation: starting a report, its eight steps, review and submission.

Each step is a row of the two tables at the bottom: what its buttons do, and what typed text
does. State lives in the database (the draft's ``step``), loaded and saved in one short
transaction per update, so a restart or a second process continues the same draft. Files
are handled in :mod:`handlers.evidence`, whatever the step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from bot import intake
from bot.dates import DateError, parse_incident_date
from bot.i18n import Html
from bot.intake import STEPS
from bot.text import clean, clean_optional
from db.models import Tip
from handlers import render
from handlers.base import Ctx, Screen, Services, handler, parse_id
from handlers.replies import Reply
from handlers.state import State, consent_first, respond

_PLACE_TEXT_MAX = 500
_PERPETRATOR_TEXT_MAX = 1000
# Steps whose screen shows the report's files (the others need no query for them).
_COUNTED_STEPS = frozenset({"description", "evidence", "review"})


def today(services: Services) -> datetime:
    return datetime.now(services.timezone)


# ---------------------------------------------------------------------------- screens


async def step_screens(
    session: AsyncSession, state: State, tip: Tip, *, variant: str = "", brief: bool = False
) -> list[Screen]:
    """The current step's prompt.

    The place step offers no one-tap "send my current location" keyboard: it would be the
    biggest control on the screen, right under the advice not to share where one is. Its
    text explains how to send a chosen point instead (📎 → Location, move the pin).
    """
    counts = await intake.media_counts(session, tip.id) if tip.step in _COUNTED_STEPS else {}
    screen = render.step_screen(
        state.services, state.lang, tip, counts, variant=variant, brief=brief
    )
    return [screen]


async def reprompt(
    session: AsyncSession, state: State, tip: Tip, key: str, *, brief: bool = False, **args: object
) -> Reply:
    """A clear message (what went wrong, or what was saved) with the step's buttons right
    under it: over the step's whole screen, or, ``brief``, over its title only."""
    screens = await step_screens(session, state, tip, brief=brief)
    return Reply(send=[screens[0].with_prefix(state.t(key, **args))])


def retire_finished(state: State, reply: Reply, *, pressed: int | None = None) -> Reply:
    """Add to ``reply`` the file acknowledgement (sent with a step's buttons) that this
    update left behind: the report moved on from its step, or was sent or deleted. A press
    can overtake an acknowledgement on its way, which then sits below the new screen."""
    acks = state.services.acks
    if acks is not None and state.consented:
        reply.retire.extend(acks.retire(state.person.chat_id, state.draft, pressed=pressed))
    return reply


def saved_line(state: State, field: str, value: str) -> str:
    return state.t("saved-line", field=state.t(f"field-{field}"), value=Html(value))


async def move_to(
    session: AsyncSession,
    state: State,
    tip: Tip,
    step: str,
    *,
    prefix: str = "",
    via_callback: bool,
    from_review: bool = False,
) -> Reply:
    """Go to ``step`` and show it: in place of the pressed message, or as a new message."""
    intake.go_to(tip, step, from_review=from_review)
    screens = await step_screens(session, state, tip)
    screens[0] = screens[0].with_prefix(prefix)
    if via_callback:
        return Reply(edit=screens[0], send=screens[1:])
    return Reply(send=screens)


async def advance(
    session: AsyncSession, state: State, tip: Tip, prefix: str, *, via_callback: bool
) -> Reply:
    step = intake.next_step(tip)
    return await move_to(session, state, tip, step, prefix=prefix, via_callback=via_callback)


# ---------------------------------------------------------------------------- starting


async def start_report(session: AsyncSession, state: State) -> Reply:
    """New report: continue-or-restart if a draft exists, the daily limit, else step 1."""
    assert state.reporter is not None
    state.reporter.adding_to_tip_id = None  # whatever was being added to is finished
    if state.draft is not None:
        return Reply(send=[render.resume_prompt(state.services, state.lang, state.draft)])
    refusal = await daily_limit_reply(session, state)
    if refusal is not None:
        return refusal
    state.draft = await intake.create_draft(session, state.reporter, state.lang)
    return Reply(send=await step_screens(session, state, state.draft))


async def daily_limit_reply(session: AsyncSession, state: State) -> Reply | None:
    """The polite refusal once a reporter has sent the day's maximum (else None)."""
    assert state.reporter is not None
    since = intake.utcnow() - timedelta(days=1)
    count = await intake.submissions_since(session, state.reporter.id, since)
    limit = state.services.settings.tipbot_max_reports_per_day
    if count < limit:
        return None
    text = state.t("limit-reports", limit=limit)
    return Reply(
        send=[render.menu(state.services.catalog, state.lang, text)], toast=text, alert=True
    )


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
        confirm = render.discard_confirm(state.services.catalog, state.lang, state.draft)
        return Reply(send=[confirm])

    await respond(update, context, decide)


# ---------------------------------------------------------------------------- buttons


@handler("intake.button")
async def step_button(update: Update, context: Ctx) -> None:
    """Every ``r:...`` button: resume/restart/discard, and each step's actions."""
    query = update.callback_query
    parts = (query.data or "").split(":") if query is not None else []
    pressed = query.message.message_id if query is not None and query.message else None

    async def decide(session: AsyncSession, state: State) -> Reply:
        reply = await _dispatch_button(session, state, parts)
        return retire_finished(state, reply, pressed=pressed)

    await respond(update, context, decide)


async def _dispatch_button(session: AsyncSession, state: State, parts: list[str]) -> Reply:
    if not state.consented:
        return consent_first(state)
    verb = parts[1] if len(parts) > 1 else ""
    step, action = verb, parts[2] if len(parts) > 2 else ""
    arg = parts[3] if len(parts) > 3 else ""
    tip = state.draft
    # Restart and delete name the draft they were shown for: pressed under an older one
    # (since sent or deleted), or from before buttons named it, they must not touch the
    # report being written now.
    named = action if verb == "restart" else arg if verb == "discard" else ""
    destructive = verb == "restart" or (verb == "discard" and action == "yes")
    if destructive and tip is not None and named != str(tip.id):
        return Reply(toast=state.t("stale-button"))
    if verb == "restart" and tip is not None:
        await intake.discard_draft(session, tip, actor=state.actor, reason="restarted")
        state.draft = None
        started = await start_report(session, state)
        return Reply(edit=started.send[0], send=started.send[1:])
    if tip is None:
        menu = render.menu(state.services.catalog, state.lang)
        return Reply(toast=state.t("no-open-report"), send=[menu])
    if verb == "resume" or (verb == "discard" and action != "yes"):
        screens = await step_screens(session, state, tip)
        return Reply(edit=screens[0], send=screens[1:])
    if verb == "discard":
        return await _discard(session, state, tip)
    if action == "cancel":
        return Reply(edit=render.discard_confirm(state.services.catalog, state.lang, tip))
    if step != tip.step:
        return Reply(toast=state.t("stale-button"))
    if action == "back":
        target = intake.previous_step(tip)
        if target is None:
            return Reply(toast=state.t("stale-button"))
        return await move_to(session, state, tip, target, via_callback=True)
    return await BUTTONS[step](session, state, tip, action, arg)


async def _discard(session: AsyncSession, state: State, tip: Tip) -> Reply:
    await intake.discard_draft(session, tip, actor=state.actor, reason="cancelled")
    state.draft = None
    return Reply(edit=render.menu(state.services.catalog, state.lang, state.t("discarded")))


ButtonAction = Callable[[AsyncSession, State, Tip, str, str], Awaitable[Reply]]


def _stale(state: State) -> Reply:
    return Reply(toast=state.t("stale-button"))


async def _category_button(
    session: AsyncSession, state: State, tip: Tip, action: str, arg: str
) -> Reply:
    if action != "set" or arg not in state.services.settings.tipbot_categories:
        return _stale(state)
    intake.set_category(tip, arg)
    prefix = saved_line(state, "category", state.t(f"category-{arg}"))
    return await advance(session, state, tip, prefix, via_callback=True)


async def _description_button(
    session: AsyncSession, state: State, tip: Tip, action: str, _arg: str
) -> Reply:
    if action != "next":
        return _stale(state)
    if not (tip.description or (await intake.media_counts(session, tip.id)).get("voice")):
        return Reply(toast=state.t("description-empty"), alert=True)
    return await advance(session, state, tip, "", via_callback=True)


async def _when_button(
    session: AsyncSession, state: State, tip: Tip, action: str, _arg: str
) -> Reply:
    if action in ("type", "show"):
        variant = "type" if action == "type" else ""
        return Reply(edit=(await step_screens(session, state, tip, variant=variant))[0])
    now = today(state.services).date()
    if action == "today":
        intake.set_incident_date(tip, now, "day", None)
    elif action == "yesterday":
        intake.set_incident_date(tip, now - timedelta(days=1), "day", None)
    elif action == "unknown":
        intake.set_incident_date(tip, None, "unknown", None)
    else:
        return _stale(state)
    prefix = saved_line(state, "when", render.date_text(state.services, state.lang, tip))
    return await advance(session, state, tip, prefix, via_callback=True)


async def _where_button(
    session: AsyncSession, state: State, tip: Tip, action: str, arg: str
) -> Reply:
    if action == "pick":
        settlement = parse_id(arg)
        place = state.services.gazetteer.get(settlement) if settlement is not None else None
        if place is None:
            return _stale(state)
        intake.set_place_from_settlement(tip, place, tip.place_text)
    elif action == "keep" and tip.place_text:
        intake.set_place_as_typed(tip, tip.place_text)
    elif action in ("none", "skip"):
        intake.set_place_unknown(tip)
    else:
        return _stale(state)
    prefix = saved_line(state, "where", render.place_text(state.services, state.lang, tip))
    return await advance(session, state, tip, prefix, via_callback=True)


async def _who_button(
    session: AsyncSession, state: State, tip: Tip, action: str, arg: str
) -> Reply:
    if action in ("other", "show"):
        variant = "other" if action == "other" else ""
        return Reply(edit=(await step_screens(session, state, tip, variant=variant))[0])
    if action == "skip":
        return await advance(session, state, tip, "", via_callback=True)
    if action != "set" or arg not in ("unknown", *state.services.settings.tipbot_parties):
        return _stale(state)
    intake.set_perpetrator(tip, arg)
    prefix = saved_line(state, "who", render.perpetrator_text(state.services, state.lang, tip))
    return await advance(session, state, tip, prefix, via_callback=True)


async def _evidence_button(
    session: AsyncSession, state: State, tip: Tip, action: str, _arg: str
) -> Reply:
    if action not in ("done", "skip"):
        return _stale(state)
    acks = state.services.acks
    pending = acks.take(state.person.chat_id) if acks is not None else None
    if pending is None:
        return await advance(session, state, tip, "", via_callback=True)
    # Files answering a question came in the same burst: their receipt goes first.
    prefix = await acks.answer_text(session, tip, pending)
    return await advance(session, state, tip, prefix, via_callback=True)


async def _contact_button(
    session: AsyncSession, state: State, tip: Tip, action: str, arg: str
) -> Reply:
    if action == "notify" and arg in ("on", "off"):
        # The separate opt-in for the "reviewed" notice: ticked or not, same step.
        tip.notify_reviewed = arg == "on"
        return Reply(edit=(await step_screens(session, state, tip))[0])
    if action not in ("yes", "no"):
        return _stale(state)
    tip.contact_allowed = action == "yes"
    value = state.t("contact-yes-short" if tip.contact_allowed else "contact-no-short")
    return await advance(
        session, state, tip, saved_line(state, "contact", value), via_callback=True
    )


async def _review_button(
    session: AsyncSession, state: State, tip: Tip, action: str, arg: str
) -> Reply:
    if action == "edit" and arg in STEPS and arg != "review":
        return await move_to(session, state, tip, arg, via_callback=True, from_review=True)
    if action != "submit":
        return _stale(state)
    if _missing_fields(tip, await intake.media_counts(session, tip.id)):
        return Reply(toast=state.t("review-missing"), alert=True)
    refusal = await daily_limit_reply(session, state)
    if refusal is not None:
        return Reply(toast=refusal.toast, alert=True)
    assert state.reporter is not None
    distance = state.services.settings.tipbot_duplicate_distance
    await intake.submit(session, tip, state.reporter, duplicate_distance=distance)
    return Reply(edit=render.submitted(state.services.catalog, state.lang, tip))


def _missing_fields(tip: Tip, counts: dict[str, int]) -> list[str]:
    missing = []
    if not tip.category:
        missing.append("category")
    if not (tip.description or counts.get("voice")):
        missing.append("description")
    if tip.incident_date_precision is None:
        missing.append("when")
    return missing


BUTTONS: dict[str, ButtonAction] = {
    "category": _category_button,
    "description": _description_button,
    "when": _when_button,
    "where": _where_button,
    "who": _who_button,
    "evidence": _evidence_button,
    "contact": _contact_button,
    "review": _review_button,
}


# ---------------------------------------------------------------------------- typed input


TextAction = Callable[[AsyncSession, State, Tip, str], Awaitable[Reply]]


async def _use_buttons(session: AsyncSession, state: State, tip: Tip, _text: str) -> Reply:
    return await reprompt(session, state, tip, f"use-buttons-{tip.step}")


async def _append_description(
    session: AsyncSession, state: State, tip: Tip, text: str, *, saved_key: str
) -> Reply:
    settings = state.services.settings
    limit = settings.tipbot_description_max_chars
    if len(text) > limit:
        return await reprompt(
            session, state, tip, "description-too-long", length=len(text), limit=limit
        )
    total = settings.tipbot_description_total_chars
    if not intake.append_description(tip, text, total_limit=total):
        return await reprompt(session, state, tip, "description-total-too-long", limit=total)
    return await reprompt(session, state, tip, saved_key, brief=True)


async def _description_text(session: AsyncSession, state: State, tip: Tip, text: str) -> Reply:
    return await _append_description(session, state, tip, text, saved_key="description-saved")


async def _evidence_text(session: AsyncSession, state: State, tip: Tip, text: str) -> Reply:
    # Words sent while files are expected are kept: they join the description.
    return await _append_description(session, state, tip, text, saved_key="description-appended")


async def _when_text(session: AsyncSession, state: State, tip: Tip, text: str) -> Reply:
    settings = state.services.settings
    try:
        parsed = parse_incident_date(
            text,
            today=today(state.services).date(),
            earliest=settings.tipbot_earliest_incident_date,
        )
    except DateError as exc:
        earliest = state.services.catalog.format_date(
            state.lang, settings.tipbot_earliest_incident_date, "day"
        )
        return await reprompt(session, state, tip, f"date-error-{exc.reason}", earliest=earliest)
    intake.set_incident_date(tip, parsed.value, parsed.precision, parsed.time)
    prefix = saved_line(state, "when", render.date_text(state.services, state.lang, tip))
    return await advance(session, state, tip, prefix, via_callback=False)


async def _where_text(session: AsyncSession, state: State, tip: Tip, text: str) -> Reply:
    typed = " ".join(text.split())
    if len(typed) > _PLACE_TEXT_MAX:
        return await reprompt(session, state, tip, "where-too-long", limit=_PLACE_TEXT_MAX)
    tip.place_text = typed
    places = state.services.gazetteer.search(typed, limit=5)
    return Reply(send=[render.where_matches(state.services, state.lang, tip, typed, places)])


async def _who_text(session: AsyncSession, state: State, tip: Tip, text: str) -> Reply:
    if len(text) > _PERPETRATOR_TEXT_MAX:
        return await reprompt(session, state, tip, "who-too-long", limit=_PERPETRATOR_TEXT_MAX)
    intake.set_perpetrator(tip, "other", text.strip())
    prefix = saved_line(state, "who", render.perpetrator_text(state.services, state.lang, tip))
    return await advance(session, state, tip, prefix, via_callback=False)


TEXT: dict[str, TextAction] = {
    "category": _use_buttons,
    "description": _description_text,
    "when": _when_text,
    "where": _where_text,
    "who": _who_text,
    "evidence": _evidence_text,
    "contact": _use_buttons,
    "review": _use_buttons,
}


async def on_text(session: AsyncSession, state: State, text: str) -> Reply:
    """Typed text in a private chat, wherever the reporter is."""
    if not state.consented:
        return consent_first(state)
    if state.draft is None:
        return Reply(send=[render.menu(state.services.catalog, state.lang, state.t("menu-hint"))])
    tip = state.draft
    # Control characters go before anything is stored (PostgreSQL refuses NUL in text).
    return await TEXT[tip.step or STEPS[0]](session, state, tip, clean(text))


async def on_location(
    session: AsyncSession,
    state: State,
    lat: float,
    lon: float,
    label: str | None,
    *,
    live: bool = False,
) -> Reply:
    """A shared point (location or venue): the incident's place at the "where" step.

    A live location is refused: it keeps telling where the reporter is, which is not
    necessarily the place of the incident and is dangerous to share."""
    if not state.consented:
        return consent_first(state)
    tip = state.draft
    if live:
        if tip is None:
            return Reply(send=[Screen(state.t("location-live"))])
        return await reprompt(session, state, tip, "location-live")
    if tip is None:
        text = state.t("location-no-report")
        return Reply(send=[render.menu(state.services.catalog, state.lang, text)])
    if tip.step != "where":
        return await reprompt(session, state, tip, "location-wrong-step")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return await reprompt(session, state, tip, "location-invalid")
    nearest = state.services.gazetteer.nearest(lat, lon)
    intake.set_place_from_point(tip, lat, lon, nearest, clean_optional(label))
    prefix = saved_line(state, "where", render.place_text(state.services, state.lang, tip))
    return await advance(session, state, tip, prefix, via_callback=False)


async def on_unsupported(session: AsyncSession, state: State, message: Message) -> Reply:
    """Stickers, contacts, polls and the like: a clear "not accepted here"."""
    if not state.consented:
        return consent_first(state)
    what = state.t(f"kind-{unsupported_kind(message)}")
    if state.draft is None:
        text = state.t("unsupported", what=what)
        return Reply(send=[render.menu(state.services.catalog, state.lang, text)])
    return await reprompt(session, state, state.draft, "unsupported", what=what)


def unsupported_kind(message: Message) -> str:
    """A short name for a message the intake does not accept (for the reply)."""
    for attribute in ("sticker", "contact", "poll", "dice", "game", "story", "invoice"):
        if getattr(message, attribute, None) is not None:
            return attribute
    return "other"
