"""Migrating open cases on a version's effective date, as its `applies.migrate_open_cases` says.

Owns finding the versions whose date has come with open cases still on an earlier version
(`migrations_due`) and migrating them (`migrate_on_effective_date`) through the same audited
migration as `cme process migrate`: `plan_migration` and `run_migration`, one migration event per
case, by the scheduler, its rule naming the version's instruction. The stage map follows the same
rules: a stage with the same name maps to itself, `applies.stage_map` names the others; a case
whose stage has neither is reported and left on its version, never guessed. Does not own when
it runs (the daily run: `engine/scheduling/version_migrations.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from engine.cases.catalog import StoredVersion
from engine.cases.decide import SCHEDULER_ACTOR
from engine.cases.migration import (
    MigrationPlan,
    find_version,
    plan_migration,
    preview_case,
    run_migration,
)
from engine.cases.service import CaseService
from engine.language.machine import CompiledProcess
from engine.store.tables import case_table


@dataclass(frozen=True)
class DueMigration:
    """A version whose effective date has come, with open cases on earlier versions."""

    to: CompiledProcess
    on: dt.date
    """Its effective date: the migration takes effect then (or on a case's latest event, if
    later)."""
    from_versions: tuple[int, ...]

    @property
    def process_id(self) -> str:
        """The process."""
        return self.to.definition.id


@dataclass
class MigrationOnDate:
    """What migrating one earlier version's open cases did."""

    process_id: str
    from_version: int
    to_version: int
    on: dt.date
    migrated: list[str] = field(default_factory=list)
    unmapped: list[tuple[str, str]] = field(default_factory=list)
    """(case id, stage) of cases whose stage this version lacks and its stage_map does not name:
    left on their version, for a policy owner to migrate with `cme process migrate --map`."""
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the log and `cme tick`."""
        text = (
            f"{self.process_id} version {self.from_version} → {self.to_version} on "
            f"{self.on.isoformat()} (applies.migrate_open_cases): {len(self.migrated)} "
            "case(s) migrated"
        )
        if self.unmapped:
            text += "; not migrated, no stage to map to: " + ", ".join(
                f"{case_id} ({stage})" for case_id, stage in self.unmapped
            )
        if self.failed:
            text += "; failed: " + ", ".join(f"{c}: {e}" for c, e in self.failed)
        return text

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "process": self.process_id,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "on": self.on,
            "migrated": self.migrated,
            "unmapped": [{"case_id": c, "stage": s} for c, s in self.unmapped],
            "failed": [{"case_id": c, "error": e} for c, e in self.failed],
        }


def migrations_due(service: CaseService, until: dt.date) -> list[DueMigration]:
    """Published versions saying `migrate_open_cases` whose effective date is on or before
    `until`, with open cases on an earlier version: by effective date, then version (so a case
    two versions behind moves through each, as it would have on time).
    """
    with service.store.read() as conn:
        open_versions = conn.execute(
            select(case_table.c.process_id, case_table.c.process_version)
            .where(case_table.c.terminal.is_(False))
            .distinct()
        ).all()
    running: dict[str, set[int]] = {}
    for process_id, version in open_versions:
        running.setdefault(process_id, set()).add(version)
    due: list[DueMigration] = []
    for process_id, versions in running.items():
        for version, effective, migrates in _dated_versions(service, process_id):
            if not migrates or effective > until:
                continue
            earlier = tuple(sorted(v for v in versions if v < version))
            if earlier:
                to = find_version(service, process_id, version)
                due.append(DueMigration(to=to, on=effective, from_versions=earlier))
                # Cases moved onto this version are behind the next one in turn.
                versions = {v for v in versions if v >= version} | {version}
    return sorted(due, key=lambda d: (d.on, d.process_id, d.to.definition.version))


def _dated_versions(service: CaseService, process_id: str) -> list[tuple[int, dt.date, bool]]:
    """(version, effective date, whether it migrates open cases) of each stored version with a
    date, ascending. Only published versions count: the daily run acts on what this database
    holds (`cme process publish`), and never loads every process file to look.
    """
    return [
        (held.version, held.effective_from, _migrates(held))
        for held in service.catalog.stored_versions(process_id)
        if held.effective_from is not None
    ]


def _migrates(held: StoredVersion) -> bool:
    # A text that never names the setting cannot set it: no need to read it into a definition
    # (~40 ms a version, every morning).
    return "migrate_open_cases" in held.yaml_text and held.definition.applies.migrate_open_cases


def migrate_on_effective_date(
    service: CaseService, due: DueMigration, *, at: dt.datetime
) -> list[MigrationOnDate]:
    """Migrate the open cases of each earlier version onto `due.to`, as the scheduler: one
    migration event per case, taking effect on the version's date (or on the case's latest
    event, if that is later).
    """
    definition = due.to.definition
    results = []
    for from_version in due.from_versions:
        source = find_version(service, due.process_id, from_version).definition
        mapping = {
            old: new for old, new in definition.applies.stage_map.items() if old in source.states
        }
        plan = plan_migration(
            service,
            due.process_id,
            from_version=from_version,
            to=due.to,
            mapping=mapping,
            on=due.on,
            actor=SCHEDULER_ACTOR,
        )
        done = MigrationOnDate(due.process_id, from_version, definition.version, due.on)
        done.unmapped = list(plan.unmapped)
        because = (
            f"on its effective date, as version {definition.version} says "
            "(applies.migrate_open_cases)"
        )
        for day_plan in _by_day(service, plan, mapping):
            result = run_migration(service, day_plan, at=at, actor=SCHEDULER_ACTOR, because=because)
            done.migrated.extend(r.case.id for r in result.migrated)
            done.failed.extend(result.failed)
        results.append(done)
    return results


def _by_day(
    service: CaseService, plan: MigrationPlan, mapping: dict[str, str]
) -> list[MigrationPlan]:
    """The plan split so no case's migration takes effect before its latest event: cases
    written to after the effective date migrate on their latest event's date.
    """
    plans = {plan.on: MigrationPlan(plan.process_id, plan.from_version, plan.to, plan.on)}
    for move in plan.moves:
        day = max(plan.on, move.case.last_effective)
        if day not in plans:
            plans[day] = MigrationPlan(plan.process_id, plan.from_version, plan.to, day)
        if day != plan.on:
            move = preview_case(
                service,
                move.case,
                plan.to,
                move.to_state,
                on=day,
                mapped=move.case.state in mapping,
            )
        plans[day].moves.append(move)
    return [plans[day] for day in sorted(plans) if plans[day].moves]


__all__ = [
    "DueMigration",
    "MigrationOnDate",
    "migrate_on_effective_date",
    "migrations_due",
]
