"""``/export`` for admins: choose an export with buttons, get it as a document.

An admin (``ADMIN_IDS``) sends ``/export`` in a private chat and gets one message whose
buttons are edited in place: what (the evidence bundle or a table format), for whom (the
investigator or public profile), then filters (statuses, category, oblast, period) and
Start. The whole choice travels in the buttons' callback data (``adm:<screen>:<choice>``,
see :class:`Choice`), so nothing is kept between presses and a restart loses nothing; data
that does not parse is a button "no longer active".

The export runs in the background (:class:`ExportJobs`) while the bot keeps answering
everyone: it calls the same services as ``tipbot export`` and ``tipbot bundle``, writing to
a private folder under ``TIPBOT_DATA_DIR/exports``, edits a progress message at most every
two seconds, and sends the result as a document with its export id and SHA-256 (the one in
its custody entry). Telegram takes documents up to 50 MB (2000 MB from a local Bot API
server); a bigger export is not sent and the admin gets the command that makes the same
export on the server. The file is deleted either way.

Anyone else who sends ``/export`` or presses an ``adm:`` button is refused in their
language, and the attempt is an ``export_refused`` custody entry under a keyed pseudonym.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from telegram import Update, User
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError

from bot import custody
from bot.export.bundle import write_bundle
from bot.export.filters import STATUSES, ExportFilters, Format, Profile
from bot.export.rows import count_tips
from bot.export.service import export_table
from bot.gazetteer import OBLAST_CODES, oblast_name
from bot.i18n import Html, pick_language
from db.engine import transaction
from handlers.base import Ctx, Screen, Services, TipbotApp, answer, button, handler, keyboard, send
from handlers.common import chosen_language
from handlers.replies import Reply, deliver

log = logging.getLogger(__name__)

PREFIX = "adm"
BUNDLE = "zip"  # "what" of the evidence bundle; the others are table formats
WHATS: tuple[str, ...] = (BUNDLE, *(f.value for f in Format))
PERIODS: tuple[int, ...] = (0, 7, 30, 90)  # days back from Start; 0 is all time
PROGRESS_EVERY = 2.0  # seconds between progress edits (and size checks)
MiB = 1024 * 1024
CLOUD_UPLOAD_LIMIT = 50 * MiB
LOCAL_UPLOAD_LIMIT = 2000 * MiB
EXPORTS_FOLDER = "exports"
STALE_FOLDER = timedelta(days=1)  # a job folder this old was left by a crash
UPLOAD_TIMEOUT = 600.0

_PROFILES = {"i": Profile.INVESTIGATOR, "p": Profile.PUBLIC}
_CHOICE = re.compile(
    r"(?P<what>[a-z]{3,7})\.(?P<profile>[ip])\.(?P<mask>[0-9a-f]{2})"
    r"\.(?P<category>[a-z_]{1,32}|-)\.(?P<oblast>[0-9]{2}|-)\.(?P<days>[0-9]{1,2})"
)
# Screens a button can lead to; "go" starts the export, "x" cancels.
_SCREENS = ("w", "p", "f", "st", "ct", "ob", "pd", "go")
_DATA = re.compile(rf"{PREFIX}:(?P<screen>{'|'.join(_SCREENS)}):(?P<choice>[^:]*)")

# ---------------------------------------------------------------------------- the choice


@dataclass(frozen=True, slots=True)
class Choice:
    """What the admin has chosen so far, as short callback data:
    ``<what>.<profile i|p>.<status bit mask, hex>.<category|->.<oblast|->.<days>``."""

    what: str = BUNDLE
    profile: Profile = Profile.INVESTIGATOR
    statuses: tuple[str, ...] = ()
    category: str | None = None
    oblast: str | None = None
    days: int = 0

    def encode(self) -> str:
        mask = sum(1 << STATUSES.index(status) for status in self.statuses)
        return ".".join(
            (
                self.what,
                self.profile.value[0],
                f"{mask:02x}",
                self.category or "-",
                self.oblast or "-",
                str(self.days),
            )
        )

    @classmethod
    def decode(cls, text: str, categories: tuple[str, ...]) -> Choice | None:
        """The choice in ``text``, or None if it is not one this bot could have drawn."""
        match = _CHOICE.fullmatch(text)
        if match is None:
            return None
        mask = int(match["mask"], 16)
        choice = cls(
            match["what"],
            _PROFILES[match["profile"]],
            _statuses_of(mask),
            _unless_dash(match["category"]),
            _unless_dash(match["oblast"]),
            int(match["days"]),
        )
        known = mask < 1 << len(STATUSES) and choice._known(categories)
        return choice if known else None

    def _known(self, categories: tuple[str, ...]) -> bool:
        """Every part is one this bot offers (a category or oblast may be left open)."""
        return all(
            (
                self.what in WHATS,
                self.category in (None, *categories),
                self.oblast in (None, *OBLAST_CODES),
                self.days in PERIODS,
            )
        )

    def toggled(self, status: str) -> Choice:
        chosen = set(self.statuses) ^ {status}
        return replace(self, statuses=tuple(s for s in STATUSES if s in chosen))

    @property
    def is_bundle(self) -> bool:
        return self.what == BUNDLE

    def filters(self, now: datetime) -> ExportFilters:
        """The export filters this choice means at ``now`` (the period counts back from it,
        to the minute, so the command line repeating it reads cleanly)."""
        since = None
        if self.days:
            since = (now - timedelta(days=self.days)).replace(second=0, microsecond=0)
        return ExportFilters(
            statuses=self.statuses,
            categories=(self.category,) if self.category else (),
            oblasts=(self.oblast,) if self.oblast else (),
            since=since,
        )


def _statuses_of(mask: int) -> tuple[str, ...]:
    """The statuses of a bit mask (:meth:`Choice.encode`), in their order."""
    return tuple(s for i, s in enumerate(STATUSES) if mask & (1 << i))


def _unless_dash(text: str) -> str | None:
    return None if text == "-" else text


def data(screen: str, choice: Choice | None = None) -> str:
    return f"{PREFIX}:{screen}" if choice is None else f"{PREFIX}:{screen}:{choice.encode()}"


def parse(query_data: str | None, categories: tuple[str, ...]) -> tuple[str, Choice | None] | None:
    """``(screen, choice)`` of a button's data; ``("x", None)`` for Cancel; None if forged or
    from an older version of these buttons."""
    match = _DATA.fullmatch(query_data or "")
    if match is None:
        return ("x", None) if query_data == f"{PREFIX}:x" else None
    choice = Choice.decode(match["choice"], categories)
    return None if choice is None else (match["screen"], choice)


def command_line(choice: Choice, filters: ExportFilters, file_name: str) -> str:
    """The ``tipbot`` command that makes the same export on the server."""
    if choice.is_bundle:
        args = ["tipbot", "bundle", "--out", file_name, "--profile", choice.profile.value]
    else:
        args = ["tipbot", "export", "--format", choice.what, "--profile", choice.profile.value]
    args += filters.cli_args()
    if not choice.is_bundle:
        args += ["--out", file_name]
    return shlex.join(args)


def upload_limit(services: Services) -> int:
    local = services.settings.telegram_local_mode
    return LOCAL_UPLOAD_LIMIT if local else CLOUD_UPLOAD_LIMIT


def admin_actor(services: Services, user_id: int) -> str:
    """An admin in the custody log: their keyed pseudonym, never their Telegram id."""
    return f"admin:{services.keyring.pseudonym(user_id)}"


# ---------------------------------------------------------------------------- screens

# Alphabets, so that the oblast list reads in the admin's language's order.
_ALPHABETS = {
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
}


def _collation_key(text: str, lang: str) -> tuple[int, ...]:
    alphabet = _ALPHABETS.get(lang, "")
    return tuple(
        alphabet.index(c) if c in alphabet else 100 + ord(c) for c in text.casefold() if c.isalnum()
    )


class Screens:
    """Every screen of the dialog, in one admin's language."""

    def __init__(self, services: Services, lang: str) -> None:
        self.services = services
        self.lang = lang

    def t(self, key: str, **args: object) -> Html:
        return self.services.catalog.t(self.lang, key, **args)

    def what_label(self, what: str) -> str:
        return {
            "zip": self.t("adm-what-zip"),
            "csv": self.t("adm-what-csv"),
            "jsonl": self.t("adm-what-jsonl"),
            "geojson": self.t("adm-what-geojson"),
            "xlsx": self.t("adm-what-xlsx"),
        }[what]

    def profile_label(self, profile: Profile) -> str:
        if profile == Profile.PUBLIC:
            return self.t("adm-profile-public")
        return self.t("adm-profile-investigator")

    def status_label(self, status: str) -> str:
        return self.t(f"mod-status-{status}")

    def category_label(self, code: str) -> str:
        return self.t(f"category-{code}")

    def period_label(self, days: int) -> str:
        return self.t("adm-period-all") if days == 0 else self.t("adm-period-days", days=days)

    def back_and_cancel(self, screen: str, choice: Choice) -> list[Any]:
        return [
            button(self.t("adm-btn-back"), data(screen, choice)),
            button(self.t("adm-btn-cancel"), data("x")),
        ]

    def what(self, choice: Choice) -> Screen:
        rows = [
            [button(self.what_label(what), data("p", replace(choice, what=what)))] for what in WHATS
        ]
        rows.append([button(self.t("adm-btn-cancel"), data("x"))])
        return Screen(self.t("adm-choose-what"), keyboard(rows))

    def profile(self, choice: Choice) -> Screen:
        rows = [
            [button(self.profile_label(profile), data("f", replace(choice, profile=profile)))]
            for profile in Profile
        ]
        rows.append(self.back_and_cancel("w", choice))
        return Screen(
            self.t("adm-choose-profile", what=self.what_label(choice.what)), keyboard(rows)
        )

    def statuses_label(self, choice: Choice) -> str:
        """The chosen statuses; none chosen means verified (public) or any (investigator)."""
        if choice.statuses:
            return ", ".join(self.status_label(s) for s in choice.statuses)
        return self.t("adm-public-verified" if choice.profile == Profile.PUBLIC else "adm-any")

    def summary(self, choice: Choice, matching: int) -> Screen:
        text = self.t(
            "adm-summary",
            what=self.what_label(choice.what),
            profile=self.profile_label(choice.profile),
            statuses=self.statuses_label(choice),
            category=self.category_label(choice.category) if choice.category else self.t("adm-any"),
            oblast=oblast_name(choice.oblast, self.lang) if choice.oblast else self.t("adm-any"),
            period=self.period_label(choice.days),
            count=matching,
        )
        rows = [
            [
                button(self.t("adm-btn-statuses"), data("st", choice)),
                button(self.t("adm-btn-category"), data("ct", choice)),
            ],
            [
                button(self.t("adm-btn-oblast"), data("ob", choice)),
                button(self.t("adm-btn-period"), data("pd", choice)),
            ],
            [button(self.t("adm-btn-start"), data("go", choice))] if matching else [],
            self.back_and_cancel("p", choice),
        ]
        return Screen(text, keyboard(rows))

    def statuses(self, choice: Choice) -> Screen:
        rows = []
        for status in STATUSES:
            mark = "✓ " if status in choice.statuses else ""
            rows.append(
                [button(f"{mark}{self.status_label(status)}", data("st", choice.toggled(status)))]
            )
        rows.append(
            [
                button(self.t("adm-btn-any"), data("st", replace(choice, statuses=()))),
                button(self.t("adm-btn-done"), data("f", choice)),
            ]
        )
        return Screen(self.t("adm-pick-statuses"), keyboard(rows))

    def categories(self, choice: Choice) -> Screen:
        rows = [[button(self.t("adm-btn-any"), data("f", replace(choice, category=None)))]]
        for code in self.services.settings.tipbot_categories:
            mark = "✓ " if code == choice.category else ""
            label = f"{mark}{self.category_label(code)}"
            rows.append([button(label, data("f", replace(choice, category=code)))])
        rows.append(self.back_and_cancel("f", choice))
        return Screen(self.t("adm-pick-category"), keyboard(rows))

    def oblasts(self, choice: Choice) -> Screen:
        names = {code: oblast_name(code, self.lang, short=True) for code in OBLAST_CODES}
        ordered = sorted(OBLAST_CODES, key=lambda code: _collation_key(names[code], self.lang))
        buttons = [button(self.t("adm-btn-any"), data("f", replace(choice, oblast=None)))]
        for code in ordered:
            mark = "✓ " if code == choice.oblast else ""
            buttons.append(button(f"{mark}{names[code]}", data("f", replace(choice, oblast=code))))
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        rows.append(self.back_and_cancel("f", choice))
        return Screen(self.t("adm-pick-oblast"), keyboard(rows))

    def periods(self, choice: Choice) -> Screen:
        rows = []
        for days in PERIODS:
            mark = "✓ " if days == choice.days else ""
            label = f"{mark}{self.period_label(days)}"
            rows.append([button(label, data("f", replace(choice, days=days)))])
        rows.append(self.back_and_cancel("f", choice))
        return Screen(self.t("adm-pick-period"), keyboard(rows))


# ---------------------------------------------------------------------------- who may


def is_admin(services: Services, user: User | None) -> bool:
    return user is not None and not user.is_bot and user.id in services.settings.admin_ids


async def refuse(update: Update, context: Ctx, *, via: str) -> None:
    """Refuse someone who is not an admin, in their language, and record the attempt."""
    services = context.services
    user = update.effective_user
    if user is None:
        return
    chat = update.effective_chat
    pseudonym = services.keyring.pseudonym(user.id)
    async with transaction(services.sessions) as session:
        await custody.append(
            session,
            actor=f"unauthorised:{pseudonym[:16]}",
            action="export_refused",
            details={"via": via, "private": bool(chat and chat.type == ChatType.PRIVATE)},
        )
    lang = await chosen_language(services, user.id, user)
    text = services.catalog.t(lang, "adm-refused")
    if update.callback_query is not None:
        await answer(update.callback_query, text, alert=True)
    elif chat is not None:
        await send(context, chat.id, Screen(text))


def _admin_language(user: User | None) -> str:
    return pick_language(user.language_code if user else None)


@handler("admin.export")
async def export_command(update: Update, context: Ctx) -> None:
    """``/export``: the first screen for an admin in a private chat; a refusal otherwise."""
    services = context.services
    user = update.effective_user
    chat = update.effective_chat
    if chat is None:
        return
    if not is_admin(services, user):
        await refuse(update, context, via="command")
        return
    screens = Screens(services, _admin_language(user))
    if chat.type != ChatType.PRIVATE:
        await send(context, chat.id, Screen(screens.t("adm-private-only")))
        return
    await deliver(update, context, Reply(send=[screens.what(Choice())]))


@handler("admin.button")
async def export_button(update: Update, context: Ctx) -> None:
    """``adm:<screen>:<choice>``: the next screen in place of the pressed one, or Start."""
    services = context.services
    query = update.callback_query
    user = update.effective_user
    chat = update.effective_chat
    if query is None or chat is None:
        return
    if not is_admin(services, user):
        await refuse(update, context, via="button")
        return
    screens = Screens(services, _admin_language(user))
    parsed = parse(query.data, tuple(services.settings.tipbot_categories))
    if parsed is None or chat.type != ChatType.PRIVATE:
        await answer(query, screens.t("adm-stale"))
        return
    await _press(update, context, screens, *parsed)


async def _press(
    update: Update, context: Ctx, screens: Screens, screen: str, choice: Choice | None
) -> None:
    """Cancel (no choice), Start, or the next screen in place of the pressed one."""
    if choice is None:
        await deliver(update, context, Reply(edit=Screen(screens.t("adm-cancelled"))))
    elif screen == "go":
        await _start(update, context, screens, choice)
    else:
        shown = await _next_screen(context.services, screens, screen, choice)
        await deliver(update, context, Reply(edit=shown))


async def _next_screen(services: Services, screens: Screens, screen: str, choice: Choice) -> Screen:
    """The screen a button leads to; the summary counts the tips the choice matches."""
    if screen == "f":
        filters = choice.filters(datetime.now(UTC))
        return screens.summary(choice, await count_tips(services.sessions, filters, choice.profile))
    draw: dict[str, Callable[[Choice], Screen]] = {
        "w": screens.what,
        "p": screens.profile,
        "st": screens.statuses,
        "ct": screens.categories,
        "ob": screens.oblasts,
        "pd": screens.periods,
    }
    return draw[screen](choice)


async def _start(update: Update, context: Ctx, screens: Screens, choice: Choice) -> None:
    query = update.callback_query
    user = update.effective_user
    message = query.message if query is not None else None
    jobs: ExportJobs = context.bot_data[JOBS_KEY]
    if query is None or user is None or message is None:
        return
    key = (message.chat.id, message.message_id)
    refusal = jobs.refusal(key, user.id)
    if refusal is not None:
        # A busy admin gets an alert to dismiss; a stale button a toast.
        await answer(query, screens.t(refusal), alert=refusal == "adm-busy")
        return
    jobs.started.add(key)
    job = ExportJob(
        user_id=user.id,
        chat_id=message.chat.id,
        message_id=message.message_id,
        lang=screens.lang,
        actor=admin_actor(context.services, user.id),
        choice=choice,
        filters=choice.filters(datetime.now(UTC)),
    )
    await deliver(update, context, Reply(edit=Screen(screens.t("adm-preparing"))))
    jobs.start(job)


# ---------------------------------------------------------------------------- the job


@dataclass(frozen=True, slots=True)
class ExportJob:
    """One admin's export: what, for whom, and where its progress message is."""

    user_id: int
    chat_id: int
    message_id: int
    lang: str
    actor: str
    choice: Choice
    filters: ExportFilters


@dataclass(frozen=True, slots=True)
class Produced:
    """A finished export file and what its custody entry says about it."""

    path: Path
    export_id: str
    sha256: str
    caption: Html


class TooLarge(Exception):
    """The export grew past what Telegram accepts: it is not sent."""


# The phases an export reports (export_table: rows; write_bundle: the others).
_PHASE_KEYS = {
    "rows": "adm-phase-rows",
    "tables": "adm-phase-tables",
    "tips": "adm-phase-tips",
    "chain": "adm-phase-chain",
    "timestamps": "adm-phase-timestamps",
    "archive": "adm-phase-archive",
    "encrypt": "adm-phase-archive",
}


class _Progress:
    """The latest counts the export reported (it may call from a worker thread)."""

    def __init__(self) -> None:
        self.phase = "rows"
        self.done = 0
        self.total: int | None = None

    def rows(self, done: int, total: int) -> None:
        self.phase, self.done, self.total = "rows", done, total

    def bundle(self, phase: str, done: int, total: int | None) -> None:
        self.phase, self.done, self.total = phase, done, total

    def text(self, screens: Screens) -> Html:
        phase = screens.t(_PHASE_KEYS.get(self.phase, "adm-phase-working"))
        if self.total:
            return screens.t("adm-progress", phase=phase, done=self.done, total=self.total)
        return screens.t("adm-progress-open", phase=phase)


JOBS_KEY = "admin_exports"


class ExportJobs:
    """The exports running in this process, one per admin, as background tasks."""

    def __init__(self, services: Services, bot: Any) -> None:
        self.services = services
        self.bot = bot
        self.folder = services.settings.tipbot_data_dir / EXPORTS_FOLDER
        # Progress messages whose Start was pressed: a second press is a stale button.
        self.started: set[tuple[int, int]] = set()
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def prepare(self) -> None:
        """Create the private exports folder and remove what a crashed process left. A
        folder that cannot be made is not worth refusing to start for: intake matters
        more, and each export says so when it fails."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.folder.chmod(0o700)
        except OSError as exc:
            log.warning("the exports folder cannot be prepared (%s)", type(exc).__name__)
            return
        limit = time.time() - STALE_FOLDER.total_seconds()
        for leftover in self.folder.glob("job-*"):
            with contextlib.suppress(OSError):
                if leftover.stat().st_mtime < limit:
                    shutil.rmtree(leftover, ignore_errors=True)

    def running(self, user_id: int) -> bool:
        task = self._tasks.get(user_id)
        return task is not None and not task.done()

    def refusal(self, key: tuple[int, int], user_id: int) -> str | None:
        """Why Start cannot start now (a message key): its message already started one,
        or the admin has one running; None when it can."""
        if key in self.started:
            return "adm-stale"
        return "adm-busy" if self.running(user_id) else None

    def start(self, job: ExportJob) -> None:
        # A fresh context: the task outlives the update whose log line it would write to.
        task = asyncio.get_running_loop().create_task(
            self._run(job), name=f"export-{job.message_id}", context=contextvars.Context()
        )
        self._tasks[job.user_id] = task
        task.add_done_callback(lambda _task: self._forget(job.user_id, _task))

    def _forget(self, user_id: int, task: asyncio.Task[None]) -> None:
        if self._tasks.get(user_id) is task:
            del self._tasks[user_id]

    async def stop(self) -> None:
        """Cancel running exports (the bot is stopping); each tells its admin."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one export

    async def _run(self, job: ExportJob) -> None:
        screens = Screens(self.services, job.lang)
        limit = upload_limit(self.services)
        name = _file_name(job.choice)
        command = command_line(job.choice, job.filters, name)
        folder: Path | None = None
        try:
            matching = await count_tips(self.services.sessions, job.filters, job.choice.profile)
            if matching == 0:
                await self._say(job, screens.t("adm-none-match"))
                return
            folder = await asyncio.to_thread(self._new_folder)
            await self._export(job, screens, folder / name, limit, command)
        except TooLarge:
            await self._say(job, screens.t("adm-too-large", limit=limit // MiB, command=command))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._say(job, screens.t("adm-interrupted"))
            raise
        except Exception as exc:
            log.error("export failed: %s", type(exc).__name__, exc_info=exc)
            with contextlib.suppress(Exception):
                await self._say(job, screens.t("adm-failed", command=command))
        finally:
            if folder is not None:
                await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _export(
        self, job: ExportJob, screens: Screens, path: Path, limit: int, command: str
    ) -> None:
        """Make the export at ``path`` (its own folder) and send it; raises TooLarge."""
        progress = _Progress()
        produced = await self._watch(
            job,
            screens,
            self._produce(job, screens, path, progress),
            progress,
            path.parent,
            limit,
        )
        size = (await asyncio.to_thread(produced.path.stat)).st_size
        if size > limit:
            await self._discarded(job, produced, "too_large")
            raise TooLarge
        await self._say(job, screens.t("adm-progress-open", phase=screens.t("adm-phase-upload")))
        try:
            await self._upload(job, produced, size)
        except TelegramError as exc:
            log.warning("export not delivered: %s", type(exc).__name__)
            await self._discarded(job, produced, "send_failed")
            await self._say(job, screens.t("adm-send-failed", command=command))
            return
        await self._say(job, screens.t("adm-done", export_id=produced.export_id))

    def _new_folder(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="job-", dir=self.folder))

    async def _watch(
        self,
        job: ExportJob,
        screens: Screens,
        work: Awaitable[Produced],
        progress: _Progress,
        folder: Path,
        limit: int,
    ) -> Produced:
        """Run the export, editing the progress message every few seconds; stop it once
        what it writes grows past ``limit`` (it would not be sent anyway)."""
        task = asyncio.ensure_future(work)
        shown = ""
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=PROGRESS_EVERY)
                if done:
                    return task.result()
                if await asyncio.to_thread(_largest_part, folder) > limit:
                    raise TooLarge
                text = progress.text(screens)
                if text != shown:
                    await self._say(job, text)
                    shown = text
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _produce(
        self, job: ExportJob, screens: Screens, path: Path, progress: _Progress
    ) -> Produced:
        services = self.services
        choice = job.choice
        if choice.is_bundle:
            bundle = await write_bundle(
                services.sessions,
                services.store,
                out=path,
                profile=choice.profile,
                filters=job.filters,
                actor=job.actor,
                org_name=services.settings.org_label,
                tsa_urls=services.settings.tsa_urls,
                tsa_ca_file=services.settings.tsa_ca_file,
                progress=progress.bundle,
                gazetteer=services.gazetteer,
            )
            assert bundle.sha256 is not None  # a ZIP always has one
            caption = screens.t(
                "adm-caption-bundle",
                export_id=bundle.export_id,
                tips=bundle.tips,
                files=bundle.files,
                sha256=bundle.sha256,
            )
            return Produced(bundle.path, bundle.export_id, bundle.sha256, caption)
        out = await asyncio.to_thread(_create_private, path)
        try:
            table = await export_table(
                services.sessions,
                fmt=Format(choice.what),
                profile=choice.profile,
                filters=job.filters,
                out=out,
                actor=job.actor,
                progress=progress.rows,
                tmpdir=path.parent,
                gazetteer=services.gazetteer,
            )
        finally:
            await asyncio.to_thread(out.close)
        caption = screens.t(
            "adm-caption", export_id=table.export_id, rows=table.rows, sha256=table.sha256
        )
        return Produced(path, table.export_id, table.sha256, caption)

    async def _upload(self, job: ExportJob, produced: Produced, size: int) -> None:
        document: Any
        if size <= CLOUD_UPLOAD_LIMIT:
            document = await asyncio.to_thread(produced.path.read_bytes)
        else:
            # Only a local Bot API server takes more; PTB hands it the file's path
            # (file://), which it reads from the disk it shares with us (as for downloads).
            document = produced.path
        await self.bot.send_document(
            job.chat_id,
            document,
            filename=produced.path.name,
            caption=produced.caption,
            read_timeout=UPLOAD_TIMEOUT,
            write_timeout=UPLOAD_TIMEOUT,
        )

    async def _discarded(self, job: ExportJob, produced: Produced, reason: str) -> None:
        """Record that a recorded export was deleted without reaching the admin."""
        async with transaction(self.services.sessions) as session:
            await custody.append(
                session,
                actor=job.actor,
                action="export_discarded",
                details={"export_id": produced.export_id, "reason": reason},
            )

    async def _say(self, job: ExportJob, text: str) -> None:
        """Show ``text`` in the job's progress message (edited in place)."""
        try:
            await self.bot.edit_message_text(text, chat_id=job.chat_id, message_id=job.message_id)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.info("progress message not updated (%s)", type(exc).__name__)
        except TelegramError as exc:
            log.info("progress message not updated (%s)", type(exc).__name__)


def _file_name(choice: Choice) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    if choice.is_bundle:
        return f"tipbot-bundle-{stamp}.zip"
    return f"tipbot-export-{stamp}.{choice.what}"


def _create_private(path: Path) -> BinaryIO:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(descriptor, "wb")


def _largest_part(folder: Path) -> int:
    """The bytes of the biggest thing in ``folder``: a file, or a subfolder's files together
    (a bundle's bag is a subfolder until it is zipped beside it)."""
    with os.scandir(folder) as entries:
        return max((_entry_size(entry) for entry in entries), default=0)


def _entry_size(entry: os.DirEntry[str]) -> int:
    """A file's bytes, a folder's files' bytes together; 0 for anything else."""
    if entry.is_file(follow_symlinks=False):
        return entry.stat(follow_symlinks=False).st_size
    if entry.is_dir(follow_symlinks=False):
        return sum(
            (Path(root) / name).lstat().st_size
            for root, _dirs, names in os.walk(entry.path)
            for name in names
        )
    return 0


# ---------------------------------------------------------------------------- wiring


def install(app: TipbotApp) -> None:
    """Register ``/export`` and its buttons (before the catch-all for unknown commands) and
    the background exports."""
    from telegram.ext import CallbackQueryHandler, CommandHandler

    services: Services = app.bot_data["services"]
    jobs = ExportJobs(services, app.bot)
    jobs.prepare()
    app.bot_data[JOBS_KEY] = jobs
    app.add_handler(CommandHandler("export", export_command))
    app.add_handler(CallbackQueryHandler(export_button, pattern=rf"^{PREFIX}:"))


async def stop(app: TipbotApp) -> None:
    jobs: ExportJobs | None = app.bot_data.get(JOBS_KEY)
    if jobs is not None:
        await jobs.stop()
