"""The offline gazetteer: KATOTTG settlements, official names and transliteration, labels,
search (aliases, typos, oblast and raion filters), nearest place, data file and its build."""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from bot.gazetteer import (
    DATA_FORMAT,
    OBLAST_CODES,
    Area,
    Gazetteer,
    GazetteerError,
    Place,
    fold,
    haversine_km,
    normalise,
    oblast_name,
)

ROOT = Path(__file__).resolve().parents[2]
DATA_FILE = ROOT / "bot" / "data" / "gazetteer-ua.json.gz"
BUILD_SCRIPT = ROOT / "scripts" / "build_gazetteer.py"
# The raw sources: ../shared/data/gazetteer beside the clone (a read-only copy in CI).
SOURCES = ROOT.parent / "shared" / "data" / "gazetteer"
KATOTTG = SOURCES / "katottg_kodifikator.xlsx"
GEONAMES = SOURCES / "geonames_UA.zip"

# KATOTTG codes of the sample settlements (their ids are the last five digits).
KYIV = "UA80000000000093317"
SEVASTOPOL = "UA85000000000065278"
KHARKIV = "UA63120270010096107"
MARIUPOL = "UA14140050010029262"
DONETSK = "UA14080030010048113"
BAKHMUT = "UA14020010010059145"
IRPIN = "UA32080150010049888"
BUCHA = "UA32080070010087821"
IZIUM = "UA63040090010029555"
KHERSON = "UA65100150010064384"
ODESA = "UA51100270010076757"
ZAPORIZHZHIA = "UA23060070010069526"
DNIPRO = "UA12020010010037010"
LVIV = "UA46060250010015970"
HOSTOMEL = "UA32080110010033149"
BORODIANKA = "UA32080030010080493"
KUPIANSK = "UA63080090010026457"
SIMFEROPOL = "UA01160330010074014"
NOVA_ODESA = "UA48060210010099689"
KREMENCHUK = "UA53020110010031694"
KERCH = "UA01100210010057785"
DROBYSHEVE = "UA14120110020052155"
YAHIDNE_CHERNIHIV = "UA74100110170054293"
POSAD_POKROVSKE = "UA65100170080028965"
KAPYTOLIVKA = "UA63040130110044022"
RIPKY = "UA74100330010089064"  # a town in Chernihiv Oblast, no other settlement within 3 km

# (code, official name, transliteration, oblast)
SAMPLE = [
    (KYIV, "Київ", "Kyiv", "12"),
    (KHARKIV, "Харків", "Kharkiv", "07"),
    (MARIUPOL, "Маріуполь", "Mariupol", "05"),
    (DONETSK, "Донецьк", "Donetsk", "05"),
    (IRPIN, "Ірпінь", "Irpin", "13"),
    (BUCHA, "Буча", "Bucha", "13"),
    (IZIUM, "Ізюм", "Izium", "07"),
    (KHERSON, "Херсон", "Kherson", "08"),
    (ODESA, "Одеса", "Odesa", "17"),
    (ZAPORIZHZHIA, "Запоріжжя", "Zaporizhzhia", "26"),
    (DNIPRO, "Дніпро", "Dnipro", "04"),
    (LVIV, "Львів", "Lviv", "15"),
    (HOSTOMEL, "Гостомель", "Hostomel", "13"),
    (BORODIANKA, "Бородянка", "Borodianka", "13"),
    (KUPIANSK, "Куп’янськ", "Kupiansk", "07"),
    (BAKHMUT, "Бахмут", "Bakhmut", "05"),
    (KREMENCHUK, "Кременчук", "Kremenchuk", "18"),
    (KERCH, "Керч", "Kerch", "11"),
    (DROBYSHEVE, "Дробишеве", "Drobysheve", "05"),
    (SEVASTOPOL, "Севастополь", "Sevastopol", "20"),
]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load()


@pytest.fixture(scope="module")
def build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_build_gazetteer_under_test", BUILD_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def place(gaz: Gazetteer, code: str) -> Place:
    found = gaz.by_code(code)
    assert found is not None, code
    return found


def codes(gaz: Gazetteer, query: str, limit: int = 5) -> list[str]:
    return [p.katottg for p in gaz.search(query, limit)]


def first(gaz: Gazetteer, query: str) -> str | None:
    found = codes(gaz, query, 1)
    return found[0] if found else None


# --- data file ------------------------------------------------------------------------------


def test_every_katottg_settlement_is_there(gaz: Gazetteer) -> None:
    assert len(gaz) >= 29_000
    categories = Counter(p.category for p in gaz)
    assert set(categories) == {"M", "X", "C", "K"}
    assert categories["K"] == 2  # Kyiv and Sevastopol
    assert categories["M"] > 400
    assert categories["C"] > 25_000
    assert {p.oblast for p in gaz} == set(OBLAST_CODES)


def test_header_carries_attribution_and_counts(gaz: Gazetteer) -> None:
    meta = gaz.meta
    assert meta["format"] == DATA_FORMAT
    attribution = " ".join(meta["attribution"])
    assert "Міністерство розвитку громад та територій України" in attribution
    assert "Contains data from GeoNames (www.geonames.org)" in attribution
    assert "CC BY 4.0" in attribution
    counts = meta["counts"]
    approximate = sum(1 for p in gaz if p.approximate)
    assert counts["settlements"] == len(gaz)
    assert counts["approximate_points"] == approximate
    assert counts["geonames_points"] == len(gaz) - approximate
    assert counts["geonames_points"] > 0.85 * len(gaz)
    for source in ("katottg", "geonames"):
        assert re.fullmatch(r"[0-9a-f]{64}", meta["sources"][source]["sha256"])


def test_every_place_is_consistent(gaz: Gazetteer) -> None:
    ids: set[int] = set()
    for p in gaz:
        assert re.fullmatch(r"UA\d{17}", p.katottg), p
        assert p.id == int(p.katottg[-5:])
        assert p.id not in ids
        ids.add(p.id)
        assert gaz.get(p.id) is p
        assert gaz.by_code(p.katottg) is p
        assert p.geonameid == p.id  # the old attribute name callers use
        assert p.category in "MXCK"
        assert p.name_uk
        assert p.name_uk == p.name_uk.strip()
        assert p.name_en.isascii()
        assert p.oblast in OBLAST_CODES
        assert 44.0 < p.lat < 52.5, p
        assert 22.0 < p.lon < 40.5, p
        assert p.population >= 0
        assert (p.geonames_id is None) == p.approximate
        if p.category == "K" or p.katottg[4:9] == "00000":  # Kyiv, Sevastopol,
            assert p.hromada is None
            assert p.raion is None
        else:
            assert p.hromada is not None, p
            assert p.raion is not None, p
            assert p.katottg.startswith(p.hromada.code[:9])
            assert p.hromada.code.startswith(p.raion.code[:6])


def test_index_keys_are_folded_and_normalised() -> None:
    # The runtime trusts the stored keys to be fold(normalise(...)); this catches a change
    # to normalise() or fold() that was not followed by rebuilding the data file.
    document = json.loads(gzip.decompress(DATA_FILE.read_bytes()))
    keys = document["index"]["keys"].split("\n")
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys)) == len(document["index"]["postings"].split("\n"))
    for key in keys:
        assert fold(normalise(key)) == key


def test_explicit_path_and_wrong_files(tmp_path: Path) -> None:
    copy = tmp_path / "g.json.gz"
    shutil.copy(DATA_FILE, copy)
    assert len(Gazetteer.load(copy)) >= 29_000
    other = tmp_path / "other.json.gz"
    other.write_bytes(gzip.compress(json.dumps({"format": "other", "places": []}).encode()))
    with pytest.raises(GazetteerError, match="format"):
        Gazetteer.load(other)
    old = tmp_path / "old.json.gz"
    old.write_bytes(gzip.compress(json.dumps({"format": "tipbot-gazetteer/1"}).encode()))
    with pytest.raises(GazetteerError):
        Gazetteer.load(old)
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(gzip.compress(json.dumps({"format": DATA_FORMAT}).encode()))
    with pytest.raises(GazetteerError, match="lacks"):
        Gazetteer.load(truncated)
    garbage = tmp_path / "garbage.json.gz"
    garbage.write_bytes(b"not gzip at all")
    with pytest.raises(GazetteerError):
        Gazetteer.load(garbage)


def test_unknown_ids_and_codes(gaz: Gazetteer) -> None:
    assert gaz.get(1) is None
    assert gaz.by_code("UA00000000000000001") is None
    assert gaz.by_code("Київ") is None
    # Right id, wrong code.
    assert gaz.by_code(KYIV[:-6] + "1" + KYIV[-5:]) is None


def test_old_geonames_ids_still_resolve(gaz: Gazetteer) -> None:
    # Tips stored before the codifier became the source hold GeoNames ids.
    bucha = gaz.get(711350)
    assert bucha is not None
    assert bucha.katottg == BUCHA
    assert (bucha.lat, bucha.lon) == (50.54741, 30.20879)
    assert bucha.geonames_id == 711350
    kyiv = gaz.get(703448)
    assert kyiv is not None
    assert kyiv.katottg == KYIV
    saltivka = gaz.get(6722148)  # a GeoNames section of Kharkiv
    assert saltivka is not None
    assert saltivka.katottg == KHARKIV


def test_built_from_raw_names() -> None:
    hromada = Area("UA32080070000000001", "Тестова", "Testova")
    raion = Area("UA32080000000000002", "Тестовий", "Testovyi")
    p = Place(
        id=12345,
        katottg="UA32080070010012345",
        category="C",
        name_uk="Тестове",
        name_en="Testove",
        oblast="13",
        raion=raion,
        hromada=hromada,
        lat=50.0,
        lon=30.0,
        approximate=False,
        population=600,
        geonames_id=None,
    )
    small = Gazetteer([p], [["Testowe", "Тестово"]], sections=[(0, 50.1, 30.0)])
    assert len(small) == 1
    assert small.search("Тестово") == [p]
    assert small.search("testowe") == [p]
    assert small.search("Тестовое, Київська обл.") == [p]
    assert small.search("Тестовое, Львівська обл.") == []
    assert p.label("uk") == "Тестове, Київська обл., Тестова громада"
    assert p.label("en") == "Testove, Kyiv Obl., Testova hromada"
    near = small.nearest(50.1, 30.0)
    assert near is not None
    assert near.place is p
    assert near.distance_km < 0.01
    with pytest.raises(ValueError, match="differ"):
        Gazetteer([p], [])


# --- names, transliteration ---------------------------------------------------------------


@pytest.mark.parametrize(("code", "uk", "en", "oblast"), SAMPLE)
def test_official_names_and_oblast(
    gaz: Gazetteer, code: str, uk: str, en: str, oblast: str
) -> None:
    p = place(gaz, code)
    assert (p.name_uk, p.name_en, p.oblast) == (uk, en, oblast)
    # Russian spellings are never displayed: Russian readers see the official name.
    assert (p.name("uk"), p.name("ru"), p.name("en"), p.name("de")) == (uk, uk, en, en)
    assert not p.approximate, "large towns have GeoNames points"


@pytest.mark.parametrize(("code", "uk", "en", "oblast"), SAMPLE)
def test_found_by_official_name_and_transliteration(
    gaz: Gazetteer, code: str, uk: str, en: str, oblast: str
) -> None:
    for query in (uk, en, uk.upper(), f"  {en.lower()} "):
        assert first(gaz, query) == code, query


def test_no_russian_display_names(gaz: Gazetteer) -> None:
    for p in gaz:
        assert p.name("ru") == p.name_uk
        assert p.label("ru").startswith(p.name_uk)


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        # Examples of KMU resolution no. 55 (27 January 2010).
        ("Алушта", "Alushta"),
        ("Борщагівка", "Borshchahivka"),
        ("Вінниця", "Vinnytsia"),
        ("Гадяч", "Hadiach"),
        ("Згорани", "Zghorany"),  # зг -> zgh, unlike ж -> zh
        ("Розгон", "Rozghon"),
        ("Ґорґани", "Gorgany"),
        ("Єнакієве", "Yenakiieve"),  # є: ye at the start of a word, ie elsewhere
        ("Короп'є", "Koropie"),
        ("Житомир", "Zhytomyr"),
        ("Їжакевич", "Yizhakevych"),  # ї: yi at the start, i elsewhere
        ("Кадиївка", "Kadyivka"),
        ("Мар'їне", "Marine"),
        ("Йосипівка", "Yosypivka"),  # й: y at the start, i elsewhere
        ("Стрий", "Stryi"),
        ("Олексій", "Oleksii"),
        ("Юрій", "Yurii"),  # ю: yu at the start, iu elsewhere
        ("Корюківка", "Koriukivka"),
        ("Яготин", "Yahotyn"),  # я: ya at the start, ia elsewhere
        ("Знам'янка", "Znamianka"),  # the apostrophe is not rendered
        ("Феодосія", "Feodosiia"),
        ("Біла Церква", "Bila Tserkva"),
        ("Щербухи", "Shcherbukhy"),
        ("Гоща", "Hoshcha"),
        ("Рівне", "Rivne"),  # the soft sign is not rendered
        ("Ужгород", "Uzhhorod"),
        ("Закарпаття", "Zakarpattia"),
        ("Куп’янськ", "Kupiansk"),
        ("Івано-Франківськ", "Ivano-Frankivsk"),
        ("Нова Ярославка", "Nova Yaroslavka"),  # each word starts anew
        ("Кам'янець-Подільський", "Kamianets-Podilskyi"),
        ("Гай-Юрівка", "Hai-Yurivka"),  # after a hyphen too
        ("ЗГУРІВКА", "ZGHURIVKA"),
    ],
)
def test_kmu2010_transliteration(build_script: ModuleType, cyrillic: str, latin: str) -> None:
    assert build_script.kmu2010(cyrillic) == latin


def test_every_latin_name_is_the_official_transliteration(
    gaz: Gazetteer, build_script: ModuleType
) -> None:
    for p in gaz:
        assert p.name_en == build_script.kmu2010(p.name_uk), p.name_uk


# --- labels -------------------------------------------------------------------------------


def test_no_two_settlements_share_a_label(gaz: Gazetteer) -> None:
    for lang in ("uk", "ru", "en"):
        labels = Counter(p.label(lang) for p in gaz)
        assert [label for label, n in labels.items() if n > 1] == [], lang


def test_labels(gaz: Gazetteer) -> None:
    assert place(gaz, KYIV).label("uk") == "Київ"
    assert place(gaz, KYIV).label("ru") == "Київ"
    assert place(gaz, SEVASTOPOL).label("en") == "Sevastopol"
    # A hromada's centre, alone of its name in the oblast: name and oblast.
    assert place(gaz, IRPIN).label("uk") == "Ірпінь, Київська обл."
    assert place(gaz, IRPIN).label("ru") == "Ірпінь, Киевская обл."
    assert place(gaz, IRPIN).label("en") == "Irpin, Kyiv Obl."
    assert place(gaz, SIMFEROPOL).label("uk") == "Сімферополь, АР Крим"
    # Others: and the hromada (Bucha has a namesake village in Kyiv Oblast).
    yahidne = place(gaz, YAHIDNE_CHERNIHIV)
    assert yahidne.label("uk") == "Ягідне, Чернігівська обл., Іванівська громада"
    assert yahidne.label("en") == "Yahidne, Chernihiv Obl., Ivanivska hromada"
    assert place(gaz, BUCHA).label("uk") == "Буча, Київська обл., Бучанська громада"
    # Namesakes in two same-named hromadas get the raion; in one hromada, their category.
    sumy = [p.label("uk") for p in gaz if p.name_uk == "Миколаївка" and p.oblast == "21"]
    assert "Миколаївка (селище), Сумська обл., Миколаївська громада, Сумський р-н" in sumy
    assert "Миколаївка (село), Сумська обл., Миколаївська громада, Сумський р-н" in sumy
    lypovets = sorted(p.label("en") for p in gaz if p.name_uk == "Липовець" and p.oblast == "23")
    assert lypovets[:2] == [
        "Lypovets (city), Vinnytsia Obl., Lypovetska hromada",
        "Lypovets (settlement), Vinnytsia Obl., Lypovetska hromada",
    ]


# --- the examples of issue 10 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Irpen'", IRPIN),
        ("Kyiw", KYIV),
        ("Донецк", DONETSK),
        ("Артемовск", BAKHMUT),  # former name, Russian spelling
        ("Артемівськ", BAKHMUT),
        ("Кременчук", KREMENCHUK),
        ("Донецьк", DONETSK),
        ("Керч", KERCH),
        ("Керчь", KERCH),
        ("Дробишеве", DROBYSHEVE),
        ("Дробышево", DROBYSHEVE),
        ("Посад-Покровське", POSAD_POKROVSKE),
        ("Посад Покровское", POSAD_POKROVSKE),
        ("Капитолівка", KAPYTOLIVKA),
    ],
)
def test_issue_examples(gaz: Gazetteer, query: str, expected: str) -> None:
    assert first(gaz, query) == expected
    shown = place(gaz, expected)
    assert gaz.search(query)[0].label("uk").startswith(shown.name_uk)


def test_shown_by_their_official_names(gaz: Gazetteer) -> None:
    for query, name in (
        ("Кременчуг", "Кременчук"),
        ("Донецк", "Донецьк"),
        ("Керчь", "Керч"),
        ("Дробышево", "Дробишеве"),
    ):
        found = gaz.search(query)[0]
        assert (found.name("uk"), found.name("ru")) == (name, name), query


def test_yahidne_and_posad_pokrovske_are_in_their_oblasts(gaz: Gazetteer) -> None:
    assert [p.katottg for p in gaz.search("Ягідне, Чернігівська обл.")] == [YAHIDNE_CHERNIHIV]
    assert first(gaz, "с. Ягідне Чернігівської області") == YAHIDNE_CHERNIHIV
    assert first(gaz, "Yahidne, Chernihiv Oblast") == YAHIDNE_CHERNIHIV
    assert first(gaz, "Посад-Покровське, Херсонська обл.") == POSAD_POKROVSKE
    assert place(gaz, POSAD_POKROVSKE).oblast == "08"


def test_kapytolivka_is_found_in_kharkiv_oblast(gaz: Gazetteer) -> None:
    found = gaz.search("Капитолівка")
    assert found[0].oblast == "07"
    assert found[0].hromada is not None
    assert found[0].hromada.name_uk == "Оскільська"
    assert first(gaz, "Капитолівка, Харківська обл.") == KAPYTOLIVKA


def test_kharkiv_lists_distinct_labels(gaz: Gazetteer) -> None:
    found = gaz.search("Харків")
    assert found[0].katottg == KHARKIV
    labels = [p.label("uk") for p in found]
    assert len(labels) == len(set(labels))
    kharkivtsi = [label for label in labels if label.startswith("Харківці, Полтавська обл.")]
    assert len(kharkivtsi) == len(set(kharkivtsi)) >= 2


@pytest.mark.parametrize(
    "query",
    [
        "Харків",
        "Миколаївка",
        "Олександрівка",
        "Буча",
        "Kharkiv",
        "Іванівка",
        "Шевченкове",
        "Липовець",
        "Тарасівка",
        "Novoselivka",
        "Нов",
        "Лукашівка",
        "Ягідне",
        "Веселе",
    ],
)
def test_no_duplicate_labels_in_results(gaz: Gazetteer, query: str) -> None:
    for lang in ("uk", "ru", "en"):
        labels = [p.label(lang) for p in gaz.search(query, 10)]
        assert labels, query
        assert len(labels) == len(set(labels)), (query, lang)


def test_mariupol_drama_theatre_resolves_to_the_city(gaz: Gazetteer) -> None:
    found = gaz.nearest(47.0958, 37.5493)
    assert found is not None
    assert found.place.katottg == MARIUPOL
    assert found.place.label("uk") == "Маріуполь, Донецька обл."
    assert found.distance_km < 2


def test_a_point_in_a_city_district_resolves_to_the_city(gaz: Gazetteer) -> None:
    for lat, lon, code in (
        (50.0220, 36.3490, KHARKIV),  # Saltivka
        (49.9444, 36.2626, KHARKIV),  # Osnova
        (50.5050, 30.4980, KYIV),  # Obolon
        (50.4100, 30.6600, KYIV),  # Kharkivskyi masyv
    ):
        found = gaz.nearest(lat, lon)
        assert found is not None, (lat, lon)
        assert found.place.katottg == code, (lat, lon)


# --- search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Ірпі", IRPIN),
        ("Ирпе", IRPIN),
        ("Бородян", BORODIANKA),
        ("Kupia", KUPIANSK),
        ("Запоріж", ZAPORIZHZHIA),
        ("Буч", BUCHA),
    ],
)
def test_prefix(gaz: Gazetteer, query: str, expected: str) -> None:
    assert first(gaz, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Харкив", KHARKIV),  # Ukrainian name typed with Russian letters
        ("Ирпинь", IRPIN),
        ("Ирпень", IRPIN),
        ("Мариуполь", MARIUPOL),
        ("Kharkov", KHARKIV),
        ("Kiev", KYIV),
        ("Киев", KYIV),
        ("Одесса", ODESA),
        ("Odessa", ODESA),
        ("Запорожье", ZAPORIZHZHIA),
        ("Zaporozhye", ZAPORIZHZHIA),
        ("Днепр", DNIPRO),
        ("Днепропетровск", DNIPRO),  # former name
        ("Львов", LVIV),
        ("Херсно", KHERSON),  # swapped letters
        ("Бородянко", BORODIANKA),  # one wrong letter
        ("Боролянко", BORODIANKA),  # two
        ("Гостомэль", HOSTOMEL),
        ("Hostomel'", HOSTOMEL),
        ("Kupyansk", KUPIANSK),
        ("Купянск", KUPIANSK),
        ("Купьянск", KUPIANSK),
        ("Kиїв", KYIV),  # Latin K typed by mistake
        ("Изюм", IZIUM),
        ("Izyum", IZIUM),
        ("Салтівка", KHARKIV),  # a section of the city
        ("Салтовка", KHARKIV),
        ("Салтівський район", KHARKIV),  # a city district
        ("Оболонський", KYIV),
        ("Центрально-Міський", None),  # in several cities: any of them, not nothing
    ],
)
def test_spelling_variants_aliases_and_typos(
    gaz: Gazetteer, query: str, expected: str | None
) -> None:
    if expected is None:
        assert gaz.search(query)
    else:
        assert first(gaz, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("с. Буча", BUCHA),
        ("м. Київ", KYIV),
        ("місто Ірпінь", IRPIN),
        ("г. Харьков", KHARKIV),
        ("город Мариуполь", MARIUPOL),
        ("смт Бородянка", BORODIANKA),
        ("селище Гостомель", HOSTOMEL),
        ("пос. Гостомель", HOSTOMEL),
        ("village Bucha", BUCHA),
        ("Kharkiv city", KHARKIV),
        ("м.Ізюм", IZIUM),
        ("Буча, Київська обл., Україна", BUCHA),
        ("Буча, Бучанський р-н, Київська обл.", BUCHA),
    ],
)
def test_settlement_type_words_and_noise_are_ignored(
    gaz: Gazetteer, query: str, expected: str
) -> None:
    assert first(gaz, query) == expected


def test_oblast_filter_picks_the_right_namesake(gaz: Gazetteer) -> None:
    by_oblast: dict[str, list[Place]] = {}
    for p in gaz:
        if p.name_uk == "Лукашівка":
            by_oblast.setdefault(p.oblast, []).append(p)
    assert {"01", "02", "16"} <= set(by_oblast)  # Cherkasy, Chernihiv, Mykolaiv
    for query, oblast in (
        ("с. Лукашівка, Черкаська обл.", "01"),
        ("Лукашівка, Миколаївська область", "16"),
        ("Лукашевка Николаевская область", "16"),
        ("Lukashivka Cherkasy", "01"),
        ("Lukashivka, Mykolaiv Oblast", "16"),
        ("Черкаська обл., Лукашівка", "01"),
        ("с. Лукашівка Черкаської області", "01"),
        ("Лукашевка Николаевской обл.", "16"),
        ("Лукашівка, Чернігівська обл.", "02"),
    ):
        found = gaz.search(query, 10)
        assert found, query
        assert {p.oblast for p in found} == {oblast}, query
        assert {p.id for p in by_oblast[oblast]} <= {p.id for p in found}, query
    # Without an oblast, namesakes from several oblasts are offered.
    assert len({p.oblast for p in gaz.search("Лукашівка", 10)}) >= 3


def test_oblast_filter_on_a_common_name(gaz: Gazetteer) -> None:
    for code in ("05", "07", "23"):
        query = f"Миколаївка, {oblast_name(code, 'uk', short=True)}"
        namesakes = {p.id for p in gaz if p.name_uk == "Миколаївка" and p.oblast == code}
        found = gaz.search(query, 10)
        assert len(found) == min(10, len(namesakes)) >= 3, query
        assert {p.id for p in found} <= namesakes, query


def test_raion_and_hromada_filters(gaz: Gazetteer) -> None:
    found = gaz.search("Миколаївка, Бахмутський р-н", 10)
    assert found
    assert all(p.raion and p.raion.name_uk == "Бахмутський" for p in found)
    found = gaz.search("Ягідне, Іванівська громада", 10)
    assert found[0].katottg == YAHIDNE_CHERNIHIV
    # A raion abolished in 2020 (Артемівський) filters nothing out rather than everything.
    assert gaz.search("Миколаївка, Артемівський район")


def test_place_named_like_an_oblast_is_not_mistaken_for_one(gaz: Gazetteer) -> None:
    # Нова Одеса is a town in Mykolaiv Oblast, not "Нова" in Odesa Oblast.
    assert place(gaz, NOVA_ODESA).oblast == "16"
    assert first(gaz, "Нова Одеса") == NOVA_ODESA
    assert first(gaz, "Харків, Харківська обл.") == KHARKIV
    assert first(gaz, "Bucha Kyiv") == BUCHA  # Kyiv city counts as Kyiv Oblast


def test_limit_and_distinct_places(gaz: Gazetteer) -> None:
    for limit in (1, 3, 5, 8):
        found = gaz.search("Олександрівка", limit)
        assert len(found) == limit
        assert len({p.id for p in found}) == limit
    assert len(gaz.search("Миколаївка")) == 5  # default limit
    assert gaz.search("Буча", 0) == []
    for query in ("Kharkiv", "Київ", "Днепр", "Kyiv"):
        found = gaz.search(query)
        assert len(found) == len({p.id for p in found}) <= 5


def test_current_names_outrank_former_names(gaz: Gazetteer) -> None:
    # Донецьк and Melitopol once had other names that villages still have.
    found = gaz.search("Олександрівка", 20)
    assert all(p.name_uk == "Олександрівка" for p in found)
    found = gaz.search("Новоолександрівка", 20)
    assert found[0].name_uk == "Новоолександрівка"


def test_larger_place_first_among_equal_matches(gaz: Gazetteer) -> None:
    found = gaz.search("Олександрівка", 10)
    populations = [p.population for p in found]
    assert populations == sorted(populations, reverse=True)
    assert first(gaz, "Kyiv") == KYIV  # not the village Київ in Mykolaiv Oblast


@pytest.mark.parametrize(
    "query",
    ["", " ", "x", "Б", "!!!", "...", "asdfghjkl", "12345", "ыыыыыыыыы", "qwertyuiop", "с."],
)
def test_garbage_gives_nothing(gaz: Gazetteer, query: str) -> None:
    assert gaz.search(query) == []


# --- normalisation --------------------------------------------------------------------------


def test_normalise_and_fold() -> None:
    assert normalise("  с. Лукашівка,  Чернігівська обл. ") == "с лукашівка чернігівська обл"
    assert normalise("Куп’янськ") == normalise("Куп'янськ") == "купянськ"
    assert normalise("Ivano-Frankivsk") == "ivano frankivsk"
    assert normalise("Посёлок") == "поселок"
    assert normalise("Оде́са") == "одеса"
    assert fold(normalise("Харків")) == fold(normalise("Харкив"))
    assert fold(normalise("Ірпінь")) == fold(normalise("Ирпинь"))
    assert fold(normalise("Одеса")) == fold(normalise("Одесса"))
    assert fold(normalise("Ґорґани")) == fold(normalise("Горганы"))
    assert fold(normalise("Донецьк")) == fold(normalise("Донецк"))


# --- oblast names ---------------------------------------------------------------------------


def test_oblast_codes() -> None:
    assert len(OBLAST_CODES) == 27
    assert OBLAST_CODES[0] == "01"
    assert OBLAST_CODES[-1] == "27"


@pytest.mark.parametrize(
    ("code", "lang", "short", "expected"),
    [
        ("13", "uk", False, "Київська область"),
        ("13", "uk", True, "Київська обл."),
        ("13", "ru", False, "Киевская область"),
        ("13", "ru", True, "Киевская обл."),
        ("13", "en", False, "Kyiv Oblast"),
        ("13", "en", True, "Kyiv Obl."),
        ("12", "uk", True, "м. Київ"),
        ("12", "ru", True, "г. Киев"),
        ("12", "en", True, "Kyiv city"),
        ("11", "uk", False, "Автономна Республіка Крим"),
        ("11", "uk", True, "АР Крим"),
        ("10", "uk", False, "Кіровоградська область"),
        ("04", "uk", False, "Дніпропетровська область"),
        ("26", "en", False, "Zaporizhzhia Oblast"),
        ("20", "uk", True, "м. Севастополь"),
        ("07", "fr", False, "Kharkiv Oblast"),  # unknown language -> English
        ("99", "uk", False, "99"),  # unknown code -> the code
    ],
)
def test_oblast_name(code: str, lang: str, short: bool, expected: str) -> None:
    assert oblast_name(code, lang, short=short) == expected


# --- nearest --------------------------------------------------------------------------------


def _north_of(lat: float, lon: float, km: float) -> tuple[float, float]:
    return lat + km / (math.pi * 6371.0088 / 180.0), lon


def test_nearest_in_bucha(gaz: Gazetteer) -> None:
    found = gaz.nearest(50.5465, 30.2134)
    assert found is not None
    assert found.place.katottg == BUCHA
    assert found.distance_km < 2


def test_nearest_a_few_km_from_a_town(gaz: Gazetteer) -> None:
    ripky = place(gaz, RIPKY)
    lat, lon = _north_of(ripky.lat, ripky.lon, 1.0)
    found = gaz.nearest(lat, lon)
    assert found is not None
    assert found.place is ripky
    assert found.distance_km == pytest.approx(1.0, abs=0.01)
    assert haversine_km(lat, lon, ripky.lat, ripky.lon) == pytest.approx(found.distance_km)
    assert gaz.nearest(lat, lon, max_km=0.9) is None


def test_nearest_city_centres(gaz: Gazetteer) -> None:
    for code in (MARIUPOL, KHERSON, IZIUM, BAKHMUT, DONETSK, KYIV):
        p = place(gaz, code)
        found = gaz.nearest(p.lat, p.lon)
        assert found is not None
        assert found.place is p
        assert found.distance_km == pytest.approx(0.0, abs=1e-6)


def test_nearest_never_gives_an_approximate_point(gaz: Gazetteer) -> None:
    # An approximate settlement sits on its hromada's centre: the centre must win.
    approximate = [p for p in gaz if p.approximate]
    assert approximate
    for p in approximate:
        found = gaz.nearest(p.lat, p.lon, max_km=100.0)
        assert found is not None, p
        assert not found.place.approximate, p


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (52.2297, 21.0122),  # Warsaw
        (43.4, 33.5),  # the Black Sea, far from shore
        (55.7558, 37.6173),  # Moscow
        (0.0, 0.0),
        (float("nan"), 30.0),
        (95.0, 30.0),
    ],
)
def test_nearest_nothing_far_away(gaz: Gazetteer, lat: float, lon: float) -> None:
    assert gaz.nearest(lat, lon) is None


def test_nearest_with_a_large_radius_matches_brute_force(gaz: Gazetteer) -> None:
    points = [(48.0, 31.0), (46.2, 33.9), (51.9, 24.1), (45.0, 36.0), (49.5, 38.7)]
    located = [p for p in gaz if not p.approximate]
    for lat, lon in points:
        best = min(located, key=lambda p: haversine_km(lat, lon, p.lat, p.lon))
        best_km = haversine_km(lat, lon, best.lat, best.lon)
        for max_km in (50.0, 1000.0):
            found = gaz.nearest(lat, lon, max_km=max_km)
            assert found is not None
            # A city's section may be nearer than any settlement's centre.
            assert found.distance_km <= best_km
            if found.distance_km == best_km:
                assert found.place is best


# --- the build ------------------------------------------------------------------------------


def _build(output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own script and files
        [sys.executable, str(BUILD_SCRIPT), str(KATOTTG), str(GEONAMES), "-o", str(output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.timeout(600)
def test_build_is_deterministic_and_matches_the_committed_file(tmp_path: Path) -> None:
    if not (KATOTTG.is_file() and GEONAMES.is_file()):
        pytest.skip(f"gazetteer sources not found in {SOURCES} (../shared/data/gazetteer)")
    outputs = [tmp_path / "one.json.gz", tmp_path / "two.json.gz"]
    builds = [_build(output) for output in outputs]  # both at once: two cores
    for build in builds:
        stdout, stderr = build.communicate()
        assert build.returncode == 0, stderr.decode()
        assert b"29703 settlements" in stdout
    one, two = (output.read_bytes() for output in outputs)
    assert one == two
    assert one == DATA_FILE.read_bytes(), "rebuild bot/data/gazetteer-ua.json.gz"


def test_build_explains_missing_sources(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(BUILD_SCRIPT), str(tmp_path / "no.xlsx"), str(tmp_path / "no.zip")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr
