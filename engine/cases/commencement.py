"""Commencement: the date a pending process version comes into force, given by a policy owner.

A version whose text gives no `effective_from` is pending (its `commencement:` says what brings
it into force, e.g. commencement regulations not yet made). It can be validated, drawn and
published, but no case takes it until a policy owner records the date with
`cme process commence ID VERSION --on DATE`: stored in `process_commencement` with who gave it,
in which role and when, and as the stored version's `effective_from`. Does not own which version
a new case takes (`Catalog.in_force`) nor listing versions (`engine/cases/version_status.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, insert, select, update

from engine.cases.migration import find_version
from engine.cases.service import Actor, CaseService
from engine.errors import InputError
from engine.protection.access import Permission, require
from engine.store.tables import process_commencement_table, process_version_table


@dataclass(frozen=True)
class Commencement:
    """The date a policy owner gave a pending version, who gave it and when."""

    process_id: str
    version: int
    effective_from: dt.date
    actor: str
    role: str
    recorded_at: dt.datetime


def commencement_of(service: CaseService, process_id: str, version: int) -> Commencement | None:
    """The recorded commencement of a version, or None."""
    table = process_commencement_table
    with service.store.read() as conn:
        row = conn.execute(
            select(table).where(and_(table.c.process_id == process_id, table.c.version == version))
        ).first()
    if row is None:
        return None
    return Commencement(
        process_id=row.process_id,
        version=row.version,
        effective_from=row.effective_from,
        actor=row.actor,
        role=row.role,
        recorded_at=row.recorded_at,
    )


def commence_version(
    service: CaseService,
    process_id: str,
    version: int,
    *,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
) -> Commencement:
    """Record that pending version `version` is in force from `on`; it is published first if
    this database does not hold it yet. Refuses (writing nothing) a version that states its own
    `effective_from`, one already given a date, and a role that may not load processes.
    """
    require(actor, Permission.load_process, table=service.roles, doing="commence a version")
    compiled = find_version(service, process_id, version)
    definition = compiled.definition
    if definition.effective_from is not None:
        raise InputError(
            f"{process_id} version {version} is not pending: its text is in force from "
            f"{definition.effective_from.isoformat()}; to change the date, publish a new "
            "version with the new effective_from"
        )
    before = commencement_of(service, process_id, version)
    if before is not None:
        raise InputError(
            f"{process_id} version {version} was already given its date: in force from "
            f"{before.effective_from.isoformat()} (recorded by {before.actor}, "
            f"{before.role}, on {before.recorded_at:%Y-%m-%d %H:%M} UTC); a date once given "
            "stands, as cases may already have opened under it"
        )
    done = Commencement(process_id, version, on, actor.name, actor.role, at)
    # Stored (if it was not) and given its date in one transaction: all of it, or none.
    with service.work.begin() as uow:
        uow.publish(compiled, at)
        conn = uow.conn
        conn.execute(
            insert(process_commencement_table).values(
                process_id=process_id,
                version=version,
                effective_from=on,
                actor=actor.name,
                role=actor.role,
                recorded_at=at,
            )
        )
        conn.execute(
            update(process_version_table)
            .where(
                and_(
                    process_version_table.c.process_id == process_id,
                    process_version_table.c.version == version,
                )
            )
            .values(effective_from=on)
        )
    return done


__all__ = ["Commencement", "commence_version", "commencement_of"]
