"""Screens: the text and buttons of every message the reporter sees, from the catalogs.

Callback data is short and self-describing: ``l:<lang>`` language, ``c:<action>:<lang>``
consent, ``m:<item>`` menu, ``r:<step>:<action>[:<arg>]`` report steps, ``e:<reference>``
erase the conversation, ``d:<yes|no>`` delete my data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton

from bot import intake, tgtext
from bot.gazetteer import Place
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, Catalog, Html, escape
from bot.intake import STEPS
from db.models import Tip
from handlers.base import Screen, Services, button, keyboard

TOTAL_STEPS = len(STEPS)
_PREVIEW_CHARS = 700
# A tip's summary stays within this many UTF-16 units, leaving the rest of a message
# (4096) to the screen's title and prompt; the description's preview is never cut below
# _PREVIEW_MIN_UNITS.
_SUMMARY_UNITS = 3600
_PREVIEW_MIN_UNITS = 100


def language_choice(catalog: Catalog, selected: str) -> Screen:
    text = Html("\n".join(catalog.t(lang, "language-choose") for lang in LANGUAGES))
    rows = [
        [button(("• " if lang == selected else "") + LANGUAGE_NAMES[lang], f"l:{lang}")]
        for lang in LANGUAGES
    ]
    return Screen(text, keyboard(rows))


def org_name(services: Services, lang: str, *, inline: bool = False) -> str:
    """TIPBOT_ORG_NAME, or, when the operator left it unset, a neutral phrase in the reader's
    language (``inline``: the form for the middle of a sentence)."""
    name = services.settings.tipbot_org_name
    if name:
        return name
    return services.catalog.t(lang, "org-unnamed-inline" if inline else "org-unnamed")


def intro(services: Services, lang: str) -> Screen:
    t = services.catalog.t
    text = t(
        lang,
        "intro",
        org=org_name(services, lang),
        handle=services.official_handle,
    )
    rows = [
        [button(t(lang, "intro-agree"), f"c:agree:{lang}")],
        [button(t(lang, "intro-more"), f"c:more:{lang}")],
        [button(t(lang, "menu-language"), "c:lang:" + lang)],
    ]
    return Screen(text, keyboard(rows))


def privacy(services: Services, lang: str, *, consented: bool) -> Screen:
    """The privacy notice: one phone screen, the details behind "More"."""
    t = services.catalog.t
    text = t(lang, "privacy-notice")
    details = [button(t(lang, "privacy-more"), f"c:details:{lang}")]
    if consented:
        rows = [
            [button(t(lang, "erase-chat-button"), "e:-")],
            details,
            [button(t(lang, "back-to-menu"), "m:menu")],
        ]
        return Screen(text, keyboard(rows))
    rows = [
        [button(t(lang, "intro-agree"), f"c:agree:{lang}")],
        details,
        [button(t(lang, "nav-back"), f"c:intro:{lang}")],
    ]
    return Screen(text, keyboard(rows))


def privacy_details(services: Services, lang: str, *, consented: bool) -> Screen:
    """Everything the short notice leaves out: who runs the bot, what is kept and why,
    contact, the reporter's choices, Telegram's limits. Back leads to the notice."""
    t = services.catalog.t
    text = t(
        lang,
        "privacy-details",
        org=org_name(services, lang, inline=True),
        handle=services.official_handle,
    )
    if consented:
        rows = [
            [button(t(lang, "nav-back"), "m:privacy")],
            [button(t(lang, "back-to-menu"), "m:menu")],
        ]
        return Screen(text, keyboard(rows))
    rows = [
        [button(t(lang, "intro-agree"), f"c:agree:{lang}")],
        [button(t(lang, "nav-back"), f"c:more:{lang}")],
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
    catalog: Catalog, lang: str, tip: Tip, *, skip: bool = False, back_to: str = ""
) -> list[InlineKeyboardButton]:
    """Back, (Skip,) Cancel. Back leads to the step before (or the review), or, on a
    sub-screen, to ``back_to`` (the step's choices): one Back per screen, so two buttons that
    look the same never lead to different places."""
    step = tip.step or STEPS[0]
    row: list[InlineKeyboardButton] = []
    if back_to:
        row.append(button(catalog.t(lang, "nav-back"), f"r:{step}:{back_to}"))
    elif intake.previous_step(tip) is not None:
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
    brief: bool = False,
) -> Screen:
    """The prompt of the draft's current step (``variant`` picks a sub-screen).

    ``brief``: the step's title (with what it holds so far: the description saved, the
    review's summary) over the same buttons, for an answer that comes while the reporter is
    at the step (a file's receipt, "saved"): the step's text was shown when they got there,
    and is not repeated after every message.
    """
    step = tip.step or STEPS[0]
    counts = dict(media_counts or {})
    screen = _RENDERERS[step](services, lang, tip, counts, variant)
    if not brief:
        return screen
    lines = [_title(services.catalog, lang, step)]
    if step == "description":
        lines.extend(_description_saved(services, lang, tip, counts))
    elif step == "review":  # what is about to be sent stays in view, up to date
        lines.extend(["", describe_tip(services, lang, tip, counts)])
    return Screen(Html("\n".join(lines)), screen.markup)


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
    saved = _description_saved(services, lang, tip, media)
    parts.extend(saved)
    rows: list[list[InlineKeyboardButton]] = []
    if saved:
        rows.append([button(t(lang, "nav-next"), "r:description:next")])
    rows.append(_nav(services.catalog, lang, tip))
    return Screen(Html("\n".join(parts)), keyboard(rows))


def _description_saved(
    services: Services, lang: str, tip: Tip, media: Mapping[str, int]
) -> list[str]:
    """What the description holds so far (a line), or nothing when it is still empty."""
    t = services.catalog.t
    voices = media.get("voice", 0)
    chars = len(tip.description or "")
    if chars:
        return [t(lang, "step-description-saved", chars=chars, voices=voices)]
    if voices:
        return [t(lang, "step-description-saved-voice", voices=voices)]
    return []


def _when(services: Services, lang: str, tip: Tip, _media: dict[str, int], variant: str) -> Screen:
    t = services.catalog.t
    title = _title(services.catalog, lang, "when")
    if variant == "type":
        rows = [_nav(services.catalog, lang, tip, back_to="show")]
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
        rows = [_nav(services.catalog, lang, tip, back_to="show")]
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
    total = intake.file_count(media)  # voice messages are testimony, shown at step 2
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
    """A separate tick first (it stays on the step): one message when the report has been
    reviewed, off unless ticked. Then may the team ask questions: yes or no moves on."""
    t = services.catalog.t
    if tip.notify_reviewed:
        notify = button(t(lang, "contact-notify-on"), "r:contact:notify:off")
    else:
        notify = button(t(lang, "contact-notify-off"), "r:contact:notify:on")
    rows = [
        [notify],
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


def moment_text(services: Services, moment: datetime) -> str:
    """A moment as people read it, in TIPBOT_TIMEZONE and saying so: "08.03.2026 14:05
    UTC+2" (the offset names the zone in any language, summer time included)."""
    local = moment.astimezone(services.timezone)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    zone = "UTC"
    if minutes:
        sign = "+" if minutes > 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        zone += f"{sign}{hours}" + (f":{rest:02d}" if rest else "")
    return f"{local:%d.%m.%Y %H:%M} {zone}"


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
    full = tip.description or ""
    description = full[:_PREVIEW_CHARS].rstrip() + "…" if len(full) > _PREVIEW_CHARS else full
    summary = _summary(services, lang, tip, media, description)
    # Telegram counts UTF-16 units: with emoji (two units each) in the description, the
    # place and the perpetrator, the summary can outgrow a message. The description's
    # preview gives way, so the rest of the summary stays whole.
    over = tgtext.visible_len(summary) - _SUMMARY_UNITS
    if over > 0 and description:
        room = max(_PREVIEW_MIN_UNITS, tgtext.utf16_len(description) - over)
        summary = _summary(services, lang, tip, media, tgtext.shorten_plain(full, room))
    return summary


def _summary(
    services: Services, lang: str, tip: Tip, media: Mapping[str, int], description: str
) -> str:
    t = services.catalog.t
    category = t(lang, f"category-{tip.category}") if tip.category else t(lang, "not-answered")
    # Voice messages are testimony: they go with the description, not among the files.
    voices = media.get("voice", 0)
    told: list[str] = [escape(description)] if description else []
    if voices:
        told.append("🎙 " + t(lang, "media-kind-voice", count=voices))
    files = {kind: count for kind, count in media.items() if kind not in intake.TESTIMONY_KINDS}
    return t(
        lang,
        "review-summary",
        category=category,
        description=Html(" ".join(told)) if told else t(lang, "not-answered"),
        date=Html(date_text(services, lang, tip)),
        place=Html(place_text(services, lang, tip)),
        perpetrator=Html(perpetrator_text(services, lang, tip)),
        media=Html(media_text(services.catalog, lang, files)),
        contact=t(lang, "contact-yes-short" if tip.contact_allowed else "contact-no-short"),
        notify=t(lang, "contact-yes-short" if tip.notify_reviewed else "contact-no-short"),
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
