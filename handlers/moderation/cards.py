"""What moderators see: the tip card, digest lines, history, queue and statistics.

A card is one message: reference and category, date, place (with an OpenStreetMap link),
who was responsible, the start of the description, a summary of the files (and what their
metadata says, flagged where it disagrees with the report), possible duplicates, the
number of internal notes, the reporter's pseudonym and record, contact, status, assignee and
last action; with buttons that fetch the rest on demand (each message costs the group's
budget). For a minute after a verdict the card offers Undo, then Reopen.

This module renders (what a card shows is loaded by :mod:`bot.card_data`); posting a card,
redrawing it and editing a pressed message into it is :mod:`handlers.moderation.outcome`.

Callback data: ``mod:<action>:<tip id>[:<version>[:<argument>]]``. The version is the tip's
when the card was drawn: an action on an outdated card is refused with who acted first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import moderation, tgtext
from bot.card_data import CardData as CardData
from bot.card_data import HistoryData
from bot.card_data import load_card as load_card
from bot.file_facts import FileFacts
from bot.gazetteer import oblast_name
from bot.i18n import Html, escape
from bot.moderation import Conflict, Refused, Suggestion
from bot.taxonomy import rome_statute_reference
from bot.text import neutralise
from db.models import (
    MEDIA_FAILED,
    MEDIA_STORED,
    MEDIA_TOO_LARGE,
    TIP_DUPLICATE,
    TIP_QUARANTINED,
    TIP_REJECTED,
    TIP_WITHDRAWN,
    CustodyEntry,
    DatePrecision,
    LocationPrecision,
    Media,
    Tip,
    TipNote,
)
from handlers import render
from handlers.base import Screen, Services, button, keyboard
from handlers.moderation.callbacks import callback

DESCRIPTION_PREVIEW = 800
MESSAGE_LIMIT = tgtext.TEXT  # in UTF-16 units, as Telegram counts
# The card stays this much under the limit (the "N more characters" line may grow a digit
# as the preview shrinks); the preview is never cut below PREVIEW_MIN_UNITS.
_CARD_MARGIN = 16
PREVIEW_MIN_UNITS = 100
# The start of a description on a digest or queue line (it stays one line).
LINE_WORDS = 60


def _lang(services: Services) -> str:
    return services.settings.tipbot_moderator_language


def mt(services: Services, key: str, **args: Any) -> Html:
    """A message in the moderators' language. What reporters (or moderators) wrote in it
    is neutralised: no bidirectional override reorders it, nothing invisible hides in it
    (lengths never grow, so what was measured for Telegram's limits still holds)."""
    return Html(neutralise(services.catalog.t(_lang(services), key, **args)))


_t = mt


def say(services: Services, key: str, **args: Any) -> Html:
    """A message in the moderators' language (toasts and replies: what the words in it say
    is the moderators' own, or a reference)."""
    return services.catalog.t(_lang(services), key, **args)


# What a refusal's reason says, where it has a message of its own (else mod-refused-<reason>).
_REFUSALS = {
    "stale": "mod-stale",
    "not-yours": "mod-question-not-yours",
    "no-contact": "mod-ask-not-allowed",
}


def refusal(services: Services, problem: Conflict | Refused, **args: Any) -> Html:
    """What a moderator is told when an action did not apply: who acted first, or why not
    (``args`` fill the message, over the tip's reference)."""
    if isinstance(problem, Conflict):
        return say(services, "mod-conflict", name=problem.tip.last_actor_name or "?")
    key = _REFUSALS.get(problem.reason, f"mod-refused-{problem.reason}")
    reference = problem.tip.reference if problem.tip is not None else ""
    return say(services, key, **{"reference": reference, **args})


def status_label(
    services: Services, status: str, *, reason: str | None = None, original: str | None = None
) -> Html:
    if status == TIP_REJECTED and reason:
        return _t(
            services, "mod-status-rejected-because", reason=_t(services, f"mod-reason-{reason}")
        )
    if status == TIP_DUPLICATE and original:
        return _t(services, "mod-status-duplicate-of", original=original)
    return _t(services, f"mod-status-{status}")


def _age(services: Services, moment: datetime | None) -> str:
    if moment is None:
        return "—"
    minutes = int((moderation.utcnow() - moment).total_seconds() // 60)
    if minutes < 60:
        return _t(services, "mod-age-minutes", count=max(minutes, 0))
    if minutes < 48 * 60:
        return _t(services, "mod-age-hours", count=minutes // 60)
    return _t(services, "mod-age-days", count=minutes // (24 * 60))


def _when(services: Services, moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return render.moment_text(services, moment)  # with its zone: "08.03.2026 14:05 UTC+2"


def counted(services: Services, counts: dict[str, int]) -> list[str]:
    """A message per count that is not zero (each key takes ``count``)."""
    return [_t(services, key, count=count) for key, count in counts.items() if count]


def _shown_files(media: list[Media]) -> list[Media]:
    """The files moderators can see (a failed download is not one)."""
    return [m for m in media if m.status != MEDIA_FAILED]


def media_summary(services: Services, media: list[Media]) -> Html:
    kinds = Counter(m.kind for m in _shown_files(media))
    compressed = [m for m in media if m.status == MEDIA_STORED and m.recompressed]
    flags = {
        "mod-card-compressed": len(compressed),
        "mod-card-too-large": sum(m.status == MEDIA_TOO_LARGE for m in media),
    }
    summary = render.media_text(services.catalog, _lang(services), kinds)
    return Html(" · ".join([summary, *counted(services, flags)]))


def card_text(services: Services, data: CardData) -> Html:
    """The card's text, within Telegram's 4096 UTF-16 units: emoji count two, so fields
    within their limits in characters can outgrow it; the description's preview gives way
    (the whole text is a tap away), and a cut at the end is the last guard."""
    text = _card_text(services, data, preview(services, data))
    return Html(tgtext.shorten(text, MESSAGE_LIMIT))


def preview(services: Services, data: CardData) -> str:
    """The start of the description the card shows: DESCRIPTION_PREVIEW characters, fewer
    where the card would not fit a message otherwise."""
    shown = (data.tip.description or "")[:DESCRIPTION_PREVIEW]
    over = tgtext.visible_len(_card_text(services, data, shown)) - (MESSAGE_LIMIT - _CARD_MARGIN)
    if over > 0 and shown:
        room = max(PREVIEW_MIN_UNITS, tgtext.utf16_len(shown) - over)
        shown = tgtext.shorten_plain(shown, room, ellipsis="")
    return shown


def _urgent(tip: Tip) -> Html:
    return Html("🚨 " if tip.urgent else "")


def _category(services: Services, tip: Tip) -> str:
    return services.catalog.t(_lang(services), f"category-{tip.category}") if tip.category else "—"


def _card_text(services: Services, data: CardData, shown: str) -> Html:
    tip = data.tip
    lines = _title_lines(services, tip)
    if tip.status == TIP_WITHDRAWN:
        lines.append(_t(services, "mod-card-withdrawn"))
    else:
        lines += _content_lines(services, data, shown)
    lines += _reporter_lines(services, data)
    lines += _status_lines(services, data)
    return Html("\n".join(lines))


def _title_lines(services: Services, tip: Tip) -> list[str]:
    urgent = _urgent(tip)
    category = _category(services, tip)
    lines: list[str] = [
        _t(services, "mod-card-title", urgent=urgent, reference=tip.reference, category=category)
    ]
    statute = rome_statute_reference(tip.category or "")
    if statute:
        lines.append(_t(services, "mod-card-statute", articles=statute))
    return lines


def _reporter_lines(services: Services, data: CardData) -> list[str]:
    record = ", ".join(
        f"{count} {status_label(services, status)}" for status, count in sorted(data.record.items())
    )
    contact = "contact-yes-short" if data.tip.contact_allowed else "contact-no-short"
    lines: list[str] = [
        _t(
            services,
            "mod-card-reporter",
            pseudonym=data.pseudonym,
            earlier=record or _t(services, "mod-card-no-earlier"),
            contact=services.catalog.t(_lang(services), contact),
        )
    ]
    if data.banned:
        lines.append(_t(services, "mod-card-banned"))
    return lines + counted(services, {"mod-card-notes": data.notes})


def _status_lines(services: Services, data: CardData) -> list[str]:
    tip = data.tip
    status = status_label(services, tip.status, reason=tip.reject_reason, original=data.original)
    lines: list[str] = [
        _t(services, "mod-card-status", status=status, assignee=tip.assignee_name or "—")
    ]
    if tip.last_action:
        lines.append(
            _t(
                services,
                "mod-card-last",
                action=_t(services, f"mod-action-{tip.last_action}"),
                actor=tip.last_actor_name or "",
                when=_when(services, tip.last_action_at),
            )
        )
    return lines


def _osm(lat: str, lon: str, zoom: int) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map={zoom}/{lat}/{lon}"


def _content_lines(services: Services, data: CardData, start: str) -> list[str]:
    tip = data.tip
    lang = _lang(services)
    lines: list[str] = [
        _t(services, "mod-card-when", date=Html(render.date_text(services, lang, tip))),
        _t(services, "mod-card-where", place=Html(render.place_text(services, lang, tip))),
        *_coordinates(services, tip),
        _t(services, "mod-card-who", perpetrator=_perpetrator(services, tip)),
        *_description(services, tip, start),
        _t(services, "mod-card-media", summary=media_summary(services, data.media)),
    ]
    if data.facts:
        lines.append(metadata_summary(services, data.facts))
    return lines + _duplicates(services, data.links)


def _perpetrator(services: Services, tip: Tip) -> Html:
    return Html(render.perpetrator_text(services, _lang(services), tip))


def _coordinates(services: Services, tip: Tip) -> list[str]:
    if tip.lat is None or tip.lon is None:
        return []
    lat, lon = f"{tip.lat:.5f}", f"{tip.lon:.5f}"
    precision = _t(services, f"mod-precision-{tip.location_precision or LocationPrecision.NONE}")
    osm = _osm(lat, lon, 15)
    return [_t(services, "mod-card-coords", lat=lat, lon=lon, osm=osm, precision=precision)]


def _description(services: Services, tip: Tip, start: str) -> list[str]:
    more = len(tip.description or "") - len(start)
    lines: list[str] = [_t(services, "mod-card-description", description=start or "—")]
    if more > 0:
        lines.append(_t(services, "mod-card-more", more=more))
    return lines


def _duplicates(services: Services, links: list[Suggestion]) -> list[str]:
    if not links:
        return []
    shown = [f"<code>{item.tip.reference}</code> ({_why(services, item)})" for item in links[:5]]
    return [_t(services, "mod-card-duplicates", list=Html(", ".join(shown)))]


def _why(services: Services, item: Suggestion) -> str:
    return ", ".join(_t(services, f"mod-why-{kind}") for kind in item.kinds)


def metadata_summary(services: Services, facts: list[FileFacts]) -> Html:
    """One card line: how many files carry a capture time or a position, and how many of
    them disagree with the report (beyond a day or 25 km)."""
    timed = sum(fact.taken_at is not None for fact in facts)
    placed = sum(fact.lat is not None for fact in facts)
    summary = _t(services, "mod-card-metadata", timed=timed, placed=placed)
    flags = {
        "mod-card-metadata-date-off": sum(fact.date_disagrees for fact in facts),
        "mod-card-metadata-place-off": sum(fact.place_disagrees for fact in facts),
    }
    return Html(" · ".join([summary, *counted(services, flags)]))


# ---------------------------------------------------------------------------- the card's buttons


def card_keyboard(services: Services, data: CardData) -> InlineKeyboardMarkup:
    info = _info_buttons(services, data)
    rows = [info[:3], info[3:], *_decision_rows(services, data.tip)]
    if data.tip.status not in moderation.OPEN and (
        data.tip.status == TIP_QUARANTINED or data.banned
    ):
        rows.append([_button(services, "mod-btn-unban", "unban", data.tip, versioned=True)])
    return keyboard(rows)


def _button(
    services: Services, key: str, action: str, tip: Tip, *args: str | int, versioned: bool = False
) -> InlineKeyboardButton:
    """A card's button: ``versioned`` for a decision (it carries the card's version)."""
    version = (tip.version,) if versioned else ()
    return button(_t(services, key), callback(action, tip, *version, *args))


def _info_buttons(services: Services, data: CardData) -> list[InlineKeyboardButton]:
    """The buttons that fetch what the card leaves out."""
    tip = data.tip
    files = len(_shown_files(data.media))
    wanted = [
        (files > 0, button(_t(services, "mod-btn-media", count=files), callback("media", tip))),
        (tip.lat is not None, _button(services, "mod-btn-map", "map", tip)),
        (
            len(preview(services, data)) < len(tip.description or ""),
            _button(services, "mod-btn-text", "text", tip),
        ),
        (
            bool(data.facts) and tip.status != TIP_WITHDRAWN,
            _button(services, "mod-btn-metadata", "meta", tip),
        ),
        (True, _button(services, "mod-btn-history", "history", tip)),
    ]
    return [key for shown, key in wanted if shown]


def _decision_rows(services: Services, tip: Tip) -> list[list[InlineKeyboardButton]]:
    """The decisions the tip's status allows, and the internal note."""
    note = _button(services, "mod-btn-note", "note", tip)
    if tip.status in moderation.OPEN:
        return _open_rows(services, tip, note)
    if tip.status in moderation.VERDICTS:
        # A minute to take the verdict back with one tap; after it, reopening takes a reason.
        if moderation.undoable(tip):
            return [[_button(services, "mod-btn-undo", "undo", tip, versioned=True), note]]
        return [[_button(services, "mod-btn-reopen", "reopenmenu", tip, versioned=True), note]]
    return [] if tip.status == TIP_WITHDRAWN else [[note]]


def _open_rows(
    services: Services, tip: Tip, note: InlineKeyboardButton
) -> list[list[InlineKeyboardButton]]:
    def decision(key: str, action: str, *args: str | int) -> InlineKeyboardButton:
        return _button(services, key, action, tip, *args, versioned=True)

    taken = tip.assignee_id is not None
    urgent = "mod-btn-urgent-off" if tip.urgent else "mod-btn-urgent-on"
    return [
        [
            decision("mod-btn-release", "release") if taken else decision("mod-btn-take", "take"),
            decision(urgent, "urgent", 0 if tip.urgent else 1),
        ],
        [
            decision("mod-btn-verify", "verify"),
            decision("mod-btn-reject", "rejectmenu"),
            decision("mod-btn-duplicate", "dupmenu"),
        ],
        [decision("mod-btn-ask", "ask"), note, decision("mod-btn-ban", "ban")],
    ]


def card(services: Services, data: CardData) -> Screen:
    return Screen(card_text(services, data), card_keyboard(services, data))


def reject_keyboard(services: Services, tip: Tip) -> InlineKeyboardMarkup:
    rows = [
        [button(_t(services, f"mod-reason-{reason}"), callback("reject", tip, tip.version, reason))]
        for reason in moderation.REJECT_REASONS
    ]
    rows.append([button(_t(services, "mod-btn-back"), callback("card", tip))])
    return keyboard(rows)


def reopen_keyboard(services: Services, tip: Tip) -> InlineKeyboardMarkup:
    rows = [
        [
            button(
                _t(services, f"mod-reopen-{reason}"),
                callback("reopen", tip, tip.version, reason),
            )
        ]
        for reason in moderation.REOPEN_REASONS
    ]
    rows.append([button(_t(services, "mod-btn-back"), callback("card", tip))])
    return keyboard(rows)


def duplicate_keyboard(services: Services, data: CardData) -> InlineKeyboardMarkup:
    tip = data.tip
    rows = [
        [
            button(
                f"{item.tip.reference} ({_why(services, item)})",
                callback("dup", tip, tip.version, item.tip.id),
            )
        ]
        for item in data.links[:5]
    ]
    rows.append([button(_t(services, "mod-btn-type-reference"), callback("dupref", tip))])
    rows.append([button(_t(services, "mod-btn-back"), callback("card", tip))])
    return keyboard(rows)


def confirm_keyboard(services: Services, tip: Tip, data: str) -> InlineKeyboardMarkup:
    return keyboard(
        [
            [button(_t(services, "mod-btn-confirm"), f"{data}:force")],
            [button(_t(services, "mod-btn-back"), callback("card", tip))],
        ]
    )


# ---------------------------------------------------------------------------- digests, lists


def tip_line(services: Services, tip: Tip, files: int) -> Html:
    """One line of a digest or a list: enough to tell reports apart and triage from it —
    category, settlement, incident date, age, files, and the first words of the text."""
    return _t(
        services,
        "mod-line",
        urgent=_urgent(tip),
        reference=tip.reference,
        category=_category(services, tip),
        place=_short_place(services, tip),
        date=_short_date(tip),
        age=_age(services, tip.submitted_at),
        files=files,
        words=first_words(tip.description or "") or "—",
    )


def _short_place(services: Services, tip: Tip) -> str:
    """The settlement (its label tells namesakes apart), else what the reporter typed (cut
    short), else the oblast, else the point."""
    lang = _lang(services)
    for candidate in (_settlement_label, _typed_place, _oblast_label, _point):
        found = candidate(services, lang, tip)
        if found is not None:
            return found
    return "—"


def _settlement_label(services: Services, lang: str, tip: Tip) -> str | None:
    place = services.gazetteer.get(tip.settlement_id) if tip.settlement_id else None
    if place is not None:
        return place.label(lang)
    if not tip.settlement:
        return None
    oblast = _oblast_label(services, lang, tip)
    return f"{tip.settlement}, {oblast}" if oblast else tip.settlement


def _typed_place(_services: Services, _lang: str, tip: Tip) -> str | None:
    if tip.location_precision != LocationPrecision.TEXT or not tip.place_text:
        return None
    return first_words(tip.place_text, 30)


def _oblast_label(_services: Services, lang: str, tip: Tip) -> str | None:
    return oblast_name(tip.oblast, lang, short=True) if tip.oblast else None


def _point(_services: Services, _lang: str, tip: Tip) -> str | None:
    if tip.lat is None or tip.lon is None:
        return None
    return f"{tip.lat:.3f}, {tip.lon:.3f}"


_DATE_FORMATS: dict[str, str] = {DatePrecision.DAY: "%d.%m.%Y", DatePrecision.MONTH: "%m.%Y"}


def _short_date(tip: Tip) -> str:
    shape = _DATE_FORMATS.get(tip.incident_date_precision or "")
    if tip.incident_date is None or shape is None:
        return "—"
    return tip.incident_date.strftime(shape)


def first_words(text: str, limit: int = LINE_WORDS) -> str:
    """The start of a text on one line: whitespace folded, cut at a word, marked "…"."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    if cut < limit // 2:
        cut = limit
    return flat[:cut].rstrip(" ,.;:-") + "…"


def digest(services: Services, tips: list[tuple[Tip, int]], waiting: int) -> Screen:
    lines = [_t(services, "mod-digest-title", count=len(tips), waiting=waiting)]
    lines += [tip_line(services, tip, files) for tip, files in tips]
    rows = open_buttons(services, [tip for tip, _ in tips], per_row=2)
    return Screen(Html("\n".join(lines)), keyboard(rows))


def open_buttons(
    services: Services, tips: list[Tip], *, per_row: int
) -> list[list[InlineKeyboardButton]]:
    """An Open button per tip (it posts the tip's card), ``per_row`` to a row."""
    buttons = [
        button(_t(services, "mod-btn-open", reference=tip.reference), callback("open", tip))
        for tip in tips
    ]
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def metadata_view(services: Services, data: CardData) -> list[Html]:
    """What each file's own metadata says of when and where it was made, against the
    reported date and place (flagged beyond a day or 25 km)."""
    lang = _lang(services)
    tip = data.tip
    title = _t(
        services,
        "mod-meta-title",
        reference=tip.reference,
        date=Html(render.date_text(services, lang, tip)),
        place=Html(render.place_text(services, lang, tip)),
    )
    lines = [title, *(_fact_line(services, n, fact) for n, fact in enumerate(data.facts, 1))]
    return [Html(part) for part in pack_lines(lines)]


def _fact_line(services: Services, number: int, fact: FileFacts) -> str:
    media = fact.media
    kind = services.catalog.t(_lang(services), f"kind-{media.kind}")
    name = first_words(media.file_name or "", 40) or "—"
    parts = [_t(services, "mod-meta-file", number=number, kind=kind, name=name)]
    return " · ".join(parts + _taken_parts(services, fact) + _gps_parts(services, fact))


def _taken_parts(services: Services, fact: FileFacts) -> list[str]:
    if fact.taken_at is None:
        return []
    parts: list[str] = [
        _t(services, "mod-meta-taken", when=fact.taken_at.strftime("%d.%m.%Y %H:%M"))
    ]
    if fact.date_disagrees and fact.days_apart is not None:
        days = max(1, round(fact.days_apart))
        parts.append(_t(services, "mod-meta-date-off", count=days))
    return parts


def _gps_parts(services: Services, fact: FileFacts) -> list[str]:
    if fact.lat is None or fact.lon is None:
        return []
    lat, lon = f"{fact.lat:.5f}", f"{fact.lon:.5f}"
    parts: list[str] = [_t(services, "mod-meta-gps", lat=lat, lon=lon, osm=_osm(lat, lon, 13))]
    if fact.place_disagrees and fact.km_apart is not None:
        parts.append(_t(services, "mod-meta-place-off", km=round(fact.km_apart)))
    return parts


def full_text(services: Services, tip: Tip) -> list[Html]:
    """The whole description in as many messages as it takes (each within 4096 UTF-16
    units, cut at line or word breaks, never inside an emoji or an entity)."""
    header = _t(services, "mod-fulltext-title", reference=tip.reference)
    budget = MESSAGE_LIMIT - tgtext.visible_len(header) - 20  # and " (nn/nn)\n\n"
    parts = tgtext.split(escape(neutralise(tip.description or "—")), budget)
    return [
        Html(f"{header} ({index}/{len(parts)})\n\n{part}") for index, part in enumerate(parts, 1)
    ]


@dataclass(slots=True)
class History:
    """A tip's history as messages, and whether they quote internal notes (moderators'
    words about the content: a withdrawal takes such a copy back out of the chat)."""

    texts: list[Html]
    quotes_notes: bool


def history(services: Services, data: HistoryData) -> History:
    """The custody entries of a tip in plain words; an internal note's entry shows the
    note (the custody log itself only holds its id)."""
    lines: list[str] = [_t(services, "mod-history-title", reference=data.tip.reference)]
    quoted = False
    for entry in data.entries:
        note = _quoted_note(entry, data.notes)
        quoted = quoted or note is not None
        lines.append(_history_line(services, entry, note))
    return History([Html(part) for part in pack_lines(lines)], quoted)


def _quoted_note(entry: CustodyEntry, notes: dict[int, TipNote]) -> str | None:
    """The text of the internal note an entry records (None for other entries)."""
    note_id = _int(entry.details.get("note")) if entry.action == moderation.NOTE_ADDED else None
    note = notes.get(note_id) if note_id is not None else None
    return note.text if note is not None and note.text else None


def _history_line(services: Services, entry: CustodyEntry, note: str | None) -> str:
    what = _t(services, f"mod-action-{entry.action}", view=str(entry.details.get("view")))
    extra = _history_extra(services, entry)
    if note is not None:
        extra += f": <i>{_quoted(note)}</i>"
    return _t(
        services,
        "mod-history-line",
        when=_when(services, entry.created_at),
        who=_who(services, entry),
        what=Html(f"{what}{extra}"),
    )


def _who(services: Services, entry: CustodyEntry) -> str:
    if entry.actor.startswith("moderator:"):
        who = entry.details.get("moderator")
        if who is not None:
            return str(who)
    by_reporter = entry.actor.startswith("reporter:")
    return _t(services, "mod-history-reporter" if by_reporter else "mod-history-system")


# A note quoted in the history is cut to this much (escaped), so its line fits a message.
_NOTE_QUOTE = 3000


def _quoted(text: str) -> str:
    return escape(tgtext.shorten_plain(text, _NOTE_QUOTE))


def pack_lines(lines: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """HTML lines in as few messages as fit (measured in UTF-16 units of what they show),
    never cutting a line (nor so its tags) unless it is too long for a message by itself."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = tgtext.shorten(line, limit)
        length = tgtext.visible_len(line)
        if current and size + 1 + length > limit:
            parts.append("\n".join(current))
            current, size = [], 0
        size += length + (1 if current else 0)
        current.append(line)
    if current:
        parts.append("\n".join(current))
    return parts


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


_EXTRAS: dict[str, Callable[[Services, dict[str, Any]], str]] = {
    "reopened": lambda services, d: f" · {_t(services, 'mod-reopen-' + str(d.get('reason')))}",
    "verdict_undone": lambda services, d: (
        f" · {_t(services, 'mod-action-' + str(d.get('verdict')))}"
    ),
    "file_received": lambda _, d: (
        f" · {d.get('kind')} · sha256 <code>{str(d['sha256'])[:16]}…</code>"
        if d.get("sha256")
        else ""
    ),
    "rejected": lambda _, d: f" · {d.get('reason')}",
    "duplicate": lambda _, d: f" · {d.get('original')}",
}


def _history_extra(services: Services, entry: CustodyEntry) -> str:
    """What an entry's details add to its line (codes, never a reporter's words)."""
    extra = _EXTRAS.get(entry.action)
    return extra(services, entry.details) if extra is not None else ""
