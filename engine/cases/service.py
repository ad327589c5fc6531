"""The officer's commands: open a case, fire a step, record a check, set a fact, add a note.

Owns the rules every command obeys: roles, guards and required checks from the case's pinned
process version; effective dates that never run backwards; one transaction per command guarded
by the expected sequence number; timers re-armed on every change of state. Time is an argument:
every command takes the date it takes effect (`on`) and the time it was recorded (`at`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.cases.projection import GENESIS_HASH, CaseEvent, CaseState, EventKind, apply, as_date
from engine.cases.reading import SELECT_CASE, CalendarSource, CaseReader
from engine.errors import (
    BackdatingRefused,
    CaseClosed,
    CaseNotFound,
    CMEError,
    ConcurrentUpdate,
    GuardFailed,
    InputError,
    MissingChecks,
    RoleNotPermitted,
    TransitionNotAllowed,
    UnknownCheck,
    UnknownProcess,
    UnknownStep,
    VersionNotRaised,
)
from engine.language.definition import (
    ActionDefinition,
    CheckDefinition,
    ProcessDefinition,
    TriggerDefinition,
)
from engine.language.facts import coerce_fact
from engine.language.yamlsafe import load_yaml
from engine.protection.access import Actor, Permission, RoleTable, require
from engine.protection.crypto import CaseKeys
from engine.store.database import Store
from engine.store.tables import (
    calendar_version_table,
    case_table,
    counter_table,
    event_table,
    outbox_table,
    process_version_table,
    timer_table,
)
from engine.time.calendar import SchoolCalendar
from engine.time.calendars import DEFAULT_CALENDAR
from engine.time.deadlines import plan_state_timers

if TYPE_CHECKING:
    # Guards (CEL), machines (transitions) and the loader are imported when a command first
    # needs them, so reading a case (`cme case show`) starts fast.
    from engine.cases.notification import Child, NotificationForm
    from engine.language.machine import CompiledProcess
    from engine.language.outline import ProcessOutline
    from engine.language.registry import ProcessRegistry

log = logging.getLogger(__name__)

# Statements built once: SQLAlchemy caches their compiled SQL, so a command only executes them.
# Building `update(...).values(**row)` afresh per command cost more than the durable commit.
_SELECT_CASE_FOR_UPDATE = SELECT_CASE.with_for_update()
_UPDATE_CASE = update(case_table).where(
    and_(case_table.c.id == bindparam("expected_id"),
         case_table.c.seq == bindparam("expected_seq"))
)
_INSERT_CASE = insert(case_table)
_INSERT_EVENT = insert(event_table)
_INSERT_TIMER = insert(timer_table)
_INSERT_OUTBOX = insert(outbox_table)
_TIMER_CLAIM = update(timer_table).where(and_(
    timer_table.c.key == bindparam("timer_key"), timer_table.c.status == "pending",
))
_TIMER_SETTLE = update(timer_table).where(timer_table.c.key == bindparam("timer_key"))
_CLOSE_CASE_TIMERS = update(timer_table).where(and_(
    timer_table.c.case_id == bindparam("timer_case"), timer_table.c.status == "pending",
))
_CLOSE_ONE_TIMER = update(timer_table).where(and_(
    timer_table.c.key == bindparam("timer_key"), timer_table.c.status == "pending",
))
ONE_ROW_WRITES = (_UPDATE_CASE, _INSERT_EVENT, _INSERT_TIMER, _INSERT_OUTBOX, _TIMER_CLAIM)
"""Prebuilt statements that write exactly one row per parameter set. A sweep batch may queue
them and send each as one executemany before its next other statement
(engine/scheduling/sweep.py)."""
_SELECT_STORED_VERSION = select(
    process_version_table.c.content_hash, process_version_table.c.yaml_text
).where(and_(process_version_table.c.process_id == bindparam("process_id"),
             process_version_table.c.version == bindparam("version")))

SCHEDULER = "scheduler"
"""The actor and role of steps the scheduler takes (timers and escalations)."""


SCHEDULER_ACTOR = Actor(SCHEDULER, SCHEDULER)

_WRITE_PERMISSION: dict[EventKind, Permission] = {
    EventKind.purge: Permission.admin,
    EventKind.legal_hold: Permission.admin,
    EventKind.migration: Permission.load_process,
}
"""What writing an event of a kind needs, where it is not `change_case`."""


@dataclass(frozen=True)
class CommandResult:
    """What a command did: the case as it now stands and the event it appended."""

    case: CaseState
    event: CaseEvent


class CaseService(CaseReader):
    """The commands of the case engine over one store and one process registry."""

    def __init__(
        self,
        store: Store,
        registry: ProcessRegistry | Callable[[], ProcessRegistry],
        *,
        calendars: CalendarSource | None = None,
        roles: RoleTable | None = None,
        keys: CaseKeys | None = None,
    ) -> None:
        super().__init__(store, calendars=calendars, roles=roles, keys=keys)
        # A factory is called on first need: reading a case never loads every process.
        self._registry: ProcessRegistry | None = None if callable(registry) else registry
        self._registry_factory = registry if callable(registry) else None
        self._published: set[tuple[str, int, str]] = set()
        # Per (process id, version): what the case is pinned to, resolved once per service.
        self._pinned: dict[tuple[str, int], CompiledProcess] = {}
        self._definitions: dict[tuple[str, int], ProcessDefinition] = {}
        self._checks: dict[int, tuple[ProcessDefinition, dict[str, CheckDefinition]]] = {}

    # -- reading (the rest is CaseReader's) ----------------------------------------------

    @property
    def registry(self) -> ProcessRegistry:
        """The processes new cases open under (loaded on first use if given as a factory)."""
        if self._registry is None:
            assert self._registry_factory is not None
            self._registry = self._registry_factory()
        return self._registry

    def process_for(self, case: CaseState) -> CompiledProcess:
        """The compiled process version the case is pinned to: the text stored when it opened.

        The registry's copy is used when its text is the stored one; otherwise (a file edited
        since, or a database made elsewhere) the stored text is compiled. One object, with one
        shared machine, serves every case of a version.
        """
        key = (case.process_id, case.process_version)
        compiled = self._pinned.get(key)
        if compiled is None:
            stored = self._stored_version(*key)
            compiled = self._registered(*key)
            if stored is not None and (compiled is None or compiled.content_hash != stored[0]):
                from engine.language.loader import load_process_text
                from engine.language.machine import compile_process

                compiled = compile_process(load_process_text(stored[1], _stored_path(*key)))
            if compiled is None:
                compiled = self.registry.get(*key)
            self._pinned[key] = compiled
        return compiled

    def definition_for(self, case: CaseState) -> ProcessDefinition:
        """The definition the case is pinned to, for reading: no guards or machine are built."""
        key = (case.process_id, case.process_version)
        if key in self._pinned:
            return self._pinned[key].definition
        definition = self._definitions.get(key)
        if definition is None:
            stored = self._stored_version(*key)
            registered = self._registered(*key)
            if stored is None:
                definition = (registered or self.registry.get(*key)).definition
            elif registered is not None and registered.content_hash == stored[0]:
                definition = registered.definition
            else:
                definition = _definition_from_text(stored[1], _stored_path(*key))
            self._definitions[key] = definition
        return definition

    def checks_of(self, definition: ProcessDefinition) -> dict[str, CheckDefinition]:
        """Every check of a process version by id (built once per version, not per command)."""
        found = self._checks.get(id(definition))
        if found is None or found[0] is not definition:
            found = self._checks[id(definition)] = (definition, definition.checks())
        return found[1]

    def _unstored_outline(self, case: CaseState) -> ProcessOutline:
        # Only for a case whose version this database lacks: the registry's copy.
        return self.definition_for(case).outline()

    def publish_calendar(
        self, cal: SchoolCalendar, *, at: dt.datetime, actor: Actor | None = None
    ) -> bool:
        """Store a calendar version (refusing changed dates whose version was not raised);
        True if it was new. `actor` needs load_process; None is the engine itself.
        """
        if actor is not None:
            require(actor, Permission.load_process, table=self.roles,
                    doing="load a calendar version")
        with self._writing() as conn:
            stored = self._publish_calendar(conn, cal, at)
        self._calendars_in_force.pop(cal.name, None)
        return stored

    # -- commands --------------------------------------------------------------------------

    def open_case(
        self,
        form: NotificationForm,
        *,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        process: str = "untraceable_cme",
        calendar: str | None = None,
        assigned_officer: str | None = None,
    ) -> list[str]:
        """Open a case per child on the form (linked as siblings); Day 1 is `on`."""
        from engine.cases.notification import check_form_dates, check_school_age, personal_data

        require(actor, Permission.change_case, table=self.roles)
        _not_future(on, at)
        check_form_dates(form, on=on)
        compiled = self.registry.in_force(process, on)
        definition = compiled.definition
        if definition.compulsory_school_age_only:
            check_school_age(form, on=on)
        self._require_role(definition, actor, "open a case")
        cal = self.calendars(calendar or definition.clock.calendar or DEFAULT_CALENDAR)
        cal.is_school_day(on)  # a date outside the calendar is refused before anything is written
        # Every child's facts are typed before anything is written, so a bad one writes nothing.
        form_facts = [self._form_facts(definition, form, child, on=on) for child in form.children]
        ids: list[str] = []
        with self._writing() as conn:
            self._publish(conn, compiled, at)
            self._publish_calendar(conn, cal, at)
            numbers = self._next_case_numbers(conn, len(form.children))
            group = numbers[0] if len(numbers) > 1 else None
            for number, child, (facts, personal_facts) in zip(
                numbers, form.children, form_facts, strict=True
            ):
                personal = personal_data(form, child)
                if personal_facts:
                    personal["facts"] = personal_facts
                initial = definition.states[definition.initial]
                ev = CaseEvent(
                    case_id=number,
                    seq=1,
                    effective_date=on,
                    recorded_at=at,
                    actor=actor.name,
                    role=actor.role,
                    kind=EventKind.opened,
                    payload={
                        "data": {
                            "state": definition.initial,
                            "calendar": cal.name,
                            "sibling_group": group,
                            "siblings": [n for n in numbers if n != number],
                            "assigned_officer": assigned_officer or actor.name,
                            "facts": facts,
                            "stops_clock": initial.stops_clock,
                            "actions": _actions(initial.on_enter),
                        },
                        "personal": self.keys.seal(conn, number, 1, personal, at=at),
                    },
                    process_id=definition.id,
                    process_version=definition.version,
                    rule=f"open case: {initial.ref.section}",
                    prev_hash=GENESIS_HASH,
                ).sealed()
                case = apply(None, ev)
                conn.execute(_INSERT_CASE, case.as_row())
                conn.execute(_INSERT_EVENT, event_to_row(ev))
                self._arm_timers(conn, definition, case, cal)
                self._queue_actions(conn, case, ev, initial.on_enter)
                ids.append(number)
        log.info("opened %s under %s v%s", ", ".join(ids), definition.id, definition.version)
        return ids

    def fire(
        self,
        case_id: str,
        trigger_id: str,
        *,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        expected_seq: int | None = None,
        note: str | None = None,
    ) -> CommandResult:
        """Take a step: roles, state, required checks and guards are all enforced first."""
        if actor.role != SCHEDULER:
            require(actor, Permission.change_case, table=self.roles)
        with self._writing() as conn:
            case = self._load_for_update(conn, case_id, expected_seq)
            compiled = self.process_for(case)
            trig = self._trigger(compiled.definition, trigger_id)
            if (not trig.by_timer) if actor.role == SCHEDULER else actor.role not in trig.roles:
                roles = compiled.definition.roles
                raise RoleNotPermitted(
                    role=actor.role, doing=f"take step {trig.id}", process=compiled.definition.id,
                    step=trig.id, step_title=trig.title,
                    allowed={r: roles[r].title for r in trig.roles if r in roles},
                )
            result = self._fire_in(
                conn, case, compiled, trig, on=on, at=at, actor=actor, kind=EventKind.trigger,
                extra={}, personal={"last_note": note.strip()} if note and note.strip() else None,
            )
        return result

    def record_check(
        self,
        case_id: str,
        check_id: str,
        *,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        outcome: str,
        expected_seq: int | None = None,
    ) -> CommandResult:
        """Record that a check was made, when, and what it found."""
        require(actor, Permission.change_case, table=self.roles)
        if not outcome.strip():
            raise InputError("say what the check found: --outcome is required and not blank")
        with self._writing() as conn:
            case = self._load_for_update(conn, case_id, expected_seq)
            compiled = self.process_for(case)
            definition = compiled.definition
            self._require_role(definition, actor, "record a check")
            checks = self.checks_of(definition)
            if check_id not in checks:
                raise UnknownCheck(name=check_id, known=checks, process=definition.id)
            self._refuse_closed(case, f"record check {check_id}")
            self._check_dates(case, on, at)
            check = checks[check_id]
            return self._append(
                conn, case, compiled,
                kind=EventKind.check_recorded, on=on, at=at, actor=actor,
                data={"check": check_id, "wording": check.wording},
                personal={"check_outcomes": {check_id: outcome.strip()}},
                rule=f"check {check_id}: {check.source.section if check.source else ''}".strip(),
            )

    def set_fact(
        self,
        case_id: str,
        name: str,
        value: Any,
        *,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        expected_seq: int | None = None,
    ) -> CommandResult:
        """Record a fact about the case, typed as the process declares it."""
        require(actor, Permission.change_case, table=self.roles)
        with self._writing() as conn:
            case = self._load_for_update(conn, case_id, expected_seq)
            compiled = self.process_for(case)
            definition = compiled.definition
            self._require_role(definition, actor, "record a fact")
            self._refuse_closed(case, f"set fact {name}")
            self._check_dates(case, on, at)
            typed = coerce_fact(name, value, definition.facts, on=on)
            fact = definition.facts[name]
            rule = f"fact {name}: {fact.source.section if fact.source else definition.id}"
            if fact.personal:
                # Declared personal: the value (and the value it replaces) stay with the
                # personal data, which can be encrypted per case; the plain part names the fact.
                return self._append(
                    conn, case, compiled,
                    kind=EventKind.fact_changed, on=on, at=at, actor=actor,
                    data={"personal_fact": name}, personal={"facts": {name: typed}}, rule=rule,
                )
            return self._append(
                conn, case, compiled,
                kind=EventKind.fact_changed, on=on, at=at, actor=actor,
                data={"facts": {name: typed}, "previous": case.facts.get(name)}, rule=rule,
            )

    def add_note(
        self,
        case_id: str,
        text: str,
        *,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        expected_seq: int | None = None,
    ) -> CommandResult:
        """Add a note to the case's history (kept with the personal data)."""
        require(actor, Permission.change_case, table=self.roles)
        if not text.strip():
            raise InputError("a note needs some text")
        with self._writing() as conn:
            case = self._load_for_update(conn, case_id, expected_seq)
            compiled = self.process_for(case)
            self._require_role(compiled.definition, actor, "add a note")
            self._check_dates(case, on, at)
            return self._append(
                conn, case, compiled, kind=EventKind.note, on=on, at=at, actor=actor,
                data={}, personal={"last_note": text.strip()}, rule=None,
            )

    def file_letter(
        self,
        case_id: str,
        *,
        template: str,
        template_version: str,
        document_id: int,
        outbox_id: int | None,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
    ) -> CommandResult:
        """Record on the case that a letter was rendered and filed, with its template version."""
        with self._writing() as conn:
            case = self._load_for_update(conn, case_id, None)
            compiled = self.process_for(case)
            self._require_role(compiled.definition, actor, "file a letter")
            self._check_dates(case, on, at)
            return self._append(
                conn, case, compiled, kind=EventKind.letter_filed, on=on, at=at, actor=actor,
                data={"template": template, "template_version": template_version,
                      "document_id": document_id, "outbox_id": outbox_id},
                rule=f"letter {template}",
            )

    def append_admin(
        self,
        case_id: str,
        kind: EventKind,
        *,
        data: dict[str, Any],
        rule: str,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        check: Callable[[CaseState], None] | None = None,
    ) -> CommandResult:
        """Append a records-management event (purge, legal hold): needs `admin`, not a
        process role; `check` may refuse once the case is locked. Timers are untouched.
        """
        require(actor, Permission.admin, table=self.roles)
        with self._writing() as conn:
            case = self._load_for_update(conn, case_id, None)
            if check is not None:
                check(case)
            self._check_dates(case, on, at)
            return self._append(
                conn, case, self.process_for(case), kind=kind, on=on, at=at, actor=actor,
                data=data, rule=rule, touch_timers=False,
            )

    def migrate(
        self,
        case_id: str,
        to: CompiledProcess,
        *,
        data: dict[str, Any],
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        expected_seq: int | None = None,
        settled: Collection[str] = (),
        rule: str | None = None,
    ) -> CommandResult:
        """Move a running case onto version `to` of its process: one migration event, which
        carries the new version, and the state's timers re-armed under the new rules.

        `data` is the event's data (`versions.migration_data`); timers in `settled` already
        fired or lapsed in this stay in the state and are not armed again.
        """
        with self._writing() as conn:
            case = self._load_for_update(conn, case_id, expected_seq)
            self._refuse_closed(case, "migrate it")
            self._check_dates(case, on, at)
            self._publish(conn, to, at)
            result = self._append(
                conn, case, to, kind=EventKind.migration, on=on, at=at, actor=actor, data=data,
                rule=rule,
            )
            if settled:
                conn.execute(
                    update(timer_table).where(and_(
                        timer_table.c.case_id == case_id,
                        timer_table.c.armed_seq == result.case.seq,
                        timer_table.c.timer_id.in_(list(settled)),
                    )).values(status="cancelled", closed_seq=result.case.seq)
                )
        return result

    def append_system(
        self,
        case_id: str,
        kind: EventKind,
        *,
        data: dict[str, Any],
        rule: str,
        on: dt.date,
        at: dt.datetime,
    ) -> CommandResult:
        """Append an event the engine records on its own account, such as `deadline_moved`
        after a calendar reload (who loaded it goes in `data`); the case's timers are untouched.
        """
        with self._writing() as conn:
            case = self._load_for_update(conn, case_id, None)
            _not_future(on, at)
            return self._append(
                conn, case, self.process_for(case), kind=kind, on=on, at=at,
                actor=SCHEDULER_ACTOR, data=data, rule=rule, touch_timers=False,
            )

    # -- what timers call ------------------------------------------------------------------

    def fire_timer_in(
        self, conn: Connection, timer: Mapping[str, Any], *, at: dt.datetime,
        cases: dict[str, CaseState] | None = None,
    ) -> str:
        """Fire one claimed pending timer inside the caller's transaction; returns its new status:
        fired, lapsed or cancelled, or `skipped` (nothing written) if it was no longer pending.

        The event takes effect on the timer's due date, not the day the sweep ran, and its `when`
        conditions are judged on the checks recorded by that date, so a late sweep writes the
        history an on-time one would have. `cases` (the sweep's batch) holds cases already read
        in this transaction and is kept current, so a case with several timers due is read once.
        """
        key = timer["key"]
        case = cases.get(timer["case_id"]) if cases is not None else None
        if case is None:
            case = CaseState.from_row(
                conn.execute(SELECT_CASE, {"case_id": timer["case_id"]}).one()
            )
        compiled = self.process_for(case)
        definition = compiled.definition
        on = as_date(timer["due_date"])
        tdef = next(
            (t for t in definition.states[timer["state"]].timers if t.id == timer["timer_id"]),
            None,
        ) if timer["state"] in definition.states else None

        def settle(status: str, seq: int, *, claim: bool = True) -> bool:
            # The claim is guarded by status = 'pending': a timer another sweeper has already
            # dealt with is skipped before anything is written, so nothing fires twice.
            done = conn.execute(_TIMER_CLAIM if claim else _TIMER_SETTLE,
                                {"timer_key": key, "status": status, "closed_seq": seq})
            return bool(done.rowcount == 1)

        if case.state != timer["state"] or case.terminal or tdef is None:
            return "cancelled" if settle("cancelled", case.seq) else "skipped"
        day = on.isoformat()
        as_of = case
        if any(c["on"] > day for c in case.checks.values()):
            as_of = replace(case, checks={k: c for k, c in case.checks.items() if c["on"] <= day})
        conditions = compiled.conditions_for_timer(tdef.id)
        # Outstanding-step conditions read checks, not personal facts: open no sealed data.
        names = {n for c in conditions for n in c.names}
        context = self._context(as_of, compiled, on, conn=conn, names=names)
        failing = [c for c in conditions if not c.evaluate(context)]
        lapsed_rule = f"timer {tdef.id}: {tdef.ref.section}"
        if failing:
            if not settle("lapsed", case.seq + 1):
                return "skipped"
            result = self._append(
                conn, case, compiled, kind=EventKind.timer_lapsed, on=on, at=at,
                actor=SCHEDULER_ACTOR,
                data={"timer": tdef.id, "key": key, "because": [c.says for c in failing]},
                rule=lapsed_rule, touch_timers=False,
            )
            status = "lapsed"
        elif tdef.fire:
            if not settle("fired", case.seq + 1):
                return "skipped"
            trig = self._trigger(definition, tdef.fire)
            try:
                result = self._fire_in(
                    conn, case, compiled, trig, on=on, at=at, actor=SCHEDULER_ACTOR,
                    kind=EventKind.timer_fired,
                    extra={"timer": tdef.id, "key": key, "explanation": timer["explanation"]},
                )
                status = "fired"
            except (GuardFailed, MissingChecks, TransitionNotAllowed) as exc:
                # Refused before anything was written: record why the step was not taken.
                settle("lapsed", case.seq + 1, claim=False)
                result = self._append(
                    conn, case, compiled, kind=EventKind.timer_lapsed, on=on, at=at,
                    actor=SCHEDULER_ACTOR,
                    data={"timer": tdef.id, "key": key, "because": [str(exc)]},
                    rule=lapsed_rule, touch_timers=False,
                )
                status = "lapsed"
        else:
            assert tdef.escalate is not None
            if not settle("fired", case.seq + 1):
                return "skipped"
            result = self._append(
                conn, case, compiled, kind=EventKind.escalation, on=on, at=at,
                actor=SCHEDULER_ACTOR,
                data={"timer": tdef.id, "key": key, "to_role": tdef.escalate.to_role,
                      "message": tdef.escalate.message, "explanation": timer["explanation"]},
                rule=f"escalation {tdef.id}: {tdef.ref.section}",
                touch_timers=False,
            )
            self._queue_actions(conn, result.case, result.event, [ActionDefinition(
                kind="notify", to=tdef.escalate.to_role, wording=tdef.escalate.message,
                template="escalation", channel="email",
            )])
            status = "fired"
        if cases is not None:
            cases[case.id] = result.case
        return status

    # -- internals -------------------------------------------------------------------------

    def _fire_in(
        self,
        conn: Connection,
        case: CaseState,
        compiled: CompiledProcess,
        trig: TriggerDefinition,
        *,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        kind: EventKind,
        extra: dict[str, Any],
        closing_key: str | None = None,
        personal: dict[str, Any] | None = None,
    ) -> CommandResult:
        definition = compiled.definition
        self._refuse_closed(case, trig.id)
        if case.state not in definition.source_states(trig):
            allowed = compiled.allowed_triggers(case.state)
            raise TransitionNotAllowed(
                case_id=case.id, step=trig.id, stage=case.state,
                stage_title=definition.states[case.state].title, allowed=allowed,
            )
        if actor.role == SCHEDULER:
            # A timer's step takes effect on its due date even when the sweep runs late and an
            # officer has since recorded later events: the history says when it was due.
            _not_future(on, at)
        else:
            self._check_dates(case, on, at)
        missing = [c for c in trig.requires_checks if c not in case.checks]
        if missing:
            wording = self.checks_of(definition)
            raise MissingChecks(step=trig.id, missing={c: wording[c].wording for c in missing})
        # Only the facts this step reads: sealed personal ones are opened only if it reads one.
        read = {*trig.requires_facts, *(n for c in compiled.guards(trig.id) for n in c.names)}
        facts = self._guard_facts(case, definition, conn, read)
        unset = [f for f in trig.requires_facts if facts.get(f) is None]
        if unset:
            raise GuardFailed(step=trig.id, failed=[f"{f} recorded" for f in unset],
                              facts={f: None for f in unset}, unset=unset)
        context = self._context(case, compiled, on, conn=conn, names=read)
        failing = compiled.check_guards(trig.id, context)
        if failing:
            # Name the values each failing condition read: facts, and the day counts.
            names = sorted({v for c in failing for v in c.names if v in _SHOWN_NAMES or v in facts})
            values = {n: facts.get(n, context.get(n)) for n in names}
            raise GuardFailed(step=trig.id, failed=[c.says for c in failing], facts=values)
        model = _Model(case.state)
        new_state = compiled.fire(model, trig.id)
        dest = definition.states[new_state]
        # An interrupt (a trigger without `dest`, e.g. a MASH referral) is recorded, but the case
        # does not re-enter its stage: its day count, pauses, armed timers and the stage's
        # on-enter letters stand.
        actions = [*trig.actions] if trig.dest is None else [*trig.actions, *dest.on_enter]
        data = {
            "trigger": trig.id,
            "from_state": case.state,
            "to_state": new_state,
            "terminal": dest.terminal,
            "stops_clock": dest.stops_clock,
            "actions": _actions(actions),
            **extra,
        }
        if trig.dest is None:
            data["stays"] = True
        rule = f"{trig.id}: {trig.ref.section}"
        if trig.legal_basis:
            rule += f"; {trig.legal_basis}"
        result = self._append(
            conn, case, compiled, kind=kind, on=on, at=at, actor=actor, data=data, rule=rule,
            closing_key=closing_key, personal=personal,
        )
        self._queue_actions(conn, result.case, result.event, actions)
        return result

    def _append(
        self,
        conn: Connection,
        case: CaseState,
        compiled: CompiledProcess,
        *,
        kind: EventKind,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        data: dict[str, Any],
        rule: str | None,
        personal: dict[str, Any] | None = None,
        touch_timers: bool = True,
        closing_key: str | None = None,
    ) -> CommandResult:
        """Seal and write one event, update the case row if no one else has, re-arm timers."""
        definition = compiled.definition
        if actor.role != SCHEDULER:
            # The backstop: no event is written for a role that may not write it.
            require(actor, _WRITE_PERMISSION.get(kind, Permission.change_case), table=self.roles)
        payload: dict[str, Any] = {"data": data}
        if personal:
            # Sealed before hashing, so the chain covers the ciphertext and survives a purge.
            payload["personal"] = self.keys.seal(conn, case.id, case.seq + 1, personal, at=at)
        ev = CaseEvent(
            case_id=case.id,
            seq=case.seq + 1,
            effective_date=on,
            recorded_at=at,
            actor=actor.name,
            role=actor.role,
            kind=kind,
            payload=payload,
            process_id=definition.id,
            process_version=definition.version,
            rule=rule,
            prev_hash=case.head_hash,
        ).sealed()
        new = apply(case, ev)
        row = new.as_row()
        del row["id"]
        row["expected_id"] = case.id
        row["expected_seq"] = case.seq
        done = conn.execute(_UPDATE_CASE, row)
        if done.rowcount != 1:
            raise ConcurrentUpdate(
                f"case {case.id} changed while you were working on it (it was at event "
                f"{case.seq}); nothing was written — look at it again and retry"
            )
        try:
            conn.execute(_INSERT_EVENT, event_to_row(ev))
        except IntegrityError:
            raise ConcurrentUpdate(
                f"case {case.id} event {ev.seq} was written by someone else; nothing was written"
            ) from None
        if (touch_timers and new.state != case.state) or kind == EventKind.migration:
            self._close_timers(conn, case.id, new.seq, keep=closing_key)
            self._arm_timers(conn, definition, new, self.calendar_for(new))
        elif closing_key:
            self._close_timers(conn, case.id, new.seq, only=closing_key, status="fired")
        return CommandResult(case=new, event=ev)

    def _guard_facts(
        self, case: CaseState, definition: ProcessDefinition, conn: Connection | None,
        names: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """Every fact guards read; sealed personal facts are opened only if the process has any
        (and, when `names` lists every name the guards read, only if one of them is personal).
        """
        if not any(f.personal and (names is None or n in names)
                   for n, f in definition.facts.items()):
            return case.all_facts()
        return self.revealed(case, conn=conn).all_facts()

    def _context(
        self, case: CaseState, compiled: CompiledProcess, on: dt.date,
        conn: Connection | None = None, names: Collection[str] | None = None,
    ) -> dict[str, Any]:
        from engine.language.expressions import guard_context

        cal = self.calendar_for(case)
        return guard_context(
            facts=self._guard_facts(case, compiled.definition, conn, names),
            fact_defs=compiled.definition.facts,
            checks_done=case.checks.keys(),
            all_checks=self.checks_of(compiled.definition).keys(),
            case_day=cal.day_number(case.opened_on, on, skip=case.paused_ranges()),
            state_day=cal.day_number(case.state_entered_on, on),
            effective_date=on,
            opened_on=case.opened_on,
        )

    def _arm_timers(
        self, conn: Connection, definition: ProcessDefinition, case: CaseState,
        cal: SchoolCalendar,
    ) -> None:
        planned = plan_state_timers(definition, case, calendar=cal)
        if planned:
            conn.execute(
                _INSERT_TIMER,
                [
                    {
                        "key": p.key, "case_id": case.id, "timer_id": p.timer_id,
                        "state": p.state, "action": p.action, "trigger": p.trigger,
                        "escalate_role": p.escalate_role, "due_date": p.due_date,
                        "status": "pending", "explanation": p.explanation,
                        "calendar": p.calendar, "calendar_version": p.calendar_version,
                        "armed_seq": case.seq, "closed_seq": None,
                    }
                    for p in planned
                ],
            )

    def _close_timers(
        self, conn: Connection, case_id: str, seq: int, *, keep: str | None = None,
        only: str | None = None, status: str = "cancelled",
    ) -> None:
        if only is None:
            conn.execute(_CLOSE_CASE_TIMERS,
                         {"timer_case": case_id, "status": status, "closed_seq": seq})
        else:
            conn.execute(_CLOSE_ONE_TIMER, {"timer_key": only, "status": status,
                                            "closed_seq": seq})
        if keep is not None:
            conn.execute(_TIMER_SETTLE, {"timer_key": keep, "status": "fired", "closed_seq": seq})

    def _queue_actions(
        self, conn: Connection, case: CaseState, ev: CaseEvent, actions: list[ActionDefinition]
    ) -> None:
        if not actions:
            return
        conn.execute(
            _INSERT_OUTBOX,
            [
                {
                    "case_id": case.id, "event_seq": ev.seq, "position": i, "kind": a.kind,
                    "recipient": a.to, "template": a.template, "channel": a.channel,
                    "wording": a.wording, "status": "pending", "attempts": 0,
                    "created_on": ev.effective_date,
                }
                for i, a in enumerate(actions)
            ],
        )

    def _load_for_update(
        self, conn: Connection, case_id: str, expected_seq: int | None
    ) -> CaseState:
        # PostgreSQL: lock the row, so a second writer waits and then sees the new sequence.
        # SQLite: BEGIN IMMEDIATE (store.py) has already serialised writers.
        query = SELECT_CASE if self.store.is_sqlite else _SELECT_CASE_FOR_UPDATE
        row = conn.execute(query, {"case_id": case_id}).first()
        if row is None:
            raise CaseNotFound(case_id)
        case = CaseState.from_row(row)
        if expected_seq is not None and case.seq != expected_seq:
            raise ConcurrentUpdate(case_id=case_id, expected_seq=expected_seq, found_seq=case.seq)
        return case

    def _form_facts(
        self, definition: ProcessDefinition, form: NotificationForm, child: Child, *, on: dt.date
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The form's facts this process declares, typed, split into plain and personal."""
        from engine.cases.notification import case_facts

        plain: dict[str, Any] = {}
        personal: dict[str, Any] = {}
        for name, raw in case_facts(form, child, on=on).items():
            fact = definition.facts.get(name)
            if fact is None:
                continue
            try:
                value = coerce_fact(name, raw, definition.facts, on=on)
            except CMEError as exc:
                raise InputError(
                    f"the notification's {name} for {child.full_name} does not fit process "
                    f"{definition.id}: {exc}"
                ) from None
            (personal if fact.personal else plain)[name] = value
        return plain, personal

    def _trigger(self, definition: ProcessDefinition, trigger_id: str) -> TriggerDefinition:
        trig = definition.trigger(trigger_id)
        if trig is None:
            raise UnknownStep(name=trigger_id, known=[t.id for t in definition.triggers],
                              process=definition.id)
        return trig

    def _require_role(self, definition: ProcessDefinition, actor: Actor, doing: str) -> None:
        if actor.role == SCHEDULER:
            return
        if actor.role not in definition.roles:
            raise RoleNotPermitted(
                role=actor.role, doing=doing, process=definition.id,
                allowed={r: role.title for r, role in definition.roles.items()},
            )

    def _refuse_closed(self, case: CaseState, doing: str) -> None:
        if case.terminal:
            raise CaseClosed(case.id, stage=case.state, closed_on=case.closed_on, doing=doing)

    def _check_dates(self, case: CaseState, on: dt.date, at: dt.datetime) -> None:
        _not_future(on, at)
        if on < case.last_effective:
            raise BackdatingRefused(case_id=case.id, requested=on, latest=case.last_effective)

    def _next_case_numbers(self, conn: Connection, count: int) -> list[str]:
        prefix = "CME"
        done = conn.execute(
            update(counter_table).where(counter_table.c.prefix == prefix)
            .values(last=counter_table.c.last + count)
        )
        if done.rowcount == 0:
            conn.execute(insert(counter_table).values(prefix=prefix, last=count))
        last = conn.execute(
            select(counter_table.c.last).where(counter_table.c.prefix == prefix)
        ).scalar_one()
        return [f"{prefix}-{n:06d}" for n in range(last - count + 1, last + 1)]

    def publish(self, compiled: CompiledProcess, *, at: dt.datetime, actor: Actor) -> None:
        """Store a process version's text (refusing a changed file whose version was not raised)."""
        require(actor, Permission.load_process, table=self.roles)
        with self._writing() as conn:
            self._publish(conn, compiled, at)

    def _publish(self, conn: Connection, compiled: CompiledProcess, at: dt.datetime) -> None:
        d = compiled.definition
        key = (d.id, d.version, compiled.content_hash)
        if key in self._published:
            return
        row = conn.execute(
            select(process_version_table.c.content_hash).where(
                and_(process_version_table.c.process_id == d.id,
                     process_version_table.c.version == d.version)
            )
        ).first()
        if row is None:
            conn.execute(insert(process_version_table).values(
                process_id=d.id, version=d.version, content_hash=compiled.content_hash,
                effective_from=d.effective_from, yaml_text=compiled.loaded.text, loaded_at=at,
                outline=d.outline().to_json(),
            ))
        elif row[0] != compiled.content_hash:
            raise VersionNotRaised(kind="process", name=d.id, version=d.version,
                                   path=str(compiled.loaded.path))
        self._published.add(key)

    def _publish_calendar(self, conn: Connection, cal: SchoolCalendar, at: dt.datetime) -> bool:
        """Store `cal` unless this database has it; refuse the same version with other dates."""
        key = (cal.name, cal.version, cal.content_hash)
        if key in self._published:
            return False
        row = conn.execute(
            select(calendar_version_table.c.content_hash,
                   calendar_version_table.c.bank_holidays).where(and_(
                calendar_version_table.c.name == cal.name,
                calendar_version_table.c.version == cal.version,
            ))
        ).first()
        holidays = _bank_holidays_to_json(cal)
        if row is None:
            conn.execute(insert(calendar_version_table).values(
                name=cal.name, version=cal.version, content_hash=cal.content_hash,
                yaml_text=cal.source_text, loaded_at=at, bank_holidays=holidays,
            ))
        elif row[0] == cal.content_hash and row[1] is None:
            # Stored before bank holidays were pinned with the version: pin them now.
            conn.execute(update(calendar_version_table).where(and_(
                calendar_version_table.c.name == cal.name,
                calendar_version_table.c.version == cal.version,
            )).values(bank_holidays=holidays))
        elif row[0] != cal.content_hash:
            raise VersionNotRaised(kind="calendar", name=cal.name, version=cal.version,
                                   path=str(cal.path))
        self._published.add(key)
        return row is None

    def _stored_version(self, process_id: str, version: int) -> tuple[str, str] | None:
        """(content hash, YAML text) of a published process version, or None."""
        with self._reading(None) as conn:
            row = conn.execute(
                _SELECT_STORED_VERSION, {"process_id": process_id, "version": version}
            ).first()
        return None if row is None else (row[0], row[1])

    def _registered(self, process_id: str, version: int) -> CompiledProcess | None:
        """The registry's copy of a version, only if the registry is loaded already."""
        if self._registry is None:
            return None
        try:
            return self._registry.get(process_id, version)
        except UnknownProcess:
            return None

    @contextmanager
    def batch(self) -> Iterator[Connection]:
        """Run several commands in one transaction: every one is written, or none is.

        Commands called inside the block (on this thread) join its transaction instead of
        opening their own; leaving the block by an exception rolls all of them back.
        """
        if getattr(self._batch, "conn", None) is not None:
            raise RuntimeError("a batch is already open on this thread; batches do not nest")
        published = set(self._published)
        try:
            with self.store.engine.begin() as conn:
                self._batch.conn = conn
                try:
                    yield conn
                finally:
                    self._batch.conn = None
        except BaseException:
            # Process versions published inside the rolled-back transaction were not kept.
            self._published = published
            raise

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        conn = getattr(self._batch, "conn", None)
        if conn is not None:
            yield conn
            return
        try:
            with self.store.engine.begin() as conn:
                # Reads this command makes (e.g. of a process version) join its transaction:
                # on SQLite another connection would wait for this one's write lock.
                self._batch.writing = conn
                try:
                    yield conn
                finally:
                    self._batch.writing = None
        except OperationalError as exc:
            if "locked" not in str(exc.orig):
                raise
            # SQLite's busy timeout ran out while another process held the write lock.
            raise ConcurrentUpdate(
                "the database stayed busy with another command; nothing was written — "
                "try again in a moment"
            ) from None


_SHOWN_NAMES = frozenset({"case_day", "state_day"})
"""Reserved guard names whose value a refusal shows next to the facts."""


class _Model:
    """The stand-in `transitions` fires on: a case's state, never attached to the machine."""

    def __init__(self, state: str) -> None:
        self.state = state


def _definition_from_text(text: str, path: str) -> ProcessDefinition:
    """A published process text as a definition, for reading only.

    The text passed the full loader when it was published, so this skips the reference checks
    and guard compilation.
    """
    from pydantic import ValidationError

    try:
        return ProcessDefinition.model_validate(load_yaml(text, path).data)
    except ValidationError:
        from engine.language.loader import load_process_text

        # Only if the stored text no longer fits today's language: say exactly where.
        return load_process_text(text, path).definition


def _bank_holidays_to_json(cal: SchoolCalendar) -> str:
    from engine.cases.projection import canonical_json

    return canonical_json({day.isoformat(): name for day, name in cal.bank_holidays.items()})


def _stored_path(process_id: str, version: int) -> str:
    return f"stored:{process_id}@{version}"


def _actions(actions: list[ActionDefinition]) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json", exclude_none=True, exclude={"source"}) for a in actions]


def _not_future(on: dt.date, at: dt.datetime) -> None:
    if on > at.date():
        raise InputError(
            f"{on.isoformat()} is after the day this is recorded ({at.date().isoformat()}): "
            "record a step on or after the day it happens"
        )


def event_to_row(ev: CaseEvent) -> dict[str, Any]:
    """The stored row of an event."""
    from engine.cases.projection import canonical_json

    recorded = ev.recorded_at
    recorded = recorded.replace(tzinfo=dt.UTC) if recorded.tzinfo is None else recorded
    return {
        "case_id": ev.case_id, "seq": ev.seq, "effective_date": ev.effective_date,
        "recorded_at": recorded, "actor": ev.actor, "role": ev.role, "kind": str(ev.kind),
        "payload": canonical_json(ev.payload), "process_id": ev.process_id,
        "process_version": ev.process_version, "rule": ev.rule, "prev_hash": ev.prev_hash,
        "hash": ev.hash,
    }


__all__ = ["Actor", "CaseService", "CommandResult", "SCHEDULER_ACTOR"]
