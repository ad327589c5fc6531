"""The 2024 regulations' attendance returns, on the london calendar's real dates: the attendance
return (10 continuous school days unauthorised) across the 2024 autumn half term, the sickness
return (15 school days) across the February 2026 half term, and code N (5 school days) across the
October 2026 half term; a pupil who may meet Ground I is referred and linked to an untraceable_cme
case."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.cases.projection import EventKind
from engine.errors import CountedFact, GuardFailed
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import OFFICER, PAS, SCHOOL, Walk, notification
from tests.scenarios.late import LateWalk

D = dt.date

# 2024-25 (Harrow's dates): half term Monday 28 October - Friday 1 November 2024.
ABSENT_FROM = D(2024, 10, 7)
"""Monday 7 October 2024: the first day of a continuous unauthorised absence (Day 1)."""
NINTH_DONE = D(2024, 10, 18)
"""Friday 18 October: 9 school days have passed (7-17 October); it is the 10th."""
TENTH_DONE = D(2024, 10, 21)
"""Monday 21 October: 10 school days have passed."""
NINETEEN_DONE = D(2024, 11, 8)
"""Friday 8 November: 19 school days have passed (the half term does not count)."""
DAY_21 = D(2024, 11, 11)
"""Monday 11 November: 20 school days have passed; Camden's day 21."""


def absence(service: Any) -> Walk:
    """An unauthorised absence from Monday 7 October 2024, recorded by the school on Day 1."""
    walk = Walk.open(
        service, notification(ABSENT_FROM), on=ABSENT_FROM, process="attendance_returns"
    )
    walk.facts({"return_kind": "unauthorised_absence"}, on=ABSENT_FROM)
    walk.facts(
        {"first_day_of_absence": ABSENT_FROM, "absence_unauthorised": True},
        on=ABSENT_FROM,
        actor=SCHOOL,
    )
    return walk


def test_the_attendance_return_is_due_after_10_continuous_school_days(sqlite_service) -> None:
    walk = absence(sqlite_service)
    error = walk.refused(
        GuardFailed, "fire", "submit_attendance_return", on=NINTH_DONE, actor=SCHOOL
    )
    assert error.failed == [
        "the pupil has been absent for a continuous period of at least 10 school days"
    ]
    walk.fire("submit_attendance_return", on=TENTH_DONE, actor=SCHOOL)
    assert walk.state == "return_received"
    assert walk.outbox()[-1] == (
        "notify",
        "pupil_attendance_service",
        "attendance_return_received",
        TENTH_DONE,
    )


def test_no_attendance_return_by_day_21_is_escalated(sqlite_service) -> None:
    walk = absence(sqlite_service)
    assert ("attendance_return_overdue", DAY_21) in walk.timers()
    walk.sweep(DAY_21)
    (overdue,) = walk.events(EventKind.escalation)
    assert overdue.effective_date == DAY_21
    assert overdue.payload["data"]["to_role"] == "pupil_attendance_service"
    assert "Ground I" in overdue.payload["data"]["message"]


def test_a_pupil_back_after_10_school_days_still_needs_the_return(sqlite_service) -> None:
    walk = absence(sqlite_service)
    error = walk.refused(GuardFailed, "fire", "pupil_returned", on=TENTH_DONE, actor=SCHOOL)
    assert error.failed[0].startswith("the pupil returned before 10 continuous school days")


def test_a_pupil_who_returns_needs_no_return(sqlite_service) -> None:
    walk = absence(sqlite_service)
    walk.fire("pupil_returned", on=D(2024, 10, 14), actor=SCHOOL)
    assert walk.state == "no_return_needed"
    walk.sweep(D(2024, 12, 20))
    assert walk.events(EventKind.escalation) == []


def test_ground_i_referral_needs_20_school_days_and_opens_a_linked_cme_case(
    sqlite_service,
) -> None:
    walk = absence(sqlite_service)
    walk.fire("submit_attendance_return", on=TENTH_DONE, actor=SCHOOL)
    walk.facts(
        {
            "all_sessions_coded_g_n_or_o": True,
            "reasonable_grounds_sickness_or_unavoidable": False,
            "school_enquiries_failed": True,
        },
        on=NINETEEN_DONE,
        actor=SCHOOL,
    )
    error = walk.refused(
        GuardFailed, "fire", "refer_possible_ground_i", on=NINETEEN_DONE, actor=SCHOOL
    )
    assert error.failed == ["the pupil has been continuously absent for 20 or more school days"]
    # Day 21: Camden's policy asks the school to refer an untraceable child today.
    walk.sweep(DAY_21)
    (due,) = walk.events(EventKind.escalation)
    assert (due.payload["data"]["timer"], due.payload["data"]["to_role"]) == (
        "ground_i_referral_due",
        "cme_officer",
    )
    walk.fire("refer_possible_ground_i", on=DAY_21, actor=SCHOOL)
    assert walk.state == "referred_to_cme"
    assert walk.outbox()[-1] == ("referral", "cme_officer", None, DAY_21)
    # The CME Officer opens the child's untraceable_cme case and records its number here.
    (cme_case,) = sqlite_service.open_case(
        notification(DAY_21), on=DAY_21, at=RECORDED_AT, actor=OFFICER, process="untraceable_cme"
    )
    walk.facts({"linked_cme_case": cme_case}, on=DAY_21)
    walk.fire("link_cme_case", on=DAY_21)
    assert walk.state == "linked_to_cme"
    assert walk.case.facts["linked_cme_case"] == cme_case
    assert sqlite_service.get(cme_case).process_id == "untraceable_cme"


def test_a_referral_nobody_links_is_escalated_the_next_school_day(sqlite_service) -> None:
    walk = absence(sqlite_service)
    walk.facts(
        {
            "all_sessions_coded_g_n_or_o": True,
            "reasonable_grounds_sickness_or_unavoidable": False,
            "school_enquiries_failed": True,
        },
        on=DAY_21,
        actor=SCHOOL,
    )
    # Straight from the school's first report: no attendance return came (escalated today).
    walk.fire("refer_possible_ground_i", on=DAY_21, actor=PAS)
    walk.sweep(D(2024, 11, 12))
    timers = [e.payload["data"]["timer"] for e in walk.events(EventKind.escalation)]
    assert timers == ["attendance_return_overdue", "cme_case_not_linked"]
    (late,) = [e for e in walk.events(EventKind.escalation) if e.effective_date > DAY_21]
    assert late.payload["data"]["to_role"] == "line_manager"


def test_sickness_unable_to_attend_for_20_days_does_not_meet_ground_i(sqlite_service) -> None:
    walk = absence(sqlite_service)
    walk.facts(
        {
            "all_sessions_coded_g_n_or_o": True,
            "reasonable_grounds_sickness_or_unavoidable": True,
            "school_enquiries_failed": True,
        },
        on=DAY_21,
        actor=SCHOOL,
    )
    error = walk.refused(GuardFailed, "fire", "refer_possible_ground_i", on=DAY_21, actor=SCHOOL)
    assert error.failed == [
        "there are no reasonable grounds to believe the pupil is unable to attend due to "
        "sickness or an unavoidable cause"
    ]


# 2025-26 (Barnet's dates): half term Monday 16 - Friday 20 February 2026.
SICK_FROM = D(2026, 2, 2)
"""Monday 2 February 2026: the first day of sickness (Day 1)."""
FOURTEEN_SICK = D(2026, 2, 27)
"""Friday 27 February: 14 school days have passed (2-13 and 23-26 February); the 15th."""
DAY_16 = D(2026, 3, 2)
"""Monday 2 March: 15 school days of sickness missed; the return is overdue."""


def sickness(service: Any) -> LateWalk:
    """A pupil off sick from Monday 2 February 2026."""
    walk = LateWalk.open(
        service, notification(SICK_FROM), on=SICK_FROM, process="attendance_returns"
    )
    walk.facts({"return_kind": "sickness"}, on=SICK_FROM)
    walk.facts({"first_day_of_sickness": SICK_FROM}, on=SICK_FROM, actor=SCHOOL)
    return walk


def test_a_sickness_return_when_the_school_expects_15_days(sqlite_service) -> None:
    walk = sickness(sqlite_service)
    walk.facts({"expects_fifteen_days_sickness": True}, on=D(2026, 2, 4), actor=SCHOOL)
    walk.fire("submit_sickness_return", on=D(2026, 2, 4), actor=SCHOOL)
    assert walk.state == "return_received"
    walk.sweep(D(2026, 3, 31))
    assert walk.events(EventKind.escalation) == []


def test_a_pupil_back_from_sickness_in_a_week_needs_no_return(sqlite_service) -> None:
    walk = sickness(sqlite_service)
    walk.facts({"expects_fifteen_days_sickness": False}, on=SICK_FROM, actor=SCHOOL)
    walk.fire("pupil_recovered", on=D(2026, 2, 9), actor=SCHOOL)
    assert walk.state == "no_return_needed"
    walk.sweep(D(2026, 3, 31))
    assert walk.events(EventKind.escalation) == []


def test_15_school_days_of_sickness_without_a_return_are_escalated(sqlite_service) -> None:
    walk = sickness(sqlite_service)
    walk.facts({"expects_fifteen_days_sickness": False}, on=SICK_FROM, actor=SCHOOL)
    error = walk.refused(
        GuardFailed, "fire", "submit_sickness_return", on=FOURTEEN_SICK, actor=SCHOOL
    )
    assert error.failed[0].startswith("the school has reasonable grounds to believe")
    assert ("sickness_return_overdue", DAY_16) in walk.timers()
    walk.sweep(DAY_16)
    (overdue,) = walk.events(EventKind.escalation)
    assert overdue.effective_date == DAY_16
    assert "section 19" in overdue.payload["data"]["message"]
    # Once 15 have been missed the return is owed whatever the school expected.
    walk.fire("submit_sickness_return", on=DAY_16, actor=SCHOOL)
    assert walk.state == "return_received"


# 2026-27 (Ealing's dates): half term Monday 26 - Friday 30 October 2026.
CODE_N_ON = D(2026, 10, 22)
"""Thursday 22 October 2026: a session coded N (Day 1)."""
REPLACE_BY = D(2026, 11, 5)
"""Thursday 5 November: the 5th school day after (23 October, then 2-5 November)."""
OVERDUE = D(2026, 11, 6)


def code_n(service: Any) -> LateWalk:
    """A session coded N on Thursday 22 October 2026."""
    walk = LateWalk.open(
        service, notification(CODE_N_ON), on=CODE_N_ON, process="attendance_returns"
    )
    walk.facts({"return_kind": "code_n"}, on=CODE_N_ON)
    walk.facts({"code_n_session_date": CODE_N_ON}, on=CODE_N_ON, actor=SCHOOL)
    return walk


def test_code_n_replaced_within_5_school_days(sqlite_service) -> None:
    walk = code_n(sqlite_service)
    assert ("code_n_not_replaced", OVERDUE) in walk.timers()
    walk.facts(
        {"replacement_code": "I", "code_n_replaced_on": REPLACE_BY}, on=REPLACE_BY, actor=SCHOOL
    )
    walk.fire("record_code_replaced", on=REPLACE_BY, actor=SCHOOL)
    assert walk.state == "code_n_resolved"
    walk.sweep(D(2026, 11, 30))
    assert walk.events(EventKind.escalation) == []


def test_code_n_not_replaced_by_the_5th_school_day_is_escalated(sqlite_service) -> None:
    walk = code_n(sqlite_service)
    walk.sweep(REPLACE_BY)
    assert walk.events(EventKind.escalation) == []
    walk.sweep(OVERDUE)
    (overdue,) = walk.events(EventKind.escalation)
    assert overdue.effective_date == OVERDUE
    assert "code O" in overdue.payload["data"]["message"]
    walk.facts({"replacement_code": "O", "code_n_replaced_on": OVERDUE}, on=OVERDUE, actor=SCHOOL)
    walk.fire("record_code_replaced", on=OVERDUE, actor=SCHOOL)
    assert walk.state == "code_n_resolved"


def test_the_deadline_is_counted_never_typed(sqlite_service) -> None:
    walk = code_n(sqlite_service)
    error = walk.refused(CountedFact, "facts", {"code_n_replace_by": OVERDUE}, on=CODE_N_ON)
    assert "record code_n_session_date instead" in str(error)
