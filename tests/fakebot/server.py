"""The fake Telegram Bot API server: HTTP layer, recording, fault injection, factories.

Start it in the test's event loop::

    async with FakeTelegram() as fake:
        bot = fake.make_bot()            # or Application.builder().base_url(fake.base_url)...
        user = fake.user(first_name="Olena")
        await user.send_command("/start")
        reply = await user.wait_for_message("Welcome")

See ``docs/fake-bot-api.md`` for the full description.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import BodyPartReader, web
from telegram import Bot

from .clock import FakeClock
from .core import CallContext, GroupLimit
from .files import ChunkFactory, FakeFile
from .methods import BUILTIN_METHODS, ApiMethods, MethodHandler
from .models import ApiCall, ApiError, DownloadRecord, Upload
from .users import FakeGroup, FakeUser

__all__ = [
    "BUILTIN_METHODS",
    "DEFAULT_TOKEN",
    "RAW_PARAMS",
    "Delay",
    "DownloadRule",
    "FakeTelegram",
    "Fault",
    "RandomFaults",
    "decode_param",
]

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:AAFakeTokenForTestsOnly_0123456789abc"

RAW_PARAMS = frozenset(
    {
        "text",
        "caption",
        "question",
        "title",
        "address",
        "name",
        "description",
        "short_description",
        "parse_mode",
        "caption_parse_mode",
        "question_parse_mode",
        "explanation",
        "explanation_parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "emoji",
        "file_name",
        "file_id",
        "custom_title",
        "secret_token",
        "icon_custom_emoji_id",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
        "phone_number",
        "first_name",
        "last_name",
        "vcard",
        "performer",
        "action",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "ip_address",
        "photo",
        "video",
        "document",
        "audio",
        "voice",
        "animation",
        "video_note",
        "sticker",
        "thumbnail",
        "payload",
        "currency",
        "start_parameter",
        "provider_token",
        "game_short_name",
    }
)
"""Parameters whose form values are free text and are never JSON-decoded."""


def decode_param(name: str, value: str) -> Any:
    """Decode one form/query value the way the Bot API does.

    Free-text parameters (:data:`RAW_PARAMS`) stay strings; every other value is JSON-decoded,
    falling back to the raw string (``chat_id='@channel'``).
    """
    if name in RAW_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


@dataclass
class Fault:
    """An injected failure (see :meth:`FakeTelegram.fail`).

    ``remaining`` is None for "forever"; ``hits`` counts the calls it failed.
    """

    method: str
    status: int
    description: str
    retry_after: int | None
    remaining: int | None
    chat_id: int | str | None
    execute: bool
    hits: int = 0
    active: bool = True
    drop: bool = False  # close the connection instead of answering (see FakeTelegram.drop)

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        """Does this fault apply to a call of ``method`` with ``params``?"""
        if not self.active or (self.remaining is not None and self.remaining <= 0):
            return False
        if self.method != "*" and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)

    def consume(self) -> ApiError:
        """Use up one failure and return the error to answer."""
        self.hits += 1
        if self.remaining is not None:
            self.remaining -= 1
        parameters = {"retry_after": self.retry_after} if self.retry_after is not None else None
        return ApiError(self.status, self.description, parameters=parameters)

    def cancel(self) -> None:
        """Stop injecting this fault."""
        self.active = False


@dataclass
class RandomFaults:
    """A share of all calls but ``getUpdates`` failing at random, each with one of
    ``statuses`` (see :meth:`FakeTelegram.fail_randomly`); ``hits`` counts them."""

    rate: float
    statuses: tuple[int, ...]
    retry_after: int
    rng: random.Random
    hits: int = 0
    active: bool = True

    def pick(self, method: str) -> Fault | None:
        """A one-time fault for this call, or None (most of the time)."""
        if not self.active or method == "getUpdates" or self.rng.random() >= self.rate:
            return None
        self.hits += 1
        status = self.rng.choice(self.statuses)
        wait = self.retry_after if status == 429 else None
        return Fault(method, status, _default_description(status, wait), wait, 1, None, False)

    def cancel(self) -> None:
        """Stop injecting."""
        self.active = False


@dataclass
class Delay:
    """Slow answers of a method (see :meth:`FakeTelegram.delay`)."""

    method: str
    seconds: float
    remaining: int | None
    hits: int = 0
    active: bool = True
    execute: bool = True

    def matches(self, method: str) -> bool:
        """Does this delay apply to ``method``?"""
        if not self.active or (self.remaining is not None and self.remaining <= 0):
            return False
        return self.method == "*" or self.method.lower() == method.lower()

    def cancel(self) -> None:
        """Stop delaying."""
        self.active = False


@dataclass
class DownloadRule:
    """Download throttling or failure for one file (or all files when ``file_id`` is None)."""

    file_id: str | None
    bytes_per_second: float | None = None
    first_byte_delay: float = 0.0
    fail_status: int | None = None
    remaining: int | None = None
    hits: int = 0
    active: bool = True

    def matches(self, file: FakeFile | None) -> bool:
        """Does this rule apply to ``file``?"""
        if not self.active or (self.remaining is not None and self.remaining <= 0):
            return False
        if self.file_id is None:
            return True
        return file is not None and self.file_id in (file.file_id, file.file_unique_id)

    def cancel(self) -> None:
        """Remove the rule."""
        self.active = False


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    if status == 400:
        return "Bad Request: injected failure"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


def _dropped(request: web.Request, fault: Fault, response: web.Response) -> web.Response:
    """``response``, or for a dropping fault none at all: the connection is cut."""
    if fault.drop and request.transport is not None:
        request.transport.abort()
    return response


def _json_response(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
    )


class FakeTelegram(ApiMethods):
    """A fake Telegram Bot API server on ``127.0.0.1`` (an aiohttp app in the test's loop).

    Use as ``async with FakeTelegram() as fake:``.  Point python-telegram-bot at
    :attr:`base_url` / :attr:`base_file_url` (or use :meth:`make_bot`).
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "tipbot_test_bot",
        bot_first_name: str = "TipBot",
        local_mode: bool = False,
        clock: FakeClock | None = None,
        privacy_mode: bool = True,
        host: str = "127.0.0.1",
        strict: bool = True,
    ) -> None:
        """Create the server (not started yet).

        Args:
            token: the only accepted token; the bot id is the part before ``:``.
            bot_username, bot_first_name: the bot's ``User``.
            local_mode: behave like a local Bot API server (``getFile`` up to 2000 MB,
                uploads up to 2000 MB).  ``file_path`` stays relative and is served over HTTP.
            clock: the clock to use (default: a new :class:`FakeClock` at real time).
            privacy_mode: in groups where the bot is not an admin, only commands, replies to
                the bot and mentions of it are delivered (Telegram's default).
            host: interface to bind (a free port is chosen).
            strict: leaving the ``async with`` block raises if a method implementation crashed
                (see :attr:`internal_errors`).
        """
        super().__init__(
            token=token,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            local_mode=local_mode,
            clock=clock,
            privacy_mode=privacy_mode,
        )
        self._init_methods()
        self.host = host
        self.strict = strict
        self.port: int = 0
        self.internal_errors: list[BaseException] = []
        self.downloads: list[DownloadRecord] = []
        self.faults: list[Fault] = []
        self.delays: list[Delay] = []
        self.download_rules: list[DownloadRule] = []
        self.random_faults: RandomFaults | None = None
        self._handlers: dict[str, MethodHandler] = self.builtin_handlers()
        self._names: dict[str, str] = {name.lower(): name for name in self._handlers}
        self._runner: web.AppRunner | None = None
        self._next_user_id = 700_000_001
        self._next_group_id = -1_001_234_567_890

    # ================================================================ lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (valid once started)."""
        if not self.port:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url``: ``<url>/bot``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url``: ``<url>/file/bot``."""
        return f"{self.url}/file/bot"

    def file_url(self, file: FakeFile) -> str:
        """Download URL of a file (``getFile`` must have been called for it to work)."""
        return f"{self.base_file_url}{self.token}/{file.file_path}"

    async def start(self) -> FakeTelegram:
        """Bind a free port on :attr:`host` and start serving."""
        if self._runner is not None:
            return self
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        self._closing = False
        return self

    async def close(self) -> None:
        """Wake pending long polls (they answer ``[]``) and stop the server."""
        self._closing = True
        self._bump()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        await self.close()
        if self.strict and self.internal_errors and exc_type is None:
            errors = "; ".join(repr(e) for e in self.internal_errors)
            raise AssertionError(f"FakeTelegram method implementations crashed: {errors}")

    def make_bot(self, **kwargs: Any) -> Bot:
        """A ``telegram.Bot`` configured for this server (``local_mode`` matches)."""
        kwargs.setdefault("local_mode", self.local_mode)
        return Bot(self.token, base_url=self.base_url, base_file_url=self.base_file_url, **kwargs)

    def register_method(self, name: str, handler: MethodHandler) -> None:
        """Add or replace a Bot API method (``name`` in official camelCase).

        ``handler(ctx)`` returns the result or raises :class:`ApiError`; it is recorded and
        subject to faults like built-in methods.
        """
        self._handlers[name] = handler
        self._names[name.lower()] = name

    @property
    def method_names(self) -> list[str]:
        """All implemented method names."""
        return sorted(self._handlers)

    # ================================================================ users and groups

    def user(
        self,
        *,
        user_id: int | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        started: bool = False,
        is_premium: bool = False,
    ) -> FakeUser:
        """Create a user with a private chat (chat id == user id).

        ``started=False`` (the default) means the user never wrote to the bot, so the bot
        can't message them yet ("bot can't initiate conversation with a user"); the user's
        first action starts the chat.
        """
        if user_id is None:
            while self._next_user_id in self._users:
                self._next_user_id += 1
            user_id = self._next_user_id
            self._next_user_id += 1
        if user_id in self._users or user_id in self._chats or user_id == self.bot_id:
            raise ValueError(f"user id {user_id} is already taken")
        user = FakeUser(
            self,
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        self._users[user_id] = user
        chat = user.private_chat_state()
        chat.started = started
        self._chats[user_id] = chat
        return user

    def group(
        self,
        *,
        chat_id: int | None = None,
        title: str = "Moderators",
        is_forum: bool = False,
        username: str | None = None,
        bot_status: str = "administrator",
    ) -> FakeGroup:
        """Create a supergroup (negative id like -1001234567890) the bot is in.

        ``bot_status`` is the bot's membership: ``administrator`` (default), ``creator``,
        ``member``, ``left`` or ``kicked``.
        """
        if chat_id is None:
            while self._next_group_id in self._chats:
                self._next_group_id -= 1
            chat_id = self._next_group_id
            self._next_group_id -= 1
        if chat_id >= 0 or chat_id in self._chats:
            raise ValueError(f"group id {chat_id} is invalid or taken")
        group = FakeGroup(self, chat_id=chat_id, title=title, is_forum=is_forum, username=username)
        self._chats[chat_id] = group.chat_state_template(bot_status)
        self._groups[chat_id] = group
        return group

    @property
    def users(self) -> list[FakeUser]:
        """All users created so far."""
        return list(self._users.values())

    @property
    def groups(self) -> list[FakeGroup]:
        """All groups created so far."""
        return list(self._groups.values())

    def add_file(
        self,
        content: bytes | None = None,
        *,
        size: int | None = None,
        kind: str = "document",
        file_name: str | None = None,
        mime_type: str | None = None,
        chunk_factory: ChunkFactory | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> FakeFile:
        """Register a file the bot can use by ``file_id`` (bytes, or a virtual ``size``)."""
        return self.files.add(
            kind=kind,
            content=content,
            size=size,
            chunk_factory=chunk_factory,
            mime_type=mime_type,
            file_name=file_name,
            width=width,
            height=height,
            duration=duration,
            extra=extra,
        )

    # ================================================================ recording

    def calls_to(self, method: str, chat_id: int | str | None = None) -> list[ApiCall]:
        """Recorded calls of ``method`` (case-insensitive), optionally to one chat."""
        wanted = method.lower()
        return [
            call
            for call in self.calls
            if call.method.lower() == wanted
            and (chat_id is None or str(call.params.get("chat_id")) == str(chat_id))
        ]

    async def wait_for_call(
        self,
        predicate: str | Callable[[ApiCall], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the helper's contract
        *,
        new_only: bool = False,
    ) -> ApiCall:
        """The first matching call, already recorded or future.

        Args:
            predicate: a method name, or a function of an :class:`ApiCall`.
            timeout: seconds to wait (real time).
            new_only: ignore calls recorded before this call.

        Raises:
            TimeoutError: listing the last recorded calls.
        """
        check: Callable[[ApiCall], bool]
        if isinstance(predicate, str):
            method = predicate.lower()

            def check(call: ApiCall) -> bool:
                return call.method.lower() == method
        else:
            check = predicate
        index = len(self.calls) if new_only else 0
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls[index:]:
                if check(call):
                    return call
            index = len(self.calls)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"no matching Bot API call within {timeout}s; last calls:\n"
                    + self.describe_calls()
                )
            await self._wait_changed(remaining)

    def describe_calls(self, last: int = 15) -> str:
        """The last ``last`` calls, one per line (for assertion messages)."""
        lines = [f"  {call.summary()}" for call in self.calls[-last:]]
        return "\n".join(lines) if lines else "  (none)"

    def clear_calls(self) -> None:
        """Forget the recorded calls."""
        self.calls.clear()

    # ================================================================ fault injection

    def fail(
        self,
        method: str,
        *,
        status: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | str | None = None,
        execute: bool = False,
    ) -> Fault:
        """Make the next ``times`` matching calls fail (``times=None``: until cancelled).

        Args:
            method: method name (case-insensitive) or ``"*"`` for every method.
            status: HTTP status / ``error_code``.  429 answers carry
                ``parameters.retry_after`` (``retry_after`` defaults to 1).
            description: the error description (default: a phrase for the status, e.g.
                ``Too Many Requests: retry after 5``).
            chat_id: only calls whose ``chat_id`` equals this.
            execute: run the method (its side effects happen) and then answer the error —
                simulates a lost answer.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(
            method=method,
            status=status,
            description=description or _default_description(status, retry_after),
            retry_after=retry_after,
            remaining=times,
            chat_id=chat_id,
            execute=execute,
        )
        self.faults.append(fault)
        return fault

    def drop(
        self,
        method: str,
        *,
        times: int | None = 1,
        chat_id: int | str | None = None,
        execute: bool = False,
    ) -> Fault:
        """Close the connection of the next ``times`` matching calls without answering (the
        client sees "server disconnected"). ``execute=True`` carries the call out first: it
        reached Telegram, and only its answer was lost."""
        fault = self.fail(
            method, status=499, description="connection dropped", times=times, chat_id=chat_id
        )
        fault.drop, fault.execute = True, execute
        return fault

    def fail_randomly(
        self,
        rate: float,
        *,
        statuses: tuple[int, ...] = (500, 429),
        retry_after: int = 1,
        seed: int | None = None,
    ) -> RandomFaults:
        """Fail a share ``rate`` (0.01 is 1%) of all calls but ``getUpdates``, at random,
        with one of ``statuses`` (429 answers carry ``retry_after``); ``seed`` repeats a
        run's draws. Replaces an earlier random rule."""
        self.random_faults = RandomFaults(rate, statuses, retry_after, random.Random(seed))
        return self.random_faults

    def delay(
        self, method: str, seconds: float, *, times: int | None = None, execute: bool = True
    ) -> Delay:
        """Answer ``method`` (or ``"*"``) ``seconds`` later (``times=None``: always).

        By default the request is then carried out, even if the client gave up waiting — a
        request that reached Telegram but whose answer was lost. ``execute=False`` models one
        lost on the way: after the wait it is answered 504 and has no effect.
        """
        rule = Delay(method=method, seconds=seconds, remaining=times, execute=execute)
        self.delays.append(rule)
        return rule

    def slow_download(
        self,
        file_id: str | None = None,
        *,
        bytes_per_second: float | None = None,
        first_byte_delay: float = 0.0,
    ) -> DownloadRule:
        """Throttle downloads of one file (or all with ``None``)."""
        rule = DownloadRule(
            file_id=file_id, bytes_per_second=bytes_per_second, first_byte_delay=first_byte_delay
        )
        self.download_rules.append(rule)
        return rule

    def fail_download(
        self, file_id: str | None, status: int = 500, times: int | None = 1
    ) -> DownloadRule:
        """Fail the next ``times`` downloads of a file (or all with ``None``) with ``status``."""
        rule = DownloadRule(file_id=file_id, fail_status=status, remaining=times)
        self.download_rules.append(rule)
        return rule

    def clear_faults(self) -> None:
        """Remove all faults, delays and download rules."""
        self.random_faults = None
        self.faults.clear()
        self.delays.clear()
        self.download_rules.clear()

    def set_group_limit(
        self, max_messages: int = 20, per_seconds: float = 60.0, *, enforce: bool = True
    ) -> GroupLimit:
        """Limit sends into each group chat to ``max_messages`` per sliding ``per_seconds``.

        Every successful send*/copy*/forward* into a negative chat id counts (an album counts
        each item).  When ``enforce`` is true an exceeding call gets 429 with ``retry_after``
        = seconds until enough sends leave the window (rounded up, at least 1) and
        :attr:`group_limit_rejections` grows; with ``enforce=False`` the send succeeds and
        :attr:`group_limit_violations` grows.  Time is the fake clock.
        """
        self.group_limit = GroupLimit(max_messages, per_seconds, enforce)
        for chat in self._chats.values():
            chat.recent_sends.clear()
        return self.group_limit

    def clear_group_limit(self) -> None:
        """Remove the group send limit."""
        self.group_limit = None

    # ================================================================ HTTP: API

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
        params: dict[str, Any] = {k: decode_param(k, v) for k, v in request.query.items()}
        uploads: dict[str, Upload] = {}
        if request.method != "POST" or not request.body_exists:
            return params, uploads
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as err:
                raise ApiError(400, "Bad Request: can't parse JSON object") from err
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: can't parse JSON object")
            for key, value in body.items():
                if key in RAW_PARAMS and isinstance(value, int | float):
                    value = str(value)
                params[key] = value
        elif content_type == "multipart/form-data":
            limit = self._upload_limit()
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is None:
                    params[part.name] = decode_param(part.name, await part.text())
                    continue
                chunks: list[bytes] = []
                total = 0
                while chunk := await part.read_chunk(1024 * 1024):
                    total += len(chunk)
                    if total > limit:
                        raise ApiError(413, "Request Entity Too Large")
                    chunks.append(bytes(chunk))
                uploads[part.name] = Upload(
                    name=part.name,
                    filename=part.filename,
                    content_type=part.headers.get("Content-Type"),
                    data=b"".join(chunks),
                )
        elif content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = decode_param(key, value)
        return params, uploads

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        status: int,
        result: Any,
        error: str | None,
        started: float,
        ctx: CallContext | None,
        http_method: str,
    ) -> None:
        recorded = dict(params)
        if ctx is not None:
            for name, upload in ctx.uploads.items():
                recorded.setdefault(name, f"<upload {upload.filename!r}, {len(upload.data)} bytes>")
        self.calls.append(
            ApiCall(
                method=method,
                params=recorded,
                status=status,
                result=result,
                error=error,
                started_at=started,
                finished_at=time.monotonic(),
                uploads=dict(ctx.created_files) if ctx else {},
                http_method=http_method,
            )
        )
        for listener in self.call_listeners:
            listener(self.calls[-1])
        self._bump()

    async def _handle_api(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        raw_method = request.match_info["method"]
        method = self._names.get(raw_method.lower(), raw_method)
        params: dict[str, Any] = {}
        ctx: CallContext | None = None

        def answer(error: ApiError) -> web.Response:
            self._record(
                method,
                params,
                error.status,
                None,
                error.description,
                started,
                ctx,
                request.method,
            )
            return _json_response(error.to_json(), error.status)

        if request.match_info["token"] != self.token:
            return answer(ApiError(401, "Unauthorized"))
        handler = self._handlers.get(method)
        if handler is None:
            return answer(ApiError(404, "Not Found"))
        try:
            params, uploads = await self._read_params(request)
        except ApiError as err:
            return answer(err)
        ctx = CallContext(method, params, uploads)
        for rule in self.delays:
            if rule.matches(method):
                rule.hits += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                await asyncio.sleep(rule.seconds)
                if not rule.execute:
                    return answer(ApiError(504, "Gateway Timeout"))
                break
        fault = next((f for f in self.faults if f.matches(method, params)), None)
        if fault is None and self.random_faults is not None:
            fault = self.random_faults.pick(method)
        injected = fault.consume() if fault is not None else None
        if injected is not None and fault is not None and not fault.execute:
            return _dropped(request, fault, answer(injected))
        try:
            result = await handler(ctx)
        except ApiError as err:
            return answer(injected or err)
        except Exception as err:
            logger.exception("fake Bot API method %s crashed", method)
            self.internal_errors.append(err)
            return answer(ApiError(500, f"Internal Server Error: fake {method} crashed: {err!r}"))
        if injected is not None and fault is not None:
            return _dropped(request, fault, answer(injected))
        self._record(method, params, 200, result, None, started, ctx, request.method)
        return _json_response({"ok": True, "result": result}, 200)

    # ================================================================ HTTP: files

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        file_path = request.match_info["file_path"]
        found = self.files.by_path(file_path)

        def record(status: int, sent: int) -> None:
            self.downloads.append(
                DownloadRecord(
                    file_path=file_path,
                    file_id=found.file_id if found else None,
                    status=status,
                    bytes_sent=sent,
                    started_at=started,
                    finished_at=time.monotonic(),
                )
            )
            self._bump()

        if request.match_info["token"] != self.token:
            record(401, 0)
            return _json_response(ApiError(401, "Unauthorized").to_json(), 401)
        if found is None or not found.path_issued:
            record(404, 0)
            return _json_response(ApiError(404, "Not Found").to_json(), 404)
        for rule in self.download_rules:
            if rule.fail_status is not None and rule.matches(found):
                rule.hits += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                record(rule.fail_status, 0)
                error = ApiError(rule.fail_status, _default_description(rule.fail_status, None))
                return _json_response(error.to_json(), rule.fail_status)
        throttle = next(
            (
                r
                for r in reversed(self.download_rules)
                if r.fail_status is None and r.matches(found)
            ),
            None,
        )
        rate = throttle.bytes_per_second if throttle else None
        if throttle is not None:
            throttle.hits += 1
            if throttle.first_byte_delay:
                await asyncio.sleep(throttle.first_byte_delay)
        response = web.StreamResponse(
            status=200, headers={"Content-Type": found.mime_type or "application/octet-stream"}
        )
        response.content_length = found.size
        await response.prepare(request)
        chunk_size = 256 * 1024
        if rate:
            chunk_size = max(1024, min(chunk_size, int(rate / 20)))
        sent = 0
        begin = time.monotonic()
        try:
            for chunk in found.iter_chunks(chunk_size):
                if sent + len(chunk) >= found.size:
                    # record before the client can have everything, so a test that awaited
                    # the download sees the record
                    found.downloads += 1
                    record(200, found.size)
                await response.write(chunk)
                sent += len(chunk)
                if rate:
                    ahead = begin + sent / rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            if found.size == 0:
                found.downloads += 1
                record(200, 0)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            if sent < found.size:
                record(499, sent)
            raise
        return response
