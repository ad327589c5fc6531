"""Due dates from the definition and the school calendar: Day 5, 16 and 26 across a half term,
explanations in words, stop-the-clock pauses, and cancelled timers kept as records."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.cases.service import Actor, CaseService
from engine.cases.views import case_summary
from engine.language.loader import load_process_text
from engine.language.registry import ProcessRegistry
from engine.scheduling.sweep import sweep
from engine.store.tables import timer_table
from engine.time.calendars import load_calendar
from engine.time.deadlines import plan_state_timers
from tests.conftest import RECORDED_AT
from tests.engine.scheduling.test_timers import D, form

OFFICER = Actor("sona", "cme_officer")
CAL = load_calendar("london-2024-25")


def _timers(service: CaseService, case_id: str) -> list[dict[str, Any]]:
    with service.store.read() as conn:
        rows = conn.execute(
            select(timer_table)
            .where(timer_table.c.case_id == case_id)
            .order_by(timer_table.c.due_date, timer_table.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def test_day_5_16_and_26_fall_on_school_days_across_the_half_term(service) -> None:
    (case_id,) = service.open_case(
        form(D(2024, 10, 21)), on=D(2024, 10, 21), at=RECORDED_AT, actor=OFFICER
    )
    due = {t["timer_id"]: t["due_date"] for t in _timers(service, case_id)}
    assert due["reasonable_checks_starts"] == D(2024, 10, 25)  # Day 5, the Friday before half term
    sweep(service, until=D(2024, 10, 25), at=RECORDED_AT)
    due = {t["timer_id"]: t for t in _timers(service, case_id) if t["status"] == "pending"}
    # Day 16 skips the half term (28 Oct – 1 Nov): 18 Nov, the morning after the Day 5–15
    # window ends (its escalations) and the day the next stage starts.
    assert due["first_formal_letter_sent_outstanding"]["due_date"] == D(2024, 11, 18)
    assert due["further_checks_starts"]["due_date"] == D(2024, 11, 18)
    sweep(service, until=D(2024, 11, 18), at=RECORDED_AT)
    due = {t["timer_id"]: t for t in _timers(service, case_id) if t["status"] == "pending"}
    closure = due["closure_decision_starts"]
    assert closure["due_date"] == D(2024, 12, 2)
    assert closure["explanation"] == (
        "Day 26 = 2 Dec 2024: 26th school day from 21 Oct 2024, skipping half term "
        "28 Oct – 1 Nov, calendar london version 1"
    )
    assert (closure["calendar"], closure["calendar_version"]) == ("london", 1)


def test_a_step_already_past_when_the_stage_is_entered_is_due_that_day(registry) -> None:
    from engine.cases.projection import CaseState

    definition = registry.get("untraceable_cme").definition
    case = CaseState(
        id="CME-1",
        process_id="untraceable_cme",
        process_version=1,
        state="further_checks",
        terminal=False,
        calendar="london-2024-25",
        opened_on=D(2024, 10, 21),
        state_entered_on=D(2024, 12, 4),
        last_effective=D(2024, 12, 4),
        closed_on=None,
        seq=9,
        head_hash="0" * 64,
    )
    planned = {p.timer_id: p for p in plan_state_timers(definition, case, calendar=CAL)}
    day_26 = planned["closure_decision_starts"]
    assert day_26.due_date == D(2024, 12, 4)  # Day 26 (2 Dec) had passed: due on entry, not before
    assert day_26.explanation.endswith(
        "already past when the case entered further_checks, so due that day"
    )
    assert day_26.key == "CME-1:9:closure_decision_starts"


def test_case_days_do_not_count_while_the_clock_is_stopped(registry) -> None:
    from engine.cases.projection import CaseState

    definition = registry.get("untraceable_cme").definition
    case = CaseState(
        id="CME-1",
        process_id="untraceable_cme",
        process_version=1,
        state="reasonable_checks",
        terminal=False,
        calendar="london-2024-25",
        opened_on=D(2024, 10, 21),
        state_entered_on=D(2024, 11, 6),
        last_effective=D(2024, 11, 6),
        closed_on=None,
        seq=5,
        head_hash="0" * 64,
        pauses=[["2024-10-23", "2024-11-06"]],
    )
    planned = {p.timer_id: p for p in plan_state_timers(definition, case, calendar=CAL)}
    # 24, 25 Oct and 4, 5 Nov are paused: Day 16 moves four school days, from 18 to 22 Nov.
    assert planned["further_checks_starts"].due_date == D(2024, 11, 22)
    assert (
        "pause 24 Oct – 5 Nov (4 school days not counted)"
        in planned["further_checks_starts"].explanation
    )


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
def pausing_service(store) -> CaseService:
    registry = ProcessRegistry([load_process_text(PAUSING, "paused_tracing.yaml")])
    return CaseService(store, registry)


def test_a_stop_the_clock_state_pauses_day_counts_and_the_pause_shows(pausing_service) -> None:
    svc = pausing_service
    (case_id,) = svc.open_case(
        form(D(2024, 10, 21)),
        on=D(2024, 10, 21),
        at=RECORDED_AT,
        actor=OFFICER,
        process="paused_tracing",
    )
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


# --- a calendar edit re-projects pending deadlines -------------------------------------------

SHIPPED = load_calendar("london-2024-25").source_text
MANAGER = Actor("pat", "policy_owner")


def edited(version: int, *, closure: str | None = "2024-11-05", text: str = SHIPPED):
    """The shipped calendar at `version`, with a closure day added (a polling day)."""
    from engine.time.calendar import SchoolCalendar

    text = text.replace("version: 1\n", f"version: {version}\n", 1)
    if closure:
        text = text.replace(
            "    closures: []",
            f"    closures:\n      - date: {closure}\n        note: polling day",
        )
    return SchoolCalendar.from_yaml(text, f"edited-v{version}.yaml")


def _in_reasonable_checks(service: CaseService) -> str:
    # Opened on london-2024-25 (the fallback before `london`), the calendar these reloads edit.
    (case_id,) = service.open_case(
        form(D(2024, 10, 21)),
        on=D(2024, 10, 21),
        at=RECORDED_AT,
        actor=OFFICER,
        calendar="london-2024-25",
    )
    sweep(service, until=D(2024, 10, 25), at=RECORDED_AT)  # Day 5: reasonable checks start
    return case_id


def test_a_dry_run_lists_the_moves_and_writes_nothing(service) -> None:
    from engine.scheduling.calendar_reload import plan_calendar_reload

    case_id = _in_reasonable_checks(service)
    before = _timers(service, case_id)
    plan = plan_calendar_reload(service, edited(2))
    assert plan.changes == ["no longer school days: 5 Nov 2024"]
    assert plan.previous is not None
    assert (plan.previous.version, plan.new_version, plan.cases) == (1, True, 1)
    moves = {m.timer_id: (m.old_due, m.new_due) for m in plan.moves}
    assert moves["first_formal_letter_sent_outstanding"] == (D(2024, 11, 18), D(2024, 11, 19))
    assert moves["further_checks_starts"] == (D(2024, 11, 18), D(2024, 11, 19))
    assert len(moves) == 8
    assert plan.moves[0].reason == (
        "calendar london-2024-25 version 1 → version 2: no longer school days: 5 Nov 2024"
    )
    assert _timers(service, case_id) == before
    assert service.calendar_in_force("london-2024-25").version == 1


def test_a_reload_moves_pending_deadlines_and_journals_each_move(service) -> None:
    from engine.cases.projection import EventKind, replay
    from engine.scheduling.calendar_reload import apply_calendar_reload

    case_id = _in_reasonable_checks(service)
    done = apply_calendar_reload(
        service, edited(2), on=D(2024, 10, 28), at=RECORDED_AT, actor=MANAGER
    )
    assert (len(done.moves), done.restamped, done.skipped) == (8, 0, [])
    pending = {t["timer_id"]: t for t in _timers(service, case_id) if t["status"] == "pending"}
    day_16 = pending["further_checks_starts"]
    assert (day_16["due_date"], day_16["calendar_version"]) == (D(2024, 11, 19), 2)
    assert "closure 5 Nov (polling day)" in day_16["explanation"]
    assert day_16["explanation"].endswith("calendar london-2024-25 version 2")
    moved = service.events(case_id)[-1]
    assert (moved.kind, moved.effective_date, moved.actor) == (
        EventKind.deadline_moved,
        D(2024, 10, 28),
        "scheduler",
    )
    data = moved.payload["data"]
    assert (data["from_version"], data["to_version"], data["loaded_by"]) == (1, 2, "pat")
    assert data["reason"].endswith("no longer school days: 5 Nov 2024")
    assert {
        "timer": "further_checks_starts",
        "key": day_16["key"],
        "from": "2024-11-18",
        "to": "2024-11-19",
        "explanation": day_16["explanation"],
    } in data["moved"]
    assert replay(service.events(case_id)).as_row() == service.get(case_id).as_row()
    # Loading it again moves nothing; the sweep keeps the new dates; new cases on it use version 2.
    assert (
        apply_calendar_reload(
            service, edited(2), on=D(2024, 10, 28), at=RECORDED_AT, actor=MANAGER
        ).moves
        == []
    )
    fired = sweep(service, until=D(2024, 11, 18), at=RECORDED_AT, keep_firings=True)
    assert fired.firings == []  # Day 16 is now the 19th
    fired = sweep(service, until=D(2024, 11, 19), at=RECORDED_AT, keep_firings=True)
    assert {(f.due_date, f.outcome) for f in fired.firings} == {
        (D(2024, 11, 19), "escalated"),
        (D(2024, 11, 19), "fired"),
    }
    (other,) = service.open_case(
        form(D(2024, 11, 4), "Ben Cole"),
        on=D(2024, 11, 4),
        at=RECORDED_AT,
        actor=OFFICER,
        calendar="london-2024-25",
    )
    assert all(t["calendar_version"] == 2 for t in _timers(service, other))


def test_unraised_older_or_uncovering_calendars_are_refused_and_nothing_is_written(
    service,
) -> None:
    from engine.errors import AccessDenied, CalendarError, VersionNotRaised
    from engine.scheduling.calendar_reload import apply_calendar_reload

    case_id = _in_reasonable_checks(service)
    before = _timers(service, case_id)
    with pytest.raises(VersionNotRaised, match="version was not raised; set `version: 2`"):
        apply_calendar_reload(service, edited(1), on=D(2024, 10, 28), at=RECORDED_AT, actor=MANAGER)
    next_year = (
        "name: london-2024-25\nversion: 3\ndescription: The wrong year\nsource: a test\n"
        "years:\n  2025-26:\n    terms:\n"
        "      - {name: autumn, first_day: 2025-09-01, last_day: 2025-12-19}\n"
    )
    from engine.time.calendar import SchoolCalendar

    uncovered = rf"(?s)deadlines of 1 case.*{case_id}: 21 Oct 2024 is in school year 2024-25"
    with pytest.raises(CalendarError, match=uncovered):
        apply_calendar_reload(
            service,
            SchoolCalendar.from_yaml(next_year, "next.yaml"),
            on=D(2024, 10, 28),
            at=RECORDED_AT,
            actor=MANAGER,
        )
    with pytest.raises(AccessDenied):
        apply_calendar_reload(service, edited(2), on=D(2024, 10, 28), at=RECORDED_AT, actor=OFFICER)
    assert _timers(service, case_id) == before
    assert service.calendar_in_force("london-2024-25").version == 1
    apply_calendar_reload(service, edited(3), on=D(2024, 10, 28), at=RECORDED_AT, actor=MANAGER)
    with pytest.raises(VersionNotRaised, match="version 3 is in force"):
        apply_calendar_reload(service, edited(2), on=D(2024, 10, 28), at=RECORDED_AT, actor=MANAGER)


def test_a_reload_moves_a_checks_escalation_kept_from_an_earlier_stage(service) -> None:
    from engine.scheduling.calendar_reload import apply_calendar_reload

    (case_id,) = service.open_case(
        form(D(2024, 10, 21)),
        on=D(2024, 10, 21),
        at=RECORDED_AT,
        actor=OFFICER,
        calendar="london-2024-25",
    )
    # The officer starts the reasonable checks on Day 4, before the morning's sweep: the Day 1–3
    # checks' escalations (due Day 4) outlive establishing_contact.
    service.fire(
        case_id, "start_reasonable_checks", on=D(2024, 10, 24), at=RECORDED_AT, actor=OFFICER
    )
    kept = {t["timer_id"]: t for t in _timers(service, case_id) if t["status"] == "pending"}
    assert kept["contact_attempted_by_email_outstanding"]["state"] == "establishing_contact"
    assert kept["contact_attempted_by_email_outstanding"]["due_date"] == D(2024, 10, 24)
    # 23 Oct becomes a closure day: Day 4 is now Friday 25 Oct.
    done = apply_calendar_reload(
        service, edited(2, closure="2024-10-23"), on=D(2024, 10, 24), at=RECORDED_AT, actor=MANAGER
    )
    moved = {m.timer_id: (m.old_due, m.new_due) for m in done.moves}
    assert moved["contact_attempted_by_email_outstanding"] == (D(2024, 10, 24), D(2024, 10, 25))
