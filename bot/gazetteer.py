"""Offline gazetteer of Ukrainian settlements: place-name search and nearest-place lookup.

The data file ``bot/data/gazetteer-ua.json.gz`` is built by ``scripts/build_gazetteer.py``
from the official codifier of administrative-territorial units (KATOTTG, Ministry for
Development of Communities and Territories of Ukraine) and GeoNames (CC BY 4.0): every
settlement of Ukraine with its official Ukrainian name and Latin transliteration, raion,
hromada and KATOTTG code, a GeoNames point (or, marked approximate, its hromada's centre),
and former, foreign and Russian spellings and city districts as search aliases. The search
index is precomputed in the file, so loading is mostly JSON parsing.

Only the standard library is needed at runtime. :meth:`Gazetteer.load` reads the packaged
file; :meth:`Gazetteer.search` and :meth:`Gazetteer.nearest` then answer in about a
millisecond. A loaded :class:`Gazetteer` is immutable (its caches only ever gain identical
values) and safe to share between coroutines and threads. See docs/gazetteer.md.
"""

from __future__ import annotations

import bisect
import gzip
import importlib.resources
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DATA_FORMAT",
    "OBLAST_CODES",
    "Area",
    "Gazetteer",
    "GazetteerError",
    "NearestPlace",
    "Place",
    "build_index",
    "fold",
    "haversine_km",
    "normalise",
    "oblast_name",
]

#: Value of the ``format`` field of the data file this module understands.
DATA_FORMAT: Final = "tipbot-gazetteer/2"

_PACKAGE: Final = "bot"
_RESOURCE: Final = "data/gazetteer-ua.json.gz"

# ---------------------------------------------------------------------------------------------
# Oblasts
# ---------------------------------------------------------------------------------------------

#: GeoNames first-level administrative codes for Ukraine: 24 oblasts, the Autonomous Republic
#: of Crimea ("11") and the cities with special status Kyiv ("12") and Sevastopol ("20").
OBLAST_CODES: Final[tuple[str, ...]] = tuple(f"{n:02d}" for n in range(1, 28))

KYIV_CITY: Final = "12"
KYIV_OBLAST: Final = "13"
CRIMEA: Final = "11"
SEVASTOPOL_CITY: Final = "20"

# code -> lang -> (full form, short form). Official Ukrainian names (Kirovohrad and
# Dnipropetrovsk oblasts keep their names in the Constitution despite the city renamings).
_OBLAST_NAMES: Final[Mapping[str, Mapping[str, tuple[str, str]]]] = {
    "01": {
        "uk": ("Черкаська область", "Черкаська обл."),
        "ru": ("Черкасская область", "Черкасская обл."),
        "en": ("Cherkasy Oblast", "Cherkasy Obl."),
    },
    "02": {
        "uk": ("Чернігівська область", "Чернігівська обл."),
        "ru": ("Черниговская область", "Черниговская обл."),
        "en": ("Chernihiv Oblast", "Chernihiv Obl."),
    },
    "03": {
        "uk": ("Чернівецька область", "Чернівецька обл."),
        "ru": ("Черновицкая область", "Черновицкая обл."),
        "en": ("Chernivtsi Oblast", "Chernivtsi Obl."),
    },
    "04": {
        "uk": ("Дніпропетровська область", "Дніпропетровська обл."),
        "ru": ("Днепропетровская область", "Днепропетровская обл."),
        "en": ("Dnipropetrovsk Oblast", "Dnipropetrovsk Obl."),
    },
    "05": {
        "uk": ("Донецька область", "Донецька обл."),
        "ru": ("Донецкая область", "Донецкая обл."),
        "en": ("Donetsk Oblast", "Donetsk Obl."),
    },
    "06": {
        "uk": ("Івано-Франківська область", "Івано-Франківська обл."),
        "ru": ("Ивано-Франковская область", "Ивано-Франковская обл."),
        "en": ("Ivano-Frankivsk Oblast", "Ivano-Frankivsk Obl."),
    },
    "07": {
        "uk": ("Харківська область", "Харківська обл."),
        "ru": ("Харьковская область", "Харьковская обл."),
        "en": ("Kharkiv Oblast", "Kharkiv Obl."),
    },
    "08": {
        "uk": ("Херсонська область", "Херсонська обл."),
        "ru": ("Херсонская область", "Херсонская обл."),
        "en": ("Kherson Oblast", "Kherson Obl."),
    },
    "09": {
        "uk": ("Хмельницька область", "Хмельницька обл."),
        "ru": ("Хмельницкая область", "Хмельницкая обл."),
        "en": ("Khmelnytskyi Oblast", "Khmelnytskyi Obl."),
    },
    "10": {
        "uk": ("Кіровоградська область", "Кіровоградська обл."),
        "ru": ("Кировоградская область", "Кировоградская обл."),
        "en": ("Kirovohrad Oblast", "Kirovohrad Obl."),
    },
    "11": {
        "uk": ("Автономна Республіка Крим", "АР Крим"),
        "ru": ("Автономная Республика Крым", "АР Крым"),
        "en": ("Autonomous Republic of Crimea", "AR Crimea"),
    },
    "12": {
        "uk": ("місто Київ", "м. Київ"),
        "ru": ("город Киев", "г. Киев"),
        "en": ("Kyiv City", "Kyiv city"),
    },
    "13": {
        "uk": ("Київська область", "Київська обл."),
        "ru": ("Киевская область", "Киевская обл."),
        "en": ("Kyiv Oblast", "Kyiv Obl."),
    },
    "14": {
        "uk": ("Луганська область", "Луганська обл."),
        "ru": ("Луганская область", "Луганская обл."),
        "en": ("Luhansk Oblast", "Luhansk Obl."),
    },
    "15": {
        "uk": ("Львівська область", "Львівська обл."),
        "ru": ("Львовская область", "Львовская обл."),
        "en": ("Lviv Oblast", "Lviv Obl."),
    },
    "16": {
        "uk": ("Миколаївська область", "Миколаївська обл."),
        "ru": ("Николаевская область", "Николаевская обл."),
        "en": ("Mykolaiv Oblast", "Mykolaiv Obl."),
    },
    "17": {
        "uk": ("Одеська область", "Одеська обл."),
        "ru": ("Одесская область", "Одесская обл."),
        "en": ("Odesa Oblast", "Odesa Obl."),
    },
    "18": {
        "uk": ("Полтавська область", "Полтавська обл."),
        "ru": ("Полтавская область", "Полтавская обл."),
        "en": ("Poltava Oblast", "Poltava Obl."),
    },
    "19": {
        "uk": ("Рівненська область", "Рівненська обл."),
        "ru": ("Ровенская область", "Ровенская обл."),
        "en": ("Rivne Oblast", "Rivne Obl."),
    },
    "20": {
        "uk": ("місто Севастополь", "м. Севастополь"),
        "ru": ("город Севастополь", "г. Севастополь"),
        "en": ("Sevastopol City", "Sevastopol city"),
    },
    "21": {
        "uk": ("Сумська область", "Сумська обл."),
        "ru": ("Сумская область", "Сумская обл."),
        "en": ("Sumy Oblast", "Sumy Obl."),
    },
    "22": {
        "uk": ("Тернопільська область", "Тернопільська обл."),
        "ru": ("Тернопольская область", "Тернопольская обл."),
        "en": ("Ternopil Oblast", "Ternopil Obl."),
    },
    "23": {
        "uk": ("Вінницька область", "Вінницька обл."),
        "ru": ("Винницкая область", "Винницкая обл."),
        "en": ("Vinnytsia Oblast", "Vinnytsia Obl."),
    },
    "24": {
        "uk": ("Волинська область", "Волинська обл."),
        "ru": ("Волынская область", "Волынская обл."),
        "en": ("Volyn Oblast", "Volyn Obl."),
    },
    "25": {
        "uk": ("Закарпатська область", "Закарпатська обл."),
        "ru": ("Закарпатская область", "Закарпатская обл."),
        "en": ("Zakarpattia Oblast", "Zakarpattia Obl."),
    },
    "26": {
        "uk": ("Запорізька область", "Запорізька обл."),
        "ru": ("Запорожская область", "Запорожская обл."),
        "en": ("Zaporizhzhia Oblast", "Zaporizhzhia Obl."),
    },
    "27": {
        "uk": ("Житомирська область", "Житомирська обл."),
        "ru": ("Житомирская область", "Житомирская обл."),
        "en": ("Zhytomyr Oblast", "Zhytomyr Obl."),
    },
}

# Extra words by which people name an oblast in a query: "strong" aliases (adjectives,
# historical-region names) never name a settlement; "weak" aliases are city names, which
# only count as an oblast when they follow the place ("Лукашівка, Чернігів").
_OBLAST_STRONG_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "01": ("Cherkaska", "Cherkasskaya", "Черкащина"),
    "02": ("Chernihivska", "Chernigovskaya", "Chernigov Oblast", "Чернігівщина"),
    "03": ("Chernivetska", "Chernovitskaya", "Chernovtsy Oblast", "Буковина", "Bukovina"),
    "04": ("Dnipropetrovska", "Dnepropetrovskaya", "Дніпропетровщина", "Днепропетровщина"),
    "05": ("Donetska", "Donetskaya", "Донеччина", "Донетчина"),
    "06": ("Ivano-Frankivska", "Ivano-Frankovskaya", "Прикарпаття", "Прикарпатье"),
    "07": ("Kharkivska", "Kharkovskaya", "Kharkov Oblast", "Харківщина", "Харьковщина"),
    "08": ("Khersonska", "Khersonskaya", "Херсонщина"),
    "09": ("Khmelnytska", "Khmelnitskaya", "Khmelnitsky Oblast", "Хмельниччина"),
    "10": (
        "Kirovohradska",
        "Kirovogradskaya",
        "Kirovograd Oblast",
        "Kropyvnytskyi Oblast",
        "Кропивницька область",
        "Кіровоградщина",
        "Кировоградщина",
    ),
    "11": (
        "Крим",
        "Крым",
        "Crimea",
        "Krym",
        "АРК",
        "Республіка Крим",
        "Республика Крым",
        "Republic of Crimea",
    ),
    "13": ("Kyivska", "Kiyevskaya", "Kievskaya", "Kiev Oblast", "Київщина", "Киевщина"),
    "14": ("Luhanska", "Luganskaya", "Lugansk Oblast", "Луганщина"),
    "15": ("Lvivska", "Lvovskaya", "Lvov Oblast", "Львівщина", "Львовщина"),
    "16": ("Mykolaivska", "Nikolayevskaya", "Nikolaev Oblast", "Миколаївщина", "Николаевщина"),
    "17": ("Odeska", "Odesskaya", "Odessa Oblast", "Одещина", "Одесчина"),
    "18": ("Poltavska", "Poltavskaya", "Полтавщина"),
    "19": ("Rivnenska", "Rovenskaya", "Rovno Oblast", "Рівненщина", "Ровенщина"),
    "21": ("Sumska", "Sumskaya", "Сумщина"),
    "22": ("Ternopilska", "Ternopolskaya", "Ternopol Oblast", "Тернопільщина", "Тернопольщина"),
    "23": ("Vinnytska", "Vinnitskaya", "Vinnitsa Oblast", "Вінниччина", "Винниччина"),
    "24": ("Volynska", "Volynskaya", "Волинь", "Волынь", "Volhynia", "Volyn"),
    "25": (
        "Zakarpatska",
        "Zakarpatskaya",
        "Закарпаття",
        "Закарпатье",
        "Transcarpathia",
        "Zakarpattia",
        "Zakarpatie",
    ),
    "26": ("Zaporizka", "Zaporozhskaya", "Zaporozhye Oblast", "Запоріжжя область"),
    "27": ("Zhytomyrska", "Zhitomirskaya", "Zhitomir Oblast", "Житомирщина"),
}
_OBLAST_WEAK_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "01": ("Черкаси", "Черкассы", "Cherkasy", "Cherkassy"),
    "02": ("Чернігів", "Чернигов", "Chernihiv", "Chernigov"),
    "03": ("Чернівці", "Черновцы", "Chernivtsi", "Chernovtsy"),
    "04": ("Дніпро", "Днепр", "Dnipro", "Dnepr", "Dnipropetrovsk", "Dnepropetrovsk"),
    "05": ("Донецьк", "Донецк", "Donetsk"),
    "06": ("Івано-Франківськ", "Ивано-Франковск", "Ivano-Frankivsk", "Ivano-Frankovsk"),
    "07": ("Харків", "Харьков", "Kharkiv", "Kharkov"),
    "08": ("Херсон", "Kherson"),
    "09": ("Хмельницький", "Хмельницкий", "Khmelnytskyi", "Khmelnytsky", "Khmelnitsky"),
    "10": ("Кропивницький", "Кропивницкий", "Kropyvnytskyi", "Кіровоград", "Кировоград"),
    "12": ("Київ", "Киев", "Kyiv", "Kiev"),
    "14": ("Луганськ", "Луганск", "Luhansk", "Lugansk"),
    "15": ("Львів", "Львов", "Lviv", "Lvov"),
    "16": ("Миколаїв", "Николаев", "Mykolaiv", "Nikolaev", "Nikolayev"),
    "17": ("Одеса", "Одесса", "Odesa", "Odessa"),
    "18": ("Полтава", "Poltava"),
    "19": ("Рівне", "Ровно", "Rivne", "Rovno"),
    "20": ("Севастополь", "Sevastopol"),
    "21": ("Суми", "Сумы", "Sumy"),
    "22": ("Тернопіль", "Тернополь", "Ternopil", "Ternopol"),
    "23": ("Вінниця", "Винница", "Vinnytsia", "Vinnitsa"),
    "24": ("Луцьк", "Луцк", "Lutsk"),
    "25": ("Ужгород", "Uzhhorod", "Uzhgorod"),
    "26": ("Запоріжжя", "Запорожье", "Zaporizhzhia", "Zaporozhye", "Zaporizhzhya"),
    "27": ("Житомир", "Zhytomyr", "Zhitomir"),
}

# A query naming one of these also accepts the other: Kyiv city lies inside Kyiv Oblast and
# Sevastopol in Crimea as far as a reporter is concerned.
_OBLAST_NEIGHBOURS: Final[Mapping[str, frozenset[str]]] = {
    KYIV_CITY: frozenset({KYIV_CITY, KYIV_OBLAST}),
    KYIV_OBLAST: frozenset({KYIV_CITY, KYIV_OBLAST}),
    CRIMEA: frozenset({CRIMEA, SEVASTOPOL_CITY}),
    SEVASTOPOL_CITY: frozenset({CRIMEA, SEVASTOPOL_CITY}),
}


def oblast_name(code: str, lang: str, *, short: bool = False) -> str:
    """Name of the oblast with GeoNames admin1 ``code`` in ``lang`` ("uk", "ru" or "en").

    ``short=True`` gives the abbreviated form used in labels ("Київська обл.", "АР Крим",
    "м. Київ"). An unknown ``lang`` falls back to English; an unknown ``code`` is returned
    unchanged.
    """
    names = _OBLAST_NAMES.get(code)
    if names is None:
        return code
    full, abbreviated = names.get(lang) or names["en"]
    return abbreviated if short else full


# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

_NORMALISE_TABLE: Final = str.maketrans(
    {
        "ё": "е",
        "ѐ": "е",
        "ѝ": "и",
        "'": None,
        "’": None,
        "ʼ": None,
        "`": None,
        "´": None,
        "‘": None,
        "′": None,
        "ʻ": None,
        '"': None,
        "”": None,
        "“": None,
        "«": None,
        "»": None,
        "\u0301": None,  # combining acute (stress mark)
        "\u0300": None,  # combining grave
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u200e": None,
        "\u200f": None,
        "_": " ",
    }
)
_NON_WORD: Final = re.compile(r"[^\w\n]+|_")
_CYRILLIC_LETTER: Final = re.compile(r"[\u0400-\u04ff]")
_LATIN_LETTER: Final = re.compile(r"[a-z]")
# Latin letters that look like Cyrillic ones, for queries typed with a mixed keyboard layout.
_HOMOGLYPHS: Final = str.maketrans("aceiopxykmthb", "асеіорхукмтнв")


def normalise(text: str) -> str:
    """Canonical search form of ``text``.

    Casefolds, maps ё to е, drops apostrophes, quotes and stress marks, turns hyphens, dots
    and all other punctuation into spaces and collapses whitespace. Latin look-alike letters
    inside a word that is otherwise Cyrillic ("Kиїв" typed with a Latin K) become Cyrillic.
    The result is idempotent: ``normalise(normalise(s)) == normalise(s)``.
    """
    return _normalise_many([text])[0]


def _normalise_many(texts: list[str]) -> list[str]:
    """:func:`normalise` for many strings at once (one pass of each C-level operation)."""
    joined = unicodedata.normalize("NFC", "\n".join(texts)).casefold()
    joined = _NON_WORD.sub(" ", joined.translate(_NORMALISE_TABLE))
    out = [" ".join(line.split()) for line in joined.split("\n")]
    if _LATIN_LETTER.search(joined) and _CYRILLIC_LETTER.search(joined):
        for i, line in enumerate(out):
            if _LATIN_LETTER.search(line) and _CYRILLIC_LETTER.search(line):
                out[i] = " ".join(
                    w.translate(_HOMOGLYPHS) if _CYRILLIC_LETTER.search(w) else w
                    for w in line.split()
                )
    return out


_FOLD_TABLE: Final = str.maketrans(
    {
        "і": "и",
        "ї": "и",
        "ы": "и",
        "й": "и",
        "є": "е",
        "э": "е",
        "ґ": "г",
        "ь": None,
        "ъ": None,
        "y": "i",
    }
)
_REPEATS: Final = re.compile(r"(.)\1+")


def fold(normalised: str) -> str:
    """Coarser key of an already :func:`normalise`-d string for fuzzy matching.

    Erases the usual Ukrainian/Russian spelling differences (і ї и ы й -> и, є э -> е,
    ґ -> г, no ь ъ), Latin y -> i, and collapses doubled letters, so that "Харкив", "Ирпинь",
    "Одесса" and "Запорижжя" meet "Харків", "Ірпінь", "Одеса" and "Запоріжжя".
    """
    return _fold_many([normalised])[0]


def _fold_many(keys: list[str]) -> list[str]:
    """:func:`fold` for many normalised strings at once."""
    return _REPEATS.sub(r"\1", "\n".join(keys).translate(_FOLD_TABLE)).split("\n")


# Settlement-type words stripped from the start or end of a query ("с. Лукашівка").
_TYPE_WORDS: Final = frozenset(
    normalise(word)
    for word in (
        "с",
        "c",
        "с-ще",
        "сел",
        "село",
        "селище",
        "сщ",
        "смт",
        "пгт",
        "м",
        "міс",
        "місто",
        "мiсто",
        "г",
        "гор",
        "город",
        "п",
        "пос",
        "поселок",
        "посёлок",
        "д",
        "дер",
        "деревня",
        "х",
        "хут",
        "хутір",
        "хутор",
        "ст",
        "станиця",
        "станица",
        "s",
        "m",
        "v",
        "vil",
        "selo",
        "selyshche",
        "smt",
        "misto",
        "village",
        "town",
        "city",
        "settlement",
        "urban",
    )
)
# Words that only say "this is an oblast / a raion / the country".
_OBLAST_WORDS: Final = frozenset(
    fold(normalise(word))
    for word in (
        "область",
        "обл",
        "області",
        "области",
        "oblast",
        "obl",
        "region",
        "reg",
        "oblasti",
    )
)
_RAION_WORDS: Final = frozenset(
    fold(normalise(word))
    for word in (
        "район",
        "рн",
        "районі",
        "районе",
        "громада",
        "raion",
        "rayon",
        "district",
        "hromada",
    )
)
_COUNTRY_WORDS: Final = frozenset(
    fold(normalise(word)) for word in ("Україна", "Украина", "Ukraine", "Ukraina", "UA")
)


def _alias_key(text: str) -> str:
    words = [w for w in fold(normalise(text)).split() if w not in _OBLAST_WORDS]
    return " ".join(words)


def _genitives(full: str) -> list[str]:
    """Genitive of an oblast name as in "с. Лукашівка Чернігівської області"."""
    words = full.split()
    if len(words) != 2:
        return []
    adjective, noun = words
    if noun == "область" and adjective.endswith("ька"):
        return [adjective[:-1] + "ої"]  # Чернігівська -> Чернігівської
    if noun == "область" and adjective.endswith("ая"):
        return [adjective[:-2] + "ой"]  # Черниговская -> Черниговской
    return []


def _build_aliases() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    strong: dict[str, set[str]] = {}
    weak: dict[str, set[str]] = {}
    for code, langs in _OBLAST_NAMES.items():
        for full, short in langs.values():
            for form in (full, short, *_genitives(full)):
                strong.setdefault(_alias_key(form), set()).add(code)
    for code, aliases in _OBLAST_STRONG_ALIASES.items():
        for alias in aliases:
            strong.setdefault(_alias_key(alias), set()).add(code)
    for code, aliases in _OBLAST_WEAK_ALIASES.items():
        for alias in aliases:
            weak.setdefault(_alias_key(alias), set()).add(code)
    strong.pop("", None)
    weak.pop("", None)

    def widen(table: dict[str, set[str]]) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for key, codes in table.items():
            wide: set[str] = set()
            for code in codes:
                wide |= _OBLAST_NEIGHBOURS.get(code, {code})
            out[key] = frozenset(wide)
        return out

    return widen(strong), widen(weak)


_STRONG_ALIASES, _WEAK_ALIASES = _build_aliases()


def _oblast_of(part: str, *, allow_weak: bool) -> frozenset[str] | None:
    """Oblast codes named by a normalised query fragment, or None if it names none.

    Accepts the names in any of the three languages, adjectives with or without
    "область"/"обл."/"oblast" and, when ``allow_weak``, the name of the oblast's centre.
    """
    raw_words = fold(part).split()
    words = [w for w in raw_words if w not in _OBLAST_WORDS]
    if not words:
        return None
    key = " ".join(words)
    codes = _STRONG_ALIASES.get(key)
    if codes is not None:
        return codes
    if allow_weak or len(words) < len(raw_words):
        return _WEAK_ALIASES.get(key)
    return None


def _is_noise(part: str) -> bool:
    """True for a fragment naming a raion, a hromada or the country ("Бучанський р-н")."""
    words = fold(part).split()
    if not words:
        return True
    if " ".join(words) in _COUNTRY_WORDS:
        return True
    if any(w in _RAION_WORDS for w in words):
        return True
    return any(a == "р" and b == "н" for a, b in itertools.pairwise(words))


def _strip_type_words(words: list[str]) -> list[str]:
    while len(words) > 1 and words[0] in _TYPE_WORDS:
        words = words[1:]
    while len(words) > 1 and words[-1] in _TYPE_WORDS:
        words = words[:-1]
    return words


# ---------------------------------------------------------------------------------------------
# Places
# ---------------------------------------------------------------------------------------------

#: KATOTTG settlement categories: місто (city), селище (settlement), село (village), and the
#: two cities with special status (Kyiv, Sevastopol).
CATEGORIES: Final[Mapping[str, str]] = {"M": "місто", "X": "селище", "C": "село", "K": "місто"}
# Among equally good matches: cities first, then settlements, then villages.
_CATEGORY_RANK: Final[Mapping[str, int]] = {"K": 0, "M": 1, "X": 2, "C": 3}
_LANGS: Final = ("uk", "ru", "en")
_HROMADA_WORD: Final[Mapping[str, str]] = {"uk": "громада", "ru": "громада", "en": "hromada"}
_RAION_WORD: Final[Mapping[str, str]] = {"uk": "р-н", "ru": "р-н", "en": "raion"}


@dataclass(frozen=True, slots=True)
class Area:
    """A raion or a hromada: its KATOTTG code, official name and transliteration."""

    code: str
    name_uk: str
    name_en: str

    def name(self, lang: str) -> str:
        """The official name for "uk" and "ru", the transliteration otherwise."""
        return self.name_uk if lang in ("uk", "ru") else self.name_en


@dataclass(frozen=True, slots=True)
class Place:
    """A settlement of the codifier (KATOTTG category M, X, C or K).

    ``id`` is the codifier's identifier of the object (the five digits that end its code,
    unique across the codifier): store it and look the place up again with
    :meth:`Gazetteer.get`. ``katottg`` is the full code, ``category`` M (місто), X (селище),
    C (село) or K (Kyiv, Sevastopol), ``name_uk`` the official name and ``name_en`` its
    official transliteration (KMU 2010). ``oblast`` is the GeoNames admin1 code (see
    :data:`OBLAST_CODES`); ``raion`` and ``hromada`` are None only for Kyiv and Sevastopol.

    ``lat``/``lon`` (WGS84) are GeoNames' point of the settlement (``geonames_id``); where
    GeoNames has no match, ``approximate`` is True and the point is the hromada's centre (or
    the mean of its located settlements, or of its raion's). ``population`` is GeoNames'
    figure (often pre-2022), 0 when unknown; it only orders search results.
    """

    id: int
    katottg: str
    category: str
    name_uk: str
    name_en: str
    oblast: str
    raion: Area | None
    hromada: Area | None
    lat: float
    lon: float
    approximate: bool
    population: int
    geonames_id: int | None
    #: How much the label says (0 name and oblast, 1 and hromada, 2 and raion); chosen when
    #: the file is built so that no two settlements share a label.
    detail: int = field(default=1, repr=False, compare=False)
    #: For namesakes within one hromada: (uk, ru, en) words that tell them apart
    #: ("місто", "город", "city" or "№ 2", "№ 2", "no. 2").
    hint: tuple[str, str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def geonameid(self) -> int:
        """Same as :attr:`id` (the name dates from GeoNames ids; old ones still resolve)."""
        return self.id

    @property
    def name_ru(self) -> str:
        """The name shown in Russian: the official (Ukrainian) one. Russian spellings are
        only search aliases, since the sources do not say which ones are right."""
        return self.name_uk

    def name(self, lang: str) -> str:
        """Display name: the official name for "uk" and "ru", the transliteration otherwise."""
        return self.name_uk if lang in ("uk", "ru") else self.name_en

    def label(self, lang: str) -> str:
        """A compact label that no other settlement shares, most telling part first.

        Name, oblast and (unless the place is its hromada's centre and the only one of its
        name in the oblast) hromada: "Ягідне, Чернігівська обл., Іванівська громада",
        "Ірпінь, Київська обл.", "Kharkivtsi, Poltava Obl., Pyriatynska hromada"; the
        raion too where hromada names repeat in an oblast; the category ("Липовець
        (місто)") or a number for namesakes in one hromada. Kyiv and Sevastopol are
        labelled by name alone. ``lang`` is "uk", "ru" (official names with Russian oblast
        names) or anything else for English."""
        key = lang if lang in ("uk", "ru") else "en"
        name = self.name(key)
        if self.category == "K":
            return name
        if self.hint is not None:
            name = f"{name} ({self.hint[_LANGS.index(key)]})"
        parts = [name, oblast_name(self.oblast, key, short=True)]
        if self.detail >= 1 and self.hromada is not None:
            parts.append(f"{self.hromada.name(key)} {_HROMADA_WORD[key]}")
        if self.detail >= 2 and self.raion is not None:
            parts.append(f"{self.raion.name(key)} {_RAION_WORD[key]}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class NearestPlace:
    """Result of :meth:`Gazetteer.nearest`: the settlement and the great-circle distance
    from the point to the nearest of its known points (its centre or a section of it)."""

    place: Place
    distance_km: float


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------

EARTH_RADIUS_KM: Final = 6371.0088
_KM_PER_DEGREE: Final = math.pi * EARTH_RADIUS_KM / 180.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two WGS84 points (degrees)."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# ---------------------------------------------------------------------------------------------
# Fuzzy matching
# ---------------------------------------------------------------------------------------------


def _edits1(word: str, alphabet: str) -> set[str]:
    """All strings one deletion, adjacent swap, substitution or insertion away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    out.update(a + c + b[1:] for a, b in splits if b for c in alphabet)
    out.update(a + c + b for a, b in splits for c in alphabet)
    out.discard(word)
    return out


def _max_typos(length: int) -> int:
    """Typos tolerated in a folded query of ``length`` characters."""
    if length < 4:
        return 0
    if length < 8:
        return 1
    return 2


_NEIGHBOURS: Final = 40  # sorted-order neighbours examined for two-typo matches


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (edits and adjacent swaps), capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    # Each edit adds or removes at most two letters to the letters the strings don't share:
    # a cheap bound that rejects most candidates before the quadratic part.
    if len(set(a).symmetric_difference(b)) > 2 * limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        best = i
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current.append(value)
            best = min(best, value)
        if best > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


# Alphabets of folded keys, for generating one-typo variants of a query.
_CYRILLIC_ALPHABET: Final = "абвгдежзиклмнопрстуфхцчшщюя "
_LATIN_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz "

# Match ranks, compared as tuples (group, typos, matched an alias rather than a name).
_EXACT: Final = 0  # the query is a display name (normalised) ...
_FOLDED: Final = 1  # ... or one up to Ukrainian/Russian spelling, or an alias
_PREFIX: Final = 2  # ... the start of a name or alias
_FUZZY: Final = 3  # ... a name or alias with typos

_Rank = tuple[int, int, int]

# A prefix shared by more keys than this ("Нов") is looked up among the larger places only.
_MAX_PREFIX_KEYS: Final = 400
_LARGE_PLACE: Final = 10_000  # population


# ---------------------------------------------------------------------------------------------
# Index
# ---------------------------------------------------------------------------------------------


def build_index(
    display: Sequence[Sequence[str]], aliases: Sequence[Iterable[str]]
) -> tuple[list[str], list[int | list[int]]]:
    """The search index over places: sorted folded keys and, per key, its postings.

    ``display[i]`` are the display names of place ``i`` and ``aliases[i]`` its other names
    (any form; they are normalised and folded here). A posting is ``i << 1`` for a display
    name and ``i << 1 | 1`` for an alias; a key with one posting has the integer, otherwise a
    list. ``scripts/build_gazetteer.py`` writes this into the data file, so the bot does not
    rebuild it at start-up.
    """
    if len(display) != len(aliases):
        raise ValueError("places and search_names differ in length")
    flat: list[str] = []
    owners: list[int] = []
    for idx, (names, extra) in enumerate(zip(display, aliases, strict=True)):
        own = list(names)
        flat.extend(own)
        owners.extend([idx << 1] * len(own))
        more = list(extra)
        flat.extend(more)
        owners.extend([idx << 1 | 1] * len(more))
    entries: dict[str, list[int]] = {}
    folded = _fold_many(_normalise_many(flat)) if flat else []
    for key, code in zip(folded, owners, strict=True):
        if not key:
            continue
        bucket = entries.setdefault(key, [])
        if bucket and bucket[-1] >> 1 == code >> 1:
            bucket[-1] = min(bucket[-1], code)  # a name that is also an alias stays a name
        else:
            bucket.append(code)
    keys = sorted(entries)
    return keys, [entries[k][0] if len(entries[k]) == 1 else entries[k] for k in keys]


def _posting_text(posting: int | list[int]) -> str:
    return str(posting) if isinstance(posting, int) else ",".join(map(str, posting))


# ---------------------------------------------------------------------------------------------
# Gazetteer
# ---------------------------------------------------------------------------------------------


class GazetteerError(ValueError):
    """The data file is missing required fields or has an unknown format."""


@dataclass(slots=True)
class _Columns:
    """The places as parallel columns, as the data file stores them."""

    id: list[int]
    num: list[int]  # digits 10-14 of the code (settlement number), -1 when in ``codes``
    codes: dict[int, str]  # full codes of places outside a hromada (Kyiv, Sevastopol ...)
    category: str  # one letter per place
    name_uk: list[str]
    name_en: list[str]
    oblast: str  # two characters per place
    hromada: list[int]  # index into the hromadas, -1 for none
    lat: list[float]
    lon: list[float]
    approx: str  # one digit per place, "0" for a GeoNames point
    population: list[int]
    geonameid: list[int]  # 0 for none
    label: str  # one digit per place: Place.detail
    hints: dict[int, tuple[str, str, str]]


@dataclass(slots=True)
class _Sections:
    """Extra points of settlements (city sections), sorted by latitude."""

    lat: list[float]
    lon: list[float]
    place: list[int]
    geonameid: list[int]


class Gazetteer:
    """In-memory index over the settlements of the data file; see :meth:`load`."""

    _cache: list[Place | None]

    def __init__(
        self,
        places: Sequence[Place],
        search_names: Sequence[Iterable[str]],
        meta: Mapping[str, Any] | None = None,
        *,
        sections: Sequence[tuple[int, float, float]] = (),
    ) -> None:
        """Index ``places``; ``search_names[i]`` are other names (aliases) of ``places[i]``.

        ``sections`` are extra points (place index, lat, lon) that resolve to their place in
        :meth:`nearest`. The data file takes a faster path (:meth:`from_json`).
        """
        places = list(places)
        keys, postings = build_index([(p.name_uk, p.name_en) for p in places], search_names)
        areas: dict[str, tuple[Area, Area | None]] = {}
        for p in places:
            if p.hromada is not None:
                areas.setdefault(p.hromada.code, (p.hromada, p.raion))
        hromadas = list(areas)
        columns = _Columns(
            id=[p.id for p in places],
            num=[-1] * len(places),
            codes={i: p.katottg for i, p in enumerate(places)},
            category="".join(p.category[:1] or "C" for p in places),
            name_uk=[p.name_uk for p in places],
            name_en=[p.name_en for p in places],
            oblast="".join(f"{p.oblast:>2}"[:2] for p in places),
            hromada=[hromadas.index(p.hromada.code) if p.hromada else -1 for p in places],
            lat=[p.lat for p in places],
            lon=[p.lon for p in places],
            approx="".join("1" if p.approximate else "0" for p in places),
            population=[p.population for p in places],
            geonameid=[p.geonames_id or 0 for p in places],
            label="".join(str(min(9, max(0, p.detail))) for p in places),
            hints={i: p.hint for i, p in enumerate(places) if p.hint is not None},
        )
        rows = sorted((lat, lon, idx) for idx, lat, lon in sections)
        self._setup(
            columns,
            [areas[c] for c in hromadas],
            _Sections([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], []),
            sorted(
                (i for i, p in enumerate(places) if not p.approximate),
                key=lambda i: places[i].lat,
            ),
            keys,
            [_posting_text(p) for p in postings],
            None,
            meta or {},
        )
        self._cache = list[Place | None](places)

    def _setup(
        self,
        columns: _Columns,
        hromadas: Sequence[tuple[Area, Area | None]],
        sections: _Sections,
        located: list[int],
        keys: list[str],
        postings: list[str],
        reversed_order: list[int] | None,
        meta: Mapping[str, Any],
    ) -> None:
        n = len(columns.id)
        for name in ("num", "name_uk", "name_en", "hromada", "lat", "lon", "population"):
            if len(getattr(columns, name)) != n:
                raise GazetteerError(f"gazetteer column {name!r} has the wrong length")
        if not (len(columns.category) == len(columns.approx) == len(columns.label) == n):
            raise GazetteerError("gazetteer columns differ in length")
        if len(columns.oblast) != 2 * n or len(columns.geonameid) != n:
            raise GazetteerError("gazetteer columns differ in length")
        if len(keys) != len(postings):
            raise GazetteerError("gazetteer index: keys and postings differ in length")
        self._columns = columns
        self._hromadas = hromadas
        self._sections = sections
        self._located = located
        self._cache = [None] * n
        #: Header of the data file (sources, licences, counts), without the data.
        self.meta: Mapping[str, Any] = dict(meta)
        self._by_id: dict[int, int] = dict(zip(columns.id, range(n), strict=True))
        if len(self._by_id) != n:
            raise GazetteerError("gazetteer: duplicate place ids")
        self._legacy: dict[int, int] | None = None
        self._keys = keys
        self._postings: dict[str, str] = dict(zip(keys, postings, strict=True))
        self._reversed = reversed_order
        self._display_norm: dict[int, tuple[str, str]] = {}
        self._areas: dict[str, frozenset[int]] | None = None
        self._large: list[tuple[str, int]] | None = None

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | None = None) -> Gazetteer:
        """Read a gazetteer file (gzip-compressed JSON).

        Without ``path`` the file packaged with the bot (``bot/data/gazetteer-ua.json.gz``) is
        used. Raises :class:`GazetteerError` for a file of another format and ``OSError`` if
        it cannot be read.
        """
        if path is None:
            raw = importlib.resources.files(_PACKAGE).joinpath(_RESOURCE).read_bytes()
        else:
            raw = Path(path).read_bytes()
        try:
            document = json.loads(gzip.decompress(raw))
        except (EOFError, ValueError, gzip.BadGzipFile) as exc:
            raise GazetteerError(f"unreadable gazetteer file: {exc}") from exc
        return cls.from_json(document)

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Gazetteer:
        """Build from the decoded JSON document written by ``scripts/build_gazetteer.py``."""
        if not isinstance(document, Mapping) or document.get("format") != DATA_FORMAT:
            found = document.get("format") if isinstance(document, Mapping) else None
            raise GazetteerError(f"unsupported gazetteer format: {found!r}")
        try:
            data = document["places"]
            index = document["index"]
            raions = [Area(str(r[0]), str(r[1]), str(r[2])) for r in document["raions"]]
            hromadas = [
                (Area(str(h[0]), str(h[1]), str(h[2])), raions[int(h[3])])
                for h in document["hromadas"]
            ]
            hints: dict[int, tuple[str, str, str]] = {}
            for key, (uk, ru, en) in data["hints"].items():
                hints[int(key)] = (str(uk), str(ru), str(en))
            columns = _Columns(
                id=data["id"],
                num=data["num"],
                codes={int(k): str(v) for k, v in data["codes"].items()},
                category=data["category"],
                name_uk=data["name_uk"].split("\n"),
                name_en=data["name_en"].split("\n"),
                oblast=data["oblast"],
                hromada=data["hromada"],
                lat=data["lat"],
                lon=data["lon"],
                approx=data["approx"],
                population=data["population"],
                geonameid=data["geonameid"],
                label=data["label"],
                hints=hints,
            )
            sections = document["sections"]
            gazetteer = cls.__new__(cls)
            gazetteer._setup(
                columns,
                hromadas,
                _Sections(
                    sections["lat"], sections["lon"], sections["place"], sections["geonameid"]
                ),
                document["nearest"],
                index["keys"].split("\n"),
                index["postings"].split("\n"),
                index.get("reversed"),
                {k: v for k, v in document.items() if k in _META_FIELDS},
            )
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise GazetteerError(f"gazetteer file lacks data: {exc!r}") from exc
        return gazetteer

    # -- places --------------------------------------------------------------------------------

    def _place(self, idx: int) -> Place:
        """The place at ``idx``, created on first use (so start-up stays fast)."""
        place = self._cache[idx]
        if place is None:
            c = self._columns
            h = c.hromada[idx]
            hromada, raion = self._hromadas[h] if h >= 0 else (None, None)
            code = c.codes.get(idx)
            if code is None and hromada is not None:
                code = f"{hromada.code[:9]}{c.num[idx]:05d}{c.id[idx]:05d}"
            place = Place(
                id=c.id[idx],
                katottg=code or "",
                category=c.category[idx],
                name_uk=c.name_uk[idx],
                name_en=c.name_en[idx],
                oblast=c.oblast[2 * idx : 2 * idx + 2],
                raion=raion,
                hromada=hromada,
                lat=c.lat[idx],
                lon=c.lon[idx],
                approximate=c.approx[idx] != "0",
                population=c.population[idx],
                geonames_id=c.geonameid[idx] or None,
                detail=int(c.label[idx]),
                hint=c.hints.get(idx),
            )
            self._cache[idx] = place
        return place

    def __len__(self) -> int:
        """Number of settlements."""
        return len(self._cache)

    def __iter__(self) -> Iterator[Place]:
        """All settlements, in codifier order (by KATOTTG code)."""
        return (self._place(i) for i in range(len(self._cache)))

    def get(self, place_id: int) -> Place | None:
        """The place with this :attr:`Place.id`, or None.

        Ids stored when the gazetteer came from GeoNames alone were GeoNames ids; they still
        resolve, to the settlement that GeoNames entry was joined to (or the city a GeoNames
        section lies in).
        """
        idx = self._by_id.get(place_id)
        if idx is None:
            legacy = self._legacy
            if legacy is None:
                legacy = {g: i for i, g in enumerate(self._columns.geonameid) if g}
                sections = self._sections
                for g, i in zip(sections.geonameid, sections.place, strict=False):
                    legacy.setdefault(g, i)
                self._legacy = legacy
            idx = legacy.get(place_id)
        return None if idx is None else self._place(idx)

    def by_code(self, katottg: str) -> Place | None:
        """The place with this KATOTTG code ("UA14020010010012345"), or None."""
        code = katottg.strip().upper()
        if len(code) != 19 or not code.startswith("UA") or not code[2:].isdigit():
            return None
        idx = self._by_id.get(int(code[-5:]))
        if idx is None:
            return None
        place = self._place(idx)
        return place if place.katottg == code else None

    # -- search --------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 5) -> list[Place]:
        """Up to ``limit`` distinct settlements matching a free-text place name, best first.

        The query is normalised (see :func:`normalise`); settlement-type words ("с.", "смт",
        "м.", "село", "город", "village" ...) are ignored, as are fragments naming the
        country. An oblast given after a comma or at the end/start of the query
        ("Лукашівка, Чернігівська обл.", "Lukashivka Chernihiv") restricts the results to that
        oblast (Kyiv city counts as Kyiv Oblast and Sevastopol as Crimea, and vice versa); a
        raion or hromada after a comma ("Миколаївка, Бахмутський р-н") restricts them to it
        unless no place there matches (people still name the raions abolished in 2020).

        Ranking: a display name as typed, then a name up to Ukrainian/Russian spelling
        differences ("Харкив", "Донецк") or an alias (former, foreign and Russian names,
        city districts), then names starting with the query (3+ letters), then - only when
        nothing matched so far - names within one or two typos; ties go to the larger
        population, then cities before villages. Empty, one-letter or unmatched queries
        give ``[]``.
        """
        if limit <= 0:
            return []
        parts = [p for p in (normalise(s) for s in re.split(r"[,;/\n]+", query)) if p]
        if not parts:
            return []
        best: list[tuple[_Rank, int]] = []
        for place_words, codes, areas in self._interpret(parts):
            name = " ".join(place_words)
            hits = self._lookup(name, codes, areas, limit) if areas is not None else []
            if not hits:
                hits = self._lookup(name, codes, None, limit)
            if hits and (not best or hits[0][0][0] < best[0][0][0]):
                best = hits
                if best[0][0][0] <= _FOLDED:
                    break
        return [self._place(idx) for _, idx in best[:limit]]

    def _interpret(
        self, parts: list[str]
    ) -> list[tuple[list[str], frozenset[str] | None, frozenset[int] | None]]:
        """Possible (place words, oblast codes, hromada indices) readings of a normalised,
        comma-split query."""
        if len(parts) > 1:
            place: list[str] | None = None
            codes: frozenset[str] | None = None
            areas: frozenset[int] | None = None
            for i, part in enumerate(parts):
                named = _oblast_of(part, allow_weak=place is not None or i > 0)
                if named is not None and (place is not None or i < len(parts) - 1):
                    codes = codes or named
                elif _is_noise(part):
                    areas = areas or self._area_of(part)
                elif place is None:
                    place = _strip_type_words(part.split())
            if place is None:
                return []
            return [(place, codes, areas)]

        words = parts[0].split()
        readings: list[tuple[list[str], frozenset[str] | None, frozenset[int] | None]] = [
            (_strip_type_words(words), None, None)
        ]
        for k in range(len(words) - 1, 0, -1):
            tail = _oblast_of(" ".join(words[k:]), allow_weak=True)
            if tail is not None:
                readings.append((_strip_type_words(words[:k]), tail, None))
            head = _oblast_of(" ".join(words[:k]), allow_weak=False)
            if head is not None:
                readings.append((_strip_type_words(words[k:]), head, None))
        return readings

    def _area_of(self, part: str) -> frozenset[int] | None:
        """Hromadas named by a fragment such as "Бахмутський р-н" or "Іванівська громада"."""
        words = fold(part).split()
        words = [w for w in words if w not in _RAION_WORDS]
        if len(words) >= 2 and words[-2:] == ["р", "н"]:
            words = words[:-2]
        if not words:
            return None
        areas = self._areas
        if areas is None:
            names: list[str] = []
            owners: list[int] = []
            for idx, (hromada, raion) in enumerate(self._hromadas):
                for area in (hromada, raion):
                    if area is not None:
                        names.extend((area.name_uk, area.name_en))
                        owners.extend((idx, idx))
            table: dict[str, set[int]] = {}
            for key, idx in zip(_fold_many(_normalise_many(names)), owners, strict=True):
                table.setdefault(key, set()).add(idx)
            areas = self._areas = {k: frozenset(v) for k, v in table.items() if k}
        return areas.get(" ".join(words))

    def _display_keys(self, idx: int) -> tuple[str, str]:
        """:func:`normalise`-d display names of a place (computed on first use)."""
        keys = self._display_norm.get(idx)
        if keys is None:
            c = self._columns
            names = (c.name_uk[idx], c.name_en[idx])
            if all(_PLAIN_NAME.fullmatch(n) for n in names):
                # What normalise() gives for names of letters, spaces, hyphens and
                # apostrophes (all of the codifier's), several times faster.
                uk, en = (n.lower().replace("’", "").replace("-", " ") for n in names)
            else:
                uk, en = _normalise_many(list(names))
            keys = self._display_norm[idx] = (uk, en)
        return keys

    def _lookup(
        self,
        query: str,
        codes: frozenset[str] | None,
        areas: frozenset[int] | None,
        limit: int,
    ) -> list[tuple[_Rank, int]]:
        """The best ``limit`` hits (rank, place index) for a normalised place name."""
        letters = len(query.replace(" ", ""))
        if letters < 2:
            return []
        oblast, hromada = self._columns.oblast, self._columns.hromada
        ranks: dict[int, _Rank] = {}

        def add(codes_: Iterable[int], group: int, typos: int = 0) -> None:
            for code in codes_:
                idx = code >> 1
                if codes is not None and oblast[2 * idx : 2 * idx + 2] not in codes:
                    continue
                if areas is not None and hromada[idx] not in areas:
                    continue
                alias = code & 1
                if group == _FOLDED and not alias and query in self._display_keys(idx):
                    rank = (_EXACT, 0, 0)
                else:
                    rank = (group, typos, alias)
                old = ranks.get(idx)
                if old is None or rank < old:
                    ranks[idx] = rank

        fquery = fold(query)
        postings = self._postings
        exact = postings.get(fquery)
        if exact is not None:
            add(_decode(exact), _FOLDED)
        if letters >= 3:
            add(self._prefixed(query, fquery), _PREFIX)
        if not any(rank[0] <= _FOLDED for rank in ranks.values()):
            for key, typos in self._fuzzy_keys(fquery):
                add(_decode(postings[key]), _FUZZY, typos)
        population, category = self._columns.population, self._columns.category
        return sorted(
            ((rank, idx) for idx, rank in ranks.items()),
            key=lambda hit: (
                hit[0],
                -population[hit[1]],
                _CATEGORY_RANK.get(category[hit[1]], 9),
                hit[1],
            ),
        )[:limit]

    def _prefixed(self, query: str, fquery: str) -> list[int]:
        """Postings of the keys that start with (and are longer than) the folded query."""
        keys = self._keys
        start = bisect.bisect_left(keys, fquery)
        end = bisect.bisect_left(keys, fquery + "\U0010ffff", start)
        if keys[start : start + 1] == [fquery]:
            start += 1
        short = len(fquery) < 4  # "Київ" folds to "кив": not "Ківшарівка"
        if end - start > _MAX_PREFIX_KEYS or short:
            # Too vague to scan, or too short to trust the folding: the larger places whose
            # display name starts with the query as typed.
            return [idx << 1 for key, idx in self._large_places(query) if key != query]
        out: list[int] = []
        postings = self._postings
        for key in itertools.islice(keys, start, end):
            out.extend(_decode(postings[key]))
        return out

    def _large_places(self, query: str) -> list[tuple[str, int]]:
        large = self._large
        if large is None:
            c = self._columns
            chosen = [i for i, p in enumerate(c.population) if p >= _LARGE_PLACE]
            names = _normalise_many([c.name_uk[i] for i in chosen] + [c.name_en[i] for i in chosen])
            large = self._large = sorted(zip(names, chosen + chosen, strict=True))
        start = bisect.bisect_left(large, (query,))
        end = bisect.bisect_left(large, (query + "\U0010ffff",), start)
        return large[start:end]

    def _fuzzy_keys(self, fquery: str) -> list[tuple[str, int]]:
        """Folded keys within the typo budget of ``fquery``, with their distance.

        One typo is found exhaustively by generating every one-edit variant of the query and
        looking it up; two typos (long queries only) by comparing with the keys next to the
        query in sorted order, forwards and backwards, so a typo near either end is caught.
        """
        limit = _max_typos(len(fquery))
        if limit == 0:
            return []
        postings = self._postings
        alphabet = _CYRILLIC_ALPHABET if _CYRILLIC_LETTER.search(fquery) else _LATIN_ALPHABET
        found = {key: 1 for key in _edits1(fquery, alphabet) if key in postings}
        if limit >= 2:
            for key in self._neighbour_keys(fquery):
                if key not in found:
                    distance = _edit_distance(fquery, key, limit)
                    if distance <= limit:
                        found[key] = distance
        return sorted(found.items())

    def _neighbour_keys(self, fquery: str) -> list[str]:
        keys = self._keys
        pos = bisect.bisect_left(keys, fquery)
        out = keys[max(0, pos - _NEIGHBOURS) : pos + _NEIGHBOURS]
        order = self._reversed
        if order is None:
            order = self._reversed = sorted(range(len(keys)), key=lambda i: keys[i][::-1])
        pos = bisect.bisect_left(order, fquery[::-1], key=lambda i: keys[i][::-1])
        out.extend(keys[i] for i in order[max(0, pos - _NEIGHBOURS) : pos + _NEIGHBOURS])
        return out

    # -- nearest -------------------------------------------------------------------------------

    def nearest(self, lat: float, lon: float, *, max_km: float = 30.0) -> NearestPlace | None:
        """The settlement closest to a WGS84 point (great-circle distance), if within ``max_km``.

        Candidates are the settlements' GeoNames points and the sections of cities (so a
        point in a city's district resolves to the city, never to the district); settlements
        with an approximate point are left out. Returns None when nothing lies within
        ``max_km`` (a point abroad or at sea) or the coordinates are not valid numbers.
        """
        if not (math.isfinite(lat) and math.isfinite(lon) and math.isfinite(max_km)):
            return None
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or max_km < 0:
            return None
        dlat = max_km / _KM_PER_DEGREE
        widest = min(89.0, abs(lat) + dlat)
        dlon = min(360.0, dlat / max(math.cos(math.radians(widest)), 1e-6))
        c, sections = self._columns, self._sections
        plat, plon = c.lat, c.lon
        best_idx = -1
        best_km = math.inf
        # Located settlements, by latitude band, then longitude.
        located = self._located
        lo = bisect.bisect_left(located, lat - dlat, key=plat.__getitem__)
        hi = bisect.bisect_right(located, lat + dlat, lo, key=plat.__getitem__)
        for idx in itertools.islice(located, lo, hi):
            if abs(plon[idx] - lon) <= dlon:
                km = haversine_km(lat, lon, plat[idx], plon[idx])
                if km < best_km or (km == best_km and idx < best_idx):
                    best_idx, best_km = idx, km
        # Sections of cities, likewise.
        lo = bisect.bisect_left(sections.lat, lat - dlat)
        hi = bisect.bisect_right(sections.lat, lat + dlat, lo)
        for k in range(lo, hi):
            if abs(sections.lon[k] - lon) <= dlon:
                km = haversine_km(lat, lon, sections.lat[k], sections.lon[k])
                idx = sections.place[k]
                if km < best_km or (km == best_km and idx < best_idx):
                    best_idx, best_km = idx, km
        if best_idx < 0 or best_km > max_km:
            return None
        return NearestPlace(self._place(best_idx), best_km)


def _decode(posting: str) -> list[int]:
    return [int(code) for code in posting.split(",")]


# Names whose normalised form is simply lower case without apostrophes and hyphens.
_PLAIN_NAME: Final = re.compile(
    r"[а-щьюяєіїґА-ЩЬЮЯЄІЇҐa-zA-Z’]+(?:[ -][а-щьюяєіїґА-ЩЬЮЯЄІЇҐa-zA-Z’]+)*"
)

# Header fields of the data file kept in Gazetteer.meta.
_META_FIELDS: Final = frozenset({"format", "attribution", "transliteration", "counts", "sources"})
