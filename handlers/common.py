"""Start, language, consent, the menu, help and privacy; groups; errors.

Nothing is stored about a person before they agree to the privacy terms: the language they
pick before that travels in the buttons' callback data, not in the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Chat, ChatMemberUpdated, MaybeInaccessibleMessage, Update, User
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError

from bot import intake
from bot.i18n import LANGUAGES, Html, pick_language
from bot.processor import mark_outcome
from handlers import render, steps
from handlers.account import delete_confirm, my_reports_reply
from handlers.base import Ctx, Screen, Services, answer, handler, send
from handlers.intake import start_report
from handlers.replies import Reply
from handlers.state import Decision, State, consent_first, respond

log = logging.getLogger(__name__)


def _callback_part(update: Update, index: int) -> str:
    """The ``index``-th ``:``-separated part of a button's callback data ('' if none)."""
    query = update.callback_query
    parts = (query.data or "").split(":") if query is not None else []
    return parts[index] if len(parts) > index else ""


@handler("common.start")
async def start(update: Update, context: Ctx) -> None:
    async def decide(_session: AsyncSession, state: State) -> Reply:
        catalog = state.services.catalog
        if not state.consented:
            return Reply(send=[render.language_choice(catalog, state.lang)])
        if state.reporter is not None:
            state.reporter.adding_to_tip_id = None
        if state.draft is not None:
            return Reply(send=[steps.resume_prompt(state.services, state.lang, state.draft)])
        return Reply(send=[render.menu(catalog, state.lang, state.t("welcome-back"))])

    await respond(update, context, decide)


async def chosen_language(services: Services, chat_id: int, user: User | None) -> str:
    """The language a reporter chose (best effort: the database may be what just failed),
    else their Telegram app's."""
    try:
        async with asyncio.timeout(2.0), services.sessions() as session:
            keyring = services.keyring
            reporter = await intake.find_reporter(
                session, keyring.pseudonym(chat_id), keyring.legacy_pseudonym(chat_id)
            )
        if reporter is not None and reporter.language in LANGUAGES:
            return reporter.language
    except Exception:
        log.info("the reporter's language could not be looked up")
    return pick_language(user.language_code if user else None)


@handler("common.group")
async def in_group(update: Update, context: Ctx) -> None:
    """Intake runs only in private chats; in a group, point to the private chat."""
    services = context.services
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or chat.id == services.settings.moderator_chat_id:
        return
    lang = pick_language(user.language_code if user else None)
    text = services.catalog.t(lang, "group-pointer", username=services.bot_username)
    await send(context, chat.id, Screen(text))


@handler("common.added_to_group")
async def added_to_group(update: Update, context: Ctx) -> None:
    """When the bot joins a group, log its id (the MODERATOR_CHAT_ID to set) and tell the group
    what to do next — only if the person who added the bot is one of the group's admins.

    Admins only because a bot cannot write to people who never started it, so the group is
    the only place to say it; an ordinary member adding the bot to some chat should not get
    set-up instructions posted there. Joining the configured group confirms it instead.
    """
    change = update.my_chat_member
    if change is None or not _in_group(change):
        return
    chat_id = change.chat.id
    log.info("added to group %d: set MODERATOR_CHAT_ID=%d to moderate there", chat_id, chat_id)
    if change.old_chat_member.status not in ("left", "kicked"):
        return  # promoted or restricted while already there: nothing new to say
    if await _added_by_admin(context, chat_id, change.from_user.id):
        await send(context, chat_id, Screen(_set_up_text(context.services, chat_id)))


def _in_group(change: ChatMemberUpdated) -> bool:
    """Whether the bot is (now) a member of a group."""
    group = change.chat.type not in (ChatType.PRIVATE, ChatType.CHANNEL)
    return group and change.new_chat_member.status in ("member", "administrator")


async def _added_by_admin(context: Ctx, chat_id: int, user_id: int) -> bool:
    try:
        adder = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.info("could not tell whether the group's admin added the bot (%s)", type(exc).__name__)
        return False
    return adder.status in ("creator", "administrator")


def _set_up_text(services: Services, chat_id: int) -> Html:
    lang = services.settings.tipbot_moderator_language
    if chat_id == services.settings.moderator_chat_id:
        return services.catalog.t(lang, "group-added-configured")
    # As text: Fluent would group a number's digits, and this one is copied.
    return services.catalog.t(lang, "group-added", chat_id=str(chat_id))


@handler("common.language")
async def language_command(update: Update, context: Ctx) -> None:
    async def decide(_session: AsyncSession, state: State) -> Reply:
        return Reply(send=[render.language_choice(state.services.catalog, state.lang)])

    await respond(update, context, decide)


@handler("common.help")
async def help_command(update: Update, context: Ctx) -> None:
    async def decide(_session: AsyncSession, state: State) -> Reply:
        text = state.t("help", handle=state.services.official_handle)
        if state.consented:
            return Reply(send=[render.back_to_menu(state.services.catalog, state.lang, text)])
        return Reply(send=[Screen(text)])

    await respond(update, context, decide)


@handler("common.privacy")
async def privacy_command(update: Update, context: Ctx) -> None:
    async def decide(_session: AsyncSession, state: State) -> Reply:
        return Reply(send=[render.privacy(state.services, state.lang, consented=state.consented)])

    await respond(update, context, decide)


@handler("common.unknown_command")
async def unknown_command(update: Update, context: Ctx) -> None:
    async def decide(_session: AsyncSession, state: State) -> Reply:
        return Reply(send=[Screen(state.t("unknown-command"))])

    await respond(update, context, decide)


@handler("common.edited")
async def edited_message(update: Update, context: Ctx) -> None:
    """Edits of sent messages are not picked up; say so instead of silently ignoring them.
    A live location's moves (edits every few seconds) are ignored without a word: the
    location itself was already refused."""
    edited = update.edited_message
    if edited is not None and edited.location is not None:
        return

    async def decide(_session: AsyncSession, state: State) -> Reply:
        return Reply(send=[Screen(state.t("edited-ignored"))])

    await respond(update, context, decide)


# ---------------------------------------------------------------------------- buttons


@handler("common.language_button")
async def language_button(update: Update, context: Ctx) -> None:
    """``l:<lang>``: before consent, show the introduction; after, switch the language."""
    lang = _callback_part(update, 1)

    async def decide(_session: AsyncSession, state: State) -> Reply:
        if lang not in LANGUAGES:
            return Reply()
        if state.consented and state.reporter is not None:
            state.reporter.language = lang
            text = state.services.catalog.t(lang, "language-set")
            return Reply(edit=render.menu(state.services.catalog, lang, text))
        return Reply(edit=render.intro(state.services, lang))

    await respond(update, context, decide)


# What the consent screens' buttons other than "agree" show, in the language chosen.
_CONSENT_SCREENS: dict[str, Callable[[State, str], Screen]] = {
    "more": lambda state, lang: render.privacy(state.services, lang, consented=False),
    "details": lambda state, lang: render.privacy_details(
        state.services, lang, consented=state.consented
    ),
    "intro": lambda state, lang: render.intro(state.services, lang),
    "lang": lambda state, lang: render.language_choice(state.services.catalog, lang),
}


@handler("common.consent_button")
async def consent_button(update: Update, context: Ctx) -> None:
    """``c:agree|more|details|intro|lang:<lang>``: the introduction, the privacy notice and
    its details, agreeing."""
    action, chosen = _callback_part(update, 1), _callback_part(update, 2)
    pressed = update.callback_query.message if update.callback_query else None

    async def decide(session: AsyncSession, state: State) -> Reply:
        lang = chosen if chosen in LANGUAGES else state.lang
        screen = _CONSENT_SCREENS.get(action)
        if screen is not None:
            return Reply(edit=screen(state, lang))
        if action != "agree":
            return Reply()
        if not state.consented:
            await _consent(session, state, lang, pressed)
        return Reply(
            edit=render.menu(state.services.catalog, state.lang, state.t("consent-thanks"))
        )

    await respond(update, context, decide)


async def _consent(
    session: AsyncSession, state: State, lang: str, pressed: MaybeInaccessibleMessage | None
) -> None:
    """Record the person's agreement: from now on they are a reporter."""
    services = state.services
    state.reporter = await intake.record_consent(
        session,
        pseudonym=state.person.pseudonym,
        chat_id_enc=services.keyring.encrypt_chat_id(state.person.chat_id),
        language=lang,
    )
    state.lang = lang
    if pressed is not None:
        # The /start before the introduction, so erasing reaches it too.
        await intake.record_incoming(
            session, state.reporter, max(1, pressed.message_id - 1), pressed.date
        )


async def _privacy(_session: AsyncSession, state: State) -> Reply:
    return Reply(send=[render.privacy(state.services, state.lang, consented=True)])


async def _languages(_session: AsyncSession, state: State) -> Reply:
    return Reply(send=[render.language_choice(state.services.catalog, state.lang)])


async def _delete(_session: AsyncSession, state: State) -> Reply:
    return Reply(send=[delete_confirm(state)])


async def _menu(_session: AsyncSession, state: State) -> Reply:
    return Reply(send=[render.menu(state.services.catalog, state.lang)])


# The menu's items (m:<item>); anything else shows the menu again.
_MENU: dict[str, Decision] = {
    "new": start_report,
    "mine": my_reports_reply,
    "privacy": _privacy,
    "lang": _languages,
    "delete": _delete,
}


@handler("common.menu_button")
async def menu_button(update: Update, context: Ctx) -> None:
    """``m:<item>``: the menu's buttons, each shown in place of the menu."""
    item = _MENU.get(_callback_part(update, 1), _menu)

    async def decide(session: AsyncSession, state: State) -> Reply:
        if not state.consented:
            return consent_first(state)
        reply = await item(session, state)
        return Reply(edit=reply.send[0], send=reply.send[1:], toast=reply.toast)

    await respond(update, context, decide)


# ---------------------------------------------------------------------------- errors


async def on_error(update: object, context: Ctx) -> None:
    """Log the failure without its message (it may quote user input) and apologise."""
    error = context.error
    mark_outcome("error")
    if isinstance(error, Forbidden):
        log.info("chat unreachable (%s)", type(error).__name__)
        return
    log.error("handler failed: %s", type(error).__name__, exc_info=error)
    if isinstance(update, Update) and _private(update.effective_chat):
        await _apologise(update, context)


def _private(chat: Chat | None) -> bool:
    return chat is not None and chat.type == ChatType.PRIVATE


async def _apologise(update: Update, context: Ctx) -> None:
    """The apology, in the reporter's language: under the pressed button if it is still
    unanswered (its toast), else as a message. Best effort."""
    services = context.services
    chat_id = update.effective_chat.id if update.effective_chat else 0
    lang = await chosen_language(services, chat_id, update.effective_user)
    text = services.catalog.t(lang, "error-generic")
    try:
        if not await answer(update.callback_query, text, alert=True):
            await send(context, chat_id, Screen(text))
    except Exception:  # the apology is best effort
        log.warning("could not send the error notice")
