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


def mvhd() -> bytes:
    """A movie header, so that the container parser reads the file."""
    payload = struct.pack(">B3xIIII", 0, 0, 0, 1000, 5000) + b"\x00\x01\x00\x00\x01\x00"
    return box(b"mvhd", payload + b"\x00" * 70 + struct.pack(">I", 2))


def loci(lat: float, lon: float, alt: float, name: bytes) -> bytes:
    """A 3GPP location box: language "ukr", a place name, role 0, then 16.16 fixed point."""
    language = ((ord("u") - 0x60) << 10) | ((ord("k") - 0x60) << 5) | (ord("r") - 0x60)
    fixed = struct.pack(">iii", round(lon * 65536), round(lat * 65536), round(alt * 65536))
    return box(
        b"loci", struct.pack(">B3xH", 0, language) + name + b"\x00\x00" + fixed + b"earth\x00\x00"
    )


def video(path: Path, *udta: bytes) -> Path:
    moov = box(b"moov", mvhd() + box(b"udta", b"".join(udta)))
    path.write_bytes(
        box(b"ftyp", b"3gp5\x00\x00\x00\x003gp5isom") + moov + box(b"mdat", b"\x00" * 16)
    )
    return path


def test_location_from_a_3gpp_loci_box(tmp_path: Path) -> None:
    utf8 = "Бахмут, вул. Миру".encode()
    path = video(tmp_path / "clip.3gp", loci(48.5953, 38.0001, 170.5, utf8))
    meta = extract_metadata(path, "video/3gpp")
    gps = meta["gps"]
    assert abs(gps["lat"] - 48.5953) < 1e-4
    assert abs(gps["lon"] - 38.0001) < 1e-4
    assert gps["alt"] == 170.5
    assert "Бахмут" not in repr(meta), "the place name typed on the phone is not kept"


def test_loci_with_a_utf16_name_and_southern_western_coordinates(tmp_path: Path) -> None:
    # A UTF-16 name holds zero bytes of its own; only the two-byte terminator ends it.
    name = b"\xfe\xff" + "Ab".encode("utf-16-be") + b"\x00"
    path = video(tmp_path / "clip.mp4", loci(-33.8688, -70.6693, -2.25, name))
    gps = extract_metadata(path, "video/mp4")["gps"]
    assert abs(gps["lat"] + 33.8688) < 1e-4
    assert abs(gps["lon"] + 70.6693) < 1e-4
    assert gps["alt"] == -2.25


def test_iso6709_text_wins_over_loci(tmp_path: Path) -> None:
    xyz = box(b"\xa9xyz", struct.pack(">HH", 18, 0x15C7) + b"+50.4501+030.5234/")
    path = video(tmp_path / "clip.mp4", loci(1.0, 2.0, 0.0, b"x"), xyz)
    assert extract_metadata(path, "video/mp4")["gps"] == {"lat": 50.4501, "lon": 30.5234}


def test_loci_without_a_fix_or_broken_gives_no_location(tmp_path: Path) -> None:
    no_fix = video(tmp_path / "zero.mp4", loci(0.0, 0.0, 0.0, b"x"))
    assert "gps" not in extract_metadata(no_fix, "video/mp4")
    out_of_range = video(tmp_path / "range.mp4", loci(95.0, 30.0, 0.0, b"x"))
    assert "gps" not in extract_metadata(out_of_range, "video/mp4")
    truncated = video(tmp_path / "short.mp4", loci(50.0, 30.0, 0.0, b"x")[:-20])
    assert "gps" not in extract_metadata(truncated, "video/mp4")
    unterminated = video(tmp_path / "name.mp4", box(b"loci", b"\x00" * 6 + b"no end"))
    assert "gps" not in extract_metadata(unterminated, "video/mp4")
    # "loci" as bytes inside another box's data is not taken for a box.
    stray = video(
        tmp_path / "stray.mp4",
        box(b"free", b"\xff\xff\xff\xffloci" + loci(50.0, 30.0, 0.0, b"x")[8:]),
    )
    assert "gps" not in extract_metadata(stray, "video/mp4")
