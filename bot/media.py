"""Storing original evidence files: streamed, hashed on receipt, content-addressed, read-only.

The SHA-256 is computed over the bytes exactly as they arrive from the Bot API server, while
they are written to a staging file; once the database row is written, the file is linked to
``originals/ab/cd/<sha256>`` and made read-only. The same content is stored once however
often it is sent. Memory use is one chunk, whatever the file's size (up to 2 GB with a local
Bot API server).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import filetype
import httpx

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
_SNIFF_BYTES = 8192


class DownloadError(Exception):
    """A file could not be fetched; ``reason`` is a short code safe to store and show."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class TooLargeError(DownloadError):
    def __init__(self) -> None:
        super().__init__("too_large")


class StorageError(Exception):
    """The media folder refused a write (disk full, I/O error, permissions): nothing of
    the file is kept. ``code`` is the errno's name (``ENOSPC``), safe to log and store."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def disk_full(self) -> bool:
        return self.code in ("ENOSPC", "EDQUOT")

    @classmethod
    def from_os(cls, exc: OSError) -> StorageError:
        code = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
        return cls(code or type(exc).__name__)

    def log(self) -> None:
        """The operators' line: what happened and what to do, no file and no words."""
        if self.disk_full:
            log.error(
                "storage full: could not store a file (%s); free space in MEDIA_DIR", self.code
            )
        else:
            log.error(
                "storage error: could not store a file (%s); check the disk holding MEDIA_DIR",
                self.code,
            )


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A fully received file, hashed, waiting in ``tmp/`` to be committed or discarded."""

    tmp_path: Path
    sha256: str
    size: int
    detected_mime: str

    @property
    def storage_key(self) -> str:
        return MediaStore.key_for(self.sha256)


def detect_mime(head: bytes) -> str:
    """The MIME type the first bytes of a file show, whatever its name or declared type."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if not head:
        return "application/x-empty"
    return "text/plain" if _looks_like_text(head) else "application/octet-stream"


def _looks_like_text(head: bytes) -> bool:
    """No zero byte, and UTF-8 (only a character cut by the end of the sniffed window is
    forgiven)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3
    return True


@dataclass(slots=True)
class _Receipt:
    """What :meth:`MediaStore.stage` learns of the bytes as they pass: their hash, their
    count (refused past ``max_bytes``) and the first few, to sniff the type."""

    max_bytes: int
    digest: Any = field(default_factory=hashlib.sha256)
    size: int = 0
    head: bytes = b""

    def add(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise TooLargeError()
        self.digest.update(chunk)
        self.head += chunk[: _SNIFF_BYTES - len(self.head)]
        return chunk

    def check_size(self, expected: int | None) -> None:
        if expected is not None and self.size != expected:
            raise DownloadError("truncated", retryable=True)

    def staged(self, tmp_path: Path) -> StagedFile:
        return StagedFile(tmp_path, self.digest.hexdigest(), self.size, detect_mime(self.head))


class MediaStore:
    """The folder of originals (``MEDIA_DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._originals = root / "originals"

    def prepare(self) -> None:
        """Create the folders (private to this user) and drop partial downloads."""
        for folder in (self.root, self._tmp, self._originals):
            folder.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                folder.chmod(0o700)
        for stale in self._tmp.iterdir():
            with contextlib.suppress(OSError):
                stale.unlink()

    @staticmethod
    def key_for(sha256: str) -> str:
        return f"originals/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path_for(self, storage_key: str) -> Path:
        path = (self.root / storage_key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("storage key points outside the media folder")
        return path

    async def stage(
        self, chunks: AsyncIterator[bytes], *, max_bytes: int, expected_size: int | None = None
    ) -> StagedFile:
        """Consume ``chunks`` into ``tmp/``, hashing them as they arrive.

        Raises :class:`TooLargeError` past ``max_bytes``, a retryable :class:`DownloadError`
        when fewer or more bytes than ``expected_size`` arrived, and :class:`StorageError`
        when the disk refuses the bytes (full, I/O error); either way nothing is kept.
        The caller must :meth:`commit` or :meth:`discard` the result.
        """
        tmp_path = self._tmp / f"{uuid.uuid4().hex}.part"
        receipt = _Receipt(max_bytes)
        try:
            await self._receive(chunks, tmp_path, receipt)
            receipt.check_size(expected_size)
        except BaseException as exc:
            # A partial file of a full disk must not stay: unlinking it frees the space.
            with contextlib.suppress(OSError):
                tmp_path.unlink()
            if isinstance(exc, OSError):
                raise StorageError.from_os(exc) from None
            raise
        return receipt.staged(tmp_path)

    async def _receive(
        self, chunks: AsyncIterator[bytes], tmp_path: Path, receipt: _Receipt
    ) -> None:
        self._tmp.mkdir(parents=True, exist_ok=True)
        with self._open_staging(tmp_path) as out:
            async for chunk in chunks:
                if chunk:
                    out.write(receipt.add(chunk))
            out.flush()
            # Durable before the database says we have it; a disk flush must not stall
            # every other chat, so it happens off the event loop.
            await asyncio.to_thread(os.fsync, out.fileno())

    def _open_staging(self, path: Path) -> IO[Any]:
        """The staging file to write (a seam for tests that simulate a full disk)."""
        return path.open("wb")

    def _link(self, source: Path, target: Path) -> None:
        os.link(source, target)

    def _unlink(self, path: Path) -> None:
        path.unlink()

    async def stage_local_file(self, source: Path, *, max_bytes: int) -> StagedFile:
        """Copy a file a local Bot API server wrote to disk, hashing it on the way."""

        async def read() -> AsyncIterator[bytes]:
            with source.open("rb") as handle:
                while chunk := await asyncio.to_thread(handle.read, CHUNK):
                    yield chunk

        return await self.stage(read(), max_bytes=max_bytes)

    def commit(self, staged: StagedFile) -> Path:
        """Put a staged file in its content address (read-only) unless that content is there
        already; return the original's path. The staged copy stays until :meth:`discard`.

        Raises :class:`StorageError` when the disk refuses (the original is then not there).
        """
        final = self.root / staged.storage_key
        try:
            if not final.exists():
                final.parent.mkdir(parents=True, exist_ok=True)
                staged.tmp_path.chmod(0o444)
                # A hard link: the staged bytes become the original without copying. If
                # another task linked the same content a moment ago, theirs is identical.
                with contextlib.suppress(FileExistsError):
                    self._link(staged.tmp_path, final)
        except OSError as exc:
            raise StorageError.from_os(exc) from None
        return final

    def discard(self, staged: StagedFile) -> None:
        # A staged file that cannot be removed now is dropped by the next start (prepare).
        try:
            staged.tmp_path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove a staged file (%s)", StorageError.from_os(exc).code)

    def delete(self, storage_key: str) -> bool:
        """Remove an original (the caller has checked nothing references it any more);
        False if it was not there. Raises :class:`StorageError` when it cannot be removed
        now (the caller retries later)."""
        path = self.path_for(storage_key)
        try:
            with contextlib.suppress(FileNotFoundError):
                path.chmod(0o600)
            self._unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError.from_os(exc) from None
        return True

    def disk_free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free


class FileDownloader:
    """Fetches files from the Bot API server and hands the bytes to the store as they come.

    ``file_path`` is what PTB's ``get_file`` returns: a full download URL (it contains the
    bot token, so it is never logged) or, from a local Bot API server sharing our disk, an
    absolute path.
    """

    def __init__(
        self,
        store: MediaStore,
        *,
        client: httpx.AsyncClient | None = None,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self._store = store
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=30.0),
            follow_redirects=False,
        )
        self._attempts = attempts
        self._backoff = backoff

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, file_path: str, *, max_bytes: int) -> StagedFile:
        """Download into the store's staging area, retrying network errors and 5xx answers."""
        local = Path(file_path)
        if local.is_absolute() and await asyncio.to_thread(local.is_file):
            return await self._store.stage_local_file(local, max_bytes=max_bytes)
        return await self._download(file_path, max_bytes)

    async def _download(self, file_path: str, max_bytes: int) -> StagedFile:
        last: DownloadError = DownloadError("failed")
        for attempt in range(self._attempts):
            try:
                return await self._fetch_once(file_path, max_bytes)
            except DownloadError as exc:
                last = exc
                if not exc.retryable:
                    raise
            await asyncio.sleep(self._backoff * (3**attempt))
        raise last

    async def _fetch_once(self, url: str, max_bytes: int) -> StagedFile:
        try:
            async with self._client.stream("GET", url) as response:
                declared = _declared_size(response, max_bytes)
                return await self._store.stage(
                    response.aiter_bytes(CHUNK), max_bytes=max_bytes, expected_size=declared
                )
        except httpx.TimeoutException:
            raise DownloadError("timeout", retryable=True) from None
        except (httpx.TransportError, httpx.StreamError):
            raise DownloadError("network", retryable=True) from None


def _declared_size(response: httpx.Response, max_bytes: int) -> int | None:
    """The size the server announces, once its answer is known to be a usable 200; raises
    a :class:`DownloadError` (retryable for 5xx) or :class:`TooLargeError` otherwise."""
    status = response.status_code
    if status != 200:
        raise DownloadError(f"http_{status}", retryable=status >= 500)
    header = response.headers.get("content-length", "")
    declared = int(header) if header.isdigit() else None
    if (declared or 0) > max_bytes:
        raise TooLargeError()
    return declared
