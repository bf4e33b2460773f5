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
    text = markup
    while visible_len(text) > limit:
        head, rest = _cut(text, limit, prefer_breaks=True)
        pieces.append(_close(head.text, head.open_tags))
        text = _reopened(head.open_tags, rest)
    if plain(text).strip():
        pieces.append(text)
    return pieces


def safe(markup: str, limit: int = TEXT) -> str:
    """A fallback form of a refused text: no markup at all, shortened to ``limit``
    (escaped, so that it is still valid for the HTML parse mode)."""
    shown = shorten_plain(plain(markup), limit)
    return html.escape(shown, quote=False) if shown.strip() else html.escape(ELLIPSIS)


# ---------------------------------------------------------------------------- internals


def _is_tag(token: str) -> bool:
    """Whether a token of ``_TOKEN`` is a tag: the only other one starting "<" is a lone "<"."""
    return token.startswith("<") and len(token) > 1


def _units(char: str) -> int:
    """UTF-16 code units of one code point: two outside the Basic Multilingual Plane."""
    return 2 if ord(char) > 0xFFFF else 1


def _take_plain(text: str, budget: int) -> str:
    """The longest prefix of ``text`` of at most ``budget`` UTF-16 units (whole code
    points only: a Python character is a code point, so a pair is never halved)."""
    used = 0
    for index, char in enumerate(text):
        used += _units(char)
        if used > budget:
            return text[:index]
    return text


def _is_entity(part: str) -> bool:
    """A token that is an entity, or a lone "&" or "<" (which the text shows as it is)."""
    return part.startswith("&") or part == "<"


def _taken(token: str, room: int) -> str:
    """What of a token that is not a tag fits in ``room`` visible units: a run of text up to
    the limit, an entity whole or not at all."""
    if not _is_entity(token):
        return _take_plain(token, room)
    return token if utf16_len(html.unescape(token)) <= room else ""


@dataclass(slots=True)
class _Head:
    text: str
    open_tags: list[str]  # the opening tags still open at the cut, outermost first


# The last line break and the last space seen: (position after it, visible units up to it).
_Breaks = dict[str, tuple[int, int]]


def _note_breaks(breaks: _Breaks, taken: str, start: int, used: int) -> None:
    """Record the breaks in ``taken`` (found at ``start``, after ``used`` visible units).
    An entity has none: its characters are never a space or a newline."""
    at = used
    for index, char in enumerate(taken):
        at += _units(char)
        if char in "\n ":
            breaks[char] = (start + index + 1, at)


def _scan(markup: str, budget: int) -> tuple[int | None, _Breaks]:
    """Where ``markup`` goes past ``budget`` visible units (None if it never does), and the
    last breaks before that."""
    used = 0
    breaks: _Breaks = {}
    for found in _TOKEN.finditer(markup):
        token = found.group()
        if _is_tag(token):
            continue
        taken = _taken(token, budget - used)
        _note_breaks(breaks, taken, found.start(), used)
        if len(taken) < len(token):
            return found.start() + len(taken), breaks
        used += utf16_len(html.unescape(token))  # text without "&" is its own unescape
    return None, breaks


def _last_break(breaks: _Breaks, budget: int, cut: int) -> int:
    """After the last line (or else word) break in the second half of the budget, if any."""
    for char in "\n ":
        position, at = breaks.get(char, (cut, -1))
        if at >= budget // 2:
            return position
    return cut


def _cut(markup: str, budget: int, *, prefer_breaks: bool) -> tuple[_Head, str]:
    """Split ``markup`` after at most ``budget`` visible units: (head, the rest). With
    ``prefer_breaks``, at the last line (or else word) break in the second half of the
    budget, if there is one."""
    cut, breaks = _scan(markup, budget)
    if cut is None:
        cut = len(markup)
    elif prefer_breaks:
        cut = _last_break(breaks, budget, cut)
    head = markup[:cut]
    return _Head(head.rstrip(" ") if prefer_breaks else head, _open_tags(head)), markup[cut:]


def _reopened(open_tags: list[str], rest: str) -> str:
    """The start of the next piece: the tags open at the cut opened again, or, with none
    open, the rest from its next word."""
    if open_tags:
        return "".join(open_tags) + rest
    return rest.lstrip(" \n")


def _open_tags(markup: str) -> list[str]:
    """The opening tags of ``markup`` left open at its end, outermost first."""
    stack: list[str] = []
    for tag in filter(_is_tag, _TOKEN.findall(markup)):
        if tag.startswith("</"):
            if _closes(tag, stack):
                stack.pop()
        elif not tag.endswith("/>"):
            stack.append(tag)
    return stack


def _closes(tag: str, stack: list[str]) -> bool:
    """Whether closing ``tag`` closes the innermost open one (a stray one is ignored)."""
    return bool(stack) and _name(stack[-1]) == _name(tag)


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
