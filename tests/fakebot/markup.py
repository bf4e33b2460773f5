"""Telegram text formatting: ``parse_mode`` parsing and entity rendering.

The parsers follow TDLib's rules (which the Bot API server uses) closely enough to reject
what Telegram rejects, with Telegram's error messages:

* ``HTML`` — only Telegram's tags, properly nested and closed; the named entities
  ``&lt; &gt; &amp; &quot;`` and numeric ones (``&#39;``, ``&#x1F600;``) are decoded, any other
  ``&`` is kept literally; every ``<`` starts a tag, so an unescaped ``1 < 2`` is an error.
* ``MarkdownV2`` — every reserved character ``_*[]()~`>#+-=|{}.!`` outside an entity must
  be escaped with ``\\``; entities must be closed.
* ``Markdown`` (legacy) — ``*bold*``, ``_italic_``, ```code```, ``[text](url)``.

Results are the visible text plus Bot API ``MessageEntity`` dicts whose ``offset``/``length``
are counted in UTF-16 code units, as in the real API.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EntityParseError",
    "ParsedText",
    "entities_to_html",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "parse_text",
    "utf16_len",
]


class EntityParseError(ValueError):
    """Raised when formatted text can't be parsed; ``str(err)`` is Telegram's reason."""


@dataclass
class ParsedText:
    """Visible text and its entities (UTF-16 offsets)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (how Telegram measures entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def _sort_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


# --------------------------------------------------------------------------------------------
# HTML

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_html_entity(src: str, i: int) -> tuple[str, int] | None:
    """Decode the entity starting at ``src[i] == '&'``; return (char, next index) or None."""
    end = src.find(";", i + 1, i + 12)
    if end == -1:
        return None
    body = src[i + 1 : end]
    if body in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[body], end + 1
    if body.startswith("#") and len(body) > 1:
        digits = body[1:]
        try:
            code = int(digits[1:], 16) if digits[0] in "xX" else int(digits, 10)
        except ValueError:
            return None
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code), end + 1
    return None


@dataclass
class _OpenTag:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the output
    begin: int  # index in the source (for error messages)


def _html_entity_for(tag: _OpenTag, length: int) -> dict[str, Any] | None:
    simple = {
        "b": "bold",
        "strong": "bold",
        "i": "italic",
        "em": "italic",
        "u": "underline",
        "ins": "underline",
        "s": "strikethrough",
        "strike": "strikethrough",
        "del": "strikethrough",
        "tg-spoiler": "spoiler",
        "span": "spoiler",
        "code": "code",
    }
    base: dict[str, Any] = {"offset": tag.offset, "length": length}
    if tag.tag in simple:
        return {"type": simple[tag.tag], **base}
    if tag.tag == "pre":
        entity = {"type": "pre", **base}
        if tag.argument:
            entity["language"] = tag.argument
        return entity
    if tag.tag == "blockquote":
        return {"type": "expandable_blockquote" if tag.argument else "blockquote", **base}
    if tag.tag == "a":
        if not tag.argument:
            return None
        return {"type": "text_link", **base, "url": tag.argument}
    if tag.tag == "tg-emoji":
        if not tag.argument:
            return None
        return {"type": "custom_emoji", **base, "custom_emoji_id": tag.argument}
    return None  # pragma: no cover - all supported tags are handled above


def parse_html(src: str) -> ParsedText:
    """Parse Telegram-flavoured HTML.

    Raises:
        EntityParseError: with TDLib's message, e.g. ``Unsupported start tag "div" at byte
            offset 0`` or ``Can't find end tag corresponding to start tag "b"``.
    """
    out: list[str] = []
    u16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[_OpenTag] = []
    i, n = 0, len(src)

    def fail(message: str) -> EntityParseError:
        return EntityParseError(message)

    while i < n:
        c = src[i]
        if c == "&":
            decoded = _decode_html_entity(src, i)
            if decoded is not None:
                out.append(decoded[0])
                u16 += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if c != "<":
            out.append(c)
            u16 += utf16_len(c)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and src[i] == "/":
            # an end tag
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {_byte_offset(src, begin)}")
            i += 1
            name_start = i
            while i < n and not src[i].isspace() and src[i] != ">":
                i += 1
            end_name = src[name_start:i].lower()
            while i < n and src[i].isspace():
                i += 1
            if i >= n or src[i] != ">":
                raise fail(f"Unclosed end tag at byte offset {_byte_offset(src, begin)}")
            i += 1
            top = stack.pop()
            if end_name and end_name != top.tag:
                raise fail(
                    f"Unmatched end tag at byte offset {_byte_offset(src, begin)}, "
                    f'expected "</{top.tag}>", found "</{end_name}>"'
                )
            length = u16 - top.offset
            if length <= 0:
                continue
            if (
                top.tag == "code"
                and top.argument
                and stack
                and stack[-1].tag == "pre"
                and not stack[-1].argument
                and stack[-1].offset == top.offset
            ):
                # <pre><code class="language-x">...</code></pre> is one pre entity
                stack[-1].argument = top.argument
                continue
            entity = _html_entity_for(top, length)
            if entity is not None:
                entities.append(entity)
            continue

        # a start tag
        name_start = i
        while i < n and not src[i].isspace() and src[i] != ">":
            i += 1
        if i >= n:
            raise fail(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
        tag = src[name_start:i].lower()
        if tag not in _HTML_TAGS:
            raise fail(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}')
        argument = ""
        while True:
            while i < n and src[i].isspace():
                i += 1
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
            if src[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and not src[i].isspace() and src[i] not in "=>":
                i += 1
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
            attr = src[attr_start:i].lower()
            if not attr:
                raise fail(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{_byte_offset(src, begin)}"
                )
            while i < n and src[i].isspace():
                i += 1
            if i >= n or src[i] != "=":
                if tag == "blockquote" and attr == "expandable":
                    argument = "1"
                    continue
                raise fail(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {_byte_offset(src, begin)}"
                )
            i += 1
            while i < n and src[i].isspace():
                i += 1
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
            if src[i] in "'\"":
                quote = src[i]
                i += 1
                value_chars: list[str] = []
                while i < n and src[i] != quote:
                    if src[i] == "&":
                        decoded = _decode_html_entity(src, i)
                        if decoded is not None:
                            value_chars.append(decoded[0])
                            i = decoded[1]
                            continue
                    value_chars.append(src[i])
                    i += 1
                if i < n:
                    i += 1
                value = "".join(value_chars)
            else:
                token_start = i
                while i < n and (src[i].isalnum() or src[i] in ".-"):
                    i += 1
                value = src[token_start:i].lower()
                if i < n and not src[i].isspace() and src[i] != ">":
                    raise fail(
                        f"Unexpected end of name token at byte offset "
                        f"{_byte_offset(src, token_start)}"
                    )
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
            if tag == "a" and attr == "href":
                argument = value
            elif tag == "code" and attr == "class" and value.startswith("language-"):
                argument = value.removeprefix("language-")
            elif tag == "span" and attr == "class" and value.startswith("tg-"):
                argument = value.removeprefix("tg-")
            elif tag == "tg-emoji" and attr == "emoji-id":
                argument = value
            elif tag == "blockquote" and attr == "expandable":
                argument = "1"
        if tag == "span" and argument != "spoiler":
            raise fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(src, begin)}'
            )
        stack.append(_OpenTag(tag, argument, u16, begin))

    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return ParsedText("".join(out), _sort_entities(entities))


# --------------------------------------------------------------------------------------------
# MarkdownV2

_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


@dataclass
class _OpenMd:
    type: str
    offset: int
    byte_offset: int
    argument: str = ""


def _reserved(c: str) -> EntityParseError:
    return EntityParseError(
        f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
    )


def parse_markdown_v2(src: str) -> ParsedText:
    """Parse MarkdownV2 text.

    Raises:
        EntityParseError: e.g. ``Character '.' is reserved and must be escaped with the
            preceding '\\'`` or ``Can't find end of Bold entity at byte offset 0``.
    """
    out: list[str] = []
    u16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[_OpenMd] = []
    quote_start: int | None = None
    quote_expandable = False
    last_newline = 0
    i, n = 0, len(src)
    line_start = True

    def emit(text: str) -> None:
        nonlocal u16
        out.append(text)
        u16 += utf16_len(text)

    def close_quote(end: int) -> None:
        nonlocal quote_start, quote_expandable
        if quote_start is not None and end > quote_start:
            kind = "expandable_blockquote" if quote_expandable else "blockquote"
            entities.append({"type": kind, "offset": quote_start, "length": end - quote_start})
        quote_start = None
        quote_expandable = False

    while i < n:
        c = src[i]
        in_code = bool(stack) and stack[-1].type in ("code", "pre")
        if line_start and not in_code:
            line_start = False
            if src.startswith("**>", i) and quote_start is None:
                quote_start, quote_expandable = u16, True
                i += 3
                continue
            if c == ">":
                if quote_start is None:
                    quote_start = u16
                i += 1
                continue
            if quote_start is not None:
                close_quote(last_newline)
        if c == "\n":
            last_newline = u16
            line_start = True
            emit(c)
            i += 1
            continue
        if c == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            emit(src[i + 1])
            i += 2
            continue
        if in_code:
            top = stack[-1]
            if top.type == "pre" and src.startswith("```", i):
                stack.pop()
                if u16 > top.offset:
                    entity: dict[str, Any] = {
                        "type": "pre",
                        "offset": top.offset,
                        "length": u16 - top.offset,
                    }
                    if top.argument:
                        entity["language"] = top.argument
                    entities.append(entity)
                i += 3
                continue
            if top.type == "code" and c == "`":
                stack.pop()
                if u16 > top.offset:
                    entities.append(
                        {"type": "code", "offset": top.offset, "length": u16 - top.offset}
                    )
                i += 1
                continue
            emit(c)
            i += 1
            continue
        if (
            quote_expandable
            and quote_start is not None
            and src.startswith("||", i)
            and (i + 2 == n or src[i + 2] == "\n")
        ):
            close_quote(u16)
            i += 2
            continue
        if c not in _MDV2_RESERVED:
            emit(c)
            i += 1
            continue

        top_type = stack[-1].type if stack else None
        closes = (
            (top_type == "bold" and c == "*")
            or (top_type == "italic" and c == "_" and not src.startswith("__", i))
            or (top_type == "underline" and src.startswith("__", i))
            or (top_type == "strikethrough" and c == "~")
            or (top_type == "spoiler" and src.startswith("||", i))
            or (top_type in ("text_link", "custom_emoji") and c == "]")
        )
        # "___" closing italic inside underline and similar ambiguities: prefer italic end
        if not closes and top_type == "italic" and src.startswith("__", i):
            closes = True
        if closes:
            top = stack.pop()
            width = 2 if top.type in ("underline", "spoiler") else 1
            i += width
            entity = {"type": top.type, "offset": top.offset, "length": u16 - top.offset}
            if top.type in ("text_link", "custom_emoji"):
                url = ""
                if i < n and src[i] == "(":
                    j = i + 1
                    url_chars: list[str] = []
                    while j < n and src[j] != ")":
                        if src[j] == "\\" and j + 1 < n:
                            j += 1
                        url_chars.append(src[j])
                        j += 1
                    if j >= n:
                        raise EntityParseError(
                            f"Can't find end of a url at byte offset {_byte_offset(src, i)}"
                        )
                    url = "".join(url_chars)
                    i = j + 1
                if top.type == "text_link":
                    if url:
                        entity["url"] = url
                    else:
                        continue
                else:
                    emoji_id = url.removeprefix("tg://emoji?id=")
                    if not emoji_id:
                        continue
                    entity["custom_emoji_id"] = emoji_id
            if entity["length"] > 0:
                entities.append(entity)
            continue

        begin_bytes = _byte_offset(src, i)
        if c == "_":
            if src.startswith("__", i):
                stack.append(_OpenMd("underline", u16, begin_bytes))
                i += 2
            else:
                stack.append(_OpenMd("italic", u16, begin_bytes))
                i += 1
        elif c == "*":
            stack.append(_OpenMd("bold", u16, begin_bytes))
            i += 1
        elif c == "~":
            stack.append(_OpenMd("strikethrough", u16, begin_bytes))
            i += 1
        elif c == "|":
            if not src.startswith("||", i):
                raise _reserved(c)
            stack.append(_OpenMd("spoiler", u16, begin_bytes))
            i += 2
        elif c == "[":
            stack.append(_OpenMd("text_link", u16, begin_bytes))
            i += 1
        elif c == "!" and src.startswith("![", i):
            stack.append(_OpenMd("custom_emoji", u16, begin_bytes))
            i += 2
        elif c == "`":
            if src.startswith("```", i):
                i += 3
                language = ""
                newline = src.find("\n", i)
                if newline != -1:
                    candidate = src[i:newline]
                    if candidate and not any(ch.isspace() for ch in candidate):
                        language = candidate
                        i = newline + 1
                    elif not candidate:
                        i = newline + 1
                stack.append(_OpenMd("pre", u16, begin_bytes, language))
            else:
                stack.append(_OpenMd("code", u16, begin_bytes))
                i += 1
        else:
            raise _reserved(c)

    if stack:
        top = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_TYPE_NAMES[top.type]} entity at byte offset "
            f"{top.byte_offset}"
        )
    close_quote(u16)
    return ParsedText("".join(out), _sort_entities(entities))


# --------------------------------------------------------------------------------------------
# Legacy Markdown


def parse_markdown(src: str) -> ParsedText:
    """Parse legacy ``Markdown`` (``*bold*``, ``_italic_``, ```code```, ``[text](url)``).

    Raises:
        EntityParseError: ``Can't find end of the entity starting at byte offset N``.
    """
    out: list[str] = []
    u16 = 0
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)

    def emit(text: str) -> None:
        nonlocal u16
        out.append(text)
        u16 += utf16_len(text)

    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            emit(src[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            emit(c)
            i += 1
            continue
        begin = i
        unclosed = EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(src, begin)}"
        )
        if c == "[":
            close = src.find("]", i + 1)
            if close == -1 or not src.startswith("(", close + 1):
                raise unclosed
            url_end = src.find(")", close + 2)
            if url_end == -1:
                raise unclosed
            start = u16
            emit(src[i + 1 : close])
            url = src[close + 2 : url_end]
            if u16 > start and url:
                entities.append(
                    {"type": "text_link", "offset": start, "length": u16 - start, "url": url}
                )
            i = url_end + 1
            continue
        if src.startswith("```", i):
            close = src.find("```", i + 3)
            if close == -1:
                raise unclosed
            body = src[i + 3 : close]
            language = ""
            if "\n" in body:
                first, rest = body.split("\n", 1)
                if first and not any(ch.isspace() for ch in first):
                    language, body = first, rest
            start = u16
            emit(body)
            if u16 > start:
                entity: dict[str, Any] = {"type": "pre", "offset": start, "length": u16 - start}
                if language:
                    entity["language"] = language
                entities.append(entity)
            i = close + 3
            continue
        close = src.find(c, i + 1)
        if close == -1:
            raise unclosed
        start = u16
        emit(src[i + 1 : close])
        kind = {"*": "bold", "_": "italic", "`": "code"}[c]
        if u16 > start:
            entities.append({"type": kind, "offset": start, "length": u16 - start})
        i = close + 1
    return ParsedText("".join(out), _sort_entities(entities))


def parse_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> ParsedText:
    """Parse ``text`` the way the Bot API does for ``parse_mode`` / explicit ``entities``.

    Explicit ``entities`` win over ``parse_mode`` (as in the real API).  ``parse_mode`` is
    case-insensitive; an empty one means plain text.

    Raises:
        EntityParseError: the text doesn't parse.
        LookupError: unknown ``parse_mode``.
    """
    if entities:
        return ParsedText(text, [dict(e) for e in entities])
    mode = (parse_mode or "").strip().lower()
    if not mode:
        return ParsedText(text)
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise LookupError(parse_mode)


# --------------------------------------------------------------------------------------------
# Rendering


def _utf16_index_map(text: str) -> list[int]:
    """Map every UTF-16 offset (0..len) to a str index."""
    mapping: list[int] = []
    for index, ch in enumerate(text):
        mapping.append(index)
        if ord(ch) > 0xFFFF:
            mapping.append(index)
    mapping.append(len(text))
    return mapping


def _open_tag(entity: dict[str, Any]) -> tuple[str, str]:
    kind = entity.get("type")
    simple = {
        "bold": "b",
        "italic": "i",
        "underline": "u",
        "strikethrough": "s",
        "spoiler": "tg-spoiler",
        "code": "code",
        "blockquote": "blockquote",
    }
    if kind in simple:
        tag = simple[str(kind)]
        return f"<{tag}>", f"</{tag}>"
    if kind == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{html.escape(language)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind == "text_link":
        return f'<a href="{html.escape(str(entity.get("url", "")))}">', "</a>"
    if kind == "text_mention":
        user_id = entity.get("user", {}).get("id")
        return f'<a href="tg://user?id={user_id}">', "</a>"
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{html.escape(str(entity.get("custom_emoji_id")))}">', (
            "</tg-emoji>"
        )
    return "", ""


def entities_to_html(text: str, entities: list[dict[str, Any]] | None) -> str:
    """Render ``text`` + ``entities`` as Telegram HTML (the inverse of :func:`parse_html`).

    Entities that have no HTML form (``url``, ``mention``, ``bot_command``...) are rendered
    as plain text.  Overlapping (not nested) entities are rendered best-effort.
    """
    if not entities:
        return html.escape(text, quote=False)
    index = _utf16_index_map(text)
    limit = len(index) - 1
    opens: dict[int, list[tuple[int, str]]] = {}
    closes: dict[int, list[tuple[int, str]]] = {}
    for order, entity in enumerate(_sort_entities(list(entities))):
        start_tag, end_tag = _open_tag(entity)
        if not start_tag:
            continue
        start = index[min(int(entity["offset"]), limit)]
        end = index[min(int(entity["offset"]) + int(entity["length"]), limit)]
        opens.setdefault(start, []).append((order, start_tag))
        closes.setdefault(end, []).append((order, end_tag))
    parts: list[str] = []
    for position in range(len(text) + 1):
        for _order, tag in sorted(closes.get(position, []), key=lambda item: -item[0]):
            parts.append(tag)
        for _order, tag in sorted(opens.get(position, []), key=lambda item: item[0]):
            parts.append(tag)
        if position < len(text):
            parts.append(html.escape(text[position], quote=False))
    return "".join(parts)
