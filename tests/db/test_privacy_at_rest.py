"""The SQLite database holds reporters' words: its file, WAL and shared-memory files are
created 0600 inside a 0700 folder whatever the umask, and erased rows are overwritten
(``secure_delete``) rather than left in free pages."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db.engine import create_engine
from db.migrate import upgrade

INSERT = "INSERT INTO reporter (pseudonym, language, created_at) VALUES (:p, 'en', '2026-01-01')"


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_the_database_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    database = folder / "tipbot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(text(INSERT), {"p": "x"})
            assert (await connection.execute(text("PRAGMA secure_delete"))).scalar_one() == 1
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(path.exists() for path in files)
        assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}
        assert _mode(folder) == 0o700
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("open_umask")
async def test_erased_words_do_not_stay_in_the_file(tmp_path: Path) -> None:
    database = tmp_path / "data" / "tipbot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    secret = "a-reporter-s-words-" * 20
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(
                text(INSERT),
                {"p": secret[:64]},
            )
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM reporter"))
    finally:
        await engine.dispose()  # the last connection to close checkpoints the WAL
    assert secret[:64].encode() not in database.read_bytes()
