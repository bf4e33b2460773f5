"""What moderators see: the tip card, digest lines, history, queue and statistics.

A card is one message: reference and category, date, place (with an OpenStreetMap link),
who was responsible, the start of the description, a summary of the files (and what their
metadata says, flagged where it disagrees with the report), possible duplicates, the
number of internal notes, the reporter's pseudonym and record, contact, status, assignee and
last action; with buttons that fetch the rest on demand (each message costs the group's
budget). For a minute after a verdict the card offers Undo, then Reopen.

Callback data: ``mod:<action>:<tip id>[:<version>[:<argument>]]``. The version is the tip's
when the card was drawn: an action on an outdated card is refused with who acted first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import moderation, tgtext
from bot.gazetteer import oblast_name
from bot.i18n import Html, escape
from bot.moderation import FileFacts, Suggestion
from bot.taxonomy import rome_statute_reference
from bot.text import neutralise
from db.models import (
    MEDIA_TOO_LARGE,
    TIP_QUARANTINED,
    TIP_WITHDRAWN,
    CustodyEntry,
    Media,
    Reporter,
    Tip,
)
from handlers import render
from handlers.base import Screen, Services, button, keyboard

DESCRIPTION_PREVIEW = 800
MESSAGE_LIMIT = tgtext.TEXT  # in UTF-16 units, as Telegram counts
# The card stays this much under the limit (the "N more characters" line may grow a digit
# as the preview shrinks); the preview is never cut below PREVIEW_MIN_UNITS.
_CARD_MARGIN = 16
PREVIEW_MIN_UNITS = 100
# The start of a description on a digest or queue line (it stays one line).
LINE_WORDS = 60


@dataclass(slots=True)
class CardData:
    """Everything a card shows, loaded in one go."""

    tip: Tip
    media: list[Media]
    links: list[Suggestion]
    record: dict[str, int]
    pseudonym: str
    banned: bool
    original: str | None  # the reference this tip duplicates, if marked so
    notes: int = 0  # internal notes
    facts: list[FileFacts] = field(default_factory=list)  # files with a time or place inside


async def load_card(session: AsyncSession, tip: Tip) -> CardData:
    reporter = await session.get(Reporter, tip.reporter_id)
    original = await session.get(Tip, tip.duplicate_of_id) if tip.duplicate_of_id else None
    media = await moderation.media_of(session, tip.id)
    return CardData(
        tip=tip,
        media=media,
        links=await moderation.links(session, tip),
        record=await moderation.reporter_record(session, tip),
        pseudonym=(reporter.pseudonym[:8] if reporter else "?"),
        banned=bool(reporter and reporter.banned_at),
        original=original.reference if original else None,
        notes=len(await moderation.notes_of(session, tip.id)),
        facts=moderation.file_facts(tip, media),
    )


def _lang(services: Services) -> str:
    return services.settings.tipbot_moderator_language


def mt(services: Services, key: str, **args: Any) -> Html:
    """A message in the moderators' language. What reporters (or moderators) wrote in it
    is neutralised: no bidirectional override reorders it, nothing invisible hides in it
    (lengths never grow, so what was measured for Telegram's limits still holds)."""
    return Html(neutralise(services.catalog.t(_lang(services), key, **args)))


_t = mt


def callback(action: str, tip: Tip, *args: str | int) -> str:
    return ":".join(["mod", action, str(tip.id), *map(str, args)])


def status_label(
    services: Services, status: str, *, reason: str | None = None, original: str | None = None
) -> Html:
    if status == "rejected" and reason:
        return _t(
            services, "mod-status-rejected-because", reason=_t(services, f"mod-reason-{reason}")
        )
    if status == "duplicate" and original:
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


def media_summary(services: Services, media: list[Media]) -> Html:
    lang = _lang(services)
    kinds = Counter(m.kind for m in media if m.status != "failed")
    parts = [render.media_text(services.catalog, lang, kinds)]
    compressed = sum(1 for m in media if m.recompressed and m.status == "stored")
    too_large = sum(1 for m in media if m.status == MEDIA_TOO_LARGE)
    if compressed:
        parts.append(_t(services, "mod-card-compressed", count=compressed))
    if too_large:
        parts.append(_t(services, "mod-card-too-large", count=too_large))
    return Html(" · ".join(parts))


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


def _card_text(services: Services, data: CardData, shown: str) -> Html:
    tip = data.tip
    lang = _lang(services)
    t = services.catalog.t
    category = t(lang, f"category-{tip.category}") if tip.category else "—"
    statute = rome_statute_reference(tip.category or "")
    lines: list[str] = [
        _t(
            services,
            "mod-card-title",
            urgent=Html("🚨 " if tip.urgent else ""),
            reference=tip.reference,
            category=category,
        )
    ]
    if statute:
        lines.append(_t(services, "mod-card-statute", articles=statute))
    if tip.status == TIP_WITHDRAWN:
        lines.append(_t(services, "mod-card-withdrawn"))
    else:
        lines += _content_lines(services, data, shown)
    record = ", ".join(
        f"{count} {status_label(services, status)}" for status, count in sorted(data.record.items())
    )
    lines.append(
        _t(
            services,
            "mod-card-reporter",
            pseudonym=data.pseudonym,
            earlier=record or _t(services, "mod-card-no-earlier"),
            contact=t(lang, "contact-yes-short" if tip.contact_allowed else "contact-no-short"),
        )
    )
    if data.banned:
        lines.append(_t(services, "mod-card-banned"))
    if data.notes:
        lines.append(_t(services, "mod-card-notes", count=data.notes))
    lines.append(
        _t(
            services,
            "mod-card-status",
            status=status_label(
                services, tip.status, reason=tip.reject_reason, original=data.original
            ),
            assignee=tip.assignee_name or "—",
        )
    )
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
    return Html("\n".join(lines))


def _content_lines(services: Services, data: CardData, start: str) -> list[str]:
    tip = data.tip
    lang = _lang(services)
    lines: list[str] = [
        _t(services, "mod-card-when", date=Html(render.date_text(services, lang, tip))),
        _t(services, "mod-card-where", place=Html(render.place_text(services, lang, tip))),
    ]
    if tip.lat is not None and tip.lon is not None:
        lat, lon = f"{tip.lat:.5f}", f"{tip.lon:.5f}"
        osm = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=15/{lat}/{lon}"
        precision = _t(services, f"mod-precision-{tip.location_precision or 'none'}")
        lines.append(
            _t(services, "mod-card-coords", lat=lat, lon=lon, osm=osm, precision=precision)
        )
    lines.append(
        _t(services, "mod-card-who", perpetrator=Html(render.perpetrator_text(services, lang, tip)))
    )
    description = tip.description or ""
    more = len(description) - len(start)
    lines.append(_t(services, "mod-card-description", description=start or "—"))
    if more > 0:
        lines.append(_t(services, "mod-card-more", more=more))
    lines.append(_t(services, "mod-card-media", summary=media_summary(services, data.media)))
    if data.facts:
        lines.append(metadata_summary(services, data.facts))
    if data.links:
        shown = [
            f"<code>{item.tip.reference}</code> ({_why(services, item)})" for item in data.links[:5]
        ]
        lines.append(_t(services, "mod-card-duplicates", list=Html(", ".join(shown))))
    return lines


def _why(services: Services, item: Suggestion) -> str:
    return ", ".join(_t(services, f"mod-why-{kind}") for kind in item.kinds)


def metadata_summary(services: Services, facts: list[FileFacts]) -> Html:
    """One card line: how many files carry a capture time or a position, and how many of
    them disagree with the report (beyond a day or 25 km)."""
    timed = sum(1 for fact in facts if fact.taken_at is not None)
    placed = sum(1 for fact in facts if fact.lat is not None)
    summary = _t(services, "mod-card-metadata", timed=timed, placed=placed)
    dates = sum(1 for fact in facts if fact.date_disagrees)
    places = sum(1 for fact in facts if fact.place_disagrees)
    flags = []
    if dates:
        flags.append(_t(services, "mod-card-metadata-date-off", count=dates))
    if places:
        flags.append(_t(services, "mod-card-metadata-place-off", count=places))
    return Html(" · ".join([summary, *flags]))


def card_keyboard(services: Services, data: CardData) -> InlineKeyboardMarkup:
    tip = data.tip
    v = tip.version

    def t(key: str, **args: Any) -> str:
        return _t(services, key, **args)

    files = sum(1 for m in data.media if m.status != "failed")
    info: list[InlineKeyboardButton] = []
    if files:
        info.append(button(t("mod-btn-media", count=files), callback("media", tip)))
    if tip.lat is not None:
        info.append(button(t("mod-btn-map"), callback("map", tip)))
    if len(preview(services, data)) < len(tip.description or ""):
        info.append(button(t("mod-btn-text"), callback("text", tip)))
    if data.facts and tip.status != TIP_WITHDRAWN:
        info.append(button(t("mod-btn-metadata"), callback("meta", tip)))
    info.append(button(t("mod-btn-history"), callback("history", tip)))
    rows = [info[:3], info[3:]]
    note = button(t("mod-btn-note"), callback("note", tip))
    if tip.status in moderation.OPEN:
        taken = tip.assignee_id is not None
        rows.append(
            [
                button(t("mod-btn-release"), callback("release", tip, v))
                if taken
                else button(t("mod-btn-take"), callback("take", tip, v)),
                button(
                    t("mod-btn-urgent-off" if tip.urgent else "mod-btn-urgent-on"),
                    callback("urgent", tip, v, 0 if tip.urgent else 1),
                ),
            ]
        )
        rows.append(
            [
                button(t("mod-btn-verify"), callback("verify", tip, v)),
                button(t("mod-btn-reject"), callback("rejectmenu", tip, v)),
                button(t("mod-btn-duplicate"), callback("dupmenu", tip, v)),
            ]
        )
        rows.append(
            [
                button(t("mod-btn-ask"), callback("ask", tip, v)),
                note,
                button(t("mod-btn-ban"), callback("ban", tip, v)),
            ]
        )
    elif tip.status in moderation.VERDICTS:
        # A minute to take the verdict back with one tap; after it, reopening takes a reason.
        if moderation.undoable(tip):
            rows.append([button(t("mod-btn-undo"), callback("undo", tip, v)), note])
        else:
            rows.append([button(t("mod-btn-reopen"), callback("reopenmenu", tip, v)), note])
    elif tip.status != TIP_WITHDRAWN:
        rows.append([note])
    if tip.status not in moderation.OPEN and (tip.status == TIP_QUARANTINED or data.banned):
        rows.append([button(t("mod-btn-unban"), callback("unban", tip, v))])
    return keyboard(rows)


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
    lang = _lang(services)
    return _t(
        services,
        "mod-line",
        urgent=Html("🚨 " if tip.urgent else ""),
        reference=tip.reference,
        category=services.catalog.t(lang, f"category-{tip.category}") if tip.category else "—",
        place=_short_place(services, tip),
        date=_short_date(tip),
        age=_age(services, tip.submitted_at),
        files=files,
        words=first_words(tip.description or "") or "—",
    )


def _short_place(services: Services, tip: Tip) -> str:
    """The settlement (its label tells namesakes apart), else what the reporter typed (cut
    short), else the oblast."""
    lang = _lang(services)
    place = services.gazetteer.get(tip.settlement_id) if tip.settlement_id else None
    if place is not None:
        return place.label(lang)
    if tip.settlement:
        oblast = oblast_name(tip.oblast, lang, short=True) if tip.oblast else None
        return f"{tip.settlement}, {oblast}" if oblast else tip.settlement
    if tip.location_precision == "text" and tip.place_text:
        return first_words(tip.place_text, 30)
    if tip.oblast:
        return oblast_name(tip.oblast, lang, short=True)
    if tip.lat is not None and tip.lon is not None:
        return f"{tip.lat:.3f}, {tip.lon:.3f}"
    return "—"


def _short_date(tip: Tip) -> str:
    if tip.incident_date is None or tip.incident_date_precision not in ("day", "month"):
        return "—"
    if tip.incident_date_precision == "month":
        return tip.incident_date.strftime("%m.%Y")
    return tip.incident_date.strftime("%d.%m.%Y")


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
    buttons = [
        button(_t(services, "mod-btn-open", reference=tip.reference), callback("open", tip))
        for tip, _ in tips
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Screen(Html("\n".join(lines)), keyboard(rows))


def metadata_view(services: Services, data: CardData) -> list[Html]:
    """What each file's own metadata says of when and where it was made, against the
    reported date and place (flagged beyond a day or 25 km)."""
    lang = _lang(services)
    tip = data.tip
    lines: list[str] = [
        _t(
            services,
            "mod-meta-title",
            reference=tip.reference,
            date=Html(render.date_text(services, lang, tip)),
            place=Html(render.place_text(services, lang, tip)),
        )
    ]
    for number, fact in enumerate(data.facts, 1):
        media = fact.media
        parts = [
            _t(
                services,
                "mod-meta-file",
                number=number,
                kind=services.catalog.t(lang, f"kind-{media.kind}"),
                name=first_words(media.file_name or "", 40) or "—",
            )
        ]
        if fact.taken_at is not None:
            parts.append(
                _t(services, "mod-meta-taken", when=fact.taken_at.strftime("%d.%m.%Y %H:%M"))
            )
            if fact.date_disagrees and fact.days_apart is not None:
                days = max(1, round(fact.days_apart))
                parts.append(_t(services, "mod-meta-date-off", count=days))
        if fact.lat is not None and fact.lon is not None:
            lat, lon = f"{fact.lat:.5f}", f"{fact.lon:.5f}"
            osm = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=13/{lat}/{lon}"
            parts.append(_t(services, "mod-meta-gps", lat=lat, lon=lon, osm=osm))
            if fact.place_disagrees and fact.km_apart is not None:
                parts.append(_t(services, "mod-meta-place-off", km=round(fact.km_apart)))
        lines.append(" · ".join(parts))
    return [Html(part) for part in pack_lines(lines)]


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


async def history(session: AsyncSession, services: Services, tip: Tip) -> History:
    """The custody entries of a tip in plain words; an internal note's entry shows the
    note (the custody log itself only holds its id)."""
    entries = (
        await session.execute(
            select(CustodyEntry).where(CustodyEntry.tip_id == tip.id).order_by(CustodyEntry.seq)
        )
    ).scalars()
    notes = {note.id: note for note in await moderation.notes_of(session, tip.id)}
    quoted = False
    lines: list[str] = [_t(services, "mod-history-title", reference=tip.reference)]
    for entry in entries:
        who = entry.details.get("moderator") if entry.actor.startswith("moderator:") else None
        if who is None:
            by_reporter = entry.actor.startswith("reporter:")
            who = _t(services, "mod-history-reporter" if by_reporter else "mod-history-system")
        what = _t(services, f"mod-action-{entry.action}", view=str(entry.details.get("view")))
        extra = _history_extra(services, entry)
        note_id = _int(entry.details.get("note")) if entry.action == "note_added" else None
        note = notes.get(note_id) if note_id is not None else None
        if note is not None and note.text:
            extra += f": <i>{_quoted(note.text)}</i>"
            quoted = True
        lines.append(
            _t(
                services,
                "mod-history-line",
                when=_when(services, entry.created_at),
                who=str(who),
                what=Html(f"{what}{extra}"),
            )
        )
    return History([Html(part) for part in pack_lines(lines)], quoted)


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


def _history_extra(services: Services, entry: CustodyEntry) -> str:
    details = entry.details
    if entry.action == "reopened":
        return f" · {_t(services, 'mod-reopen-' + str(details.get('reason')))}"
    if entry.action == "verdict_undone":
        return f" · {_t(services, 'mod-action-' + str(details.get('verdict')))}"
    if entry.action == "file_received" and details.get("sha256"):
        return f" · {details.get('kind')} · sha256 <code>{str(details['sha256'])[:16]}…</code>"
    if entry.action == "rejected":
        return f" · {details.get('reason')}"
    if entry.action == "duplicate":
        return f" · {details.get('original')}"
    return ""
