"""The CSV writer's compiled line function against a reference: the csv module's ``excel``
dialect fed the cells as docs/export.md defines them (text neutralised, lists joined,
booleans spelled out, numbers as Python writes them). The writer makes lines itself for
speed; every awkward value must still come out byte for byte as the csv module writes it."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from typing import Any

import pytest

from bot.export.filters import Profile
from bot.export.formats import REPEATED_FIELDS, CsvWriter, join_list, neutralise
from bot.export.rows import FIELD_TYPES, FIELDS

# Characters that matter to CSV, to formula neutralising and to list joining, and some that
# do not (a NUL, a line separator, emoji, right-to-left text).
AWKWARD = [",", '"', "\r", "\n", "'", "=", "+", "-", "@", "\t", "|", "\\", " ", "\x00"]
PLAIN = ["a", "Я", "🚀", "ש", "\u2028", "1", "."]


def reference_csv(profile: Profile, rows: Sequence[Sequence[Any]], *, bom: bool = False) -> bytes:
    """What the writer made before it compiled its lines: csv.writer over prepared cells."""
    fields = FIELDS[profile]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(fields)
    for values in rows:
        cells: list[Any] = []
        for field, value in zip(fields, values, strict=True):
            kind = FIELD_TYPES[field]
            if kind == "string" and value:
                cells.append(neutralise(value))
            elif kind == "list":
                cells.append(neutralise(join_list(value)) if value else None)
            elif kind == "boolean" and value is not None:
                cells.append("true" if value else "false")
            else:
                cells.append(value)
        writer.writerow(cells)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def written(profile: Profile, rows: Sequence[Sequence[Any]], *, bom: bool = False) -> bytes:
    chunks: list[bytes] = []
    writer = CsvWriter(chunks.append, profile, bom=bom)
    writer.write_rows(rows)
    writer.close()
    return b"".join(chunks)


def awkward_text(rng: random.Random) -> str | None:
    choice = rng.random()
    if choice < 0.1:
        return None
    if choice < 0.15:
        return ""
    return "".join(rng.choice(AWKWARD + PLAIN) for _ in range(rng.randint(1, 12)))


def awkward_value(kind: str, rng: random.Random) -> Any:
    if rng.random() < 0.15:
        return None
    if kind == "integer":
        return rng.choice([0, 1, -7, 2**40, rng.randint(-(10**6), 10**6)])
    if kind == "number":
        return rng.choice(
            [0.0, -0.0, 1e-9, -73.5, 50.54741, 1e22, 0.1 + 0.2, rng.uniform(-180, 180)]
        )
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "list":
        return [t for t in (awkward_text(rng) for _ in range(rng.randint(0, 4))) if t is not None]
    if kind in ("date", "time", "datetime"):
        return rng.choice(["2024-03-01", "05:40", "2024-03-01T09:00:00Z"])
    return awkward_text(rng)


@pytest.mark.parametrize("profile", list(Profile))
def test_lines_are_what_the_csv_module_writes(profile: Profile) -> None:
    rng = random.Random(20240301)
    kinds = [FIELD_TYPES[field] for field in FIELDS[profile]]
    rows = [tuple(awkward_value(kind, rng) for kind in kinds) for _ in range(3000)]
    assert written(profile, rows) == reference_csv(profile, rows)
    assert written(profile, rows[:5], bom=True) == reference_csv(profile, rows[:5], bom=True)


def test_repeated_values_are_remembered_but_never_confused() -> None:
    profile = Profile.INVESTIGATOR
    fields = FIELDS[profile]
    repeated = [i for i, field in enumerate(fields) if field in REPEATED_FIELDS]
    assert repeated, "the memo is exercised"
    rng = random.Random(7)
    kinds = [FIELD_TYPES[field] for field in fields]
    base = [awkward_value(kind, rng) for kind in kinds]
    rows = []
    for value in ["=1", "'=1", "a,b", "", None, 'say "hi"', "=1", None, "a,b", "plain"] * 3:
        row = list(base)
        for i in repeated:
            row[i] = value
        rows.append(tuple(row))
    assert written(profile, rows) == reference_csv(profile, rows)


def test_writing_records_is_writing_their_values() -> None:
    profile = Profile.PUBLIC
    rng = random.Random(3)
    kinds = [FIELD_TYPES[field] for field in FIELDS[profile]]
    rows = [tuple(awkward_value(kind, rng) for kind in kinds) for _ in range(50)]
    chunks: list[bytes] = []
    writer = CsvWriter(chunks.append, profile)
    for values in rows:
        assert writer.write(dict(zip(FIELDS[profile], values, strict=True)))
    writer.close()
    assert b"".join(chunks) == reference_csv(profile, rows)
