"""Screens: the text and buttons of every message the reporter sees, from the catalogs.

Callback data is short and self-describing: ``l:<lang>`` language, ``c:<action>:<lang>``
consent, ``m:<item>`` menu, ``r:<step>:<action>[:<arg>]`` report steps, ``e:<reference>``
erase the conversation, ``d:<yes|no>`` delete my data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from telegram import InlineKeyboardButton

from bot import intake
from bot.gazetteer import Place
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, Catalog, Html, escape
from bot.intake import STEPS
from db.models import Tip
from handlers.base import Screen, Services, button, keyboard

TOTAL_STEPS = len(STEPS)
_PREVIEW_CHARS = 700


def language_choice(catalog: Catalog, selected: str) -> Screen:
    text = Html("\n".join(catalog.t(lang, "language-choose") for lang in LANGUAGES))
    rows = [
        [button(("• " if lang == selected else "") + LANGUAGE_NAMES[lang], f"l:{lang}")]
        for lang in LANGUAGES
    ]
    return Screen(text, keyboard(rows))


def intro(services: Services, lang: str) -> Screen:
    t = services.catalog.t
    text = t(
        lang,
        "intro",
        org=services.settings.tipbot_org_name,
        handle=services.official_handle,
    )
    rows = [
        [button(t(lang, "intro-agree"), f"c:agree:{lang}")],
        [button(t(lang, "intro-more"), f"c:more:{lang}")],
        [button(t(lang, "menu-language"), "c:lang:" + lang)],
    ]
    return Screen(text, keyboard(rows))


def privacy(services: Services, lang: str, *, consented: bool) -> Screen:
    t = services.catalog.t
    text = t(
        lang,
        "privacy-full",
        org=services.settings.tipbot_org_name,
        handle=services.official_handle,
    )
    if consented:
        rows = [
            [button(t(lang, "erase-chat-button"), "e:-")],
            [button(t(lang, "back-to-menu"), "m:menu")],
        ]
        return Screen(text, keyboard(rows))
    rows = [
        [button(t(lang, "intro-agree"), f"c:agree:{lang}")],
        [button(t(lang, "nav-back"), f"c:intro:{lang}")],
    ]
    return Screen(text, keyboard(rows))


def menu(catalog: Catalog, lang: str, prefix: str = "") -> Screen:
    t = catalog.t
    rows = [
        [button(t(lang, "menu-new"), "m:new")],
        [button(t(lang, "menu-mine"), "m:mine"), button(t(lang, "menu-privacy"), "m:privacy")],
        [button(t(lang, "menu-language"), "m:lang"), button(t(lang, "menu-delete"), "m:delete")],
    ]
    return Screen(t(lang, "menu-text"), keyboard(rows)).with_prefix(prefix)


def back_to_menu(catalog: Catalog, lang: str, text: str) -> Screen:
    return Screen(Html(text), keyboard([[button(catalog.t(lang, "back-to-menu"), "m:menu")]]))


def resume_prompt(services: Services, lang: str, tip: Tip) -> Screen:
    t = services.catalog.t
    started = tip.created_at.astimezone(services.timezone).date()
    text = t(
        lang,
        "resume-text",
        started=services.catalog.format_date(lang, started, "day"),
        step=intake.step_number(tip.step or STEPS[0]),
        total=TOTAL_STEPS,
    )
    rows = [
        [button(t(lang, "resume-continue"), "r:resume")],
        [button(t(lang, "resume-restart"), f"r:restart:{tip.id}")],
    ]
    return Screen(text, keyboard(rows))


def discard_confirm(catalog: Catalog, lang: str, tip: Tip) -> Screen:
    """ "Delete this draft?" — the button names the draft, so an old one cannot delete a
    newer report."""
    t = catalog.t
    rows = [
        [button(t(lang, "discard-yes"), f"r:discard:yes:{tip.id}")],
        [button(t(lang, "discard-no"), "r:discard:no")],
    ]
    return Screen(t(lang, "discard-confirm"), keyboard(rows))


# ---------------------------------------------------------------------------- steps


def _nav(
    catalog: Catalog, lang: str, tip: Tip, *, skip: bool = False
) -> list[InlineKeyboardButton]:
    step = tip.step or STEPS[0]
    row: list[InlineKeyboardButton] = []
    if intake.previous_step(tip) is not None:
        key = "nav-back-review" if tip.return_to_review else "nav-back"
        row.append(button(catalog.t(lang, key), f"r:{step}:back"))
    if skip:
        row.append(button(catalog.t(lang, "nav-skip"), f"r:{step}:skip"))
    row.append(button(catalog.t(lang, "nav-cancel"), f"r:{step}:cancel"))
    return row


def _choice(text: str, data: str, *, chosen: bool) -> list[InlineKeyboardButton]:
    """A one-button row, ticked when it is the current answer."""
    return [button(("✓ " if chosen else "") + text, data)]


def _title(catalog: Catalog, lang: str, step: str) -> str:
    return catalog.t(lang, f"step-{step}-title", number=intake.step_number(step), total=TOTAL_STEPS)


def step_screen(
    services: Services,
    lang: str,
    tip: Tip,
    media_counts: Mapping[str, int] | None = None,
    *,
    variant: str = "",
) -> Screen:
    """The prompt of the draft's current step (``variant`` picks a sub-screen)."""
    step = tip.step or STEPS[0]
    render = _RENDERERS[step]
    return render(services, lang, tip, dict(media_counts or {}), variant)


def _category(
    services: Services, lang: str, tip: Tip, _media: dict[str, int], _variant: str
) -> Screen:
    t = services.catalog.t
    rows = [
        _choice(t(lang, f"category-{code}"), f"r:category:set:{code}", chosen=tip.category == code)
        for code in services.settings.tipbot_categories
    ]
    rows.append(_nav(services.catalog, lang, tip))
    text = Html(f"{_title(services.catalog, lang, 'category')}\n{t(lang, 'step-category-text')}")
    return Screen(text, keyboard(rows))


def _description(
    services: Services, lang: str, tip: Tip, media: dict[str, int], _variant: str
) -> Screen:
    t = services.catalog.t
    parts = [_title(services.catalog, lang, "description"), t(lang, "step-description-text")]
    voices = media.get("voice", 0)
    chars = len(tip.description or "")
    if chars:
        parts.append(t(lang, "step-description-saved", chars=chars, voices=voices))
    elif voices:
        parts.append(t(lang, "step-description-saved-voice", voices=voices))
    rows: list[list[InlineKeyboardButton]] = []
    if chars or voices:
        rows.append([button(t(lang, "nav-next"), "r:description:next")])
    rows.append(_nav(services.catalog, lang, tip))
    return Screen(Html("\n".join(parts)), keyboard(rows))


def _when(services: Services, lang: str, tip: Tip, _media: dict[str, int], variant: str) -> Screen:
    t = services.catalog.t
    title = _title(services.catalog, lang, "when")
    if variant == "type":
        rows = [[button(t(lang, "nav-back"), "r:when:show")], _nav(services.catalog, lang, tip)]
        return Screen(Html(f"{title}\n{t(lang, 'step-when-type')}"), keyboard(rows))
    rows = [
        [
            button(t(lang, "when-today"), "r:when:today"),
            button(t(lang, "when-yesterday"), "r:when:yesterday"),
        ],
        [
            button(t(lang, "when-type"), "r:when:type"),
            button(t(lang, "when-unknown"), "r:when:unknown"),
        ],
        _nav(services.catalog, lang, tip),
    ]
    return Screen(Html(f"{title}\n{t(lang, 'step-when-text')}"), keyboard(rows))


def _where(
    services: Services, lang: str, tip: Tip, _media: dict[str, int], _variant: str
) -> Screen:
    t = services.catalog.t
    rows = [
        [button(t(lang, "where-unknown"), "r:where:none")],
        _nav(services.catalog, lang, tip),
    ]
    text = Html(f"{_title(services.catalog, lang, 'where')}\n{t(lang, 'step-where-text')}")
    return Screen(text, keyboard(rows))


def where_matches(
    services: Services, lang: str, tip: Tip, typed: str, places: Sequence[Place]
) -> Screen:
    """Up to five settlements matching what the reporter typed, or a "not found" screen."""
    t = services.catalog.t
    rows: list[list[InlineKeyboardButton]] = [
        [button(place.label(lang), f"r:where:pick:{place.geonameid}")] for place in places
    ]
    shown = typed if len(typed) <= 28 else typed[:27] + "…"
    rows.append([button(t(lang, "where-keep", typed=shown), "r:where:keep")])
    rows.append([button(t(lang, "where-unknown"), "r:where:none")])
    rows.append(_nav(services.catalog, lang, tip))
    key = "where-matches" if places else "where-not-found"
    title = _title(services.catalog, lang, "where")
    return Screen(Html(f"{title}\n{t(lang, key, typed=typed)}"), keyboard(rows))


def _who(services: Services, lang: str, tip: Tip, _media: dict[str, int], variant: str) -> Screen:
    t = services.catalog.t
    title = _title(services.catalog, lang, "who")
    if variant == "other":
        rows = [[button(t(lang, "nav-back"), "r:who:show")], _nav(services.catalog, lang, tip)]
        return Screen(Html(f"{title}\n{t(lang, 'step-who-other')}"), keyboard(rows))
    choices = ["unknown", *services.settings.tipbot_parties]
    rows = [
        _choice(t(lang, f"party-{code}"), f"r:who:set:{code}", chosen=tip.perpetrator == code)
        for code in choices
    ]
    rows.append([button(t(lang, "party-other"), "r:who:other")])
    rows.append(_nav(services.catalog, lang, tip, skip=True))
    return Screen(Html(f"{title}\n{t(lang, 'step-who-text')}"), keyboard(rows))


def _evidence(
    services: Services, lang: str, tip: Tip, media: dict[str, int], _variant: str
) -> Screen:
    t = services.catalog.t
    total = sum(media.values())
    parts = [
        _title(services.catalog, lang, "evidence"),
        t(lang, "step-evidence-text", max=services.settings.tipbot_max_files_per_report),
    ]
    if total:
        parts.append(t(lang, "step-evidence-count", total=total))
        first = [button(t(lang, "evidence-done"), "r:evidence:done")]
    else:
        first = [button(t(lang, "evidence-none"), "r:evidence:done")]
    rows = [first, _nav(services.catalog, lang, tip)]
    return Screen(Html("\n".join(parts)), keyboard(rows))


def _contact(
    services: Services, lang: str, tip: Tip, _media: dict[str, int], _variant: str
) -> Screen:
    t = services.catalog.t
    rows = [
        _choice(t(lang, "contact-yes"), "r:contact:yes", chosen=tip.contact_allowed),
        _choice(t(lang, "contact-no"), "r:contact:no", chosen=not tip.contact_allowed),
        _nav(services.catalog, lang, tip),
    ]
    text = Html(f"{_title(services.catalog, lang, 'contact')}\n{t(lang, 'step-contact-text')}")
    return Screen(text, keyboard(rows))


def _review(
    services: Services, lang: str, tip: Tip, media: dict[str, int], _variant: str
) -> Screen:
    t = services.catalog.t
    summary = describe_tip(services, lang, tip, media)
    text = Html(
        f"{_title(services.catalog, lang, 'review')}\n{t(lang, 'step-review-text')}\n\n{summary}"
    )
    rows = [
        [
            button(t(lang, "review-edit-category"), "r:review:edit:category"),
            button(t(lang, "review-edit-description"), "r:review:edit:description"),
        ],
        [
            button(t(lang, "review-edit-when"), "r:review:edit:when"),
            button(t(lang, "review-edit-where"), "r:review:edit:where"),
        ],
        [
            button(t(lang, "review-edit-who"), "r:review:edit:who"),
            button(t(lang, "review-edit-evidence"), "r:review:edit:evidence"),
        ],
        [button(t(lang, "review-edit-contact"), "r:review:edit:contact")],
        [button(t(lang, "review-submit"), "r:review:submit")],
        [button(t(lang, "nav-cancel"), "r:review:cancel")],
    ]
    return Screen(text, keyboard(rows))


_RENDERERS = {
    "category": _category,
    "description": _description,
    "when": _when,
    "where": _where,
    "who": _who,
    "evidence": _evidence,
    "contact": _contact,
    "review": _review,
}


# ---------------------------------------------------------------------------- summaries


def place_text(services: Services, lang: str, tip: Tip) -> str:
    """Where, in words, with its precision (HTML-safe)."""
    t = services.catalog.t
    place = services.gazetteer.get(tip.settlement_id) if tip.settlement_id else None
    if tip.location_precision == "point":
        if place is not None:
            return t(lang, "place-point-near", place=place.label(lang))
        return t(lang, "place-point", lat=f"{tip.lat:.5f}", lon=f"{tip.lon:.5f}")
    if tip.location_precision == "settlement" and place is not None:
        return escape(place.label(lang))
    if tip.location_precision == "text" and tip.place_text:
        return t(lang, "place-typed", typed=tip.place_text)
    if tip.location_precision == "none":
        return t(lang, "place-unknown")
    return t(lang, "not-answered")


def date_text(services: Services, lang: str, tip: Tip) -> str:
    t = services.catalog.t
    if tip.incident_date_precision == "unknown":
        return t(lang, "date-unknown")
    if tip.incident_date is None or tip.incident_date_precision is None:
        return t(lang, "not-answered")
    shown = services.catalog.format_date(lang, tip.incident_date, tip.incident_date_precision)
    if tip.incident_time is not None:
        shown = f"{shown}, {tip.incident_time.strftime('%H:%M')}"
    key = "date-month" if tip.incident_date_precision == "month" else "date-day"
    return t(lang, key, date=shown)


def perpetrator_text(services: Services, lang: str, tip: Tip) -> str:
    t = services.catalog.t
    if tip.perpetrator is None:
        return t(lang, "not-answered")
    if tip.perpetrator == "other":
        return t(lang, "perpetrator-other", text=tip.perpetrator_text or "")
    return t(lang, f"party-{tip.perpetrator}")


def media_text(catalog: Catalog, lang: str, media: Mapping[str, int]) -> str:
    total = sum(media.values())
    if not total:
        return catalog.t(lang, "media-none")
    parts = [
        catalog.t(lang, f"media-kind-{kind}", count=count)
        for kind, count in sorted(media.items())
        if count
    ]
    return catalog.t(lang, "media-summary", total=total, kinds=Html(", ".join(parts)))


def describe_tip(services: Services, lang: str, tip: Tip, media: Mapping[str, int]) -> str:
    t = services.catalog.t
    description = tip.description or ""
    if len(description) > _PREVIEW_CHARS:
        description = description[:_PREVIEW_CHARS].rstrip() + "…"
    category = t(lang, f"category-{tip.category}") if tip.category else t(lang, "not-answered")
    return t(
        lang,
        "review-summary",
        category=category,
        description=escape(description) if description else t(lang, "description-voice-only"),
        date=Html(date_text(services, lang, tip)),
        place=Html(place_text(services, lang, tip)),
        perpetrator=Html(perpetrator_text(services, lang, tip)),
        media=Html(media_text(services.catalog, lang, media)),
        contact=t(lang, "contact-yes-short" if tip.contact_allowed else "contact-no-short"),
    )


def submitted(catalog: Catalog, lang: str, tip: Tip) -> Screen:
    t = catalog.t
    rows = [
        [button(t(lang, "erase-button"), f"e:{tip.reference}")],
        [button(t(lang, "back-to-menu"), "m:menu")],
    ]
    return Screen(t(lang, "submitted", reference=tip.reference), keyboard(rows))


# What a reporter is told of each status: plain words, and never the verdict itself.
_REPORTER_STATUS = {
    "draft": "status-draft",
    "submitted": "status-submitted",
    "quarantined": "status-submitted",
    "in_review": "status-in-review",
    "needs_info": "status-in-review",
    "verified": "status-reviewed",
    "rejected": "status-reviewed",
    "duplicate": "status-reviewed",
    "withdrawn": "status-withdrawn",
}


def status_text(catalog: Catalog, lang: str, status: str) -> str:
    return catalog.t(lang, _REPORTER_STATUS.get(status, "status-in-review"))


def my_reports(services: Services, lang: str, tips: Sequence[Tip]) -> Screen:
    """The reporter's reports in plain words, each (but withdrawn ones) with "Add"."""
    t = services.catalog.t
    if not tips:
        return back_to_menu(services.catalog, lang, t(lang, "mine-empty"))
    lines = [t(lang, "mine-title")]
    rows: list[list[InlineKeyboardButton]] = []
    for tip in tips:
        when = (tip.submitted_at or tip.created_at).astimezone(services.timezone).date()
        lines.append(
            t(
                lang,
                "mine-line",
                reference=tip.reference,
                date=services.catalog.format_date(lang, when, "day"),
                category=t(lang, f"category-{tip.category}") if tip.category else "—",
                status=Html(status_text(services.catalog, lang, tip.status)),
            )
        )
        if tip.status != "withdrawn" and len(rows) < 10:
            rows.append(
                [button(t(lang, "mine-add-button", reference=tip.reference), f"a:{tip.id}")]
            )
    lines.append(t(lang, "mine-add-hint"))
    rows.append([button(t(lang, "back-to-menu"), "m:menu")])
    return Screen(Html("\n".join(lines)), keyboard(rows))
