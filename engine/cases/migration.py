"""Process versions side by side: what changed (diff), what a new version would do to running
cases (impact), and moving running cases onto it with an explicit state mapping (migrate).

Owns finding a version (loaded, or stored in the database when its file has moved on), the
comparison of two definitions in a policy owner's words, the preview of a migration case by case
(the same `projection.apply` and `deadlines.plan_state_timers` the engine runs), and running it:
one migration event per case through `CaseService.migrate`. Cases whose state has no mapping are
listed and left alone. Does not decide which version a new case opens under (`registry.py`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select

from engine.audit.access import authorise
from engine.cases.projection import CaseEvent, CaseState, EventKind, apply
from engine.cases.service import Actor, CaseService, CommandResult
from engine.errors import CalendarError, CMEError, InputError, UnknownProcess, suggest
from engine.language.definition import ProcessDefinition
from engine.language.machine import CompiledProcess, compile_process
from engine.store.tables import case_table, process_version_table, timer_table
from engine.time.calendar import SchoolCalendar
from engine.time.deadlines import PlannedTimer, plan_state_timers

# --- finding versions ---------------------------------------------------------------------------


def find_version(service: CaseService, process_id: str, version: int) -> CompiledProcess:
    """A version from the registry, else as stored in the database; UnknownProcess if neither."""
    try:
        return service.registry.get(process_id, version)
    except UnknownProcess:
        pass
    with service.store.read() as conn:
        text = conn.execute(
            select(process_version_table.c.yaml_text).where(and_(
                process_version_table.c.process_id == process_id,
                process_version_table.c.version == version,
            ))
        ).scalar_one_or_none()
        stored = sorted(conn.execute(
            select(process_version_table.c.version)
            .where(process_version_table.c.process_id == process_id)
        ).scalars())
    if text is None:
        known = sorted(set(service.registry.versions(process_id)) | set(stored))
        raise UnknownProcess(
            f"process {process_id!r} has no version {version} in processes/ or in the database; "
            f"known versions: {', '.join(map(str, known)) or 'none'}"
        )
    from engine.language.loader import load_process_text

    return compile_process(load_process_text(text, f"stored:{process_id}@{version}"))


# --- diff ---------------------------------------------------------------------------------------

AREAS = ("applies", "states", "days", "checks", "timers", "guards", "triggers", "roles", "facts",
         "actions", "wording")
"""The groups a diff is shown in, in order."""


@dataclass(frozen=True)
class Change:
    """One difference between two versions, in words."""

    area: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


def diff_definitions(old: ProcessDefinition, new: ProcessDefinition) -> list[Change]:
    """Every difference from `old` to `new`, grouped by area (states, days, checks, guards …)."""
    changes = [
        _describe(path, before, after)
        for path, before, after in _diff(_shape(old), _shape(new), ())
        if path != ("version",)
    ]
    order = {a: i for i, a in enumerate(AREAS)}
    return sorted(changes, key=lambda c: order[c.area])


def _shape(definition: ProcessDefinition) -> dict[str, Any]:
    """The definition as nested dicts, lists of things with ids keyed by id, guards by expr."""
    data = definition.model_dump(mode="json", exclude_none=True)
    for trig in data["triggers"]:
        trig["guards"] = {g["expr"]: g["says"] for g in trig.get("guards", [])}
    data["triggers"] = {t["id"]: t for t in data["triggers"]}
    for state in data["states"].values():
        state["checklist"] = {c["id"]: c for c in state.get("checklist", [])}
        for timer in state.get("timers", []):
            timer["when"] = {c["expr"]: c["says"] for c in timer.get("when", [])}
        state["timers"] = {t["id"]: t for t in state.get("timers", [])}
    return data


_ABSENT = object()
Path = tuple[str, ...]


def _diff(old: Any, new: Any, path: Path) -> Iterable[tuple[Path, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            yield from _diff(old.get(key, _ABSENT), new.get(key, _ABSENT), (*path, str(key)))
    elif old != new:
        yield path, old, new


_WORDING = frozenset({"title", "description", "note", "ref", "questions"})


def _area(path: Path) -> str:
    head = path[0]
    if head in ("effective_from", "applies"):
        return "applies"
    if head == "clock":
        return "days"
    # Titles, descriptions, notes and where a rule is cited from change no behaviour.
    cited = "source" in path and not (head == "triggers" and path[2:3] == ("source",))
    if cited or _WORDING & set(path) or head not in ("states", "triggers", "roles", "facts"):
        return "wording"
    if head in ("roles", "facts"):
        return head
    rest = path[2:]
    if head == "states":
        if not rest or rest[0] in ("terminal", "stops_clock"):
            return "states"
        if rest[0] == "days":
            return "days"
        if rest[0] in ("checklist", "timers"):
            if len(rest) > 2 and rest[2] in ("days", "day", "weeks", "unit", "counted_from"):
                return "days"
            return "checks" if rest[0] == "checklist" else "timers"
        return "actions" if rest[0] == "on_enter" else "states"
    if rest and rest[0] in ("guards", "roles", "actions"):
        return rest[0]
    return "triggers"


def _describe(path: Path, old: Any, new: Any) -> Change:
    area = _area(path)
    what = {"states": "state", "triggers": "trigger", "roles": "role", "facts": "fact"}
    if path[0] in what and len(path) >= 2:
        where = f"{what[path[0]]} {path[1]}"
        rest = list(path[2:])
    elif path[0] == "applies":
        where, rest = "applies to", list(path[1:])
    else:
        where, rest = "", list(path)
    if rest and rest[0] in ("checklist", "timers") and len(rest) >= 2:
        where += f", {'check' if rest[0] == 'checklist' else 'timer'} {rest[1]}"
        rest = rest[2:]
    if rest and rest[0] in ("guards", "when") and len(rest) == 2:
        said = new if old is _ABSENT else old
        verb = "added" if old is _ABSENT else "removed" if new is _ABSENT else "now says"
        kind = "guard" if rest[0] == "guards" else "condition"
        expr = "" if said == rest[1] else f" ({rest[1]})"
        return Change(area, where, f"{kind} {verb}: {said}{expr}")
    label = " ".join(r.replace("_", " ") for r in rest)
    if old is _ABSENT:
        text = f"{label} added: {_show(new)}" if label else f"added ({_title(new)})"
    elif new is _ABSENT:
        text = f"{label} removed (was {_show(old)})" if label else f"removed ({_title(old)})"
    elif isinstance(old, list) and isinstance(new, list) and _hashable(old + new):
        gained = [x for x in new if x not in old]
        lost = [x for x in old if x not in new]
        parts = ([f"+ {', '.join(map(str, gained))}"] if gained else []) + (
            [f"- {', '.join(map(str, lost))}"] if lost else [])
        text = f"{label}: {'; '.join(parts) or 'reordered'}"
    else:
        text = f"{label}: {_show(old)} → {_show(new)}"
    return Change(area, where, text)


def _hashable(values: list[Any]) -> bool:
    return all(isinstance(v, str | int | float | bool) for v in values)


def _title(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("title") or value.get("wording") or value.get("description") or "")
    return _show(value)


def _show(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"first", "last"}:
        first, last = value["first"], value["last"]
        return f"Day {first}" if first == last else f"Day {first}–{last}"
    if isinstance(value, dict) and "title" in value:
        return str(value["title"])
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 100 else text[:97] + "..."


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
        data.update(from_state=case.state, to_state=to_state, terminal=dest.terminal,
                    stops_clock=dest.stops_clock)
    return data


def preview_case(
    service: CaseService, case: CaseState, to: CompiledProcess, to_state: str, *, on: dt.date,
    mapped: bool = True, pending: Mapping[str, dt.date] | None = None,
) -> CasePreview:
    """What `service.migrate` would record and arm for this case, computed without writing."""
    definition = to.definition
    data = migration_data(case, definition, to_state, mapped=mapped)
    event = CaseEvent(
        case_id=case.id, seq=case.seq + 1, effective_date=on,
        recorded_at=dt.datetime.combine(on, dt.time(), dt.UTC), actor="", role="",
        kind=EventKind.migration, payload={"data": data}, process_id=definition.id,
        process_version=definition.version, rule=None, prev_hash=case.head_hash,
    )
    after = apply(case, event)
    calendar = service.calendar_for(after)
    settled = [] if "to_state" in data else _settled(service, case)
    planned = [
        p for p in plan_state_timers(definition, after, calendar=calendar)
        if p.timer_id not in settled
    ]
    if pending is None:
        pending = _pending(service, case.id)
    return CasePreview(
        case=case, to_state=to_state, data=data, after=after, planned=planned,
        settled=settled, deadlines=_deadline_moves(case.id, pending, planned, calendar),
    )


def _pending(service: CaseService, case_id: str) -> dict[str, dt.date]:
    with service.store.read() as conn:
        rows = conn.execute(
            select(timer_table.c.timer_id, timer_table.c.due_date).where(and_(
                timer_table.c.case_id == case_id, timer_table.c.status == "pending",
            ))
        ).all()
    return {r.timer_id: _date(r.due_date) for r in rows}


def _settled(service: CaseService, case: CaseState) -> list[str]:
    """Timers of the case's current stay in its state that already fired or lapsed."""
    entered = 1
    for ev in reversed(service.events(case.id)):
        if ev.kind == EventKind.opened or "to_state" in ev.payload.get("data", {}):
            entered = ev.seq
            break
    with service.store.read() as conn:
        return sorted(conn.execute(
            select(timer_table.c.timer_id).where(and_(
                timer_table.c.case_id == case.id,
                timer_table.c.state == case.state,
                timer_table.c.armed_seq >= entered,
                timer_table.c.status.in_(["fired", "lapsed"]),
            ))
        ).scalars())


def _deadline_moves(
    case_id: str, pending: Mapping[str, dt.date], planned: list[PlannedTimer],
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


# --- impact -------------------------------------------------------------------------------------


@dataclass
class Impact:
    """What publishing (and migrating to) a version would do to the running cases."""

    process_id: str
    version: int
    on: dt.date
    running: Counter[int] = field(default_factory=Counter)
    """Running cases on other versions, by version."""
    removed: dict[str, list[str]] = field(default_factory=dict)
    """Case ids by state, for states the new version does not have and no mapping covers."""
    deadlines: list[DeadlineMove] = field(default_factory=list)
    due_at_once: int = 0
    bad_facts: dict[str, list[str]] = field(default_factory=dict)
    """Case ids by "fact = value" the new version's fact types do not accept."""
    checklists: Counter[str] = field(default_factory=Counter)
    """Cases in each state whose checklist the new version changes."""
    steps: Counter[str] = field(default_factory=Counter)
    """Cases in each state whose next steps the new version changes."""
    migrate_open_cases: bool = False
    applies_from: dt.date | None = None

    def sentences(self) -> list[str]:
        """The impact in a policy owner's words."""
        total = sum(self.running.values())
        by = ", ".join(f"{n} on version {v}" for v, n in sorted(self.running.items()))
        out = [f"{_n(total, 'open case')} of {self.process_id} "
               f"{'is' if total == 1 else 'are'} on another version"
               + (f" ({by})." if by else ".")]
        stay = "open cases are expected to migrate to it" if self.migrate_open_cases else (
            "open cases are not expected to migrate: unless migrated, each stays on the version "
            "it opened under")
        out.append(f"Version {self.version} applies to cases opened from {self.applies_from}; "
                   f"{stay}.")
        if total == 0:
            return out
        gone = sum(len(ids) for ids in self.removed.values())
        if gone:
            states = ", ".join(f"{s} ({len(ids)})" for s, ids in sorted(self.removed.items()))
            out.append(f"{_n(gone, 'open case')} {'is' if gone == 1 else 'are'} in states that "
                       f"version {self.version} removes: {states}; give each a --map to migrate "
                       "them, or they stay where they are.")
        else:
            out.append(f"No open case is in a state that version {self.version} removes.")
        out.append(self._deadline_sentence())
        if self.due_at_once:
            out.append(f"{_n(self.due_at_once, 'deadline')} would already have passed on "
                       f"{self.on.isoformat()} and fall due at once.")
        if self.bad_facts:
            shown = "; ".join(f"{k} ({len(v)})" for k, v in sorted(self.bad_facts.items()))
            cases = len({c for ids in self.bad_facts.values() for c in ids})
            out.append(f"{_n(cases, 'case')} {'holds' if cases == 1 else 'hold'} fact values "
                       f"version {self.version} does not accept: {shown}.")
        if self.checklists:
            cases = sum(self.checklists.values())
            out.append(f"{_n(cases, 'case')} {'is' if cases == 1 else 'are'} in states whose "
                       f"checklist changes: {_counted(self.checklists)}.")
        if self.steps:
            cases = sum(self.steps.values())
            out.append(f"{_n(cases, 'case')} {'has' if cases == 1 else 'have'} next steps whose "
                       f"conditions, checks or roles change: {_counted(self.steps)}.")
        return out

    def _deadline_sentence(self) -> str:
        moved = [d for d in self.deadlines if d.old is not None and d.new is not None]
        added = sum(1 for d in self.deadlines if d.old is None)
        dropped = sum(1 for d in self.deadlines if d.new is None)
        if not self.deadlines:
            return "No deadline moves."
        parts = []
        if moved:
            shifts = [d.school_days for d in moved if d.school_days is not None]
            earlier = [-s for s in shifts if s < 0]
            later = [s for s in shifts if s > 0]
            detail = []
            if earlier:
                detail.append(f"{len(earlier)} earlier, earliest by "
                              f"{_n(max(earlier), 'school day')}")
            if later:
                detail.append(f"{len(later)} later, by up to {_n(max(later), 'school day')}")
            same = len(moved) - len(earlier) - len(later)
            if same:
                detail.append(f"{same} to another date on the same school day count")
            parts.append(f"{_n(len(moved), 'deadline')} {'moves' if len(moved) == 1 else 'move'}"
                         + (f" ({'; '.join(detail)})" if detail else ""))
        if added:
            parts.append(f"{_n(added, 'deadline')} {'is' if added == 1 else 'are'} added")
        if dropped:
            parts.append(f"{_n(dropped, 'deadline')} {'is' if dropped == 1 else 'are'} dropped")
        return "; ".join(parts) + "."


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _counted(counter: Counter[str]) -> str:
    return ", ".join(f"{k} ({n})" for k, n in sorted(counter.items()))


def impact(
    service: CaseService, to: CompiledProcess, *, on: dt.date,
    mapping: Mapping[str, str] | None = None,
) -> Impact:
    """What version `to` would do to the running cases of its process if they moved to it."""
    definition = to.definition
    result = Impact(
        process_id=definition.id, version=definition.version, on=on,
        migrate_open_cases=definition.applies.migrate_open_cases,
        applies_from=definition.applies.cases_opened_from or definition.effective_from,
    )
    mapping = mapping or {}
    for case in running_cases(service, definition.id, not_version=definition.version):
        result.running[case.process_version] += 1
        old = service.process_for(case).definition
        target = mapping.get(case.state, case.state)
        if target not in definition.states:
            result.removed.setdefault(case.state, []).append(case.id)
            continue
        preview = preview_case(service, case, to, target, on=on)
        result.deadlines.extend(preview.deadlines)
        result.due_at_once += sum(1 for p in preview.planned if p.due_date <= on)
        for name, value in case.facts.items():
            if not _fact_accepted(definition, name, value):
                result.bad_facts.setdefault(f"{name} = {value!r}", []).append(case.id)
        if _checklist(old, case.state) != _checklist(definition, target):
            result.checklists[case.state] += 1
        if _steps(old, case.state) != _steps(definition, target):
            result.steps[case.state] += 1
    return result


def _fact_accepted(definition: ProcessDefinition, name: str, value: Any) -> bool:
    fact = definition.facts.get(name)
    if fact is None:
        return False
    return value is None or not fact.values or value in fact.values


def _checklist(definition: ProcessDefinition, state: str) -> list[Any]:
    return [c.model_dump() for c in definition.states[state].checklist]


def _steps(definition: ProcessDefinition, state: str) -> dict[str, Any]:
    return {
        t.id: t.model_dump(include={"dest", "roles", "guards", "requires_checks", "requires_facts"})
        for t in definition.triggers if state in definition.source_states(t)
    }


def running_cases(
    service: CaseService, process_id: str, *, version: int | None = None,
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


# --- migrate ------------------------------------------------------------------------------------


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """`OLD=NEW` pairs as a dict; InputError naming a malformed or repeated one."""
    mapping: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(f"--map {item!r} is not OLD=NEW (e.g. --map tracing_continues="
                             "closure_decision)")
        if old.strip() in mapping:
            raise InputError(f"--map gives state {old.strip()!r} twice")
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
    service: CaseService, process_id: str, *, from_version: int, to: CompiledProcess,
    mapping: Mapping[str, str], on: dt.date, actor: Actor,
) -> MigrationPlan:
    """Check the request and preview every running case on `from_version`; writes nothing."""
    authorise(actor, "migrate", table=service.roles)
    definition = to.definition
    if definition.id != process_id:
        raise InputError(f"the new version is process {definition.id!r}, not {process_id!r}")
    if from_version == definition.version:
        raise InputError(f"--from and --to are both version {from_version}: nothing to migrate")
    source = find_version(service, process_id, from_version).definition
    for old, new in mapping.items():
        if old not in source.states:
            raise InputError(f"--map {old}={new}: version {from_version} has no state {old!r}"
                             + suggest(old, source.states, what="states"))
        if new not in definition.states:
            raise InputError(f"--map {old}={new}: version {definition.version} has no state "
                             f"{new!r}" + suggest(new, definition.states, what="states"))
        if definition.states[new].terminal:
            raise InputError(f"--map {old}={new}: {new} is a closing state; a migration moves "
                             "running cases, so close a case with its own step instead")
    if on < definition.effective_from:
        raise InputError(f"version {definition.version} is in force from "
                         f"{definition.effective_from.isoformat()}; a migration cannot take "
                         f"effect earlier ({on.isoformat()})")
    plan = MigrationPlan(process_id, from_version, to, on)
    for case in running_cases(service, process_id, version=from_version):
        target = mapping.get(case.state, case.state)
        if target not in definition.states:
            plan.unmapped.append((case.id, case.state))
            continue
        plan.moves.append(preview_case(service, case, to, target, on=on,
                                       mapped=case.state in mapping))
    return plan


def run_migration(
    service: CaseService, plan: MigrationPlan, *, at: dt.datetime, actor: Actor
) -> MigrationResult:
    """Record a migration event per planned case (each in its own transaction)."""
    authorise(actor, "migrate", table=service.roles)
    definition = plan.to.definition
    service.publish(plan.to, at=at, actor=actor)
    result = MigrationResult()
    for move in plan.moves:
        rule = (f"migration of {definition.id} from version {plan.from_version} to "
                f"{definition.version}, state {move.data['mapping']}: "
                f"{definition.source.section}")
        try:
            result.migrated.append(service.migrate(
                move.case.id, plan.to, data=move.data, on=plan.on, at=at, actor=actor,
                expected_seq=move.case.seq, settled=move.settled, rule=rule,
            ))
        except CMEError as exc:
            result.failed.append((move.case.id, str(exc)))
    return result


def publish_version(
    service: CaseService, compiled: CompiledProcess, *, at: dt.datetime, actor: Actor
) -> bool:
    """Store a version's text (VersionNotRaised if a different text holds its number already).

    Returns whether it was newly stored (False: the same text was stored before).
    """
    authorise(actor, "publish", table=service.roles)
    definition = compiled.definition
    with service.store.read() as conn:
        before = conn.execute(
            select(process_version_table.c.id).where(and_(
                process_version_table.c.process_id == definition.id,
                process_version_table.c.version == definition.version,
            ))
        ).first()
    service.publish(compiled, at=at, actor=actor)
    return before is None
