"""Where each process version stands on a date: in force, pending, superseded or future.

Owns the list `cme process list` prints: every version the registry holds (`processes/`,
`--file`) and every version the database holds (published from anywhere), each with its dates
and, for a pending one given its date, who gave it. The choice is the one new cases are opened by
(`Catalog.in_force`), so the list and `cme case open` always agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from engine.cases.commencement import Commencement, commencement_of
from engine.cases.service import CaseService
from engine.language.definition import ProcessDefinition
from engine.store.tables import process_version_table

IN_FORCE = "in force"
PENDING = "pending"
SUPERSEDED = "superseded"
FUTURE = "future"


@dataclass(frozen=True)
class VersionStatus:
    """One process version and where it stands on a date."""

    process_id: str
    version: int
    title: str
    status: str
    """in force, pending (no date yet), superseded (a later version is in force) or future."""
    effective_from: dt.date | None
    """The date it comes into force (its text's, or the one given it); None while pending."""
    applies_from: dt.date | None
    """The first day a new case takes it (`applies.cases_opened_from` if later)."""
    commencement: str | None
    """For a version without a date in its text: what brings it into force."""
    commenced: Commencement | None
    """Who gave a pending version its date, and when."""
    stored: bool
    """Whether this database holds it (cases can run under it)."""
    shipped: bool
    """Whether the registry holds it (`processes/` or a --file)."""
    migrate_open_cases: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "process": self.process_id,
            "version": self.version,
            "title": self.title,
            "status": self.status,
            "effective_from": self.effective_from,
            "applies_from": self.applies_from,
            "commencement": self.commencement,
            "commenced_by": None if self.commenced is None else self.commenced.actor,
            "commenced_by_role": None if self.commenced is None else self.commenced.role,
            "commenced_at": None if self.commenced is None else self.commenced.recorded_at,
            "stored": self.stored,
            "shipped": self.shipped,
            "migrate_open_cases": self.migrate_open_cases,
        }


def version_statuses(
    service: CaseService, on: dt.date, process_id: str | None = None
) -> list[VersionStatus]:
    """Every version of every process (or of `process_id`), by process then version."""
    registry = service.registry
    with service.store.read() as conn:
        held_ids = set(
            conn.execute(select(process_version_table.c.process_id).distinct()).scalars()
        )
    ids = sorted(set(registry.ids()) | held_ids)
    if process_id is not None:
        if process_id not in held_ids:
            registry.get(process_id)  # UnknownProcess, with a suggestion
        ids = [process_id]
    out: list[VersionStatus] = []
    for pid in ids:
        out.extend(_statuses(service, pid, on))
    return out


def _statuses(service: CaseService, process_id: str, on: dt.date) -> list[VersionStatus]:
    registry = service.registry
    stored = {v.version: v for v in service.catalog.stored_versions(process_id)}
    shipped = set(registry.versions(process_id))
    rows: dict[int, tuple[ProcessDefinition, dt.date | None]] = {}
    for version in sorted(shipped | set(stored)):
        held = stored.get(version)
        if held is None or version in shipped:
            definition = registry.get(process_id, version).definition
        else:
            definition = held.definition
        given = held.effective_from if held is not None else None
        rows[version] = (definition, definition.effective_from or given)
    firsts = {v: d.applies_from(effective) for v, (d, effective) in rows.items()}
    applying = [v for v, first in firsts.items() if first is not None and first <= on]
    current = max(applying) if applying else None
    out = []
    for version, (definition, effective) in rows.items():
        first = firsts[version]
        if first is None:
            status = PENDING
        elif first > on:
            status = FUTURE
        elif version == current:
            status = IN_FORCE
        else:
            status = SUPERSEDED
        out.append(
            VersionStatus(
                process_id=process_id,
                version=version,
                title=definition.title,
                status=status,
                effective_from=effective,
                applies_from=first,
                commencement=definition.commencement,
                commenced=(
                    commencement_of(service, process_id, version)
                    if definition.effective_from is None and effective is not None
                    else None
                ),
                stored=version in stored,
                shipped=version in shipped,
                migrate_open_cases=definition.applies.migrate_open_cases,
            )
        )
    return out


__all__ = ["FUTURE", "IN_FORCE", "PENDING", "SUPERSEDED", "VersionStatus", "version_statuses"]
