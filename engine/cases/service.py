"""The officer's commands: open a case, take a step, record a check, set a fact, add a note; and
the commands the engine gives itself (timers, letters, records management, migrations).

Each command is thin and opens the same way (`commanding.begin_command`): the permission `POLICY`
names for it, the case loaded for update, the process version it is pinned to. The larger ones
are their own modules, which the service delegates to: opening cases `opening.py`, assignment
`assignment.py`, checks recorded and waived `check_commands.py`, timers fired `timer_firing.py`.
The decision (roles, dates, closed case, checks, facts, guards) is `engine/cases/decide.py`; the
writing, in one transaction guarded by the expected sequence number, is
`engine/cases/unit_of_work.py`; stored versions are `engine/cases/catalog.py`; reads are the
`CaseReader` a service holds. Time is an argument: every command takes the date it takes effect
(`on`) and the time it was recorded (`at`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.engine import Connection

from engine.cases import assignment, check_commands, decide, free_text, opening, timer_firing
from engine.cases.catalog import Catalog
from engine.cases.commanding import begin_command, write
from engine.cases.decide import SCHEDULER, SCHEDULER_ACTOR, Command
from engine.cases.events import CaseEvent, EventKind, Personal, event_to_row
from engine.cases.projection import CaseState
from engine.cases.reading import CalendarSource, CaseReader
from engine.cases.unit_of_work import ONE_ROW_WRITES, CommandResult, Transactions
from engine.errors import InputError
from engine.protection.access import Actor, Permission, RoleTable, require
from engine.protection.crypto import CaseKeys
from engine.store.database import Store
from engine.time.calendar import SchoolCalendar

if TYPE_CHECKING:
    # Guards (CEL), machines (transitions) and the loader are imported when a command first
    # needs them, so reading a case (`cme case show`) starts fast.
    from engine.cases.notification import NotificationForm
    from engine.language.definition import CheckDefinition, ProcessDefinition
    from engine.language.machine import CompiledProcess
    from engine.language.outline import ProcessOutline
    from engine.language.registry import ProcessRegistry


class CaseService:
    """The commands of the case engine over one store and one process registry; reads are the
    `reader`'s, stored versions the `catalog`'s.
    """

    def __init__(
        self,
        store: Store,
        registry: ProcessRegistry | Callable[[], ProcessRegistry],
        *,
        calendars: CalendarSource | None = None,
        roles: RoleTable | None = None,
        keys: CaseKeys | None = None,
    ) -> None:
        self.reader = CaseReader(
            store, calendars=calendars, roles=roles, keys=keys, unstored=self._unstored_outline
        )
        # A registry factory is called on first need: reading a case never loads every process.
        self.catalog = Catalog(self.reader.reading, registry)
        self.work = Transactions(self.reader, self.catalog)

    # -- reading: the reader's and the catalog's ---------------------------------------------

    @property
    def store(self) -> Store:
        """The database this service reads and writes."""
        return self.reader.store

    @property
    def roles(self) -> RoleTable:
        """Who may do what."""
        return self.reader.roles

    @property
    def keys(self) -> CaseKeys:
        """The per-case keys personal data is sealed with."""
        return self.reader.keys

    @property
    def calendars(self) -> CalendarSource:
        """The school calendar of each name, as this service uses it."""
        return self.reader.calendars

    @property
    def registry(self) -> ProcessRegistry:
        """The processes new cases open under (loaded on first use if given as a factory)."""
        return self.catalog.registry

    def get(self, case_id: str, *, conn: Connection | None = None) -> CaseState:
        """The case as stored; CaseNotFound if there is none."""
        return self.reader.get(case_id, conn=conn)

    def events(self, case_id: str, *, conn: Connection | None = None) -> list[CaseEvent]:
        """Every event of the case, in sequence order."""
        return self.reader.events(case_id, conn=conn)

    def revealed(self, case: CaseState, *, conn: Connection | None = None) -> CaseState:
        """The case with its personal data opened (see `CaseReader.revealed`)."""
        return self.reader.revealed(case, conn=conn)

    def outline_for(self, case: CaseState) -> ProcessOutline:
        """The outline of the process version the case is pinned to."""
        return self.reader.outline_for(case)

    def calendar_for(self, case: CaseState) -> SchoolCalendar:
        """The school calendar the case's clock uses."""
        return self.reader.calendar_for(case)

    def calendar_in_force(self, name: str) -> SchoolCalendar:
        """Calendar `name` as this database uses it (see `CaseReader.calendar_in_force`)."""
        return self.reader.calendar_in_force(name)

    def forget_calendars(self) -> None:
        """Read calendars afresh on next use (another process may have loaded a new version)."""
        self.reader.forget_calendars()

    def process_for(self, case: CaseState) -> CompiledProcess:
        """The compiled process version the case is pinned to (see `Catalog.process_for`)."""
        return self.catalog.process_for(case)

    def definition_for(self, case: CaseState) -> ProcessDefinition:
        """The definition the case is pinned to, for reading: no guards or machine are built."""
        return self.catalog.definition_for(case)

    def checks_of(self, definition: ProcessDefinition) -> dict[str, CheckDefinition]:
        """Every check of a process version by id."""
        return self.catalog.checks_of(definition)

    def _unstored_outline(self, case: CaseState) -> ProcessOutline:
        # Only for a case whose version this database lacks: the registry's copy.
        return self.definition_for(case).outline()

    # -- publishing and transactions -------------------------------------------------------

    def publish(self, compiled: CompiledProcess, *, at: dt.datetime, actor: Actor) -> None:
        """Store a process version's text (refusing a changed file whose version was not raised)."""
        require(actor, Permission.load_process, table=self.roles)
        with self.work.begin() as uow:
            uow.publish(compiled, at)

    def publish_calendar(
        self, cal: SchoolCalendar, *, at: dt.datetime, actor: Actor | None = None
    ) -> bool:
        """Store a calendar version (refusing changed dates whose version was not raised);
        True if it was new. `actor` needs load_process; None is the engine itself.
        """
        if actor is not None:
            require(
                actor, Permission.load_process, table=self.roles, doing="load a calendar version"
            )
        with self.work.begin() as uow:
            stored = uow.publish_calendar(cal, at)
        self.reader.forget_calendars(cal.name)
        return stored

    @contextmanager
    def batch(self) -> Iterator[Connection]:
        """Run several commands in one transaction: every one is written, or none is (see
        `Transactions.batch`).
        """
        with self.work.batch() as conn:
            yield conn

    # -- the officer's commands --------------------------------------------------------------

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
        link: str | Collection[str] | None = None,
        override_reason: str | None = None,
    ) -> list[str]:
        """Open a case per child on the form (linked as siblings); Day 1 is `on`.

        A child with an open case already is refused (`engine/cases/duplicates.py`) unless the
        notification is linked to that case (`link`, one case or several for siblings: recorded
        on it, no new case, no letter; its id is returned for that child) or the officer opens
        one anyway (`override_reason`, recorded on the new case).
        """
        return opening.open_case(
            self,
            form,
            on=on,
            at=at,
            actor=actor,
            process=process,
            calendar=calendar,
            assigned_officer=assigned_officer,
            link=link,
            override_reason=override_reason,
        )

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
        deliberate: bool = False,
        reason: str | None = None,
    ) -> CommandResult:
        """Take a step: roles, stage, dates, required checks and guards are all judged first,
        and every reason against it is given. A step that keeps the stage, taken again the same
        day, needs `deliberate` and a `reason` (both recorded).
        """
        said = free_text.given(note=note, reason=reason)

        def why() -> object:
            return free_text.reason_with(deliberate, reason, flag="--deliberate")

        with begin_command(
            self,
            Command.step,
            case_id,
            actor=actor,
            on=on,
            at=at,
            expected_seq=expected_seq,
            before=why,
        ) as (uow, sit):
            trig = decide.step_of(sit.definition, trigger_id, sit.case.facts)
            if trig.requires_reason and not said:
                raise InputError(
                    f"step {trig.id} ({trig.title}) needs a reason: give it with --note TEXT; "
                    "it is kept in the case's history. Nothing was written"
                )
            personal = cast("Personal | None", said or None)
            draft = decide.take_step(sit, trig, personal=personal, deliberate=deliberate)
            return write(uow, sit, draft)

    def assign(
        self,
        case_id: str,
        officer: str,
        *,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        expected_seq: int | None = None,
    ) -> CommandResult:
        """Give an open case to another officer (an `assigned` event naming both)."""
        return assignment.assign(
            self, case_id, officer, on=on, at=at, actor=actor, expected_seq=expected_seq
        )

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
        amend: bool = False,
        reason: str | None = None,
    ) -> CommandResult:
        """Record that a check was made, when, and what it found. Recording it again is an
        amendment (`amend`, with a `reason`) that keeps the earlier outcome.
        """
        return check_commands.record_check(
            self,
            case_id,
            check_id,
            on=on,
            at=at,
            actor=actor,
            outcome=outcome,
            expected_seq=expected_seq,
            amend=amend,
            reason=reason,
        )

    def waive_check(
        self,
        case_id: str,
        check_id: str,
        *,
        reason: str,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        expected_seq: int | None = None,
    ) -> CommandResult:
        """Waive a check, with the reason, as a role in its `waived_by`: it then counts as done
        for the steps that require it and is no longer outstanding.
        """
        return check_commands.waive_check(
            self,
            case_id,
            check_id,
            reason=reason,
            on=on,
            at=at,
            actor=actor,
            expected_seq=expected_seq,
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
        """Record a fact about the case, typed as the process declares it (a text fact as free
        text: capped, no control characters or bidirectional overrides).
        """
        with begin_command(
            self, Command.fact, case_id, actor=actor, on=on, at=at, expected_seq=expected_seq
        ) as (uow, sit):
            draft = decide.set_fact(sit, name, value)  # typed first: its refusals come first
            if isinstance(value, str) and value.strip():
                free_text.check_free_text(value, what=f"value of {name}")
            return write(uow, sit, draft)

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

        def blank() -> object:
            decide.require_text(text, "a note needs some text")
            return free_text.check_free_text(text, what="note")

        with begin_command(
            self,
            Command.note,
            case_id,
            actor=actor,
            on=on,
            at=at,
            expected_seq=expected_seq,
            before=blank,
        ) as (uow, sit):
            return write(uow, sit, decide.add_note(sit, text))

    # -- the engine's own commands ---------------------------------------------------------

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
        with begin_command(self, Command.letter, case_id, actor=actor, on=on, at=at) as (uow, sit):
            return write(
                uow,
                sit,
                decide.file_letter(
                    sit,
                    template=template,
                    template_version=template_version,
                    document_id=document_id,
                    outbox_id=outbox_id,
                ),
            )

    def record_letter_check(
        self,
        case_id: str,
        check_id: str,
        *,
        template: str,
        document_id: int,
        on: dt.date,
        at: dt.datetime,
        actor: Actor,
        expected_seq: int | None = None,
    ) -> CommandResult | None:
        """Record the check a sent letter records, with the letter as its evidence, by the
        actor who sent it (see `engine.cases.letter_checks`); None if it was already recorded.
        """
        from engine.cases.letter_checks import record_letter_check

        with begin_command(
            self, Command.check, case_id, actor=actor, on=on, at=at, expected_seq=expected_seq
        ) as (uow, sit):
            draft = record_letter_check(sit, check_id, template=template, document_id=document_id)
            return None if draft is None else write(uow, sit, draft)

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
        with begin_command(self, Command.admin, case_id, actor=actor, on=on, at=at) as (uow, sit):
            if check is not None:
                check(sit.case)
            return write(uow, sit, decide.records_event(sit, Command.admin, kind, data, rule))

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

        `data` is the event's data (`migration.migration_data`); timers in `settled` already
        fired or lapsed in this stay in the state and are not armed again.
        """
        with begin_command(
            self,
            Command.migrate,
            case_id,
            actor=actor,
            on=on,
            at=at,
            expected_seq=expected_seq,
            to=to,
        ) as (uow, sit):
            draft = decide.records_event(sit, Command.migrate, EventKind.migration, data, rule)
            uow.publish(to, at)
            result = write(uow, sit, draft)
            if settled:
                uow.cancel_armed(case_id, result.case.seq, settled)
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
        with begin_command(self, Command.system, case_id, actor=SCHEDULER_ACTOR, on=on, at=at) as (
            uow,
            sit,
        ):
            return write(uow, sit, decide.records_event(sit, Command.system, kind, data, rule))

    def fire_timer_in(
        self,
        conn: Connection,
        timer: Mapping[str, Any],
        *,
        at: dt.datetime,
        cases: dict[str, CaseState] | None = None,
    ) -> str:
        """Fire one claimed pending timer inside the caller's transaction; returns its new status:
        fired, lapsed or cancelled, or `skipped` (nothing written) if it was no longer pending.

        The event takes effect on the timer's due date, not the day the sweep ran (see
        `decide.fire_timer`). `cases` (the sweep's batch) holds cases already read in this
        transaction and is kept current, so a case with several timers due is read once.
        """
        return timer_firing.fire_timer_in(self, conn, timer, at=at, cases=cases)


__all__ = [
    "ONE_ROW_WRITES",
    "SCHEDULER",
    "SCHEDULER_ACTOR",
    "Actor",
    "CaseService",
    "CommandResult",
    "event_to_row",
]
