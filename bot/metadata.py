"""Metadata found inside original files: EXIF for images, container tags for video and audio.

What this returns is stored with the media row and shown only to staff, since GPS in a file
can reveal where the reporter stood. Reading never fails the pipeline: an unreadable file
gives ``{"error": "unreadable"}``. Run it in a thread (it does blocking file I/O).
"""

from __future__ import annotations

import logging
import re
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import exifread
from hachoir.metadata import extractMetadata
from hachoir.parser import createParser

log = logging.getLogger(__name__)

_SKIP_EXIF = ("JPEGThumbnail", "TIFFThumbnail", "EXIF MakerNote", "Thumbnail", "MakerNote")
_MAX_VALUE = 300
_ISO6709 = re.compile(rb"([+-]\d{1,2}\.\d+)([+-]\d{1,3}\.\d+)")
_MAX_MOOV = 32 * 1024 * 1024


def extract_metadata(path: Path, mime: str) -> dict[str, Any]:
    try:
        if mime.startswith("image/"):
            return _image_metadata(path)
        if mime.startswith(("video/", "audio/")):
            return _container_metadata(path, mime)
    except Exception as exc:
        log.info("metadata unreadable (%s)", exc.__class__.__name__)
        return {"error": "unreadable"}
    return {}


def _ratio(value: Any) -> float:
    return float(Fraction(value.num, value.den)) if value.den else 0.0


def _gps(tags: dict[str, Any]) -> dict[str, float] | None:
    lat = tags.get("GPS GPSLatitude")
    lon = tags.get("GPS GPSLongitude")
    if lat is None or lon is None or len(lat.values) != 3 or len(lon.values) != 3:
        return None

    def degrees(values: Any) -> float:
        d, m, s = (_ratio(v) for v in values)
        return d + m / 60 + s / 3600

    latitude = degrees(lat.values)
    longitude = degrees(lon.values)
    if str(tags.get("GPS GPSLatitudeRef", "N")).strip().upper().startswith("S"):
        latitude = -latitude
    if str(tags.get("GPS GPSLongitudeRef", "E")).strip().upper().startswith("W"):
        longitude = -longitude
    result = {"lat": round(latitude, 7), "lon": round(longitude, 7)}
    altitude = tags.get("GPS GPSAltitude")
    if altitude is not None and altitude.values:
        result["alt"] = round(_ratio(altitude.values[0]), 2)
    return result


def _image_metadata(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        tags = exifread.process_file(handle, details=False)
    exif: dict[str, str] = {}
    for name, value in tags.items():
        if any(part in name for part in _SKIP_EXIF):
            continue
        text = str(value.printable if hasattr(value, "printable") else value)
        exif[name] = text[:_MAX_VALUE]
    result: dict[str, Any] = {}
    if exif:
        result["exif"] = exif
    gps = _gps(tags)
    if gps:
        result["gps"] = gps
    for key in ("EXIF DateTimeOriginal", "Image DateTime"):
        if key in exif:
            result["taken_at"] = exif[key]
            break
    return result


def _container_metadata(path: Path, mime: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    parser = createParser(str(path))
    if parser is not None:
        with parser:
            metadata = extractMetadata(parser)
        if metadata is not None:
            tags: dict[str, str] = {}
            for item in metadata:
                if item.values:
                    tags[item.key] = str(item.values[0].value)[:_MAX_VALUE]
            if tags:
                result["tags"] = tags
            if "creation_date" in tags:
                result["taken_at"] = tags["creation_date"]
    if mime in ("video/mp4", "video/quicktime", "audio/mp4", "video/3gpp"):
        location = _mp4_location(path)
        if location:
            result["gps"] = location
    return result


def _mp4_location(path: Path) -> dict[str, float] | None:
    """The location phones write into ``moov``: ISO 6709 text (``©xyz`` or Apple's location
    key), else the 3GPP ``loci`` box."""
    with path.open("rb") as handle:
        moov = _find_box(handle, b"moov")
    if moov is None:
        return None
    for marker in (b"\xa9xyz", b"com.apple.quicktime.location.ISO6709"):
        at = moov.find(marker)
        if at >= 0:
            match = _ISO6709.search(moov, at, at + 200)
            if match:
                return {"lat": float(match[1]), "lon": float(match[2])}
    at = moov.find(b"loci", 4)
    while at >= 0:
        # The four bytes before a box's name are its size: a "loci" inside some other data
        # has a size that does not fit, or a payload that does not parse.
        (size,) = struct.unpack_from(">I", moov, at - 4)
        if 8 < size <= len(moov) - (at - 4):
            location = _loci(moov[at + 4 : at - 4 + size])
            if location:
                return location
        at = moov.find(b"loci", at + 4)
    return None


def _loci(payload: bytes) -> dict[str, float] | None:
    """Coordinates from a 3GPP location box (3GPP TS 26.244 ``loci``); its place name is skipped,
    never kept."""
    # Version and flags (4 bytes), a packed ISO 639-2 language (2), then the place name: UTF-16
    # after a byte-order mark ending in two zero bytes, else UTF-8 ending in one.
    pos = 6
    if payload[pos : pos + 2] in (b"\xfe\xff", b"\xff\xfe"):
        pos += 2
        while pos + 1 < len(payload) and payload[pos : pos + 2] != b"\x00\x00":
            pos += 2
        pos += 2
    else:
        end = payload.find(b"\x00", pos)
        if end < 0:
            return None
        pos = end + 1
    # The role (1 byte), then longitude, latitude and altitude as signed 16.16 fixed point.
    if len(payload) < pos + 13:
        return None
    lon, lat, alt = (value / 65536 for value in struct.unpack_from(">iii", payload, pos + 1))
    # (0, 0) is what a phone without a position fix writes.
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or lat == lon == 0:
        return None
    return {"lat": round(lat, 7), "lon": round(lon, 7), "alt": round(alt, 2)}


def _find_box(handle: BinaryIO, wanted: bytes) -> bytes | None:
    """The payload of the first top-level ISO-BMFF box named ``wanted`` (bounded in size)."""
    while True:
        header = handle.read(8)
        if len(header) < 8:
            return None
        size, name = struct.unpack(">I4s", header)
        header_len = 8
        if size == 1:
            size = struct.unpack(">Q", handle.read(8))[0]
            header_len = 16
        elif size == 0:
            size = 0x7FFFFFFFFFFF
        if size < header_len:
            return None
        if name == wanted:
            return handle.read(min(size - header_len, _MAX_MOOV))
        handle.seek(size - header_len, 1)
