"""What `cme doctor` reports and what it looks at: findings, the report, and the checks' inputs.

Owns the shapes shared by the checks (`doctor.py`), the CLI and the scheduler's health checks
(`daily.py`): a finding is ok, warning or failing; a report's status is its worst finding's and
its exit code is what monitoring reads (0, 1, 2). Runs no check itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.store.database import Store
from engine.time.calendar import SchoolCalendar

OK, WARNING, FAILING = "ok", "warning", "failing"
_RANK = {OK: 0, WARNING: 1, FAILING: 2}


@dataclass(frozen=True)
class Finding:
    """One check's result: its name, ok / warning / failing, what it found, and details."""

    check: str
    status: str
    message: str
    details: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "details": list(self.details),
        }


@dataclass
class DoctorReport:
    """Every check's finding for one day."""

    on: dt.date
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> str:
        """The worst finding's status."""
        return max((f.status for f in self.findings), key=_RANK.__getitem__, default=OK)

    @property
    def exit_code(self) -> int:
        """0 ok, 1 warning, 2 failing: what monitoring reads."""
        return _RANK[self.status]

    def problems(self) -> list[Finding]:
        """The findings that are not ok."""
        return [f for f in self.findings if f.status != OK]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `cme doctor --json`)."""
        return {
            "on": self.on.isoformat(),
            "status": self.status,
            "exit_code": self.exit_code,
            "checks": [f.as_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class MasterKeyInUse:
    """The master key a command would use (its id and where it came from), or why there is
    none; and the ids of previous keys still accepted while a rotation runs.
    """

    key_id: str | None
    source: str
    previous: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishedFile:
    """A process file as shipped or configured: its id, version, content hash and path."""

    process_id: str
    version: int
    content_hash: str
    path: str


@dataclass
class DoctorInputs:
    """What the checks look at besides the database (the CLI and the scheduler gather these)."""

    store: Store
    on: dt.date
    now: dt.datetime
    calendar: Callable[[str], SchoolCalendar]
    """A calendar by name as this database uses it (newest stored version, else the file)."""
    default_calendar: str
    master_key: MasterKeyInUse
    process_files: Callable[[], Iterable[PublishedFile]]
    checkpoint_signing: bool = True
    """Whether a signing key is configured (the advice differs)."""


__all__ = [
    "FAILING",
    "OK",
    "WARNING",
    "DoctorInputs",
    "DoctorReport",
    "Finding",
    "MasterKeyInUse",
    "PublishedFile",
]
