"""Stop-the-clock pauses entered a second time, nested, and while one is already open, on the
shipped london-2024-25 calendar, with the case-day count after each step.

A lost second pause makes a statutory deadline fall early; a pause left open stops the case's
clock for good. Dates: opened Monday 21 Oct 2024 (Day 1); half term 28 Oct – 1 Nov; with no
pause Day 10 is Friday 8 Nov. The day a case enters a stop-the-clock state and the day it leaves
both count; the school days strictly between do not.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.projection import (
    GENESIS_HASH,
    CaseEvent,
    CaseState,
    EventKind,
    apply,
    as_date,
    replay,
)
from engine.cases.service import Actor, CaseService
from engine.cases.views import case_summary
from engine.language.loader import load_process_text
from engine.language.registry import ProcessRegistry
from engine.store.tables import timer_table
from engine.time.calendars import load_calendar
from tests.conftest import RECORDED_AT
from tests.engine.scheduling.test_timers import form

D = dt.date
CAL = load_calendar("london-2024-25")
OPENED = D(2024, 10, 21)
OFFICER = Actor("sona", "cme_officer")


def case_day(case: CaseState, on: dt.date) -> int:
    """Day N of `case` on `on`, pauses skipped (as `cme case show` counts it)."""
    return CAL.day_number(case.opened_on, on, skip=case.paused_ranges())


class History:
    """Events of one case built by hand, applied one at a time."""

    def __init__(self, *, state: str = "tracing", stops_clock: bool = False) -> None:
        self.events = [
            self._event(
                EventKind.opened,
                OPENED,
                {
                    "state": state,
                    "calendar": CAL.name,
                    "stops_clock": stops_clock,
                    "assigned_officer": "sona",
                },
            )
        ]
        self.case = apply(None, self.events[0])

    def _event(self, kind: EventKind, on: dt.date, data: dict[str, Any]) -> CaseEvent:
        events: list[CaseEvent] = getattr(self, "events", [])
        return CaseEvent(
            case_id="CME-000001",
            seq=len(events) + 1,
            effective_date=on,
            recorded_at=RECORDED_AT,
            actor="sona",
            role="cme_officer",
            kind=kind,
            payload={"data": data},
            process_id="paused_tracing",
            process_version=1,
            rule=None,
            prev_hash=events[-1].hash if events else GENESIS_HASH,
        ).sealed()

    def _add(self, kind: EventKind, on: dt.date, data: dict[str, Any]) -> CaseState:
        ev = self._event(kind, on, data)
        self.events.append(ev)
        self.case = apply(self.case, ev)
        return self.case

    def move(
        self,
        to_state: str,
        on: dt.date,
        *,
        stops_clock: bool = False,
        stays: bool = False,
        terminal: bool = False,
    ) -> CaseState:
        data: dict[str, Any] = {
            "trigger": f"to_{to_state}",
            "from_state": self.case.state,
            "to_state": to_state,
            "terminal": terminal,
            "stops_clock": stops_clock,
        }
        if stays:
            data["stays"] = True
        return self._add(EventKind.trigger, on, data)


# --- the projection -----------------------------------------------------------------------------


def test_a_second_pause_is_recorded_and_both_are_skipped() -> None:
    h = History()
    h.move("waiting", D(2024, 10, 22), stops_clock=True)
    assert h.case.pauses == [["2024-10-22", None]]
    case = h.move("tracing", D(2024, 10, 24))
    assert case.pauses == [["2024-10-22", "2024-10-24"]]
    assert case_day(case, D(2024, 10, 24)) == 3  # 21, 22, 24 Oct: 23 Oct did not count
    case = h.move("waiting", D(2024, 11, 5), stops_clock=True)
    assert case.pauses == [["2024-10-22", "2024-10-24"], ["2024-11-05", None]]
    assert case_day(case, D(2024, 11, 5)) == 6
    assert case_day(case, D(2024, 12, 20)) == 6  # the open pause holds the count
    case = h.move("tracing", D(2024, 11, 7))
    assert case.pauses == [["2024-10-22", "2024-10-24"], ["2024-11-05", "2024-11-07"]]
    assert case.paused_ranges() == [
        (D(2024, 10, 23), D(2024, 10, 23)),
        (D(2024, 11, 6), D(2024, 11, 6)),
    ]
    assert case_day(case, D(2024, 11, 7)) == 7
    # Day 10 is 12 Nov: a lost second pause would make it 11 Nov, one left open never.
    assert CAL.school_day_n(OPENED, 10, skip=case.paused_ranges()) == D(2024, 11, 12)
    assert case_day(case, D(2024, 11, 12)) == 10
    assert replay(h.events) == case


def test_entering_a_second_stop_state_while_paused_keeps_one_pause() -> None:
    h = History()
    h.move("waiting", D(2024, 10, 22), stops_clock=True)
    case = h.move("waiting_more", D(2024, 11, 4), stops_clock=True)  # nested: still paused
    assert case.pauses == [["2024-10-22", None]]
    assert case_day(case, D(2024, 11, 5)) == 2
    case = h.move("tracing", D(2024, 11, 6))
    assert case.pauses == [["2024-10-22", "2024-11-06"]]
    # 23, 24, 25 Oct and 4, 5 Nov skipped (closing at 4 Nov and reopening would skip only 4).
    assert case_day(case, D(2024, 11, 6)) == 3
    assert CAL.school_day_n(OPENED, 10, skip=case.paused_ranges()) == D(2024, 11, 15)


def test_re_entering_the_same_stop_state_does_not_open_a_second_pause() -> None:
    h = History()
    h.move("waiting", D(2024, 10, 22), stops_clock=True)
    h.move("waiting", D(2024, 10, 24), stops_clock=True)
    case = h.move("waiting", D(2024, 11, 4), stops_clock=True, stays=True)  # an interrupt
    assert case.pauses == [["2024-10-22", None]]
    assert case.state_entered_on == D(2024, 10, 24)
    case = h.move("tracing", D(2024, 11, 5))
    assert case.pauses == [["2024-10-22", "2024-11-05"]]
    assert case_day(case, D(2024, 11, 8)) == 6  # 21, 22 Oct, 5, 6, 7, 8 Nov


def test_a_case_opened_with_its_clock_stopped_nests_and_then_restarts() -> None:
    h = History(state="waiting", stops_clock=True)
    assert h.case.pauses == [["2024-10-21", None]]
    assert case_day(h.case, D(2024, 10, 25)) == 1  # the opening day counts, then the clock stops
    case = h.move("waiting_more", D(2024, 10, 23), stops_clock=True)
    assert case.pauses == [["2024-10-21", None]]
    case = h.move("tracing", D(2024, 10, 25))
    assert case.pauses == [["2024-10-21", "2024-10-25"]]
    assert case_day(case, D(2024, 11, 4)) == 3  # 21, 25 Oct, 4 Nov
    case = h.move("waiting", D(2024, 11, 6), stops_clock=True)
    assert case.pauses[-1] == ["2024-11-06", None]
    assert len(case.pauses) == 2
    # Nested inside the second pause: still two pauses, the second still open.
    case = h.move("waiting_more", D(2024, 11, 8), stops_clock=True)
    assert case.pauses == [["2024-10-21", "2024-10-25"], ["2024-11-06", None]]
    case = h.move("tracing", D(2024, 11, 12))
    assert case.pauses[-1] == ["2024-11-06", "2024-11-12"]
    assert case_day(case, D(2024, 11, 12)) == 6  # 21, 25 Oct; 4, 5, 6 Nov; 12 Nov


def test_a_pause_entered_and_left_on_one_day_skips_nothing() -> None:
    h = History()
    h.move("waiting", D(2024, 10, 22), stops_clock=True)
    case = h.move("tracing", D(2024, 10, 22))
    assert case.pauses == [["2024-10-22", "2024-10-22"]]
    assert case.paused_ranges() == []
    h.move("waiting", D(2024, 10, 23), stops_clock=True)
    case = h.move("tracing", D(2024, 10, 24))  # next day: no school day strictly between
    assert case.paused_ranges() == []
    assert case_day(case, D(2024, 10, 25)) == 5


def test_a_terminal_stage_reached_while_paused_closes_the_pause() -> None:
    h = History()
    h.move("waiting", D(2024, 10, 22), stops_clock=True)
    h.move("tracing", D(2024, 10, 24))
    h.move("waiting", D(2024, 11, 5), stops_clock=True)
    case = h.move("closed", D(2024, 11, 8), terminal=True)
    assert case.pauses == [["2024-10-22", "2024-10-24"], ["2024-11-05", "2024-11-08"]]
    assert all(end is not None for _, end in case.pauses)
    assert (case.terminal, case.closed_on) == (True, D(2024, 11, 8))
    assert CaseState.from_row(case.as_row()) == case  # pauses and closing day as stored


# --- through the commands: the Day 10 deadline after two pauses and after nested ones ----------

PAUSING = """
kind: process
id: paused_tracing
title: Tracing that waits, clock stopped, for another LA or a panel
version: 1
effective_from: 2024-09-01
source: {document: Test policy, section: section 6}
clock: {day_one: the day the notification is received}
initial: tracing
roles:
  cme_officer: {title: CME Officer}
states:
  tracing:
    title: Tracing
    description: Tracing the child
    timers:
      - id: day_10_review
        description: Day 10 review of the case
        day: 10
        escalate: {to_role: cme_officer, message: Day 10 review is due}
        ref: section 6
    ref: section 6
  waiting:
    title: Waiting for another LA
    description: The clock stands still until the other LA replies
    stops_clock: true
    ref: section 6
  waiting_more:
    title: Waiting for a panel as well
    description: Still stopped, now for a panel too
    stops_clock: true
    ref: section 6
  closed:
    title: Closed
    description: Case closed
    terminal: true
    ref: section 6
triggers:
  - {id: wait_for_la, title: Ask another LA, source: [tracing], dest: waiting,
     roles: [cme_officer], ref: section 6}
  - {id: wait_for_panel, title: Ask a panel too, source: [waiting], dest: waiting_more,
     roles: [cme_officer], ref: section 6}
  - {id: la_replied, title: The other LA replied, source: [waiting, waiting_more],
     dest: tracing, roles: [cme_officer], ref: section 6}
  - {id: close, title: Close, source: [tracing, waiting, waiting_more], dest: closed,
     roles: [cme_officer], ref: section 6}
"""


@pytest.fixture
def pausing(store) -> CaseService:
    registry = ProcessRegistry([load_process_text(PAUSING, "paused_tracing.yaml")])
    return CaseService(store, registry)


def _day_10(svc: CaseService, case_id: str, on: dt.date) -> tuple[dt.date, int, list[Any]]:
    """The pending Day 10 timer's due date, the case day shown on `on`, and the pauses shown."""
    with svc.store.read() as conn:
        (due,) = (
            conn.execute(
                select(timer_table.c.due_date).where(
                    timer_table.c.case_id == case_id, timer_table.c.status == "pending"
                )
            )
            .scalars()
            .all()
        )
    summary = case_summary(svc, case_id, on=on)
    return as_date(due), summary["day"], summary["clock_paused"]


def _fire(svc: CaseService, case_id: str, trigger: str, on: dt.date) -> None:
    svc.fire(case_id, trigger, on=on, at=RECORDED_AT, actor=OFFICER)


def test_two_pauses_through_the_commands(pausing: CaseService) -> None:
    (case_id,) = pausing.open_case(
        form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER, process="paused_tracing"
    )
    _fire(pausing, case_id, "wait_for_la", D(2024, 10, 22))
    _fire(pausing, case_id, "la_replied", D(2024, 10, 24))
    assert _day_10(pausing, case_id, D(2024, 10, 24)) == (
        D(2024, 11, 11),
        3,
        [["2024-10-22", "2024-10-24"]],
    )
    _fire(pausing, case_id, "wait_for_la", D(2024, 11, 5))
    _fire(pausing, case_id, "la_replied", D(2024, 11, 7))
    assert _day_10(pausing, case_id, D(2024, 11, 7)) == (
        D(2024, 11, 12),
        7,
        [["2024-10-22", "2024-10-24"], ["2024-11-05", "2024-11-07"]],
    )
    assert replay(pausing.events(case_id)) == pausing.get(case_id)


def test_nested_pauses_through_the_commands(pausing: CaseService) -> None:
    (case_id,) = pausing.open_case(
        form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER, process="paused_tracing"
    )
    _fire(pausing, case_id, "wait_for_la", D(2024, 10, 22))
    _fire(pausing, case_id, "wait_for_panel", D(2024, 11, 4))
    summary = case_summary(pausing, case_id, on=D(2024, 11, 5))
    assert (summary["day"], summary["clock_paused"]) == (2, [["2024-10-22", None]])
    _fire(pausing, case_id, "la_replied", D(2024, 11, 6))
    assert _day_10(pausing, case_id, D(2024, 11, 6)) == (
        D(2024, 11, 15),
        3,
        [["2024-10-22", "2024-11-06"]],
    )
