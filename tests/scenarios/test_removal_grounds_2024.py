"""Grounds A-O of Regulation 9(1) of the 2024 regulations (removal_grounds version 6), in force
for cases opened from 19 August 2024, each accepted when its conditions hold and refused, naming
the failing condition, when one does not. Walked on the shipped london-2024-25 calendar:
proposed Monday 9 September 2024, confirmed 16 September, removed 23 September 2024."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from engine.errors import (
    BackdatingRefused,
    GuardFailed,
    InputError,
    MissingChecks,
    UnknownTrigger,
)
from engine.store.tables import case_table
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import SCHOOL, TEST_CALENDAR, Walk, notification
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
T = Timeline(proposed=D(2024, 9, 9), confirmed=D(2024, 9, 16), removed=D(2024, 9, 23))

NOT_SICK_AND_UNTRACED = {
    "reasonable_grounds_sickness_or_unavoidable": False,
    "joint_enquiries_failed": True,
}

GROUNDS = [
    Ground(
        "Ground A",
        "notify_la_of_removal",
        "remove_under_ground_a",
        facts={
            "sao_names_this_school": False,
            "mobile_child_main_school": False,
            "dual_registration_agreed": False,
            "destination_school_on_roll_date": T.confirmed,
        },
        confirmations=("destination_school_confirmed_on_roll",),
        breaks={"dual_registration_agreed": True},
        fails=("the schools have not agreed dual registration",),
    ),
    Ground(
        "Ground B",
        "notify_la_of_removal",
        "remove_under_ground_b",
        facts={"admitted_for_nursery_education": True, "transferring_to_higher_class": False},
        breaks={"transferring_to_higher_class": True},
        fails=("the child is not continuing into a higher class at the school",),
        # The service opens cases only for children of compulsory school age, so this nursery
        # pupil turned five in June 2024 (compulsory from 31 August 2024).
        dob=D(2019, 6, 15),
    ),
    Ground(
        "Ground C",
        "notify_la_of_removal",
        "remove_under_ground_c",
        facts={
            "dual_registered": True,
            "reasonable_grounds_will_attend_again": False,
            "sao_names_this_school": False,
            "mobile_child_main_school": False,
        },
        confirmations=("other_schools_consent_confirmed",),
        withhold=("other_schools_consent_confirmed",),
        fails=("each other school at which the pupil is registered has consented",),
    ),
    Ground(
        "Ground D",
        "notify_la_of_removal",
        "remove_under_ground_d",
        facts={"school_attendance_order": True, "sao_outcome": "amended_to_name_another_school"},
        breaks={"sao_outcome": "revoked_education_otherwise"},
        fails=(
            "the local authority has amended the school attendance order to name another school",
        ),
    ),
    Ground(
        "Ground E",
        "notify_la_of_removal",
        "remove_under_ground_e",
        facts={"school_attendance_order": True, "sao_outcome": "revoked_education_otherwise"},
        breaks={"school_attendance_order": False},
        fails=("the pupil is subject to a school attendance order",),
    ),
    Ground(
        "Ground F",
        "make_ehe_notification",
        "remove_under_ground_f",
        facts={"school_attendance_order": False},
        confirmations=("parent_written_ehe_notification_received",),
        withhold=("parent_written_ehe_notification_received",),
        fails=(
            "the parent has notified the school in writing that the pupil is to be educated "
            "at home",
        ),
        notice=("notify", "ehe_team"),
    ),
    Ground(
        "Ground G",
        "refer_move_to_cme_officer",
        "remove_under_ground_g",
        facts={
            "destination_type": "new_uk_address",
            "destination_la": "Luton Borough Council",
            "ceased_to_attend": True,
            "boarder": False,
            "la_deems_distance_unreasonable": True,
            "parent_maintaining_school_place": False,
            "safeguarding_concern": False,
        },
        before_notice=("new_address_obtained",),
        confirmations=("cme_officer_confirmed_receipt", "destination_la_confirmed_receipt"),
        breaks={"la_deems_distance_unreasonable": False},
        fails=(
            "the distance to school from the new address is deemed unreasonable by the local "
            "authority",
        ),
    ),
    Ground(
        "Ground H",
        "make_cme_notification",
        "remove_under_ground_h",
        # Leave ended Wednesday 4 September 2024; the tenth school day after it is Wednesday
        # 18 September, so an off roll date of 23 September is after the ten school days.
        facts={
            "leave_of_absence_granted": True,
            "leave_expired_on": D(2024, 9, 4),
            "attended_after_leave_expired": False,
            **NOT_SICK_AND_UNTRACED,
        },
        before_notice=("evidence_of_checks_completed",),
        confirmations=("cme_officer_confirmed_receipt",),
        # Leave ended Monday 9 September: the tenth school day after it is 23 September itself.
        breaks={"leave_expired_on": D(2024, 9, 9)},
        fails=(
            "the pupil has failed to attend within the ten school days immediately following "
            "the end of the leave of absence",
        ),
    ),
    Ground(
        "Ground I",
        "make_cme_notification",
        "remove_under_ground_i",
        # Absent from Monday 1 July 2024: 15 school days to the end of the summer term, 20 by
        # Monday 9 September, 25 before 16 September.
        facts={
            "first_day_of_absence": D(2024, 7, 1),
            "all_sessions_coded_g_n_or_o": True,
            **NOT_SICK_AND_UNTRACED,
        },
        before_notice=("evidence_of_checks_completed",),
        confirmations=("cme_officer_confirmed_receipt",),
        breaks={"all_sessions_coded_g_n_or_o": False},
        fails=("every session of the absence is recorded with code G, N or O (none authorised)",),
    ),
    Ground(
        "Ground J",
        "notify_la_of_removal",
        "remove_under_ground_j",
        facts={
            "sentence_starts_on": D(2024, 9, 2),
            "sentence_ends_on": D(2025, 1, 2),  # four months
            "final_order": True,
            "on_remand": False,
            "expected_to_return_after_custody": False,
        },
        breaks={"final_order": False, "on_remand": True},
        fails=(
            "the detention is under a final order",
            "schools must not de-register a pupil who is remanded in custody and awaiting a "
            "trial or hearing at a future date",
        ),
    ),
    Ground(
        "Ground K",
        "notify_la_of_removal",
        "remove_under_ground_k",
        facts={},
        confirmations=("notification_of_death_received",),
        withhold=("notification_of_death_received",),
        fails=("the school should remove the child from roll upon notification of the death",),
    ),
    Ground(
        "Ground L",
        "notify_la_of_removal",
        "remove_under_ground_l",
        # 16 on 15 August 2024: compulsory school age ended on Friday 28 June 2024, before the
        # school next meets after the off roll date of 23 September.
        facts={
            "school_next_meets_on": D(2024, 9, 24),
            "continuing_into_sixth_form": False,
            "at_risk_of_neet": True,
        },
        confirmations=("connexions_referral_made",),
        breaks={"continuing_into_sixth_form": True},
        fails=("the pupil is not continuing into the sixth form",),
        dob=D(2008, 8, 15),
    ),
    Ground(
        "Ground M",
        "make_cme_notification",
        "remove_under_ground_m",
        facts={"boarder": True, "boarding_fees_unpaid": True},
        breaks={"boarder": False},
        fails=("the pupil is a boarder and the boarding fees remain unpaid",),
    ),
    Ground(
        "Ground N",
        "notify_la_of_removal",
        "remove_under_ground_n",
        facts={"independent_or_non_maintained_special_school": True},
        breaks={"independent_or_non_maintained_special_school": False},
        fails=("the school is an independent school or a non-maintained special school",),
    ),
    Ground(
        "Ground O",
        "notify_la_of_removal",
        "remove_under_ground_o",
        facts={
            "exclusion_review_status": "irp_decision_exclusion_stands",
            "exclusion_decision_given_on": D(2024, 7, 1),
        },
        confirmations=("exclusion_notified_to_school_inclusion",),
        breaks={"exclusion_review_status": "pupil_reinstated"},
        fails=(
            "the permanent exclusion does not take effect until expiry of the Independent "
            "Review Panel (IRP) deadline or decision (and any reconsideration by the governing "
            "board that did not reinstate the pupil), or the parent's written confirmation "
            "that they won't be applying for an IRP",
        ),
    ),
]


def test_every_2024_ground_is_walked(registry) -> None:
    v6 = registry.get("removal_grounds", 6).definition
    # It restates the 2024 grounds from the day they came into force: dated from the law, so it
    # is never in force before its own effective date.
    assert v6.effective_from == D(2024, 8, 19)
    assert v6.applies.cases_opened_from is None
    assert v6.facts["ground"].values == [f"Ground {c}" for c in "ABCDEFGHIJKLMNO"]
    assert [g.ground for g in GROUNDS] == v6.facts["ground"].values


@pytest.mark.parametrize("g", GROUNDS, ids=str)
def test_ground_accepted_when_its_conditions_hold(sqlite_service, g: Ground) -> None:
    walk = walk_to_removal(sqlite_service, g, T)
    case = walk.case
    assert (case.state, case.terminal, case.closed_on) == ("removed_from_roll", True, T.removed)
    assert case.process_version == 6
    rule = walk.events()[-1].rule
    letter = g.ground.removeprefix("Ground ")
    assert f"Regulation 9(1)({letter.lower()}) ({g.ground})" in rule
    assert "Regulations 2024" in rule


@pytest.mark.parametrize("g", GROUNDS, ids=str)
def test_ground_refused_naming_the_failing_condition(sqlite_service, g: Ground) -> None:
    _, error = walk_to_refusal(sqlite_service, g, T)
    assert error.failed == list(g.fails)
    for says in g.fails:
        assert f"condition not met: {says}" in str(error)
    for name, value in g.breaks.items():
        # A date a count is counted from is named with the count ("counted from …").
        assert f"{name}: {written(value)}" in str(error) or f"{name} {written(value)}" in str(error)


def test_ground_i_walked_on_both_databases(service) -> None:
    """Removal before the CME Officer confirms receipt is refused; after it, accepted."""
    g = GROUNDS[8]
    walk = propose(service, g, T)
    assert walk.outbox()[-1][2] == "cme_notification_form"
    walk.facts({"off_roll_date": T.confirmed}, on=T.confirmed, actor=SCHOOL)
    error = walk.refused(MissingChecks, "fire", g.remove, on=T.confirmed, actor=SCHOOL)
    assert error.missing == ["cme_officer_confirmed_receipt"]
    assert "cme_officer_confirmed_receipt (The CME Officer has confirmed receipt" in str(error)
    confirm(walk, g.confirmations, on=T.confirmed)
    walk.fire(g.remove, on=T.confirmed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"
    assert walk.case.closed_on == T.confirmed


def test_cases_opened_from_19_august_2024_take_the_2024_grounds(sqlite_service) -> None:
    summer = D(2024, 8, 19)  # in the 2023-24 school year's summer holiday: the test calendar
    walk = Walk.open(
        sqlite_service,
        notification(summer, ground="Ground I"),
        on=summer,
        actor=SCHOOL,
        process="removal_grounds",
        calendar=TEST_CALENDAR,
    )
    assert walk.case.process_version == 6
    assert walk.case.facts["ground"] == "Ground I"


def test_a_2006_ground_on_a_2024_case_is_refused_and_nothing_is_written(sqlite_service) -> None:
    with pytest.raises(InputError) as info:
        sqlite_service.open_case(
            notification(T.proposed, ground="8(1)(h)"),
            on=T.proposed,
            at=RECORDED_AT,
            actor=SCHOOL,
            process="removal_grounds",
        )
    assert "must be one of Ground A" in str(info.value)
    assert "'8(1)(h)' is not" in str(info.value)
    with sqlite_service.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(case_table)).scalar_one() == 0


def test_there_is_no_medical_ground_in_2024(sqlite_service) -> None:
    walk = Walk.open(
        sqlite_service,
        notification(T.proposed),
        on=T.proposed,
        actor=SCHOOL,
        process="removal_grounds",
    )
    error = walk.refused(UnknownTrigger, "fire", "remove_under_8_1_g", on=T.proposed, actor=SCHOOL)
    assert "has no step 'remove_under_8_1_g'" in str(error)


def test_remand_is_refused_and_the_sentence_accepted(sqlite_service) -> None:
    g = GROUNDS[9]
    walk = propose(sqlite_service, g, T, facts={**g.facts, **g.breaks})
    walk.facts({"off_roll_date": T.confirmed}, on=T.confirmed, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", g.remove, on=T.confirmed, actor=SCHOOL)
    assert error.failed == list(g.fails)
    walk.facts(
        {"on_remand": False, "final_order": True, "off_roll_date": T.removed},
        on=T.removed,
        actor=SCHOOL,
    )
    walk.fire(g.remove, on=T.removed, actor=SCHOOL)
    assert walk.state == "removed_from_roll"


def test_no_retrospective_deletion(sqlite_service) -> None:
    g = GROUNDS[13]  # Ground N
    walk = propose(sqlite_service, g, T)
    error = walk.refused(
        BackdatingRefused, "facts", {"off_roll_date": T.proposed}, on=T.confirmed, actor=SCHOOL
    )
    assert "off_roll_date 2024-09-09 is earlier than 2024-09-16" in str(error)
    walk.facts({"off_roll_date": T.confirmed}, on=T.confirmed, actor=SCHOOL)
    error = walk.refused(GuardFailed, "fire", g.remove, on=T.removed, actor=SCHOOL)
    assert error.failed == ["the off roll date must not be backdated (no retrospective deletion)"]
    assert "(off_roll_date: 16 Sep 2024; it takes effect on 23 Sep 2024)" in str(error)


def test_a_ground_a_removal_waits_for_the_destination_school(sqlite_service) -> None:
    g = replace(
        GROUNDS[0],
        breaks={},
        withhold=("destination_school_confirmed_on_roll",),
        fails=(
            "the destination school has confirmed the on roll date (Camden policy section 4.3)",
        ),
    )
    _, error = walk_to_refusal(sqlite_service, g, T)
    assert error.failed == list(g.fails)
