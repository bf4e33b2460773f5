"""``tipbot export`` as a real process on SQLite: a file written and recorded, standard output,
and one clear line with exit status 2 for a bad option."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pytest

from db.engine import create_engine, session_factory, transaction
from db.models import Reporter, Tip
from tests.e2e.test_cli import tipbot


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A migrated SQLite database in ``tmp_path`` with two submitted tips and a draft."""
    result = tipbot("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "data" / "tipbot.db"

    async def seed() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        async with transaction(session_factory(engine)) as session:
            reporter = Reporter(pseudonym="e" * 64, language="uk")
            session.add_all(
                [
                    Tip(
                        reference="KKKK-2222",
                        reporter=reporter,
                        status="verified",
                        language="uk",
                        category="strike",
                        description='=cmd|" /C calc"!A0 — обстріл 🚀',
                        lat=50.45,
                        lon=30.52,
                        oblast="12",
                    ),
                    Tip(
                        reference="MMMM-3333",
                        reporter=reporter,
                        status="submitted",
                        language="uk",
                        category="torture",
                    ),
                    Tip(reference="NNNN-4444", reporter=reporter, status="draft", language="uk"),
                ]
            )
        await engine.dispose()

    asyncio.run(seed())
    return path


def exported_entries(database: Path) -> list[dict[str, object]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT actor, details FROM custody_entry WHERE action = 'exported' ORDER BY seq"
        ).fetchall()
    return [{"actor": actor, **json.loads(details)} for actor, details in rows]


def test_export_to_a_file(tmp_path: Path, database: Path) -> None:
    out = tmp_path / "tips.csv"
    result = tipbot("export", "--format", "csv", "--out", str(out), "--bom", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [row[1] for row in table[1:]] == ["KKKK-2222", "MMMM-3333"]
    assert table[1][table[0].index("description")].startswith("'=cmd")
    assert out.stat().st_mode & 0o077 == 0, "an export is readable by its owner only"
    assert not list(tmp_path.glob(".tips.csv.*")), "no partial file left behind"
    (entry,) = exported_entries(database)
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["rows"] == 2
    assert str(entry["actor"]).startswith("cli")
    summary = result.stderr.strip().splitlines()
    assert len(summary) == 1
    assert entry["sha256"] in summary[0]
    assert "Traceback" not in result.stderr


def test_export_to_standard_output_and_xlsx(tmp_path: Path, database: Path) -> None:
    result = tipbot("export", "--format", "jsonl", "--profile", "public", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["category"] for line in lines] == ["strike"], "public: verified only"
    assert "description" not in lines[0]
    xlsx = tmp_path / "tips.xlsx"
    result = tipbot("export", "--format", "xlsx", "--out", str(xlsx), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert xlsx.read_bytes()[:2] == b"PK"
    entries = exported_entries(database)
    assert [e["format"] for e in entries] == ["jsonl", "xlsx"]
    assert entries[1]["sha256"] == hashlib.sha256(xlsx.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--status", "pending"), "--status"),
        (("--category", "nonsense"), "--category"),
        (("--oblast", "Narnia"), "--oblast"),
        (("--since", "31.02.2024"), "--since"),
        (("--format", "pdf"), "--format"),
        (("--profile", "everyone"), "--profile"),
        (("--format", "xlsx"), "--out"),
        (("--format", "jsonl", "--bom"), "--bom"),
    ],
)
def test_a_bad_option_is_one_line(
    tmp_path: Path, database: Path, args: tuple[str, ...], named: str
) -> None:
    result = tipbot("export", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert result.stdout == ""
    assert exported_entries(database) == []
