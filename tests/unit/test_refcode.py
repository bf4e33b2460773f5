"""Reference codes: readable aloud, no look-alikes, typed back in any reasonable form."""

import re

from bot.refcode import ALPHABET, new_reference, normalise_reference


def test_codes_use_only_unambiguous_characters() -> None:
    for ch in "0O1IL":
        assert ch not in ALPHABET
    codes = {new_reference() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert re.fullmatch(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", code)


def test_typed_references_are_normalised() -> None:
    code = new_reference()
    assert normalise_reference(code.lower()) == code
    assert normalise_reference(code.replace("-", " ")) == code
    assert normalise_reference(code.replace("-", "")) == code
    assert normalise_reference("too short") is None
    assert normalise_reference("AAAA-AAA0") is None
