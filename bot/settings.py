"""Settings from environment variables and an optional ``.env`` file.

The variable names are a public contract (see the README). A missing or invalid value is
reported by :func:`load_settings` as one line naming the variable, never as a traceback.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.taxonomy import CATEGORY_CODES, PARTY_CODES

CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024
LOCAL_DOWNLOAD_LIMIT = 2000 * 1024 * 1024

_TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line naming the variable."""


def _split_list(value: Any) -> Any:
    """Accept ``"1, 2,3"`` (the documented form) as well as a real list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _blank_is_none(value: str | None) -> str | None:
    """``value`` stripped, or None if it is unset or blank."""
    if value is None:
        return None
    return value.strip() or None


def _known_codes(value: Any, known: tuple[str, ...], what: str, *, required: bool) -> Any:
    codes = _split_list(value)
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise ValueError(f"unknown {what} code(s) {', '.join(unknown)}")
    if required and not codes:
        raise ValueError(f"must name at least one {what}")
    return codes


# The async driver of each database the bot supports.
_ASYNC_DRIVERS = {"postgresql": "asyncpg", "sqlite": "aiosqlite"}


def normalise_database_url(url: str) -> str:
    """Return ``url`` with an async driver: plain ``postgresql://`` and ``sqlite://`` URLs are
    upgraded to asyncpg and aiosqlite; anything else must already be async."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError("is not a valid database URL") from exc
    backend = parsed.get_backend_name()
    driver = _ASYNC_DRIVERS.get(backend)
    if driver is None:
        raise ValueError("must be a PostgreSQL (postgresql+asyncpg://) or SQLite URL")
    if parsed.get_driver_name() != driver:
        parsed = parsed.set(drivername=f"{backend}+{driver}")
    return parsed.render_as_string(hide_password=False)


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> timedelta:
    """``"24h"``, ``"90m"``, ``"1d"``, ``"30s"`` or plain seconds."""
    match = _DURATION_RE.match(value)
    if match is None:
        raise ValueError("must be a duration such as 24h, 90m, 1d or a number of seconds")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])


class Settings(BaseSettings):
    """All configuration of the bot. Field names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_local_mode: bool = False
    database_url: str = "sqlite+aiosqlite:///./data/tipbot.db"
    media_dir: Path = Path("./data/media")
    moderator_chat_id: int | None = None
    moderator_thread_id: int | None = None
    moderator_topics: str | None = None
    moderator_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    tipbot_secret_key: SecretStr | None = None
    tipbot_data_dir: Path = Path("./data")
    # None: reporters read a neutral phrase in their language (the catalog's org-unnamed).
    tipbot_org_name: str | None = None
    tipbot_official_handle: str | None = None
    tipbot_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(CATEGORY_CODES)
    )
    tipbot_parties: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(PARTY_CODES)
    )
    tipbot_max_files_per_report: int = Field(default=30, ge=1, le=200)
    tipbot_max_reports_per_day: int = Field(default=10, ge=1)
    tipbot_max_updates_per_minute: int = Field(default=30, ge=5)
    tipbot_earliest_incident_date: date = date(2014, 2, 20)
    tipbot_description_max_chars: int = Field(default=4000, ge=100, le=4096)
    tipbot_description_total_chars: int = Field(default=20000, ge=1000)
    tipbot_ack_delay_seconds: float = Field(default=1.0, ge=0.0, le=30.0)
    tipbot_concurrent_updates: int = Field(default=1024, ge=1, le=4096)
    # On SIGTERM/SIGINT: how long the updates in hand may take to finish before the rest is
    # cut short (bot/cli.py).
    tipbot_stop_timeout: float = Field(default=10.0, gt=0, le=600)
    tipbot_moderator_language: str = "en"
    # The time zone of every date and time shown to people ("today", cards, history).
    tipbot_timezone: str = "Europe/Kyiv"
    tipbot_surge_threshold: int = Field(default=10, ge=0)
    tipbot_notify_reporters: bool = True
    tipbot_duplicate_distance: int = Field(default=8, ge=0, le=32)
    tipbot_group_max_messages: int = Field(default=20, ge=1)
    tipbot_group_window_seconds: float = Field(default=60.0, gt=0)
    tipbot_chat_max_messages: int = Field(default=3, ge=1)
    tipbot_chat_window_seconds: float = Field(default=3.0, gt=0)
    tipbot_member_cache_seconds: float = Field(default=300.0, ge=0, le=300)
    tipbot_log_level: str = "INFO"
    tipbot_locales_dir: Path | None = None
    # Evidence: public anchors of the custody head, trusted timestamps (docs/custody.md).
    anchor_chat_id: int | None = None
    tipbot_anchor_interval: timedelta = timedelta(hours=24)
    tipbot_anchor_entries: int = Field(default=1000, ge=1)
    tsa_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    tsa_ca_file: Path | None = None

    @field_validator("telegram_bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if not _TOKEN_RE.match(value.get_secret_value().strip()):
            raise ValueError("does not look like a bot token from BotFather (123456:ABC-...)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return normalise_database_url(value.strip())

    @field_validator("moderator_ids", "admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("anchor_chat_id", "moderator_chat_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("tipbot_anchor_interval", mode="before")
    @classmethod
    def _check_interval(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("tipbot_anchor_interval")
    @classmethod
    def _check_interval_range(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("must be at least one minute")
        return value

    @field_validator("tsa_urls", mode="before")
    @classmethod
    def _check_tsa_urls(cls, value: Any) -> Any:
        urls = _split_list(value)
        for url in urls:
            if not re.match(r"^https?://[^/\s]+", url):
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return urls

    @field_validator("tipbot_categories", mode="before")
    @classmethod
    def _check_categories(cls, value: Any) -> Any:
        return _known_codes(value, CATEGORY_CODES, "category", required=True)

    @field_validator("tipbot_parties", mode="before")
    @classmethod
    def _check_parties(cls, value: Any) -> Any:
        return _known_codes(value, PARTY_CODES, "party", required=False)

    @field_validator("tipbot_secret_key")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters long")
        return value

    @field_validator("tipbot_org_name")
    @classmethod
    def _check_org_name(cls, value: str | None) -> str | None:
        return _blank_is_none(value)

    @field_validator("tipbot_official_handle")
    @classmethod
    def _check_handle(cls, value: str | None) -> str | None:
        handle = _blank_is_none(value)
        if handle is None:
            return None
        handle = "@" + handle.removeprefix("@")
        if not re.match(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$", handle):
            raise ValueError("must be a Telegram username such as @example_bot")
        return handle

    @field_validator("moderator_topics")
    @classmethod
    def _check_topics(cls, value: str | None) -> str | None:
        topics = _blank_is_none(value)
        if topics is None:
            return None
        if topics.lower() != "category":
            raise ValueError('must be "category" (one forum topic per category) or empty')
        return "category"

    @field_validator("tipbot_moderator_language")
    @classmethod
    def _check_moderator_language(cls, value: str) -> str:
        if value not in ("uk", "ru", "en"):
            raise ValueError("must be uk, ru or en")
        return value

    @field_validator("tipbot_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        name = value.strip()
        # Only names of the IANA database: ZoneInfo alone would also open other files.
        if name not in available_timezones():
            raise ValueError("must be an IANA time zone name such as Europe/Kyiv or UTC")
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name such as Europe/Kyiv or UTC") from None
        return name

    @field_validator("tipbot_log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    def token(self) -> str:
        """The bot token; running the bot without one is a configuration error."""
        if self.telegram_bot_token is None:
            raise ConfigError("TELEGRAM_BOT_TOKEN is required (create a bot with @BotFather)")
        return self.telegram_bot_token.get_secret_value()

    @property
    def download_limit_bytes(self) -> int:
        """The largest file the Bot API server lets the bot download."""
        return LOCAL_DOWNLOAD_LIMIT if self.telegram_local_mode else CLOUD_DOWNLOAD_LIMIT

    @property
    def org_label(self) -> str:
        """The organisation's name for records that outlive the bot (bundles' Source-Organization,
        anchors): TIPBOT_ORG_NAME, or plainly "not configured"."""
        return self.tipbot_org_name or "not configured"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _describe(error: Any) -> str:
    """One human sentence for one pydantic error, naming the environment variable."""
    loc = error.get("loc") or ("?",)
    name = str(loc[0]).upper()
    if error.get("type") == "missing":
        return f"{name} is required"
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    return f"{name}: {message}{_given(name, error.get('input'))}"


# Variables whose value is never repeated in an error: a secret, or a URL with a password.
_SECRET_VARIABLES = frozenset({"TELEGRAM_BOT_TOKEN", "TIPBOT_SECRET_KEY", "DATABASE_URL"})


def _given(name: str, value: Any) -> str:
    """The value given, for the error message, unless it is secret or not a simple one."""
    if isinstance(value, (str, int, float)) and name not in _SECRET_VARIABLES:
        return f" (got {value!r})"
    return ""


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, raising :class:`ConfigError` with one line on any problem.

    ``overrides`` (field names) take precedence over the environment; tests use them.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("; ".join(_describe(e) for e in exc.errors())) from None
