"""Importing a file of rows: every row is checked, then all are written in one transaction or none.

Owns the all-or-nothing run of already-parsed rows (each row's commands in a savepoint of one
batch, so every bad row is reported, then the whole batch is rolled back if any was bad) and the
import ledger that makes importing the same rows again create nothing. Does not own reading or
parsing files (`adapters/imports/`, `adapters/enquiry/`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine.cases.service import CaseService
from engine.errors import CMEError, CommandRefused, InputError, Refusal
from engine.store.tables import import_ledger_table


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with one row of a file, and where."""

    line: int
    message: str
    file: str | None = None
    """For imports of several files (forms): the file, where a line means little."""

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" if self.file else f"line {self.line}: {self.message}"


class ImportRejected(InputError):
    """A file with bad rows: nothing was written; every problem is listed with its line."""

    def __init__(self, source: str, problems: Sequence[RowProblem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.file or "", p.line))
        count = len(self.problems)
        lines = "\n".join(f"  {p}" if p.file else f"  {source} {p}" for p in self.problems)
        super().__init__(
            f"{source}: {count} bad row{'s' if count != 1 else ''}; nothing was imported. "
            f"Correct {'them' if count != 1 else 'it'} and import the whole file again:\n{lines}"
        )


@dataclass(frozen=True)
class ImportRow:
    """One parsed, valid row: its line, its identity for the ledger, and what importing it does."""

    line: int
    key: str
    """Identifies the row among every import of this kind (e.g. UPN and date): the same key is
    never imported twice."""
    run: Callable[[CaseService], str]
    """The service commands for the row; returns what it did, e.g. the case id it opened."""
    file: str | None = None
    """The file the row came from, when an import reads several."""


@dataclass
class ImportResult:
    """What an import did: rows written (with what each did) and rows already imported."""

    kind: str
    source: str
    file_sha256: str
    written: list[tuple[int, str]] = field(default_factory=list)
    already_imported: list[int] = field(default_factory=list)


def run_import(
    service: CaseService,
    *,
    kind: str,
    source: str,
    file_sha256: str,
    rows: Sequence[ImportRow],
    problems: Sequence[RowProblem] = (),
    at: dt.datetime,
) -> ImportResult:
    """Write every row in one transaction, or nothing if any row (parsed or run) is bad.

    `problems` are the rows the parser already refused; they are reported together with any a
    command refuses, so a person sees every bad row at once.
    """
    found = list(problems)
    seen: dict[str, int] = {}
    for row in rows:
        if row.key in seen:
            found.append(RowProblem(row.line, f"the same row as line {seen[row.key]}", row.file))
        seen.setdefault(row.key, row.line)
    if found:
        raise ImportRejected(source, found)
    result = ImportResult(kind=kind, source=source, file_sha256=file_sha256)
    with service.batch() as conn:
        done = _already_imported(conn, kind, [r.key for r in rows])
        for row in rows:
            if row.key in done:
                result.already_imported.append(row.line)
                continue
            try:
                with conn.begin_nested():
                    what = row.run(service)
                    conn.execute(
                        insert(import_ledger_table).values(
                            source=kind,
                            row_key=row.key,
                            file_sha256=file_sha256,
                            line=row.line,
                            result=what,
                            imported_at=at,
                        )
                    )
            except CMEError as exc:
                found.append(RowProblem(row.line, _one_line(str(exc)), row.file))
                continue
            except IntegrityError:
                found.append(
                    RowProblem(
                        row.line,
                        "imported by someone else at the same time; import again",
                        row.file,
                    )
                )
                continue
            result.written.append((row.line, what))
        if found:
            # Leaving the batch by this exception rolls back every row written above.
            raise ImportRejected(source, found)
    return result


def every_reason(commands: Iterable[Callable[[], object]]) -> None:
    """Run each of a row's independent commands (e.g. the facts a roll return gives); if any is
    refused, raise every refusal at once, so the row's problem names them all. A refused command
    writes nothing, and the row's savepoint undoes the others.
    """
    refused: list[CommandRefused] = []
    for command in commands:
        try:
            command()
        except Refusal as exc:
            refused.extend(exc.reasons)
        except CommandRefused as exc:
            refused.append(exc)
    if refused:
        raise Refusal.of(refused)


def _already_imported(conn: Connection, kind: str, keys: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for i in range(0, len(keys), 500):
        chunk = list(keys[i : i + 500])
        out.update(
            r[0]
            for r in conn.execute(
                select(import_ledger_table.c.row_key).where(
                    and_(
                        import_ledger_table.c.source == kind,
                        import_ledger_table.c.row_key.in_(chunk),
                    )
                )
            )
        )
    return out


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


__all__ = [
    "ImportRejected",
    "ImportResult",
    "ImportRow",
    "RowProblem",
    "every_reason",
    "run_import",
]
