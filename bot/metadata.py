"""Metadata found inside original files: EXIF for images, container tags for video and audio.

What this returns is stored with the media row and shown only to staff, since GPS in a file
can reveal where the reporter stood. Reading never fails the pipeline: an unreadable file
gives ``{"error": "unreadable"}``. Run it in a thread (it does blocking file I/O).
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import exifread
from hachoir.metadata import extractMetadata
from hachoir.parser import createParser

log = logging.getLogger(__name__)

_SKIP_EXIF = re.compile(
    "|".join(("JPEGThumbnail", "TIFFThumbnail", "EXIF MakerNote", "Thumbnail", "MakerNote"))
)
_MAX_VALUE = 300
_ISO6709 = re.compile(rb"([+-]\d{1,2}\.\d+)([+-]\d{1,3}\.\d+)")
_MAX_MOOV = 32 * 1024 * 1024
_TO_THE_END = 0x7FFFFFFFFFFF  # a box of size 0 runs to the end of the file
# Where images and phone videos say when they were taken.
_IMAGE_TAKEN = ("EXIF DateTimeOriginal", "Image DateTime")
_CONTAINER_TAKEN = ("creation_date",)
_NOT_FOUND: tuple[Any, ...] = (None, {})
_MP4_TYPES = frozenset({"video/mp4", "video/quicktime", "audio/mp4", "video/3gpp"})
# Where phones write an ISO 6709 position into ``moov``: ``©xyz``, or Apple's location key.
_ISO6709_MARKERS = (b"\xa9xyz", b"com.apple.quicktime.location.ISO6709")
# A 3GPP place name: UTF-16 (after a byte-order mark) ending in two zero bytes, else UTF-8
# ending in one.
_BYTE_ORDER_MARKS = (b"\xfe\xff", b"\xff\xfe")
_UTF16_NAME = re.compile(rb"(?:..)*?\x00\x00", re.DOTALL)
_UTF8_NAME = re.compile(rb"[^\x00]*\x00")


def extract_metadata(path: Path, mime: str) -> dict[str, Any]:
    kind, slash, _ = mime.partition("/")
    reader = _READERS.get(kind + slash)
    if reader is None:
        return {}
    try:
        return reader(path, mime)
    except Exception as exc:
        log.info("metadata unreadable (%s)", exc.__class__.__name__)
        return {"error": "unreadable"}


def _found(**parts: Any) -> dict[str, Any]:
    """The parts that were found, in order: neither None nor an empty dict."""
    return {name: value for name, value in parts.items() if value not in _NOT_FOUND}


def _first(values: dict[str, str], keys: tuple[str, ...]) -> str | None:
    """The value of the first of ``keys`` that is there."""
    return next((values[key] for key in keys if key in values), None)


# ---------------------------------------------------------------------------- images


def _image_metadata(path: Path, _mime: str) -> dict[str, Any]:
    with path.open("rb") as handle:
        tags = exifread.process_file(handle, details=False)
    exif = {name: _text(value) for name, value in tags.items() if not _SKIP_EXIF.search(name)}
    return _found(exif=exif, gps=_gps(tags), taken_at=_first(exif, _IMAGE_TAKEN))


def _text(value: Any) -> str:
    return str(getattr(value, "printable", value))[:_MAX_VALUE]


def _ratio(value: Any) -> float:
    return float(Fraction(value.num, value.den)) if value.den else 0.0


def _degrees(tag: Any) -> float | None:
    """Degrees, minutes and seconds as decimal degrees; None unless all three are there."""
    values = getattr(tag, "values", ())
    if len(values) != 3:
        return None
    d, m, s = (_ratio(v) for v in values)
    return d + m / 60 + s / 3600


def _sign(tags: dict[str, Any], reference: str, default: str, negative: str) -> int:
    """-1 when the hemisphere tag (``GPSLatitudeRef``: N or S) names the negative one."""
    return -1 if str(tags.get(reference, default)).strip().upper().startswith(negative) else 1


def _gps(tags: dict[str, Any]) -> dict[str, float] | None:
    latitude = _degrees(tags.get("GPS GPSLatitude"))
    longitude = _degrees(tags.get("GPS GPSLongitude"))
    if latitude is None or longitude is None:
        return None
    result = {
        "lat": round(latitude * _sign(tags, "GPS GPSLatitudeRef", "N", "S"), 7),
        "lon": round(longitude * _sign(tags, "GPS GPSLongitudeRef", "E", "W"), 7),
    }
    altitude = getattr(tags.get("GPS GPSAltitude"), "values", None)
    if altitude:
        result["alt"] = round(_ratio(altitude[0]), 2)
    return result


# ---------------------------------------------------------------------------- video, audio


def _container_metadata(path: Path, mime: str) -> dict[str, Any]:
    tags = _container_tags(path)
    location = _mp4_location(path) if mime in _MP4_TYPES else None
    return _found(tags=tags, taken_at=_first(tags, _CONTAINER_TAKEN), gps=location)


def _container_tags(path: Path) -> dict[str, str]:
    """The tags hachoir reads from the container (first value of each)."""
    parser = createParser(str(path))
    if parser is None:
        return {}
    with parser:
        metadata = extractMetadata(parser)
    return _first_values(metadata or ())


def _first_values(items: Iterable[Any]) -> dict[str, str]:
    """Each hachoir item's first value, as text (items without a value are left out)."""
    return {item.key: str(item.values[0].value)[:_MAX_VALUE] for item in items if item.values}


def _mp4_location(path: Path) -> dict[str, float] | None:
    """The location phones write into ``moov``: ISO 6709 text (``©xyz`` or Apple's location
    key), else the 3GPP ``loci`` box."""
    with path.open("rb") as handle:
        moov = _find_box(handle, b"moov")
    return _iso6709_location(moov) or _loci_location(moov)


def _iso6709_location(moov: bytes) -> dict[str, float] | None:
    for marker in _ISO6709_MARKERS:
        at = moov.find(marker)
        match = _ISO6709.search(moov, at, at + 200) if at >= 0 else None
        if match:
            return {"lat": float(match[1]), "lon": float(match[2])}
    return None


def _occurrences(data: bytes, needle: bytes, start: int) -> Iterator[int]:
    at = data.find(needle, start)
    while at >= 0:
        yield at
        at = data.find(needle, at + len(needle))


def _loci_location(moov: bytes) -> dict[str, float] | None:
    """The first ``loci`` box that parses (the name may also occur inside other data)."""
    found = (_loci_box(moov, at) for at in _occurrences(moov, b"loci", 4))
    return next(filter(None, found), None)


def _loci_box(moov: bytes, at: int) -> dict[str, float] | None:
    # The four bytes before a box's name are its size: a "loci" inside some other data
    # has a size that does not fit, or a payload that does not parse.
    (size,) = struct.unpack_from(">I", moov, at - 4)
    if not 8 < size <= len(moov) - (at - 4):
        return None
    return _loci(moov[at + 4 : at - 4 + size])


def _loci(payload: bytes) -> dict[str, float] | None:
    """Coordinates from a 3GPP location box (3GPP TS 26.244 ``loci``); its place name is skipped,
    never kept."""
    # Version and flags (4 bytes), a packed ISO 639-2 language (2), then the place name.
    pos = _after_place_name(payload, 6)
    # The role (1 byte), then longitude, latitude and altitude as signed 16.16 fixed point.
    if len(payload) < pos + 13:
        return None
    lon, lat, alt = (value / 65536 for value in struct.unpack_from(">iii", payload, pos + 1))
    if not _plausible(lat, lon):
        return None
    return {"lat": round(lat, 7), "lon": round(lon, 7), "alt": round(alt, 2)}


def _plausible(lat: float, lon: float) -> bool:
    # (0, 0) is what a phone without a position fix writes.
    return -90 <= lat <= 90 and -180 <= lon <= 180 and not lat == lon == 0


def _after_place_name(payload: bytes, pos: int) -> int:
    """Where the place name starting at ``pos`` ends (UTF-16 after a byte-order mark ends in
    two zero bytes, else UTF-8 ends in one); the payload's end when it does not end."""
    if payload[pos : pos + 2] in _BYTE_ORDER_MARKS:
        name = _UTF16_NAME.match(payload, pos + 2)
    else:
        name = _UTF8_NAME.match(payload, pos)
    return name.end() if name else len(payload)


def _find_box(handle: BinaryIO, wanted: bytes) -> bytes:
    """The payload of the first top-level ISO-BMFF box named ``wanted`` (bounded in size);
    empty when there is none."""
    while (box := _box_header(handle)) is not None:
        name, size, header_len = box
        if size < header_len:
            return b""
        if name == wanted:
            return handle.read(min(size - header_len, _MAX_MOOV))
        handle.seek(size - header_len, 1)
    return b""


def _box_header(handle: BinaryIO) -> tuple[bytes, int, int] | None:
    """The next box's name, size and header length; None at the end of the file."""
    header = handle.read(8)
    if len(header) < 8:
        return None
    size, name = struct.unpack(">I4s", header)
    if size == 1:  # a 64-bit size follows
        return name, struct.unpack(">Q", handle.read(8))[0], 16
    return name, size or _TO_THE_END, 8


_READERS: dict[str, Callable[[Path, str], dict[str, Any]]] = {
    "image/": _image_metadata,
    "video/": _container_metadata,
    "audio/": _container_metadata,
}
