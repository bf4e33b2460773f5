"""Exports of tips for the organisation's team and for investigators.

Tabular exports (CSV, JSON Lines, GeoJSON, XLSX) in two profiles are one service,
:func:`bot.export.service.export_table`, which the command line (``tipbot export``), the
Telegram ``/export`` dialog and the evidence bundle all call. See docs/export.md.
"""

from bot.export.filters import ExportFilters, FilterError, Format, Profile
from bot.export.rows import FIELD_DOCS, FIELDS, count_tips, iter_tip_rows, redactions
from bot.export.service import ExportResult, Progress, export_table, new_export_id

__all__ = [
    "FIELDS",
    "FIELD_DOCS",
    "ExportFilters",
    "ExportResult",
    "FilterError",
    "Format",
    "Profile",
    "Progress",
    "count_tips",
    "export_table",
    "iter_tip_rows",
    "new_export_id",
    "redactions",
]
