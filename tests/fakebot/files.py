"""Files known to the fake server: ids, metadata, content and deterministic generators.

A :class:`FakeFile` is either backed by ``bytes`` or is *virtual*: a size plus a factory that
yields the content in chunks, deterministically.  Virtual files let a test send a 1 GB video
without holding it in memory; their SHA-256 is computed once, up front, by streaming the
generator.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChunkFactory",
    "FakeFile",
    "FileStore",
    "hash_chunks",
    "pattern_chunks",
    "sample_bytes",
    "sample_jpeg",
    "virtual_factory",
]

ChunkFactory = Callable[[], Iterable[bytes]]
"""A zero-argument callable returning a fresh iterable of byte chunks (the whole file)."""

MiB = 1024 * 1024

# The leading bytes real files of each kind start with, so content sniffers (``filetype``)
# recognise generated content.
_HEADERS: dict[str, bytes] = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "image/webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    "video/mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
    "video/quicktime": b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ",
    "audio/ogg": b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00",
    "audio/mpeg": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "application/pdf": b"%PDF-1.4\n",
    "application/zip": b"PK\x03\x04",
}

# file_id prefixes of real Bot API file ids, by kind (cosmetic, but makes ids look real).
_ID_PREFIX: dict[str, str] = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
    "video_note": "DQACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
}

# folder of file_path by kind, as on the real server
_FOLDERS: dict[str, str] = {
    "photo": "photos",
    "document": "documents",
    "video": "videos",
    "voice": "voice",
    "audio": "music",
    "animation": "animations",
    "video_note": "video_notes",
    "sticker": "stickers",
}

_EXTENSIONS: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "audio/ogg": "oga",
    "audio/mpeg": "mp3",
    "application/pdf": "pdf",
    "application/zip": "zip",
}


def pattern_chunks(
    size: int, seed: int, *, header: bytes = b"", chunk_size: int = MiB
) -> Iterator[bytes]:
    """Yield ``size`` deterministic pseudo-random bytes in chunks of ``chunk_size``.

    The content only depends on ``(size, seed, header)``: a 1 MiB random block derived from
    ``seed`` whose first 8 bytes are replaced by the chunk index, so chunks differ; the
    file starts with ``header``.  Throughput is memcpy-bound (GB/s).
    """
    if size < 0:
        raise ValueError("size must be >= 0")
    block = random.Random(seed).randbytes(chunk_size)
    position = 0
    index = 0
    while position < size:
        length = min(chunk_size, size - position)
        chunk = index.to_bytes(8, "big") + block[8:length] if length > 8 else block[:length]
        if index == 0 and header:
            chunk = (header + chunk[len(header) :])[:length]
        yield chunk
        position += length
        index += 1


def virtual_factory(size: int, seed: int, mime_type: str | None = None) -> ChunkFactory:
    """A :data:`ChunkFactory` for ``size`` deterministic bytes starting with the magic bytes of
    ``mime_type`` (see :func:`pattern_chunks`)."""
    header = _HEADERS.get(mime_type or "", b"")

    def factory() -> Iterator[bytes]:
        return pattern_chunks(size, seed, header=header)

    return factory


def hash_chunks(factory: ChunkFactory, size: int | None = None) -> str:
    """Hex SHA-256 of everything ``factory`` yields (streamed, constant memory).

    Raises:
        ValueError: the generated length differs from ``size``.
    """
    hasher = hashlib.sha256()
    total = 0
    for chunk in factory():
        hasher.update(chunk)
        total += len(chunk)
    if size is not None and total != size:
        raise ValueError(f"generator produced {total} bytes, expected {size}")
    return hasher.hexdigest()


def sample_bytes(size: int, seed: int, mime_type: str | None = None) -> bytes:
    """Small deterministic content of ``size`` bytes starting with ``mime_type``'s magic."""
    header = _HEADERS.get(mime_type or "", b"")
    return b"".join(pattern_chunks(size, seed, header=header))


def sample_jpeg(width: int, height: int, seed: int) -> bytes:
    """A real JPEG of ``width`` x ``height`` (needs Pillow; falls back to JPEG-ish bytes).

    The colour depends on ``seed`` so different photos have different content.
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a test dependency
        return sample_bytes(max(256, width * height // 40), seed, "image/jpeg") + b"\xff\xd9"
    rng = random.Random(seed)
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    buffer = io.BytesIO()
    Image.new("RGB", (max(1, width), max(1, height)), colour).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _short_id(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:length]


@dataclass(eq=False)
class FakeFile:
    """A file stored by the fake server.

    Attributes:
        file_id: stable, distinct id (looks like a real Bot API file_id).
        file_unique_id: stable, distinct unique id.
        kind: ``photo``, ``document``, ``video``, ``animation``, ``audio``, ``voice``,
            ``video_note`` or ``sticker``.
        size: content length in bytes.
        sha256: hex SHA-256 of the content (computed when the file is created).
        file_path: relative path returned by ``getFile`` (``photos/file_7.jpg``); the bytes
            are served at ``/file/bot<token>/<file_path>`` once ``getFile`` was called.
        mime_type, file_name, width, height, duration: metadata used in the API objects.
        extra: further API fields for the object (``performer``, ``title``, ``length``,
            ``emoji``...).
        photo_sizes: for photos, all sizes of the same photo (shared list), smallest first.
        path_issued: ``getFile`` was called, so the download URL is live.
        downloads: completed downloads of this file.
    """

    file_id: str
    file_unique_id: str
    kind: str
    size: int
    sha256: str
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    content: bytes | None = field(default=None, repr=False)
    chunk_factory: ChunkFactory | None = field(default=None, repr=False)
    photo_sizes: list[FakeFile] | None = field(default=None, repr=False)
    path_issued: bool = False
    downloads: int = 0

    @property
    def is_virtual(self) -> bool:
        """True when the content comes from a generator instead of stored bytes."""
        return self.content is None

    def iter_chunks(self, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        """Yield the content in chunks of at most ``chunk_size`` bytes."""
        if self.content is not None:
            view = memoryview(self.content)
            for start in range(0, len(view), chunk_size):
                yield bytes(view[start : start + chunk_size])
            return
        assert self.chunk_factory is not None
        for chunk in self.chunk_factory():
            if len(chunk) <= chunk_size:
                yield chunk
                continue
            view = memoryview(chunk)
            for start in range(0, len(view), chunk_size):
                yield bytes(view[start : start + chunk_size])

    def read_bytes(self) -> bytes:
        """The whole content (avoid for big virtual files)."""
        if self.content is not None:
            return self.content
        return b"".join(self.iter_chunks(MiB))

    def to_api(self) -> dict[str, Any]:
        """This file as the Bot API object of its kind (``PhotoSize``, ``Document``...)."""
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.kind in ("photo", "video", "animation", "sticker"):
            data["width"] = self.width or 0
            data["height"] = self.height or 0
        if self.kind in ("video", "animation", "audio", "voice", "video_note"):
            data["duration"] = self.duration or 0
        if self.kind in ("document", "video", "animation", "audio") and self.file_name:
            data["file_name"] = self.file_name
        if self.kind in ("document", "video", "animation", "audio", "voice") and self.mime_type:
            data["mime_type"] = self.mime_type
        if self.kind == "video_note":
            data["length"] = self.extra.get("length", self.width or 240)
        if self.kind == "sticker":
            data.setdefault("type", "regular")
            data.setdefault("is_animated", False)
            data.setdefault("is_video", False)
        for key, value in self.extra.items():
            if key != "length" and value is not None:
                data[key] = value
        return data

    def message_fields(self) -> dict[str, Any]:
        """The fields a message carrying this file has (``{"photo": [...]}``,
        ``{"video": {...}}``; animations also get the legacy ``document`` field)."""
        if self.kind == "photo":
            return {"photo": self.photo_api()}
        fields: dict[str, Any] = {self.kind: self.to_api()}
        if self.kind == "animation":
            document = self.to_api()
            for key in ("width", "height", "duration"):
                document.pop(key, None)
            fields["document"] = document
        return fields

    def photo_api(self) -> list[dict[str, Any]]:
        """The ``photo`` array of a message for this photo (all sizes, smallest first)."""
        sizes = self.photo_sizes or [self]
        return [size.to_api() for size in sizes]

    def get_file_api(self) -> dict[str, Any]:
        """The ``File`` object ``getFile`` returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


class FileStore:
    """All files of one fake server, by ``file_id`` and by ``file_path``."""

    def __init__(self, seed: str = "fake") -> None:
        """Create an empty store; ``seed`` makes ids distinct between servers."""
        self._seed = seed
        self._counter = 0
        self._by_id: dict[str, FakeFile] = {}
        self._by_path: dict[str, FakeFile] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[FakeFile]:
        return iter(list(self._by_id.values()))

    def seed_for(self, number: int) -> int:
        """A deterministic generator seed for file number ``number`` of this store."""
        return int.from_bytes(hashlib.sha256(f"{self._seed}:{number}".encode()).digest()[:8])

    def get(self, file_id: str) -> FakeFile | None:
        """The file with this ``file_id`` (or ``file_unique_id``), if any."""
        found = self._by_id.get(file_id)
        if found is None:
            found = next((f for f in self._by_id.values() if f.file_unique_id == file_id), None)
        return found

    def by_path(self, file_path: str) -> FakeFile | None:
        """The file served at ``file_path``, if any."""
        return self._by_path.get(file_path)

    def add(
        self,
        *,
        kind: str,
        content: bytes | None = None,
        size: int | None = None,
        chunk_factory: ChunkFactory | None = None,
        mime_type: str | None = None,
        file_name: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
        extra: dict[str, Any] | None = None,
        sha256: str | None = None,
    ) -> FakeFile:
        """Register a file and return it.

        Give either ``content`` or ``size`` (with an optional ``chunk_factory``; without one a
        deterministic pseudo-random generator seeded by the file number is used, starting with
        the magic bytes of ``mime_type``).  For virtual files the SHA-256 is computed here by
        streaming the generator once (unless ``sha256`` is passed), and the generated length
        is checked against ``size``.

        Raises:
            ValueError: neither/both of content and size, or a generator of the wrong length.
        """
        if kind not in _ID_PREFIX:
            raise ValueError(f"unknown file kind {kind!r}")
        self._counter += 1
        number = self._counter
        if content is not None:
            if size is not None and size != len(content):
                raise ValueError("size disagrees with len(content)")
            size = len(content)
            digest = hashlib.sha256(content).hexdigest()
        else:
            if size is None:
                raise ValueError("give content or size")
            if chunk_factory is None:
                chunk_factory = virtual_factory(size, self.seed_for(number), mime_type)
            digest = sha256 if sha256 is not None else hash_chunks(chunk_factory, size)
        extension = _EXTENSIONS.get(mime_type or "")
        if extension is None and file_name and "." in file_name:
            extension = file_name.rsplit(".", 1)[1].lower()
        if extension is None:
            extension = {"photo": "jpg", "voice": "oga", "sticker": "webp"}.get(kind, "bin")
        seed_text = f"{self._seed}:{kind}:{number}"
        unique_prefix = "AQAD" if kind == "photo" else "AgAD"
        fake_file = FakeFile(
            file_id=f"{_ID_PREFIX[kind]}{number:06d}{_short_id(seed_text, 40)}",
            file_unique_id=unique_prefix + _short_id("u" + seed_text, 12),
            kind=kind,
            size=size,
            sha256=digest,
            file_path=f"{_FOLDERS[kind]}/file_{number}.{extension}",
            mime_type=mime_type,
            file_name=file_name,
            width=width,
            height=height,
            duration=duration,
            extra=dict(extra or {}),
            content=content,
            chunk_factory=chunk_factory if content is None else None,
        )
        self._by_id[fake_file.file_id] = fake_file
        self._by_path[fake_file.file_path] = fake_file
        return fake_file
