"""The step table (handlers/steps.py) is the one definition of the report's steps: it covers
every step a draft can be at, its rows agree with one another and with the catalogs, every
button a step shows is a press that step takes, and no other module defines a step."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import LANGUAGES, Catalog, Html
from bot.intake import FIRST_STEP, STEPS, Step
from bot.settings import load_settings
from db.models import Tip
from handlers.base import Screen, Services
from handlers.steps import FLOW, ROWS, DraftPress, StepPress, StepRow, step_screen

ROOT = Path(__file__).resolve().parents[2]
# Presses every step's screen may carry besides its own: Back and Cancel.
NAVIGATION = {"back", "cancel"}


CATALOG = Catalog.load()


class Recording(Catalog):
    """The catalogs, remembering every key asked of them."""

    def __init__(self) -> None:
        self._bundles = CATALOG._bundles
        self.asked: set[str] = set()

    def t(self, lang: str, key: str, **args: Any) -> Html:
        self.asked.add(key)
        return super().t(lang, key, **args)


SETTINGS = load_settings(
    _env_file=None, telegram_bot_token="123456789:" + "A" * 35, tipbot_secret_key="k" * 40
)


def services(catalog: Catalog) -> Services:
    none = cast(Any, None)
    return Services(
        settings=SETTINGS,
        catalog=catalog,
        keyring=none,
        sessions=none,
        store=none,
        downloader=none,
        gazetteer=none,
        processor=none,
        timezone=ZoneInfo("Europe/Kyiv"),
        gate=none,
    )


def drafts(step: Step) -> list[Tip]:
    """The draft at ``step``: empty, and answered (so ticks, Next and Back all show)."""
    empty = Tip(id=7, reference="K7QM-4XHD", step=step, return_to_review=False)
    answered = Tip(
        id=7,
        reference="K7QM-4XHD",
        step=step,
        return_to_review=step is not Step.REVIEW,
        category="strike",
        description="What I saw.",
        incident_date=date(2022, 2, 24),
        incident_date_precision="day",
        location_precision="none",
        location_source="none",
        perpetrator="unknown",
        contact_allowed=True,
        notify_reviewed=True,
        created_at=datetime(2026, 3, 8, tzinfo=UTC),
    )
    return [empty, answered]


def screens(catalog: Catalog, row: StepRow, lang: str = "en") -> list[Screen]:
    """Every screen of a step: full and brief, with and without files, each sub-screen."""
    shown: list[Screen] = []
    for tip in drafts(row.step):
        for counts in ({}, {"photo": 2, "voice": 1}):
            shown.append(step_screen(services(catalog), lang, tip, counts))
            shown.append(step_screen(services(catalog), lang, tip, counts, brief=True))
            shown.extend(
                step_screen(services(catalog), lang, tip, counts, variant=variant)
                for variant in row.subscreens
            )
    return shown


def presses(screen: Screen) -> list[str]:
    markup = screen.markup
    assert markup is not None
    keyboard = cast(Any, markup).inline_keyboard
    return [button.callback_data for row in keyboard for button in row]


# ---------------------------------------------------------------------------- coverage


def test_every_step_a_draft_can_be_at_has_one_row() -> None:
    assert [row.step for row in FLOW] == list(STEPS) == list(Step)
    assert set(ROWS) == set(Step)
    assert len({row.step for row in FLOW}) == len(FLOW)


def test_the_steps_lead_from_the_first_through_every_row_to_the_end() -> None:
    assert FLOW[0].step == FIRST_STEP
    visited: list[Step] = []
    step: Step | None = FIRST_STEP
    while step is not None:
        assert step not in visited, f"{step} is reached twice"
        assert step in ROWS, f"{visited[-1]} leads to {step}, which has no row"
        visited.append(step)
        step = ROWS[step].leads_to
    assert visited == [row.step for row in FLOW], "the table lists the steps in their order"
    assert [row.step for row in FLOW if row.leads_to is None] == [Step.REVIEW]


def test_what_must_be_answered_and_what_may_be_left_out() -> None:
    required = [row.step for row in FLOW if row.required is not None]
    assert required == [Step.CATEGORY, Step.DESCRIPTION, Step.WHEN]


def test_every_key_a_row_names_exists_in_every_language() -> None:
    catalog = CATALOG
    for row in FLOW:
        for key in row.locale_keys():
            missing = [lang for lang in LANGUAGES if not catalog.has(lang, key)]
            assert not missing, f"{row.step}: {key} is missing in {missing}"


@pytest.mark.parametrize("row", FLOW, ids=[row.step.value for row in FLOW])
def test_every_key_a_steps_screens_ask_for_exists_in_every_language(row: StepRow) -> None:
    catalog = Recording()
    screens(catalog, row)
    assert catalog.asked
    for key in catalog.asked:
        missing = [lang for lang in LANGUAGES if not catalog.has(lang, key)]
        assert not missing, f"{row.step}: {key} is missing in {missing}"


# ---------------------------------------------------------------------------- buttons


@pytest.mark.parametrize("row", FLOW, ids=[row.step.value for row in FLOW])
def test_every_button_of_a_step_is_a_press_it_takes(row: StepRow) -> None:
    taken = set(row.presses) | NAVIGATION | set(row.subscreens)
    if row.subscreens:
        taken.add("show")
    seen: set[str] = set()
    for screen in screens(CATALOG, row):
        for data in presses(screen):
            press = StepPress.parse(data)
            assert press is not None, data
            assert press.data == data
            assert press.step == row.step, data
            assert press.action in taken, data
            seen.add(press.action)
    # And every press it takes is on one of its screens (the place step's choices are on
    # the screen that answers a typed name).
    assert set(row.presses) - seen <= ({"pick", "keep"} if row.step is Step.WHERE else set())


def test_the_reviews_edit_buttons_come_from_the_table() -> None:
    review = ROWS[Step.REVIEW]
    shown = [
        StepPress.parse(data) for screen in screens(CATALOG, review)[:1] for data in presses(screen)
    ]
    edits = [press.arg for press in shown if press is not None and press.action == "edit"]
    assert edits == [row.step for row in FLOW if row.edit_label]
    assert Step.REVIEW not in edits


@pytest.mark.parametrize(
    "data",
    ["r:nonsense", "r:description", "r:description:", "r:nowhere:set:x", "x:category:set:a",
     "r:category:set:a:b", "r:resume", "r:restart:7"],
)  # fmt: skip
def test_malformed_step_presses_do_not_parse(data: str) -> None:
    assert StepPress.parse(data) is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("r:resume", DraftPress("resume")),
        ("r:discard:no", DraftPress("keep")),
        ("r:restart:7", DraftPress("restart", 7)),
        ("r:discard:yes:7", DraftPress("delete", 7)),
        # Buttons from before they named their draft, and ids not as this bot writes them,
        # name no draft: they act on none.
        ("r:restart", DraftPress("restart")),
        ("r:discard:yes", DraftPress("delete")),
        ("r:restart:٧", DraftPress("restart")),
        ("r:discard:yes:007", DraftPress("delete")),
        ("r:discard:yes:99999999999999999999", DraftPress("delete")),
        ("r:resume:7", None),
        ("r:discard:no:7", None),
        ("r:discard", None),
        ("r:category:set:strike", None),
    ],
)
def test_draft_presses_parse_strictly(data: str, expected: DraftPress | None) -> None:
    assert DraftPress.parse(data) == expected


def test_a_destructive_press_acts_only_on_the_draft_it_names() -> None:
    draft = Tip(id=7)
    assert DraftPress("restart", 7).applies_to(draft)
    assert not DraftPress("restart", 8).applies_to(draft)
    assert not DraftPress("delete").applies_to(draft)
    assert DraftPress("resume").applies_to(draft)


# ---------------------------------------------------------------------------- one place


# Where a step may be named: its value (bot/intake.py) and its row (handlers/steps.py).
DEFINED_IN = {"bot/intake.py", "handlers/steps.py"}
STEP_VALUES = {step.value for step in Step}


def _literal(node: ast.expr | None) -> bool:
    """A step's value written out ("where")."""
    return isinstance(node, ast.Constant) and node.value in STEP_VALUES


def _member(node: ast.expr | None) -> bool:
    """A step named by its member (Step.WHERE)."""
    return isinstance(node, ast.Attribute) and ast.unparse(node.value) in ("Step", "intake.Step")


def step_definitions(path: Path, rel: str) -> list[str]:
    """What in a module defines or singles out a step: a comparison of something's step
    with a step written out (or, outside the two places that define steps, named), a
    collection naming three steps or more (a table of its own), a step's callback data,
    a step named at all outside those two places."""
    elsewhere = rel not in DEFINED_IN
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{rel}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Compare) and "step" in ast.unparse(node).lower():
            operands = [node.left, *node.comparators]
            if any(_literal(o) or (elsewhere and _member(o)) for o in operands):
                found.append(f"{where} compares a step: {ast.unparse(node)}")
        elements: list[ast.expr | None] = []
        if isinstance(node, ast.Dict):
            elements = list(node.keys)
        elif isinstance(node, ast.Set | ast.List | ast.Tuple):
            elements = list(node.elts)
        if sum(_literal(e) or _member(e) for e in elements) >= 3:
            found.append(f"{where} lists steps: {ast.unparse(node)[:60]}")
        if isinstance(node, ast.Constant) and str(node.value).startswith("r:"):
            found.append(f"{where} writes a step's callback data: {node.value}")
        if elsewhere and _member(node):  # type: ignore[arg-type]
            found.append(f"{where} singles out a step: {ast.unparse(node)}")
    return found


def test_no_step_is_defined_anywhere_else() -> None:
    found: list[str] = []
    for folder in ("bot", "handlers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel != "handlers/steps.py":
                found += step_definitions(path, rel)
    assert not found, "\n".join(found)


def test_the_check_finds_a_step_defined_elsewhere(tmp_path: Path) -> None:
    module = tmp_path / "elsewhere.py"
    module.write_text(
        "RENDERERS = {'category': 1, 'when': 2, 'review': 3}\n"
        "if tip.step == 'where':\n    pass\n"
        "if admission.step == Step.DESCRIPTION:\n    pass\n"
        "DATA = 'r:who:skip'\n",
        encoding="utf-8",
    )
    found = step_definitions(module, "handlers/elsewhere.py")
    assert len(found) == 5, found
