"""A fake Telegram Bot API server for end-to-end tests and benchmarks.

The real bot (python-telegram-bot) talks HTTP to :class:`FakeTelegram`; tests act as
Telegram users through :class:`FakeUser` / :class:`FakeGroup` and inspect what those users
see (:class:`ChatMessage`) and which API calls the bot made (:class:`ApiCall`).
See ``docs/fake-bot-api.md``.
"""

from .clock import FakeClock
from .core import CallContext, GroupLimit
from .files import FakeFile, FileStore, pattern_chunks
from .markup import EntityParseError, ParsedText, entities_to_html, parse_html, parse_text
from .methods import BUILTIN_METHODS
from .models import ApiCall, ApiError, CallbackAnswer, ChatMessage, DownloadRecord, Upload
from .server import (
    DEFAULT_TOKEN,
    Delay,
    DownloadRule,
    FakeTelegram,
    Fault,
    RandomFaults,
    decode_param,
)
from .users import DEFAULT_PHOTO_SIZES, AlbumItem, ChatView, FakeGroup, FakeUser

__all__ = [
    "BUILTIN_METHODS",
    "DEFAULT_PHOTO_SIZES",
    "DEFAULT_TOKEN",
    "AlbumItem",
    "ApiCall",
    "ApiError",
    "CallContext",
    "CallbackAnswer",
    "ChatMessage",
    "ChatView",
    "Delay",
    "DownloadRecord",
    "DownloadRule",
    "EntityParseError",
    "FakeClock",
    "FakeFile",
    "FakeGroup",
    "FakeTelegram",
    "FakeUser",
    "Fault",
    "FileStore",
    "GroupLimit",
    "ParsedText",
    "RandomFaults",
    "Upload",
    "decode_param",
    "entities_to_html",
    "parse_html",
    "parse_text",
    "pattern_chunks",
]
