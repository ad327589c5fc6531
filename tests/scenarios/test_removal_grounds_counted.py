"""The grounds' statutory counts are counted by the engine from the dates the school records, on
the shipped `london` calendar's real dates, across half terms, bank holidays and Christmas:
the 20 school days of continuous absence (2006 ground 8(1)(h), removal_grounds version 5, and
2024 Ground I, version 6), the IRP deadline, and a typed count refused with nothing written.
Also the wrong-ground traps: a 2006 step name on a 2024 case never points to another ground,
and a step for another ground than the recorded one says so, naming both."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.cases.views import case_summary
from engine.errors import GuardFailed, InputError, UnknownStep, WrongGround
from tests.scenarios.helpers import OFFICER, SCHOOL, Walk, notification

D = dt.date
UNTRACED = {
    "reasonable_grounds_sickness_or_unavoidable": False,
    "joint_enquiries_failed": True,
}


def _ground_case(service, ground: str, *, on: dt.date, facts: dict[str, Any]) -> Walk:
    """A school's proposal under `ground` on `on`, its facts recorded, the CME notification
    made with the Evidence of Checks form, and the CME Officer's confirmation of receipt."""
    walk = Walk.open(
        service,
        notification(on, ground=ground),
        on=on,
        actor=SCHOOL,
        process="removal_grounds",
        calendar="london",
    )
    walk.facts(facts, on=on, actor=SCHOOL)
    walk.check("evidence_of_checks_completed", on=on, actor=SCHOOL)
    walk.fire("make_cme_notification", on=on, actor=SCHOOL)
    walk.check("cme_officer_confirmed_receipt", on=on, actor=OFFICER)
    return walk


@pytest.mark.parametrize(
    ("version", "ground", "step", "facts", "first", "twentieth", "day_21"),
    [
        # 2006 8(1)(h): absent from Monday 29 April 2024; Monday 6 May is the early May bank
        # holiday and 27-31 May the half term, so the 20th school day of absence is Monday
        # 3 June (36 calendar days on) and the first day after 20 complete is Tuesday 4 June.
        (
            5,
            "8(1)(h)",
            "remove_under_8_1_h",
            {"absence_authorised": False},
            D(2024, 4, 29),
            D(2024, 6, 3),
            D(2024, 6, 4),
        ),
        # 2024 Ground I: absent from Monday 7 October 2024; 28 October - 1 November is the half
        # term, so 7 October - 7 November is 19 school days (32 calendar days), the 20th is
        # Friday 8 November and the first day after 20 complete is Monday 11 November.
        (
            6,
            "Ground I",
            "remove_under_ground_i",
            {"all_sessions_coded_g_n_or_o": True},
            D(2024, 10, 7),
            D(2024, 11, 8),
            D(2024, 11, 11),
        ),
    ],
    ids=["2006 8(1)(h)", "2024 Ground I"],
)
def test_continuous_absence_is_refused_until_20_school_days_are_complete(
    sqlite_service, version, ground, step, facts, first, twentieth, day_21
) -> None:
    walk = _ground_case(
        sqlite_service,
        ground,
        on=first + dt.timedelta(days=14),
        facts={"first_day_of_absence": first, **facts, **UNTRACED},
    )
    assert walk.case.process_version == version
    # On the 20th school day of absence it is not yet complete: 19 school days have passed.
    walk.facts({"off_roll_date": twentieth}, on=twentieth, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", step, on=twentieth, actor=SCHOOL)
    assert error.failed == [
        next(s for s in error.failed if "20" in s)  # the continuous-absence condition alone
    ]
    assert (
        f"continuous_absence_school_days: 19, counted from first_day_of_absence "
        f"{first.day} {first:%b %Y} to off_roll_date {twentieth.day} {twentieth:%b %Y}"
    ) in str(error)
    # The next school day the 20 are complete, and the pupil's name is removed.
    walk.facts({"off_roll_date": day_21}, on=day_21, actor=SCHOOL)
    walk.fire(step, on=day_21, actor=SCHOOL)
    assert walk.state == "removed_from_roll"
    assert walk.case.closed_on == day_21


def test_a_typed_count_is_refused_and_nothing_is_written(sqlite_service) -> None:
    walk = _ground_case(
        sqlite_service,
        "Ground I",
        on=D(2024, 10, 21),
        facts={
            "first_day_of_absence": D(2024, 10, 7),
            "all_sessions_coded_g_n_or_o": True,
            **UNTRACED,
        },
    )
    # 7 October - 7 November 2024 is 32 calendar days but 19 school days: nobody may type 32.
    error = walk.refused(
        InputError,
        "facts",
        {"continuous_absence_school_days": 32},
        on=D(2024, 11, 7),
        actor=SCHOOL,
    )
    assert str(error) == (
        "continuous_absence_school_days is counted by the engine, never typed: it is the school "
        "days from first_day_of_absence up to but not including off_roll_date, on the case's "
        "calendar; record first_day_of_absence and off_roll_date instead"
    )
    assert "continuous_absence_school_days" not in walk.case.facts


def test_the_irp_deadline_is_15_school_days_after_the_decision_across_christmas(
    sqlite_service,
) -> None:
    """Ground O: the governing board's decision was given on Monday 2 December 2024; the 15th
    school day after it, across the Christmas holiday (21 December - 5 January), is Monday
    6 January 2025. With no IRP application the exclusion takes effect only after that day."""
    decided = D(2024, 12, 2)
    walk = Walk.open(
        sqlite_service,
        notification(decided, ground="Ground O"),
        on=decided,
        actor=SCHOOL,
        process="removal_grounds",
        calendar="london",
    )
    walk.facts(
        {"exclusion_review_status": "awaiting_review", "exclusion_decision_given_on": decided},
        on=decided,
        actor=SCHOOL,
    )
    walk.check("exclusion_notified_to_school_inclusion", on=decided, actor=SCHOOL)
    walk.fire("notify_la_of_removal", on=decided, actor=SCHOOL)
    counted = case_summary(sqlite_service, walk.case_id, on=decided)["counted"]
    assert counted["irp_application_deadline"]["value"] == "2025-01-06"
    assert counted["irp_application_deadline"]["how"] == (
        "the date 15 school days after exclusion_decision_given_on, on the case's calendar"
    )
    deadline = D(2025, 1, 6)
    walk.facts({"off_roll_date": deadline}, on=deadline, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", "remove_under_ground_o", on=deadline, actor=SCHOOL)
    assert "irp_application_deadline: 6 Jan 2025, counted from exclusion_decision_given_on " in (
        str(error)
    )
    after = D(2025, 1, 7)
    walk.facts({"off_roll_date": after}, on=after, actor=SCHOOL)
    walk.fire("remove_under_ground_o", on=after, actor=SCHOOL)
    assert walk.state == "removed_from_roll"


def test_case_show_gives_each_count_or_the_dates_it_needs(sqlite_service) -> None:
    walk = _ground_case(
        sqlite_service,
        "Ground I",
        on=D(2024, 10, 21),
        facts={
            "first_day_of_absence": D(2024, 10, 7),
            "all_sessions_coded_g_n_or_o": True,
            **UNTRACED,
        },
    )
    counted = case_summary(sqlite_service, walk.case_id, on=D(2024, 11, 7))["counted"]
    assert counted["continuous_absence_school_days"] == {
        "how": "the school days from first_day_of_absence up to but not including "
        "off_roll_date, on the case's calendar",
        "value": None,
        "why": "needs off_roll_date, not recorded yet",
    }
    walk.facts({"off_roll_date": D(2024, 11, 8)}, on=D(2024, 11, 8), actor=SCHOOL)
    counted = case_summary(sqlite_service, walk.case_id, on=D(2024, 11, 8))["counted"]
    assert counted["continuous_absence_school_days"]["value"] == 19
    assert "why" not in counted["continuous_absence_school_days"]


# -- wrong-ground traps -------------------------------------------------------------------------


def _open_2024(service, ground: str | None) -> Walk:
    on = D(2024, 10, 21)
    return Walk.open(
        service,
        notification(on, ground=ground),
        on=on,
        actor=SCHOOL,
        process="removal_grounds",
        calendar="london",
    )


def test_a_2006_step_on_a_2024_case_never_points_to_another_ground(sqlite_service) -> None:
    # 2006's 8(1)(h) (continuous absence) is 2024's Ground I, not Ground H (leave of absence).
    walk = _open_2024(sqlite_service, "Ground I")
    error = walk.refused(
        UnknownStep, "fire", "remove_under_8_1_h", on=D(2024, 10, 21), actor=SCHOOL
    )
    assert "remove_under_ground_h" not in str(error)
    assert "remove_under_ground_h" not in error.suggestions
    assert "remove_under_ground_h" not in error.known
    assert str(error).startswith("removal_grounds has no step 'remove_under_8_1_h'")
    assert "the step for this case's ground (Ground I) is remove_under_ground_i" in str(error)


def test_with_no_ground_recorded_no_ground_step_is_suggested(sqlite_service) -> None:
    walk = _open_2024(sqlite_service, None)
    error = walk.refused(
        UnknownStep, "fire", "remove_under_8_1_h", on=D(2024, 10, 21), actor=SCHOOL
    )
    assert not [s for s in error.suggestions if s.startswith("remove_under_ground_")]
    assert "each ground has its own removal step: record the case's ground first" in str(error)


def test_a_misspelt_step_of_the_recorded_ground_is_still_suggested(sqlite_service) -> None:
    walk = _open_2024(sqlite_service, "Ground H")
    error = walk.refused(
        UnknownStep, "fire", "remove_under_ground_hh", on=D(2024, 10, 21), actor=SCHOOL
    )
    assert error.suggestions == ["remove_under_ground_h"]


def test_another_grounds_step_says_the_recorded_ground_differs(sqlite_service) -> None:
    walk = _open_2024(sqlite_service, "Ground I")
    walk.check("evidence_of_checks_completed", on=D(2024, 10, 21), actor=SCHOOL)
    walk.fire("make_cme_notification", on=D(2024, 10, 21), actor=SCHOOL)
    error = walk.refused(
        WrongGround, "fire", "remove_under_ground_h", on=D(2024, 10, 22), actor=SCHOOL
    )
    assert str(error) == (
        "remove_under_ground_h is the step for Ground H, but the ground recorded for this case "
        "is Ground I: take remove_under_ground_i for Ground I, or record ground 'Ground H' "
        "first if that is the ground"
    )
    # Not a list of Ground H's facts and checks.
    assert "leave_expired_on" not in str(error)
    assert (error.step_ground, error.recorded, error.steps) == (
        "Ground H",
        "Ground I",
        ["remove_under_ground_i"],
    )


def test_case_show_prints_the_counts(sqlite_service, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli.case_views import print_summary

    walk = _ground_case(
        sqlite_service,
        "Ground I",
        on=D(2024, 10, 21),
        facts={
            "first_day_of_absence": D(2024, 10, 7),
            "all_sessions_coded_g_n_or_o": True,
            **UNTRACED,
        },
    )
    walk.facts({"off_roll_date": D(2024, 11, 8)}, on=D(2024, 11, 8), actor=SCHOOL)
    print_summary(case_summary(sqlite_service, walk.case_id, on=D(2024, 11, 8)), wide=True)
    out = capsys.readouterr().out
    assert "Counted by the engine" in out
    row = next(line for line in out.splitlines() if "continuous_absence_school_days" in line)
    assert " 19 " in row
    assert "the school days from first_day_of_absence" in out
    # Counts none of whose dates is recorded (Ground H's, Ground J's, Ground O's) are left out.
    assert "leave_expired_on" not in out
    assert "sentence_starts_on" not in out


def test_the_count_is_on_the_pupils_schools_own_calendar(sqlite_service) -> None:
    """Livingstone Primary's own INSET day (Friday 3 October 2025) is not a school day there:
    absent from Monday 15 September 2025, 20 school days are complete by Monday 13 October on
    the authority's calendar but only by Tuesday 14 October at the school."""
    svc = sqlite_service
    at = dt.datetime(2025, 10, 14, 17, 0, tzinfo=dt.UTC)  # recorded after the dates it gives
    on = D(2025, 9, 29)
    (case_id,) = svc.open_case(
        notification(on, ground="Ground I", school="Livingstone Primary and Nursery School"),
        on=on,
        at=at,
        actor=SCHOOL,
        process="removal_grounds",
        calendar="london",
    )
    assert svc.get(case_id).calendar == "london.livingstone-primary-and-nursery-school"
    facts = {
        "first_day_of_absence": D(2025, 9, 15),
        "all_sessions_coded_g_n_or_o": True,
        **UNTRACED,
    }
    for name, value in facts.items():
        svc.set_fact(case_id, name, value, on=on, at=at, actor=SCHOOL)
    svc.record_check(
        case_id, "evidence_of_checks_completed", on=on, at=at, actor=SCHOOL, outcome="done"
    )
    svc.fire(case_id, "make_cme_notification", on=on, at=at, actor=SCHOOL)
    svc.record_check(
        case_id, "cme_officer_confirmed_receipt", on=on, at=at, actor=OFFICER, outcome="done"
    )
    monday = D(2025, 10, 13)
    svc.set_fact(case_id, "off_roll_date", monday, on=monday, at=at, actor=SCHOOL)
    seq = svc.get(case_id).seq
    with pytest.raises(GuardFailed) as info:
        svc.fire(case_id, "remove_under_ground_i", on=monday, at=at, actor=SCHOOL)
    assert "continuous_absence_school_days: 19," in str(info.value)
    assert svc.get(case_id).seq == seq  # nothing written
    tuesday = D(2025, 10, 14)
    svc.set_fact(case_id, "off_roll_date", tuesday, on=tuesday, at=at, actor=SCHOOL)
    svc.fire(case_id, "remove_under_ground_i", on=tuesday, at=at, actor=SCHOOL)
    assert svc.get(case_id).state == "removed_from_roll"


def test_another_grounds_step_names_the_recorded_grounds_steps_from_here(
    sqlite_service,
) -> None:
    # A Ground G case (moved away), still at the proposal: Ground H's removal is not its step;
    # from here its own steps are Ground G's referral and notifications.
    walk = _open_2024(sqlite_service, "Ground G")
    error = walk.refused(
        WrongGround, "fire", "remove_under_ground_h", on=D(2024, 10, 21), actor=SCHOOL
    )
    assert error.steps == [
        "refer_move_to_cme_officer",
        "notify_left_the_country",
        "make_cme_notification_departure_doubted",
    ]
