"""The report's steps: one row each, in one table (:data:`FLOW`).

A row is everything a step is: its prompt and what it shows so far, its buttons and what
their presses do, the typed text (or shared point) it takes and how that is checked, whether
it must be answered before the report can be sent, and where an answer leads. The draft's
step, stored in ``tip.step`` (:class:`bot.intake.Step`), picks the row — as a state picks
its window in aiogram_dialog, or its handlers in PTB's ``ConversationHandler.states``.
The handlers (:mod:`handlers.intake`) parse an update and hand it to the row; the row
changes the draft through :mod:`bot.intake` and draws the next screen.

Callback data: ``r:<step>:<action>[:<arg>]`` for a step's buttons (:class:`StepPress`);
``r:resume``, ``r:restart:<tip>``, ``r:discard:yes:<tip>`` and ``r:discard:no`` for the draft
itself (:class:`DraftPress`). A press of another step than the draft's is stale, except
Cancel, which every step's screen offers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton

from bot import intake
from bot.gazetteer import Place
from bot.i18n import Html
from bot.intake import FIRST_STEP, Step
from bot.text import clean_optional
from db.models import DatePrecision, Tip
from handlers import render
from handlers.base import Screen, Services, button, keyboard, parse_id
from handlers.replies import Reply
from handlers.state import State, stale_button

Rows = list[list[InlineKeyboardButton]]


# ---------------------------------------------------------------------------- presses


@dataclass(frozen=True, slots=True)
class StepPress:
    """A parsed ``r:<step>:<action>[:<arg>]``: a button of a step's screen."""

    step: Step
    action: str
    arg: str = ""

    @property
    def data(self) -> str:
        return f"r:{self.step}:{self.action}" + (f":{self.arg}" if self.arg else "")

    @classmethod
    def parse(cls, data: str) -> StepPress | None:
        """The press in ``data``, or None unless it is one a step's screen could carry."""
        parts = data.split(":")
        if len(parts) not in (3, 4) or parts[0] != "r" or parts[1] not in _STEP_VALUES:
            return None
        arg = parts[3] if len(parts) == 4 else ""
        return cls(Step(parts[1]), parts[2], arg) if parts[2] else None


_STEP_VALUES = frozenset(step.value for step in Step)

# What a press on the draft itself asks for.
RESUME = "resume"  # continue where it stopped
KEEP = "keep"  # "No" to deleting it: continue
RESTART = "restart"  # delete it and start a new one
DELETE = "delete"  # delete it
_DRAFT_DATA = {
    RESUME: "r:resume",
    KEEP: "r:discard:no",
    RESTART: "r:restart",
    DELETE: "r:discard:yes",
}


@dataclass(frozen=True, slots=True)
class DraftPress:
    """A parsed press on the draft as a whole (:data:`RESUME`, :data:`KEEP`,
    :data:`RESTART`, :data:`DELETE`). The destructive two name the draft they were shown
    for (``tip_id``; None when the data named none, or not as this bot writes an id), so
    an old button cannot touch a newer report."""

    action: str
    tip_id: int | None = None

    @property
    def data(self) -> str:
        prefix = _DRAFT_DATA[self.action]
        return prefix if self.tip_id is None else f"{prefix}:{self.tip_id}"

    @property
    def destructive(self) -> bool:
        return self.action in (RESTART, DELETE)

    def applies_to(self, tip: Tip) -> bool:
        """Whether the press may act on ``tip``, the draft being written now."""
        return not self.destructive or self.tip_id == tip.id

    @classmethod
    def parse(cls, data: str) -> DraftPress | None:
        for action, prefix in _DRAFT_DATA.items():
            if data == prefix:
                return cls(action)
            named = cls(action, parse_id(data[len(prefix) + 1 :]))
            if named.destructive and data.startswith(prefix + ":"):
                return named
        return None


# ---------------------------------------------------------------------------- screens


@dataclass(frozen=True, slots=True)
class View:
    """What a step's screen is drawn from: the draft at ``step``, its files by kind."""

    services: Services
    lang: str
    tip: Tip
    counts: Mapping[str, int]
    step: Step

    def t(self, key: str, **args: object) -> Html:
        return self.services.catalog.t(self.lang, key, **args)

    def button(
        self, label: str, action: str, arg: str = "", **args: object
    ) -> InlineKeyboardButton:
        """A button of this step: ``label`` (a catalog key) sending ``action`` and ``arg``."""
        return button(self.t(label, **args), StepPress(self.step, action, arg).data)

    def choice(
        self, label: str, action: str, arg: str = "", *, chosen: bool
    ) -> list[InlineKeyboardButton]:
        """A one-button row, ticked when it is the current answer."""
        data = StepPress(self.step, action, arg).data
        return [button(("✓ " if chosen else "") + self.t(label), data)]

    def title(self) -> Html:
        return self.t(ROWS[self.step].title, number=number(self.step), total=len(FLOW))


def number(step: Step) -> int:
    """The step's place in the report ("Step 3 of 8")."""
    return _NUMBERS[step]


def back_of(tip: Tip) -> Step | None:
    """Where Back leads from the draft's step (None: nowhere)."""
    step = Step(tip.step or FIRST_STEP)
    return intake.back_target(tip, _PREVIOUS.get(step))


def _nav(view: View, *, back_to: str = "") -> list[InlineKeyboardButton]:
    """Back, (Skip,) Cancel. Back leads to the step before (or the review), or, on a
    sub-screen, to ``back_to`` (the step's choices): one Back per screen, so two buttons that
    look the same never lead to different places."""
    row = ROWS[view.step]
    skip = [view.button("nav-skip", "skip")] if row.skip and not back_to else []
    return [*_back(view, row, back_to), *skip, view.button("nav-cancel", "cancel")]


def _back(view: View, row: StepRow, back_to: str) -> list[InlineKeyboardButton]:
    if back_to:
        return [view.button("nav-back", back_to)]
    if not row.back or back_of(view.tip) is None:
        return []
    key = "nav-back-review" if view.tip.return_to_review else "nav-back"
    return [view.button(key, "back")]


def step_screen(
    services: Services,
    lang: str,
    tip: Tip,
    media_counts: Mapping[str, int] | None = None,
    *,
    variant: str = "",
    brief: bool = False,
) -> Screen:
    """The screen of the draft's current step (``variant``: one of its sub-screens).

    ``brief``: the step's title (with what it holds so far: the description saved, the
    review's summary) over the same buttons, for an answer that comes while the reporter is
    at the step (a file's receipt, "saved"): the step's text was shown when they got there,
    and is not repeated after every message.
    """
    step = Step(tip.step or FIRST_STEP)
    view = View(services, lang, tip, dict(media_counts or {}), step)
    return ROWS[step].draw(view, variant=variant, brief=brief)


def resume_prompt(services: Services, lang: str, tip: Tip) -> Screen:
    """Continue the unfinished report, or start over (which deletes it)."""
    t = services.catalog.t
    started = tip.created_at.astimezone(services.timezone).date()
    text = t(
        lang,
        "resume-text",
        started=services.catalog.format_date(lang, started, DatePrecision.DAY),
        step=number(Step(tip.step or FIRST_STEP)),
        total=len(FLOW),
    )
    rows = [
        [button(t(lang, "resume-continue"), DraftPress(RESUME).data)],
        [button(t(lang, "resume-restart"), DraftPress(RESTART, tip.id).data)],
    ]
    return Screen(text, keyboard(rows))


def discard_confirm(services: Services, lang: str, tip: Tip) -> Screen:
    """ "Delete this draft?" — the button names the draft, so an old one cannot delete a
    newer report."""
    t = services.catalog.t
    rows = [
        [button(t(lang, "discard-yes"), DraftPress(DELETE, tip.id).data)],
        [button(t(lang, "discard-no"), DraftPress(KEEP).data)],
    ]
    return Screen(t(lang, "discard-confirm"), keyboard(rows))


# ---------------------------------------------------------------------------- a turn


def today(services: Services) -> datetime:
    return datetime.now(services.timezone)


@dataclass(slots=True)
class Turn:
    """One answer at the draft's step, inside the update's transaction. ``pressed``: it came
    from a button, so the next screen takes the pressed message's place."""

    session: AsyncSession
    state: State
    tip: Tip
    pressed: bool

    @property
    def row(self) -> StepRow:
        return ROWS[Step(self.tip.step or FIRST_STEP)]

    @property
    def services(self) -> Services:
        return self.state.services

    def t(self, key: str, **args: object) -> Html:
        return self.state.t(key, **args)

    async def counts(self) -> dict[str, int]:
        return await intake.media_counts(self.session, self.tip.id)

    async def screen(self, *, variant: str = "", brief: bool = False) -> Screen:
        """The step's screen; the report's files are counted only where it shows them."""
        counts = await self.counts() if self.row.counted else {}
        return step_screen(
            self.services, self.state.lang, self.tip, counts, variant=variant, brief=brief
        )

    def show(self, screen: Screen) -> Reply:
        """``screen`` in place of the pressed message, or as a new message."""
        return Reply(edit=screen) if self.pressed else Reply(send=[screen])

    async def reprompt(self, key: str, *, brief: bool = False, **args: object) -> Reply:
        """A clear message (what went wrong, or what was saved) with the step's buttons right
        under it: over the step's whole screen, or, ``brief``, over its title only."""
        screen = await self.screen(brief=brief)
        return Reply(send=[screen.with_prefix(self.t(key, **args))])

    async def move_to(self, step: Step, *, prefix: str = "", from_review: bool = False) -> Reply:
        intake.go_to(self.tip, step, from_review=from_review)
        return self.show((await self.screen()).with_prefix(prefix))

    async def advance(self, prefix: str = "") -> Reply:
        """The step is answered: on to where it leads (or back to the review)."""
        leads_to = self.row.leads_to
        assert leads_to is not None, "the last step is sent, not answered"
        return await self.move_to(intake.move_on(self.tip, leads_to), prefix=prefix)

    async def saved(self, value: str) -> Reply:
        """The step is answered with ``value``: say so over the next step."""
        label = self.row.answer_label
        assert label is not None
        line = self.t("saved-line", field=self.t(label), value=Html(value))
        return await self.advance(line)

    def stale(self) -> Reply:
        return stale_button(self.state)


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


# ---------------------------------------------------------------------------- the row

Action = Callable[[Turn, StepPress], Awaitable[Reply]]
TextAction = Callable[[Turn, str], Awaitable[Reply]]
PointAction = Callable[[Turn, float, float, str | None], Awaitable[Reply]]
Check = Callable[[Tip, Mapping[str, int]], bool]
Lines = Callable[[View], list[str]]


def _none(_view: View) -> list[str]:
    return []


def _no_buttons(_view: View) -> Rows:
    return []


def _no_args(_view: View) -> dict[str, object]:
    return {}


@dataclass(frozen=True, slots=True)
class StepRow:
    """One step: everything it is, in one place."""

    step: Step
    prompt: str  # catalog key of the text under its title
    leads_to: Step | None  # where an answer leads (None: the report is sent from here)
    buttons: Callable[[View], Rows] = _no_buttons  # its buttons, over Back/Skip/Cancel
    presses: Mapping[str, Action] = field(default_factory=dict)  # what they do
    text: TextAction | None = None  # typed text it takes (None: "use the buttons")
    point: PointAction | None = None  # a point shared on the map it takes
    required: Check | None = None  # answered yet? (None: it may be left out)
    answer_label: str | None = None  # catalog key naming its answer in "✓ Date: ..."
    edit_label: str | None = None  # catalog key of the review's button to change it
    counted: bool = False  # its screen shows the report's files (a query for them)
    testimony: bool = False  # a voice message here answers it (it is the account)
    subscreens: Mapping[str, str] = field(default_factory=dict)  # press → prompt key
    held: Lines = _none  # what it holds so far (also on the brief screen)
    notes: Lines = _none  # lines under the prompt (full screen only)
    prompt_args: Callable[[View], dict[str, object]] = _no_args
    back: bool = True  # offers Back
    skip: bool = False  # offers Skip

    @property
    def title(self) -> str:
        return f"step-{self.step}-title"

    @property
    def use_buttons(self) -> str:
        """What typed text is told where the step takes none."""
        return f"use-buttons-{self.step}"

    def locale_keys(self) -> Iterator[str]:
        """The catalog keys the row names itself (its screens name the rest)."""
        yield from (self.title, self.prompt, *self.subscreens.values())
        optional = (self.answer_label, self.edit_label, None if self.text else self.use_buttons)
        yield from (key for key in optional if key is not None)

    def draw(self, view: View, *, variant: str = "", brief: bool = False) -> Screen:
        if variant:
            text = f"{view.title()}\n{view.t(self.subscreens[variant])}"
            return Screen(Html(text), keyboard([_nav(view, back_to="show")]))
        lines: list[str] = [view.title()]
        if not brief:
            lines += [view.t(self.prompt, **self.prompt_args(view)), *self.notes(view)]
        lines += self.held(view)
        return Screen(Html("\n".join(lines)), keyboard([*self.buttons(view), _nav(view)]))

    async def press(self, turn: Turn, press: StepPress) -> Reply:
        """A button of this step, pressed while the draft is at it."""
        action = self.presses.get(press.action) or _common_press(self, press.action)
        return await action(turn, press) if action is not None else turn.stale()

    async def typed(self, turn: Turn, text: str) -> Reply:
        if self.text is None:
            return await turn.reprompt(self.use_buttons)
        return await self.text(turn, text)


def _common_press(row: StepRow, action: str) -> Action | None:
    """The presses a step takes besides its own: Back, and its sub-screens (and the way
    back from them to its choices)."""
    if action == "back":
        return _go_back
    opens = action in row.subscreens or action == "show"
    return _subscreen if row.subscreens and opens else None


async def _go_back(turn: Turn, _press: StepPress) -> Reply:
    target = back_of(turn.tip)
    return await turn.move_to(target) if target is not None else turn.stale()


async def _subscreen(turn: Turn, press: StepPress) -> Reply:
    variant = "" if press.action == "show" else press.action
    return turn.show(await turn.screen(variant=variant))


async def on_press(turn: Turn, press: StepPress) -> Reply:
    """A step's button: Cancel from any step's screen; the rest only at the draft's step."""
    if press.action == "cancel":
        return Reply(edit=discard_confirm(turn.services, turn.state.lang, turn.tip))
    if press.step != turn.tip.step:
        return turn.stale()
    return await ROWS[press.step].press(turn, press)


def missing(tip: Tip, counts: Mapping[str, int]) -> list[Step]:
    """The steps that must be answered before the report can be sent, and are not."""
    return [row.step for row in FLOW if row.required and not row.required(tip, counts)]


def takes_voice(step: str | None) -> bool:
    """Whether a voice message sent at ``step`` is its answer (testimony)."""
    return step is not None and ROWS[Step(step)].testimony


# ---------------------------------------------------------------------------- 1 category


def _category_buttons(view: View) -> Rows:
    tip = view.tip
    return [
        view.choice(f"category-{code}", "set", code, chosen=tip.category == code)
        for code in view.services.settings.tipbot_categories
    ]


async def _set_category(turn: Turn, press: StepPress) -> Reply:
    if press.arg not in turn.services.settings.tipbot_categories:
        return turn.stale()
    intake.set_category(turn.tip, press.arg)
    return await turn.saved(turn.t(f"category-{press.arg}"))


# ---------------------------------------------------------------------------- 2 description


def _description_saved(view: View) -> list[str]:
    """What the description holds so far (a line), or nothing when it is still empty."""
    voices = view.counts.get("voice", 0)
    chars = len(view.tip.description or "")
    if chars:
        return [view.t("step-description-saved", chars=chars, voices=voices)]
    if voices:
        return [view.t("step-description-saved-voice", voices=voices)]
    return []


def _description_buttons(view: View) -> Rows:
    return [[view.button("nav-next", "next")]] if _description_saved(view) else []


async def _description_done(turn: Turn, _press: StepPress) -> Reply:
    if not intake.has_description(turn.tip, await turn.counts()):
        return Reply(toast=turn.t("description-empty"), alert=True)
    return await turn.advance()


_DESCRIPTION_REFUSALS = {
    intake.TOO_LONG: "description-too-long",
    intake.TOTAL_TOO_LONG: "description-total-too-long",
}


def _appending(saved_key: str) -> TextAction:
    """Typed words join the description (at the evidence step too: they are kept)."""

    async def append(turn: Turn, text: str) -> Reply:
        settings = turn.services.settings
        message, total = (
            settings.tipbot_description_max_chars,
            settings.tipbot_description_total_chars,
        )
        refused = intake.append_description(
            turn.tip, text, message_limit=message, total_limit=total
        )
        if refused is None:
            return await turn.reprompt(saved_key, brief=True)
        limit = message if refused == intake.TOO_LONG else total
        return await turn.reprompt(_DESCRIPTION_REFUSALS[refused], length=len(text), limit=limit)

    return append


# ---------------------------------------------------------------------------- 3 when


def _when_buttons(view: View) -> Rows:
    return [
        [view.button("when-today", "today"), view.button("when-yesterday", "yesterday")],
        [view.button("when-type", "type"), view.button("when-unknown", "unknown")],
    ]


async def _saved_date(turn: Turn) -> Reply:
    return await turn.saved(render.date_text(turn.services, turn.state.lang, turn.tip))


def _days_ago(days: int) -> Action:
    async def choose(turn: Turn, _press: StepPress) -> Reply:
        day = today(turn.services).date() - timedelta(days=days)
        intake.set_incident_date(turn.tip, day, DatePrecision.DAY, None)
        return await _saved_date(turn)

    return choose


async def _date_unknown(turn: Turn, _press: StepPress) -> Reply:
    intake.set_incident_date(turn.tip, None, "unknown", None)
    return await _saved_date(turn)


async def _typed_date(turn: Turn, text: str) -> Reply:
    earliest = turn.services.settings.tipbot_earliest_incident_date
    refused = intake.answer_date(
        turn.tip, text, today=today(turn.services).date(), earliest=earliest
    )
    if refused is None:
        return await _saved_date(turn)
    shown = turn.services.catalog.format_date(turn.state.lang, earliest, DatePrecision.DAY)
    return await turn.reprompt(f"date-error-{refused}", earliest=shown)


# ---------------------------------------------------------------------------- 4 where


def _where_buttons(view: View) -> Rows:
    return [[view.button("where-unknown", "none")]]


async def _saved_place(turn: Turn) -> Reply:
    return await turn.saved(render.place_text(turn.services, turn.state.lang, turn.tip))


async def _pick_place(turn: Turn, press: StepPress) -> Reply:
    settlement = parse_id(press.arg)
    place = turn.services.gazetteer.get(settlement) if settlement is not None else None
    if place is None:
        return turn.stale()
    intake.set_place_from_settlement(turn.tip, place, turn.tip.place_text)
    return await _saved_place(turn)


async def _keep_typed_place(turn: Turn, _press: StepPress) -> Reply:
    if not turn.tip.place_text:
        return turn.stale()
    intake.set_place_as_typed(turn.tip, turn.tip.place_text)
    return await _saved_place(turn)


async def _place_unknown(turn: Turn, _press: StepPress) -> Reply:
    intake.set_place_unknown(turn.tip)
    return await _saved_place(turn)


async def _typed_place(turn: Turn, text: str) -> Reply:
    if intake.note_place_typed(turn.tip, text) is not None:
        return await turn.reprompt("where-too-long", limit=intake.PLACE_TEXT_MAX)
    typed = turn.tip.place_text or ""
    places = turn.services.gazetteer.search(typed, limit=5)
    view = View(turn.services, turn.state.lang, turn.tip, {}, Step.WHERE)
    return Reply(send=[_where_matches(view, typed, places)])


def _where_matches(view: View, typed: str, places: Sequence[Place]) -> Screen:
    """Up to five settlements matching what the reporter typed, or a "not found" screen."""
    rows: Rows = [
        [button(place.label(view.lang), StepPress(Step.WHERE, "pick", str(place.geonameid)).data)]
        for place in places
    ]
    shown = typed if len(typed) <= 28 else typed[:27] + "…"
    rows.append([view.button("where-keep", "keep", typed=shown)])
    rows.extend([*_where_buttons(view), _nav(view)])
    key = "where-matches" if places else "where-not-found"
    return Screen(Html(f"{view.title()}\n{view.t(key, typed=typed)}"), keyboard(rows))


async def _shared_point(turn: Turn, lat: float, lon: float, label: str | None) -> Reply:
    if not intake.valid_point(lat, lon):
        return await turn.reprompt("location-invalid")
    nearest = turn.services.gazetteer.nearest(lat, lon)
    intake.set_place_from_point(turn.tip, lat, lon, nearest, clean_optional(label))
    return await _saved_place(turn)


# ---------------------------------------------------------------------------- 5 who


def _who_buttons(view: View) -> Rows:
    tip = view.tip
    choices = ["unknown", *view.services.settings.tipbot_parties]
    rows = [
        view.choice(f"party-{code}", "set", code, chosen=tip.perpetrator == code)
        for code in choices
    ]
    return [*rows, [view.button("party-other", "other")]]


async def _saved_perpetrator(turn: Turn) -> Reply:
    return await turn.saved(render.perpetrator_text(turn.services, turn.state.lang, turn.tip))


async def _set_perpetrator(turn: Turn, press: StepPress) -> Reply:
    if press.arg not in ("unknown", *turn.services.settings.tipbot_parties):
        return turn.stale()
    intake.set_perpetrator(turn.tip, press.arg)
    return await _saved_perpetrator(turn)


async def _skip(turn: Turn, _press: StepPress) -> Reply:
    return await turn.advance()


async def _described_perpetrator(turn: Turn, text: str) -> Reply:
    if intake.describe_perpetrator(turn.tip, text) is not None:
        return await turn.reprompt("who-too-long", limit=intake.PERPETRATOR_TEXT_MAX)
    return await _saved_perpetrator(turn)


# ---------------------------------------------------------------------------- 6 evidence


def _evidence_buttons(view: View) -> Rows:
    # Voice messages are testimony, shown at the description step.
    label = "evidence-done" if intake.file_count(view.counts) else "evidence-none"
    return [[view.button(label, "done")]]


def _evidence_count(view: View) -> list[str]:
    total = intake.file_count(view.counts)
    return [view.t("step-evidence-count", total=total)] if total else []


def _evidence_limit(view: View) -> dict[str, object]:
    return {"max": view.services.settings.tipbot_max_files_per_report}


async def _evidence_done(turn: Turn, _press: StepPress) -> Reply:
    acks = turn.services.acks
    if acks is None:
        return await turn.advance()
    # Files sent just before are acknowledged over the next step (those answering a
    # question came in the same burst: their receipt goes first).
    chat_id = turn.state.person.chat_id
    return await turn.advance(await acks.take_text(turn.session, turn.tip, chat_id))


# ---------------------------------------------------------------------------- 7 contact


def _contact_buttons(view: View) -> Rows:
    """A separate tick first (it stays on the step): one message when the report has been
    reviewed, off unless ticked. Then may the team ask questions: yes or no moves on."""
    tip = view.tip
    if tip.notify_reviewed:
        notify = view.button("contact-notify-on", "notify", "off")
    else:
        notify = view.button("contact-notify-off", "notify", "on")
    return [
        [notify],
        view.choice("contact-yes", "yes", chosen=bool(tip.contact_allowed)),
        view.choice("contact-no", "no", chosen=not tip.contact_allowed),
    ]


async def _notify(turn: Turn, press: StepPress) -> Reply:
    """The separate opt-in for the "reviewed" notice: ticked or not, same step."""
    if press.arg not in ("on", "off"):
        return turn.stale()
    turn.tip.notify_reviewed = press.arg == "on"
    return turn.show(await turn.screen())


async def _contact(turn: Turn, press: StepPress) -> Reply:
    turn.tip.contact_allowed = press.action == "yes"
    return await turn.saved(turn.t(f"contact-{press.action}-short"))


# ---------------------------------------------------------------------------- 8 review


def _review_buttons(view: View) -> Rows:
    """A button to change each step that can be changed, two a row; then Send."""
    edits = [view.button(row.edit_label, "edit", row.step) for row in FLOW if row.edit_label]
    return [
        *(edits[i : i + 2] for i in range(0, len(edits), 2)),
        [view.button("review-submit", "submit")],
    ]


def _summary(view: View) -> list[str]:
    return ["", render.describe_tip(view.services, view.lang, view.tip, view.counts)]


async def _edit(turn: Turn, press: StepPress) -> Reply:
    if press.arg not in _EDITABLE:
        return turn.stale()
    return await turn.move_to(Step(press.arg), from_review=True)


async def _submit(turn: Turn, _press: StepPress) -> Reply:
    state = turn.state
    if missing(turn.tip, await turn.counts()):
        return Reply(toast=turn.t("review-missing"), alert=True)
    refusal = await daily_limit_reply(turn.session, state)
    if refusal is not None:
        return Reply(toast=refusal.toast, alert=True)
    assert state.reporter is not None
    distance = turn.services.settings.tipbot_duplicate_distance
    await intake.submit(turn.session, turn.tip, state.reporter, duplicate_distance=distance)
    return Reply(edit=render.submitted(turn.services.catalog, state.lang, turn.tip))


# ---------------------------------------------------------------------------- the table

FLOW: tuple[StepRow, ...] = (
    StepRow(
        Step.CATEGORY,
        prompt="step-category-text",
        leads_to=Step.DESCRIPTION,
        buttons=_category_buttons,
        presses={"set": _set_category},
        required=intake.has_category,
        answer_label="field-category",
        edit_label="review-edit-category",
    ),
    StepRow(
        Step.DESCRIPTION,
        prompt="step-description-text",
        leads_to=Step.WHEN,
        buttons=_description_buttons,
        presses={"next": _description_done},
        text=_appending("description-saved"),
        required=intake.has_description,
        edit_label="review-edit-description",
        counted=True,
        testimony=True,
        held=_description_saved,
    ),
    StepRow(
        Step.WHEN,
        prompt="step-when-text",
        leads_to=Step.WHERE,
        buttons=_when_buttons,
        presses={"today": _days_ago(0), "yesterday": _days_ago(1), "unknown": _date_unknown},
        text=_typed_date,
        required=intake.has_date,
        answer_label="field-when",
        edit_label="review-edit-when",
        subscreens={"type": "step-when-type"},
    ),
    StepRow(
        Step.WHERE,
        prompt="step-where-text",
        leads_to=Step.WHO,
        buttons=_where_buttons,
        presses={"pick": _pick_place, "keep": _keep_typed_place, "none": _place_unknown},
        text=_typed_place,
        point=_shared_point,
        answer_label="field-where",
        edit_label="review-edit-where",
    ),
    StepRow(
        Step.WHO,
        prompt="step-who-text",
        leads_to=Step.EVIDENCE,
        buttons=_who_buttons,
        presses={"set": _set_perpetrator, "skip": _skip},
        text=_described_perpetrator,
        answer_label="field-who",
        edit_label="review-edit-who",
        subscreens={"other": "step-who-other"},
        skip=True,
    ),
    StepRow(
        Step.EVIDENCE,
        prompt="step-evidence-text",
        leads_to=Step.CONTACT,
        buttons=_evidence_buttons,
        presses={"done": _evidence_done},
        text=_appending("description-appended"),  # words sent with the files are kept
        edit_label="review-edit-evidence",
        counted=True,
        notes=_evidence_count,
        prompt_args=_evidence_limit,
    ),
    StepRow(
        Step.CONTACT,
        prompt="step-contact-text",
        leads_to=Step.REVIEW,
        buttons=_contact_buttons,
        presses={"notify": _notify, "yes": _contact, "no": _contact},
        answer_label="field-contact",
        edit_label="review-edit-contact",
    ),
    StepRow(
        Step.REVIEW,
        prompt="step-review-text",
        leads_to=None,
        buttons=_review_buttons,
        presses={"edit": _edit, "submit": _submit},
        counted=True,
        held=_summary,
        back=False,
    ),
)

ROWS: Mapping[Step, StepRow] = {row.step: row for row in FLOW}
_NUMBERS = {row.step: index for index, row in enumerate(FLOW, start=1)}
_PREVIOUS = {row.leads_to: row.step for row in FLOW if row.leads_to is not None}
_EDITABLE = frozenset(row.step.value for row in FLOW if row.edit_label)
