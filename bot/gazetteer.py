"""Offline gazetteer of Ukrainian settlements: place-name search and nearest-place lookup.

The data is a compact extract of GeoNames (CC BY 4.0) built by ``scripts/build_gazetteer.py``
into ``bot/data/gazetteer-ua.json.gz``: every Ukrainian settlement with at least 500
inhabitants, with display names in Ukrainian, Russian and English, its oblast (GeoNames
admin1 code), coordinates, population and the Latin/Cyrillic alternate names used for search.

Only the standard library is needed at runtime. :meth:`Gazetteer.load` reads the packaged
file and builds in-memory indexes (well under a second); :meth:`Gazetteer.search` and
:meth:`Gazetteer.nearest` then answer in milliseconds. A loaded :class:`Gazetteer` is
immutable and safe to share between coroutines and threads.
"""

from __future__ import annotations

import bisect
import gc
import gzip
import importlib.resources
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DATA_FORMAT",
    "OBLAST_CODES",
    "Gazetteer",
    "NearestPlace",
    "Place",
    "fold",
    "normalise",
    "oblast_name",
]

#: Value of the ``format`` field of the data file this module understands.
DATA_FORMAT: Final = "tipbot-gazetteer/1"

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

#: GeoNames ids of the two cities with special status, labelled without an oblast.
_SPECIAL_CITY_IDS: Final = frozenset({703448, 694423})  # Kyiv, Sevastopol


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


@dataclass(frozen=True, slots=True)
class Place:
    """A settlement from the gazetteer.

    ``oblast`` is the GeoNames admin1 code (see :data:`OBLAST_CODES`), ``lat``/``lon`` are
    WGS84 degrees of the settlement centre and ``population`` is GeoNames' figure (often
    pre-2022).
    """

    geonameid: int
    name_uk: str
    name_ru: str
    name_en: str
    oblast: str
    lat: float
    lon: float
    population: int

    def name(self, lang: str) -> str:
        """Display name in ``lang`` ("uk", "ru", "en"); unknown languages get English."""
        if lang == "uk":
            return self.name_uk
        if lang == "ru":
            return self.name_ru
        return self.name_en

    def label(self, lang: str) -> str:
        """Name with the short oblast, e.g. "Буча, Київська обл.".

        Kyiv and Sevastopol themselves are labelled by their name alone; other places in
        those cities (neighbourhoods) get "м. Київ" / "Kyiv city" appended.
        """
        name = self.name(lang)
        if self.geonameid in _SPECIAL_CITY_IDS:
            return name
        return f"{name}, {oblast_name(self.oblast, lang, short=True)}"


@dataclass(frozen=True, slots=True)
class NearestPlace:
    """Result of :meth:`Gazetteer.nearest`: the place and its great-circle distance."""

    place: Place
    distance_km: float


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------

EARTH_RADIUS_KM: Final = 6371.0088
_KM_PER_DEGREE: Final = math.pi * EARTH_RADIUS_KM / 180.0
_CELL_DEG: Final = 0.25
_BRUTE_FORCE_KM: Final = 300.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two WGS84 points (degrees)."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG)


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


def _with_prefix(keys: list[str], prefix: str) -> list[str]:
    """The entries of the sorted list ``keys`` that start with ``prefix``."""
    start = bisect.bisect_left(keys, prefix)
    end = bisect.bisect_left(keys, prefix + "\U0010ffff", start)
    return keys[start:end]


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (edits and adjacent swaps), capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
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


# Match tiers, best first.
_EXACT_NAME: Final = 0  # the query is a current display name
_EXACT_ALT: Final = 1  # ... an alternate (historical, foreign, transliterated) name
_FOLDED: Final = 2  # ... a name up to Ukrainian/Russian spelling differences
_PREFIX: Final = 3  # ... the start of a name
_FOLDED_PREFIX: Final = 4
_FUZZY: Final = 5  # ... a name with typos

_Hit = tuple[int, int, int, int]  # (tier, typos, matched an alternate name, place index)


# ---------------------------------------------------------------------------------------------
# Gazetteer
# ---------------------------------------------------------------------------------------------


class GazetteerError(ValueError):
    """The data file is missing required fields or has an unknown format."""


class Gazetteer:
    """In-memory index over the settlements of the data file; see :meth:`load`."""

    def __init__(
        self,
        places: Sequence[Place],
        search_names: Sequence[Iterable[str]],
        meta: Mapping[str, Any] | None = None,
        *,
        normalised: bool = False,
    ) -> None:
        """Index ``places``; ``search_names[i]`` are extra (alternate) names of ``places[i]``.

        With ``normalised=True`` the search names are taken to be :func:`normalise`-d already
        (as in the data file), which saves most of the indexing time.
        """
        if len(places) != len(search_names):
            raise ValueError("places and search_names differ in length")
        self._places: tuple[Place, ...] = tuple(places)
        self._by_id: dict[int, Place] = {p.geonameid: p for p in self._places}
        #: Header of the data file (source, licence, build date ...), without the places.
        self.meta: Mapping[str, Any] = dict(meta or {})

        gc_was_enabled = gc.isenabled()
        gc.disable()  # tens of thousands of acyclic objects: collections would only cost time
        try:
            self._build_name_index(search_names, normalised=normalised)
        finally:
            if gc_was_enabled:
                gc.enable()

        grid: dict[tuple[int, int], list[int]] = {}
        for idx, place in enumerate(self._places):
            grid.setdefault(_cell(place.lat, place.lon), []).append(idx)
        self._grid = grid

    def _build_name_index(self, search_names: Sequence[Iterable[str]], *, normalised: bool) -> None:
        # Per place: its normalised display names and alternate names (exact-match tiers).
        own_names = _normalise_many(
            [name for p in self._places for name in (p.name_uk, p.name_ru, p.name_en)]
        )
        self._own_keys: list[frozenset[str]] = []
        self._alt_keys: list[frozenset[str]] = []
        all_keys: list[str] = []
        owners: list[int] = []
        for idx, extra in enumerate(search_names):
            own = frozenset(own_names[3 * idx : 3 * idx + 3]) - {""}
            names = list(extra)
            alts = frozenset(names if normalised else _normalise_many(names) if names else ())
            alts = alts - own - {""}
            self._own_keys.append(own)
            self._alt_keys.append(alts)
            all_keys.extend(own)
            all_keys.extend(alts)
            owners.extend([idx] * (len(own) + len(alts)))
        # Folded key -> places: the dictionary behind every kind of match.
        folded: dict[str, list[int]] = {}
        folded_keys = _fold_many(all_keys)
        self._own_folded: list[frozenset[str]] = []
        start = 0
        for own in self._own_keys:
            self._own_folded.append(frozenset(folded_keys[start : start + len(own)]))
            start += len(own) + len(self._alt_keys[len(self._own_folded) - 1])
        for fkey, idx in zip(folded_keys, owners, strict=True):
            bucket = folded.get(fkey)
            if bucket is None:
                folded[fkey] = [idx]
            elif bucket[-1] != idx:
                bucket.append(idx)
        self._folded = folded
        self._sorted_folded = sorted(folded)
        # Folded keys spelt backwards, sorted: neighbours here share the end of the query.
        self._reversed_folded = sorted(key[::-1] for key in self._sorted_folded)
        letters = set("".join(self._sorted_folded))
        self._alphabets = (
            "".join(sorted(c for c in letters if "\u0400" <= c <= "\u04ff")),
            "".join(sorted(c for c in letters if c.isascii() and c.isalnum())),
        )

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | None = None) -> Gazetteer:
        """Read a gazetteer file (gzip-compressed JSON) and build the indexes.

        Without ``path`` the file packaged with the bot (``bot/data/gazetteer-ua.json.gz``) is
        used. Raises :class:`GazetteerError` for a file of another format and ``OSError`` if
        it cannot be read.
        """
        if path is None:
            raw = importlib.resources.files(_PACKAGE).joinpath(_RESOURCE).read_bytes()
        else:
            raw = Path(path).read_bytes()
        return cls.from_json(json.loads(gzip.decompress(raw)))

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Gazetteer:
        """Build from the decoded JSON document written by ``scripts/build_gazetteer.py``."""
        if document.get("format") != DATA_FORMAT:
            raise GazetteerError(f"unsupported gazetteer format: {document.get('format')!r}")
        fields = list(document["fields"])
        try:
            col = {name: fields.index(name) for name in _FIELDS}
        except ValueError as exc:
            raise GazetteerError(f"gazetteer file lacks a field: {exc}") from exc
        places: list[Place] = []
        names: list[list[str]] = []
        for row in document["places"]:
            places.append(
                Place(
                    geonameid=int(row[col["geonameid"]]),
                    name_uk=str(row[col["name_uk"]]),
                    name_ru=str(row[col["name_ru"]]),
                    name_en=str(row[col["name_en"]]),
                    oblast=str(row[col["oblast"]]),
                    lat=float(row[col["lat"]]),
                    lon=float(row[col["lon"]]),
                    population=int(row[col["population"]]),
                )
            )
            names.append([str(n) for n in row[col["search_names"]]])
        meta = {k: v for k, v in document.items() if k != "places"}
        return cls(places, names, meta, normalised=True)

    # -- lookups -------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of places."""
        return len(self._places)

    def __iter__(self) -> Iterator[Place]:
        """All places, in file order (by GeoNames id)."""
        return iter(self._places)

    def get(self, geonameid: int) -> Place | None:
        """The place with this GeoNames id, or None."""
        return self._by_id.get(geonameid)

    def search(self, query: str, limit: int = 5) -> list[Place]:
        """Up to ``limit`` distinct places matching a free-text place name, best first.

        The query is normalised (see :func:`normalise`); settlement-type words ("с.", "смт",
        "м.", "село", "город", "village" ...) are ignored, as are fragments naming a raion or
        the country. An oblast given after a comma or at the end/start of the query
        ("Лукашівка, Чернігівська обл.", "Lukashivka Chernihiv") restricts the results to that
        oblast (Kyiv city counts as Kyiv Oblast and Sevastopol as Crimea, and vice versa).

        Ranking: exact match on a current name, then on an alternate/historical name, then
        equal up to Ukrainian/Russian spelling differences ("Харкив", "Ирпинь"), then names
        starting with the query (queries of 3+ letters), then - only when nothing matched
        exactly - names within one or two typos; ties go to the larger population. A query
        that is empty, a single character or matches nothing gives ``[]``.
        """
        if limit <= 0:
            return []
        parts = [p for p in (normalise(s) for s in re.split(r"[,;/\n]+", query)) if p]
        if not parts:
            return []
        best: list[_Hit] = []
        for place_words, codes in self._interpret(parts):
            hits = self._lookup(" ".join(place_words), codes)
            if hits and (not best or hits[0][0] < best[0][0]):
                best = hits
                if best[0][0] <= _FOLDED:
                    break
        return [self._places[hit[3]] for hit in best[:limit]]

    def nearest(self, lat: float, lon: float, *, max_km: float = 30.0) -> NearestPlace | None:
        """The place closest to a WGS84 point (great-circle distance), if within ``max_km``.

        Returns None when no settlement lies within ``max_km`` (a point abroad or at sea) or
        the coordinates are not valid numbers. The result names the nearest populated place
        of 500+ people, so it is an approximation of where the point is.
        """
        if not (math.isfinite(lat) and math.isfinite(lon) and math.isfinite(max_km)):
            return None
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or max_km < 0:
            return None
        if max_km > _BRUTE_FORCE_KM:
            candidates: Iterable[int] = range(len(self._places))
        else:
            dlat = max_km / _KM_PER_DEGREE
            widest = min(89.0, abs(lat) + dlat)
            dlon = min(180.0, dlat / max(math.cos(math.radians(widest)), 1e-6))
            lat0, lon0 = _cell(lat - dlat, lon - dlon)
            lat1, lon1 = _cell(lat + dlat, lon + dlon)
            grid = self._grid
            found: list[int] = []
            for i in range(lat0, lat1 + 1):
                for j in range(lon0, lon1 + 1):
                    bucket = grid.get((i, j))
                    if bucket:
                        found.extend(bucket)
            candidates = found
        best: Place | None = None
        best_km = math.inf
        for idx in candidates:
            place = self._places[idx]
            km = haversine_km(lat, lon, place.lat, place.lon)
            if km < best_km:
                best, best_km = place, km
        if best is None or best_km > max_km:
            return None
        return NearestPlace(best, best_km)

    # -- internals -----------------------------------------------------------------------------

    def _interpret(self, parts: list[str]) -> list[tuple[list[str], frozenset[str] | None]]:
        """Possible (place words, oblast codes) readings of a normalised, comma-split query."""
        if len(parts) > 1:
            place: list[str] | None = None
            codes: frozenset[str] | None = None
            for i, part in enumerate(parts):
                named = _oblast_of(part, allow_weak=place is not None or i > 0)
                if named is not None and (place is not None or i < len(parts) - 1):
                    codes = codes or named
                elif _is_noise(part):
                    continue
                elif place is None:
                    place = _strip_type_words(part.split())
            if place is None:
                return []
            return [(place, codes)]

        words = parts[0].split()
        readings: list[tuple[list[str], frozenset[str] | None]] = [(_strip_type_words(words), None)]
        for k in range(len(words) - 1, 0, -1):
            tail = _oblast_of(" ".join(words[k:]), allow_weak=True)
            if tail is not None:
                readings.append((_strip_type_words(words[:k]), tail))
            head = _oblast_of(" ".join(words[:k]), allow_weak=False)
            if head is not None:
                readings.append((_strip_type_words(words[k:]), head))
        return readings

    def _lookup(self, query: str, codes: frozenset[str] | None) -> list[_Hit]:
        """All hits for a normalised place name, sorted best first (see :meth:`search`)."""
        letters = len(query.replace(" ", ""))
        if letters < 2:
            return []
        places, own_keys, alt_keys = self._places, self._own_keys, self._alt_keys
        own_folded = self._own_folded
        # place index -> (tier, typos, 0 if matched by a display name else 1)
        tiers: dict[int, tuple[int, int, int]] = {}

        def add(indices: Iterable[int], kind: int, fkey: str, typos: int = 0) -> None:
            for idx in indices:
                if codes is not None and places[idx].oblast not in codes:
                    continue
                tier = kind
                if kind == _FOLDED:
                    if query in own_keys[idx]:
                        tier = _EXACT_NAME
                    elif query in alt_keys[idx]:
                        tier = _EXACT_ALT
                elif kind == _FOLDED_PREFIX and any(
                    k.startswith(query) for keys in (own_keys[idx], alt_keys[idx]) for k in keys
                ):
                    tier = _PREFIX
                rank = (tier, typos, 0 if fkey in own_folded[idx] else 1)
                if idx not in tiers or tiers[idx] > rank:
                    tiers[idx] = rank

        fquery = fold(query)
        folded = self._folded
        add(folded.get(fquery, ()), _FOLDED, fquery)
        if letters >= 3:
            for fkey in _with_prefix(self._sorted_folded, fquery):
                if fkey != fquery:
                    add(folded[fkey], _FOLDED_PREFIX, fkey)
        if not any(rank[0] <= _FOLDED for rank in tiers.values()):
            for fkey, typos in self._fuzzy_keys(fquery):
                add(folded[fkey], _FUZZY, fkey, typos)
        if len(fquery) < 4:  # short queries: only true prefixes, not "Київ" -> "Ківшарівка"
            tiers = {idx: rank for idx, rank in tiers.items() if rank[0] != _FOLDED_PREFIX}
        hits = [(*rank, idx) for idx, rank in tiers.items()]
        hits.sort(key=lambda h: (h[:3], -places[h[3]].population, places[h[3]].geonameid))
        return hits

    def _fuzzy_keys(self, fquery: str) -> list[tuple[str, int]]:
        """Folded keys within the typo budget of ``fquery``, with their distance.

        One typo is found exhaustively by generating every one-edit variant of the query and
        looking it up; two typos (long queries only) by comparing with the keys next to the
        query in sorted order, forwards and backwards, so a typo near either end is caught.
        """
        limit = _max_typos(len(fquery))
        if limit == 0:
            return []
        folded = self._folded
        cyrillic, latin = self._alphabets
        alphabet = cyrillic if _CYRILLIC_LETTER.search(fquery) else latin
        found = {key: 1 for key in _edits1(fquery, alphabet + " ") if key in folded}
        if limit >= 2:
            for key in self._neighbour_keys(fquery):
                if key not in found:
                    distance = _edit_distance(fquery, key, limit)
                    if distance <= limit:
                        found[key] = distance
        return list(found.items())

    def _neighbour_keys(self, fquery: str) -> list[str]:
        keys = self._sorted_folded
        pos = bisect.bisect_left(keys, fquery)
        out = keys[max(0, pos - _NEIGHBOURS) : pos + _NEIGHBOURS]
        backwards = self._reversed_folded
        pos = bisect.bisect_left(backwards, fquery[::-1])
        out.extend(key[::-1] for key in backwards[max(0, pos - _NEIGHBOURS) : pos + _NEIGHBOURS])
        return out


_FIELDS: Final = (
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
