#!/usr/bin/env python3
"""Build the bot's gazetteer of Ukrainian settlements from KATOTTG and GeoNames.

Usage (maintainers only; the bot itself needs nothing but the committed output file)::

    pip install -e '.[gazetteer]'          # openpyxl, to read the codifier
    python scripts/build_gazetteer.py \\
        ../shared/data/gazetteer/katottg_kodifikator.xlsx \\
        ../shared/data/gazetteer/geonames_UA.zip \\
        -o bot/data/gazetteer-ua.json.gz

Sources (see docs/gazetteer.md for their licences):

* **KATOTTG** (Кодифікатор адміністративно-територіальних одиниць та територій
  територіальних громад, Ministry for Development of Communities and Territories of Ukraine):
  every settlement (categories M місто, X селище, C село, K Київ/Севастополь) with its
  official Ukrainian name, code, raion and hromada; city districts (category B) become
  search aliases of their city.
* **GeoNames** country extract ``UA.txt`` (CC BY 4.0): coordinates, population, former and
  foreign names. A GeoNames populated place is joined to a KATOTTG settlement within the
  raion (GeoNames admin2 = the first four digits of the KATOTTG raion code) when their names
  agree (see :func:`match_raion`). Settlements without a match get an approximate point: the
  hromada's centre (its first settlement in the codifier) or the median of the hromada's (or
  raion's) matched settlements, and are marked so. GeoNames places that match no settlement
  but lie within a city (sections such as Салтівка, villages absorbed by a city) become that
  city's search aliases and extra points for nearest-place lookups.

The Latin names are the official transliteration (Cabinet of Ministers of Ukraine, resolution
no. 55 of 27 January 2010; :func:`kmu2010`). No Russian names are displayed: GeoNames'
Cyrillic alternate names carry no language tags, so Russian spellings (and a few regular
Russian ending forms guessed here) are kept as search aliases only.

The output is deterministic: the same inputs give a byte-identical file (no build date; the
inputs' SHA-256 digests are recorded instead).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import io
import json
import math
import re
import sys
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "bot" / "data" / "gazetteer-ua.json.gz"
FORMAT = "tipbot-gazetteer/2"

#: KATOTTG first-level code -> GeoNames admin1 code (the oblast codes the bot stores).
#: Checked against the GeoNames file on every build (admin2 starts with the KATOTTG code).
OBLASTS: Mapping[str, str] = {
    "01": "11",  # Автономна Республіка Крим
    "05": "23",  # Вінницька
    "07": "24",  # Волинська
    "12": "04",  # Дніпропетровська
    "14": "05",  # Донецька
    "18": "27",  # Житомирська
    "21": "25",  # Закарпатська
    "23": "26",  # Запорізька
    "26": "06",  # Івано-Франківська
    "32": "13",  # Київська
    "35": "10",  # Кіровоградська
    "44": "14",  # Луганська
    "46": "15",  # Львівська
    "48": "16",  # Миколаївська
    "51": "17",  # Одеська
    "53": "18",  # Полтавська
    "56": "19",  # Рівненська
    "59": "21",  # Сумська
    "61": "22",  # Тернопільська
    "63": "07",  # Харківська
    "65": "08",  # Херсонська
    "68": "09",  # Хмельницька
    "71": "01",  # Черкаська
    "73": "03",  # Чернівецька
    "74": "02",  # Чернігівська
    "80": "12",  # Київ
    "85": "20",  # Севастополь
}

SETTLEMENT_CATEGORIES = frozenset("MXCK")
KATOTTG_ATTRIBUTION = (
    "Кодифікатор адміністративно-територіальних одиниць та територій територіальних громад "
    "(КАТОТТГ), Міністерство розвитку громад та територій України / Ministry for Development "
    "of Communities and Territories of Ukraine"
)
GEONAMES_ATTRIBUTION = (
    "Contains data from GeoNames (www.geonames.org), licensed under CC BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/)"
)

# --- KMU 2010 transliteration ------------------------------------------------------------------

_KMU: Mapping[str, str] = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "h",
    "ґ": "g",
    "д": "d",
    "е": "e",
    "є": "ie",
    "ж": "zh",
    "з": "z",
    "и": "y",
    "і": "i",
    "ї": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ь": "",
    "ю": "iu",
    "я": "ia",
}
# At the start of a word є ї й ю я are written ye yi y yu ya (Єнакієве -> Yenakiieve).
_KMU_INITIAL: Mapping[str, str] = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_APOSTROPHES = frozenset("'’ʼ`")


def kmu2010(text: str) -> str:
    """Official Ukrainian -> Latin transliteration (KMU resolution no. 55 of 2010).

    Є Ї Й Ю Я are Ye Yi Y Yu Ya at the start of a word (after a space or hyphen) and ie i i
    iu ia elsewhere; "зг" is "zgh" (Згорани -> Zghorany, not "zh" as for ж); the soft sign
    and the apostrophe are not rendered. Other characters are kept. Capitals follow the
    source: an initial capital gives "Shch", a word in capitals "SHCH".
    """
    out: list[str] = []
    in_word = False
    previous = ""
    for i, char in enumerate(text):
        lower = char.lower()
        if lower in _APOSTROPHES and in_word:
            continue  # Знам'янка -> Znamianka: the apostrophe keeps the word going
        if lower in _KMU:
            out.append(_cased(_kmu_letter(lower, previous, in_word), text, i, in_word))
            in_word = True
        else:
            out.append(char)
            in_word = char.isalpha()
        previous = lower
    return "".join(out)


def _kmu_letter(lower: str, previous: str, in_word: bool) -> str:
    """The Latin letters of a lower-case Cyrillic one, given the letter before it."""
    if not in_word and lower in _KMU_INITIAL:
        return _KMU_INITIAL[lower]
    if lower == "г" and previous == "з":
        return "gh"
    return _KMU[lower]


def _cased(latin: str, text: str, i: int, in_word: bool) -> str:
    """``latin`` in the case of ``text[i]``: all capitals within a word in capitals, else an
    initial capital for a capital letter."""
    if text[i] == text[i].lower() or not latin:
        return latin
    if _is_capital(text[i + 1 : i + 2]) or (in_word and _is_capital(text[i - 1 : i])):
        return latin.upper()
    return latin[0].upper() + latin[1:]


def _is_capital(char: str) -> bool:
    return char.isalpha() and char.isupper()


# --- runtime helpers ---------------------------------------------------------------------------


def runtime() -> ModuleType:
    """``bot/gazetteer.py``, loaded without importing the ``bot`` package (its settings)."""
    name = "_tipbot_gazetteer_runtime"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "bot" / "gazetteer.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load bot/gazetteer.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --- KATOTTG -----------------------------------------------------------------------------------


@dataclass
class Unit:
    """An object of the codifier (oblast, raion, hromada, settlement or city district)."""

    code: str
    category: str
    name: str
    levels: tuple[str | None, ...]


@dataclass
class Codifier:
    edition: str
    oblasts: dict[str, Unit]
    raions: dict[str, Unit]
    hromadas: dict[str, Unit]
    settlements: list[Unit]
    districts: list[Unit]


_HEADER = ("Перший рівень", "Другий рівень", "Третій рівень", "Четвертий рівень")


def _clean(name: str) -> str:
    return " ".join(str(name).split())


def read_katottg(path: Path) -> Codifier:
    """The codifier's objects from its xlsx (as published: a title block, then a table)."""
    workbook = _openpyxl().load_workbook(path, read_only=True, data_only=True)
    try:
        edition, units = _read_table(iter(workbook.worksheets[0].iter_rows(values_only=True)))
    finally:
        workbook.close()
    if not units:
        raise SystemExit(f"{path}: no KATOTTG table found (header {_HEADER!r})")
    unknown = {u.code[2:4] for u in units} - set(OBLASTS)
    if unknown:
        raise SystemExit(f"{path}: unknown first-level codes {sorted(unknown)}")
    return _classify(edition, units)


def _openpyxl() -> ModuleType:
    try:
        import openpyxl  # type: ignore[import-untyped]  # only the build needs it
    except ImportError:
        raise SystemExit(
            "openpyxl is needed to read the codifier: pip install -e '.[gazetteer]'"
        ) from None
    return openpyxl  # type: ignore[no-any-return]


def _read_table(rows: Iterator[tuple[Any, ...]]) -> tuple[str, list[Unit]]:
    """The edition (the title block's text) and the units of the table after the header; no
    units if there is no header."""
    edition_parts: list[str] = []
    for row in rows:
        cells = _cells(row)
        if cells[:4] == _HEADER:
            units = (_unit(_cells(row)) for row in rows)
            return " ".join(edition_parts), [unit for unit in units if unit is not None]
        edition_parts.extend(_clean(c) for c in cells if isinstance(c, str))
    return " ".join(edition_parts), []


def _cells(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The first seven cells of a row, padded with None."""
    return tuple(row[:7]) + (None,) * (7 - len(row[:7]))


def _unit(cells: tuple[Any, ...]) -> Unit | None:
    """The unit a row of the table describes; None for a row without a category."""
    *raw_levels, category, name = cells
    if not category:
        return None
    levels = tuple(str(c).strip() if c else None for c in raw_levels)
    code = next(c for c in reversed(levels) if c)
    return Unit(code, str(category).strip(), _clean(str(name)), levels)


def _classify(edition: str, units: Iterable[Unit]) -> Codifier:
    """The units sorted by category: oblasts, raions, hromadas, settlements, city districts."""
    codifier = Codifier(edition, {}, {}, {}, [], [])
    by_code = {"O": codifier.oblasts, "P": codifier.raions, "H": codifier.hromadas}
    for unit in units:
        if unit.category in by_code:
            by_code[unit.category][unit.code] = unit
        elif unit.category in SETTLEMENT_CATEGORIES:
            codifier.settlements.append(unit)
        elif unit.category == "B":
            codifier.districts.append(unit)
    return codifier


# --- GeoNames ----------------------------------------------------------------------------------

# Populated-place feature codes, by how good a match for a settlement they are.
_REGULAR = frozenset(
    {"PPL", "PPLA", "PPLA2", "PPLA3", "PPLA4", "PPLA5", "PPLC", "PPLG", "PPLL", "PPLF", "PPLS"}
)
_SECTION = frozenset({"PPLX"})  # a section of a populated place


def _kind(feature_code: str) -> int:
    if feature_code in _REGULAR:
        return 0
    if feature_code in _SECTION:
        return 1
    return 2  # historical, abandoned, destroyed, ...


@dataclass
class Feature:
    """A GeoNames populated place, with its names sorted by script and normalised."""

    geonameid: int
    name: str
    lat: float
    lon: float
    code: str
    admin1: str
    admin2: str
    population: int
    modified: str
    main: set[str] = field(default_factory=set)  # normalised main and ASCII names
    cyrillic: set[str] = field(default_factory=set)  # normalised
    latin: set[str] = field(default_factory=set)  # normalised

    @property
    def kind(self) -> int:
        return _kind(self.code)


_CYRILLIC_LETTERS = frozenset("абвгґдеєжзиіїйклмнопрстуфхцчшщьюяёъыэ")
_LATIN_RE = re.compile(r"[^\W\d_]")


def _script(normalised: str) -> str | None:
    """ "cyr" or "lat" for a normalised name written in one of them, else None."""
    letters = normalised.replace(" ", "")
    if not letters or any(map(str.isdigit, letters)):
        return None
    if set(letters) <= _CYRILLIC_LETTERS:
        return "cyr"
    if all(map(_is_latin, letters)):
        return "lat"
    return None


def _is_latin(char: str) -> bool:
    return char.isascii() or "LATIN" in unicodedata.name(char, "")


def _usable(raw: str) -> bool:
    """GeoNames alternate names worth searching: not codes (IEV, MPW), not lower-case
    romanisations of non-European names ("ji fu"), not long descriptions."""
    raw = raw.strip()
    if not raw or len(raw) > 60 or not raw[0].isupper():
        return False
    return not (raw.isupper() and len(raw) <= 4 and raw.isascii())


def read_geonames(path: Path, normalise: Callable[[str], str]) -> list[Feature]:
    """Populated places (feature class P) of ``UA.txt`` in a GeoNames country zip."""
    with zipfile.ZipFile(path) as archive:
        member = next((n for n in archive.namelist() if n.endswith("UA.txt")), None)
        if member is None:
            raise SystemExit(f"{path}: no UA.txt inside")
        text = io.TextIOWrapper(archive.open(member), encoding="utf-8")
        features = [_feature(line.rstrip("\n").split("\t"), normalise) for line in text]
    return sorted((f for f in features if f is not None), key=lambda f: f.geonameid)


def _feature(cols: list[str], normalise: Callable[[str], str]) -> Feature | None:
    """The populated place a line of ``UA.txt`` describes (split into columns), if it is one."""
    if len(cols) < 19 or cols[6] != "P" or cols[8] != "UA":
        return None
    feature = Feature(
        geonameid=int(cols[0]),
        name=cols[1],
        lat=float(cols[4]),
        lon=float(cols[5]),
        code=cols[7],
        admin1=cols[10],
        admin2=cols[11],
        population=int(cols[14] or 0),
        modified=cols[18],
    )
    feature.main = {normalise(cols[1]), normalise(cols[2])} - {""}
    alternates = (n for n in cols[3].split(",") if _usable(n))
    _sort_names(feature, [cols[1], cols[2], *alternates], normalise)
    return feature


def _sort_names(feature: Feature, names: Iterable[str], normalise: Callable[[str], str]) -> None:
    """Add the names written in Cyrillic or in Latin letters, normalised, to the feature's."""
    by_script = {"cyr": feature.cyrillic, "lat": feature.latin}
    for raw in names:
        key = normalise(raw)
        found = by_script.get(_script(key) or "")
        if found is not None:
            found.add(key)


# --- matching ----------------------------------------------------------------------------------


def loose_latin(key: str) -> str:
    """Latin key that forgives older romanisations: Kryvyy/Kryvyi, Zaporizhzhya/-zhia."""
    plain = unicodedata.normalize("NFKD", key)
    plain = "".join(c for c in plain if c.isascii())
    plain = plain.replace("x", "ks").replace("w", "v").replace("j", "i").replace("y", "i")
    return re.sub(r"(.)\1+", r"\1", plain)


@dataclass
class Settlement:
    unit: Unit
    oblast: str  # GeoNames admin1
    raion: str | None  # KATOTTG raion code (None for Kyiv, Sevastopol)
    hromada: str | None
    name_en: str
    # Match keys by level (see match_raion): translit, loose translit, Ukrainian name,
    # translit, folded Ukrainian name, loose translit.
    keys: tuple[str, str, str, str, str, str]
    feature: Feature | None = None
    how: str = ""  # how the match was made (for statistics)
    lat: float = 0.0
    lon: float = 0.0
    approx: int = 0  # 0 GeoNames point; 1 hromada centre; 2 hromada median; 3 raion median
    aliases: set[str] = field(default_factory=set)
    sections: list[Feature] = field(default_factory=list)


_LEVELS = 6
# Levels a GeoNames section or historical place may be joined at: its main name only (its
# alternate names are often the names of other places: Oleksandrivskyi district of Donetsk
# is also "Олександрівка").
_MAIN_LEVELS = 2


def _feature_keys(feature: Feature, fold: Callable[[str], str]) -> tuple[set[str], ...]:
    """A place's keys by level: main name, loosely; Cyrillic names; Latin names; Cyrillic
    names up to Ukrainian/Russian spelling; Latin names, loosely."""
    return (
        feature.main,
        {loose_latin(k) for k in feature.main},
        feature.cyrillic,
        feature.latin,
        {fold(k) for k in feature.cyrillic},
        {loose_latin(k) for k in feature.latin},
    )


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


_Component = tuple[list[Settlement], list[Feature]]


def match_raion(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    fold: Callable[[str], str],
    used: set[int],
) -> list[_Component]:
    """Join settlements and GeoNames places of one raion by name; returns the ambiguous groups.

    Stages, strongest first: regular populated places before sections before historical
    ones, and within each, the official transliteration equal to GeoNames' main name
    (exactly, then up to older romanisations: Kryvyy Rih), the Ukrainian name among its
    Cyrillic names, the transliteration among its Latin names, equality up to
    Ukrainian/Russian spelling (fold) and older romanisations of alternate names. Sections
    and historical places are joined by their main name only. At each stage, a settlement
    and a place that only match each other are joined; groups of namesakes are returned for
    :func:`resolve_by_distance`.
    """
    fkeys = {f.geonameid: _feature_keys(f, fold) for f in features}
    deferred: list[_Component] = []
    for kind, level in _STAGES:
        index = _stage_index(features, fkeys, kind, level, used)
        if index:
            deferred += _match_stage(settlements, index, level, f"name{level}/kind{kind}", used)
    return deferred


# (feature kind, key level) of each stage of match_raion, in order.
_STAGES = [
    (kind, level) for kind in (0, 1, 2) for level in range(_MAIN_LEVELS if kind else _LEVELS)
]


def _stage_index(
    features: Sequence[Feature],
    fkeys: Mapping[int, tuple[set[str], ...]],
    kind: int,
    level: int,
    used: set[int],
) -> dict[str, list[Feature]]:
    """The places of ``kind`` not joined yet, by their keys of ``level``."""
    index: dict[str, list[Feature]] = defaultdict(list)
    for f in features:
        if f.kind == kind and f.geonameid not in used:
            for key in fkeys[f.geonameid][level]:
                index[key].append(f)
    return index


def _match_stage(
    settlements: Sequence[Settlement],
    index: Mapping[str, list[Feature]],
    level: int,
    how: str,
    used: set[int],
) -> list[_Component]:
    """Join the settlements and places that only match each other at one stage; return the
    other groups of settlements and places that match."""
    deferred: list[_Component] = []
    for ss, ff in _match_groups(settlements, index, level):
        if len(ss) == 1 and len(ff) == 1:
            _join(ss[0], ff[0], how, used)
        else:
            deferred.append((ss, ff))
    return deferred


def _match_groups(
    settlements: Sequence[Settlement], index: Mapping[str, list[Feature]], level: int
) -> list[_Component]:
    """The connected groups of settlements (not joined yet) and places whose keys of
    ``level`` are equal, in a fixed order, each sorted by code."""
    edges = [(s, f) for s in settlements if s.feature is None for f in index.get(s.keys[level], ())]
    uf = _UnionFind()
    for s, f in edges:
        uf.union(("s", s.unit.code), ("f", f.geonameid))
    groups: dict[Any, tuple[dict[str, Settlement], dict[int, Feature]]] = {}
    for s, f in edges:
        ss, ff = groups.setdefault(uf.find(("s", s.unit.code)), ({}, {}))
        ss[s.unit.code] = s
        ff[f.geonameid] = f
    return [_component(*groups[root]) for root in sorted(groups, key=str)]


def _component(ss: Mapping[str, Settlement], ff: Mapping[int, Feature]) -> _Component:
    return (
        sorted(ss.values(), key=lambda s: s.unit.code),
        sorted(ff.values(), key=lambda f: f.geonameid),
    )


def _join(s: Settlement, f: Feature, how: str, used: set[int]) -> None:
    s.feature, s.how = f, how
    used.add(f.geonameid)


def _importance(f: Feature) -> tuple[int, int, int]:
    seat = f.code.startswith("PPLA") or f.code == "PPLC"
    return (0 if seat else 1, -f.population, f.geonameid)


def resolve_by_distance(
    components: Iterable[_Component],
    anchors: Mapping[str, tuple[float, float]],
    used: set[int],
    max_km: float = 25.0,
) -> int:
    """Join groups of namesakes (see :func:`match_raion`); returns how many were joined.

    1. By distance from each settlement's hromada anchor, nearest pairs first, within
       ``max_km``. Namesakes of one hromada share an anchor, so they are skipped here.
    2. A city (місто) among them gets the most important place (an administrative seat,
       else the largest population) when one place is clearly that (місто Липовець and
       селище Липовець; Шахтарське the city and the селище in another hromada).
    3. Namesakes of one hromada that differ in category (село, селище, місто) and have as
       many places near their anchor: larger category to the more important place.
    4. Step 1 again for the rest; then a last settlement and a last place are joined
       (if the settlement's hromada has an anchor, within ``max_km`` of it).
    """
    joined = 0
    seen: set[tuple[str, ...]] = set()
    for settlements, features in components:
        key = tuple(s.unit.code for s in settlements)
        if key not in seen:
            seen.add(key)
            joined += _resolve(settlements, features, anchors, used, max_km)
    return joined


def _resolve(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    anchors: Mapping[str, tuple[float, float]],
    used: set[int],
    max_km: float,
) -> int:
    """The steps of :func:`resolve_by_distance` for one group, in order."""
    return (
        _by_distance(settlements, features, anchors, used, max_km)
        + _city_first(settlements, features, used)
        + _by_category(settlements, features, anchors, used, max_km)
        + _by_distance(settlements, features, anchors, used, max_km)
        + _last_pair(settlements, features, anchors, used, max_km)
    )


def _free(features: Iterable[Feature], used: set[int]) -> list[Feature]:
    """The places not joined yet."""
    return [f for f in features if f.geonameid not in used]


def _city_first(
    settlements: Sequence[Settlement], features: Sequence[Feature], used: set[int]
) -> int:
    """Step 2: the one city not joined yet gets the clearly most important place."""
    cities = [s for s in settlements if s.feature is None and s.unit.category in ("M", "K")]
    free = sorted(_free(features, used), key=_importance)
    if len(cities) != 1 or not _clearly_first(free):
        return 0
    _join(cities[0], free[0], "city", used)
    return 1


def _clearly_first(free: Sequence[Feature]) -> bool:
    """Whether the first of places sorted by importance clearly leads: alone or ahead of the
    second by seat or population, and a seat or a place with people."""
    if not free:
        return False
    top = free[0]
    clear = len(free) == 1 or _importance(top)[:2] < _importance(free[1])[:2]
    return clear and (top.population > 0 or _importance(top)[0] == 0)


def _last_pair(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    anchors: Mapping[str, tuple[float, float]],
    used: set[int],
    max_km: float,
) -> int:
    """Step 4's end: a last settlement and a last place, near its anchor if it has one."""
    open_ = [s for s in settlements if s.feature is None]
    free = _free(features, used)
    if len(open_) != 1 or len(free) != 1:
        return 0
    s, f = open_[0], free[0]
    anchor = anchors.get(s.hromada or "")
    if anchor is not None and haversine_km(*anchor, f.lat, f.lon) > max_km:
        return 0
    _join(s, f, "last", used)
    return 1


_CATEGORY_ORDER = {"K": 0, "M": 1, "X": 2, "C": 3}


def _open(
    settlements: Iterable[Settlement], anchors: Mapping[str, tuple[float, float]]
) -> list[Settlement]:
    """The settlements not joined yet whose hromada has an anchor."""
    return [s for s in settlements if s.feature is None and s.hromada in anchors]


def _by_category(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    anchors: Mapping[str, tuple[float, float]],
    used: set[int],
    max_km: float,
) -> int:
    by_hromada: dict[str, list[Settlement]] = defaultdict(list)
    for s in _open(settlements, anchors):
        by_hromada[s.hromada or ""].append(s)
    joined = 0
    for hromada in sorted(by_hromada):
        group = sorted(by_hromada[hromada], key=lambda s: _CATEGORY_ORDER[s.unit.category])
        if len(group) >= 2 and len({s.unit.category for s in group}) == len(group):
            near = _near(features, used, anchors[hromada], max_km)
            joined += _join_in_order(group, near, "category", used)
    return joined


def _near(
    features: Iterable[Feature], used: set[int], anchor: tuple[float, float], max_km: float
) -> list[Feature]:
    """The places not joined yet within ``max_km`` of ``anchor``, most important first."""
    alat, alon = anchor
    near = (f for f in _free(features, used) if haversine_km(alat, alon, f.lat, f.lon) <= max_km)
    return sorted(near, key=_importance)


def _join_in_order(
    group: Sequence[Settlement], features: Sequence[Feature], how: str, used: set[int]
) -> int:
    """Join each settlement with the place in the same position, if there are as many."""
    if len(features) != len(group):
        return 0
    for s, f in zip(group, features, strict=True):
        _join(s, f, how, used)
    return len(group)


def _by_distance(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    anchors: Mapping[str, tuple[float, float]],
    used: set[int],
    max_km: float,
) -> int:
    joined = 0
    for km, _, _, s, f in _pairs_by_distance(settlements, features, anchors, used):
        if km > max_km:
            break
        if s.feature is None and f.geonameid not in used:
            _join(s, f, "distance", used)
            joined += 1
    return joined


def _pairs_by_distance(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    anchors: Mapping[str, tuple[float, float]],
    used: set[int],
) -> list[tuple[float, str, int, Settlement, Feature]]:
    """Every pair of a settlement alone (not joined yet) in its hromada and a free place,
    nearest to the hromada's anchor first."""
    open_ = _open(settlements, anchors)
    per_hromada = Counter(s.hromada for s in open_)
    alone = [s for s in open_ if per_hromada[s.hromada] == 1]
    free = _free(features, used)
    return sorted(
        (haversine_km(*anchors[s.hromada or ""], f.lat, f.lon), s.unit.code, f.geonameid, s, f)
        for s in alone
        for f in free
    )


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _median_point(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    return _median([p[0] for p in points]), _median([p[1] for p in points])


# Sevastopol's and Kyiv's GeoNames areas hold places the codifier puts in Crimea's and Kyiv
# Oblast's raions (Інкерман).
_NEIGHBOUR_AREAS = {"11": ("11", "20"), "13": ("13", "12")}


def match_nearby(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    anchors: Mapping[str, tuple[float, float]],
    fold: Callable[[str], str],
    used: set[int],
    max_km: float = 15.0,
) -> int:
    """Join what is left with GeoNames places that lack a raion code or carry another one
    (GeoNames' raion codes are sometimes missing or off by a border): same oblast, same name
    (main, Cyrillic or Latin), within ``max_km`` of the hromada's anchor, and the only such
    candidate on both sides. Returns how many were joined."""
    spare, fkeys = _spare(features, fold, used)
    claims: dict[int, list[tuple[Settlement, Feature]]] = defaultdict(list)
    for s in _open(settlements, anchors):
        found = _same_name_near(s, spare, fkeys, anchors[s.hromada or ""], max_km)
        if len(found) == 1:
            claims[found[0].geonameid].append((s, found[0]))
    joined = 0
    for _, claimants in sorted(claims.items()):
        if len(claimants) == 1:
            _join(*claimants[0], "nearby", used)
            joined += 1
    return joined


def _spare(
    features: Iterable[Feature], fold: Callable[[str], str], used: set[int]
) -> tuple[dict[str, list[Feature]], dict[int, tuple[set[str], ...]]]:
    """The regular places not joined yet, by GeoNames admin1, and their keys."""
    spare: dict[str, list[Feature]] = defaultdict(list)
    fkeys: dict[int, tuple[set[str], ...]] = {}
    for f in features:
        if f.geonameid not in used and f.kind == 0:
            fkeys[f.geonameid] = _feature_keys(f, fold)
            spare[f.admin1].append(f)
    return spare, fkeys


def _same_name_near(
    s: Settlement,
    spare: Mapping[str, list[Feature]],
    fkeys: Mapping[int, tuple[set[str], ...]],
    anchor: tuple[float, float],
    max_km: float,
) -> list[Feature]:
    """Spare places of the settlement's oblast outside its GeoNames raion, of the same name
    (main, Cyrillic or Latin) and within ``max_km`` of its hromada's anchor."""
    alat, alon = anchor
    raion = (s.raion or "")[2:6]
    return [
        f
        for oblast in _NEIGHBOUR_AREAS.get(s.oblast, (s.oblast,))
        for f in spare.get(oblast, ())
        if f.admin2 != raion
        and _same_name(s, fkeys[f.geonameid])
        and haversine_km(alat, alon, f.lat, f.lon) <= max_km
    ]


def _same_name(s: Settlement, keys: tuple[set[str], ...]) -> bool:
    return any(s.keys[level] in keys[level] for level in range(4))


def drop_outliers(settlements: Iterable[Settlement], used: set[int]) -> int:
    """Undo joins that put a settlement far from the rest of its hromada.

    GeoNames sometimes has a namesake or a misplaced point (Старий Остропіль 60 km from its
    hromada's villages). With three or more located settlements, a village or селище
    further than max(20 km, 4 x the hromada's median spread) from their median point is
    unjoined (and gets an approximate point instead). Returns how many.
    """
    members: dict[str, list[tuple[Settlement, Feature]]] = defaultdict(list)
    for s in settlements:
        if s.hromada is not None and s.feature is not None:
            members[s.hromada].append((s, s.feature))
    return sum(_drop_far(group, used) for group in members.values() if len(group) >= 3)


def _drop_far(group: Sequence[tuple[Settlement, Feature]], used: set[int]) -> int:
    """Unjoin the villages and селища of one hromada that lie far from the others."""
    distances = _from_median([(f.lat, f.lon) for _, f in group])
    limit = max(20.0, 4 * _median(distances))
    dropped = 0
    for (s, f), km in zip(group, distances, strict=True):
        # Cities are left alone: a city's villages can all lie on one side of it
        # (Донецьк is 25 km from the median of its hromada's villages).
        if km > limit and s.unit.category not in ("M", "K"):
            used.discard(f.geonameid)
            s.feature, s.how = None, "outlier"
            dropped += 1
    return dropped


def _from_median(points: Sequence[tuple[float, float]]) -> list[float]:
    """Each point's distance from the median point."""
    mlat, mlon = _median_point(points)
    return [haversine_km(mlat, mlon, lat, lon) for lat, lon in points]


def hromada_anchors(
    settlements: Iterable[Settlement],
) -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """Per hromada: its centre's point if located (kind 1), else the median of its located
    settlements (kind 2). The centre is the hromada's first settlement in the codifier."""
    centre, points = _hromada_points(settlements)
    anchors: dict[str, tuple[float, float]] = {}
    kinds: dict[str, int] = {}
    for hromada, pts in points.items():
        found = centre.get(hromada)
        anchors[hromada], kinds[hromada] = (found, 1) if found else (_median_point(pts), 2)
    return anchors, kinds


def _hromada_points(
    settlements: Iterable[Settlement],
) -> tuple[dict[str, tuple[float, float]], dict[str, list[tuple[float, float]]]]:
    """Per hromada, its centre's point (if located) and the points of its located ones."""
    centre: dict[str, tuple[float, float]] = {}
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    first: dict[str, str] = {}
    for s in settlements:
        if s.hromada is None:
            continue
        first.setdefault(s.hromada, s.unit.code)
        if s.feature is not None:
            point = (s.feature.lat, s.feature.lon)
            points[s.hromada].append(point)
            if first[s.hromada] == s.unit.code:
                centre[s.hromada] = point
    return centre, points


# --- city sections -----------------------------------------------------------------------------

_SPECIAL_CITIES = {"12": "UA80", "20": "UA85"}  # admin1 -> KATOTTG prefix of Kyiv, Sevastopol


def city_radius_km(s: Settlement) -> float:
    """Rough radius of a settlement's built-up area: a city of 1.4 million (Kharkiv) gets
    11 km, a town of 50,000 about 2 km, villages 1 km."""
    population = s.feature.population if s.feature else 0
    if s.unit.category == "C":
        return 1.0
    return max(1.0, 0.0095 * math.sqrt(population))


def attach_sections(
    settlements: Sequence[Settlement], features: Sequence[Feature], used: set[int]
) -> int:
    """Unmatched GeoNames places inside a matched settlement become its sections."""
    special = {
        admin1: _special_city(settlements, prefix) for admin1, prefix in _SPECIAL_CITIES.items()
    }
    grid = _grid(settlements)
    attached = 0
    for f in _free(features, used):
        parent = special.get(f.admin1) or _city_around(f, grid)
        if parent is not None:
            parent.sections.append(f)
            attached += 1
    return attached


def _special_city(settlements: Iterable[Settlement], prefix: str) -> Settlement:
    """Kyiv or Sevastopol, by the prefix of its code."""
    return next(s for s in settlements if s.unit.code.startswith(prefix))


_Grid = dict[tuple[int, int], list[Settlement]]


def _grid(settlements: Iterable[Settlement]) -> _Grid:
    """The located settlements (but Kyiv and Sevastopol) by cells of a quarter degree."""
    grid: _Grid = defaultdict(list)
    for s in settlements:
        if s.feature is not None and s.unit.category != "K":
            grid[(math.floor(s.lat * 4), math.floor(s.lon * 4))].append(s)
    return grid


def _city_around(f: Feature, grid: _Grid) -> Settlement | None:
    """The settlement of the place's oblast whose built-up area holds it most closely."""
    ratios = (
        (haversine_km(f.lat, f.lon, s.lat, s.lon) / city_radius_km(s), s.unit.code, s)
        for s in _cells_around(grid, f.lat, f.lon)
        if s.oblast == f.admin1
    )
    best = min((r for r in ratios if r[0] <= 1.0), key=lambda r: r[:2], default=None)
    return None if best is None else best[2]


def _cells_around(grid: _Grid, lat: float, lon: float) -> list[Settlement]:
    """The settlements in the point's cell and the eight around it."""
    cy, cx = math.floor(lat * 4), math.floor(lon * 4)
    return [
        s for dy in range(-1, 2) for dx in range(-1, 2) for s in grid.get((cy + dy, cx + dx), ())
    ]


# --- aliases -----------------------------------------------------------------------------------

# Regular Russian forms of Ukrainian adjective endings (Ягідне -> Ягідное, Веселе ->
# Веселое, Кремінна -> Кремінная): guesses, for search only.
_RU_ENDINGS = (
    (re.compile(r"(?<=[сцз])ьке$"), "кое"),
    (re.compile(r"(?<=[сцз])ька$"), "кая"),
    (re.compile(r"(?<=[бвгджзклмнпрстфхцчшщ])е$"), "ое"),
    (re.compile(r"(?<=нн)а$"), "ая"),
)


def russian_guesses(name: str) -> set[str]:
    """Russian-looking variants of a Ukrainian name's word endings (a search aid only)."""
    guess = " ".join(_russian_ending(word) for word in name.split(" "))
    return {guess} if guess != name else set()


def _russian_ending(word: str) -> str:
    for pattern, replacement in _RU_ENDINGS:
        word = pattern.sub(replacement, word)
    return word


# --- labels ------------------------------------------------------------------------------------


def label_levels(
    rows: Sequence[Settlement],
    hromada_names: Mapping[str, tuple[str, str]],
    raion_names: Mapping[str, tuple[str, str]],
    centres: set[str],
) -> tuple[dict[str, int], list[list[Settlement]]]:
    """How much each label says, so that no two settlements share a label (uk or en).

    0: name and oblast, for Kyiv, Sevastopol and a hromada's centre whose name is unique in
    its oblast ("Буча, Київська обл."); 1: name, oblast and hromada; 2: and the raion, where
    hromadas of the same name in one oblast leave two labels alike. Namesakes that are
    still alike (in one hromada, or in two same-named hromadas of one raion) are returned
    as groups for :func:`hints`.
    """
    levels = _first_levels(rows, centres)
    labels = _Labels(levels, hromada_names, raion_names)
    for group in labels.alike(rows):
        if len({s.hromada for s in group}) > 1:
            # Same-named hromadas: the raion tells them apart.
            levels.update(dict.fromkeys((s.unit.code for s in group), 2))
    groups = {tuple(sorted(s.unit.code for s in g)): g for g in labels.alike(rows)}
    return levels, [groups[k] for k in sorted(groups)]


def _first_levels(rows: Sequence[Settlement], centres: set[str]) -> dict[str, int]:
    """Level 0 for Kyiv, Sevastopol and a hromada's centre unique by name in its oblast; 1
    for the others."""
    per_oblast = Counter((s.oblast, s.unit.name) for s in rows)
    return {s.unit.code: 0 if _says_enough(s, centres, per_oblast) else 1 for s in rows}


def _says_enough(s: Settlement, centres: set[str], per_oblast: Counter[tuple[str, str]]) -> bool:
    """Whether the name and the oblast alone label a settlement well."""
    alone = s.unit.code in centres and per_oblast[(s.oblast, s.unit.name)] == 1
    return s.unit.category == "K" or alone


@dataclass
class _Labels:
    """The labels of settlements at their levels, in Ukrainian (0) and English (1)."""

    levels: Mapping[str, int]
    hromada_names: Mapping[str, tuple[str, str]]
    raion_names: Mapping[str, tuple[str, str]]

    def label(self, s: Settlement, lang: int) -> tuple[str, ...]:
        out: tuple[str, ...] = ((s.unit.name, s.name_en)[lang], s.oblast)
        level = self.levels[s.unit.code]
        if level >= 1 and s.hromada:
            out += (self.hromada_names[s.hromada][lang],)
        if level >= 2 and s.raion:
            out += (self.raion_names[s.raion][lang],)
        return out

    def alike(self, rows: Sequence[Settlement]) -> list[list[Settlement]]:
        """Groups of settlements that share a label in either language."""
        same: dict[tuple[str, ...], list[Settlement]] = defaultdict(list)
        for lang in (0, 1):
            for s in rows:
                same[(str(lang), *self.label(s, lang))].append(s)
        return [group for group in same.values() if len(group) > 1]


_CATEGORY_WORDS = {
    "M": ("місто", "город", "city"),
    "X": ("селище", "посёлок", "settlement"),
    "C": ("село", "село", "village"),
}


def hints(groups: Iterable[Sequence[Settlement]]) -> dict[str, tuple[str, str, str]]:
    """Words that tell namesakes within one hromada apart, (uk, ru, en) for each: the
    category where theirs differ (Липовець: місто / селище), else their order in the
    codifier ("№ 2"). Such namesakes of one category share their hromada's anchor, so none
    of them has a GeoNames point that could name a neighbour instead."""
    out: dict[str, tuple[str, str, str]] = {}
    for group in groups:
        out.update(_hints_of(sorted(group, key=lambda s: s.unit.code)))
    return out


def _hints_of(members: Sequence[Settlement]) -> dict[str, tuple[str, str, str]]:
    categories = [s.unit.category for s in members]
    if len(set(categories)) == len(categories) and "K" not in categories:
        return {s.unit.code: _CATEGORY_WORDS[s.unit.category] for s in members}
    return {s.unit.code: (f"№ {n}", f"№ {n}", f"no. {n}") for n, s in enumerate(members, 1)}


# --- build -------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Stats:
    settlements: int = 0
    geonames_in_raion: int = 0
    geonames_by_distance: int = 0
    outliers: int = 0
    geonames_nearby: int = 0
    approximate: dict[int, int] = field(default_factory=dict)
    sections: int = 0
    aliases: int = 0
    index_keys: int = 0


def build(katottg: Path, geonames: Path) -> tuple[dict[str, Any], Stats]:
    """The gazetteer document (see docs/gazetteer.md) and build statistics."""
    rt = runtime()
    normalise: Callable[[str], str] = rt.normalise
    fold_: Callable[[str], str] = rt.fold

    def fold(key: str) -> str:
        return str(fold_(key))

    codifier = read_katottg(katottg)
    features = read_geonames(geonames, normalise)
    _check_oblasts(features)
    # Settlements, in codifier order (by code).
    settlements = [
        _settlement(unit, codifier, normalise, fold)
        for unit in sorted(codifier.settlements, key=lambda u: u.code)
    ]
    stats = Stats(settlements=len(settlements))
    used = _locate(settlements, features, fold, stats)
    _approximate(settlements)
    stats.approximate = dict(Counter(s.approx for s in settlements))
    stats.sections = attach_sections(settlements, features, used)
    _add_aliases(settlements, codifier.districts, normalise)
    areas = _Areas.of(codifier, settlements)
    levels, namesakes = label_levels(
        settlements, areas.hromada_names, areas.raion_names, areas.centres
    )
    document = _document(codifier, settlements, areas, levels, hints(namesakes), rt, stats)
    document["sources"] = _sources(katottg, geonames, codifier, features)
    return document, stats


def _settlement(
    unit: Unit, codifier: Codifier, normalise: Callable[[str], str], fold: Callable[[str], str]
) -> Settlement:
    oblast = OBLASTS[unit.code[2:4]]
    # Kyiv and Sevastopol have neither; Прип'ять and Чорнобиль lie directly in the oblast.
    raion = unit.levels[1] if unit.levels[1] in codifier.raions else None
    hromada = unit.levels[2] if unit.levels[2] in codifier.hromadas else None
    en = kmu2010(unit.name)
    uk_key, en_key = normalise(unit.name), normalise(en)
    loose = loose_latin(en_key)
    keys = (en_key, loose, uk_key, en_key, fold(uk_key), loose)
    return Settlement(unit, oblast, raion, hromada, en, keys)


def _locate(
    settlements: list[Settlement],
    features: Sequence[Feature],
    fold: Callable[[str], str],
    stats: Stats,
) -> set[int]:
    """Join settlements and GeoNames places, and give the joined ones the place's point;
    return the GeoNames ids joined."""
    used: set[int] = set()
    deferred = _match_in_raions(settlements, features, fold, used)
    deferred += _match_outside_raions(settlements, features, fold, used)
    _match_capitals(settlements, features, used)
    stats.outliers = drop_outliers(settlements, used)
    anchors, _ = hromada_anchors(settlements)
    stats.geonames_by_distance = resolve_by_distance(deferred, anchors, used)
    stats.outliers += drop_outliers(settlements, used)
    anchors, _ = hromada_anchors(settlements)
    stats.geonames_nearby = match_nearby(settlements, features, anchors, fold, used)
    for s in settlements:
        if s.feature is not None:
            s.lat, s.lon = round(s.feature.lat, 5), round(s.feature.lon, 5)
    stats.geonames_in_raion = sum(
        1 for s in settlements if s.feature is not None and s.how != "distance"
    )
    return used


def _match_in_raions(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    fold: Callable[[str], str],
    used: set[int],
) -> list[_Component]:
    """Join within raions (GeoNames admin2 = the raion code's first four digits)."""
    features_by_raion: dict[str, list[Feature]] = defaultdict(list)
    for f in features:
        if len(f.admin2) == 4 and f.admin2.isdigit():
            features_by_raion[f.admin2].append(f)
    settlements_by_raion: dict[str, list[Settlement]] = defaultdict(list)
    for s in settlements:
        if s.raion:
            settlements_by_raion[s.raion[2:6]].append(s)
    deferred: list[_Component] = []
    for raion in sorted(settlements_by_raion):
        found = features_by_raion.get(raion, [])
        deferred += match_raion(settlements_by_raion[raion], found, fold, used)
    return deferred


def _match_outside_raions(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    fold: Callable[[str], str],
    used: set[int],
) -> list[_Component]:
    """Settlements outside any raion (the exclusion zone): matched within the oblast."""
    outside: dict[str, list[Settlement]] = defaultdict(list)
    for s in settlements:
        if not s.raion and s.unit.category != "K":
            outside[s.oblast].append(s)
    deferred: list[_Component] = []
    for oblast in sorted(outside):
        ours = [f for f in features if f.admin1 == oblast]
        deferred += match_raion(outside[oblast], ours, fold, used)
    return deferred


def _match_capitals(
    settlements: Sequence[Settlement], features: Sequence[Feature], used: set[int]
) -> None:
    """Kyiv and Sevastopol: GeoNames' capital and first-order seat of the two admin1 areas."""
    for admin1, prefix in _SPECIAL_CITIES.items():
        city = _special_city(settlements, prefix)
        candidates = [
            f for f in features if f.admin1 == admin1 and f.kind == 0 and city.keys[0] in f.main
        ]
        if candidates:
            _join(
                city, max(candidates, key=lambda f: (f.population, -f.geonameid)), "capital", used
            )


def _approximate(settlements: Sequence[Settlement]) -> None:
    """Approximate points for the settlements without a GeoNames place."""
    anchors, kinds = hromada_anchors(settlements)
    raion_points = _raion_points(settlements)
    for s in settlements:
        if s.feature is None:
            (lat, lon), s.approx = _approximate_point(s, anchors, kinds, raion_points, settlements)
            s.lat, s.lon = round(lat, 5), round(lon, 5)


def _raion_points(settlements: Iterable[Settlement]) -> dict[str, list[tuple[float, float]]]:
    """The points of each raion's located settlements."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in settlements:
        if s.feature is not None and s.raion:
            points[s.raion].append((s.lat, s.lon))
    return points


def _approximate_point(
    s: Settlement,
    anchors: Mapping[str, tuple[float, float]],
    kinds: Mapping[str, int],
    raion_points: Mapping[str, list[tuple[float, float]]],
    settlements: Sequence[Settlement],
) -> tuple[tuple[float, float], int]:
    """A point for a settlement without one, and its kind: its hromada's anchor (1 or 2),
    else the median point of its raion's (or oblast's) located settlements (3)."""
    if s.hromada in anchors:
        return anchors[s.hromada or ""], kinds[s.hromada or ""]
    points = raion_points.get(s.raion or "") or _oblast_points(settlements, s.oblast)
    return _median_point(points), 3


def _oblast_points(settlements: Iterable[Settlement], oblast: str) -> list[tuple[float, float]]:
    """The points of the oblast's located settlements."""
    return [(s.lat, s.lon) for s in settlements if s.oblast == oblast and s.feature]


def _add_aliases(
    settlements: Sequence[Settlement], districts: Iterable[Unit], normalise: Callable[[str], str]
) -> None:
    """Search aliases: GeoNames names of the place and of its sections, Russian ending
    guesses, and the names of the city's districts."""
    for s in settlements:
        s.aliases = _aliases_of(s, normalise)
    by_code = {s.unit.code: s for s in settlements}
    for district in districts:
        parent = by_code.get(next(c for c in reversed(district.levels[:4]) if c))
        if parent is not None:
            parent.aliases |= _district_names(district, normalise)


def _aliases_of(s: Settlement, normalise: Callable[[str], str]) -> set[str]:
    names: set[str] = set()
    for place in ([s.feature] if s.feature is not None else []) + s.sections:
        names |= place.cyrillic | place.latin
    return names | {normalise(g) for g in russian_guesses(s.unit.name)}


def _district_names(district: Unit, normalise: Callable[[str], str]) -> set[str]:
    forms = (district.name, f"{district.name} район", kmu2010(district.name))
    return {normalise(form) for form in forms}


@dataclass
class _Areas:
    """The raions and hromadas in use, with their names, and the hromadas' centres."""

    raion_codes: list[str]
    hromada_codes: list[str]
    raion_names: dict[str, tuple[str, str]]
    hromada_names: dict[str, tuple[str, str]]
    centres: set[str]

    @classmethod
    def of(cls, codifier: Codifier, settlements: Sequence[Settlement]) -> _Areas:
        raion_codes = sorted({s.raion for s in settlements if s.raion})
        hromada_codes = sorted({s.hromada for s in settlements if s.hromada})
        return cls(
            raion_codes,
            hromada_codes,
            {c: _names(codifier.raions[c].name) for c in raion_codes},
            {c: _names(codifier.hromadas[c].name, " громада", " hromada") for c in hromada_codes},
            _centres(settlements),
        )


def _names(name: str, uk: str = "", en: str = "") -> tuple[str, str]:
    """An area's Ukrainian and transliterated names, each with its word."""
    return f"{name}{uk}", f"{kmu2010(name)}{en}"


def _centres(settlements: Iterable[Settlement]) -> set[str]:
    """The hromadas' centres: each hromada's first settlement in the codifier."""
    firsts: dict[str, str] = {}
    for s in settlements:
        if s.hromada:
            firsts.setdefault(s.hromada, s.unit.code)
    return set(firsts.values())


def _sources(
    katottg: Path, geonames: Path, codifier: Codifier, features: Iterable[Feature]
) -> dict[str, Any]:
    return {
        "katottg": {
            "file": katottg.name,
            "sha256": sha256(katottg),
            "edition": codifier.edition,
            "publisher": "Міністерство розвитку громад та територій України",
        },
        "geonames": {
            "file": geonames.name,
            "sha256": sha256(geonames),
            "latest_modification": max(f.modified for f in features),
            "licence": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
        },
    }


def _check_oblasts(features: Sequence[Feature]) -> None:
    votes: dict[tuple[str, str], int] = defaultdict(int)
    for f in features:
        if len(f.admin2) == 4 and f.admin2.isdigit():
            votes[(f.admin2[:2], f.admin1)] += 1
    for (katottg, admin1), count in votes.items():
        if OBLASTS.get(katottg) != admin1 and count > 5:
            raise SystemExit(f"GeoNames admin1 {admin1} has raions of KATOTTG oblast {katottg}")


def _document(
    codifier: Codifier,
    settlements: Sequence[Settlement],
    areas: _Areas,
    levels: Mapping[str, int],
    words: Mapping[str, tuple[str, str, str]],
    rt: ModuleType,
    stats: Stats,
) -> dict[str, Any]:
    """The data file's content; its layout is described in docs/gazetteer.md."""
    places = _places(settlements, areas, levels, words)
    if len(set(places["id"])) != len(places["id"]):
        raise SystemExit("KATOTTG object identifiers (last five digits) are not unique")
    index = _index(settlements, rt, stats)
    sections = _section_rows(settlements)
    approximate = sum(v for k, v in stats.approximate.items() if k)
    return {
        "format": FORMAT,
        "attribution": [KATOTTG_ATTRIBUTION, GEONAMES_ATTRIBUTION],
        "transliteration": "KMU resolution no. 55 of 27 January 2010 (official Ukrainian)",
        "counts": {
            "settlements": stats.settlements,
            "geonames_points": stats.settlements - approximate,
            "approximate_points": approximate,
            "section_points": len(sections),
            "search_keys": stats.index_keys,
        },
        "raions": [[c, *areas.raion_names[c], OBLASTS[c[2:4]]] for c in areas.raion_codes],
        "hromadas": _hromada_rows(codifier, areas),
        "places": places,
        "nearest": _nearest(settlements),
        "sections": _sections_columns(sections),
        "index": index,
    }


def _nearest(settlements: Sequence[Settlement]) -> list[int]:
    """The located settlements by latitude: the candidates of nearest-place lookups."""
    located = (i for i, s in enumerate(settlements) if s.approx == 0)
    return sorted(located, key=lambda i: (settlements[i].lat, i))


def _sections_columns(rows: Sequence[tuple[float, float, int, int]]) -> dict[str, list[Any]]:
    return {
        "lat": [r[0] for r in rows],
        "lon": [r[1] for r in rows],
        "place": [r[2] for r in rows],
        "geonameid": [r[3] for r in rows],
    }


def _hromada_rows(codifier: Codifier, areas: _Areas) -> list[list[Any]]:
    """Code, name, transliteration and raion (its index) of each hromada in use."""
    raion_index = {c: i for i, c in enumerate(areas.raion_codes)}
    hromadas = [codifier.hromadas[c] for c in areas.hromada_codes]
    return [[h.code, *_names(h.name), raion_index[h.levels[1] or ""]] for h in hromadas]


def _places(
    settlements: Sequence[Settlement],
    areas: _Areas,
    levels: Mapping[str, int],
    words: Mapping[str, tuple[str, str, str]],
) -> dict[str, Any]:
    """The places' columns (docs/gazetteer.md)."""
    hromada_index = {c: i for i, c in enumerate(areas.hromada_codes)}
    rows = [_place_row(s, hromada_index, levels) for s in settlements]
    columns = {name: _column(name, [row[k] for row in rows]) for k, name in enumerate(_ROW)}
    nums, codes = _numbers(settlements)
    return {**columns, "num": nums, "codes": codes, "hints": _hint_rows(settlements, words)}


# The columns of one value per place, in the order of _place_row.
_ROW = (
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
# Columns stored as one string, and what separates their values.
_JOINED = {
    "category": "",
    "name_uk": "\n",
    "name_en": "\n",
    "oblast": "",
    "approx": "",
    "label": "",
}


def _place_row(
    s: Settlement, hromada_index: Mapping[str, int], levels: Mapping[str, int]
) -> tuple[Any, ...]:
    return (
        int(s.unit.code[-5:]),
        s.unit.category,
        s.unit.name,
        s.name_en,
        s.oblast,
        hromada_index[s.hromada] if s.hromada else -1,
        s.lat,
        s.lon,
        str(s.approx),
        s.feature.population if s.feature else 0,
        s.feature.geonameid if s.feature else 0,
        str(levels[s.unit.code]),
    )


def _column(name: str, values: list[Any]) -> Any:
    return _JOINED[name].join(values) if name in _JOINED else values


def _hint_rows(
    settlements: Sequence[Settlement], words: Mapping[str, tuple[str, str, str]]
) -> dict[str, list[str]]:
    return {
        str(idx): list(words[s.unit.code])
        for idx, s in enumerate(settlements)
        if s.unit.code in words
    }


def _numbers(settlements: Sequence[Settlement]) -> tuple[list[int], dict[str, str]]:
    """Each settlement's number in its hromada (digits 10-14 of its code), or -1 and its
    whole code where that does not give it (Kyiv, Sevastopol, the exclusion zone)."""
    nums: list[int] = []
    codes: dict[str, str] = {}
    for idx, s in enumerate(settlements):
        code = s.unit.code
        if s.hromada and code.startswith(s.hromada[:9]):
            nums.append(int(code[9:14]))  # settlement number and additional level
        else:
            nums.append(-1)
            codes[str(idx)] = code
    return nums, codes


def _section_rows(settlements: Sequence[Settlement]) -> list[tuple[float, float, int, int]]:
    """(lat, lon, place index, GeoNames id) of the city sections, sorted."""
    return sorted(
        (round(section.lat, 5), round(section.lon, 5), idx, section.geonameid)
        for idx, s in enumerate(settlements)
        for section in s.sections
    )


def _index(settlements: Sequence[Settlement], rt: ModuleType, stats: Stats) -> dict[str, Any]:
    """The search index (bot.gazetteer.build_index) over display names and aliases."""
    display = [[s.unit.name, s.name_en] for s in settlements]
    aliases = [sorted(s.aliases) for s in settlements]
    keys, postings = rt.build_index(display, aliases)
    stats.index_keys = len(keys)
    stats.aliases = sum(len(a) for a in aliases)
    return {
        "keys": "\n".join(keys),
        "postings": "\n".join(_posting_text(p) for p in postings),
        "reversed": sorted(range(len(keys)), key=lambda i: keys[i][::-1]),
    }


def _posting_text(posting: int | list[int]) -> str:
    return str(posting) if isinstance(posting, int) else ",".join(map(str, posting))


def write(document: Mapping[str, Any], output: Path) -> int:
    """Write gzip-compressed JSON deterministically (no timestamp in the gzip header)."""
    payload = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    data = gzip.compress(payload.encode("utf-8"), compresslevel=9, mtime=0)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    return len(data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("katottg", type=Path, help="the codifier, katottg_kodifikator.xlsx")
    parser.add_argument("geonames", type=Path, help="GeoNames' Ukraine extract, UA.zip")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    for path in (args.katottg, args.geonames):
        if not path.is_file():
            parser.error(f"{path}: no such file")
    document, stats = build(args.katottg, args.geonames)
    size = write(document, args.output)
    approx = stats.settlements - stats.approximate.get(0, 0)
    print(
        f"{stats.settlements} settlements: {stats.approximate.get(0, 0)} with GeoNames points "
        f"({stats.geonames_by_distance} of them namesakes placed by distance, "
        f"{stats.geonames_nearby} found outside their GeoNames raion), {approx} "
        f"approximate (hromada centre {stats.approximate.get(1, 0)}, hromada median "
        f"{stats.approximate.get(2, 0)}, raion median {stats.approximate.get(3, 0)}; "
        f"{stats.outliers} GeoNames joins undone as outliers); "
        f"{stats.sections} section points; {stats.index_keys} search keys -> {args.output} "
        f"({size / 1024:.0f} KiB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
