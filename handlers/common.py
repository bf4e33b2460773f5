"""Start, language, consent, the menu, help and privacy; groups; errors.

Nothing is stored about a person before they agree to the privacy terms: the language they
pick before that travels in the buttons' callback data, not in the database.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden

from bot import intake
from bot.i18n import LANGUAGES, pick_language
from bot.processor import mark_outcome
from db.engine import transaction
from handlers import render
from handlers.account import delete_confirm, my_reports_reply
from handlers.base import Ctx, Screen, Services, answer, handler, person, send
from handlers.intake import State, consent_first, load_state, note_message, start_report
from handlers.replies import Reply, deliver

log = logging.getLogger(__name__)


@handler("common.start")
async def start(update: Update, context: Ctx) -> None:
    services = context.services
    who = person(update, services)
    if who is None:
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        if not state.consented:
            reply = Reply(send=[render.language_choice(services.catalog, state.lang)])
        else:
            await note_message(session, state, update.message)
            if state.draft is not None:
                reply = Reply(send=[render.resume_prompt(services, state.lang, state.draft)])
            else:
                welcome = services.catalog.t(state.lang, "welcome-back")
                reply = Reply(send=[render.menu(services.catalog, state.lang, welcome)])
    await deliver(update, context, reply)


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


@handler("common.language")
async def language_command(update: Update, context: Ctx) -> None:
    services = context.services
    who = person(update, services)
    if who is None:
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        await note_message(session, state, update.message)
    await deliver(
        update, context, Reply(send=[render.language_choice(services.catalog, state.lang)])
    )


@handler("common.help")
async def help_command(update: Update, context: Ctx) -> None:
    services = context.services
    who = person(update, services)
    if who is None:
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        await note_message(session, state, update.message)
    screen = (
        render.back_to_menu(
            services.catalog,
            state.lang,
            services.catalog.t(state.lang, "help", handle=services.official_handle),
        )
        if state.consented
        else Screen(services.catalog.t(state.lang, "help", handle=services.official_handle))
    )
    await deliver(update, context, Reply(send=[screen]))


@handler("common.privacy")
async def privacy_command(update: Update, context: Ctx) -> None:
    services = context.services
    who = person(update, services)
    if who is None:
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        await note_message(session, state, update.message)
    screen = render.privacy(services, state.lang, consented=state.consented)
    await deliver(update, context, Reply(send=[screen]))


@handler("common.unknown_command")
async def unknown_command(update: Update, context: Ctx) -> None:
    services = context.services
    who = person(update, services)
    if who is None:
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        await note_message(session, state, update.message)
    text = services.catalog.t(state.lang, "unknown-command")
    await deliver(update, context, Reply(send=[Screen(text)]))


@handler("common.edited")
async def edited_message(update: Update, context: Ctx) -> None:
    """Edits of sent messages are not picked up; say so instead of silently ignoring them."""
    services = context.services
    who = person(update, services)
    if who is None:
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
    text = services.catalog.t(state.lang, "edited-ignored")
    await deliver(update, context, Reply(send=[Screen(text)]))


# ---------------------------------------------------------------------------- buttons


@handler("common.language_button")
async def language_button(update: Update, context: Ctx) -> None:
    """``l:<lang>``: before consent, show the introduction; after, switch the language."""
    services = context.services
    query = update.callback_query
    who = person(update, services)
    if query is None or who is None or not query.data:
        return
    lang = query.data.split(":")[1] if ":" in query.data else ""
    if lang not in LANGUAGES:
        await answer(query)
        return
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        if state.consented and state.reporter is not None:
            state.reporter.language = lang
            text = services.catalog.t(lang, "language-set")
            reply = Reply(edit=render.menu(services.catalog, lang, text))
        else:
            reply = Reply(edit=render.intro(services, lang))
    await deliver(update, context, reply)


@handler("common.consent_button")
async def consent_button(update: Update, context: Ctx) -> None:
    """``c:agree|more|intro|lang:<lang>``: the introduction, the privacy notice, agreeing."""
    services = context.services
    query = update.callback_query
    who = person(update, services)
    if query is None or who is None or not query.data:
        return
    parts = query.data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    lang = parts[2] if len(parts) > 2 and parts[2] in LANGUAGES else who.telegram_language
    if action == "more":
        reply = Reply(edit=render.privacy(services, lang, consented=False))
    elif action == "intro":
        reply = Reply(edit=render.intro(services, lang))
    elif action == "lang":
        reply = Reply(edit=render.language_choice(services.catalog, lang))
    elif action == "agree":
        async with transaction(services.sessions) as session:
            state = await load_state(session, services, who)
            if not state.consented:
                state.reporter = await intake.record_consent(
                    session,
                    pseudonym=who.pseudonym,
                    chat_id_enc=services.keyring.encrypt_chat_id(who.chat_id),
                    language=lang,
                )
                message = query.message
                if message is not None:
                    # The /start before the introduction, so erasing reaches it too.
                    await intake.record_incoming(
                        session, state.reporter, max(1, message.message_id - 1), message.date
                    )
                state.lang = lang
            text = services.catalog.t(state.lang, "consent-thanks")
            reply = Reply(edit=render.menu(services.catalog, state.lang, text))
    else:
        reply = Reply()
    await deliver(update, context, reply)


@handler("common.menu_button")
async def menu_button(update: Update, context: Ctx) -> None:
    """``m:<item>``: the menu's buttons."""
    services = context.services
    query = update.callback_query
    who = person(update, services)
    if query is None or who is None or not query.data:
        return
    item = query.data.split(":")[1] if ":" in query.data else ""
    async with transaction(services.sessions) as session:
        state = await load_state(session, services, who)
        reply = await _menu_item(session, services, state, item)
    await deliver(update, context, reply)


async def _menu_item(session: AsyncSession, services: Services, state: State, item: str) -> Reply:
    lang = state.lang
    if not state.consented:
        return consent_first(services, lang)
    if item == "new":
        started = await start_report(session, services, state)
        if started.send:
            return Reply(edit=started.send[0], send=started.send[1:])
        return started
    if item == "mine":
        reply = await my_reports_reply(session, services, state)
        return Reply(edit=reply.send[0]) if reply.send else reply
    if item == "privacy":
        return Reply(edit=render.privacy(services, lang, consented=True))
    if item == "lang":
        return Reply(edit=render.language_choice(services.catalog, lang))
    if item == "delete":
        return Reply(edit=delete_confirm(services, lang))
    return Reply(edit=render.menu(services.catalog, lang))


# ---------------------------------------------------------------------------- errors


async def on_error(update: object, context: Ctx) -> None:
    """Log the failure without its message (it may quote user input) and apologise."""
    error = context.error
    mark_outcome("error")
    if isinstance(error, Forbidden):
        log.info("chat unreachable (%s)", type(error).__name__)
        return
    log.error("handler failed: %s", type(error).__name__, exc_info=error)
    if not isinstance(update, Update):
        return
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    user = update.effective_user
    services = context.services
    lang = pick_language(user.language_code if user else None)
    text = services.catalog.t(lang, "error-generic")
    try:
        if update.callback_query is not None:
            await answer(update.callback_query, text, alert=True)
        else:
            await send(context, chat.id, Screen(text))
    except Exception:  # the apology is best effort
        log.warning("could not send the error notice")
