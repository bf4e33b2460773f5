"""Writers of export records: CSV, JSON Lines, GeoJSON and XLSX, each streaming.

A writer is handed records one at a time and passes bytes to a sink as it goes (CSV, JSONL
and GeoJSON buffer at most about 64 KB); the XLSX writer streams rows into a temporary
workbook (xlsxwriter's ``constant_memory`` mode) and copies the finished file to the sink
on :meth:`TableWriter.close`. Nothing holds more than one page of records.

Cell conventions (docs/export.md): ``None`` is an empty cell (``null`` in JSON), booleans are
``true``/``false``, lists are joined with ``|`` in CSV and XLSX (``\\`` and ``|`` inside an
item escaped with ``\\``), and CSV text cells that a spreadsheet would take for a formula
get a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
import operator
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from bot.export.filters import Format, Profile
from bot.export.rows import FIELD_TYPES, FIELDS, POINT_FIELDS

Sink = Callable[[bytes], None]

BOM = "\ufeff".encode()
_FLUSH_AT = 64 * 1024
# Characters that make a spreadsheet read a cell as a formula (OWASP's list), and the
# apostrophe itself, so that neutralising stays reversible.
_FORMULA_START = frozenset("=+-@\t\r'")
XLSX_MAX_CELL = 32_767  # characters in one Excel cell
XLSX_MAX_ROWS = 1_048_576  # rows in one worksheet, the header included
XLSX_TRUNCATED = "…[truncated: the full text is in the CSV or JSONL export]"


def neutralise(text: str) -> str:
    """A CSV cell that no spreadsheet evaluates: one beginning with ``= + - @``, tab, CR or an
    apostrophe gets a leading apostrophe (remove the first apostrophe to get it back)."""
    return f"'{text}" if text and text[0] in _FORMULA_START else text


def join_list(items: Sequence[str]) -> str:
    """A list as one cell: items joined with ``|``, with ``\\`` and ``|`` escaped by ``\\``."""
    joined = "|".join(items)
    if "\\" not in joined and joined.count("|") == len(items) - 1:
        return joined  # nothing to escape (the usual case: hashes, references)
    return "|".join(item.replace("\\", "\\\\").replace("|", "\\|") for item in items)


def split_list(cell: str) -> list[str]:
    """The inverse of :func:`join_list` (for readers of the CSV; tests use it)."""
    if not cell:
        return []
    items: list[str] = []
    current: list[str] = []
    escaped = False
    for char in cell:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


def _text(value: Any) -> str:
    """A value as the text of a CSV or XLSX cell (before formula neutralising)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return join_list(value)
    return str(value)


class TableWriter(ABC):
    """Writes records of one profile to a sink; :meth:`close` finishes the file."""

    def __init__(self, sink: Sink, profile: Profile) -> None:
        self._sink = sink
        self.fields: Sequence[str] = FIELDS[profile]
        self.profile = profile

    @abstractmethod
    def write(self, record: Mapping[str, Any]) -> bool:
        """Write one record; ``False`` if this format leaves it out (GeoJSON, no point)."""

    @abstractmethod
    def close(self) -> None:
        """Write what remains and end the file."""

    def discard(self) -> None:  # noqa: B027 - nothing to clean up unless a writer says so
        """Give up (the export failed): release temporary files."""


class _BufferedTextWriter(TableWriter):
    """Text formats: records are written into a string buffer, encoded to UTF-8 in chunks."""

    def __init__(self, sink: Sink, profile: Profile) -> None:
        super().__init__(sink, profile)
        self._buffer = io.StringIO()

    def _maybe_flush(self) -> None:
        if self._buffer.tell() >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        text = self._buffer.getvalue()
        if text:
            self._sink(text.encode("utf-8"))
        self._buffer.seek(0)
        self._buffer.truncate()

    def close(self) -> None:
        self._flush()


class CsvWriter(_BufferedTextWriter):
    """RFC 4180 CSV (``\\r\\n`` line ends, quotes where needed), UTF-8, optional BOM.

    ``None`` is an empty cell (the csv module's own rule), numbers are written as numbers
    (a negative number is not a formula), dates and times are ours and never begin with a
    formula character; text cells are neutralised, lists joined, booleans spelled out."""

    def __init__(self, sink: Sink, profile: Profile, *, bom: bool = False) -> None:
        super().__init__(sink, profile)
        if bom:
            sink(BOM)
        self._csv = csv.writer(self._buffer)
        self._csv.writerow(self.fields)
        self._get = operator.itemgetter(*self.fields)
        kinds = [FIELD_TYPES[field] for field in self.fields]
        self._texts = [i for i, kind in enumerate(kinds) if kind == "string"]
        self._lists = [i for i, kind in enumerate(kinds) if kind == "list"]
        self._booleans = [i for i, kind in enumerate(kinds) if kind == "boolean"]

    def write(self, record: Mapping[str, Any]) -> bool:
        # A hundred thousand rows of forty cells: loops over column positions, not calls per
        # cell.
        row = list(self._get(record))
        for i in self._texts:
            value = row[i]
            if value and value[0] in _FORMULA_START:
                row[i] = "'" + value
        for i in self._lists:
            value = row[i]
            if value:
                joined = join_list(value)
                row[i] = "'" + joined if joined[:1] in _FORMULA_START else joined
            else:
                row[i] = None  # an empty list is an empty cell
        for i in self._booleans:
            value = row[i]
            if value is not None:
                row[i] = "true" if value else "false"
        self._csv.writerow(row)
        self._maybe_flush()
        return True


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class JsonlWriter(_BufferedTextWriter):
    """JSON Lines: one object per tip and line, keys in field order, lists as arrays."""

    def write(self, record: Mapping[str, Any]) -> bool:
        self._buffer.write(_json({field: record[field] for field in self.fields}))
        self._buffer.write("\n")
        self._maybe_flush()
        return True


class GeoJsonWriter(_BufferedTextWriter):
    """An RFC 7946 FeatureCollection, written as it goes: one Point feature per tip with a
    place on the map ([longitude, latitude], WGS 84), the record as its properties. Tips
    without a point (or with one out of range) are left out and counted by the caller."""

    def __init__(self, sink: Sink, profile: Profile) -> None:
        super().__init__(sink, profile)
        self._lat, self._lon = POINT_FIELDS[profile]
        self._first = True
        self._buffer.write('{"type":"FeatureCollection","features":[')

    def write(self, record: Mapping[str, Any]) -> bool:
        lat, lon = record[self._lat], record[self._lon]
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return False
        feature = {
            "type": "Feature",
            "id": record["id"],
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {field: record[field] for field in self.fields},
        }
        self._buffer.write("\n" if self._first else ",\n")
        self._buffer.write(_json(feature))
        self._first = False
        self._maybe_flush()
        return True

    def close(self) -> None:
        self._buffer.write("\n]}\n")
        super().close()


class XlsxWriter(TableWriter):
    """An Excel workbook, one row per tip, streamed to a temporary file (xlsxwriter's
    ``constant_memory``) and copied to the sink when closed.

    Text is written as text (never as a formula, a number or a link), so it needs no
    apostrophe; lists are joined as in CSV; a cell longer than Excel's 32,767 characters
    ends with :data:`XLSX_TRUNCATED`; past a worksheet's 1,048,576 rows the tips continue
    on a new sheet ("tips 2", ...) with the header repeated."""

    def __init__(self, sink: Sink, profile: Profile, *, tmpdir: Path | None = None) -> None:
        super().__init__(sink, profile)
        self._dir = tempfile.TemporaryDirectory(prefix="tipbot-xlsx-", dir=tmpdir)
        self._path = Path(self._dir.name) / "export.xlsx"
        self._book = xlsxwriter.Workbook(
            str(self._path),
            {
                "constant_memory": True,
                "tmpdir": self._dir.name,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self._header = self._book.add_format({"bold": True})
        self._sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self._sheets += 1
        name = "tips" if self._sheets == 1 else f"tips {self._sheets}"
        self._sheet = self._book.add_worksheet(name)
        self._sheet.freeze_panes(1, 0)
        for column, field in enumerate(self.fields):
            self._sheet.write_string(0, column, field, self._header)
        self._row = 0

    def write(self, record: Mapping[str, Any]) -> bool:
        if self._row + 1 >= XLSX_MAX_ROWS:
            self._finish_sheet()
            self._new_sheet()
        self._row += 1
        sheet, row = self._sheet, self._row
        for column, field in enumerate(self.fields):
            value = record[field]
            if value is None or value == []:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(row, column, value)
            elif isinstance(value, int | float):
                sheet.write_number(row, column, value)
            else:
                text = _text(value)
                if len(text) > XLSX_MAX_CELL:
                    text = text[: XLSX_MAX_CELL - len(XLSX_TRUNCATED)] + XLSX_TRUNCATED
                sheet.write_string(row, column, text)
        return True

    def _finish_sheet(self) -> None:
        self._sheet.autofilter(0, 0, self._row, len(self.fields) - 1)

    def close(self) -> None:
        try:
            self._finish_sheet()
            self._book.close()
            with self._path.open("rb") as workbook:
                while chunk := workbook.read(1024 * 1024):
                    self._sink(chunk)
        finally:
            self._dir.cleanup()

    def discard(self) -> None:
        self._dir.cleanup()


def open_writer(
    fmt: Format, sink: Sink, profile: Profile, *, bom: bool = False, tmpdir: Path | None = None
) -> TableWriter:
    """A writer of ``fmt`` for ``profile``'s records. ``bom`` is for CSV only (JSON must not
    start with one); ``tmpdir`` is where XLSX builds its workbook."""
    if bom and fmt != Format.CSV:
        raise ValueError("a byte order mark (--bom) is for CSV only")
    if fmt == Format.CSV:
        return CsvWriter(sink, profile, bom=bom)
    if fmt == Format.JSONL:
        return JsonlWriter(sink, profile)
    if fmt == Format.GEOJSON:
        return GeoJsonWriter(sink, profile)
    return XlsxWriter(sink, profile, tmpdir=tmpdir)
