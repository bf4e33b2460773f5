"""Metadata read from originals: EXIF with GPS from images, location from phone videos."""

import io
import struct
from pathlib import Path

from PIL import Image

from bot.metadata import extract_metadata


def jpeg_with_gps(path: Path) -> None:
    image = Image.new("RGB", (32, 24), (10, 20, 30))
    exif = Image.Exif()
    exif[0x010F] = "TestMake"  # Make
    exif[0x0110] = "TestPhone"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (50.0, 32.0, 50.676)  # 50°32'50.676" = 50.547410
    gps[3] = "E"
    gps[4] = (30.0, 12.0, 31.644)  # 30°12'31.644" = 30.208790
    image.save(path, "JPEG", exif=exif)


def test_exif_and_gps_from_a_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    jpeg_with_gps(path)
    meta = extract_metadata(path, "image/jpeg")
    assert meta["exif"]["Image Make"] == "TestMake"
    assert abs(meta["gps"]["lat"] - 50.54741) < 1e-4
    assert abs(meta["gps"]["lon"] - 30.20879) < 1e-4


def test_image_without_exif_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(path, "PNG")
    assert "gps" not in extract_metadata(path, "image/png")


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_location_and_date_from_a_phone_video(tmp_path: Path) -> None:
    import datetime

    seconds = int(
        (datetime.datetime(2022, 3, 1, 10, 0) - datetime.datetime(1904, 1, 1)).total_seconds()
    )
    mvhd = box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, seconds, seconds, 1000, 5000)
        + b"\x00\x01\x00\x00\x01\x00"
        + b"\x00" * 70
        + struct.pack(">I", 2),
    )
    xyz = box(b"\xa9xyz", struct.pack(">HH", 18, 0x15C7) + b"+50.5474+030.2087/")
    data = box(b"ftyp", b"isom\x00\x00\x00\x00isommp42") + box(b"moov", mvhd + box(b"udta", xyz))
    data += box(b"mdat", b"\x00" * 64)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    meta = extract_metadata(path, "video/mp4")
    assert meta["gps"] == {"lat": 50.5474, "lon": 30.2087}
    assert meta["taken_at"].startswith("2022-03-01 10:00")


def test_unreadable_files_never_fail(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00garbage")
    assert isinstance(extract_metadata(path, "image/jpeg"), dict)
    path.write_bytes(io.BytesIO(b"\x00\x00\x00\x08moov").getvalue())
    assert isinstance(extract_metadata(path, "video/mp4"), dict)
