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
from functools import cached_property
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
    if _is_mixed(joined):
        out = [_cyrillic_words(line) for line in out]
    return out


def _is_mixed(text: str) -> bool:
    """Whether ``text`` has both Latin and Cyrillic letters."""
    return bool(_LATIN_LETTER.search(text) and _CYRILLIC_LETTER.search(text))


def _cyrillic_words(line: str) -> str:
    """``line`` with the Latin look-alikes in its Cyrillic words made Cyrillic."""
    if not _is_mixed(line):
        return line
    return " ".join(
        w.translate(_HOMOGLYPHS) if _CYRILLIC_LETTER.search(w) else w for w in line.split()
    )


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


# "Чернігівська область" -> "Чернігівської", "Черниговская область" -> "Черниговской".
_GENITIVE: Final = re.compile(r"\s*(\S*)(ька|ая)\s+область\s*")
_GENITIVE_ENDINGS: Final[Mapping[str, str]] = {"ька": "ької", "ая": "ой"}


def _genitives(full: str) -> list[str]:
    """Genitive of an oblast name as in "с. Лукашівка Чернігівської області"."""
    found = _GENITIVE.fullmatch(full)
    return [found[1] + _GENITIVE_ENDINGS[found[2]]] if found else []


def _official_names() -> Iterator[tuple[str, str]]:
    """(code, name) for each oblast's full and short names and their genitives."""
    for code, langs in _OBLAST_NAMES.items():
        for full, short in langs.values():
            for form in (full, short, *_genitives(full)):
                yield code, form


def _pairs(aliases: Mapping[str, tuple[str, ...]]) -> Iterator[tuple[str, str]]:
    return ((code, alias) for code, names in aliases.items() for alias in names)


def _alias_table(named: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """Alias key -> the oblasts it names (with their neighbours), from (code, alias) pairs."""
    table: dict[str, set[str]] = {}
    for code, alias in named:
        table.setdefault(_alias_key(alias), set()).update(_OBLAST_NEIGHBOURS.get(code, {code}))
    table.pop("", None)
    return {key: frozenset(codes) for key, codes in table.items()}


_STRONG_ALIASES = _alias_table(itertools.chain(_official_names(), _pairs(_OBLAST_STRONG_ALIASES)))
_WEAK_ALIASES = _alias_table(_pairs(_OBLAST_WEAK_ALIASES))


def _oblast_of(part: str, *, allow_weak: bool) -> frozenset[str] | None:
    """Oblast codes named by a normalised query fragment, or None if it names none.

    Accepts the names in any of the three languages, adjectives with or without
    "область"/"обл."/"oblast" and, when ``allow_weak``, the name of the oblast's centre.
    """
    raw_words = fold(part).split()
    words = [w for w in raw_words if w not in _OBLAST_WORDS]
    key = " ".join(words)  # "" names nothing: neither table has it
    if key in _STRONG_ALIASES:
        return _STRONG_ALIASES[key]
    weak_ok = allow_weak or len(words) < len(raw_words)
    return _WEAK_ALIASES.get(key) if weak_ok else None


def _is_noise(part: str) -> bool:
    """True for a fragment naming a raion, a hromada or the country ("Бучанський р-н")."""
    words = fold(part).split()
    return (
        not words
        or " ".join(words) in _COUNTRY_WORDS
        or not _RAION_WORDS.isdisjoint(words)
        or ("р", "н") in itertools.pairwise(words)
    )


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
        if self.category == "K":
            return self.name(key)
        oblast = oblast_name(self.oblast, key, short=True)
        return ", ".join([self._hinted_name(key), oblast, *self._area_names(key)])

    def _hinted_name(self, key: str) -> str:
        """The name, with the hint that tells namesakes in one hromada apart if it has one."""
        if self.hint is None:
            return self.name(key)
        return f"{self.name(key)} ({self.hint[_LANGS.index(key)]})"

    def _area_names(self, key: str) -> list[str]:
        """The hromada (detail 1 and up) and the raion (detail 2) as the label names them."""
        areas = ((1, self.hromada, _HROMADA_WORD), (2, self.raion, _RAION_WORD))
        return [
            f"{area.name(key)} {word[key]}"
            for level, area, word in areas
            if area is not None and self.detail >= level
        ]


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
    out = _deletions_and_swaps(splits) | _substitutions_and_insertions(splits, alphabet)
    out.discard(word)
    return out


def _deletions_and_swaps(splits: list[tuple[str, str]]) -> set[str]:
    out = {a + b[1:] for a, b in splits if b}
    out.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    return out


def _substitutions_and_insertions(splits: list[tuple[str, str]], alphabet: str) -> set[str]:
    out = {a + c + b[1:] for a, b in splits if b for c in alphabet}
    out.update(a + c + b for a, b in splits for c in alphabet)
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
    if _surely_apart(a, b, limit):
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = _osa_row(a, b, i, previous, previous2)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _surely_apart(a: str, b: str, limit: int) -> bool:
    """Cheap bounds that reject most candidates before the quadratic part: the lengths, and
    the letters the strings don't share (each edit adds or removes at most two of those)."""
    return abs(len(a) - len(b)) > limit or len(set(a).symmetric_difference(b)) > 2 * limit


def _osa_row(a: str, b: str, i: int, previous: list[int], previous2: list[int]) -> list[int]:
    """Row ``i`` of the distance table of ``a`` against ``b``, from the two rows before it."""
    ca = a[i - 1]
    current = [i]
    for j, cb in enumerate(b, 1):
        value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
        if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
            value = min(value, previous2[j - 2] + 1)
        current.append(value)
    return current


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
    entries = _postings_by_key(*_flat_names(display, aliases))
    keys = sorted(entries)
    return keys, [entries[k][0] if len(entries[k]) == 1 else entries[k] for k in keys]


def _flat_names(
    display: Sequence[Sequence[str]], aliases: Sequence[Iterable[str]]
) -> tuple[list[str], list[int]]:
    """All names in one list, and the posting of each (``i << 1``, ``| 1`` for an alias)."""
    flat: list[str] = []
    owners: list[int] = []
    for idx, (names, extra) in enumerate(zip(display, aliases, strict=True)):
        own, more = list(names), list(extra)
        flat += own + more
        owners += [idx << 1] * len(own) + [idx << 1 | 1] * len(more)
    return flat, owners


def _postings_by_key(flat: list[str], owners: list[int]) -> dict[str, list[int]]:
    """Folded key -> postings, one per place: a name that is also an alias stays a name."""
    entries: dict[str, list[int]] = {}
    folded = _fold_many(_normalise_many(flat)) if flat else []
    for key, code in zip(folded, owners, strict=True):
        if key:
            _add_posting(entries.setdefault(key, []), code)
    return entries


def _add_posting(bucket: list[int], code: int) -> None:
    if bucket and bucket[-1] >> 1 == code >> 1:
        bucket[-1] = min(bucket[-1], code)
    else:
        bucket.append(code)


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
        areas = _areas_of(places)
        self._setup(
            _columns_of(places, list(areas)),
            list(areas.values()),
            _sections_of(sections),
            _located(places),
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
        _check_columns(columns)
        if len(keys) != len(postings):
            raise GazetteerError("gazetteer index: keys and postings differ in length")
        n = len(columns.id)
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
        self._keys = keys
        self._postings: dict[str, str] = dict(zip(keys, postings, strict=True))
        self._reversed = reversed_order
        self._display_norm: dict[int, tuple[str, str]] = {}

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
        _check_format(document)
        gazetteer = cls.__new__(cls)
        try:
            index, sections = document["index"], document["sections"]
            gazetteer._setup(
                _read_columns(document["places"]),
                _read_areas(document),
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
            place = self._cache[idx] = self._make_place(idx)
        return place

    def _make_place(self, idx: int) -> Place:
        c = self._columns
        h = c.hromada[idx]
        hromada, raion = self._hromadas[h] if h >= 0 else (None, None)
        return Place(
            id=c.id[idx],
            katottg=_katottg(c, idx, hromada),
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
            idx = self._legacy_ids.get(place_id)
        return None if idx is None else self._place(idx)

    @cached_property
    def _legacy_ids(self) -> dict[int, int]:
        """GeoNames id -> place index (computed on first use)."""
        return _legacy_index(self._columns, self._sections)

    def by_code(self, katottg: str) -> Place | None:
        """The place with this KATOTTG code ("UA14020010010012345"), or None."""
        code = katottg.strip().upper()
        if not _KATOTTG_CODE.fullmatch(code):
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
        parts = _query_parts(query) if limit > 0 else []
        if not parts:
            return []
        return [self._place(idx) for _, idx in self._best_hits(parts, limit)[:limit]]

    def _best_hits(self, parts: list[str], limit: int) -> list[tuple[_Rank, int]]:
        """The hits of the reading of the query whose best hit ranks highest (the first such
        reading); a reading with a name as typed or up to spelling ends the search."""
        best: list[tuple[_Rank, int]] = []
        for place_words, codes, areas in self._interpret(parts):
            hits = self._hits(" ".join(place_words), codes, areas, limit)
            if _group(hits) < _group(best):
                best = hits
                if _group(best) <= _FOLDED:
                    break
        return best

    def _hits(
        self,
        name: str,
        codes: frozenset[str] | None,
        areas: frozenset[int] | None,
        limit: int,
    ) -> list[tuple[_Rank, int]]:
        """Hits in the hromadas named, if any; else (or if there are none there) anywhere."""
        hits = self._lookup(name, codes, areas, limit) if areas is not None else []
        return hits or self._lookup(name, codes, None, limit)

    def _interpret(self, parts: list[str]) -> list[_Reading]:
        """Possible (place words, oblast codes, hromada indices) readings of a normalised,
        comma-split query."""
        if len(parts) > 1:
            return self._comma_reading(parts)
        return _word_readings(parts[0].split())

    def _comma_reading(self, parts: list[str]) -> list[_Reading]:
        """The reading of a query in several parts: the first part that names no oblast and
        no area is the place; the first oblast and the first area named narrow it."""
        place: list[str] | None = None
        codes: frozenset[str] | None = None
        areas: frozenset[int] | None = None
        for i, part in enumerate(parts):
            named = _oblast_part(part, i, len(parts), have_place=place is not None)
            if named is not None:
                codes = codes or named
            elif _is_noise(part):
                areas = areas or self._area_of(part)
            elif place is None:
                place = _strip_type_words(part.split())
        return [] if place is None else [(place, codes, areas)]

    def _area_of(self, part: str) -> frozenset[int] | None:
        """Hromadas named by a fragment such as "Бахмутський р-н" or "Іванівська громада"."""
        key = _area_key(part)
        return self._area_index.get(key) if key else None

    @cached_property
    def _area_index(self) -> dict[str, frozenset[int]]:
        """Folded name of a hromada or raion -> the hromadas it names (computed on first use)."""
        return _index_areas(self._hromadas)

    def _display_keys(self, idx: int) -> tuple[str, str]:
        """:func:`normalise`-d display names of a place (computed on first use)."""
        keys = self._display_norm.get(idx)
        if keys is None:
            c = self._columns
            keys = self._display_norm[idx] = _display_forms(c.name_uk[idx], c.name_en[idx])
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
        ranking = _Ranking(self, query, codes, areas)
        fquery = fold(query)
        ranking.add_folded(self._postings_of(fquery))
        if letters >= 3:
            ranking.add(self._prefixed(query, fquery), _PREFIX)
        if not ranking.found_folded():
            for key, typos in self._fuzzy_keys(fquery):
                ranking.add(self._postings_of(key), _FUZZY, typos)
        population, category = self._columns.population, self._columns.category
        # By rank, then the larger population, then cities before villages, then code order.
        return sorted(
            ((rank, idx) for idx, rank in ranking.best.items()),
            key=lambda hit: (
                hit[0],
                -population[hit[1]],
                _CATEGORY_RANK.get(category[hit[1]], 9),
                hit[1],
            ),
        )[:limit]

    def _postings_of(self, key: str) -> list[int]:
        posting = self._postings.get(key)
        return [] if posting is None else _decode(posting)

    def _prefixed(self, query: str, fquery: str) -> list[int]:
        """Postings of the keys that start with (and are longer than) the folded query."""
        start, end = self._longer_keys(fquery)
        if end - start > _MAX_PREFIX_KEYS or len(fquery) < 4:
            # Too vague to scan, or too short to trust the folding ("Київ" folds to "кив":
            # not "Ківшарівка"): the larger places whose display name starts with the query
            # as typed.
            return self._large_places(query)
        postings = self._postings
        return [code for key in self._keys[start:end] for code in _decode(postings[key])]

    def _longer_keys(self, fquery: str) -> tuple[int, int]:
        """The range of the sorted keys that start with, and are longer than, ``fquery``."""
        keys = self._keys
        start = bisect.bisect_left(keys, fquery)
        end = bisect.bisect_left(keys, fquery + "\U0010ffff", start)
        return start + (keys[start : start + 1] == [fquery]), end

    def _large_places(self, query: str) -> list[int]:
        """Postings of the larger places whose display name starts with (and is longer than)
        the normalised ``query``."""
        large = self._large_names
        start = bisect.bisect_left(large, (query,))
        end = bisect.bisect_left(large, (query + "\U0010ffff",), start)
        return [idx << 1 for key, idx in large[start:end] if key != query]

    @cached_property
    def _large_names(self) -> list[tuple[str, int]]:
        """(normalised display name, index) of the larger places, sorted (on first use)."""
        return _index_large(self._columns)

    def _fuzzy_keys(self, fquery: str) -> list[tuple[str, int]]:
        """Folded keys within the typo budget of ``fquery``, with their distance.

        One typo is found exhaustively by generating every one-edit variant of the query and
        looking it up; two typos (long queries only) by comparing with the keys next to the
        query in sorted order, forwards and backwards, so a typo near either end is caught.
        """
        limit = _max_typos(len(fquery))
        if limit == 0:
            return []
        alphabet = _CYRILLIC_ALPHABET if _CYRILLIC_LETTER.search(fquery) else _LATIN_ALPHABET
        found = {key: 1 for key in _edits1(fquery, alphabet) if key in self._postings}
        if limit >= 2:
            found.update(self._two_typo_keys(fquery, found, limit))
        return sorted(found.items())

    def _two_typo_keys(self, fquery: str, found: Mapping[str, int], limit: int) -> dict[str, int]:
        """Neighbouring keys (not in ``found``) within ``limit`` typos of ``fquery``."""
        near: dict[str, int] = {}
        for key in self._neighbour_keys(fquery):
            if key not in found:
                distance = _edit_distance(fquery, key, limit)
                if distance <= limit:
                    near[key] = distance
        return near

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
        if not _valid_point(lat, lon, max_km):
            return None
        box = _Box.around(lat, lon, max_km)
        # Ties go to the place first in codifier order.
        km, idx = min(
            itertools.chain(self._near_places(box), self._near_sections(box)),
            default=(math.inf, -1),
        )
        if idx < 0 or km > max_km:
            return None
        return NearestPlace(self._place(idx), km)

    def _near_places(self, box: _Box) -> list[tuple[float, int]]:
        """(distance, index) of the located settlements in the box."""
        plat, plon = self._columns.lat, self._columns.lon
        located = self._located
        lo = bisect.bisect_left(located, box.south, key=plat.__getitem__)
        hi = bisect.bisect_right(located, box.north, lo, key=plat.__getitem__)
        lat, lon, dlon = box.lat, box.lon, box.dlon
        return [
            (haversine_km(lat, lon, plat[idx], plon[idx]), idx)
            for idx in located[lo:hi]
            if abs(plon[idx] - lon) <= dlon
        ]

    def _near_sections(self, box: _Box) -> list[tuple[float, int]]:
        """(distance, index of its place) of the city sections in the box."""
        slat, slon, place = self._sections.lat, self._sections.lon, self._sections.place
        lo = bisect.bisect_left(slat, box.south)
        hi = bisect.bisect_right(slat, box.north, lo)
        lat, lon, dlon = box.lat, box.lon, box.dlon
        return [
            (haversine_km(lat, lon, slat[k], slon[k]), place[k])
            for k in range(lo, hi)
            if abs(slon[k] - lon) <= dlon
        ]


def _group(hits: list[tuple[_Rank, int]]) -> int:
    """The match group of the best hit; none at all is worse than any."""
    return hits[0][0][0] if hits else _UNRANKED[0]


# A reading of a query: the place's words, and the oblasts and hromadas it must lie in.
_Reading = tuple[list[str], frozenset[str] | None, frozenset[int] | None]
# Worse than any rank: what a place not found yet has.
_UNRANKED: Final[_Rank] = (9, 9, 9)


class _Ranking:
    """The best rank of each place found for one query, within the oblasts and hromadas
    asked for."""

    def __init__(
        self,
        gazetteer: Gazetteer,
        query: str,
        codes: frozenset[str] | None,
        areas: frozenset[int] | None,
    ) -> None:
        self.best: dict[int, _Rank] = {}
        self._gazetteer = gazetteer
        self._query = query
        self._codes = codes
        self._areas = areas

    def add(self, postings: list[int], group: int, typos: int = 0) -> None:
        """Rank the places of ``postings`` found in ``group`` with ``typos``."""
        self._keep([((group, typos, code & 1), code >> 1) for code in self._admitted(postings)])

    def add_folded(self, postings: list[int]) -> None:
        """Rank the places of the postings of the folded query itself."""
        self._keep([(self._folded_rank(code), code >> 1) for code in self._admitted(postings)])

    def _keep(self, found: list[tuple[_Rank, int]]) -> None:
        best = self.best
        for rank, idx in found:
            if rank < best.get(idx, _UNRANKED):
                best[idx] = rank

    def found_folded(self) -> bool:
        """Whether a name matched as typed or up to spelling (or an alias did)."""
        return any(rank[0] <= _FOLDED for rank in self.best.values())

    def _admitted(self, postings: list[int]) -> list[int]:
        if self._codes is None and self._areas is None:
            return postings
        return [code for code in postings if self._admits(code >> 1)]

    def _admits(self, idx: int) -> bool:
        columns = self._gazetteer._columns
        codes, areas = self._codes, self._areas
        in_oblast = codes is None or columns.oblast[2 * idx : 2 * idx + 2] in codes
        return in_oblast and (areas is None or columns.hromada[idx] in areas)

    def _folded_rank(self, code: int) -> _Rank:
        """A display name found by its folded form is exact if it is the query as typed."""
        alias = code & 1
        if not alias and self._is_display_name(code >> 1):
            return (_EXACT, 0, 0)
        return (_FOLDED, 0, alias)

    def _is_display_name(self, idx: int) -> bool:
        return self._query in self._gazetteer._display_keys(idx)


@dataclass(frozen=True, slots=True)
class _Box:
    """The latitudes and longitudes within some distance of a point (a little more)."""

    lat: float
    lon: float
    south: float
    north: float
    dlon: float

    @classmethod
    def around(cls, lat: float, lon: float, km: float) -> _Box:
        dlat = km / _KM_PER_DEGREE
        widest = min(89.0, abs(lat) + dlat)
        dlon = min(360.0, dlat / max(math.cos(math.radians(widest)), 1e-6))
        return cls(lat, lon, lat - dlat, lat + dlat, dlon)


def _valid_point(lat: float, lon: float, max_km: float) -> bool:
    """Finite coordinates on the globe and a distance that is not negative."""
    finite = all(map(math.isfinite, (lat, lon, max_km)))
    return finite and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0 and max_km >= 0


def _query_parts(query: str) -> list[str]:
    """The normalised, non-empty comma- (or semicolon-, slash-, line-) separated parts."""
    parts = (normalise(s) for s in re.split(r"[,;/\n]+", query))
    return [p for p in parts if p]


def _oblast_part(part: str, i: int, count: int, *, have_place: bool) -> frozenset[str] | None:
    """The oblasts part ``i`` of ``count`` names, if it is read as an oblast: any part but
    the last, or the last once the place is known; a city's name only after the first."""
    if not have_place and i == count - 1:
        return None
    return _oblast_of(part, allow_weak=have_place or i > 0)


def _word_readings(words: list[str]) -> list[_Reading]:
    """Readings of a query without commas: all of it the place, or an oblast named by its
    last or first words and the place by the rest."""
    readings: list[_Reading] = [(_strip_type_words(words), None, None)]
    for k in range(len(words) - 1, 0, -1):
        tail = _oblast_of(" ".join(words[k:]), allow_weak=True)
        if tail is not None:
            readings.append((_strip_type_words(words[:k]), tail, None))
        head = _oblast_of(" ".join(words[:k]), allow_weak=False)
        if head is not None:
            readings.append((_strip_type_words(words[k:]), head, None))
    return readings


def _area_key(part: str) -> str:
    """The folded words of a hromada's or raion's name in a fragment ("Бахмутський р-н")."""
    words = [w for w in fold(part).split() if w not in _RAION_WORDS]
    if words[-2:] == ["р", "н"]:
        words = words[:-2]
    return " ".join(words)


def _area_names(hromadas: Sequence[tuple[Area, Area | None]]) -> Iterator[tuple[str, int]]:
    """(name, hromada index) for the names of each hromada and of its raion."""
    for idx, areas in enumerate(hromadas):
        for area in filter(None, areas):
            yield area.name_uk, idx
            yield area.name_en, idx


def _index_areas(hromadas: Sequence[tuple[Area, Area | None]]) -> dict[str, frozenset[int]]:
    named = list(_area_names(hromadas))
    table: dict[str, set[int]] = {}
    keys = _fold_many(_normalise_many([name for name, _ in named]))
    for key, (_, idx) in zip(keys, named, strict=True):
        table.setdefault(key, set()).add(idx)
    return {k: frozenset(v) for k, v in table.items() if k}


def _display_forms(uk: str, en: str) -> tuple[str, str]:
    """:func:`normalise` of two display names."""
    if _PLAIN_NAME.fullmatch(uk) and _PLAIN_NAME.fullmatch(en):
        # What normalise() gives for names of letters, spaces, hyphens and apostrophes (all
        # of the codifier's), several times faster.
        return _plain_form(uk), _plain_form(en)
    forms = _normalise_many([uk, en])
    return forms[0], forms[1]


def _plain_form(name: str) -> str:
    return name.lower().replace("’", "").replace("-", " ")


def _index_large(columns: _Columns) -> list[tuple[str, int]]:
    """(normalised display name, index) of the places of ``_LARGE_PLACE`` people or more."""
    chosen = [i for i, p in enumerate(columns.population) if p >= _LARGE_PLACE]
    names = [columns.name_uk[i] for i in chosen] + [columns.name_en[i] for i in chosen]
    return sorted(zip(_normalise_many(names), chosen + chosen, strict=True))


def _katottg(columns: _Columns, idx: int, hromada: Area | None) -> str:
    """A place's code: stored whole, or made of its hromada's, its number and its id."""
    code = columns.codes.get(idx)
    if code is None and hromada is not None:
        code = f"{hromada.code[:9]}{columns.num[idx]:05d}{columns.id[idx]:05d}"
    return code or ""


def _legacy_index(columns: _Columns, sections: _Sections) -> dict[int, int]:
    """GeoNames id -> place index, of the places and then of the sections of cities."""
    legacy = {g: i for i, g in enumerate(columns.geonameid) if g}
    for g, i in zip(sections.geonameid, sections.place, strict=False):
        legacy.setdefault(g, i)
    return legacy


_KATOTTG_CODE: Final = re.compile(r"UA[0-9]{17}")

# Columns of one value per place, checked by name.
_PER_PLACE: Final = ("num", "name_uk", "name_en", "hromada", "lat", "lon", "population")


def _check_columns(columns: _Columns) -> None:
    n = len(columns.id)
    for name in _PER_PLACE:
        if len(getattr(columns, name)) != n:
            raise GazetteerError(f"gazetteer column {name!r} has the wrong length")
    c = columns
    lengths = (len(c.category), len(c.approx), len(c.label), len(c.oblast), len(c.geonameid))
    if lengths != (n, n, n, 2 * n, n):
        raise GazetteerError("gazetteer columns differ in length")


def _check_format(document: Mapping[str, Any]) -> None:
    found = document.get("format") if isinstance(document, Mapping) else None
    if found != DATA_FORMAT:
        raise GazetteerError(f"unsupported gazetteer format: {found!r}")


def _read_areas(document: Mapping[str, Any]) -> list[tuple[Area, Area | None]]:
    """The hromadas of the data file, each with its raion."""
    raions = [Area(str(r[0]), str(r[1]), str(r[2])) for r in document["raions"]]
    return [
        (Area(str(h[0]), str(h[1]), str(h[2])), raions[int(h[3])]) for h in document["hromadas"]
    ]


def _read_columns(data: Mapping[str, Any]) -> _Columns:
    """The places' columns as the data file stores them."""
    return _Columns(
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
        hints={
            int(key): (str(uk), str(ru), str(en)) for key, (uk, ru, en) in data["hints"].items()
        },
    )


def _areas_of(places: Sequence[Place]) -> dict[str, tuple[Area, Area | None]]:
    """Hromada code -> (hromada, raion), in the order the places first name them."""
    areas: dict[str, tuple[Area, Area | None]] = {}
    for p in places:
        if p.hromada is not None:
            areas.setdefault(p.hromada.code, (p.hromada, p.raion))
    return areas


def _place_row(p: Place, hromadas: Mapping[str, int]) -> tuple[Any, ...]:
    """One place as the data file's columns hold it, in the order of ``_ROW``; ``hromadas``
    gives each hromada's position."""
    hromada = hromadas[p.hromada.code] if p.hromada else -1
    return (
        p.id,
        p.category[:1] or "C",
        p.name_uk,
        p.name_en,
        f"{p.oblast:>2}"[:2],
        hromada,
        p.lat,
        p.lon,
        "1" if p.approximate else "0",
        p.population,
        p.geonames_id or 0,
        str(min(9, max(0, p.detail))),
    )


_ROW: Final = (
    "id",
    "category",
    "name_uk",
    "name_en",
    "oblast",
    "hromada",
    "lat",
    "lon",
    "approx",
    "population",
    "geonameid",
    "label",
)
# Columns the data file stores as one string of a character or two per place.
_TEXT_COLUMNS: Final = frozenset({"category", "oblast", "approx", "label"})


def _columns_of(places: Sequence[Place], hromadas: list[str]) -> _Columns:
    """The data file's columns of ``places``; ``hromadas`` are the hromada codes in order."""
    position = {code: i for i, code in enumerate(hromadas)}
    rows = [_place_row(p, position) for p in places]
    columns: dict[str, Any] = {name: [row[k] for row in rows] for k, name in enumerate(_ROW)}
    for name in _TEXT_COLUMNS:
        columns[name] = "".join(columns[name])
    return _Columns(
        num=[-1] * len(places),
        codes={i: p.katottg for i, p in enumerate(places)},
        hints={i: p.hint for i, p in enumerate(places) if p.hint is not None},
        **columns,
    )


def _sections_of(sections: Iterable[tuple[int, float, float]]) -> _Sections:
    """City sections given as (place index, lat, lon), sorted by latitude."""
    rows = sorted((lat, lon, idx) for idx, lat, lon in sections)
    return _Sections([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [])


def _located(places: Sequence[Place]) -> list[int]:
    """The indices of the places with a GeoNames point, by latitude."""
    return sorted(
        (i for i, p in enumerate(places) if not p.approximate), key=lambda i: places[i].lat
    )


def _decode(posting: str) -> list[int]:
    return [int(code) for code in posting.split(",")]


# Names whose normalised form is simply lower case without apostrophes and hyphens.
_PLAIN_NAME: Final = re.compile(
    r"[а-щьюяєіїґА-ЩЬЮЯЄІЇҐa-zA-Z’]+(?:[ -][а-щьюяєіїґА-ЩЬЮЯЄІЇҐa-zA-Z’]+)*"
)

# Header fields of the data file kept in Gazetteer.meta.
_META_FIELDS: Final = frozenset({"format", "attribution", "transliteration", "counts", "sources"})
