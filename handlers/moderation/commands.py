"""Commands and replies in the moderators' group.

``/queue [banned]`` (open tips, unassigned and urgent first, oldest first, paged), ``/mine``,
``/tip <reference>`` (posts the card again), ``/stats``, ``/unban <reference>``, ``/help``.
A moderator's reply to the bot's "write your question" prompt is a question for the reporter;
a reply to the "write your note" prompt is an internal note (never relayed); a reply to a
card, an answer or a copy of a tip's files might be meant for the other moderators, so the
bot asks first whether to send it to the reporter, keep it as an internal note, or neither.
A reply to the "which report?" prompt names the original of a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Message, ReplyParameters, Update
from telegram.error import BadRequest

from bot import moderation
from bot.gazetteer import oblast_name
from bot.i18n import Html, escape
from bot.moderation import Conflict, Moderator, Refused
from bot.refcode import normalise_reference
from bot.text import clean
from db.engine import transaction
from db.models import Tip
from handlers.base import Ctx, Screen, Services, button, handler, keyboard, parse_id
from handlers.moderation import cards
from handlers.moderation.access import authorise
from handlers.moderation.actions import post_card, refresh_card

log = logging.getLogger(__name__)
PER_PAGE = 10
QUESTION_MAX = 3500
Labeller = Callable[[str], str]


def _t(services: Services, key: str, **args: object) -> Html:
    return services.catalog.t(services.settings.tipbot_moderator_language, key, **args)


async def _reply(update: Update, context: Ctx, text: str, markup: object = None) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    return await context.bot.send_message(
        message.chat_id,
        text,
        reply_markup=markup,  # type: ignore[arg-type]
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        message_thread_id=message.message_thread_id if message.is_topic_message else None,
    )


# ---------------------------------------------------------------------------- lists


async def _queue_screen(services: Services, *, banned: bool, page: int) -> Screen:
    async with services.sessions() as session:
        tips, total = await moderation.queue(session, banned=banned, page=page, per_page=PER_PAGE)
        counts = await moderation.file_counts(session, [tip.id for tip in tips])
    pages = max(1, -(-total // PER_PAGE))
    key = "mod-queue-banned-title" if banned else "mod-queue-title"
    if not tips:
        return Screen(_t(services, "mod-queue-banned-empty" if banned else "mod-queue-empty"))
    lines = [_t(services, key, total=total, page=page + 1, pages=pages)]
    for tip in tips:
        line = cards.tip_line(services, tip, counts.get(tip.id, 0))
        if tip.assignee_name:
            line = Html(f"{line} · 👤 {escape(tip.assignee_name)}")
        lines.append(line)
    buttons = [
        button(_t(services, "mod-btn-open", reference=tip.reference), cards.callback("open", tip))
        for tip in tips
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    flag = int(banned)
    paging = []
    if page > 0:
        paging.append(button(_t(services, "mod-btn-previous"), f"modq:{page - 1}:{flag}"))
    if page + 1 < pages:
        paging.append(button(_t(services, "mod-btn-next"), f"modq:{page + 1}:{flag}"))
    rows.append(paging)
    return Screen(Html("\n".join(lines)), keyboard(rows))


@handler("moderation.queue")
async def queue_command(update: Update, context: Ctx) -> None:
    if await authorise(update, context, "queue") is None:
        return
    args = context.args or []
    banned = bool(args) and args[0].lower() in ("banned", "quarantined")
    screen = await _queue_screen(context.services, banned=banned, page=0)
    await _reply(update, context, screen.text, screen.markup)


@handler("moderation.queue_page")
async def queue_page(update: Update, context: Ctx) -> None:
    query = update.callback_query
    if query is None or await authorise(update, context, "queue") is None:
        return
    parts = (query.data or "").split(":")
    # A page number as this bot writes it; anything else (forged) is the first page.
    page = (parse_id(parts[1], minimum=0, maximum=10_000) if len(parts) > 1 else None) or 0
    banned = len(parts) > 2 and parts[2] == "1"
    screen = await _queue_screen(context.services, banned=banned, page=page)
    await query.answer()
    if isinstance(query.message, Message):
        try:
            await query.message.edit_text(screen.text, reply_markup=screen.markup)  # type: ignore[arg-type]
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise


@handler("moderation.mine")
async def mine_command(update: Update, context: Ctx) -> None:
    moderator = await authorise(update, context, "mine")
    if moderator is None:
        return
    services = context.services
    async with services.sessions() as session:
        tips = await moderation.assigned_to(session, moderator.id)
        counts = await moderation.file_counts(session, [tip.id for tip in tips])
    if not tips:
        await _reply(update, context, _t(services, "mod-mine-empty"))
        return
    lines = [_t(services, "mod-mine-title", count=len(tips))]
    lines += [cards.tip_line(services, tip, counts.get(tip.id, 0)) for tip in tips]
    buttons = [
        [button(_t(services, "mod-btn-open", reference=tip.reference), cards.callback("open", tip))]
        for tip in tips[:20]
    ]
    await _reply(update, context, "\n".join(lines), keyboard(buttons))


async def _tip_from_args(update: Update, context: Ctx) -> Tip | None:
    services = context.services
    reference = normalise_reference(" ".join(context.args or []))
    if reference is None:
        await _reply(update, context, _t(services, "mod-tip-usage"))
        return None
    async with services.sessions() as session:
        tip = await moderation.find_by_reference(session, reference)
    if tip is None or tip.status == "draft":
        await _reply(update, context, _t(services, "mod-tip-unknown", reference=reference))
        return None
    return tip


@handler("moderation.tip")
async def tip_command(update: Update, context: Ctx) -> None:
    if await authorise(update, context, "tip") is None:
        return
    tip = await _tip_from_args(update, context)
    if tip is None:
        return
    async with context.services.sessions() as session:
        data = await cards.load_card(session, tip)
    message = update.effective_message
    reply = (
        ReplyParameters(message.message_id, allow_sending_without_reply=True) if message else None
    )
    await post_card(context, data, reply_to=reply)


@handler("moderation.unban")
async def unban_command(update: Update, context: Ctx) -> None:
    moderator = await authorise(update, context, "unban")
    if moderator is None:
        return
    tip = await _tip_from_args(update, context)
    if tip is None:
        return
    services = context.services
    async with transaction(services.sessions) as session:
        await moderation.lock_reporter_of(session, tip.id)
        locked = await moderation.tip_for_update(session, tip.id)
        assert locked is not None
        try:
            restored = await moderation.unban(session, locked, moderator)
            text = _t(services, "mod-unbanned", reference=tip.reference, count=len(restored))
        except Refused as exc:
            text = _t(services, f"mod-refused-{exc.reason}")
        others = await moderation.other_cards(session, locked)
    await _reply(update, context, text)
    for tip_id in (tip.id, *others):
        await refresh_card(context, tip_id)


@handler("moderation.stats")
async def stats_command(update: Update, context: Ctx) -> None:
    if await authorise(update, context, "stats") is None:
        return
    services = context.services
    lang = services.settings.tipbot_moderator_language
    async with services.sessions() as session:
        numbers = await moderation.stats(session)

    def section(title_key: str, pairs: list[tuple[str | None, int]], label: Labeller) -> str:
        items = ", ".join(f"{label(key) if key else '—'} {count}" for key, count in pairs)
        return f"{_t(services, title_key)} {items or '—'}"

    lines = [
        _t(services, "mod-stats-title"),
        section("mod-stats-status", numbers["status"], lambda s: cards.status_label(services, s)),
        section(
            "mod-stats-category",
            numbers["category"],
            lambda c: services.catalog.t(lang, f"category-{c}"),
        ),
        section("mod-stats-oblast", numbers["oblast"], lambda o: oblast_name(o, lang, short=True)),
        section("mod-stats-day", numbers["day"], lambda d: d[5:]),
    ]
    if numbers["undelivered"]:
        # Messages Telegram refused for good, even in plain form (the log says which kind).
        lines.append(_t(services, "mod-stats-undelivered", count=numbers["undelivered"]))
    await _reply(update, context, "\n".join(lines))


@handler("moderation.help")
async def help_command(update: Update, context: Ctx) -> None:
    if await authorise(update, context, "help") is None:
        return
    await _reply(update, context, _t(context.services, "mod-help"))


# ---------------------------------------------------------------------------- replies


@handler("moderation.reply")
async def reply_message(update: Update, context: Ctx) -> None:
    """A moderator's reply to a card or a prompt: a question, or a duplicate's original."""
    message = update.effective_message
    if message is None or message.reply_to_message is None:
        return
    services = context.services
    async with services.sessions() as session:
        known = await moderation.group_message(
            session, message.chat_id, message.reply_to_message.message_id
        )
    if known is None:
        return  # a conversation among moderators, not about a tip
    text = clean(message.text or message.caption or "").strip()
    prompted = known.kind in ("ask", "dupref", "note")
    if not prompted and not text:
        return  # a sticker or a photo in a conversation about the tip
    moderator = await authorise(update, context, "reply")
    if moderator is None:
        return
    if not text:
        await _reply(update, context, _t(services, "mod-reply-text-only"))
    elif known.kind == "dupref":
        await _duplicate_by_reference(update, context, known.tip_id, text, moderator)
    elif known.kind == "ask":
        await _question(update, context, known.tip_id, text, moderator)
    elif known.kind == "note":
        await _note(update, context, known.tip_id, text, moderator)
    else:
        await _offer_question(update, context, known.tip_id, text, moderator)


async def _offer_question(
    update: Update, context: Ctx, tip_id: int, text: str, moderator: Moderator
) -> None:
    """A reply to a card: keep it as a possible question and ask whether to send it."""
    services = context.services
    if len(text) > QUESTION_MAX:
        return  # too long for a question: a conversation among moderators
    async with transaction(services.sessions) as session:
        tip = await moderation.tip_for_update(session, tip_id)
        if tip is None or not tip.contact_allowed or tip.status not in moderation.OPEN:
            return  # no question could be sent: a conversation among moderators
        note = await moderation.draft_question(session, tip, moderator, text)
        markup = keyboard(
            [
                [button(_t(services, "mod-btn-send-question"), f"mod:sendq:{tip.id}:-:{note.id}")],
                [
                    button(_t(services, "mod-btn-keep-note"), f"mod:keepnote:{tip.id}:-:{note.id}"),
                    button(
                        _t(services, "mod-btn-keep-question"), f"mod:dropq:{tip.id}:-:{note.id}"
                    ),
                ],
            ]
        )
        offer = _t(services, "mod-question-offer", reference=tip.reference)
    await _reply(update, context, offer, markup)


async def _question(
    update: Update, context: Ctx, tip_id: int, text: str, moderator: Moderator
) -> None:
    services = context.services
    if len(text) > QUESTION_MAX:
        await _reply(update, context, _t(services, "mod-ask-too-long", limit=QUESTION_MAX))
        return
    async with transaction(services.sessions) as session:
        tip = await moderation.tip_for_update(session, tip_id)
        assert tip is not None
        if not tip.contact_allowed:
            answer = _t(services, "mod-ask-not-allowed", reference=tip.reference)
        else:
            try:
                await moderation.ask(session, tip, moderator, text)
                answer = _t(services, "mod-ask-queued", reference=tip.reference)
            except Refused as exc:
                answer = _t(services, f"mod-refused-{exc.reason}")
    await _reply(update, context, answer)
    await refresh_card(context, tip_id)


async def _note(update: Update, context: Ctx, tip_id: int, text: str, moderator: Moderator) -> None:
    """A reply to the "write your note" prompt: an internal note on the tip."""
    services = context.services
    if len(text) > QUESTION_MAX:
        await _reply(update, context, _t(services, "mod-note-too-long", limit=QUESTION_MAX))
        return
    async with transaction(services.sessions) as session:
        tip = await moderation.tip_for_update(session, tip_id)
        assert tip is not None
        try:
            await moderation.add_note(session, tip, moderator, text)
            answer = _t(services, "mod-note-saved", reference=tip.reference)
        except Refused as exc:
            answer = _t(services, f"mod-refused-{exc.reason}")
    await _reply(update, context, answer)
    await refresh_card(context, tip_id)


async def _duplicate_by_reference(
    update: Update, context: Ctx, tip_id: int, text: str, moderator: Moderator
) -> None:
    services = context.services
    reference = normalise_reference(text)
    async with transaction(services.sessions) as session:
        tip = await moderation.tip_for_update(session, tip_id)
        original = await moderation.find_by_reference(session, reference) if reference else None
        assert tip is not None
        if original is None:
            answer = _t(services, "mod-dup-unknown", reference=text[:20])
        else:
            try:
                await moderation.mark_duplicate(
                    session,
                    tip,
                    original,
                    moderator,
                    notify=services.settings.tipbot_notify_reporters,
                )
                answer = _t(services, "mod-done-dup", reference=tip.reference)
            except Conflict:
                answer = _t(services, "mod-conflict", name=tip.last_actor_name or "?")
            except Refused as exc:
                answer = _t(services, f"mod-refused-{exc.reason}")
    await _reply(update, context, answer)
    await refresh_card(context, tip_id)
