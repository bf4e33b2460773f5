"""``tipbot bundle`` and ``tipbot verify-bundle`` as an admin runs them: a real process, the
configuration from the environment, one line for a bad option, and the bundle's verdict."""

from __future__ import annotations

import asyncio
import subprocess
import zipfile
from pathlib import Path

from pyrage import x25519
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import session_factory
from db.models import CustodyEntry
from tests.builders import build_store
from tests.e2e.test_cli import tipbot

ORG = "Test Documentation Initiative"


async def _tipbot(cwd: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        tipbot,
        *args,
        cwd=cwd,
        DATABASE_URL=database_url,
        MEDIA_DIR=str(cwd / "media"),
        TIPBOT_ORG_NAME=ORG,
    )


def _names(folder: Path, prefix: str | tuple[str, ...]) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith(prefix))


async def test_bundle_then_verify_bundle(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    built = await build_store(engine, tmp_path / "media")
    made = await _tipbot(tmp_path, database_url, "bundle", "--out", "case.zip")
    assert made.returncode == 0, made.stderr
    assert "Traceback" not in made.stderr
    assert "bundle written to case.zip: 3 tips, 4 originals" in made.stderr
    with zipfile.ZipFile(tmp_path / "case.zip") as archive:
        assert "case/data/verify.py" in archive.namelist()

    checked = await _tipbot(tmp_path, database_url, "verify-bundle", "case.zip")
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.splitlines()[-1] == "RESULT: OK"
    async with session_factory(engine)() as session:
        actions = (await session.execute(select(CustodyEntry.action))).scalars().all()
    assert actions.count("bundle_exported") == 1
    assert len(built.tips) == 3


async def test_an_encrypted_bundle_needs_its_identity(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await build_store(engine, tmp_path / "media")
    identity = x25519.Identity.generate()
    made = await _tipbot(
        tmp_path,
        database_url,
        "bundle",
        "--out",
        "case.zip",
        "--encrypt-to",
        str(identity.to_public()),
    )
    assert made.returncode == 0, made.stderr
    assert _names(tmp_path, "case") == ["case.zip.age"]
    without = await _tipbot(tmp_path, database_url, "verify-bundle", "case.zip.age")
    assert without.returncode == 2
    assert without.stderr.strip() == (
        "tipbot: case.zip.age is encrypted: give the age identity with --identity FILE"
    )
    (tmp_path / "key.txt").write_text(f"{identity}\n")
    checked = await _tipbot(
        tmp_path, database_url, "verify-bundle", "case.zip.age", "--identity", "key.txt"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1] == "RESULT: OK"


async def test_bad_options_give_one_line(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await build_store(engine, tmp_path / "media")
    cases = [
        (
            ["bundle", "--out", "folder", "--encrypt-to", "age1abc"],
            "tipbot: --encrypt-to needs --out ending in .zip (the ZIP is what is encrypted)",
        ),
        (["bundle", "--out", "b.zip", "--status", "nonsense"], "tipbot: --status: unknown value"),
        (["bundle", "--out", "b.zip", "--profile", "press"], "tipbot: --profile: unknown profile"),
        (["verify-bundle", "nowhere.zip"], "tipbot: nowhere.zip does not exist"),
    ]
    for args, expected in cases:
        result = await _tipbot(tmp_path, database_url, *args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(expected), lines[0]
    assert not _names(tmp_path, (".", "b.zip", "folder"))


async def test_a_tampered_bundle_exits_one(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await build_store(engine, tmp_path / "media")
    made = await _tipbot(tmp_path, database_url, "bundle", "--out", "case")
    assert made.returncode == 0, made.stderr
    export = tmp_path / "case" / "data" / "export.json"
    export.write_text(export.read_text().replace('"investigator"', '"public"'))
    checked = await _tipbot(tmp_path, database_url, "verify-bundle", "case")
    assert checked.returncode == 1
    assert "FAILED  data/export.json: changed" in checked.stdout
    # Claiming the public profile would hide the testimony checks: the change is named, and
    # so is the size it no longer has.
    assert "FAILED  bag-info.txt: Payload-Oxum" in checked.stdout
    assert checked.stdout.splitlines()[-1] == "RESULT: FAILED (2 problems)"
