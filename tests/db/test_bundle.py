"""The evidence bundle: a BagIt bag that validates with ``bagit`` and with its own
data/verify.py under a plain Python where tipbot cannot be imported; tampering fails both
and is named; the public profile leaks nothing; ZIP, age encryption, trusted timestamps and
anchors; one custody entry per bundle."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bagit
import pyrage
import pytest
from pyrage import x25519
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import custody
from bot.evidence import verifier
from bot.evidence.timestamp import load_roots, request_token
from bot.export import bundle_commands
from bot.export.bundle import BundleError, BundleResult, write_bundle
from bot.export.filters import ExportFilters, Profile
from bot.export.purge import PurgeCriteria, purge
from bot.media import MediaStore
from db.engine import SessionFactory, session_factory, transaction
from db.models import (
    ANCHOR_POSTED,
    TIMESTAMP_OK,
    Anchor,
    CustodyEntry,
    Media,
    TimestampToken,
    Tip,
)
from tests.builders import Store, build_store, submit_tip
from tests.tsa import LocalTSA, unused_url

ORG = "Test Documentation Initiative"
OUTSIDER_DESCRIPTION = "Outside the export: a tip filtered out"
OUTSIDER_PSEUDONYM = "o" * 64


async def _store(engine: AsyncEngine, tmp_path: Path) -> tuple[Store, datetime]:
    """The shared fixture store (three tips, a shared file, an addition) after one tip that
    the bundles' ``since`` filter leaves out."""
    store = MediaStore(tmp_path / "media")
    store.prepare()
    await submit_tip(
        session_factory(engine),
        store,
        pseudonym=OUTSIDER_PSEUDONYM,
        description=OUTSIDER_DESCRIPTION,
        files=[b"outsider file"],
    )
    since = datetime.now(UTC)
    return await build_store(engine, tmp_path / "media"), since


async def _bundle(
    built: Store,
    out: Path,
    since: datetime,
    *,
    profile: Profile = Profile.INVESTIGATOR,
    statuses: tuple[str, ...] = (),
    **options: Any,
) -> BundleResult:
    return await write_bundle(
        built.sessions,
        built.store,
        out=out,
        profile=profile,
        filters=ExportFilters(since=since, statuses=statuses),
        actor="cli:tester",
        org_name=ORG,
        **options,
    )


def _run_verify(
    bag: Path, tmp_path: Path, name: str = "outside"
) -> subprocess.CompletedProcess[str]:
    """data/verify.py of a copy of ``bag``, by a Python that cannot import tipbot (-I -S:
    no site-packages, where tipbot is installed), from inside the copy."""
    copy = tmp_path / name
    if not copy.exists():
        shutil.copytree(bag, copy)
    probe = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import bot"],
        cwd=copy / "data",
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode != 0
    assert "No module named 'bot'" in probe.stderr
    return subprocess.run(
        [sys.executable, "-I", "-S", "data/verify.py"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A command line as the README tells an outsider to type it."""
    return subprocess.run(  # noqa: S602 - the bundle's documented command
        command, shell=True, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _same_bytes(first: Path, second: Path) -> bool:
    return first.read_bytes() == second.read_bytes()


def _hidden_files(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.name.startswith(".")]


def _copy(bag: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(bag, copy)
    for path in copy.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return copy


def _bagit_error(bag: Path) -> str:
    with pytest.raises(bagit.BagValidationError) as caught:
        bagit.Bag(str(bag)).validate(fast=False)
    return str(caught.value)


def _rewrite_manifests(bag: Path) -> None:
    """What a forger would do after editing a file: recompute every manifest."""
    bagit.Bag(str(bag)).save(manifests=True)
    bagit.Bag(str(bag)).validate(fast=False)


def _rewrite_tag_manifest(bag: Path) -> None:
    """Recompute tagmanifest-sha256.txt only (bagit's save would rewrite every manifest)."""
    manifest = bag / "tagmanifest-sha256.txt"
    lines = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        _digest, name = line.split(None, 1)
        lines.append(f"{hashlib.sha256((bag / name).read_bytes()).hexdigest()}  {name}\n")
    manifest.write_text("".join(lines), encoding="utf-8")


def _chain(bag: Path) -> list[dict[str, Any]]:
    return list(verifier.read_jsonl(str(bag / "data" / "custody" / "chain.jsonl")))


# ---------------------------------------------------------------------------- a good bundle


async def test_bundle_validates_with_bagit_and_its_own_verifier(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    built, since = await _store(engine, tmp_path)
    out = tmp_path / "out" / "bundle"
    out.parent.mkdir()
    result = await _bundle(built, out, since)

    assert result.path == out
    assert result.tips == 3
    assert result.files == 4
    assert sorted(p.name for p in out.parent.iterdir()) == ["bundle"]  # nothing else left
    bagit.Bag(str(out)).validate(fast=False)
    info = bagit.Bag(str(out)).info
    assert info["Source-Organization"] == ORG
    assert info["External-Identifier"] == result.export_id
    assert info["Bag-Software-Agent"].startswith("tipbot ")
    assert _same_bytes(out / "data" / "verify.py", Path(verifier.__file__))

    run = _run_verify(out, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "RESULT: OK"
    assert not [line for line in lines if line.startswith("FAILED")]
    tips_line = next(line for line in lines if line.startswith("OK      tips: 3 in data/tips"))
    assert "testimony matching its submitted entry's record: 3" in tips_line
    assert "files matching their file_received receipts: 4" in tips_line
    assert "answers and additions matching their entries: 1" in tips_line

    # The whole chain from genesis, other tips' entries and reporters' own entries redacted.
    chain = _chain(out)
    async with built.sessions() as session:
        head_seq, _head_hash = await custody.head(session)
    assert [entry["seq"] for entry in chain] == list(range(1, len(chain) + 1))
    assert chain[-1]["hash"] == result.head_hash
    assert head_seq == len(chain) + 1  # the bundle's own entry follows the bag's chain
    exported = {tip.id for tip in built.tips}
    for entry in chain:
        if entry.get("redacted"):
            assert set(entry) == {"v", "seq", "prev_hash", "body_digest", "hash", "redacted"}
        else:
            assert entry["tip"] in exported or (
                entry["tip"] is None and not entry["actor"].startswith("reporter:")
            )
    # Nothing of the tip the filters left out: not its words, not its reporter.
    for path in out.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert OUTSIDER_DESCRIPTION.encode() not in content
            assert OUTSIDER_PSEUDONYM.encode() not in content

    # Every tip's folder: testimony, files named by hash, the addition.
    first, second, third = built.tips
    tip = json.loads((out / "data" / "tips" / first.reference / "tip.json").read_text())
    assert tip["testimony"]["description"] == "Обстріл житлового будинку 🏠 «тест»"
    assert tip["testimony"]["lat"] == "50.450000"
    assert [f["sha256"] for f in tip["files"]] == first.shas
    updates = (out / "data" / "tips" / first.reference / "updates.jsonl").read_text()
    assert "More detail about the strike ✍️" in updates
    assert not (out / "data" / "tips" / third.reference / "files").exists()
    # The file both tips share is under each, as one inode.
    shared = next(sha for sha in first.shas if sha in second.shas)
    copies = sorted((out / "data" / "tips").glob(f"*/files/{shared}.*"))
    assert len(copies) == 2
    assert copies[0].stat().st_ino == copies[1].stat().st_ino
    for copy in copies:
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == shared

    export = json.loads((out / "data" / "export.json").read_text())
    assert export["export_id"] == result.export_id
    assert export["actor"] == "cli:tester"
    assert export["counts"]["tips"] == 3
    assert export["include_file_metadata"] is False
    schema = json.loads((out / "data" / "schema.json").read_text())
    assert {c["code"] for c in schema["categories"]} >= {"strike", "torture", "other"}
    readme = (out / "data" / "README.txt").read_text(encoding="utf-8")
    for needle in ("sha256sum -c manifest-sha256.txt", "python3 data/verify.py", "openssl ts"):
        assert readme.count(needle) >= 3  # English, Ukrainian, Russian
    assert "ПАКЕТ ДОКАЗІВ" in readme
    assert "ПАКЕТ ДОКАЗАТЕЛЬСТВ" in readme
    csv_text = (out / "data" / "files.csv").read_text(encoding="utf-8")
    assert csv_text.count("\n") == 5  # header and four files


async def test_the_bundle_is_one_custody_entry(engine: AsyncEngine, tmp_path: Path) -> None:
    built, since = await _store(engine, tmp_path)
    result = await _bundle(built, tmp_path / "bundle.zip", since)
    async with built.sessions() as session:
        entry = await session.get(CustodyEntry, result.custody_seq)
        verification = await custody.verify(session)
    assert entry is not None
    assert entry.action == "bundle_exported"
    assert entry.tip_id is None
    assert entry.actor == "cli:tester"
    details = entry.details
    assert details["export_id"] == result.export_id
    assert details["sha256"] == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert details["manifest_sha256"] == result.manifest_sha256
    assert details["counts"]["tips"] == 3
    assert details["filters"]["since"] is not None
    assert details["encrypted"] is False
    assert details["include_file_metadata"] is False
    assert details["chain_head"]["seq"] == result.custody_seq - 1
    assert verification.ok


async def test_two_files_with_the_same_name_do_not_collide(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    built, since = await _store(engine, tmp_path)
    out = tmp_path / "bundle"
    await _bundle(built, out, since)
    first = built.tips[0]
    async with built.sessions() as session:
        names = {
            m.file_name
            for m in (
                await session.execute(select(Media).where(Media.tip_id == first.id))
            ).scalars()
        }
    assert names == {"photo.jpg"}  # both files were sent under one name
    stored = sorted(p.name for p in (out / "data" / "tips" / first.reference / "files").iterdir())
    assert len(stored) == 2
    assert {name.split(".")[0] for name in stored} == set(first.shas)


async def test_a_purged_tip_is_noted_not_failed(engine: AsyncEngine, tmp_path: Path) -> None:
    built, since = await _store(engine, tmp_path)
    second = built.tips[1]
    async with transaction(built.sessions) as session:
        await session.execute(update(Tip).where(Tip.id == second.id).values(status="rejected"))
    criteria = PurgeCriteria(filters=ExportFilters(statuses=("rejected",)), older_than=timedelta(0))
    await purge(built.sessions, built.store, criteria, actor="cli:tester")
    out = tmp_path / "bundle"
    result = await _bundle(built, out, since)
    assert result.tips == 3
    assert not (out / "data" / "tips" / second.reference / "files").exists()
    run = _run_verify(out, tmp_path)
    assert run.returncode == 0, run.stdout
    assert "NOTE    1 tips had their content erased" in run.stdout
    assert "testimony matching its submitted entry's record: 2" in run.stdout


async def test_an_original_missing_or_altered_in_the_store_is_left_out_and_named(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    built, since = await _store(engine, tmp_path)
    first, second, _third = built.tips
    missing = built.store.root / built.store.key_for(first.shas[0])
    missing.unlink()
    altered = built.store.root / built.store.key_for(second.shas[1])
    altered.chmod(0o644)
    altered.write_bytes(b"not what was received")
    out = tmp_path / "bundle"
    result = await _bundle(built, out, since)
    assert result.files == 2
    assert len(result.problems) == 2
    assert any("missing from the store" in p and first.shas[0] in p for p in result.problems)
    assert any("altered in the store" in p and second.shas[1] in p for p in result.problems)
    tip = json.loads((out / "data" / "tips" / second.reference / "tip.json").read_text())
    left_out = next(f for f in tip["files"] if f["sha256"] == second.shas[1])
    assert left_out["path"] is None
    assert left_out["problem"].startswith("altered in the store")
    assert not list((out / "data").rglob(f"{second.shas[1]}.*"))
    export = json.loads((out / "data" / "export.json").read_text())
    assert len(export["problems"]) == 2
    run = _run_verify(out, tmp_path)
    assert run.returncode == 0, run.stdout
    assert "NOTE    2 files received and stored were not included" in run.stdout


# ---------------------------------------------------------------------------- tampering


@pytest.fixture
async def good_bundle(engine: AsyncEngine, tmp_path: Path) -> tuple[Path, Store]:
    built, since = await _store(engine, tmp_path)
    out = tmp_path / "bundle"
    await _bundle(built, out, since)
    return out, built


async def test_one_changed_byte_fails_both(good_bundle: tuple[Path, Store], tmp_path: Path) -> None:
    out, built = good_bundle
    bag = _copy(out, tmp_path, "changed")
    sha = built.tips[1].shas[1]
    target = next((bag / "data" / "tips").glob(f"*/files/{sha}.*"))
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01
    target.write_bytes(bytes(data))
    relative = target.relative_to(bag).as_posix()
    assert relative in _bagit_error(bag)
    run = _run_verify(bag, tmp_path)
    assert run.returncode == 1
    assert f"FAILED  {relative}: changed" in run.stdout
    assert f"FAILED  {relative}: its content does not match its name" in run.stdout
    assert run.stdout.splitlines()[-1].startswith("RESULT: FAILED (")


async def test_one_removed_file_fails_both(good_bundle: tuple[Path, Store], tmp_path: Path) -> None:
    out, built = good_bundle
    bag = _copy(out, tmp_path, "removed")
    target = next((bag / "data" / "tips" / built.tips[0].reference / "files").iterdir())
    target.unlink()
    relative = target.relative_to(bag).as_posix()
    assert "Payload-Oxum validation failed" in _bagit_error(bag)
    run = _run_verify(bag, tmp_path)
    assert run.returncode == 1
    assert (
        f"FAILED  {relative}: missing (listed in manifest-sha256.txt, manifest-sha512.txt)"
        in run.stdout
    )
    assert "Payload-Oxum" in run.stdout


async def test_one_edited_chain_line_fails_both(
    good_bundle: tuple[Path, Store], tmp_path: Path
) -> None:
    out, _built = good_bundle
    bag = _copy(out, tmp_path, "edited")
    chain = bag / "data" / "custody" / "chain.jsonl"
    lines = chain.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if '"action":"file_received"' in line)
    entry = json.loads(lines[number])
    entry["details"]["kind"] = entry["details"]["kind"].upper()  # same length: Oxum unchanged
    lines[number] = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
    chain.write_text("".join(lines), encoding="utf-8")
    assert "data/custody/chain.jsonl" in _bagit_error(bag)
    run = _run_verify(bag, tmp_path)
    assert run.returncode == 1
    assert "FAILED  data/custody/chain.jsonl: changed" in run.stdout
    assert (
        f"FAILED  data/custody/chain.jsonl: entry {entry['seq']}: its body does not match its "
        "digest (altered_entry)" in run.stdout
    )


async def test_rewritten_manifests_do_not_hide_edited_evidence(
    good_bundle: tuple[Path, Store], tmp_path: Path
) -> None:
    """A forger who edits the testimony, swaps a file and drops a chain line, then
    recomputes every manifest, satisfies bagit — not verify.py."""
    out, built = good_bundle
    bag = _copy(out, tmp_path, "forged")
    first, second, _third = built.tips
    tip_json = bag / "data" / "tips" / first.reference / "tip.json"
    tip = json.loads(tip_json.read_text(encoding="utf-8"))
    tip["testimony"]["incident_date"] = "2024-02-29"
    tip_json.write_text(json.dumps(tip, ensure_ascii=False), encoding="utf-8")
    forged = hashlib.sha256(b"forged").hexdigest()
    (bag / "data" / "tips" / second.reference / "files" / f"{forged}.txt").write_bytes(b"forged")
    chain = bag / "data" / "custody" / "chain.jsonl"
    lines = chain.read_text(encoding="utf-8").splitlines(keepends=True)
    del lines[3]
    chain.write_text("".join(lines), encoding="utf-8")
    _rewrite_manifests(bag)

    run = _run_verify(bag, tmp_path)
    assert run.returncode == 1
    assert (
        f"FAILED  data/tips/{first.reference}/tip.json: testimony does not match the record "
        "in its submitted entry" in run.stdout
    )
    assert (
        f"FAILED  data/tips/{second.reference}/files/{forged}.txt: no file_received entry of "
        f"tip {second.reference}" in run.stdout
    )
    assert "FAILED  data/custody/chain.jsonl: entry 4: expected entry 4, found 5" in run.stdout


async def test_an_added_file_is_named(good_bundle: tuple[Path, Store], tmp_path: Path) -> None:
    out, _built = good_bundle
    bag = _copy(out, tmp_path, "added")
    (bag / "data" / "note.txt").write_text("added later")
    run = _run_verify(bag, tmp_path)
    assert run.returncode == 1
    assert (
        "FAILED  data/note.txt: not listed in manifest-sha256.txt, manifest-sha512.txt"
        in run.stdout
    )
    assert "Payload-Oxum validation failed" in _bagit_error(bag)


# ---------------------------------------------------------------------------- profiles


async def test_the_public_profile_reveals_no_words_pseudonyms_or_places(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    built, since = await _store(engine, tmp_path)
    out = tmp_path / "public"
    result = await _bundle(built, out, since, profile=Profile.PUBLIC, statuses=("submitted",))
    assert result.tips == 3
    assert result.files == 0
    bagit.Bag(str(out)).validate(fast=False)
    secrets_ = [
        "Обстріл житлового",
        "Second report",
        "More detail about the strike",
        "p" * 16,
        "q" * 16,
        OUTSIDER_PSEUDONYM[:16],
        "50.45",
        "30.52",
        *(tip.reference for tip in built.tips),
        *(sha for tip in built.tips for sha in tip.shas),
    ]
    for path in out.rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("utf-8", "replace")
            for secret in secrets_:
                assert secret not in content, f"{secret!r} in {path.relative_to(out)}"
    chain = _chain(out)
    assert all(
        entry.get("redacted")
        for entry in chain
        if entry.get("v") == 2 and (entry.get("tip") is not None or "actor" not in entry)
    )
    run = _run_verify(out, tmp_path)
    assert run.returncode == 0, run.stdout
    assert "NOTE    testimony redacted by the public profile; not checked (3 tips)" in run.stdout


async def test_file_metadata_only_when_asked(engine: AsyncEngine, tmp_path: Path) -> None:
    built, since = await _store(engine, tmp_path)
    media_id = built.tips[0].media_ids[0]
    async with transaction(built.sessions) as session:
        media = await session.get(Media, media_id)
        assert media is not None
        media.file_metadata = {"gps": {"lat": "48.1111", "lon": "37.2222"}, "Make": "Camera"}
    without = tmp_path / "without"
    await _bundle(built, without, since)
    with_metadata = tmp_path / "with"
    result = await _bundle(built, with_metadata, since, include_file_metadata=True)
    for path in without.rglob("*"):
        if path.is_file():
            assert b"48.1111" not in path.read_bytes()
    tip = json.loads(
        (with_metadata / "data" / "tips" / built.tips[0].reference / "tip.json").read_text()
    )
    assert tip["files"][0]["metadata"]["gps"]["lat"] == "48.1111"
    assert "48.1111" in (with_metadata / "data" / "files.csv").read_text()
    async with built.sessions() as session:
        entry = await session.get(CustodyEntry, result.custody_seq)
    assert entry is not None
    assert entry.details["include_file_metadata"] is True


# ---------------------------------------------------------------------------- archives


async def test_a_zip_bundle_verifies(engine: AsyncEngine, tmp_path: Path) -> None:
    built, since = await _store(engine, tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    result = await _bundle(built, folder / "case-17.zip", since)
    assert sorted(p.name for p in folder.iterdir()) == ["case-17.zip"]
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        assert all(name.startswith("case-17/") for name in names)
        archive.extractall(tmp_path / "unzipped")
    bagit.Bag(str(tmp_path / "unzipped" / "case-17")).validate(fast=False)
    lines: list[str] = []
    report = verifier.verify_path(str(result.path), lines.append)
    assert report.passed, lines
    assert lines[-1] == "RESULT: OK"


async def test_an_encrypted_bundle_decrypts_with_the_key_and_validates(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    built, since = await _store(engine, tmp_path)
    identity = x25519.Identity.generate()
    folder = tmp_path / "out"
    folder.mkdir()
    result = await _bundle(built, folder / "case.zip", since, encrypt_to=str(identity.to_public()))
    assert result.path == folder / "case.zip.age"
    assert result.encrypted
    # Nothing unencrypted is left: no ZIP, no partial file, no bag folder.
    assert sorted(p.name for p in folder.iterdir()) == ["case.zip.age"]
    encrypted = result.path.read_bytes()
    assert encrypted.startswith(b"age-encryption.org/v1")
    assert result.sha256 == hashlib.sha256(encrypted).hexdigest()
    plain = tmp_path / "case.zip"
    plain.write_bytes(pyrage.decrypt(encrypted, [identity]))
    with zipfile.ZipFile(plain) as archive:
        archive.extractall(tmp_path / "decrypted")
    bagit.Bag(str(tmp_path / "decrypted" / "case")).validate(fast=False)

    key = tmp_path / "key.txt"
    key.write_text(f"# created: test\n{identity}\n")
    args = argparse.Namespace(path=result.path, identity=key)
    assert bundle_commands.run_verify_bundle(None, args) == 0  # type: ignore[arg-type]
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(f"{x25519.Identity.generate()}\n")
    args = argparse.Namespace(path=result.path, identity=wrong)
    assert bundle_commands.run_verify_bundle(None, args) == 1  # type: ignore[arg-type]


async def test_a_cancelled_bundle_leaves_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    """An admin's export stopped (over Telegram's size limit) while the ZIP is encrypted:
    no plain ZIP, no partial file, no bag folder and no custody entry remain."""
    built, since = await _store(engine, tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    loop = asyncio.get_running_loop()
    task: asyncio.Task[BundleResult] | None = None

    def progress(phase: str, _done: int, _total: int | None) -> None:
        if phase == "encrypt":  # reported from the archiving thread
            assert task is not None
            loop.call_soon_threadsafe(task.cancel)

    task = asyncio.create_task(
        _bundle(
            built,
            folder / "case.zip",
            since,
            encrypt_to=str(x25519.Identity.generate().to_public()),
            progress=progress,
        )
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _hidden_files(folder) == []
    assert not list(folder.iterdir())
    async with built.sessions() as session:
        actions = (await session.execute(select(CustodyEntry.action))).scalars().all()
    assert "bundle_exported" not in actions


async def test_bad_targets_are_refused_before_any_work(engine: AsyncEngine, tmp_path: Path) -> None:
    built, since = await _store(engine, tmp_path)
    with pytest.raises(BundleError, match=r"--encrypt-to needs --out ending in \.zip"):
        await _bundle(built, tmp_path / "folder", since, encrypt_to="age1xyz")
    with pytest.raises(BundleError, match="not a valid age recipient"):
        await _bundle(built, tmp_path / "b.zip", since, encrypt_to="age1notakey")
    (tmp_path / "exists.zip").write_bytes(b"")
    with pytest.raises(BundleError, match="already exists"):
        await _bundle(built, tmp_path / "exists.zip", since)
    with pytest.raises(BundleError, match="does not exist"):
        await _bundle(built, tmp_path / "missing" / "b.zip", since)
    async with built.sessions() as session:
        actions = (await session.execute(select(CustodyEntry.action))).scalars().all()
    assert "bundle_exported" not in actions
    assert not _hidden_files(tmp_path)  # no temporary folder or partial file left


# ---------------------------------------------------------------------------- timestamps


async def _anchor(sessions: SessionFactory, tsa: LocalTSA) -> Anchor:
    """A published anchor of the current head, with a token from the local authority."""
    async with transaction(sessions) as session:
        seq, head_hash = await custody.head(session)
        anchor = Anchor(
            seq=seq,
            hash=head_hash,
            reason="command",
            status=ANCHOR_POSTED,
            chat_id=-1001234,
            message_id=77,
            message_date=datetime.now(UTC),
            posted_at=datetime.now(UTC),
        )
        session.add(anchor)
        await session.flush()
        await custody.append(
            session,
            actor=custody.SYSTEM,
            action="anchored",
            details={"anchor": anchor.id, "seq": seq, "hash": head_hash},
        )
    import httpx

    async with httpx.AsyncClient() as client:
        stamped = await request_token(
            client, tsa.url, bytes.fromhex(head_hash), load_roots(tsa.ca_file)
        )
    async with transaction(sessions) as session:
        session.add(
            TimestampToken(
                anchor_id=anchor.id,
                tsa_url=tsa.url,
                status=TIMESTAMP_OK,
                token=stamped.response,
                certificates=stamped.certificates_pem,
                gen_time=stamped.gen_time,
            )
        )
    return anchor


async def test_timestamps_and_anchors(engine: AsyncEngine, tmp_path: Path, tsa: LocalTSA) -> None:
    built, since = await _store(engine, tmp_path)
    anchor = await _anchor(built.sessions, tsa)
    down = unused_url()
    out = tmp_path / "stamped"
    result = await _bundle(built, out, since, tsa_urls=[tsa.url, down], tsa_ca_file=tsa.ca_file)
    outcomes = {stamp.tsa_url: stamp for stamp in result.timestamps}
    assert outcomes[tsa.url].ok
    assert not outcomes[down].ok
    assert "unreachable" in outcomes[down].detail
    assert result.anchors == 1
    bagit.Bag(str(out)).validate(fast=False)

    tokens = list(verifier.read_jsonl(str(out / "timestamps" / "tokens.jsonl")))
    good = next(token for token in tokens if token.get("file"))
    failed = next(token for token in tokens if not token.get("file"))
    assert failed["tsa_url"] == down
    assert "unreachable" in failed["error"]
    assert good["digest"] == hashlib.sha256((out / "manifest-sha256.txt").read_bytes()).hexdigest()
    # The outsider's command, as documented, and with the root they trust themselves.
    documented = _shell(good["verify"], out)
    assert documented.returncode == 0, documented.stderr
    assert "Verification: OK" in documented.stdout
    own_root = _shell(
        "openssl ts -verify -data manifest-sha256.txt "
        f"-in {good['file']} -CAfile {tsa.ca_file} -untrusted {good['chain']}",
        out,
    )
    assert own_root.returncode == 0, own_root.stderr

    anchors = list(verifier.read_jsonl(str(out / "timestamps" / "anchors.jsonl")))
    assert [(a["anchor_id"], a["seq"], a["hash"]) for a in anchors] == [
        (anchor.id, anchor.seq, anchor.hash)
    ]
    assert anchors[0]["message_id"] == 77
    assert len(anchors[0]["tokens"]) == 1
    run = _run_verify(out, tmp_path)
    assert run.returncode == 0, run.stdout
    assert "published anchors matching the chain's hashes: 1" in run.stdout
    assert "timestamp tokens: 1 over manifest-sha256.txt, 1 over anchored heads" in run.stdout
    assert f"NOTE    {down} gave no timestamp" in run.stdout

    # A forged anchor line (tag manifest recomputed) no longer matches the chain.
    bag = _copy(out, tmp_path, "forged-anchor")
    forged = dict(anchors[0], hash="f" * 64)
    (bag / "timestamps" / "anchors.jsonl").write_text(json.dumps(forged) + "\n")
    _rewrite_manifests(bag)
    run = _run_verify(bag, tmp_path, "forged-outside")
    assert run.returncode == 1
    assert f"anchor {anchor.id} (entry {anchor.seq}) published hash {'f' * 64}" in run.stdout
    # Rewriting the manifests changed them, so the authority's token no longer covers them.
    assert f"FAILED  {good['file']} (from {tsa.url}) is not a timestamp over" in run.stdout

    # A token altered in its signature no longer verifies.
    bag = _copy(out, tmp_path, "forged-token")
    token = bag / good["file"]
    data = bytearray(token.read_bytes())
    data[-1] ^= 0xFF
    token.write_bytes(bytes(data))
    _rewrite_tag_manifest(bag)
    run = _run_verify(bag, tmp_path, "forged-token-outside")
    assert run.returncode == 1
    assert f"FAILED  {good['file']} (from {tsa.url}): openssl ts -verify failed" in run.stdout, (
        run.stdout
    )


def test_verify_bundle_names_what_is_not_a_bundle(tmp_path: Path) -> None:
    lines: list[str] = []
    report = verifier.verify_path(str(tmp_path), lines.append)
    assert not report.passed
    assert lines == [
        f"FAILED  {tmp_path} holds no bagit.txt: it is not a bundle",
        "RESULT: FAILED (1 problem)",
    ]
    assert os.path.exists(tmp_path)
