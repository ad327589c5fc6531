"""Reading an import CSV: UTF-8 text, a header row naming the required columns, one row per line.

Owns the file-level checks (readable, UTF-8, not empty, every required column present, no
unknown columns) and the small field parsers importers share (dates, yes/no, UPNs, dates of
birth within compulsory school age). A file-level problem is an `InputError`; a field problem is
a `RowProblem` the importer collects, so every bad row is reported at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.cases.imports import RowProblem
from engine.cases.upn import validate_upn
from engine.errors import InputError, close_matches
from engine.language.facts import CONTROL_CHARACTERS
from engine.time.school_age import compulsory_school_age

_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}


@dataclass(frozen=True)
class CsvRow:
    """One data row: its line in the file and its values by column (stripped; '' when blank)."""

    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        """The value of `column` ('' when blank or not in the file)."""
        return self.values.get(column, "")


@dataclass(frozen=True)
class CsvFile:
    """A read CSV: where from, its sha256, and its rows."""

    path: str
    sha256: str
    rows: list[CsvRow]


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, or an InputError saying why it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def decode(path: str | Path, data: bytes) -> str:
    """UTF-8 text (a byte-order mark is allowed), or an InputError naming the bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); save it as "
            "UTF-8 (in Excel: Save As > CSV UTF-8) and import it again"
        ) from None


def read_csv(  # noqa: C901 (one pass over the rows; each refusal is named at its own row)
    path: str | Path, *, required: Sequence[str], optional: Sequence[str] = ()
) -> CsvFile:
    """Read and check a CSV whose header must name every `required` column."""
    data = read_bytes(path)
    text = decode(path, data)
    if not text.strip():
        raise InputError(
            f"{path}: the file is empty; it needs a header row ({', '.join(required)}) and rows"
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error as exc:
        raise InputError(f"{path}: line 1: not CSV: {exc}") from None
    known = [*required, *optional]
    missing = [c for c in required if c not in header]
    unknown = [h for h in header if h and h not in known]
    problems = []
    if missing:
        problems.append(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    for name in unknown:
        close = close_matches(name, known, n=1)
        problems.append(
            f"unknown column {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        )
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        problems.append(f"column named twice: {', '.join(duplicated)}")
    if problems:
        raise InputError(
            f"{path}: line 1 (the header): "
            + "; ".join(problems)
            + f". Columns: {', '.join(required)} (required)"
            + (f", {', '.join(optional)} (optional)" if optional else "")
        )
    rows: list[CsvRow] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            line = reader.line_num
            if len(values) != len(header):
                rows.append(
                    CsvRow(
                        line,
                        {
                            "__error__": (
                                f"has {len(values)} fields but the header has {len(header)}"
                            )
                        },
                    )
                )
                continue
            bad = [h for h, v in zip(header, values, strict=True) if CONTROL_CHARACTERS.search(v)]
            if bad:
                rows.append(
                    CsvRow(
                        line,
                        {
                            "__error__": (
                                f"{bad[0]} contains a control character (such as NUL); export the "
                                "file "
                                "again from its source"
                            )
                        },
                    )
                )
                continue
            rows.append(CsvRow(line, {h: v.strip() for h, v in zip(header, values, strict=True)}))
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: not CSV: {exc}") from None
    if not rows:
        raise InputError(f"{path}: the file has a header row but no rows")
    return CsvFile(path=str(path), sha256=hashlib.sha256(data).hexdigest(), rows=rows)


class RowParser:
    """Collects the problems of one row while its fields are parsed."""

    def __init__(self, row: CsvRow, problems: list[RowProblem]) -> None:
        self.row = row
        self.problems = problems
        self.ok = True
        self.broken = False
        if "__error__" in row.values:
            self.fail(row.values["__error__"])
            self.broken = True  # its fields are not where the header says: one problem is enough

    def fail(self, message: str) -> None:
        """Record a problem with this row."""
        self.ok = False
        if not self.broken:
            self.problems.append(RowProblem(self.row.line, message))

    def text(self, column: str, *, required: bool = True) -> str | None:
        """The value, or None when blank (a problem if required)."""
        value = self.row.get(column)
        if not value:
            if required:
                self.fail(f"{column} is blank")
            return None
        return value

    def date(
        self, column: str, *, required: bool = True, not_after: dt.date | None = None
    ) -> dt.date | None:
        """A date written YYYY-MM-DD or DD/MM/YYYY."""
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            if "/" in value:
                d, m, y = value.split("/")
                day = dt.date(int(y), int(m), int(d))
                if len(y) != 4:
                    raise ValueError(value)
            else:
                day = dt.date.fromisoformat(value)
        except ValueError:
            self.fail(f"{column} {value!r} is not a date; write YYYY-MM-DD or DD/MM/YYYY")
            return None
        if not_after is not None and day > not_after:
            self.fail(f"{column} {day.isoformat()} is in the future")
            return None
        return day

    def choice(self, column: str, values: Sequence[str], *, required: bool = True) -> str | None:
        """One of `values` (case-insensitive)."""
        value = self.text(column, required=required)
        if value is None:
            return None
        if value.lower() not in values:
            self.fail(f"{column} must be one of {', '.join(values)}, not {value!r}")
            return None
        return value.lower()

    def yes_no(self, column: str, *, default: bool | None = None) -> bool | None:
        """yes/no (also true/false, y/n, 1/0); `default` when blank."""
        value = self.row.get(column)
        if not value:
            if default is None:
                self.fail(f"{column} is blank; write yes or no")
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.fail(f"{column} must be yes or no, not {value!r}")
        return None

    def upn(self, column: str = "upn", *, required: bool = False) -> str | None:
        """A valid UPN (check letter included), or None when blank and not required."""
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            return validate_upn(value)
        except InputError as exc:
            self.fail(str(exc))
            return None

    def date_of_birth(self, column: str, *, on: dt.date | None) -> dt.date | None:
        """A date of birth, refused unless the child is of compulsory school age on `on`."""
        dob = self.date(column)
        if dob is None or on is None:
            return dob
        start, end = compulsory_school_age(dob)
        if not start <= on <= end:
            self.fail(
                f"born {dob.isoformat()}: of compulsory school age from {start.isoformat()} to "
                f"{end.isoformat()}, not on {on.isoformat()}"
            )
            return None
        return dob


__all__ = ["CsvFile", "CsvRow", "RowParser", "decode", "read_bytes", "read_csv"]
