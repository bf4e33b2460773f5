"""The stdlib-only verifier (shipped in bundles as data/verify.py) agrees with ``tipbot
verify`` on a chain exported from the database with other tips' entries redacted, run by a
plain Python where tipbot cannot be imported."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody
from bot.evidence import verifier
from bot.evidence.verify import verify_all
from db.engine import transaction
from db.models import CustodyEntry
from tests.builders import build_store

CHECK = """
import json, os, sys
sys.path.insert(0, os.getcwd())
try:
    import bot  # noqa: F401
    sys.exit("tipbot is importable here")
except ImportError:
    pass
import verify
try:
    count, head = verify.check_chain(verify.read_jsonl("chain.jsonl"))
except verify.ChainProblem as exc:
    print(json.dumps({"ok": False, "seq": exc.seq, "code": exc.code}))
else:
    print(json.dumps({"ok": True, "count": count, "head": head}))
"""


def _run_outside(folder: Path) -> dict[str, object]:
    # -I -S: no user site, no site-packages, so tipbot (installed there) is not importable.
    result = subprocess.run(  # noqa: S603 - our own verifier, in isolated mode
        [sys.executable, "-I", "-S", "-c", CHECK],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


async def _export_chain(engine: AsyncEngine, keep_tip: int, path: Path) -> int:
    redacted = 0
    async with engine.connect() as connection:
        rows = (await connection.execute(select(CustodyEntry).order_by(CustodyEntry.seq))).all()
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            entry = CustodyEntry(**row._mapping)
            redact = entry.tip_id is not None and entry.tip_id != keep_tip
            redacted += redact
            out.write(json.dumps(custody.as_document(entry, redact=redact), ensure_ascii=False))
            out.write("\n")
    return redacted


async def test_outside_verifier_agrees_on_a_redacted_chain(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    built = await build_store(engine, tmp_path / "media")
    folder = tmp_path / "outside"
    folder.mkdir()
    shutil.copy(Path(verifier.__file__), folder / "verify.py")
    redacted = await _export_chain(engine, built.tips[0].id, folder / "chain.jsonl")
    assert redacted > 5
    lines = (folder / "chain.jsonl").read_text(encoding="utf-8").splitlines()
    # A redacted line reveals nothing of its body.
    other = built.tips[1]
    assert not any(other.reference in line for line in lines)
    assert not any(other.shas[1] in line for line in lines)

    ours = await verify_all(built.sessions, built.store)
    theirs = _run_outside(folder)
    assert ours.ok
    assert theirs == {"ok": True, "count": ours.entries, "head": ours.head_hash}

    # Both name the same entry once it is altered.
    target = next(
        json.loads(line) for line in lines if json.loads(line).get("action") == "file_received"
    )
    async with transaction(built.sessions) as session:
        await session.execute(
            update(CustodyEntry)
            .where(CustodyEntry.seq == target["seq"])
            .values(details={**target["details"], "size": 0})
        )
    await _export_chain(engine, built.tips[0].id, folder / "chain.jsonl")
    ours = await verify_all(built.sessions, built.store, files=False)
    theirs = _run_outside(folder)
    assert [p.seq for p in ours.problems] == [target["seq"]]
    assert theirs == {"ok": False, "seq": target["seq"], "code": "altered_entry"}


async def test_a_redacted_line_with_a_forged_digest_breaks_the_chain(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    built = await build_store(engine, tmp_path / "media")
    path = tmp_path / "chain.jsonl"
    await _export_chain(engine, built.tips[0].id, path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    victim = next(line for line in lines if line.get("redacted"))
    victim["body_digest"] = "0" * 64
    with pytest.raises(verifier.ChainProblem) as caught:
        verifier.check_chain(lines)
    assert caught.value.seq == victim["seq"]
    assert caught.value.code == "altered_entry"
