"""``tipbot bundle`` and ``tipbot verify-bundle``: the command line's way into the evidence
bundle (:mod:`bot.export.bundle`) and its verifier (:func:`bot.evidence.verifier.verify_path`,
the very code shipped in every bundle as ``data/verify.py``).

A bad option is one line and exit status 2; a bundle that fails verification exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import atrest
from bot.evidence import verifier
from bot.export.bundle import BundleError, BundleProgress, BundleResult, write_bundle
from bot.export.commands import cli_actor
from bot.export.filters import ExportFilters, FilterError, Profile, parse_profile
from bot.media import MediaStore
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.cli import Subcommands

_PHASES = {
    "tables": "tables",
    "tips": "tips and originals",
    "chain": "custody chain",
    "timestamps": "timestamps",
    "archive": "archive",
}


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "bundle",
        help="write a court-ready evidence bundle (BagIt; docs/export.md)",
        description="Write the chosen tips, their originals, the custody chain, anchors and "
        "timestamps as a BagIt bag that an investigator can verify alone. The bundle is a "
        "custody entry.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="PATH",
        help="a new folder, or a ZIP file when PATH ends in .zip",
    )
    parser.add_argument(
        "--profile",
        default=Profile.INVESTIGATOR.value,
        metavar="PROFILE",
        help="investigator (default: everything) or public (redacted, no originals; verified "
        "tips only unless --status is given)",
    )
    parser.add_argument(
        "--include-file-metadata",
        action="store_true",
        help="include metadata read from the files (EXIF/XMP, may include GPS)",
    )
    parser.add_argument(
        "--encrypt-to",
        metavar="AGE_RECIPIENT",
        help="encrypt the ZIP to this age public key (age1...): writes PATH.age",
    )
    ExportFilters.add_arguments(parser)
    parser.set_defaults(run=run_bundle)

    check = commands.add_parser(
        "verify-bundle",
        help="verify an evidence bundle (folder, .zip or .zip.age) as its data/verify.py does",
        description="Check a bundle's manifests, custody chain, testimony, files, anchors "
        "and timestamps; exit 0 when intact, 1 when not.",
    )
    check.add_argument("path", type=Path, metavar="PATH", help="the bundle")
    check.add_argument(
        "--identity",
        type=Path,
        metavar="FILE",
        help="for a .age bundle: the age identity file (AGE-SECRET-KEY-1...) to decrypt it",
    )
    check.set_defaults(run=run_verify_bundle, needs_database=False)  # reads a bundle only


def _fail(message: str, status: int = 2) -> int:
    print(f"tipbot: {message}", file=sys.stderr)
    return status


# ---------------------------------------------------------------------------- bundle


def run_bundle(settings: Settings, args: argparse.Namespace) -> int:
    try:
        profile = parse_profile(args.profile)
        filters = ExportFilters.from_args(args)
    except FilterError as exc:
        return _fail(str(exc))
    out: Path = args.out
    try:
        with _progress_bar(enabled=sys.stderr.isatty()) as progress:
            result = asyncio.run(_bundle(settings, args, out, profile, filters, progress))
    except BundleError as exc:
        return _fail(str(exc))
    except PermissionError as exc:
        return _fail(f"cannot write {exc.filename or out}: permission denied", 1)
    except OSError as exc:
        if isinstance(exc, ConnectionError):
            raise  # the database: bot.cli says which
        return _fail(f"cannot write the bundle ({exc.strerror or type(exc).__name__})", 1)
    _print_result(result)
    return 0


async def _bundle(
    settings: Settings,
    args: argparse.Namespace,
    out: Path,
    profile: Profile,
    filters: ExportFilters,
    progress: BundleProgress | None,
) -> BundleResult:
    from db.engine import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        await _bind_key(engine, settings)
        return await write_bundle(
            session_factory(engine),
            MediaStore(settings.media_dir),
            out=out,
            profile=profile,
            filters=filters,
            actor=cli_actor(),
            org_name=settings.org_label,
            tsa_urls=settings.tsa_urls,
            tsa_ca_file=settings.tsa_ca_file,
            include_file_metadata=args.include_file_metadata,
            encrypt_to=args.encrypt_to,
            progress=progress,
        )
    finally:
        await engine.dispose()


async def _bind_key(engine: AsyncEngine, settings: Settings) -> None:
    """Read file names and metadata with the instance key (they are stored sealed); say so
    when there is no key and sealed values are left out."""
    if atrest.bind_from_settings(engine, settings) or not await atrest.has_sealed(engine):
        return
    print(
        "tipbot: no secret key (TIPBOT_SECRET_KEY or data/secret.key): the file names "
        "and metadata stored sealed are left out",
        file=sys.stderr,
    )


def _print_result(result: BundleResult) -> None:
    def say(text: str) -> None:
        print(text, file=sys.stderr)

    for problem in result.problems:
        say(f"warning: {problem}")
    for stamp in result.timestamps:
        if stamp.ok:
            say(f"timestamp from {stamp.tsa_url}: {stamp.detail}")
        else:
            say(f"warning: no timestamp from {stamp.tsa_url} ({stamp.detail}); skipped")
    encrypted = ", encrypted" if result.encrypted else ""
    say(
        f"bundle written to {result.path}{encrypted}: {result.tips} tips, {result.files} "
        f"originals ({result.file_bytes} bytes), {result.chain_entries} custody entries "
        f"up to head {result.head_hash}"
    )
    say(f"manifest-sha256.txt sha256 {result.manifest_sha256}")
    if result.sha256 is not None:
        say(f"{result.path.name} sha256 {result.sha256}")
    say(f"export id {result.export_id}, custody entry {result.custody_seq}")


@contextlib.contextmanager
def _progress_bar(*, enabled: bool) -> Iterator[BundleProgress | None]:
    """A rich progress bar on standard error, one task per phase; nothing when standard
    error is not a terminal."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(_PHASES.get(phase, phase), total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


# ---------------------------------------------------------------------------- verify-bundle


def run_verify_bundle(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.exists():
        return _fail(f"{path} does not exist")
    if path.name.lower().endswith(".age"):
        if args.identity is None:
            return _fail(f"{path} is encrypted: give the age identity with --identity FILE")
        try:
            identities = load_identities(args.identity)
        except ValueError as exc:
            return _fail(str(exc))
        try:
            with decrypted(path, identities) as plain:
                report = verifier.verify_path(str(plain))
        except ValueError as exc:
            return _fail(str(exc), 1)
    else:
        report = verifier.verify_path(str(path))
    return 0 if report.passed else 1


def load_identities(path: Path) -> list[Any]:
    """The age identities (``AGE-SECRET-KEY-1...`` lines) in an identity file."""
    from bot.export.bundle import age_module

    age = age_module()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--identity: cannot read {path} ({type(exc).__name__})") from None
    identities = []
    for line in lines:
        text = line.strip()
        if text.startswith("AGE-SECRET-KEY-"):
            try:
                identities.append(age.x25519.Identity.from_str(text))
            except Exception:  # pyrage's IdentityError; never echo the key
                raise ValueError(f"--identity: {path} holds a malformed age key") from None
    if not identities:
        raise ValueError(f"--identity: {path} holds no age identity (AGE-SECRET-KEY-1...)")
    return identities


@contextlib.contextmanager
def decrypted(path: Path, identities: list[Any]) -> Iterator[Path]:
    """The decrypted ZIP in a private temporary folder, removed afterwards."""
    from bot.export.bundle import age_module

    age = age_module()
    with tempfile.TemporaryDirectory(prefix="tipbot-verify-") as folder:
        target = Path(folder) / path.name.removesuffix(".age")
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with path.open("rb") as reader, os.fdopen(descriptor, "wb") as writer:
            try:
                age.decrypt_io(reader, writer, identities)
            except Exception as exc:  # pyrage's DecryptError
                raise ValueError(
                    f"cannot decrypt {path} with that identity ({type(exc).__name__})"
                ) from None
        yield target
