"""Telegram's text limits, measured the way Telegram measures them.

Telegram counts a text's length in UTF-16 code units of what is shown, after the HTML is
parsed: tags count nothing, ``&amp;`` counts one, and an emoji outside the Basic
Multilingual Plane counts two. A text within its character limit can therefore be refused
(a permanent 400) when it is emoji-heavy. This module measures our HTML (the bot's parse
mode) that way, and shortens or splits it to a limit without ever cutting inside a tag, an
entity or a surrogate pair, keeping the tags balanced in every piece.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

TEXT = 4096  # a message's text
CAPTION = 1024  # a media message's caption
TOAST = 200  # answerCallbackQuery's text
ELLIPSIS = "…"

# A tag, an entity, or a run of ordinary text (a lone "&" or "<" is kept as text).
_TOKEN = re.compile(r"<[^<>]*>|&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|[^<&]+|[<&]")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")


def utf16_len(text: str) -> int:
    """Length of plain ``text`` in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def plain(markup: str) -> str:
    """What an HTML text shows: tags dropped, entities decoded."""
    return "".join(html.unescape(token) for token in _TOKEN.findall(markup) if not _is_tag(token))


def visible_len(markup: str) -> int:
    """Length of an HTML text as Telegram counts it (UTF-16 units of the shown text)."""
    return utf16_len(plain(markup))


def fits(markup: str, limit: int = TEXT) -> bool:
    return visible_len(markup) <= limit


def shorten_plain(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """Plain ``text`` cut to at most ``limit`` UTF-16 units (with ``ellipsis`` when cut),
    never between the halves of a surrogate pair."""
    if utf16_len(text) <= limit:
        return text
    budget = max(0, limit - utf16_len(ellipsis))
    return _take_plain(text, budget).rstrip() + ellipsis


def shorten(markup: str, limit: int = TEXT, ellipsis: str = ELLIPSIS) -> str:
    """HTML ``markup`` cut to at most ``limit`` visible UTF-16 units, ending in
    ``ellipsis`` when cut; tags stay balanced and no tag or entity is cut."""
    if visible_len(markup) <= limit:
        return markup
    budget = max(0, limit - utf16_len(ellipsis))
    head, _rest = _cut(markup, budget, prefer_breaks=False)
    return _close(head.text, head.open_tags, suffix=html.escape(ellipsis, quote=False))


def split(markup: str, limit: int = TEXT) -> list[str]:
    """HTML ``markup`` in pieces of at most ``limit`` visible UTF-16 units each, cut at a
    line or word break where one is near; a tag open at a cut is closed at the end of one
    piece and opened again at the start of the next."""
    if limit < 2:  # below one emoji, no piece could hold anything
        raise ValueError(f"limit {limit} is too small to split at")
    pieces: list[str] = []
    rest = markup
    reopen: list[str] = []
    while True:
        text = "".join(reopen) + rest
        if visible_len(text) <= limit:
            if plain(text).strip():
                pieces.append(text)
            return pieces
        head, rest = _cut(text, limit, prefer_breaks=True)
        pieces.append(_close(head.text, head.open_tags))
        reopen = head.open_tags
        rest = rest.lstrip(" \n") if not reopen else rest


def safe(markup: str, limit: int = TEXT) -> str:
    """A fallback form of a refused text: no markup at all, shortened to ``limit``
    (escaped, so that it is still valid for the HTML parse mode)."""
    shown = shorten_plain(plain(markup), limit)
    return html.escape(shown, quote=False) if shown.strip() else html.escape(ELLIPSIS)


# ---------------------------------------------------------------------------- internals


def _is_tag(token: str) -> bool:
    return token.startswith("<") and token.endswith(">") and len(token) > 1


def _take_plain(text: str, budget: int) -> str:
    """The longest prefix of ``text`` of at most ``budget`` UTF-16 units (whole code
    points only: a Python character is a code point, so a pair is never halved)."""
    used = 0
    for index, char in enumerate(text):
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > budget:
            return text[:index]
        used += size
    return text


@dataclass(slots=True)
class _Head:
    text: str
    open_tags: list[str]  # the opening tags still open at the cut, outermost first


def _cut(markup: str, budget: int, *, prefer_breaks: bool) -> tuple[_Head, str]:
    """Split ``markup`` after at most ``budget`` visible units: (head, the rest). With
    ``prefer_breaks``, at the last line (or else word) break in the second half of the
    budget, if there is one."""
    cut = None
    used = 0
    lines: list[tuple[int, int]] = []  # (position after a break, visible units before it)
    words: list[tuple[int, int]] = []
    for found in _TOKEN.finditer(markup):
        token = found.group()
        if _is_tag(token):
            continue
        if token.startswith("&") or token in ("<", "&"):
            size = utf16_len(html.unescape(token))
            if used + size > budget:
                cut = found.start()  # an entity is never cut
                break
            used += size
            continue
        taken = _take_plain(token, budget - used)
        at = used
        for index, char in enumerate(taken):
            at += 2 if ord(char) > 0xFFFF else 1
            if char in "\n ":
                (lines if char == "\n" else words).append((found.start() + index + 1, at))
        if len(taken) < len(token):
            cut = found.start() + len(taken)
            break
        used += utf16_len(token)
    if cut is None:
        cut = len(markup)
    elif prefer_breaks:
        for breaks in (lines, words):
            usable = [position for position, at in breaks if at >= budget // 2]
            if usable:
                cut = usable[-1]
                break
    head = markup[:cut]
    return _Head(head.rstrip(" ") if prefer_breaks else head, _open_tags(head)), markup[cut:]


def _open_tags(markup: str) -> list[str]:
    """The opening tags of ``markup`` left open at its end, outermost first."""
    stack: list[str] = []
    for token in _TOKEN.findall(markup):
        if not _is_tag(token):
            continue
        if token.startswith("</"):
            if stack and _name(stack[-1]) == _name(token):
                stack.pop()
        elif not token.endswith("/>"):
            stack.append(token)
    return stack


def _name(tag: str) -> str:
    found = _TAG_NAME.match(tag)
    return found.group(1).lower() if found else ""


def _close(text: str, open_tags: list[str], suffix: str = "") -> str:
    """``text`` with ``suffix`` and the closing tags of ``open_tags`` (innermost first);
    a tag opened but left empty at the very end is dropped rather than closed."""
    text += suffix
    for tag in reversed(open_tags):
        if text.endswith(tag):
            text = text[: -len(tag)]
        else:
            text += f"</{_name(tag)}>"
    return text
