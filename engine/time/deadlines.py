"""Due dates of a state's timers: when each falls and, in words, how it was computed.

Owns the arithmetic from a `TimerDefinition` to a date on a case's school calendar (stop-the-clock
pauses included). Does not own storing or firing timers (`engine/scheduling/`, `engine/cases/`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from engine.errors import CalendarError
from engine.language.definition import ClockUnit, ProcessDefinition, TimerDefinition
from engine.language.outline import ESCALATE_CHECK
from engine.language.windows import CheckEscalation
from engine.time.calendar import SchoolCalendar
from engine.time.words import day_words


class CaseClock(Protocol):
    """What planning a case's timers reads of it (`engine.cases.projection.CaseState` has it):
    a protocol, so the time layer does not import the case layer above it.
    """

    # Read-only properties, as `CaseState` is a frozen dataclass.
    @property
    def id(self) -> str:
        """The case number."""

    @property
    def seq(self) -> int:
        """The case's last event number."""

    @property
    def state(self) -> str:
        """The stage the case is in."""

    @property
    def opened_on(self) -> dt.date:
        """Day 1 of the case clock."""

    @property
    def state_entered_on(self) -> dt.date:
        """When the case entered its stage."""

    def paused_ranges(self) -> list[tuple[dt.date, dt.date]]:
        """Days the case clock stood still, as inclusive ranges."""
        ...


@dataclass(frozen=True)
class PlannedTimer:
    """A timer armed on entering a state: its key, due date and the reason for that date."""

    key: str
    timer_id: str
    state: str
    action: str
    trigger: str | None
    escalate_role: str | None
    due_date: dt.date
    explanation: str
    calendar: str
    calendar_version: int


def due_date(
    timer: TimerDefinition,
    *,
    unit: ClockUnit,
    start: dt.date,
    calendar: SchoolCalendar,
    skip: list[tuple[dt.date, dt.date]],
) -> tuple[dt.date, str]:
    """When `timer` falls counting from `start`, and the explanation of that date."""
    if timer.weeks is not None:
        due = start + dt.timedelta(weeks=timer.weeks)
        return due, (
            f"{timer.weeks} weeks from {day_words(start)} = {day_words(due)} (calendar weeks)"
        )
    assert timer.day is not None
    timer_unit = timer.unit or unit
    if timer_unit == ClockUnit.calendar_days:
        due = start + dt.timedelta(days=timer.day - 1)
        return due, (
            f"Day {timer.day} = {day_words(due)}: calendar day {timer.day} from {day_words(start)}"
        )
    due = calendar.school_day_n(start, timer.day, skip=skip)
    return due, calendar.explain(start, timer.day, skip=skip)


def refuse_unplaceable(
    definition: ProcessDefinition,
    state: str,
    *,
    start: dt.date,
    calendar: SchoolCalendar,
    opened_on: dt.date | None = None,
    skip: list[tuple[dt.date, dt.date]] | None = None,
) -> None:
    """Raise CalendarError, before anything is written, if a timer of `state` falls where
    `calendar` has no school year; the error names the step, the year and `cme calendar new`.

    `start` is the day the case enters `state`; timers counted from the case count from
    `opened_on` (default `start`, as on opening) leaving out the paused days in `skip`.
    """
    stops_clock = definition.states[state].stops_clock
    for timer in definition.states[state].timers:
        if timer.counted_from == "case" and stops_clock:
            continue  # never armed: the case clock stands still here (see plan_state_timers)
        if timer.counted_from == "case":
            begin, paused = opened_on or start, skip or []
        else:
            begin, paused = start, []
        try:
            due_date(timer, unit=definition.clock.unit, start=begin, calendar=calendar, skip=paused)
        except CalendarError as exc:
            raise CalendarError(
                f"{definition.id}: step {timer.id!r} (in {state}) cannot be placed: {exc}"
            ) from None


def refuse_unplaceable_case(
    definition: ProcessDefinition, *, opened_on: dt.date, calendar: SchoolCalendar
) -> None:
    """Raise CalendarError if a case of `definition` opened on `opened_on` has a deadline
    `calendar` cannot place: its first stage's timers, or the furthest Day N counted from the
    opening in any stage (those dates are fixed at opening, whichever way the case goes).
    """
    refuse_unplaceable(definition, definition.initial, start=opened_on, calendar=calendar)
    furthest: tuple[int, str, str] | None = None
    for name, state in definition.states.items():
        if state.stops_clock:
            continue
        for timer in state.timers:
            unit = timer.unit or definition.clock.unit
            if (
                timer.counted_from == "case"
                and timer.day is not None
                and unit == ClockUnit.school_days
                and (furthest is None or timer.day > furthest[0])
            ):
                furthest = (timer.day, timer.id, name)
    if furthest is None:
        return
    day, timer_id, state_name = furthest
    try:
        calendar.school_day_n(opened_on, day)
    except CalendarError as exc:
        raise CalendarError(
            f"{definition.id}: step {timer_id!r} (in {state_name}, Day {day} of the case) "
            f"cannot be placed: {exc}"
        ) from None


def timer_action(timer: TimerDefinition) -> str:
    """What a timer does, as its row stores it: fire, escalate, or escalate_check."""
    if timer.fire:
        return "fire"
    return ESCALATE_CHECK if isinstance(timer, CheckEscalation) else "escalate"


def plan_state_timers(
    definition: ProcessDefinition,
    case: CaseClock,
    *,
    calendar: SchoolCalendar,
) -> list[PlannedTimer]:
    """The timers `case` arms now that it is in `case.state` (entered on `state_entered_on`)."""
    state = definition.states[case.state]
    planned = []
    for timer in state.timers:
        if timer.counted_from == "case" and state.stops_clock:
            # The case clock stands still here, so a case-day deadline never arrives;
            # lint reports such timers to the policy owner.
            continue
        if timer.counted_from == "case":
            start, skip = case.opened_on, case.paused_ranges()
        else:
            start, skip = case.state_entered_on, []
        due, why = due_date(
            timer, unit=definition.clock.unit, start=start, calendar=calendar, skip=skip
        )
        if due < case.state_entered_on:
            # A step whose day passed before the case reached this stage is due at once:
            # never before the event that armed it, or history would run backwards.
            why = f"{why}; already past when the case entered {case.state}, so due that day"
            due = case.state_entered_on
        planned.append(
            PlannedTimer(
                key=f"{case.id}:{case.seq}:{timer.id}",
                timer_id=timer.id,
                state=case.state,
                action=timer_action(timer),
                trigger=timer.fire,
                escalate_role=timer.escalate.to_role if timer.escalate else None,
                due_date=due,
                explanation=why,
                calendar=calendar.name,
                calendar_version=calendar.version,
            )
        )
    return planned
