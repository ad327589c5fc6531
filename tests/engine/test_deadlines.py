"""Due dates from the definition and the school calendar: Day 5, 16 and 26 across a half term,
explanations in words, stop-the-clock pauses, and cancelled timers kept as records."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from engine.calendar import load_calendar
from engine.deadlines import plan_state_timers
from engine.loader import load_process_text
from engine.registry import ProcessRegistry
from engine.service import Actor, CaseService
from engine.store import timer_table
from engine.timers import sweep
from engine.views import case_summary
from tests.conftest import RECORDED_AT
from tests.engine.test_timers import D, form

OFFICER = Actor("sona", "cme_officer")
CAL = load_calendar("london-2024-25")


def _timers(service: CaseService, case_id: str) -> list[dict]:
    with service.store.read() as conn:
        rows = conn.execute(
            select(timer_table).where(timer_table.c.case_id == case_id)
            .order_by(timer_table.c.due_date, timer_table.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def test_day_5_16_and_26_fall_on_school_days_across_the_half_term(service) -> None:
    (case_id,) = service.open_case(form(D(2024, 10, 21)), on=D(2024, 10, 21), at=RECORDED_AT,
                                   actor=OFFICER)
    due = {t["timer_id"]: t["due_date"] for t in _timers(service, case_id)}
    assert due["reasonable_checks_start"] == D(2024, 10, 25)  # Day 5, the Friday before half term
    sweep(service, until=D(2024, 10, 25), at=RECORDED_AT)
    due = {t["timer_id"]: t for t in _timers(service, case_id) if t["status"] == "pending"}
    # Day 15 and 16 skip the half term (28 Oct – 1 Nov): 15 and 18 Nov.
    assert due["first_letter_outstanding"]["due_date"] == D(2024, 11, 15)
    assert due["further_checks_start"]["due_date"] == D(2024, 11, 18)
    sweep(service, until=D(2024, 11, 18), at=RECORDED_AT)
    due = {t["timer_id"]: t for t in _timers(service, case_id) if t["status"] == "pending"}
    closure = due["closure_decision_due"]
    assert closure["due_date"] == D(2024, 12, 2)
    assert closure["explanation"] == (
        "Day 26 = 2 Dec 2024: 26th school day from 21 Oct 2024, skipping half term "
        "28 Oct – 1 Nov, calendar london-2024-25 version 1"
    )
    assert (closure["calendar"], closure["calendar_version"]) == ("london-2024-25", 1)


def test_a_step_already_past_when_the_stage_is_entered_is_due_that_day(registry) -> None:
    from engine.projection import CaseState

    definition = registry.get("untraceable_cme").definition
    case = CaseState(
        id="CME-1", process_id="untraceable_cme", process_version=1, state="further_checks",
        terminal=False, calendar="london-2024-25", opened_on=D(2024, 10, 21),
        state_entered_on=D(2024, 12, 4), last_effective=D(2024, 12, 4), closed_on=None, seq=9,
        head_hash="0" * 64,
    )
    planned = {p.timer_id: p for p in plan_state_timers(definition, case, calendar=CAL)}
    day_26 = planned["closure_decision_due"]
    assert day_26.due_date == D(2024, 12, 4)  # Day 26 (2 Dec) had passed: due on entry, not before
    assert day_26.explanation.endswith("already past when the case entered further_checks, "
                                       "so due that day")
    assert day_26.key == "CME-1:9:closure_decision_due"


def test_case_days_do_not_count_while_the_clock_is_stopped(registry) -> None:
    from engine.projection import CaseState

    definition = registry.get("untraceable_cme").definition
    case = CaseState(
        id="CME-1", process_id="untraceable_cme", process_version=1, state="reasonable_checks",
        terminal=False, calendar="london-2024-25", opened_on=D(2024, 10, 21),
        state_entered_on=D(2024, 11, 6), last_effective=D(2024, 11, 6), closed_on=None, seq=5,
        head_hash="0" * 64, pauses=[["2024-10-23", "2024-11-06"]],
    )
    planned = {p.timer_id: p for p in plan_state_timers(definition, case, calendar=CAL)}
    # 24, 25 Oct and 4, 5 Nov are paused: Day 16 moves four school days, from 18 to 22 Nov.
    assert planned["further_checks_start"].due_date == D(2024, 11, 22)
    assert "pause 24 Oct – 5 Nov (4 school days not counted)" in \
        planned["further_checks_start"].explanation


PAUSING = """
kind: process
id: paused_tracing
title: Tracing that waits, clock stopped, for another LA
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
  closed:
    title: Closed
    description: Case closed
    terminal: true
    ref: section 6
triggers:
  - {id: wait_for_la, title: Ask another LA, source: [tracing], dest: waiting,
     roles: [cme_officer], ref: section 6}
  - {id: la_replied, title: The other LA replied, source: [waiting], dest: tracing,
     roles: [cme_officer], ref: section 6}
  - {id: close, title: Close, source: [tracing, waiting], dest: closed, roles: [cme_officer],
     ref: section 6}
"""


@pytest.fixture
def pausing_service(store) -> CaseService:  # type: ignore[no-untyped-def]
    registry = ProcessRegistry([load_process_text(PAUSING, "paused_tracing.yaml")])
    return CaseService(store, registry)


def test_a_stop_the_clock_state_pauses_day_counts_and_the_pause_shows(pausing_service) -> None:
    svc = pausing_service
    (case_id,) = svc.open_case(form(D(2024, 10, 21)), on=D(2024, 10, 21), at=RECORDED_AT,
                               actor=OFFICER, process="paused_tracing")
    (review,) = _timers(svc, case_id)
    assert review["due_date"] == D(2024, 11, 8)  # Day 10 with no pause
    svc.fire(case_id, "wait_for_la", on=D(2024, 10, 23), at=RECORDED_AT, actor=OFFICER)
    sweep(svc, until=D(2024, 11, 8), at=RECORDED_AT)  # nothing fires while the clock is stopped
    svc.fire(case_id, "la_replied", on=D(2024, 11, 6), at=RECORDED_AT, actor=OFFICER)
    first, second = _timers(svc, case_id)
    assert (first["status"], first["closed_seq"]) == ("cancelled", 2)  # kept, not deleted
    # 24, 25 Oct and 4, 5 Nov did not count: Day 10 is now 14 Nov.
    assert (second["status"], second["due_date"]) == ("pending", D(2024, 11, 14))
    assert "pause 24 Oct – 5 Nov (4 school days not counted)" in second["explanation"]
    summary = case_summary(svc, case_id, on=D(2024, 11, 14))
    assert summary["clock_paused"] == [["2024-10-23", "2024-11-06"]]
    assert summary["day"] == 10
    result = sweep(svc, until=D(2024, 11, 14), at=RECORDED_AT, keep_firings=True)
    assert [(f.timer_id, f.due_date, f.outcome) for f in result.firings] == [
        ("day_10_review", D(2024, 11, 14), "escalated")
    ]
