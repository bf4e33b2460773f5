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
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
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
        latin = _KMU.get(lower)
        if latin is None:
            out.append(char)
            in_word = char.isalpha()
            previous = lower
            continue
        if not in_word and lower in _KMU_INITIAL:
            latin = _KMU_INITIAL[lower]
        elif lower == "г" and previous == "з":
            latin = "gh"
        if char != lower and latin:
            following = text[i + 1 : i + 2]
            preceding = text[i - 1 : i] if i else ""
            all_caps = (following.isalpha() and following.isupper()) or (
                in_word and preceding.isalpha() and preceding.isupper()
            )
            latin = latin.upper() if all_caps else latin[0].upper() + latin[1:]
        out.append(latin)
        in_word = True
        previous = lower
    return "".join(out)


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
    try:
        import openpyxl  # type: ignore[import-untyped]  # only the build needs it
    except ImportError:
        raise SystemExit(
            "openpyxl is needed to read the codifier: pip install -e '.[gazetteer]'"
        ) from None
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        edition_parts: list[str] = []
        header_seen = False
        units: list[Unit] = []
        for row in sheet.iter_rows(values_only=True):
            cells = tuple(row[:7]) + (None,) * (7 - len(row[:7]))
            if not header_seen:
                if tuple(cells[:4]) == _HEADER:
                    header_seen = True
                else:
                    edition_parts.extend(_clean(c) for c in cells if isinstance(c, str))
                continue
            *raw_levels, category, name = cells
            if not category:
                continue
            levels = tuple(str(c).strip() if c else None for c in raw_levels)
            code = next(c for c in reversed(levels) if c)
            units.append(Unit(code, str(category).strip(), _clean(str(name)), levels))
    finally:
        workbook.close()
    if not header_seen or not units:
        raise SystemExit(f"{path}: no KATOTTG table found (header {_HEADER!r})")
    codifier = Codifier(" ".join(edition_parts), {}, {}, {}, [], [])
    for unit in units:
        if unit.category == "O":
            codifier.oblasts[unit.code] = unit
        elif unit.category == "P":
            codifier.raions[unit.code] = unit
        elif unit.category == "H":
            codifier.hromadas[unit.code] = unit
        elif unit.category in SETTLEMENT_CATEGORIES:
            codifier.settlements.append(unit)
        elif unit.category == "B":
            codifier.districts.append(unit)
    unknown = {u.code[2:4] for u in units} - set(OBLASTS)
    if unknown:
        raise SystemExit(f"{path}: unknown first-level codes {sorted(unknown)}")
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
    if not letters or any(c.isdigit() for c in letters):
        return None
    if all(c in _CYRILLIC_LETTERS for c in letters):
        return "cyr"
    if all(c.isascii() or "LATIN" in unicodedata.name(c, "") for c in letters):
        return "lat"
    return None


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
        features: list[Feature] = []
        for line in text:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 19 or cols[6] != "P" or cols[8] != "UA":
                continue
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
            names = [cols[1], cols[2], *(n for n in cols[3].split(",") if _usable(n))]
            for raw in names:
                key = normalise(raw)
                script = _script(key)
                if script == "cyr":
                    feature.cyrillic.add(key)
                elif script == "lat":
                    feature.latin.add(key)
            features.append(feature)
    features.sort(key=lambda f: f.geonameid)
    return features


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
    for kind in (0, 1, 2):
        for level in range(_LEVELS if kind == 0 else _MAIN_LEVELS):
            index: dict[str, list[Feature]] = defaultdict(list)
            for f in features:
                if f.kind == kind and f.geonameid not in used:
                    for key in fkeys[f.geonameid][level]:
                        index[key].append(f)
            if not index:
                continue
            uf = _UnionFind()
            edges: list[tuple[Settlement, Feature]] = []
            for s in settlements:
                if s.feature is None:
                    for f in index.get(s.keys[level], ()):
                        edges.append((s, f))
                        uf.union(("s", s.unit.code), ("f", f.geonameid))
            groups: dict[Any, tuple[dict[str, Settlement], dict[int, Feature]]] = {}
            for s, f in edges:
                ss, ff = groups.setdefault(uf.find(("s", s.unit.code)), ({}, {}))
                ss[s.unit.code] = s
                ff[f.geonameid] = f
            for root in sorted(groups, key=str):
                ss, ff = groups[root]
                if len(ss) == 1 and len(ff) == 1:
                    (s,) = ss.values()
                    (f,) = ff.values()
                    s.feature, s.how = f, f"name{level}/kind{kind}"
                    used.add(f.geonameid)
                else:
                    deferred.append(
                        (
                            sorted(ss.values(), key=lambda s: s.unit.code),
                            sorted(ff.values(), key=lambda f: f.geonameid),
                        )
                    )
    return deferred


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
        if key in seen:
            continue
        seen.add(key)
        joined += _by_distance(settlements, features, anchors, used, max_km)
        open_ = [s for s in settlements if s.feature is None]
        free = sorted((f for f in features if f.geonameid not in used), key=_importance)
        cities = [s for s in open_ if s.unit.category in ("M", "K")]
        if len(cities) == 1 and free:
            top = free[0]
            clear = len(free) == 1 or _importance(top)[:2] < _importance(free[1])[:2]
            if clear and (top.population > 0 or _importance(top)[0] == 0):
                cities[0].feature, cities[0].how = top, "city"
                used.add(top.geonameid)
                joined += 1
        joined += _by_category(settlements, features, anchors, used, max_km)
        joined += _by_distance(settlements, features, anchors, used, max_km)
        open_ = [s for s in settlements if s.feature is None]
        free = [f for f in features if f.geonameid not in used]
        if len(open_) == 1 and len(free) == 1:
            s, f = open_[0], free[0]
            anchor = anchors.get(s.hromada or "")
            if anchor is None or haversine_km(*anchor, f.lat, f.lon) <= max_km:
                s.feature, s.how = f, "last"
                used.add(f.geonameid)
                joined += 1
    return joined


_CATEGORY_ORDER = {"K": 0, "M": 1, "X": 2, "C": 3}


def _by_category(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    anchors: Mapping[str, tuple[float, float]],
    used: set[int],
    max_km: float,
) -> int:
    by_hromada: dict[str, list[Settlement]] = defaultdict(list)
    for s in settlements:
        if s.feature is None and s.hromada in anchors:
            by_hromada[s.hromada or ""].append(s)
    joined = 0
    for hromada in sorted(by_hromada):
        group = sorted(by_hromada[hromada], key=lambda s: _CATEGORY_ORDER[s.unit.category])
        if len(group) < 2 or len({s.unit.category for s in group}) != len(group):
            continue
        alat, alon = anchors[hromada]
        near = sorted(
            (
                f
                for f in features
                if f.geonameid not in used and haversine_km(alat, alon, f.lat, f.lon) <= max_km
            ),
            key=_importance,
        )
        if len(near) == len(group):
            for s, f in zip(group, near, strict=True):
                s.feature, s.how = f, "category"
                used.add(f.geonameid)
                joined += 1
    return joined


def _by_distance(
    settlements: Sequence[Settlement],
    features: Sequence[Feature],
    anchors: Mapping[str, tuple[float, float]],
    used: set[int],
    max_km: float,
) -> int:
    open_ = [s for s in settlements if s.feature is None and s.hromada in anchors]
    per_hromada: dict[str | None, int] = defaultdict(int)
    for s in open_:
        per_hromada[s.hromada] += 1
    open_ = [s for s in open_ if per_hromada[s.hromada] == 1]
    free = [f for f in features if f.geonameid not in used]
    pairs = sorted(
        (haversine_km(*anchors[s.hromada or ""], f.lat, f.lon), s.unit.code, f.geonameid, s, f)
        for s in open_
        for f in free
    )
    joined = 0
    for km, _, _, s, f in pairs:
        if km > max_km:
            break
        if s.feature is None and f.geonameid not in used:
            s.feature, s.how = f, "distance"
            used.add(f.geonameid)
            joined += 1
    return joined


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


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
    # Sevastopol's and Kyiv's GeoNames areas hold places the codifier puts in Crimea's and
    # Kyiv Oblast's raions (Інкерман).
    neighbours = {"11": ("11", "20"), "13": ("13", "12")}
    spare: dict[str, list[Feature]] = defaultdict(list)
    fkeys: dict[int, tuple[set[str], ...]] = {}
    for f in features:
        if f.geonameid not in used and f.kind == 0:
            fkeys[f.geonameid] = _feature_keys(f, fold)
            spare[f.admin1].append(f)
    claims: dict[int, list[Settlement]] = defaultdict(list)
    chosen: dict[str, Feature] = {}
    for s in settlements:
        if s.feature is not None or s.hromada not in anchors:
            continue
        alat, alon = anchors[s.hromada or ""]
        found = [
            f
            for oblast in neighbours.get(s.oblast, (s.oblast,))
            for f in spare.get(oblast, ())
            if f.admin2 != (s.raion or "")[2:6]
            and any(s.keys[level] in fkeys[f.geonameid][level] for level in range(4))
            and haversine_km(alat, alon, f.lat, f.lon) <= max_km
        ]
        if len(found) == 1:
            chosen[s.unit.code] = found[0]
            claims[found[0].geonameid].append(s)
    joined = 0
    for geonameid, claimants in sorted(claims.items()):
        if len(claimants) == 1:
            (s,) = claimants
            s.feature, s.how = chosen[s.unit.code], "nearby"
            used.add(geonameid)
            joined += 1
    return joined


def drop_outliers(settlements: Iterable[Settlement], used: set[int]) -> int:
    """Undo joins that put a settlement far from the rest of its hromada.

    GeoNames sometimes has a namesake or a misplaced point (Старий Остропіль 60 km from its
    hromada's villages). With three or more located settlements, a village or селище
    further than max(20 km, 4 x the hromada's median spread) from their median point is
    unjoined (and gets an approximate point instead). Returns how many.
    """
    members: dict[str, list[Settlement]] = defaultdict(list)
    for s in settlements:
        if s.hromada is not None and s.feature is not None:
            members[s.hromada].append(s)
    dropped = 0
    for group in members.values():
        if len(group) < 3:
            continue
        mlat = _median([s.feature.lat for s in group if s.feature])
        mlon = _median([s.feature.lon for s in group if s.feature])
        distances = [
            haversine_km(mlat, mlon, s.feature.lat, s.feature.lon) for s in group if s.feature
        ]
        limit = max(20.0, 4 * _median(distances))
        for s, km in zip(group, distances, strict=True):
            # Cities are left alone: a city's villages can all lie on one side of it
            # (Донецьк is 25 km from the median of its hromada's villages).
            if km > limit and s.feature is not None and s.unit.category not in ("M", "K"):
                used.discard(s.feature.geonameid)
                s.feature, s.how = None, "outlier"
                dropped += 1
    return dropped


def hromada_anchors(
    settlements: Iterable[Settlement],
) -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """Per hromada: its centre's point if located (kind 1), else the median of its located
    settlements (kind 2). The centre is the hromada's first settlement in the codifier."""
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
    anchors: dict[str, tuple[float, float]] = {}
    kinds: dict[str, int] = {}
    for hromada, pts in points.items():
        if hromada in centre:
            anchors[hromada], kinds[hromada] = centre[hromada], 1
        else:
            anchors[hromada] = (_median([p[0] for p in pts]), _median([p[1] for p in pts]))
            kinds[hromada] = 2
    return anchors, kinds


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
        admin1: next(s for s in settlements if s.unit.code.startswith(prefix))
        for admin1, prefix in _SPECIAL_CITIES.items()
    }
    grid: dict[tuple[int, int], list[Settlement]] = defaultdict(list)
    for s in settlements:
        if s.feature is not None and s.unit.category != "K":
            grid[(math.floor(s.lat * 4), math.floor(s.lon * 4))].append(s)
    attached = 0
    for f in features:
        if f.geonameid in used:
            continue
        parent = special.get(f.admin1)
        if parent is None:
            best: tuple[float, str, Settlement] | None = None
            cy, cx = math.floor(f.lat * 4), math.floor(f.lon * 4)
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    for s in grid.get((cy + dy, cx + dx), ()):
                        if s.oblast != f.admin1:
                            continue
                        ratio = haversine_km(f.lat, f.lon, s.lat, s.lon) / city_radius_km(s)
                        if ratio <= 1.0 and (best is None or (ratio, s.unit.code) < best[:2]):
                            best = (ratio, s.unit.code, s)
            parent = best[2] if best else None
        if parent is not None:
            parent.sections.append(f)
            attached += 1
    return attached


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
    words = name.split(" ")
    out: set[str] = set()
    changed = []
    for word in words:
        new = word
        for pattern, replacement in _RU_ENDINGS:
            new = pattern.sub(replacement, new)
        changed.append(new)
    guess = " ".join(changed)
    if guess != name:
        out.add(guess)
    return out


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
    per_oblast: dict[tuple[str, str], int] = defaultdict(int)
    for s in rows:
        per_oblast[(s.oblast, s.unit.name)] += 1
    levels: dict[str, int] = {}
    for s in rows:
        alone = s.unit.code in centres and per_oblast[(s.oblast, s.unit.name)] == 1
        levels[s.unit.code] = 0 if s.unit.category == "K" or alone else 1

    def label(s: Settlement, lang: int) -> tuple[str, ...]:
        out: tuple[str, ...] = ((s.unit.name, s.name_en)[lang], s.oblast)
        if levels[s.unit.code] >= 1 and s.hromada:
            out += (hromada_names[s.hromada][lang],)
        if levels[s.unit.code] >= 2 and s.raion:
            out += (raion_names[s.raion][lang],)
        return out

    def alike() -> list[list[Settlement]]:
        same: dict[tuple[str, ...], list[Settlement]] = defaultdict(list)
        for lang in (0, 1):
            for s in rows:
                same[(str(lang), *label(s, lang))].append(s)
        return [group for group in same.values() if len(group) > 1]

    for group in alike():
        if len({s.hromada for s in group}) > 1:
            for s in group:
                levels[s.unit.code] = 2  # same-named hromadas: the raion tells them apart
    groups = {tuple(sorted(s.unit.code for s in g)): g for g in alike()}
    return levels, [groups[k] for k in sorted(groups)]


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
        members = sorted(group, key=lambda s: s.unit.code)
        categories = [s.unit.category for s in members]
        if len(set(categories)) == len(categories) and "K" not in categories:
            for s in members:
                out[s.unit.code] = _CATEGORY_WORDS[s.unit.category]
        else:
            for number, s in enumerate(members, 1):
                out[s.unit.code] = (f"№ {number}", f"№ {number}", f"no. {number}")
    return out


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
    settlements: list[Settlement] = []
    for unit in sorted(codifier.settlements, key=lambda u: u.code):
        oblast = OBLASTS[unit.code[2:4]]
        # Kyiv and Sevastopol have neither; Прип'ять and Чорнобиль lie directly in the oblast.
        raion = unit.levels[1] if unit.levels[1] in codifier.raions else None
        hromada = unit.levels[2] if unit.levels[2] in codifier.hromadas else None
        en = kmu2010(unit.name)
        uk_key, en_key = normalise(unit.name), normalise(en)
        loose = loose_latin(en_key)
        keys = (en_key, loose, uk_key, en_key, fold(uk_key), loose)
        settlements.append(Settlement(unit, oblast, raion, hromada, en, keys))
    by_code = {s.unit.code: s for s in settlements}

    # Join within raions.
    used: set[int] = set()
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
        deferred += match_raion(
            settlements_by_raion[raion], features_by_raion.get(raion, []), fold, used
        )
    # Settlements outside any raion (the exclusion zone): matched within the oblast.
    for oblast in sorted({s.oblast for s in settlements if not s.raion and s.unit.category != "K"}):
        deferred += match_raion(
            [
                s
                for s in settlements
                if s.oblast == oblast and not s.raion and s.unit.category != "K"
            ],
            [f for f in features if f.admin1 == oblast],
            fold,
            used,
        )
    # Kyiv and Sevastopol: GeoNames' capital and first-order seat of the two admin1 areas.
    for admin1, prefix in _SPECIAL_CITIES.items():
        city = next(s for s in settlements if s.unit.code.startswith(prefix))
        candidates = [
            f for f in features if f.admin1 == admin1 and f.kind == 0 and city.keys[0] in f.main
        ]
        if candidates:
            city.feature = max(candidates, key=lambda f: (f.population, -f.geonameid))
            city.how = "capital"
            used.add(city.feature.geonameid)
    stats = Stats(settlements=len(settlements))
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

    # Approximate points for the rest.
    anchors, anchor_kinds = hromada_anchors(settlements)
    raion_points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in settlements:
        if s.feature is not None and s.raion:
            raion_points[s.raion].append((s.lat, s.lon))
    for s in settlements:
        if s.feature is not None:
            continue
        if s.hromada in anchors:
            (lat, lon), s.approx = anchors[s.hromada or ""], anchor_kinds[s.hromada or ""]
        else:
            pts = raion_points.get(s.raion or "") or [
                (o.lat, o.lon) for o in settlements if o.oblast == s.oblast and o.feature
            ]
            lat, lon = _median([p[0] for p in pts]), _median([p[1] for p in pts])
            s.approx = 3
        s.lat, s.lon = round(lat, 5), round(lon, 5)
    for s in settlements:
        stats.approximate[s.approx] = stats.approximate.get(s.approx, 0) + 1

    stats.sections = attach_sections(settlements, features, used)

    # Search aliases: GeoNames names of the place and of its sections, city districts,
    # Russian ending guesses.
    for s in settlements:
        names: set[str] = set()
        if s.feature is not None:
            names |= s.feature.cyrillic | s.feature.latin
        for section in s.sections:
            names |= section.cyrillic | section.latin
        names |= {normalise(g) for g in russian_guesses(s.unit.name)}
        s.aliases = names
    for district in codifier.districts:
        parent_code = next(c for c in reversed(district.levels[:4]) if c)
        parent = by_code.get(parent_code)
        if parent is None:
            continue
        for form in (district.name, f"{district.name} район", kmu2010(district.name)):
            parent.aliases.add(normalise(form))

    # Hromadas and raions in use, with their names.
    raion_codes = sorted({s.raion for s in settlements if s.raion})
    hromada_codes = sorted({s.hromada for s in settlements if s.hromada})
    raion_names = {
        c: (codifier.raions[c].name, kmu2010(codifier.raions[c].name)) for c in raion_codes
    }
    hromada_names = {
        c: (
            f"{codifier.hromadas[c].name} громада",
            f"{kmu2010(codifier.hromadas[c].name)} hromada",
        )
        for c in hromada_codes
    }
    firsts: dict[str, str] = {}
    for s in settlements:
        if s.hromada:
            firsts.setdefault(s.hromada, s.unit.code)  # the centre is listed first
    centres = set(firsts.values())
    levels, namesakes = label_levels(settlements, hromada_names, raion_names, centres)
    words = hints(namesakes)

    document = _document(
        codifier, settlements, raion_codes, hromada_codes, levels, words, rt, stats
    )
    document["sources"] = {
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
    return document, stats


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
    raion_codes: Sequence[str],
    hromada_codes: Sequence[str],
    levels: Mapping[str, int],
    words: Mapping[str, tuple[str, str, str]],
    rt: ModuleType,
    stats: Stats,
) -> dict[str, Any]:
    """The data file's content; its layout is described in docs/gazetteer.md."""
    raion_index = {c: i for i, c in enumerate(raion_codes)}
    hromada_index = {c: i for i, c in enumerate(hromada_codes)}
    raions = [
        [c, codifier.raions[c].name, kmu2010(codifier.raions[c].name), OBLASTS[c[2:4]]]
        for c in raion_codes
    ]
    hromadas = [
        [
            c,
            codifier.hromadas[c].name,
            kmu2010(codifier.hromadas[c].name),
            raion_index[codifier.hromadas[c].levels[1] or ""],
        ]
        for c in hromada_codes
    ]
    ids: list[int] = []
    nums: list[int] = []
    codes: dict[str, str] = {}
    hromada: list[int] = []
    lat: list[float] = []
    lon: list[float] = []
    population: list[int] = []
    geonameid: list[int] = []
    hint_rows: dict[str, list[str]] = {}
    display: list[list[str]] = []
    aliases: list[list[str]] = []
    section_rows: list[tuple[float, float, int, int]] = []
    for idx, s in enumerate(settlements):
        code = s.unit.code
        ids.append(int(code[-5:]))
        if s.hromada and code.startswith(s.hromada[:9]):
            nums.append(int(code[9:14]))  # settlement number and additional level
        else:
            nums.append(-1)
            codes[str(idx)] = code  # Kyiv, Sevastopol, the exclusion zone
        hromada.append(hromada_index[s.hromada] if s.hromada else -1)
        lat.append(s.lat)
        lon.append(s.lon)
        population.append(s.feature.population if s.feature else 0)
        geonameid.append(s.feature.geonameid if s.feature else 0)
        if code in words:
            hint_rows[str(idx)] = list(words[code])
        display.append([s.unit.name, s.name_en])
        aliases.append(sorted(s.aliases))
        for section in s.sections:
            section_rows.append(
                (round(section.lat, 5), round(section.lon, 5), idx, section.geonameid)
            )
    if len(set(ids)) != len(ids):
        raise SystemExit("KATOTTG object identifiers (last five digits) are not unique")
    keys, postings = rt.build_index(display, aliases)
    stats.index_keys = len(keys)
    stats.aliases = sum(len(a) for a in aliases)
    section_rows.sort()
    located = sorted(
        (i for i, s in enumerate(settlements) if s.approx == 0), key=lambda i: (lat[i], i)
    )
    approximate = sum(v for k, v in stats.approximate.items() if k)
    return {
        "format": FORMAT,
        "attribution": [KATOTTG_ATTRIBUTION, GEONAMES_ATTRIBUTION],
        "transliteration": "KMU resolution no. 55 of 27 January 2010 (official Ukrainian)",
        "counts": {
            "settlements": stats.settlements,
            "geonames_points": stats.settlements - approximate,
            "approximate_points": approximate,
            "section_points": len(section_rows),
            "search_keys": len(keys),
        },
        "raions": raions,
        "hromadas": hromadas,
        "places": {
            "id": ids,
            "num": nums,
            "codes": codes,
            "category": "".join(s.unit.category for s in settlements),
            "name_uk": "\n".join(s.unit.name for s in settlements),
            "name_en": "\n".join(s.name_en for s in settlements),
            "oblast": "".join(s.oblast for s in settlements),
            "hromada": hromada,
            "lat": lat,
            "lon": lon,
            "approx": "".join(str(s.approx) for s in settlements),
            "population": population,
            "geonameid": geonameid,
            "label": "".join(str(levels[s.unit.code]) for s in settlements),
            "hints": hint_rows,
        },
        "nearest": located,
        "sections": {
            "lat": [r[0] for r in section_rows],
            "lon": [r[1] for r in section_rows],
            "place": [r[2] for r in section_rows],
            "geonameid": [r[3] for r in section_rows],
        },
        "index": {
            "keys": "\n".join(keys),
            "postings": "\n".join(
                str(p) if isinstance(p, int) else ",".join(map(str, p)) for p in postings
            ),
            "reversed": sorted(range(len(keys)), key=lambda i: keys[i][::-1]),
        },
    }


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
