"""The store of originals: hash on receipt, content addressing, read-only, bounded memory."""

import hashlib
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.media import DownloadError, FileDownloader, MediaStore, TooLargeError, detect_mime

JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    store = MediaStore(tmp_path / "media")
    store.prepare()
    return store


async def test_stage_hashes_the_bytes_as_received(store: MediaStore) -> None:
    data = JPEG_HEAD + b"pixels" * 1000
    staged = await store.stage(chunks(data), max_bytes=10**6)
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert staged.size == len(data)
    assert staged.detected_mime == "image/jpeg"
    path = store.commit(staged)
    store.discard(staged)
    assert path.read_bytes() == data
    assert path == store.root / "originals" / staged.sha256[:2] / staged.sha256[2:4] / staged.sha256
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert not staged.tmp_path.exists()


async def test_same_content_is_stored_once(store: MediaStore) -> None:
    data = b"%PDF-1.7 same bytes"
    first = await store.stage(chunks(data), max_bytes=1000)
    second = await store.stage(chunks(data), max_bytes=1000)
    assert store.commit(first) == store.commit(second)
    store.discard(first)
    store.discard(second)
    files = [p for p in (store.root / "originals").rglob("*") if p.is_file()]
    assert len(files) == 1


async def test_over_the_limit_nothing_is_kept(store: MediaStore) -> None:
    with pytest.raises(TooLargeError):
        await store.stage(chunks(b"x" * 101), max_bytes=100)
    assert list((store.root / "tmp").iterdir()) == []


async def test_short_body_is_a_retryable_failure(store: MediaStore) -> None:
    with pytest.raises(DownloadError) as caught:
        await store.stage(chunks(b"abc"), max_bytes=100, expected_size=10)
    assert caught.value.retryable
    assert list((store.root / "tmp").iterdir()) == []


def test_delete_removes_a_read_only_original(store: MediaStore, tmp_path: Path) -> None:
    key = store.key_for("ab" * 32)
    path = store.root / key
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    path.chmod(0o444)
    assert store.delete(key)
    assert not path.exists()
    assert not store.delete(key)
    with pytest.raises(ValueError, match="outside"):
        store.path_for("../../etc/passwd")


def test_detect_mime_from_bytes_not_names() -> None:
    assert detect_mime(JPEG_HEAD) == "image/jpeg"
    assert detect_mime(b"%PDF-1.4\n") == "application/pdf"
    assert detect_mime("Привіт, світ".encode()) == "text/plain"
    assert detect_mime(b"\x00\x01\x02\xff\xfe") == "application/octet-stream"
    assert detect_mime(b"") == "application/x-empty"


async def test_downloader_retries_server_errors_then_succeeds(store: MediaStore) -> None:
    data = b"%PDF-1.7 evidence"
    calls = 0

    def respond(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            return httpx.Response(502)
        return httpx.Response(200, content=data)

    client = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    downloader = FileDownloader(store, client=client, backoff=0.0)
    staged = await downloader.fetch("http://files.invalid/file/bot1:x/doc.pdf", max_bytes=1000)
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert calls == 3
    await downloader.aclose()


async def test_downloader_gives_up_on_client_errors(store: MediaStore) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(404)))
    downloader = FileDownloader(store, client=client, backoff=0.0)
    with pytest.raises(DownloadError) as caught:
        await downloader.fetch("http://files.invalid/x", max_bytes=1000)
    assert caught.value.reason == "http_404"
    await downloader.aclose()


async def test_downloader_reads_a_local_servers_file_from_disk(
    store: MediaStore, tmp_path: Path
) -> None:
    source = tmp_path / "local-bot-api" / "videos" / "file_1.mp4"
    source.parent.mkdir(parents=True)
    data = b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 5000
    source.write_bytes(data)
    downloader = FileDownloader(store)
    staged = await downloader.fetch(str(source), max_bytes=10**6)
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert staged.detected_mime == "video/mp4"
    await downloader.aclose()
