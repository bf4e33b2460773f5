"""Text from users made safe: for storage, and for showing to moderators.

Two different promises:

* :func:`clean` runs where text enters (a description, a typed place, an answer, a
  moderator's question or note). It drops control characters but newline and tab (NUL
  makes PostgreSQL refuse the row; the others only hide things) and lone surrogates
  (which cannot be encoded for either database). Nothing else of the testimony changes.
* :func:`neutralise` runs where moderators read such text. Bidirectional overrides and
  isolates can make words read in a different order than they were written (an address
  or a name reversed), and zero-width characters hide differences between two texts that
  look alike. Overrides become a visible ``�`` (one character for one, so lengths
  measured before never grow); zero-width characters are removed, but for the joiner
  inside emoji sequences (👨‍👩‍👧), which changes nothing a moderator decides on.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls but \t and \n, DEL, and surrogates (unpaired after JSON decoding).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI: they reorder what follows.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Zero width space, non-joiner, joiner, LRM, RLM, word joiner, BOM / zero width no-break.
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060\ufeff]")
_JOINER = "\u200d"
SHOWN_FOR_BIDI = "\ufffd"


def clean(text: str) -> str:
    """``text`` without control characters (but ``\\n`` and ``\\t``) and lone surrogates;
    a carriage return of a CRLF pair goes, so lines stay lines."""
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_optional(text: str | None) -> str | None:
    return None if text is None else clean(text)


def _zero_width(match: re.Match[str]) -> str:
    """A zero-width character goes, but for a joiner inside an emoji sequence."""
    if match.group() == _JOINER and _joins_emoji(match.string, match.start()):
        return _JOINER
    return ""


def _joins_emoji(text: str, at: int) -> bool:
    """Between two pictographs (or a variation selector and one): part of an emoji."""
    return 0 < at < len(text) - 1 and _pictographic(text[at - 1]) and _pictographic(text[at + 1])


def _pictographic(char: str) -> bool:
    return (
        char == "\ufe0f"
        or unicodedata.category(char) == "So"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
    )


def neutralise(text: str) -> str:
    """``text`` as a moderator should see it: no reordering, nothing invisible."""
    if not has_hidden(text):
        return text
    return _ZERO_WIDTH.sub(_zero_width, _BIDI.sub(SHOWN_FOR_BIDI, text))


def has_hidden(text: str) -> bool:
    """Whether :func:`neutralise` would change ``text``."""
    return bool(_BIDI.search(text) or _ZERO_WIDTH.search(text))
