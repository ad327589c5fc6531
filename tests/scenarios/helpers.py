"""Scenario helpers: the people who act, one-child notification forms, the timer sweep, and a
case walk that checks after every command that the case replays from its events and that its
hash chain verifies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest
from sqlalchemy import and_, func, select

from engine.cases.notification import NotificationForm, parse_form
from engine.cases.projection import GENESIS_HASH, CaseState, EventKind, replay
from engine.cases.service import Actor, CaseService, CommandResult
from engine.errors import CMEError
from engine.store.tables import event_table, outbox_table, timer_table
from engine.time.calendar import SchoolCalendar
from engine.time.calendars import load_calendar, load_calendar_file
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
LINE_MANAGER = Actor("dylan", "line_manager")
SCHOOL = Actor("attendance-lead", "school")
PAS = Actor("ed", "pupil_attendance_service")

TEST_CALENDAR = "made-up-2023-24"
"""MADE UP for tests: a 2023-24 school year (so removal cases can open under the 2006
regulations, before 19 August 2024) followed by the shipped 2024-25 dates."""
_TEST_CALENDAR_FILE = Path(__file__).parents[1] / "fixtures" / "calendars" / f"{TEST_CALENDAR}.yaml"
_loaded: dict[str, SchoolCalendar] = {}

PRIMARY_DOB = dt.date(2015, 3, 14)
"""Nine on 31 August 2024: Year 5 in 2024-25, primary aged."""
SECONDARY_DOB = dt.date(2011, 5, 20)
"""Thirteen on 31 August 2024: Year 9 in 2024-25, secondary aged."""


def calendars(name: str) -> SchoolCalendar:
    """The service's calendar source: the test calendar by name, else a shipped calendar."""
    if name != TEST_CALENDAR:
        return load_calendar(name)
    if name not in _loaded:
        _loaded[name] = load_calendar_file(_TEST_CALENDAR_FILE)
    return _loaded[name]


def notification(
    on: dt.date,
    *,
    dob: dt.date = PRIMARY_DOB,
    ground: str | None = None,
    school: str | None = "Kentish Town Primary School",
    ehc_plan: bool = False,
) -> NotificationForm:
    """A CME notification (Appendix 6) for one child, dated `on`; names are invented."""
    child: dict[str, Any] = {
        "full_name": "Ana Silva",
        "date_of_birth": dob.isoformat(),
        "school": school,
        "ehc_plan": ehc_plan,
    }
    if ground is not None:
        child["ground"] = ground
    return parse_form(
        {
            "date": on.isoformat(),
            "notifier": {"name": "Jo Adeyemi", "school_or_service": "Kentish Town Primary School"},
            "parent_carer": {"names": "Maria Silva", "contact_numbers": ["07700 900123"]},
            "children": [child],
        }
    )


def sweep(service: CaseService, *, until: dt.date, at: dt.datetime = RECORDED_AT) -> None:
    """Fire every pending timer due on or before `until`, earliest first, with its due date as
    the effective date: the scheduler's own sweep (engine.scheduling.sweep)."""
    from engine.scheduling.sweep import sweep as engine_sweep

    engine_sweep(service, until=until, at=at)


def assert_replays(service: CaseService, case_id: str) -> CaseState:
    """Replay rebuilds the stored case row exactly, and every event's hash seals it and links to
    the previous one; returns the stored case."""
    events = service.events(case_id)
    stored = service.get(case_id)
    assert replay(events).as_row() == stored.as_row()
    previous = GENESIS_HASH
    for seq, ev in enumerate(events, start=1):
        assert ev.seq == seq
        assert ev.prev_hash == previous, f"event {seq} does not link to event {seq - 1}"
        assert ev.compute_hash() == ev.hash, f"event {seq}'s hash does not match its content"
        previous = ev.hash
    assert stored.head_hash == previous
    return stored


class Walk:
    """One case walked through its process: every command sweeps the timers due up to its date
    first (the scheduler runs each school-day morning), then checks replay and the hash chain."""

    recorded_at: ClassVar[dt.datetime] = RECORDED_AT
    """When every command is recorded (no command may take effect after it)."""

    def __init__(self, service: CaseService, case_id: str) -> None:
        self.service = service
        self.case_id = case_id
        assert_replays(service, case_id)

    @classmethod
    def open(
        cls,
        service: CaseService,
        form: NotificationForm,
        *,
        on: dt.date,
        actor: Actor = OFFICER,
        process: str = "untraceable_cme",
        calendar: str | None = None,
    ) -> Self:
        """Open the case of the form's one child on `on` (Day 1)."""
        sweep(service, until=on, at=cls.recorded_at)
        (case_id,) = service.open_case(
            form, on=on, at=cls.recorded_at, actor=actor, process=process, calendar=calendar
        )
        return cls(service, case_id)

    # -- reading ---------------------------------------------------------------------------

    @property
    def case(self) -> CaseState:
        """The case as stored now."""
        return self.service.get(self.case_id)

    @property
    def state(self) -> str:
        """The case's current state."""
        return self.case.state

    def events(self, *kinds: EventKind) -> list[Any]:
        """The case's events, only of `kinds` if given."""
        return [e for e in self.service.events(self.case_id) if not kinds or e.kind in kinds]

    def timers(self, status: str = "pending") -> list[tuple[str, dt.date]]:
        """(timer id, due date) of the case's timers with `status`, by due date."""
        with self.service.store.engine.connect() as conn:
            rows = conn.execute(
                select(timer_table.c.timer_id, timer_table.c.due_date)
                .where(and_(timer_table.c.case_id == self.case_id, timer_table.c.status == status))
                .order_by(timer_table.c.due_date, timer_table.c.id)
            ).all()
        return [(r[0], _date(r[1])) for r in rows]

    def outbox(self) -> list[tuple[str, str, str | None, dt.date]]:
        """(kind, recipient, template, created on) of everything queued for adapters."""
        with self.service.store.engine.connect() as conn:
            rows = conn.execute(
                select(
                    outbox_table.c.kind,
                    outbox_table.c.recipient,
                    outbox_table.c.template,
                    outbox_table.c.created_on,
                )
                .where(outbox_table.c.case_id == self.case_id)
                .order_by(outbox_table.c.event_seq, outbox_table.c.position)
            ).all()
        return [(r[0], r[1], r[2], _date(r[3])) for r in rows]

    def day(self, on: dt.date) -> int:
        """Day N of the case on `on`, on the case's calendar (pauses skipped)."""
        case = self.case
        cal = self.service.calendar_for(case)
        return cal.day_number(case.opened_on, on, skip=case.paused_ranges())

    # -- commands --------------------------------------------------------------------------

    def sweep(self, until: dt.date) -> None:
        """Fire the timers due up to `until`, then check the case still replays."""
        sweep(self.service, until=until, at=self.recorded_at)
        assert_replays(self.service, self.case_id)

    def fire(self, trigger: str, *, on: dt.date, actor: Actor = OFFICER) -> CommandResult:
        """Take a step on `on`."""
        self.sweep(on)
        result = self.service.fire(self.case_id, trigger, on=on, at=self.recorded_at, actor=actor)
        assert_replays(self.service, self.case_id)
        return result

    def check(
        self, *check_ids: str, on: dt.date, actor: Actor = OFFICER, outcome: str = "done"
    ) -> None:
        """Record each check on `on`."""
        self.sweep(on)
        for check_id in check_ids:
            self.service.record_check(
                self.case_id, check_id, on=on, at=self.recorded_at, actor=actor, outcome=outcome
            )
            assert_replays(self.service, self.case_id)

    def facts(self, values: dict[str, Any], *, on: dt.date, actor: Actor = OFFICER) -> None:
        """Record each fact on `on`."""
        self.sweep(on)
        for name, value in values.items():
            self.service.set_fact(
                self.case_id, name, value, on=on, at=self.recorded_at, actor=actor
            )
            assert_replays(self.service, self.case_id)

    def refused(self, error: type[CMEError], command: str, *args: Any, **kwargs: Any) -> Any:
        """Run a command that must be refused with `error`; nothing may be written. Returns the
        exception."""
        self.sweep(kwargs["on"])
        before = self._footprint()
        with pytest.raises(error) as info:
            getattr(self, command)(*args, **kwargs)
        assert self._footprint() == before, "a refused command wrote something"
        assert_replays(self.service, self.case_id)
        return info.value

    def _footprint(self) -> tuple[Any, ...]:
        with self.service.store.engine.connect() as conn:
            counts = tuple(
                conn.execute(
                    select(func.count()).select_from(t).where(t.c.case_id == self.case_id)
                ).scalar_one()
                for t in (event_table, outbox_table, timer_table)
            )
        return (self.case.as_row(), counts, tuple(self.timers()))


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
