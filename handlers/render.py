"""Screens: the text and buttons of the messages a reporter sees, from the catalogs (the
report's steps are drawn by their rows, :mod:`handlers.steps`), and a report in words.

Callback data is short and self-describing: ``l:<lang>`` language, ``c:<action>:<lang>``
consent, ``m:<item>`` menu, ``e:<reference>`` erase the conversation, ``d:<yes|no>`` delete
my data (and ``r:...`` the report's steps, :mod:`handlers.steps`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta

from telegram import InlineKeyboardButton

from bot import intake, tgtext
from bot.gazetteer import Place
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, Catalog, Html, escape
from db.models import TIP_WITHDRAWN, DatePrecision, LocationPrecision, Tip
from handlers.base import Screen, Services, button, keyboard

_PREVIEW_CHARS = 700
# A tip's summary stays within this many UTF-16 units, leaving the rest of a message
# (4096) to the screen's title and prompt; the description's preview is never cut below
# _PREVIEW_MIN_UNITS.
_SUMMARY_UNITS = 3600
_PREVIEW_MIN_UNITS = 100


def language_choice(catalog: Catalog, selected: str) -> Screen:
    text = Html("\n".join(catalog.t(lang, "language-choose") for lang in LANGUAGES))
    return Screen(text, keyboard([[_language(lang, selected)] for lang in LANGUAGES]))


def _language(lang: str, selected: str) -> InlineKeyboardButton:
    """A language's button, its name marked when it is the one in use."""
    return button(("• " if lang == selected else "") + LANGUAGE_NAMES[lang], f"l:{lang}")


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


# ---------------------------------------------------------------------------- summaries


def place_text(services: Services, lang: str, tip: Tip) -> str:
    """Where, in words, with its precision (HTML-safe)."""
    told = _PLACE_TEXTS.get(tip.location_precision or "")
    shown = told(services, lang, tip) if told is not None else None
    return shown if shown is not None else services.catalog.t(lang, "not-answered")


def _settlement(services: Services, tip: Tip) -> Place | None:
    return services.gazetteer.get(tip.settlement_id) if tip.settlement_id else None


def _point(services: Services, lang: str, tip: Tip) -> str:
    """A shared point: near its settlement, or its coordinates."""
    place = _settlement(services, tip)
    if place is not None:
        return services.catalog.t(lang, "place-point-near", place=place.label(lang))
    return services.catalog.t(lang, "place-point", lat=f"{tip.lat:.5f}", lon=f"{tip.lon:.5f}")


def _matched(services: Services, lang: str, tip: Tip) -> str | None:
    place = _settlement(services, tip)
    return escape(place.label(lang)) if place is not None else None


def _typed(services: Services, lang: str, tip: Tip) -> str | None:
    return services.catalog.t(lang, "place-typed", typed=tip.place_text) if tip.place_text else None


def _unknown(services: Services, lang: str, _tip: Tip) -> str:
    return services.catalog.t(lang, "place-unknown")


# How a place is told, by its precision (tip.location_precision); None: not answered.
_PLACE_TEXTS: dict[str, Callable[[Services, str, Tip], str | None]] = {
    LocationPrecision.POINT: _point,
    LocationPrecision.SETTLEMENT: _matched,
    "text": _typed,
    "none": _unknown,
}


def date_text(services: Services, lang: str, tip: Tip) -> str:
    t = services.catalog.t
    precision = tip.incident_date_precision
    if precision == DatePrecision.UNKNOWN:
        return t(lang, "date-unknown")
    if tip.incident_date is None or precision is None:
        return t(lang, "not-answered")
    shown = services.catalog.format_date(lang, tip.incident_date, precision)
    return t(lang, _DATE_KEYS.get(precision, "date-day"), date=shown + _at(tip.incident_time))


# A date with its day ("on 24 February 2022") or only its month ("in February 2022").
_DATE_KEYS: dict[str, str] = {DatePrecision.MONTH: "date-month"}


def _at(moment: time | None) -> str:
    return f", {moment.strftime('%H:%M')}" if moment is not None else ""


def moment_text(services: Services, moment: datetime) -> str:
    """A moment as people read it, in TIPBOT_TIMEZONE and saying so: "08.03.2026 14:05
    UTC+2" (the offset names the zone in any language, summer time included)."""
    local = moment.astimezone(services.timezone)
    offset = local.utcoffset() or timedelta(0)
    return f"{local:%d.%m.%Y %H:%M} UTC{_offset(int(offset.total_seconds() // 60))}"


def _offset(minutes: int) -> str:
    """An offset from UTC as people write it: "+2", "-3:30", or nothing for UTC itself."""
    if not minutes:
        return ""
    hours, rest = divmod(abs(minutes), 60)
    sign = "+" if minutes > 0 else "-"
    return f"{sign}{hours}" + (f":{rest:02d}" if rest else "")


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
    description = _preview(full)
    summary = _summary(services, lang, tip, media, description)
    # Telegram counts UTF-16 units: with emoji (two units each) in the description, the
    # place and the perpetrator, the summary can outgrow a message. The description's
    # preview gives way, so the rest of the summary stays whole.
    over = tgtext.visible_len(summary) - _SUMMARY_UNITS
    if over > 0 and description:
        room = max(_PREVIEW_MIN_UNITS, tgtext.utf16_len(description) - over)
        summary = _summary(services, lang, tip, media, tgtext.shorten_plain(full, room))
    return summary


def _preview(full: str) -> str:
    return full[:_PREVIEW_CHARS].rstrip() + "…" if len(full) > _PREVIEW_CHARS else full


def _summary(
    services: Services, lang: str, tip: Tip, media: Mapping[str, int], description: str
) -> str:
    t = services.catalog.t
    # Voice messages are testimony: they go with the description, not among the files.
    files = {kind: count for kind, count in media.items() if kind not in intake.TESTIMONY_KINDS}
    return t(
        lang,
        "review-summary",
        category=_category(services.catalog, lang, tip, t(lang, "not-answered")),
        description=_told(services.catalog, lang, description, media.get("voice", 0)),
        date=Html(date_text(services, lang, tip)),
        place=Html(place_text(services, lang, tip)),
        perpetrator=Html(perpetrator_text(services, lang, tip)),
        media=Html(media_text(services.catalog, lang, files)),
        contact=_yes_no(services.catalog, lang, tip.contact_allowed),
        notify=_yes_no(services.catalog, lang, tip.notify_reviewed),
    )


def _category(catalog: Catalog, lang: str, tip: Tip, unanswered: str) -> str:
    return catalog.t(lang, f"category-{tip.category}") if tip.category else unanswered


def _told(catalog: Catalog, lang: str, description: str, voices: int) -> Html:
    """The description's preview, and how many voice messages tell the rest."""
    told: list[str] = [escape(description)] if description else []
    if voices:
        told.append("🎙 " + catalog.t(lang, "media-kind-voice", count=voices))
    return Html(" ".join(told)) if told else catalog.t(lang, "not-answered")


def _yes_no(catalog: Catalog, lang: str, value: bool | None) -> Html:
    return catalog.t(lang, "contact-yes-short" if value else "contact-no-short")


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
    lines = [t(lang, "mine-title"), *(_report_line(services, lang, tip) for tip in tips)]
    lines.append(t(lang, "mine-add-hint"))
    addable = [tip for tip in tips if tip.status != TIP_WITHDRAWN][:10]
    rows = [
        [button(t(lang, "mine-add-button", reference=tip.reference), f"a:{tip.id}")]
        for tip in addable
    ]
    rows.append([button(t(lang, "back-to-menu"), "m:menu")])
    return Screen(Html("\n".join(lines)), keyboard(rows))


def _report_line(services: Services, lang: str, tip: Tip) -> str:
    catalog = services.catalog
    when = (tip.submitted_at or tip.created_at).astimezone(services.timezone).date()
    return catalog.t(
        lang,
        "mine-line",
        reference=tip.reference,
        date=catalog.format_date(lang, when, DatePrecision.DAY),
        category=_category(catalog, lang, tip, "—"),
        status=Html(status_text(catalog, lang, tip.status)),
    )
