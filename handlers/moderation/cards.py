"""What moderators see: the tip card, digest lines, history, queue and statistics.

A card is one message: reference and category, date, place (with an OpenStreetMap link),
who was responsible, the start of the description, a summary of the files, possible
duplicates, the reporter's pseudonym and record, contact, status, assignee and last action;
with buttons that fetch the rest on demand (each message costs the group's budget).

Callback data: ``mod:<action>:<tip id>[:<version>[:<argument>]]``. The version is the tip's
when the card was drawn: an action on an outdated card is refused with who acted first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import moderation
from bot.gazetteer import oblast_name
from bot.i18n import Html, escape
from bot.taxonomy import rome_statute_reference
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
MESSAGE_LIMIT = 4096


@dataclass(slots=True)
class CardData:
    """Everything a card shows, loaded in one go."""

    tip: Tip
    media: list[Media]
    links: list[tuple[Tip, str, int | None]]
    record: dict[str, int]
    pseudonym: str
    banned: bool
    original: str | None  # the reference this tip duplicates, if marked so


async def load_card(session: AsyncSession, tip: Tip) -> CardData:
    reporter = await session.get(Reporter, tip.reporter_id)
    original = await session.get(Tip, tip.duplicate_of_id) if tip.duplicate_of_id else None
    return CardData(
        tip=tip,
        media=await moderation.media_of(session, tip.id),
        links=await moderation.links(session, tip),
        record=await moderation.reporter_record(session, tip),
        pseudonym=(reporter.pseudonym[:8] if reporter else "?"),
        banned=bool(reporter and reporter.banned_at),
        original=original.reference if original else None,
    )


def _lang(services: Services) -> str:
    return services.settings.tipbot_moderator_language


def mt(services: Services, key: str, **args: Any) -> Html:
    """A message in the moderators' language."""
    return services.catalog.t(_lang(services), key, **args)


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
    return moment.astimezone(services.timezone).strftime("%d.%m.%Y %H:%M")


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
        lines += _content_lines(services, data)
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


def _content_lines(services: Services, data: CardData) -> list[str]:
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
    preview = description[:DESCRIPTION_PREVIEW]
    more = len(description) - len(preview)
    lines.append(_t(services, "mod-card-description", description=preview or "—"))
    if more > 0:
        lines.append(_t(services, "mod-card-more", more=more))
    lines.append(_t(services, "mod-card-media", summary=media_summary(services, data.media)))
    if data.links:
        shown = [
            f"<code>{other.reference}</code> ({_t(services, f'mod-why-{kind}')})"
            for other, kind, _ in data.links[:5]
        ]
        lines.append(_t(services, "mod-card-duplicates", list=Html(", ".join(shown))))
    return lines


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
    if len(tip.description or "") > DESCRIPTION_PREVIEW:
        info.append(button(t("mod-btn-text"), callback("text", tip)))
    info.append(button(t("mod-btn-history"), callback("history", tip)))
    rows = [info]
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
                button(t("mod-btn-ban"), callback("ban", tip, v)),
            ]
        )
    elif tip.status == TIP_QUARANTINED or data.banned:
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


def duplicate_keyboard(services: Services, data: CardData) -> InlineKeyboardMarkup:
    tip = data.tip
    rows = [
        [
            button(
                f"{other.reference} ({_t(services, f'mod-why-{kind}')})",
                callback("dup", tip, tip.version, other.id),
            )
        ]
        for other, kind, _ in data.links[:5]
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
    lang = _lang(services)
    return _t(
        services,
        "mod-line",
        urgent=Html("🚨 " if tip.urgent else ""),
        reference=tip.reference,
        category=services.catalog.t(lang, f"category-{tip.category}") if tip.category else "—",
        oblast=oblast_name(tip.oblast, lang, short=True) if tip.oblast else "—",
        age=_age(services, tip.submitted_at),
        files=files,
    )


def digest(services: Services, tips: list[tuple[Tip, int]], waiting: int) -> Screen:
    lines = [_t(services, "mod-digest-title", count=len(tips), waiting=waiting)]
    lines += [tip_line(services, tip, files) for tip, files in tips]
    buttons = [
        button(_t(services, "mod-btn-open", reference=tip.reference), callback("open", tip))
        for tip, _ in tips
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Screen(Html("\n".join(lines)), keyboard(rows))


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Plain text in pieces that each fit a Telegram message, cut at line or word breaks."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def full_text(services: Services, tip: Tip) -> list[Html]:
    header = _t(services, "mod-fulltext-title", reference=tip.reference)
    budget = MESSAGE_LIMIT - len(header) - 40
    parts = split_text(tip.description or "—", budget)
    return [
        Html(f"{header} ({index}/{len(parts)})\n\n{escape(part)}")
        for index, part in enumerate(parts, 1)
    ]


async def history(session: AsyncSession, services: Services, tip: Tip) -> list[Html]:
    entries = (
        await session.execute(
            select(CustodyEntry).where(CustodyEntry.tip_id == tip.id).order_by(CustodyEntry.seq)
        )
    ).scalars()
    lines = [_t(services, "mod-history-title", reference=tip.reference)]
    for entry in entries:
        who = entry.details.get("moderator") if entry.actor.startswith("moderator:") else None
        if who is None:
            by_reporter = entry.actor.startswith("reporter:")
            who = _t(services, "mod-history-reporter" if by_reporter else "mod-history-system")
        what = _t(services, f"mod-action-{entry.action}", view=str(entry.details.get("view")))
        extra = _history_extra(entry)
        lines.append(
            _t(
                services,
                "mod-history-line",
                when=_when(services, entry.created_at),
                who=str(who),
                what=Html(f"{what}{extra}"),
            )
        )
    text = "\n".join(lines)
    return [Html(part) for part in split_text(text)]


def _history_extra(entry: CustodyEntry) -> str:
    details = entry.details
    if entry.action == "file_received" and details.get("sha256"):
        return f" · {details.get('kind')} · sha256 <code>{str(details['sha256'])[:16]}…</code>"
    if entry.action == "rejected":
        return f" · {details.get('reason')}"
    if entry.action == "duplicate":
        return f" · {details.get('original')}"
    return ""
