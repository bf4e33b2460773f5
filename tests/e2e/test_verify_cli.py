"""``tipbot verify`` as an operator runs it: a summary line and exit 0 on a clean store; each
problem named with its exit bit; ``--json`` for monitoring; a progress bar on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from db.engine import create_engine
from db.migrate import upgrade
from db.models import Tip
from tests.builders import build_store
from tests.e2e.test_cli import clean_env, tipbot


@pytest.fixture
async def store_env(tmp_path: Path) -> dict[str, str]:
    """A SQLite store with tips and originals, and the environment that points at it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'tipbot.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    await build_store(engine, tmp_path / "media")
    await engine.dispose()
    return {"DATABASE_URL": url, "MEDIA_DIR": str(tmp_path / "media")}


def test_a_clean_store_passes_with_one_summary_line(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    result = tipbot("verify", cwd=tmp_path, **store_env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("verified ")
    assert "3 files" in lines[0]
    assert lines[0].endswith(": OK")
    assert "MB/s" in lines[0]


async def test_problems_are_named_with_their_exit_bits(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    engine = create_engine(store_env["DATABASE_URL"])
    async with engine.begin() as connection:
        await connection.execute(update(Tip).where(Tip.id == 1).values(description="forged"))
    await engine.dispose()
    original = next((tmp_path / "media" / "originals").rglob("*"))
    while original.is_dir():
        original = next(original.iterdir())
    original.chmod(0o600)
    original.write_bytes(b"changed")

    result = tipbot("verify", cwd=tmp_path, **store_env)
    assert result.returncode == 8 + 16, result.stdout
    assert "RECORDS: tip " in result.stdout
    assert "FILES: originals/" in result.stdout
    assert "was altered" in result.stdout

    as_json = tipbot("verify", "--json", cwd=tmp_path, **store_env)
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 24
    assert report["ok"] is False
    assert report["exit_code"] == 24
    assert {p["code"] for p in report["problems"]} == {"tip_altered", "altered_file"}
    assert report["head"]["seq"] == report["entries"]

    no_files = tipbot("verify", "--no-files", cwd=tmp_path, **store_env)
    assert no_files.returncode == 8


def test_a_progress_bar_on_a_terminal(store_env: dict[str, str], tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    env = clean_env(**store_env, TERM="xterm", COLUMNS="100")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "verify"],
        cwd=tmp_path,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(controller)
    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, text
    assert "originals" in text  # the bar's label, drawn while the files were hashed
    assert ": OK" in text
