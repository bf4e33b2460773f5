"""Logging set-up: what may and may not reach the logs.

Application code logs ids, codes, counts and timings — never message text, captions,
coordinates, file names, raw Telegram user ids or secrets. As a safety net, every formatted
line (tracebacks included) has bot tokens masked, and third-party loggers that would print
request parameters at DEBUG are held at INFO or above whatever ``TIPBOT_LOG_LEVEL`` says.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType

_TOKEN_RE = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{20,}")

# Loggers that log request URLs (with the token) or parameters (with content) when verbose.
_QUIET = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "telegram.ext": logging.INFO,
    "aiosqlite": logging.WARNING,
    "asyncpg": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "apscheduler": logging.WARNING,
    "hachoir": logging.ERROR,
    "exifread": logging.ERROR,
    "alembic": logging.WARNING,
    "aiohttp.access": logging.WARNING,
}


def redact(text: str) -> str:
    return _TOKEN_RE.sub("<token>", text)


class RedactingFormatter(logging.Formatter):
    """Masks bot tokens anywhere in the line, and prints exception chains without messages
    (an exception's message can quote the input that caused it)."""

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        _, exc, _ = ei
        if exc is None:
            return ""
        return safe_traceback(exc)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def safe_traceback(exc: BaseException) -> str:
    """Frames and exception types of ``exc`` and its causes, without their messages."""
    lines: list[str] = []
    for current in reversed(_chain(exc)):
        if _cause(current) is not None:
            lines.append("(caused by the exception above)")
        lines += _block(current)
    return "\n".join(lines)


def _cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ or exc.__context__


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it came from, each once, the raised one first."""
    chain: dict[int, BaseException] = {}
    current: BaseException | None = exc
    while current is not None and id(current) not in chain:
        chain[id(current)] = current
        current = _cause(current)
    return list(chain.values())


def _block(exc: BaseException) -> list[str]:
    """One exception's frames and type, as a traceback shows them but with no message."""
    frames = traceback.extract_tb(exc.__traceback__)
    return [
        "Traceback (most recent call last):",
        *(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}' for frame in frames),
        f"{type(exc).__module__}.{type(exc).__qualname__}",
    ]


def configure_logging(level: str = "INFO", *, stream: object = None) -> None:
    """Log to stderr (or ``stream``) in one format for everything, with the safety rules."""
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    apply_quiet_levels(level)


def apply_quiet_levels(level: str) -> None:
    requested = logging.getLevelName(level)
    for name, floor in _QUIET.items():
        logging.getLogger(name).setLevel(max(floor, requested))
