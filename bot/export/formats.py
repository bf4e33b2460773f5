"""Writers of export records: CSV, JSON Lines, GeoJSON and XLSX, each streaming.

A writer is handed tips a slice at a time (their values in field order) and passes bytes to
a sink as it goes (CSV, JSONL and GeoJSON buffer about 64 KB, or one slice of tips if that
is more); the XLSX writer streams rows into a temporary workbook (xlsxwriter's
``constant_memory`` mode) and copies the finished file to the sink on
:meth:`TableWriter.close`. Nothing holds more than one page of tips.

Cell conventions (docs/export.md): ``None`` is an empty cell (``null`` in JSON), booleans are
``true``/``false``, lists are joined with ``|`` in CSV and XLSX (``\\`` and ``|`` inside an
item escaped with ``\\``), and CSV text cells that a spreadsheet would take for a formula
get a leading apostrophe.
"""

from __future__ import annotations

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
    """A value as the text of an XLSX cell."""
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
    """Writes tips of one profile to a sink; :meth:`close` finishes the file.

    A tip is given as its values in :data:`~bot.export.rows.FIELDS` order
    (:meth:`write_rows`, what :func:`~bot.export.rows.iter_tip_values` yields) or as a
    record (:meth:`write`)."""

    def __init__(self, sink: Sink, profile: Profile) -> None:
        self._sink = sink
        self.fields: Sequence[str] = FIELDS[profile]
        self.profile = profile
        self._values = operator.itemgetter(*self.fields)

    @abstractmethod
    def write_rows(self, rows: Sequence[Sequence[Any]]) -> int:
        """Write tips given as values; returns how many were written (the others this
        format leaves out: GeoJSON, no point)."""

    def write(self, record: Mapping[str, Any]) -> bool:
        """Write one record; ``False`` if this format leaves it out (GeoJSON, no point)."""
        return self.write_rows([self._values(record)]) == 1

    @abstractmethod
    def close(self) -> None:
        """Write what remains and end the file."""

    def discard(self) -> None:  # noqa: B027 - nothing to clean up unless a writer says so
        """Give up (the export failed): release temporary files."""


class _BufferedTextWriter(TableWriter):
    """Text formats: text is collected in a list of strings, encoded to UTF-8 in chunks of
    about :data:`_FLUSH_AT` characters (a list rather than a StringIO, which keeps four
    bytes per character of any text that is not ASCII and copies it twice)."""

    def __init__(self, sink: Sink, profile: Profile) -> None:
        super().__init__(sink, profile)
        self._parts: list[str] = []
        self._size = 0

    def _write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)

    def _maybe_flush(self) -> None:
        if self._size >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        text = "".join(self._parts)
        self._parts.clear()
        self._size = 0
        if text:
            self._sink(text.encode("utf-8"))

    def close(self) -> None:
        self._flush()


# ------------------------------------------------------------------------------ CSV
#
# A CSV line is made by a function compiled for the profile's fields (below) rather than by
# the csv module: that writer looks at every character of every cell, and a hundred
# thousand tips of forty cells made it the largest single cost of an export. The quoting is
# the csv module's (its ``excel`` dialect, which tests/unit/test_export_csv.py compares
# with): a cell holding a comma, a quote, CR or LF is quoted, quotes doubled; ``None`` and
# ``""`` are empty cells.

_CELL_MEMO = 50_000  # distinct values of repeated fields whose cells are kept, per export

#: String fields whose values repeat from tip to tip (codes, names of places and of
#: moderators): each distinct value's cell is made once per export. Any other string field
#: is free text (or unique, like a reference), made cell by cell.
REPEATED_FIELDS: frozenset[str] = frozenset(
    {
        "status",
        "decided_by",
        "reject_reason",
        "category",
        "rome_statute",
        "perpetrator",
        "incident_date_precision",
        "settlement",
        "katottg",
        "hromada",
        "raion",
        "oblast",
        "oblast_name",
        "location_precision",
        "location_source",
        "language",
    }
)


def _quoted(cell: str) -> str:
    """RFC 4180 quoting where a cell needs it (as the csv module's ``excel`` dialect)."""
    if '"' in cell:
        return '"' + cell.replace('"', '""') + '"'
    if "," in cell or "\n" in cell or "\r" in cell:
        return '"' + cell + '"'
    return cell


def _text_cell(value: str | None) -> str:
    """A text field's cell: neutralised (formula injection), then quoted where needed."""
    if not value:
        return ""
    if value[0] in _FORMULA_START:
        value = "'" + value
    return _quoted(value)


def _list_cell(items: Sequence[str]) -> str:
    """A list field's cell: joined (:func:`join_list`), neutralised, quoted (non-empty)."""
    joined = join_list(items)
    if joined[:1] in _FORMULA_START:
        joined = "'" + joined
    return _quoted(joined)


class _Cells:
    """The cells of repeated values, each made once (up to :data:`_CELL_MEMO` values): a
    plain dict looked up by the line function (``known[v] if v in known``), which is
    several times quicker than a dict subclass with ``__missing__``."""

    def __init__(self) -> None:
        self.known: dict[Any, str] = {None: "", "": ""}

    def make(self, value: str) -> str:
        cell = _text_cell(value)
        if len(self.known) < _CELL_MEMO:
            self.known[value] = cell
        return cell


def _csv_line_function(fields: Sequence[str]) -> Callable[[Sequence[Any]], str]:
    """A function from a tip's values (in ``fields`` order) to its CSV line, ``\\r\\n``
    included: straight-line code with one expression per cell, chosen by the field's type.

    Numbers are written as Python writes them (as the csv module does); dates and times are
    the export's own text and never need quoting; booleans are ``true``/``false``; lists are
    joined; repeated strings come from a per-export memo; other strings are neutralised
    and quoted. Compiled once per writer (the source is generated from :data:`FIELD_TYPES`,
    so it follows the fields)."""
    names = [f"v{i}" for i in range(len(fields))]
    cells: list[str] = []
    for name, field in zip(names, fields, strict=True):
        kind = FIELD_TYPES[field]
        if kind in ("integer", "number", "date", "time", "datetime"):
            cells.append(f"{{'' if {name} is None else {name}}}")
        elif kind == "boolean":
            cells.append(f"{{'' if {name} is None else 'true' if {name} else 'false'}}")
        elif kind == "list":
            cells.append(f"{{_list({name}) if {name} else ''}}")
        elif field in REPEATED_FIELDS:
            cells.append(f"{{_known[{name}] if {name} in _known else _make({name})}}")
        else:
            cells.append(f"{{_text({name})}}")
    source = (
        "def csv_line(values):\n"
        f"    {', '.join(names)}, = values\n"
        f'    return f"{",".join(cells)}\\r\\n"\n'
    )
    memo = _Cells()
    namespace: dict[str, Any] = {
        "_known": memo.known,
        "_make": memo.make,
        "_list": _list_cell,
        "_text": _text_cell,
    }
    exec(compile(source, f"<csv line: {len(fields)} fields>", "exec"), namespace)  # noqa: S102
    function: Callable[[Sequence[Any]], str] = namespace["csv_line"]
    return function


class CsvWriter(_BufferedTextWriter):
    """RFC 4180 CSV (``\\r\\n`` line ends, quotes where needed), UTF-8, optional BOM.

    ``None`` is an empty cell, numbers are written as numbers (a negative number is not a
    formula), dates and times are ours and never begin with a formula character; text
    cells are neutralised, lists joined, booleans spelled out."""

    def __init__(self, sink: Sink, profile: Profile, *, bom: bool = False) -> None:
        super().__init__(sink, profile)
        if bom:
            sink(BOM)
        self._write(",".join(map(_quoted, self.fields)) + "\r\n")
        self._line = _csv_line_function(self.fields)

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> int:
        self._write("".join(map(self._line, rows)))
        self._maybe_flush()
        return len(rows)


# ------------------------------------------------------------------------------ JSON

# One encoder for every line (json.dumps with options makes a new one each call).
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class JsonlWriter(_BufferedTextWriter):
    """JSON Lines: one object per tip and line, keys in field order, lists as arrays."""

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> int:
        fields = self.fields
        self._write(
            "".join([_JSON(dict(zip(fields, values, strict=True))) + "\n" for values in rows])
        )
        self._maybe_flush()
        return len(rows)


class GeoJsonWriter(_BufferedTextWriter):
    """An RFC 7946 FeatureCollection, written as it goes: one Point feature per tip with a
    place on the map ([longitude, latitude], WGS 84), the record as its properties. Tips
    without a point (or with one out of range) are left out and counted by the caller."""

    def __init__(self, sink: Sink, profile: Profile) -> None:
        super().__init__(sink, profile)
        lat, lon = POINT_FIELDS[profile]
        self._lat, self._lon = self.fields.index(lat), self.fields.index(lon)
        self._id = self.fields.index("id")
        self._first = True
        self._write('{"type":"FeatureCollection","features":[')

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> int:
        written = 0
        for values in rows:
            lat, lon = values[self._lat], values[self._lon]
            if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
                continue
            feature = {
                "type": "Feature",
                "id": values[self._id],
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": dict(zip(self.fields, values, strict=True)),
            }
            self._write(("\n" if self._first else ",\n") + _JSON(feature))
            self._first = False
            written += 1
        self._maybe_flush()
        return written

    def close(self) -> None:
        self._write("\n]}\n")
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

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> int:
        for values in rows:
            self._write_row(values)
        return len(rows)

    def _write_row(self, values: Sequence[Any]) -> None:
        if self._row + 1 >= XLSX_MAX_ROWS:
            self._finish_sheet()
            self._new_sheet()
        self._row += 1
        sheet, row = self._sheet, self._row
        for column, value in enumerate(values):
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
