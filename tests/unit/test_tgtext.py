"""Measuring, shortening and splitting HTML text the way Telegram counts it (UTF-16 units
of the visible text), at each of Telegram's limits, with emoji."""

from __future__ import annotations

import re

import pytest

from bot import tgtext

EMOJI = "😀"  # two UTF-16 units
TAG = re.compile(r"<(/?)([a-z-]+)[^>]*>")


def balanced(markup: str) -> bool:
    stack: list[str] = []
    for closing, name in TAG.findall(markup):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def whole(markup: str) -> bool:
    """No cut tag or entity, no lone surrogate."""
    if re.search(r"<[^>]*$", markup) or re.search(r"&[#A-Za-z0-9]*$", markup):
        return False
    return all(not 0xD800 <= ord(char) <= 0xDFFF for char in markup)


def test_measures_visible_utf16_units() -> None:
    assert tgtext.utf16_len(EMOJI * 3) == 6
    assert tgtext.visible_len("<b>a &amp; b</b>") == 5
    assert tgtext.visible_len(f'<a href="https://x.org/?a=1&amp;b=2">{EMOJI}</a>') == 2
    assert tgtext.visible_len("ї" * 10) == 10, "Cyrillic is one unit a letter"
    assert tgtext.plain("<i>x&lt;y</i>") == "x<y"


@pytest.mark.parametrize("limit", [tgtext.TEXT, tgtext.CAPTION, tgtext.TOAST])
def test_shortening_to_each_limit_with_emoji(limit: int) -> None:
    text = "<b>" + EMOJI * limit + "</b> &amp; more"
    cut = tgtext.shorten(text, limit)
    assert tgtext.visible_len(cut) <= limit
    assert tgtext.visible_len(cut) >= limit - 2
    assert cut.startswith("<b>")
    assert cut.endswith("…</b>")
    assert balanced(cut)
    assert whole(cut)
    exact = EMOJI * (limit // 2)
    assert tgtext.shorten(exact, limit) == exact, "a text at the limit stays whole"
    assert tgtext.shorten_plain(exact + "x", limit).endswith("…")
    assert tgtext.utf16_len(tgtext.shorten_plain(exact + "x", limit)) <= limit


def test_shortening_never_cuts_an_entity_or_a_pair() -> None:
    for text in ("a" * 9 + "&amp;&amp;", "a" * 9 + EMOJI * 3, "a" * 9 + "&#128512;x"):
        cut = tgtext.shorten(text, 10)
        assert tgtext.visible_len(cut) <= 10
        assert whole(cut), cut


@pytest.mark.parametrize("limit", [tgtext.TEXT, tgtext.CAPTION])
def test_splitting_keeps_every_unit_and_balances_tags(limit: int) -> None:
    words = " ".join(f"{EMOJI}word{index}&amp;" for index in range(limit // 2))
    text = f"<b>Title</b>\n<i>{words}</i>\n" + EMOJI * (limit + 7)
    parts = tgtext.split(text, limit)
    assert len(parts) >= 3
    for part in parts:
        assert tgtext.visible_len(part) <= limit
        assert balanced(part), part[:80]
        assert whole(part)

    # Nothing lost but the blanks at the cuts.
    def squeezed(value: str) -> str:
        return value.replace(" ", "").replace("\n", "")

    shown = "".join(tgtext.plain(part) for part in parts)
    assert squeezed(shown) == squeezed(tgtext.plain(text))


def test_splitting_prefers_line_breaks() -> None:
    text = "first line\n" + "x" * 5 + " " + "y" * 3
    assert tgtext.split(text, 14) == ["first line\n", "xxxxx yyy"]


def test_safe_form_has_no_markup_and_fits() -> None:
    safe = tgtext.safe("<b>" + EMOJI * 3000 + "</b> &lt;ok&gt;", tgtext.TEXT)
    assert "<b>" not in safe
    assert tgtext.visible_len(safe) <= tgtext.TEXT
    assert tgtext.safe("<b>a &amp; b</b>") == "a &amp; b"
