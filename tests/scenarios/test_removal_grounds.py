"""The fifteen grounds of Regulation 8(1) of the 2006 regulations as amended (removal_grounds
version 5), each accepted when its conditions hold and refused, naming the failing condition,
when one does not. Version 5 applies to cases opened before 19 August 2024, so these walks run on
the made-up 2023-24 test calendar: proposed Monday 3 June 2024, confirmed 10 June, removed 1 July
2024. The school records dates; the engine counts the school days, months and deadlines."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from engine.cases.projection import EventKind
from engine.errors import (
    BackdatingRefused,
    GuardFailed,
    InputError,
    MissingChecks,
    RoleNotPermitted,
)
from tests.scenarios.helpers import OFFICER, SCHOOL, TEST_CALENDAR, Walk, notification
from tests.scenarios.removal import (
    Ground,
    Timeline,
    confirm,
    propose,
    walk_to_refusal,
    walk_to_removal,
    written,
)

D = dt.date
T = Timeline(
    proposed=D(2024, 6, 3), confirmed=D(2024, 6, 10), removed=D(2024, 7, 1), calendar=TEST_CALENDAR
)

NOT_IN_HOLIDAY = {
    "reasonable_grounds_sickness_or_unavoidable": False,
    "joint_enquiries_failed": True,
}

GROUNDS = [
    Ground(
        "8(1)(a)",
        "notify_la_of_removal",
        "remove_under_8_1_a",
        facts={"school_attendance_order": True, "sao_outcome": "school_substituted"},
        breaks={"sao_outcome": "no_change"},
        fails=(
            "the local authority has substituted the school named on the SAO with a new school "
            "or revoked the order on the grounds that suitable education has been arranged "
            "otherwise than at school",
        ),
    ),
    Ground(
        "8(1)(b)",
        "notify_la_of_removal",
        "remove_under_8_1_b",
        facts={
            "school_attendance_order": False,
            "dual_registered": False,
            "destination_school_on_roll_date": T.confirmed,
        },
        confirmations=("destination_school_confirmed_on_roll",),
        breaks={"destination_school_on_roll_date": D(2024, 7, 8)},
        fails=(
            "the home school must only remove the child's name once the child has been added "
            "onto the destination school's register",
        ),
    ),
    Ground(
        "8(1)(c)",
        "notify_la_of_removal",
        "remove_under_8_1_c",
        facts={
            "dual_registered": True,
            "ceased_to_attend": True,
            "no_fixed_abode_dual_registration": False,
        },
        confirmations=("other_school_agreement_confirmed",),
        withhold=("other_school_agreement_confirmed",),
        fails=("the other school is in agreement",),
    ),
    Ground(
        "8(1)(d)",
        "make_ehe_notification",
        "remove_under_8_1_d",
        facts={"school_attendance_order": False, "ceased_to_attend": True},
        confirmations=("parent_written_ehe_notification_received",),
        breaks={"school_attendance_order": True},
        fails=("8(1)(a) does not apply (the pupil is not subject to a School Attendance Order)",),
        notice=("notify", "ehe_team"),
    ),
    Ground(
        "8(1)(e)",
        "refer_move_to_cme_officer",
        "remove_under_8_1_e",
        facts={
            "destination_type": "new_uk_address",
            "destination_la": "London Borough of Barnet",
            "ceased_to_attend": True,
            "boarder": False,
            "la_deems_distance_unreasonable": True,
            "parent_maintaining_school_place": False,
            "safeguarding_concern": False,
        },
        before_notice=("new_address_obtained",),
        confirmations=("cme_officer_confirmed_receipt", "destination_la_confirmed_receipt"),
        withhold=("destination_la_confirmed_receipt",),
        fails=(
            "children must only be removed once the destination LA has confirmed receipt of "
            "notification",
        ),
    ),
    Ground(
        "8(1)(f)",
        "make_cme_notification",
        "remove_under_8_1_f",
        # Leave that ended on Friday 17 May 2024; the tenth school day after it is Friday 7
        # June (Monday 27 May to Friday 31 May is half term).
        facts={
            "leave_of_absence_granted": True,
            "leave_expired_on": D(2024, 5, 17),
            "attended_after_leave_expired": False,
            **NOT_IN_HOLIDAY,
        },
        before_notice=("evidence_of_checks_completed",),
        confirmations=("cme_officer_confirmed_receipt",),
        breaks={"leave_of_absence_granted": False},
        fails=(
            "the pupil was granted leave of absence (under regulation 7(1A), of any length and "
            "for any purpose)",
        ),
    ),
    Ground(
        "8(1)(g)",
        "notify_la_of_removal",
        "remove_under_8_1_g",
        facts={},
        confirmations=("medical_certificate_received",),
        withhold=("medical_certificate_received",),
        fails=(
            "an appropriate medical professional has certified that the pupil is unlikely to "
            "be in a fit state of health to return to school before ceasing to be of "
            "compulsory school age",
        ),
    ),
    Ground(
        "8(1)(h)",
        "make_cme_notification",
        "remove_under_8_1_h",
        # Absent from Monday 22 April 2024: 24 school days by 3 June, 39 by 1 July.
        facts={
            "first_day_of_absence": D(2024, 4, 22),
            "absence_authorised": False,
            **NOT_IN_HOLIDAY,
        },
        before_notice=("evidence_of_checks_completed",),
        confirmations=("cme_officer_confirmed_receipt",),
        # Absent from Tuesday 4 June: 19 school days before the off roll date, 1 July.
        breaks={"first_day_of_absence": D(2024, 6, 4)},
        fails=("the pupil has been missing from school for 20 school days or more continuously",),
    ),
    Ground(
        "8(1)(i)",
        "notify_la_of_removal",
        "remove_under_8_1_i",
        facts={
            "sentence_starts_on": D(2024, 5, 10),
            "sentence_ends_on": D(2024, 9, 10),  # four months
            "final_order": True,
            "on_remand": False,
            "expected_to_return_after_custody": False,
        },
        breaks={"final_order": False, "on_remand": True},
        fails=(
            "the custody is the result of a final order",
            "schools must not de-register a pupil who is remanded in custody and awaiting a "
            "trial or hearing at a future date",
        ),
    ),
    Ground(
        "8(1)(j)",
        "notify_la_of_removal",
        "remove_under_8_1_j",
        facts={},
        confirmations=("notification_of_death_received",),
        withhold=("notification_of_death_received",),
        fails=("the school should remove the child from roll upon notification of the death",),
    ),
    Ground(
        "8(1)(k)",
        "notify_la_of_removal",
        "remove_under_8_1_k",
        facts={
            "school_next_meets_on": D(2024, 9, 4),
            "relevant_person_indicated_leaving": True,
            "meets_sixth_form_entry_requirements": True,
            "at_risk_of_neet": True,
        },
        confirmations=("connexions_referral_made",),
        breaks={"relevant_person_indicated_leaving": False},
        fails=(
            "the relevant person has indicated that the pupil will cease to attend the school, "
            "or the pupil does not meet the academic entry requirements for the school's sixth "
            "form",
        ),
        dob=D(2008, 3, 1),  # 16 in March 2024: compulsory school age ends Friday 28 June 2024
    ),
    Ground(
        "8(1)(l)",
        "notify_la_of_removal",
        "remove_under_8_1_l",
        facts={"school_maintained": False},
        breaks={"school_maintained": True},
        fails=(
            "the school is not maintained by the government (a school in the independent sector)",
        ),
    ),
    Ground(
        "8(1)(m)",
        "notify_la_of_removal",
        "remove_under_8_1_m",
        facts={
            "exclusion_review_status": "parent_confirmed_no_irp_in_writing",
            "exclusion_decision_given_on": D(2024, 5, 20),
        },
        confirmations=("exclusion_notified_to_school_inclusion",),
        breaks={"exclusion_review_status": "irp_applied"},
        fails=(
            "the permanent exclusion does not take effect until expiry of the Independent "
            "Review Panel (IRP) deadline or decision (and any reconsideration by the governing "
            "board that did not reinstate the pupil), or the parent's written confirmation "
            "that they won't be applying for an IRP",
        ),
    ),
    Ground(
        "8(1)(n)",
        "notify_la_of_removal",
        "remove_under_8_1_n",
        facts={"admitted_for_nursery_education": True, "transferring_to_higher_class": False},
        breaks={"transferring_to_higher_class": True},
        fails=("the child is not transferring to a higher class at the school",),
        # The service opens cases only for children of compulsory school age, so this nursery
        # pupil turned five in January 2024 (compulsory from 31 March 2024).
        dob=D(2019, 1, 15),
    ),
    Ground(
        "8(1)(o)",
        "make_cme_notification",
        "remove_under_8_1_o",
        facts={"boarder": True, "boarding_fees_unpaid": True},
        breaks={"boarding_fees_unpaid": False},
        fails=(
            "the pupil is a boarder at a state-funded boarding school and the fees remain unpaid",
        ),
    ),
]


def test_the_2006_grounds_are_in_force_for_cases_opened_before_19_august_2024(registry) -> None:
    assert registry.in_force("removal_grounds", D(2024, 8, 18)).definition.version == 5
    assert registry.in_force("removal_grounds", D(2024, 8, 19)).definition.version == 6
    v5 = registry.get("removal_grounds", 5).definition
    assert v5.facts["ground"].values == [f"8(1)({c})" for c in "abcdefghijklmno"]
    assert {g.ground for g in GROUNDS} == set(v5.facts["ground"].values)


@pytest.mark.parametrize("g", GROUNDS, ids=str)
def test_ground_accepted_when_its_conditions_hold(sqlite_service, g: Ground) -> None:
    walk = walk_to_removal(sqlite_service, g, T)
    case = walk.case
    assert (case.state, case.terminal, case.closed_on) == ("removed_from_roll", True, T.removed)
    assert case.process_version == 5
    last = walk.events()[-1]
    assert last.kind == EventKind.trigger
    assert last.process_version == 5
    assert f"Regulation {g.ground}" in last.rule
    assert "Regulations 2006" in last.rule


@pytest.mark.parametrize("g", GROUNDS, ids=str)
def test_ground_refused_naming_the_failing_condition(sqlite_service, g: Ground) -> None:
    _, error = walk_to_refusal(sqlite_service, g, T)
    assert error.failed == list(g.fails)
    for says in g.fails:
        assert f"condition not met: {says}" in str(error)
    for name, value in g.breaks.items():
        # A date a count is counted from is named with the count ("counted from …").
        assert f"{name}: {written(value)}" in str(error) or f"{name} {written(value)}" in str(error)
    assert "True" not in str(error)
    assert "False" not in str(error)


def test_remand_is_refused_and_the_final_order_later_accepted(sqlite_service) -> None:
    g = GROUNDS[8]
    remanded = {**g.facts, **g.breaks}
    walk = propose(sqlite_service, g, T, facts=remanded)
    walk.facts({"off_roll_date": T.confirmed}, on=T.confirmed, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", g.remove, on=T.confirmed, actor=SCHOOL)
    assert error.facts == {"final_order": False, "on_remand": True}
    assert "schools must not de-register a pupil who is remanded in custody" in str(error)
    # Sentenced: six months' detention under a final order, from 10 May to 10 November 2024.
    walk.facts(
        {
            "on_remand": False,
            "final_order": True,
            "sentence_ends_on": D(2024, 11, 10),
            "off_roll_date": T.removed,
        },
        on=T.removed,
        actor=SCHOOL,
    )
    walk.fire(g.remove, on=T.removed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"


def test_a_sentence_under_four_months_is_refused(sqlite_service) -> None:
    # 10 May to 9 September 2024 is three whole months and a day short of four.
    short = replace(GROUNDS[8], breaks={"sentence_ends_on": D(2024, 9, 9)})
    _, error = walk_to_refusal(sqlite_service, short, T)
    assert error.failed == [
        "the pupil has been given a custodial sentence of four months or longer"
    ]
    assert (
        "(custodial_sentence_months: 3, counted from sentence_starts_on 10 May 2024 to "
        "sentence_ends_on 9 Sep 2024)"
    ) in str(error)


def test_a_backdated_off_roll_date_is_refused(sqlite_service) -> None:
    g = GROUNDS[7]  # 8(1)(h)
    walk = propose(sqlite_service, g, T)
    confirm(walk, g.confirmations, on=T.confirmed)
    # Recording a date before the day it is recorded is refused outright...
    error = walk.refused(
        BackdatingRefused, "facts", {"off_roll_date": D(2024, 6, 28)}, on=T.removed, actor=SCHOOL
    )
    assert "off_roll_date 2024-06-28 is earlier than 2024-07-01" in str(error)
    assert "must not be backdated" in str(error)
    # ...and a date recorded in time goes stale once the removal is later than it.
    walk.facts({"off_roll_date": T.confirmed}, on=T.confirmed, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", g.remove, on=T.removed, actor=SCHOOL)
    assert error.failed == ["the off roll date must not be backdated"]
    assert "(off_roll_date: 10 Jun 2024; it takes effect on 1 Jul 2024)" in str(error)


def test_removal_before_the_cme_officer_confirms_receipt_is_refused(sqlite_service) -> None:
    g = GROUNDS[7]  # 8(1)(h)
    walk = propose(sqlite_service, g, T)
    walk.facts({"off_roll_date": T.removed}, on=T.removed, actor=SCHOOL)
    error = walk.refused(MissingChecks, "fire", g.remove, on=T.removed, actor=SCHOOL)
    assert error.missing == ["cme_officer_confirmed_receipt"]
    assert "Please wait for CME Officer to confirm receipt before off rolling" in str(error)
    confirm(walk, ("cme_officer_confirmed_receipt",), on=T.removed)
    walk.fire(g.remove, on=T.removed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"


def test_move_is_removed_only_after_the_destination_la_confirms_receipt(sqlite_service) -> None:
    g = GROUNDS[4]  # 8(1)(e), new UK address
    walk = propose(sqlite_service, g, T)
    confirm(walk, ("cme_officer_confirmed_receipt",), on=T.confirmed)
    walk.facts({"off_roll_date": T.removed}, on=T.removed, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", g.remove, on=T.removed, actor=SCHOOL)
    assert error.failed == list(g.fails)
    assert "destination_type: new uk address" in str(error)
    assert "check destination_la_confirmed_receipt: not recorded" in str(error)
    confirm(walk, ("destination_la_confirmed_receipt",), on=T.removed)
    walk.fire(g.remove, on=T.removed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"


def test_child_who_left_the_country_needs_a_mash_referral_if_safeguarding_concerns(
    sqlite_service,
) -> None:
    g = Ground(
        "8(1)(e)",
        "notify_left_the_country",
        "remove_under_8_1_e",
        facts={
            "destination_type": "left_the_country",
            "safeguarding_concern": True,
            "ceased_to_attend": True,
            "boarder": False,
            "la_deems_distance_unreasonable": True,
            "parent_maintaining_school_place": False,
        },
    )
    walk = Walk.open(
        sqlite_service,
        notification(T.proposed, ground=g.ground),
        on=T.proposed,
        actor=SCHOOL,
        process="removal_grounds",
        calendar=TEST_CALENDAR,
    )
    walk.facts(g.facts, on=T.proposed, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", g.notify, on=T.proposed, actor=SCHOOL)
    assert error.failed == [
        "where the school has reason for concern under safeguarding, a "
        "referral to MASH must be made"
    ]
    walk.check("mash_referral_made", on=T.proposed, actor=SCHOOL)
    walk.fire(g.notify, on=T.proposed, actor=SCHOOL)
    # No CME notification for a child who has left the country: no confirmation to wait for.
    walk.facts({"off_roll_date": T.confirmed}, on=T.confirmed, actor=SCHOOL)
    walk.fire(g.remove, on=T.confirmed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"
    assert "cme_officer_confirmed_receipt" not in walk.case.checks


def test_departure_doubted_needs_a_cme_notification_and_its_receipt(sqlite_service) -> None:
    g = Ground(
        "8(1)(e)",
        "make_cme_notification_departure_doubted",
        "remove_under_8_1_e",
        facts={
            "destination_type": "left_the_country_doubted",
            "safeguarding_concern": False,
            "ceased_to_attend": True,
            "boarder": False,
            "la_deems_distance_unreasonable": True,
            "parent_maintaining_school_place": False,
        },
    )
    walk = propose(sqlite_service, g, T)
    walk.facts({"off_roll_date": T.removed}, on=T.removed, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", g.remove, on=T.removed, actor=SCHOOL)
    assert error.failed == [
        "the CME Officer has confirmed receipt of the school's referral or CME "
        "notification (not needed only for a child who has left the country)"
    ]
    confirm(walk, ("cme_officer_confirmed_receipt",), on=T.removed)
    walk.fire(g.remove, on=T.removed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"


@pytest.mark.parametrize(
    ("ground", "step", "says"),
    [
        (
            "8(1)(b)",
            "make_cme_notification",
            "a CME notification is the notification for grounds 8(1)(f), (h) and (o) (a move under "
            "(e) "
            "is referred to the CME Officer; other grounds notify the LA of the removal)",
        ),
        (
            "8(1)(h)",
            "notify_la_of_removal",
            "the ground needs the LA's off-roll notification only (grounds (d), (e), (f), (h) and "
            "(o) "
            "have their own notification steps)",
        ),
        (
            "8(1)(h)",
            "make_cme_notification",
            "for grounds (f) and (h), the Evidence of Checks Undertaken form (Appendix 3) is "
            "completed "
            "and returned with the CME notification",
        ),
    ],
)
def test_each_ground_takes_its_own_notification(sqlite_service, ground, step, says) -> None:
    walk = Walk.open(
        sqlite_service,
        notification(T.proposed, ground=ground),
        on=T.proposed,
        actor=SCHOOL,
        process="removal_grounds",
        calendar=TEST_CALENDAR,
    )
    error = walk.refused(GuardFailed, "fire", step, on=T.proposed, actor=SCHOOL)
    assert error.failed == [says]


def test_only_the_school_removes_and_either_may_keep_the_pupil_on_roll(sqlite_service) -> None:
    g = GROUNDS[11]  # 8(1)(l)
    walk = propose(sqlite_service, g, T)
    walk.facts({"off_roll_date": T.removed}, on=T.removed, actor=SCHOOL)
    error = walk.refused(RoleNotPermitted, "fire", g.remove, on=T.removed, actor=OFFICER)
    assert "School (designated staff) (school)" in str(error)
    walk.facts({"reason_remains_on_roll": "the pupil returned"}, on=T.removed, actor=OFFICER)
    walk.fire("keep_on_roll", on=T.removed, actor=OFFICER)
    assert walk.state == "remains_on_roll"
    assert walk.case.terminal


def test_a_case_opened_under_the_2006_rules_keeps_them_after_19_august_2024(
    sqlite_service,
) -> None:
    g = GROUNDS[7]  # 8(1)(h)
    later = Timeline(
        proposed=D(2024, 7, 15),
        confirmed=D(2024, 7, 22),
        removed=D(2024, 9, 3),
        calendar=TEST_CALENDAR,
    )
    walk = walk_to_removal(sqlite_service, g, later)
    assert walk.state == "removed_from_roll"
    assert {e.process_version for e in walk.events()} == {5}
    assert "Regulation 8(1)(h)" in walk.events()[-1].rule


def test_a_2024_ground_is_not_a_2006_ground(sqlite_service) -> None:
    walk = Walk.open(
        sqlite_service,
        notification(T.proposed),
        on=T.proposed,
        actor=SCHOOL,
        process="removal_grounds",
        calendar=TEST_CALENDAR,
    )
    error = walk.refused(InputError, "facts", {"ground": "Ground I"}, on=T.proposed, actor=SCHOOL)
    assert "8(1)(a)" in str(error)
    assert "'Ground I' is not" in str(error)
