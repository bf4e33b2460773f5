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
from typing import Any

from babel.dates import format_date
from fluent.runtime import FluentBundle, FluentResource

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


_TAG = re.compile(r"<[^>]+>")
# Longer arguments are substituted after formatting (Fluent's limit is 2,500 characters).
_LONG_ARGUMENT = 2000


def plain(text: str) -> str:
    """Catalog HTML as plain text (for button toasts, which Telegram does not parse)."""
    return html.unescape(_TAG.sub("", text))


def _prepare(args: dict[str, Any]) -> dict[str, Any]:
    prepared: dict[str, Any] = {}
    for key, value in args.items():
        if isinstance(value, Html):
            prepared[key] = str(value)
        elif isinstance(value, str):
            prepared[key] = html.escape(value, quote=False)
        elif isinstance(value, bool):
            prepared[key] = "yes" if value else "no"
        else:
            prepared[key] = value
    return prepared


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
            bundle = self._bundles.get(candidate)
            if bundle is None or not bundle.has_message(key):
                continue
            message = bundle.get_message(key)
            pattern = message.attributes.get(attribute) if attribute else message.value
            if pattern is None:
                continue
            prepared = _prepare(args)
            # Fluent refuses a placeable over 2,500 characters (a reporter's long answer):
            # such values go in after formatting, in place of a short token.
            long_values: dict[str, str] = {}
            for name, value in prepared.items():
                if isinstance(value, str) and len(value) > _LONG_ARGUMENT:
                    token = f"\x00{len(long_values)}\x00"
                    long_values[token] = value
                    prepared[name] = token
            text, errors = bundle.format_pattern(pattern, prepared)
            if errors:
                log.warning(
                    "message %s in %s: %d formatting problem(s)", key, candidate, len(errors)
                )
            result = str(text)
            for token, value in long_values.items():
                result = result.replace(token, value)
            return Html(result)
        log.error("message %s is missing in every catalog", key)
        return Html(html.escape(key))

    def format_date(self, lang: str, value: date, precision: str) -> str:
        """A date as people write it: "24 лютого 2022" for a day, "лютий 2022" for a month."""
        if precision == "month":
            return format_date(value, "LLLL yyyy", locale=lang)
        return format_date(value, "d MMMM yyyy", locale=lang)
