"""Moving running cases onto a new version of their process, with an explicit state mapping.

Owns finding a version (loaded, or stored in the database when its file has moved on), publishing
one, the preview of a migration case by case (the same `projection.apply` and
`deadlines.plan_state_timers` the engine runs), and running it: one migration event per case
through `CaseService.migrate`. Cases whose state has no mapping are listed and left alone. Does
not own comparing definitions (`engine/language/diff.py`), the impact report
(`engine/cases/impact.py`), nor which version a new case opens under (`registry.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select

from engine.cases.catalog import compile_text
from engine.cases.events import Migration, Opened, StepTaken
from engine.cases.projection import CaseEvent, CaseState, EventKind, apply
from engine.cases.service import SCHEDULER, Actor, CaseService, CommandResult
from engine.errors import CalendarError, CMEError, InputError, UnknownProcess, suggest
from engine.language.definition import ProcessDefinition
from engine.language.machine import CompiledProcess
from engine.protection.access import Permission, require
from engine.store.tables import case_table, process_version_table, stored_path, timer_table
from engine.time.calendar import SchoolCalendar
from engine.time.deadlines import PlannedTimer, plan_state_timers

# --- finding versions ---------------------------------------------------------------------------


def find_version(service: CaseService, process_id: str, version: int) -> CompiledProcess:
    """A version from the registry, else as stored in the database; UnknownProcess if neither.

    A registry not loaded yet is not loaded for a version the database holds (the daily run's
    migrations read the stored text, never every process file).
    """
    registered = service.catalog.registered(process_id, version)
    if registered is not None:
        return registered
    try:
        return service.catalog.compiled_version(process_id, version)
    except UnknownProcess:
        pass
    with service.store.read() as conn:
        text = conn.execute(
            select(process_version_table.c.yaml_text).where(
                and_(
                    process_version_table.c.process_id == process_id,
                    process_version_table.c.version == version,
                )
            )
        ).scalar_one_or_none()
        stored = sorted(
            conn.execute(
                select(process_version_table.c.version).where(
                    process_version_table.c.process_id == process_id
                )
            ).scalars()
        )
    if text is None:
        known = sorted(set(service.registry.versions(process_id)) | set(stored))
        raise UnknownProcess(
            f"process {process_id!r} has no version {version} in processes/ or in the database; "
            f"known versions: {', '.join(map(str, known)) or 'none'}",
            process=process_id,
            version=version,
        )
    return compile_text(text, stored_path(process_id, version))


def running_cases(
    service: CaseService,
    process_id: str,
    *,
    version: int | None = None,
    not_version: int | None = None,
) -> list[CaseState]:
    """Open cases of a process (on one version, or on any but one), by id."""
    where = [case_table.c.process_id == process_id, case_table.c.terminal.is_(False)]
    if version is not None:
        where.append(case_table.c.process_version == version)
    if not_version is not None:
        where.append(case_table.c.process_version != not_version)
    with service.store.read() as conn:
        rows = conn.execute(select(case_table).where(and_(*where)).order_by(case_table.c.id))
        return [CaseState.from_row(r) for r in rows]


# --- previewing a case on another version -------------------------------------------------------


@dataclass(frozen=True)
class DeadlineMove:
    """A case's timer whose due date differs between its version and the new one."""

    case_id: str
    timer_id: str
    old: dt.date | None
    """Due date now (None: the new version adds this timer)."""
    new: dt.date | None
    """Due date under the new version (None: the new version drops it)."""
    school_days: int | None
    """How far it moves in school days (negative: earlier); None if the calendar cannot say."""


@dataclass(frozen=True)
class CasePreview:
    """What migrating one case would do: its event data, the case after, its deadlines."""

    case: CaseState
    to_state: str
    data: dict[str, Any]
    after: CaseState
    planned: list[PlannedTimer]
    settled: list[str]
    """Timers that already fired or lapsed in this stay in the state, so are not armed again."""
    deadlines: list[DeadlineMove]


def migration_data(
    case: CaseState, to: ProcessDefinition, to_state: str, *, mapped: bool
) -> dict[str, Any]:
    """The data of the migration event moving `case` onto version `to`, in state `to_state`."""
    data: dict[str, Any] = {
        "from_version": case.process_version,
        "to_version": to.version,
        "mapping": f"{case.state}={to_state}" + ("" if mapped else " (same name)"),
        "actions": [],
    }
    dest = to.states[to_state]
    paused = bool(case.pauses and case.pauses[-1][1] is None)
    # The case enters a state anew only if it moves, or the clock starts or stops with it:
    # otherwise its stay, and the deadlines counted from it, go on.
    if to_state != case.state or dest.stops_clock != paused:
        data.update(
            from_state=case.state,
            to_state=to_state,
            terminal=dest.terminal,
            stops_clock=dest.stops_clock,
        )
    return data


def preview_case(
    service: CaseService,
    case: CaseState,
    to: CompiledProcess,
    to_state: str,
    *,
    on: dt.date,
    mapped: bool = True,
    pending: Mapping[str, dt.date] | None = None,
) -> CasePreview:
    """What `service.migrate` would record and arm for this case, computed without writing."""
    definition = to.definition
    data = migration_data(case, definition, to_state, mapped=mapped)
    body = Migration(**data)
    event = CaseEvent(
        case_id=case.id,
        seq=case.seq + 1,
        effective_date=on,
        recorded_at=dt.datetime.combine(on, dt.time(), dt.UTC),
        actor="",
        role="",
        kind=EventKind.migration,
        payload=body.payload(),
        process_id=definition.id,
        process_version=definition.version,
        rule=None,
        prev_hash=case.head_hash,
    )
    after = apply(case, event)
    calendar = service.calendar_for(after)
    settled = [] if body.to_state is not None else _settled(service, case)
    planned = [
        p
        for p in plan_state_timers(definition, after, calendar=calendar)
        if p.timer_id not in settled
    ]
    if pending is None:
        pending = _pending(service, case.id)
    return CasePreview(
        case=case,
        to_state=to_state,
        data=data,
        after=after,
        planned=planned,
        settled=settled,
        deadlines=_deadline_moves(case.id, pending, planned, calendar),
    )


def _pending(service: CaseService, case_id: str) -> dict[str, dt.date]:
    with service.store.read() as conn:
        rows = conn.execute(
            select(timer_table.c.timer_id, timer_table.c.due_date).where(
                and_(
                    timer_table.c.case_id == case_id,
                    timer_table.c.status == "pending",
                )
            )
        ).all()
    return {r.timer_id: _date(r.due_date) for r in rows}


def _settled(service: CaseService, case: CaseState) -> list[str]:
    """Timers of the case's current stay in its state that already fired or lapsed."""
    entered = 1
    for ev in reversed(service.events(case.id)):
        body = ev.body
        # Every step counts as an entry, an interrupt too (as before events were typed).
        if isinstance(body, Opened | StepTaken) or (
            isinstance(body, Migration) and body.to_state is not None
        ):
            entered = ev.seq
            break
    with service.store.read() as conn:
        return sorted(
            conn.execute(
                select(timer_table.c.timer_id).where(
                    and_(
                        timer_table.c.case_id == case.id,
                        timer_table.c.state == case.state,
                        timer_table.c.armed_seq >= entered,
                        timer_table.c.status.in_(["fired", "lapsed"]),
                    )
                )
            ).scalars()
        )


def _deadline_moves(
    case_id: str,
    pending: Mapping[str, dt.date],
    planned: list[PlannedTimer],
    calendar: SchoolCalendar,
) -> list[DeadlineMove]:
    new = {p.timer_id: p.due_date for p in planned}
    out = []
    for timer_id in list(pending) + [t for t in new if t not in pending]:
        before, after = pending.get(timer_id), new.get(timer_id)
        if before == after:
            continue
        shift = None
        if before is not None and after is not None:
            shift = _school_days(calendar, before, after)
        out.append(DeadlineMove(case_id, timer_id, before, after, shift))
    return out


def _school_days(calendar: SchoolCalendar, before: dt.date, after: dt.date) -> int | None:
    one = dt.timedelta(days=1)
    try:
        if after > before:
            return calendar.count(before + one, after)
        return -calendar.count(after + one, before)
    except CalendarError:
        return None


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


# --- migrate ------------------------------------------------------------------------------------


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """`OLD=NEW` pairs as a dict; InputError naming a malformed or repeated one."""
    mapping: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(
                f"--map {item!r} is not OLD=NEW (e.g. --map tracing_continues=closure_decision)"
            )
        if old.strip() in mapping:
            raise InputError(f"--map gives stage {old.strip()!r} twice")
        mapping[old.strip()] = new.strip()
    return mapping


@dataclass
class MigrationPlan:
    """Which running cases move to which state of the new version, and which stay."""

    process_id: str
    from_version: int
    to: CompiledProcess
    on: dt.date
    moves: list[CasePreview] = field(default_factory=list)
    unmapped: list[tuple[str, str]] = field(default_factory=list)
    """(case id, state) of cases whose state the new version lacks and no mapping covers."""


@dataclass
class MigrationResult:
    """What a migration did: the events recorded, and cases it could not move."""

    migrated: list[CommandResult] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def plan_migration(
    service: CaseService,
    process_id: str,
    *,
    from_version: int,
    to: CompiledProcess,
    mapping: Mapping[str, str],
    on: dt.date,
    actor: Actor,
) -> MigrationPlan:
    """Check the request and preview every running case on `from_version`; writes nothing."""
    _may_migrate(service, actor)
    definition = to.definition
    if definition.id != process_id:
        raise InputError(f"the new version is process {definition.id!r}, not {process_id!r}")
    if from_version == definition.version:
        raise InputError(f"--from and --to are both version {from_version}: nothing to migrate")
    source = find_version(service, process_id, from_version).definition
    for old, new in mapping.items():
        if old not in source.states:
            raise InputError(
                f"--map {old}={new}: version {from_version} has no stage {old!r}"
                + suggest(old, source.states, what="stages")
            )
        if new not in definition.states:
            raise InputError(
                f"--map {old}={new}: version {definition.version} has no stage "
                f"{new!r}" + suggest(new, definition.states, what="stages")
            )
        if definition.states[new].terminal:
            raise InputError(
                f"--map {old}={new}: {new} is a closing stage; a migration moves "
                "running cases, so close a case with its own step instead"
            )
    _refuse_before_effective(service, definition, on)
    plan = MigrationPlan(process_id, from_version, to, on)
    for case in running_cases(service, process_id, version=from_version):
        target = mapping.get(case.state, case.state)
        if target not in definition.states:
            plan.unmapped.append((case.id, case.state))
            continue
        plan.moves.append(
            preview_case(service, case, to, target, on=on, mapped=case.state in mapping)
        )
    return plan


def _refuse_before_effective(
    service: CaseService, definition: ProcessDefinition, on: dt.date
) -> None:
    """Refuse a migration onto a pending version, or taking effect before its date."""
    effective = service.catalog.effective_date(definition)
    if effective is None:
        raise InputError(
            f"version {definition.version} of {definition.id} is pending "
            f"({definition.commencement}); give its date first: cme process commence "
            f"{definition.id} {definition.version} --on DATE"
        )
    if on < effective:
        raise InputError(
            f"version {definition.version} is in force from "
            f"{effective.isoformat()}; a migration cannot take "
            f"effect earlier ({on.isoformat()})"
        )


def _may_migrate(service: CaseService, actor: Actor) -> None:
    # The scheduler migrates on a version's date because the version says so
    # (applies.migrate_open_cases); everyone else needs load_process.
    if actor.role != SCHEDULER:
        require(actor, Permission.load_process, table=service.roles, doing="migrate")


def run_migration(
    service: CaseService,
    plan: MigrationPlan,
    *,
    at: dt.datetime,
    actor: Actor,
    because: str | None = None,
) -> MigrationResult:
    """Record a migration event per planned case (each in its own transaction); `because`
    adds why to each event's rule (e.g. the version's own migrate_open_cases).
    """
    _may_migrate(service, actor)
    definition = plan.to.definition
    if actor.role != SCHEDULER:
        service.publish(plan.to, at=at, actor=actor)  # (each migration stores it too)
    result = MigrationResult()
    for move in plan.moves:
        rule = (
            f"migration of {definition.id} from version {plan.from_version} to "
            f"{definition.version}, state {move.data['mapping']}"
            + (f", {because}" if because else "")
            + f": {definition.source.section}"
        )
        try:
            result.migrated.append(
                service.migrate(
                    move.case.id,
                    plan.to,
                    data=move.data,
                    on=plan.on,
                    at=at,
                    actor=actor,
                    expected_seq=move.case.seq,
                    settled=move.settled,
                    rule=rule,
                )
            )
        except CMEError as exc:
            result.failed.append((move.case.id, str(exc)))
    return result


def publish_version(
    service: CaseService, compiled: CompiledProcess, *, at: dt.datetime, actor: Actor
) -> bool:
    """Store a version's text (VersionNotRaised if a different text holds its number already).

    Returns whether it was newly stored (False: the same text was stored before).
    """
    require(actor, Permission.load_process, table=service.roles, doing="publish")
    definition = compiled.definition
    with service.store.read() as conn:
        before = conn.execute(
            select(process_version_table.c.id).where(
                and_(
                    process_version_table.c.process_id == definition.id,
                    process_version_table.c.version == definition.version,
                )
            )
        ).first()
    service.publish(compiled, at=at, actor=actor)
    return before is None
