"""A report as a table, and the one safe way to write it as CSV and XLSX.

Owns `Column` and `Report` (a dated table of plain values with notes on how it was made) and
`safe_cell`, through which every CSV and spreadsheet cell passes, so text a spreadsheet would run
as a formula is never written as one. Does not own what any report holds (the report modules
beside this one) nor formatting for the terminal (the CLI).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import IO, Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """A report column: the key in each row and the heading people see."""

    key: str
    heading: str
    table: bool = True
    """Shown in the terminal table too (files always have every column)."""


@dataclass(frozen=True)
class Report:
    """A dated report: its columns, rows (plain values) and notes on how it was made."""

    name: str
    title: str
    on: dt.date
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (dates as ISO text)."""
        return {
            "report": self.name,
            "title": self.title,
            "on": self.on.isoformat(),
            "columns": [c.key for c in self.columns],
            "rows": [{c.key: _jsonable(r.get(c.key)) for c in self.columns} for r in self.rows],
            "notes": self.notes,
        }


def safe_cell(value: Any) -> Any:
    """A value fit for a CSV or spreadsheet cell: text that a spreadsheet would run as a formula
    (starting with = + - @, tab or carriage return) gets a leading apostrophe.

    Numbers and booleans stay numbers; dates become ISO text; None becomes empty text.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def write_csv(report: Report, stream: IO[str]) -> None:
    """Write the report as CSV with a header row; every cell through `safe_cell`."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([safe_cell(c.heading) for c in report.columns])
    for row in report.rows:
        writer.writerow([safe_cell(row.get(c.key)) for c in report.columns])


def csv_text(report: Report) -> str:
    """The report as CSV text."""
    out = io.StringIO()
    write_csv(report, out)
    return out.getvalue()


def xlsx_bytes(report: Report) -> bytes:
    """The report as an XLSX workbook: one sheet, a header row, notes on a second sheet."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = report.name[:31]
    # openpyxl stores text starting with "=" as a formula; safe_cell makes sure none does.
    sheet.append([safe_cell(c.heading) for c in report.columns])
    for row in report.rows:
        sheet.append([safe_cell(row.get(c.key)) for c in report.columns])
    notes = book.create_sheet("about")
    notes.append([safe_cell(f"{report.title}, as of {report.on.isoformat()}")])
    for note in report.notes:
        notes.append([safe_cell(note)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


__all__ = ["Column", "Report", "csv_text", "safe_cell", "write_csv", "xlsx_bytes"]
