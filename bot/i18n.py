"""Message catalogs (Project Fluent ``.ftl`` files) for Ukrainian, Russian and English.

Every user-facing string lives in ``bot/locales/<lang>.ftl``. Messages are Telegram HTML:
string arguments are escaped here, so a catalog can use ``<b>`` while nothing a reporter
typed can inject markup. Operators can add or override messages with ``TIPBOT_LOCALES_DIR``
(files named ``uk.ftl``, ``ru.ftl``, ``en.ftl``).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel.dates import format_date
from fluent.runtime import FluentBundle, FluentResource

from db.models import DatePrecision

if TYPE_CHECKING:
    from fluent.runtime.resolver import Pattern

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("uk", "ru", "en")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"uk": "Українська", "ru": "Русский", "en": "English"}

# Telegram language codes that most likely prefer one of ours.
_LANGUAGE_GUESS = {"uk": "uk", "ru": "ru", "be": "ru", "kk": "ru", "en": "en"}


def pick_language(telegram_code: str | None) -> str:
    """Our language for a Telegram ``language_code`` such as ``"uk"`` or ``"en-GB"``."""
    if not telegram_code:
        return DEFAULT_LANGUAGE
    return _LANGUAGE_GUESS.get(telegram_code.split("-")[0].lower(), DEFAULT_LANGUAGE)


class Html(str):
    """A string that is already safe Telegram HTML and must not be escaped again."""

    __slots__ = ()


def escape(text: str) -> Html:
    return Html(html.escape(text, quote=False))


# How a date of each precision is written (Babel's patterns); any other is a day.
_DATE_PATTERNS: dict[str, str] = {DatePrecision.MONTH: "LLLL yyyy"}
_TAG = re.compile(r"<[^>]+>")
# Longer arguments are substituted after formatting (Fluent's limit is 2,500 characters).
_LONG_ARGUMENT = 2000


def plain(text: str) -> str:
    """Catalog HTML as plain text (for button toasts, which Telegram does not parse)."""
    return html.unescape(_TAG.sub("", text))


def _prepared(value: Any) -> Any:
    """An argument as Fluent gets it: strings escaped unless already HTML, yes/no for bools."""
    if isinstance(value, Html):
        return str(value)
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _prepare(args: dict[str, Any]) -> dict[str, Any]:
    return {key: _prepared(value) for key, value in args.items()}


def _set_aside_long(prepared: dict[str, Any]) -> dict[str, str]:
    """Replace the string values too long for Fluent by short tokens; return what each
    token stands for."""
    long_values: dict[str, str] = {}
    for name, value in prepared.items():
        if isinstance(value, str) and len(value) > _LONG_ARGUMENT:
            token = f"\x00{len(long_values)}\x00"
            long_values[token] = value
            prepared[name] = token
    return long_values


def _put_back(text: str, long_values: dict[str, str]) -> str:
    for token, value in long_values.items():
        text = text.replace(token, value)
    return text


def _catalog_text(lang: str) -> str:
    return files("bot").joinpath("locales", f"{lang}.ftl").read_text(encoding="utf-8")


class Catalog:
    """All languages' bundles; :meth:`t` formats one message."""

    def __init__(self, sources: Mapping[str, Iterable[str]]) -> None:
        self._bundles: dict[str, FluentBundle] = {}
        for lang in LANGUAGES:
            bundle = FluentBundle([lang], use_isolating=False)
            for text in sources.get(lang, ()):
                bundle.add_resource(FluentResource(text), allow_overrides=True)
            self._bundles[lang] = bundle

    @classmethod
    def load(cls, extra_dir: Path | None = None) -> Catalog:
        sources: dict[str, list[str]] = {lang: [_catalog_text(lang)] for lang in LANGUAGES}
        if extra_dir is not None:
            for lang in LANGUAGES:
                path = extra_dir / f"{lang}.ftl"
                if path.is_file():
                    sources[lang].append(path.read_text(encoding="utf-8"))
        return cls(sources)

    def has(self, lang: str, key: str) -> bool:
        bundle = self._bundles.get(lang)
        return bundle is not None and bundle.has_message(key)

    def t(self, lang: str, key: str, **args: Any) -> Html:
        """The message ``key`` in ``lang`` (falling back to English), as safe HTML."""
        key, _, attribute = key.partition(".")
        for candidate in (lang, DEFAULT_LANGUAGE):
            pattern = self._pattern(candidate, key, attribute)
            if pattern is not None:
                return Html(self._format(candidate, key, pattern, args))
        log.error("message %s is missing in every catalog", key)
        return Html(html.escape(key))

    def _pattern(self, lang: str, key: str, attribute: str) -> Pattern | None:
        """The message's value, or its attribute if one is named; None if there is none."""
        if not self.has(lang, key):
            return None
        message = self._bundles[lang].get_message(key)
        return message.attributes.get(attribute) if attribute else message.value

    def _format(self, lang: str, key: str, pattern: Pattern, args: dict[str, Any]) -> str:
        prepared = _prepare(args)
        # Fluent refuses a placeable over 2,500 characters (a reporter's long answer):
        # such values go in after formatting, in place of a short token.
        long_values = _set_aside_long(prepared)
        text, errors = self._bundles[lang].format_pattern(pattern, prepared)
        if errors:
            log.warning("message %s in %s: %d formatting problem(s)", key, lang, len(errors))
        return _put_back(str(text), long_values)

    def format_date(self, lang: str, value: date, precision: str) -> str:
        """A date as people write it: "24 лютого 2022" for a day, "лютий 2022" for a month."""
        return format_date(value, _DATE_PATTERNS.get(precision, "d MMMM yyyy"), locale=lang)
