"""Appendix 2 and section 4.3: on/off roll returns at non-standard transition points, counted in
calendar days. A pupil added on Wednesday 6 November 2024 (Day 1) must be notified by the end of
the fifth day after, Monday 11 November (Day 6); from Tuesday 12 November (Day 7) it is overdue."""

from __future__ import annotations

import datetime as dt

from engine.cases.projection import EventKind
from engine.errors import GuardFailed, MissingChecks
from tests.scenarios.helpers import OFFICER, SCHOOL, Walk, notification

D = dt.date
ADDED = D(2024, 11, 6)
DAY_2, DAY_6, DAY_7 = D(2024, 11, 7), D(2024, 11, 11), D(2024, 11, 12)


def change(service, roll_change: str, *, non_standard: bool = True) -> Walk:
    """A change to the register on Day 1, recorded by the CME Officer that day."""
    walk = Walk.open(service, notification(ADDED), on=ADDED, process="roll_returns")
    walk.facts(
        {"roll_change": roll_change, "non_standard_transition_point": non_standard}, on=ADDED
    )
    return walk


def test_the_deadlines_are_calendar_days(sqlite_service) -> None:
    walk = change(sqlite_service, "addition")
    assert walk.timers() == [("deletion_return_overdue", DAY_2), ("addition_return_overdue", DAY_7)]


def test_an_addition_returned_within_five_days_is_recorded(sqlite_service) -> None:
    walk = change(sqlite_service, "addition")
    walk.fire("submit_return", on=DAY_6, actor=SCHOOL)
    assert walk.state == "return_received"
    assert walk.outbox()[-1] == ("notify", "cme_officer", "roll_return_received", DAY_6)
    walk.sweep(D(2024, 11, 30))
    assert walk.events(EventKind.escalation) == []
    (lapsed,) = walk.events(EventKind.timer_lapsed)
    assert lapsed.payload["data"]["timer"] == "deletion_return_overdue"
    error = walk.refused(MissingChecks, "fire", "record_return", on=DAY_7)
    assert error.missing == ["return_checked_against_register"]
    walk.check("return_checked_against_register", on=DAY_7)
    walk.fire("record_return", on=DAY_7)
    assert walk.state == "return_recorded"
    assert walk.case.terminal


def test_an_addition_not_returned_by_day_6_is_escalated_on_day_7(sqlite_service) -> None:
    walk = change(sqlite_service, "addition")
    walk.sweep(DAY_7)
    (overdue,) = walk.events(EventKind.escalation)
    assert overdue.effective_date == DAY_7
    assert overdue.payload["data"]["to_role"] == "cme_officer"
    assert "within five days" in overdue.payload["data"]["message"]
    assert walk.case.overdue
    walk.fire("submit_return", on=D(2024, 11, 13), actor=SCHOOL)
    assert walk.state == "return_received"
    assert not walk.case.overdue


def test_a_deletion_not_notified_by_the_day_of_removal_is_escalated_on_day_2(
    sqlite_service,
) -> None:
    walk = change(sqlite_service, "deletion")
    walk.sweep(DAY_7)
    (overdue,) = walk.events(EventKind.escalation)
    assert (overdue.payload["data"]["timer"], overdue.effective_date) == (
        "deletion_return_overdue",
        DAY_2,
    )


def test_no_return_at_a_standard_transition_point(sqlite_service) -> None:
    walk = change(sqlite_service, "deletion", non_standard=False)
    error = walk.refused(GuardFailed, "fire", "submit_return", on=ADDED, actor=SCHOOL)
    assert error.failed == [
        "the change happened at a non-standard transition point (standard "
        "transition points need no return)"
    ]
    walk.fire("standard_transition_point", on=ADDED, actor=OFFICER)
    assert walk.state == "no_return_needed"
    assert walk.timers() == []
