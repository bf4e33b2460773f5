"""Public reference codes for tips: short, easy to read aloud, no look-alike characters.

``K7QM-4XHD``: eight characters from an alphabet without 0/O, 1/I/L (and U/V, which are
easily confused in handwriting), about 39 bits, so guessing someone else's code is hopeless
and collisions are rare (the database's unique index catches the rest).
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
_LENGTH = 8
_NORMALISE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_COMPACT = re.compile(rf"[{ALPHABET}]{{{_LENGTH}}}")


def new_reference() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_reference(text: str) -> str | None:
    """A reference typed by a person ("k7qm 4xhd", "K7QM4XHD") in canonical form, or None."""
    compact = re.sub(r"[\s\-_.]", "", text.strip().upper()).translate(_NORMALISE)
    if not _COMPACT.fullmatch(compact):
        return None
    return f"{compact[:4]}-{compact[4:]}"
