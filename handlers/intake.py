"""The reporting conversation: starting a report, its eight steps, review and submission.

Each step is a row of the table at the bottom: what a button press does, and what typed
text does. State lives in the database (the draft's ``step``), loaded and saved in one
short transaction per update, so a restart or a second process continues the same draft.
Files are handled in :mod:`handlers.evidence`, whatever the step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import KeyboardButton, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update

from bot import custody, intake
from bot.dates import DateError, parse_incident_date
from bot.i18n import Html
from bot.intake import STEPS
from db.engine import transaction
from db.models import Reporter, Tip
from handlers import render
from handlers.base import Ctx, Person, Screen, Services, handler, person
from handlers.replies import Reply, deliver

_PLACE_TEXT_MAX = 500
# Steps whose screen shows the report's files (the others need no query for them).
_COUNTED_STEPS = frozenset({"description", "evidence", "review"})
_PERPETRATOR_TEXT_MAX = 1000


@dataclass(slots=True)
class State:
    """Who is writing, in which language, and their open draft (locked in this transaction)."""

    person: Person
    reporter: Reporter | None
    draft: Tip | None
    lang: str

    @property
    def consented(self) -> bool:
        return intake.has_consented(self.reporter)


async def load_state(session: AsyncSession, services: Services, who: Person) -> State:
    reporter, draft = await intake.find_reporter_and_draft(session, who.pseudonym)
    consented = intake.has_consented(reporter)
    if not consented:
        draft = None
    lang = reporter.language if reporter and consented else who.telegram_language
    return State(who, reporter, draft, lang)


async def note_message(session: AsyncSession, state: State, message: Message | None) -> None:
    """Remember an incoming message's id so "erase this conversation" can reach it."""
    if message is not None and state.reporter is not None and state.consented:
        await intake.record_incoming(session, state.reporter, message.message_id, message.date)


def consent_first(services: Services, lang: str) -> Reply:
    screen = render.language_choice(services.catalog, lang)
    return Reply(
        send=[screen.with_prefix(services.catalog.t(lang, "consent-first"))],
        toast=services.catalog.t(lang, "consent-first-short"),
    )


def actor(state: State) -> str:
    assert state.reporter is not None
    return custody.reporter_actor(state.reporter.pseudonym)


def today(services: Services) -> datetime:
    return datetime.now(services.timezone)


# ---------------------------------------------------------------------------- screens


def location_keyboard(services: Services, lang: str) -> Screen:
    t = services.catalog.t
    markup = ReplyKeyboardMarkup(
        [[KeyboardButton(t(lang, "where-share-button"), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder=t(lang, "where-placeholder"),
    )
    return Screen(t(lang, "where-share-hint"), markup)


async def step_screens(
    session: AsyncSession, services: Services, tip: Tip, lang: str, *, variant: str = ""
) -> list[Screen]:
    """The current step's prompt (plus the location keyboard when entering "where")."""
    counts = await intake.media_counts(session, tip.id) if tip.step in _COUNTED_STEPS else {}
    screens = [render.step_screen(services, lang, tip, counts, variant=variant)]
    if tip.step == "where" and not variant:
        screens.append(location_keyboard(services, lang))
    return screens


async def reprompt(
    session: AsyncSession, services: Services, tip: Tip, lang: str, key: str, **args: object
) -> Reply:
    """A clear message about what went wrong, with the step's buttons right under it."""
    screens = await step_screens(session, services, tip, lang)
    screens[0] = screens[0].with_prefix(services.catalog.t(lang, key, **args))
    return Reply(send=screens[:1])


def saved_line(services: Services, lang: str, field: str, value: str) -> str:
    t = services.catalog.t
    return t(lang, "saved-line", field=t(lang, f"field-{field}"), value=Html(value))


async def move_to(
    session: AsyncSession,
    services: Services,
    tip: Tip,
    lang: str,
    step: str,
    *,
    prefix: str = "",
    via_callback: bool,
    from_review: bool = False,
) -> Reply:
    """Go to ``step`` and show it: in place of the pressed message, or as a new message.

    Leaving "where" sends a message that removes the location keyboard first.
    """
    leaving_where = tip.step == "where" and step != "where"
    intake.go_to(tip, step, from_review=from_review)
    screens = await step_screens(session, services, tip, lang)
    if leaving_where:
        goodbye = Screen(Html(prefix or "✓"), ReplyKeyboardRemove())
        return Reply(send=[goodbye, *screens])
    screens[0] = screens[0].with_prefix(prefix)
    if via_callback:
        return Reply(edit=screens[0], send=screens[1:])
    return Reply(send=screens)


async def advance(
    session: AsyncSession,
    services: Services,
    tip: Tip,
    lang: str,
    prefix: str,
    *,
    via_callback: bool,
) -> Reply:
    return await move_to(
        session,
        services,
        tip,
        lang,
        intake.next_step(tip),
        prefix=prefix,
        via_callback=via_callback,
    )


# ---------------------------------------------------------------------------- starting


async def start_report(session: AsyncSession, services: Services, state: State) -> Reply:
    """New report: continue-or-restart if a draft exists, the daily limit, else step 1."""
    assert state.reporter is not None
    if state.draft is not None:
        return Reply(send=[render.resume_prompt(services, state.lang, state.draft)])
    limit_reply = await daily_limit_reply(session, services, state)
    if limit_reply is not None:
        return limit_reply
    tip = await intake.create_draft(session, state.reporter, state.lang)
    state.draft = tip
    return Reply(send=await step_screens(session, services, tip, state.lang))


async def daily_limit_reply(
    session: AsyncSession, services: Services, state: State
) -> Reply | None:
    assert state.reporter is not None
    since = intake.utcnow() - timedelta(days=1)
    count = await intake.submissions_since(session, state.reporter.id, since)
    limit = services.settings.tipbot_max_reports_per_day
    if count >= limit:
        return Reply(
            send=[
                render.menu(
                    services.catalog,
                    state.lang,
                    services.catalog.t(state.lang, "limit-reports", limit=limit),
                )
            ]
        )
    return None


@handler("intake.report")
async def report_command(update: Update, context: Ctx) -> None:
    """/report and the menu's "New report"."""
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
            reply = await start_report(session, services, state)
    await deliver(update, context, reply)


@handler("intake.cancel")
async def cancel_command(update: Update, context: Ctx) -> None:
    services = context.services
    who = person(update, services)
    if who is None:
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        await note_message(session, state, update.message)
        if not state.consented or state.draft is None:
            reply = Reply(
                send=[
                    render.menu(
                        services.catalog,
                        state.lang,
                        services.catalog.t(state.lang, "cancel-nothing"),
                    )
                ]
            )
        else:
            reply = Reply(send=[render.discard_confirm(services.catalog, state.lang)])
    await deliver(update, context, reply)


# ---------------------------------------------------------------------------- callbacks


@handler("intake.button")
async def step_button(update: Update, context: Ctx) -> None:
    """Every ``r:...`` button: resume/restart/discard, and each step's actions."""
    services = context.services
    query = update.callback_query
    who = person(update, services)
    if query is None or who is None or not query.data:
        return
    parts = query.data.split(":")
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        reply = await _dispatch_button(session, services, state, parts)
    await deliver(update, context, reply)


async def _dispatch_button(
    session: AsyncSession, services: Services, state: State, parts: list[str]
) -> Reply:
    t = services.catalog.t
    lang = state.lang
    if not state.consented:
        return consent_first(services, lang)
    verb = parts[1] if len(parts) > 1 else ""
    if verb == "restart" and state.draft is not None:
        await intake.discard_draft(
            session, state.draft, actor=actor(state), store=services.store, reason="restarted"
        )
        state.draft = None
        reply = await start_report(session, services, state)
        return Reply(edit=reply.send[0], send=reply.send[1:])
    tip = state.draft
    if tip is None:
        return Reply(toast=t(lang, "no-open-report"), send=[render.menu(services.catalog, lang)])
    if verb == "resume":
        screens = await step_screens(session, services, tip, lang)
        return Reply(edit=screens[0], send=screens[1:])
    if verb == "discard":
        if len(parts) > 2 and parts[2] == "yes":
            await intake.discard_draft(
                session, tip, actor=actor(state), store=services.store, reason="cancelled"
            )
            menu = render.menu(services.catalog, lang, t(lang, "discarded"))
            return Reply(
                edit=menu,
                send=[Screen(t(lang, "keyboard-closed"), ReplyKeyboardRemove())]
                if tip.step == "where"
                else [],
            )
        screens = await step_screens(session, services, tip, lang)
        return Reply(edit=screens[0], send=screens[1:])
    step, action = verb, parts[2] if len(parts) > 2 else ""
    arg = parts[3] if len(parts) > 3 else ""
    if action == "cancel":
        return Reply(edit=render.discard_confirm(services.catalog, lang))
    if step != tip.step:
        return Reply(toast=t(lang, "stale-button"))
    if action == "back":
        target = intake.previous_step(tip)
        if target is None:
            return Reply(toast=t(lang, "stale-button"))
        return await move_to(session, services, tip, lang, target, via_callback=True)
    action_handler = BUTTONS.get(step)
    if action_handler is None:
        return Reply(toast=t(lang, "stale-button"))
    return await action_handler(session, services, state, tip, action, arg)


ButtonAction = Callable[[AsyncSession, Services, State, Tip, str, str], Awaitable[Reply]]


async def _category_button(
    session: AsyncSession, services: Services, state: State, tip: Tip, action: str, arg: str
) -> Reply:
    if action != "set" or arg not in services.settings.tipbot_categories:
        return Reply(toast=services.catalog.t(state.lang, "stale-button"))
    intake.set_category(tip, arg)
    label = services.catalog.t(state.lang, f"category-{arg}")
    prefix = saved_line(services, state.lang, "category", label)
    return await advance(session, services, tip, state.lang, prefix, via_callback=True)


async def _description_button(
    session: AsyncSession, services: Services, state: State, tip: Tip, action: str, _arg: str
) -> Reply:
    counts = await intake.media_counts(session, tip.id)
    if action != "next" or not (tip.description or counts.get("voice")):
        return Reply(toast=services.catalog.t(state.lang, "description-empty"), alert=True)
    return await advance(session, services, tip, state.lang, "", via_callback=True)


async def _when_button(
    session: AsyncSession, services: Services, state: State, tip: Tip, action: str, _arg: str
) -> Reply:
    lang = state.lang
    if action in ("type", "show"):
        screens = await step_screens(
            session, services, tip, lang, variant=action if action == "type" else ""
        )
        return Reply(edit=screens[0])
    now = today(services).date()
    if action == "today":
        intake.set_incident_date(tip, now, "day", None)
    elif action == "yesterday":
        intake.set_incident_date(tip, now - timedelta(days=1), "day", None)
    elif action == "unknown":
        intake.set_incident_date(tip, None, "unknown", None)
    else:
        return Reply(toast=services.catalog.t(lang, "stale-button"))
    prefix = saved_line(services, lang, "when", render.date_text(services, lang, tip))
    return await advance(session, services, tip, lang, prefix, via_callback=True)


async def _where_button(
    session: AsyncSession, services: Services, state: State, tip: Tip, action: str, arg: str
) -> Reply:
    lang = state.lang
    t = services.catalog.t
    if action == "pick":
        place = services.gazetteer.get(int(arg)) if arg.isdigit() else None
        if place is None:
            return Reply(toast=t(lang, "stale-button"))
        intake.set_place_from_settlement(tip, place, tip.place_text)
    elif action == "keep":
        if not tip.place_text:
            return Reply(toast=t(lang, "stale-button"))
        intake.set_place_as_typed(tip, tip.place_text)
    elif action in ("none", "skip"):
        intake.set_place_unknown(tip)
    else:
        return Reply(toast=t(lang, "stale-button"))
    prefix = saved_line(services, lang, "where", render.place_text(services, lang, tip))
    return await advance(session, services, tip, lang, prefix, via_callback=True)


async def _who_button(
    session: AsyncSession, services: Services, state: State, tip: Tip, action: str, arg: str
) -> Reply:
    lang = state.lang
    if action in ("other", "show"):
        screens = await step_screens(
            session, services, tip, lang, variant="other" if action == "other" else ""
        )
        return Reply(edit=screens[0])
    if action == "skip":
        return await advance(session, services, tip, lang, "", via_callback=True)
    if action != "set" or arg not in ("unknown", *services.settings.tipbot_parties):
        return Reply(toast=services.catalog.t(lang, "stale-button"))
    intake.set_perpetrator(tip, arg)
    prefix = saved_line(services, lang, "who", render.perpetrator_text(services, lang, tip))
    return await advance(session, services, tip, lang, prefix, via_callback=True)


async def _evidence_button(
    session: AsyncSession, services: Services, state: State, tip: Tip, action: str, _arg: str
) -> Reply:
    if action not in ("done", "skip"):
        return Reply(toast=services.catalog.t(state.lang, "stale-button"))
    acks = services.acks
    pending = acks.take(state.person.chat_id) if acks is not None else None
    prefix = await acks.describe(session, tip, pending) if pending is not None else ""
    return await advance(session, services, tip, state.lang, prefix, via_callback=True)


async def _contact_button(
    session: AsyncSession, services: Services, state: State, tip: Tip, action: str, _arg: str
) -> Reply:
    if action not in ("yes", "no"):
        return Reply(toast=services.catalog.t(state.lang, "stale-button"))
    tip.contact_allowed = action == "yes"
    t = services.catalog.t
    value = t(state.lang, "contact-yes-short" if tip.contact_allowed else "contact-no-short")
    prefix = saved_line(services, state.lang, "contact", value)
    return await advance(session, services, tip, state.lang, prefix, via_callback=True)


async def _review_button(
    session: AsyncSession, services: Services, state: State, tip: Tip, action: str, arg: str
) -> Reply:
    lang = state.lang
    t = services.catalog.t
    if action == "edit" and arg in STEPS and arg != "review":
        return await move_to(session, services, tip, lang, arg, via_callback=True, from_review=True)
    if action != "submit":
        return Reply(toast=t(lang, "stale-button"))
    missing = _missing_fields(tip, await intake.media_counts(session, tip.id))
    if missing:
        return Reply(toast=t(lang, "review-missing"), alert=True)
    limit_reply = await daily_limit_reply(session, services, state)
    if limit_reply is not None:
        return Reply(
            toast=t(lang, "limit-reports", limit=services.settings.tipbot_max_reports_per_day),
            alert=True,
        )
    await intake.submit(session, tip, actor=actor(state))
    return Reply(edit=render.submitted(services.catalog, lang, tip))


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


TextAction = Callable[[AsyncSession, Services, State, Tip, str], Awaitable[Reply]]


async def _use_buttons(
    session: AsyncSession, services: Services, state: State, tip: Tip, _text: str
) -> Reply:
    return await reprompt(session, services, tip, state.lang, f"use-buttons-{tip.step}")


async def _description_text(
    session: AsyncSession, services: Services, state: State, tip: Tip, text: str
) -> Reply:
    return await _append_description(session, services, state, tip, text, stay=True)


async def _append_description(
    session: AsyncSession, services: Services, state: State, tip: Tip, text: str, *, stay: bool
) -> Reply:
    settings = services.settings
    lang = state.lang
    if len(text) > settings.tipbot_description_max_chars:
        return await reprompt(
            session, services, tip, lang, "description-too-long",
            length=len(text), limit=settings.tipbot_description_max_chars,
        )  # fmt: skip
    if not intake.append_description(
        tip, text, total_limit=settings.tipbot_description_total_chars
    ):
        return await reprompt(
            session, services, tip, lang, "description-total-too-long",
            limit=settings.tipbot_description_total_chars,
        )  # fmt: skip
    key = "description-saved" if stay else "description-appended"
    return await reprompt(session, services, tip, lang, key)


async def _when_text(
    session: AsyncSession, services: Services, state: State, tip: Tip, text: str
) -> Reply:
    lang = state.lang
    try:
        parsed = parse_incident_date(
            text,
            today=today(services).date(),
            earliest=services.settings.tipbot_earliest_incident_date,
        )
    except DateError as exc:
        earliest = services.catalog.format_date(
            lang, services.settings.tipbot_earliest_incident_date, "day"
        )
        return await reprompt(
            session, services, tip, lang, f"date-error-{exc.reason}", earliest=earliest
        )
    intake.set_incident_date(tip, parsed.value, parsed.precision, parsed.time)
    prefix = saved_line(services, lang, "when", render.date_text(services, lang, tip))
    return await advance(session, services, tip, lang, prefix, via_callback=False)


async def _where_text(
    session: AsyncSession, services: Services, state: State, tip: Tip, text: str
) -> Reply:
    lang = state.lang
    typed = " ".join(text.split())
    if len(typed) > _PLACE_TEXT_MAX:
        return await reprompt(session, services, tip, lang, "where-too-long", limit=_PLACE_TEXT_MAX)
    tip.place_text = typed
    places = services.gazetteer.search(typed, limit=5)
    return Reply(send=[render.where_matches(services, lang, tip, typed, places)])


async def _who_text(
    session: AsyncSession, services: Services, state: State, tip: Tip, text: str
) -> Reply:
    lang = state.lang
    if len(text) > _PERPETRATOR_TEXT_MAX:
        return await reprompt(
            session, services, tip, lang, "who-too-long", limit=_PERPETRATOR_TEXT_MAX
        )
    intake.set_perpetrator(tip, "other", text.strip())
    prefix = saved_line(services, lang, "who", render.perpetrator_text(services, lang, tip))
    return await advance(session, services, tip, lang, prefix, via_callback=False)


async def _evidence_text(
    session: AsyncSession, services: Services, state: State, tip: Tip, text: str
) -> Reply:
    # Words sent while files are expected are kept: they join the description.
    return await _append_description(session, services, state, tip, text, stay=False)


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


async def on_text(session: AsyncSession, services: Services, state: State, text: str) -> Reply:
    """Typed text in a private chat, wherever the reporter is."""
    t = services.catalog.t
    if not state.consented:
        return consent_first(services, state.lang)
    if state.draft is None:
        return Reply(send=[render.menu(services.catalog, state.lang, t(state.lang, "menu-hint"))])
    tip = state.draft
    return await TEXT[tip.step or STEPS[0]](session, services, state, tip, text)


async def on_location(
    session: AsyncSession,
    services: Services,
    state: State,
    lat: float,
    lon: float,
    label: str | None,
) -> Reply:
    """A shared point (location or venue): the incident's place at the "where" step."""
    t = services.catalog.t
    lang = state.lang
    if not state.consented:
        return consent_first(services, lang)
    tip = state.draft
    if tip is None:
        return Reply(send=[render.menu(services.catalog, lang, t(lang, "location-no-report"))])
    if tip.step != "where":
        return await reprompt(session, services, tip, lang, "location-wrong-step")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return await reprompt(session, services, tip, lang, "location-invalid")
    nearest = services.gazetteer.nearest(lat, lon)
    intake.set_place_from_point(tip, lat, lon, nearest, label)
    prefix = saved_line(services, lang, "where", render.place_text(services, lang, tip))
    return await advance(session, services, tip, lang, prefix, via_callback=False)


async def on_unsupported(
    session: AsyncSession, services: Services, state: State, what: str
) -> Reply:
    t = services.catalog.t
    lang = state.lang
    if not state.consented:
        return consent_first(services, lang)
    if state.draft is None:
        return Reply(
            send=[
                render.menu(
                    services.catalog, lang, t(lang, "unsupported", what=t(lang, f"kind-{what}"))
                )
            ]
        )
    return await reprompt(
        session, services, state.draft, lang, "unsupported", what=t(lang, f"kind-{what}")
    )


def unsupported_kind(message: Message) -> str:
    """A short name for a message the intake does not accept (for the reply)."""
    for attribute in ("sticker", "contact", "poll", "dice", "game", "story", "invoice"):
        if getattr(message, attribute, None) is not None:
            return attribute
    return "other"
