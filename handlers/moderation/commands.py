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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot import card_data, moderation
from bot.gazetteer import oblast_name
from bot.i18n import Html, escape
from bot.moderation import Conflict, Decision, Moderator, Refused, Shown
from bot.refcode import normalise_reference
from bot.session import Session
from bot.text import clean
from db.models import GroupMessage, Tip
from handlers.base import Ctx, Screen, Services, button, handler, keyboard
from handlers.moderation import callbacks, cards
from handlers.moderation.access import authorise, for_moderators
from handlers.moderation.cards import refusal, say
from handlers.moderation.outcome import Outcome, deliver, respond

PER_PAGE = 10
QUESTION_MAX = 3500
Labeller = Callable[[str], str]


def _said(text: str, markup: Any = None) -> Outcome:
    """A reply to the moderator's message."""
    return Outcome(replies=[Screen(Html(text), markup)])


# ---------------------------------------------------------------------------- lists


def _lines(services: Services, tips: list[Tip], counts: dict[int, int]) -> list[str]:
    """A line per tip, with who has taken it."""
    lines = []
    for tip in tips:
        line = cards.tip_line(services, tip, counts.get(tip.id, 0))
        assignee = f" · 👤 {escape(tip.assignee_name)}" if tip.assignee_name else ""
        lines.append(f"{line}{assignee}")
    return lines


def _paging(services: Services, *, banned: bool, page: int, pages: int) -> list[Any]:
    wanted = [
        (page > 0, "mod-btn-previous", page - 1),
        (page + 1 < pages, "mod-btn-next", page + 1),
    ]
    return [
        button(say(services, key), callbacks.queue_page(to, banned))
        for shown, key, to in wanted
        if shown
    ]


async def _queue_screen(session: Session, services: Services, *, banned: bool, page: int) -> Screen:
    tips, total = await moderation.queue(session, banned=banned, page=page, per_page=PER_PAGE)
    if not tips:
        return Screen(say(services, "mod-queue-banned-empty" if banned else "mod-queue-empty"))
    counts = await moderation.file_counts(session, [tip.id for tip in tips])
    pages = max(1, -(-total // PER_PAGE))
    key = "mod-queue-banned-title" if banned else "mod-queue-title"
    title = say(services, key, total=total, page=page + 1, pages=pages)
    rows = cards.open_buttons(services, tips, per_row=2)
    rows.append(_paging(services, banned=banned, page=page, pages=pages))
    return Screen(Html("\n".join([title, *_lines(services, tips, counts)])), keyboard(rows))


@for_moderators("moderation.queue", "queue")
async def queue_command(update: Update, context: Ctx, _moderator: Moderator) -> None:
    args = context.args or []
    banned = bool(args) and args[0].lower() in ("banned", "quarantined")

    async def decide(session: Session) -> Outcome:
        screen = await _queue_screen(session, context.services, banned=banned, page=0)
        return Outcome(replies=[screen])

    await respond(update, context, decide, writes=False)


@for_moderators("moderation.queue_page", "queue")
async def queue_page(update: Update, context: Ctx, _moderator: Moderator) -> None:
    query = update.callback_query
    page, banned = callbacks.parse_queue_page(query.data or "" if query is not None else "")

    async def decide(session: Session) -> Outcome:
        screen = await _queue_screen(session, context.services, banned=banned, page=page)
        return Outcome(edit=screen)

    await respond(update, context, decide, writes=False)


@for_moderators("moderation.mine", "mine")
async def mine_command(update: Update, context: Ctx, moderator: Moderator) -> None:
    services = context.services

    async def decide(session: Session) -> Outcome:
        tips = await moderation.assigned_to(session, moderator.id)
        if not tips:
            return _said(say(services, "mod-mine-empty"))
        counts = await moderation.file_counts(session, [tip.id for tip in tips])
        lines = [say(services, "mod-mine-title", count=len(tips))]
        lines += [cards.tip_line(services, tip, counts.get(tip.id, 0)) for tip in tips]
        return _said("\n".join(lines), keyboard(cards.open_buttons(services, tips[:20], per_row=1)))

    await respond(update, context, decide, writes=False)


# A tip named in a command: a tip, or the reply that says why there is none.
Named = Callable[[Session, Tip], Awaitable[Outcome]]


async def _named(update: Update, context: Ctx, then: Named, *, writes: bool) -> None:
    """Find the tip a command's argument names (a reference), and go on with it."""
    services = context.services
    reference = normalise_reference(" ".join(context.args or []))

    async def decide(session: Session) -> Outcome:
        if reference is None:
            return _said(say(services, "mod-tip-usage"))
        tip = await moderation.submitted_by_reference(session, reference)
        if tip is None:
            return _said(say(services, "mod-tip-unknown", reference=reference))
        return await then(session, tip)

    await respond(update, context, decide, writes=writes)


@for_moderators("moderation.tip", "tip")
async def tip_command(update: Update, context: Ctx, _moderator: Moderator) -> None:
    """Post a tip's card again (for a long chat)."""

    async def post(session: Session, tip: Tip) -> Outcome:
        return Outcome(post=await card_data.load_card(session, tip))

    await _named(update, context, post, writes=False)


@for_moderators("moderation.unban", "unban")
async def unban_command(update: Update, context: Ctx, moderator: Moderator) -> None:
    services = context.services
    decision = Decision("unban", version=None, force=True)
    notify = services.settings.tipbot_notify_reporters

    async def unban(session: Session, tip: Tip) -> Outcome:
        decided = await moderation.decide(session, tip.id, decision, moderator, notify=notify)
        assert decided is not None
        if decided.problem is not None:
            text = refusal(services, decided.problem)
        else:
            count = len(decided.result)
            text = say(services, "mod-unbanned", reference=tip.reference, count=count)
        return Outcome(replies=[Screen(text)], refresh=[tip.id, *decided.others])

    await _named(update, context, unban, writes=True)


def _section(services: Services, key: str, pairs: list[tuple[Any, int]], label: Labeller) -> str:
    items = ", ".join(f"{label(value) if value else '—'} {count}" for value, count in pairs)
    return f"{say(services, key)} {items or '—'}"


def _stats_text(services: Services, numbers: dict[str, Any]) -> str:
    lang = services.settings.tipbot_moderator_language
    labels: dict[str, Labeller] = {
        "status": lambda status: cards.status_label(services, status),
        "category": lambda category: services.catalog.t(lang, f"category-{category}"),
        "oblast": lambda oblast: oblast_name(oblast, lang, short=True),
        "day": lambda day: day[5:],
    }
    lines: list[str] = [say(services, "mod-stats-title")]
    lines += [
        _section(services, f"mod-stats-{name}", numbers[name], label)
        for name, label in labels.items()
    ]
    # Messages Telegram refused for good, even in plain form (the log says which kind).
    lines += cards.counted(services, {"mod-stats-undelivered": numbers["undelivered"]})
    return "\n".join(lines)


@for_moderators("moderation.stats", "stats")
async def stats_command(update: Update, context: Ctx, _moderator: Moderator) -> None:
    async def decide(session: Session) -> Outcome:
        return _said(_stats_text(context.services, await moderation.stats(session)))

    await respond(update, context, decide, writes=False)


@for_moderators("moderation.help", "help")
async def help_command(update: Update, context: Ctx, _moderator: Moderator) -> None:
    await deliver(update, context, _said(say(context.services, "mod-help")))


# ---------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class Replied:
    """A moderator's reply to one of the bot's messages about a tip."""

    services: Services
    tip_id: int
    kind: str  # what the message replied to is (bot.moderation.Shown)
    text: str
    moderator: Moderator


# Prompts whose reply is for the bot (the question, the note, the original's reference).
_PROMPTS = frozenset({Shown.ASK, Shown.DUPREF, Shown.NOTE})


@handler("moderation.reply")
async def reply_message(update: Update, context: Ctx) -> None:
    """A moderator's reply to a card or a prompt: a question, a note, or a duplicate's
    original; to a card, an offer to send it as a question."""
    replied = await _replied(update, context)
    if replied is None:
        return
    if not replied.text:
        await deliver(update, context, _said(say(context.services, "mod-reply-text-only")))
        return

    async def decide(session: Session) -> Outcome:
        return await _REPLIES.get(replied.kind, _offer_question)(session, replied)

    await respond(update, context, decide)


async def _replied(update: Update, context: Ctx) -> Replied | None:
    """The reply, if it is about a tip and by a moderator (else None: a conversation among
    moderators, or a refused attempt)."""
    about = await _about_tip(update, context)
    if about is None:
        return None
    known, text = about
    if known.kind not in _PROMPTS and not text:
        return None  # a sticker or a photo in a conversation about the tip
    moderator = await authorise(update, context, "reply")
    if moderator is None:
        return None
    return Replied(context.services, known.tip_id, known.kind, text, moderator)


async def _about_tip(update: Update, context: Ctx) -> tuple[GroupMessage, str] | None:
    """The bot's message about a tip that a message replies to, and the reply's text (None:
    a conversation among moderators, not about a tip)."""
    message = update.effective_message
    replied_to = message.reply_to_message if message is not None else None
    if message is None or replied_to is None:
        return None
    async with context.services.sessions() as session:
        known = await moderation.group_message(session, message.chat_id, replied_to.message_id)
    text = clean(message.text or message.caption or "").strip()
    return (known, text) if known is not None else None


async def _offer_question(session: Session, replied: Replied) -> Outcome:
    """A reply to a card: keep it as a possible question and ask whether to send it."""
    if len(replied.text) > QUESTION_MAX:
        return Outcome()  # too long for a question: a conversation among moderators
    offered = await moderation.offer_question(
        session, replied.tip_id, replied.moderator, replied.text
    )
    if offered is None:
        return Outcome()  # no question could be sent: a conversation among moderators
    tip, note = offered
    services = replied.services

    def choice(key: str, action: str) -> Any:
        return button(say(services, key), callbacks.kept_reply(action, tip.id, note.id))

    markup = keyboard(
        [
            [choice("mod-btn-send-question", "sendq")],
            [choice("mod-btn-keep-note", "keepnote"), choice("mod-btn-keep-question", "dropq")],
        ]
    )
    return _said(say(services, "mod-question-offer", reference=tip.reference), markup)


async def _duplicate(session: Session, replied: Replied) -> Tip:
    return await moderation.duplicate_by_reference(
        session,
        replied.tip_id,
        normalise_reference(replied.text),
        replied.moderator,
        notify=replied.services.settings.tipbot_notify_reporters,
    )


Act = Callable[[Session, Replied], Awaitable[Tip]]
# What a reply to a prompt does, what the moderator is told then, and the message for a
# reply over QUESTION_MAX (None: no limit).
_ACTS: dict[str, tuple[Act, str, str | None]] = {
    Shown.ASK: (
        lambda s, r: moderation.ask_reporter(s, r.tip_id, r.moderator, r.text),
        "mod-ask-queued",
        "mod-ask-too-long",
    ),
    Shown.NOTE: (
        lambda s, r: moderation.note_on(s, r.tip_id, r.moderator, r.text),
        "mod-note-saved",
        "mod-note-too-long",
    ),
    Shown.DUPREF: (_duplicate, "mod-done-dup", None),
}


async def _act(session: Session, replied: Replied) -> Outcome:
    """A reply to a prompt, acted on; the card is redrawn."""
    services = replied.services
    act, done, too_long = _ACTS[replied.kind]
    if too_long is not None and len(replied.text) > QUESTION_MAX:
        return _said(say(services, too_long, limit=QUESTION_MAX))
    try:
        tip = await act(session, replied)
    except (Conflict, Refused) as exc:
        text = _refused(replied, exc)
    else:
        text = say(services, done, reference=tip.reference)
    return Outcome(replies=[Screen(Html(text))], refresh=[replied.tip_id])


def _refused(replied: Replied, problem: Conflict | Refused) -> str:
    if isinstance(problem, Refused) and problem.reason == "no-such-reference":
        return say(replied.services, "mod-dup-unknown", reference=replied.text[:20])
    return refusal(replied.services, problem)


_REPLIES: dict[str, Callable[[Session, Replied], Awaitable[Outcome]]] = {
    kind: _act for kind in _ACTS
}
