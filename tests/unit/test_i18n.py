"""The message catalogs: complete in every language, same placeholders, valid Telegram HTML,
and every key the code asks for exists."""

import re
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest
from fluent.syntax import FluentParser, ast, visitor

from bot.i18n import LANGUAGES, Catalog, Html, pick_language
from bot.intake import STEPS
from bot.taxonomy import CATEGORY_CODES, PARTY_CODES

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_TAGS = {"b", "i", "code", "a"}


class _Variables(visitor.Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_VariableReference(self, node: ast.VariableReference) -> None:
        self.names.add(node.id.name)
        self.generic_visit(node)


def parse(lang: str) -> dict[str, set[str]]:
    text = files("bot").joinpath("locales", f"{lang}.ftl").read_text(encoding="utf-8")
    resource = FluentParser().parse(text)
    junk = [entry for entry in resource.body if isinstance(entry, ast.Junk)]
    assert not junk, f"{lang}.ftl has syntax errors: {[j.content[:80] for j in junk]}"
    messages: dict[str, set[str]] = {}
    for entry in resource.body:
        if isinstance(entry, ast.Message):
            found = _Variables()
            found.visit(entry)
            messages[entry.id.name] = found.names
    return messages


CATALOGS = {lang: parse(lang) for lang in LANGUAGES}


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_same_keys_in_every_language(lang: str) -> None:
    english, other = set(CATALOGS["en"]), set(CATALOGS[lang])
    assert not english - other, f"missing in {lang}: {sorted(english - other)}"
    assert not other - english, f"only in {lang}: {sorted(other - english)}"


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_same_placeholders_in_every_language(lang: str) -> None:
    for key, names in CATALOGS["en"].items():
        assert CATALOGS[lang].get(key) == names, f"{lang}:{key} placeholders differ"


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


SAMPLE = {
    "count": 3, "total": 5, "voices": 2, "chars": 120, "max": 30, "limit": 20, "length": 4100,
    "number": 2, "step": 2,
}  # fmt: skip


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("count", [0, 1, 2, 5, 21, 22, 25])
def test_every_message_formats_to_valid_telegram_html(lang: str, count: int) -> None:
    catalog = Catalog.load()
    for key, names in CATALOGS[lang].items():
        args = {name: SAMPLE.get(name, "<x & y>") for name in names}
        for name in ("count", "voices", "chars"):
            if name in args:
                args[name] = count
        text = catalog.t(lang, key, **args)
        assert "{" not in text, f"{lang}:{key} left a placeholder"
        assert "}" not in text, f"{lang}:{key} left a placeholder"
        assert "<x & y>" not in text, f"{lang}:{key} did not escape an argument"
        checker = _TagChecker()
        checker.feed(text)
        assert not checker.problems, f"{lang}:{key}: {checker.problems}"
        assert not checker.stack, f"{lang}:{key}: unclosed {checker.stack}"
        assert len(text) <= 4096, f"{lang}:{key} is longer than a Telegram message"


def _keys_used_in_code() -> set[str]:
    """Literal keys passed to the catalog anywhere: ``t(lang, "key")``, ``_t(services,
    "key")``, ``state.t("key")``."""
    pattern = re.compile(r'\b_?t\(\s*[\w.]+,\s*"([a-z0-9_-]+)"|\bstate\.t\(\s*"([a-z0-9_-]+)"')
    keys: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in pattern.finditer(path.read_text(encoding="utf-8")):
                keys.add(match.group(1) or match.group(2))
    return keys


def _dynamic_keys() -> set[str]:
    keys = {f"category-{c}" for c in CATEGORY_CODES}
    keys |= {f"party-{p}" for p in (*PARTY_CODES, "unknown", "other")}
    keys |= {f"step-{s}-title" for s in STEPS}
    keys |= {f"use-buttons-{s}" for s in ("category", "contact", "review")}
    keys |= {f"review-edit-{s}" for s in STEPS if s != "review"}
    keys |= {f"field-{f}" for f in ("category", "when", "where", "who", "contact")}
    keys |= {f"date-error-{r}" for r in ("format", "invalid", "future", "too_early")}
    kinds = ("photo", "video", "document", "voice", "audio", "video_note", "animation")
    keys |= {f"media-kind-{k}" for k in kinds} | {f"kind-{k}" for k in kinds}
    keys |= {f"kind-{k}" for k in ("sticker", "contact", "poll", "dice", "game", "story", "other")}
    keys |= {f"status-{s}" for s in ("draft", "submitted", "withdrawn", "in-review")}
    keys |= {
        f"cmd-{c}"
        for c in (
            "start",
            "report",
            "myreports",
            "language",
            "privacy",
            "cancel",
            "help",
            "deletemydata",
        )
    }
    return keys


def test_every_key_the_code_uses_exists() -> None:
    used = _keys_used_in_code() | _dynamic_keys()
    assert len(used) > 100
    missing = sorted(key for key in used if key not in CATALOGS["en"])
    assert not missing, f"keys used but not in the catalogs: {missing}"


def _custody_actions() -> set[str]:
    """Every action the code writes to the custody log (shown in a tip's history)."""
    found: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            found |= set(re.findall(r'\baction="([a-z_]+)",', source))
            found |= set(re.findall(r'_record\(\s*session, tip, moderator, "([a-z_]+)"', source))
            found |= set(re.findall(r'TIP_[A-Z]+, "([a-z_]+)"', source))  # verdicts
    argparse_actions = {"version", "store_true", "store_false", "append", "count"}
    return (found - argparse_actions) | {"urgent_off", "information_added"}


def test_every_custody_action_has_a_history_line() -> None:
    actions = _custody_actions()
    assert {"taken", "verified", "evidence_viewed", "file_received"} <= actions
    for lang in LANGUAGES:
        missing = sorted(a for a in actions if f"mod-action-{a}" not in CATALOGS[lang])
        assert not missing, f"{lang}: no history line for {missing}"


def test_arguments_are_escaped_but_marked_html_is_not() -> None:
    catalog = Catalog.load()
    assert "&lt;script&gt;" in catalog.t("en", "where-matches", typed="<script>")
    assert "<b>x</b>" in catalog.t("en", "saved-line", field="F", value=Html("<b>x</b>"))


def test_long_arguments_are_kept_whole() -> None:
    """Fluent alone refuses placeables over 2,500 characters (a reporter's long answer)."""
    catalog = Catalog.load()
    answer = "<b>" + "x" * 3990
    text = catalog.t("en", "mod-answer", reference="K7QM-4XHD", text=answer)
    assert text.endswith("&lt;b&gt;" + "x" * 3990)
    assert "K7QM-4XHD" in text


def test_missing_keys_fall_back_and_never_crash() -> None:
    catalog = Catalog({"en": ["hello = Hello"], "uk": [], "ru": []})
    assert catalog.t("uk", "hello") == "Hello"
    assert catalog.t("uk", "nope") == "nope"


def test_operators_can_override_messages(tmp_path: Path) -> None:
    (tmp_path / "en.ftl").write_text("menu-text = Choose, please:\n", encoding="utf-8")
    assert Catalog.load(tmp_path).t("en", "menu-text") == "Choose, please:"
    assert Catalog.load().t("en", "menu-text") != "Choose, please:"


@pytest.mark.parametrize(
    ("code", "lang"),
    [("uk", "uk"), ("ru-RU", "ru"), ("be", "ru"), ("en-GB", "en"), ("pl", "en"), (None, "en")],
)
def test_language_is_guessed_from_telegram(code: str | None, lang: str) -> None:
    assert pick_language(code) == lang
