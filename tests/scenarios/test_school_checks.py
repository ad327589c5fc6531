"""Appendix 3 and 4: a school's checks, jointly with PAS, from the first day of absence to the CME
notification and the CME Officer's confirmation of receipt, on london-2024-25. The pupil is first
absent on Monday 9 September 2024 (Day 1): Day 11 is Monday 23 September, Day 20 Friday
4 October and Day 21 Monday 7 October 2024."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.cases.projection import EventKind
from engine.errors import BackdatingRefused, GuardFailed, MissingChecks, RoleNotPermitted
from tests.scenarios.helpers import OFFICER, PAS, SCHOOL, Walk, notification

D = dt.date
DAY = {
    1: D(2024, 9, 9),
    2: D(2024, 9, 10),
    3: D(2024, 9, 11),
    10: D(2024, 9, 20),
    11: D(2024, 9, 23),
    20: D(2024, 10, 4),
    21: D(2024, 10, 7),
    22: D(2024, 10, 8),
    23: D(2024, 10, 9),
}
"""Day N of the absence on the shipped calendar."""

SCHOOL_CHECKS = (
    "emails_to_all_known_addresses",
    "letter_to_parent_carer",
    "emergency_contacts_called_and_emailed",
    "pas_notified",
    "google_search",
)
NOTHING_KNOWN = {
    "joint_enquiries_failed": True,
    "known_to_safeguarding": False,
    "ehcp_or_sen": False,
    "asylum_seeker": False,
    "safeguarding_concern": False,
}
OFFICE = (
    "la_statutory_off_roll_return_sent",
    "s2s_completed",
    "school_record_archived_or_sent",
    "head_teacher_dsl_sign_off",
)


def absent(service, route: str, *, skip: tuple[str, ...] = ()) -> Walk:
    """A pupil absent from Day 1, with the school's and PAS's checks made by Day 3."""
    walk = Walk.open(
        service, notification(DAY[1], ground=None), on=DAY[1], actor=SCHOOL, process="school_checks"
    )
    walk.check("first_day_call_text", on=DAY[1], actor=SCHOOL, outcome="no answer")
    walk.check(*(c for c in SCHOOL_CHECKS if c not in skip), on=DAY[2], actor=SCHOOL)
    if "pas_checks_completed" not in skip:
        walk.check("pas_checks_completed", on=DAY[3], actor=PAS, outcome="not known to services")
    walk.facts({"route": route, **NOTHING_KNOWN}, on=DAY[3], actor=SCHOOL)
    return walk


def test_untraceable_pupil_is_referred_on_day_21_and_off_rolled_after_receipt(
    sqlite_service,
) -> None:
    walk = absent(sqlite_service, "continuous_absence")
    error = walk.refused(
        GuardFailed, "fire", "refer_untraceable_to_cme_officer", on=DAY[20], actor=SCHOOL
    )
    assert error.failed == [
        "schools should refer to the CME officer if the child remains "
        "untraceable on day 21 (after 20 school days of continuous absence)"
    ]
    walk.sweep(DAY[21])
    (chase,) = walk.events(EventKind.escalation)
    assert (chase.payload["data"]["timer"], chase.effective_date) == (
        "day_21_referral_due",
        DAY[21],
    )
    walk.fire("refer_untraceable_to_cme_officer", on=DAY[21], actor=SCHOOL)
    assert walk.state == "referred_to_cme_officer"
    assert walk.outbox()[-1] == ("notify", "cme_officer", "cme_notification_form", DAY[21])
    # Only the CME Officer confirms receipt, and the off roll date may not be backdated.
    walk.refused(RoleNotPermitted, "fire", "confirm_receipt", on=DAY[22], actor=SCHOOL)
    error = walk.refused(
        BackdatingRefused, "facts", {"off_roll_date": DAY[21]}, on=DAY[22], actor=OFFICER
    )
    assert "off_roll_date 2024-10-07 is earlier than 2024-10-08" in str(error)
    walk.facts({"off_roll_date": DAY[22]}, on=DAY[22], actor=OFFICER)
    walk.fire("confirm_receipt", on=DAY[22], actor=OFFICER)
    assert walk.state == "off_roll_administration"
    assert ("notify", "school", "cme_receipt_confirmation", DAY[22]) in walk.outbox()
    error = walk.refused(
        MissingChecks, "fire", "sign_off_evidence_of_checks", on=DAY[23], actor=SCHOOL
    )
    assert error.missing == list(OFFICE)
    walk.check(*OFFICE, on=DAY[23], actor=SCHOOL)
    walk.fire("sign_off_evidence_of_checks", on=DAY[23], actor=SCHOOL)
    assert walk.state == "evidence_signed_off"
    assert walk.case.terminal


def test_the_referral_needs_every_school_check(sqlite_service) -> None:
    walk = absent(
        sqlite_service, "continuous_absence", skip=("google_search", "pas_checks_completed")
    )
    error = walk.refused(
        MissingChecks, "fire", "refer_untraceable_to_cme_officer", on=DAY[21], actor=SCHOOL
    )
    assert error.missing == ["google_search", "pas_checks_completed"]


def test_the_first_day_call_not_made_is_chased_on_day_2(sqlite_service) -> None:
    walk = Walk.open(
        sqlite_service, notification(DAY[1]), on=DAY[1], actor=SCHOOL, process="school_checks"
    )
    walk.sweep(DAY[2])
    (chase,) = walk.events(EventKind.escalation)
    assert chase.payload["data"]["timer"] == "first_day_call_text_outstanding"
    assert chase.payload["data"]["to_role"] == "school"
    assert chase.effective_date == DAY[2]


def test_failed_to_return_after_leave_is_referred_from_day_11(sqlite_service) -> None:
    walk = absent(sqlite_service, "failed_to_return_after_leave")
    error = walk.refused(
        GuardFailed, "fire", "refer_untraceable_to_cme_officer", on=DAY[10], actor=SCHOOL
    )
    assert error.failed == [
        "the pupil has failed to attend within the ten school days "
        "immediately following the expiry of the leave of absence"
    ]
    walk.sweep(DAY[11])
    (chase,) = walk.events(EventKind.escalation)
    assert (chase.payload["data"]["timer"], chase.effective_date) == ("leave_referral_due", DAY[11])
    walk.fire("refer_untraceable_to_cme_officer", on=DAY[11], actor=SCHOOL)
    assert walk.state == "referred_to_cme_officer"


@pytest.mark.parametrize(
    ("fact", "check", "says"),
    [
        (
            "known_to_safeguarding",
            "social_worker_checked",
            "if known to safeguarding, the school has checked with the Social Worker",
        ),
        (
            "ehcp_or_sen",
            "sen_team_contacted",
            "for a pupil with an EHCP/SEN, the school has contacted the SEN team",
        ),
        (
            "asylum_seeker",
            "home_office_reference_provided",
            "for an asylum seeker, the school has provided the LA with the Home Office reference "
            "number",
        ),
        (
            "safeguarding_concern",
            "mash_referral_made",
            "if there are safeguarding concerns, a referral to MASH has been made",
        ),
    ],
)
def test_the_if_applicable_checks_are_needed_when_they_apply(
    sqlite_service, fact: str, check: str, says: str
) -> None:
    walk = absent(sqlite_service, "continuous_absence")
    walk.facts({fact: True}, on=DAY[21], actor=SCHOOL)
    error = walk.refused(
        GuardFailed, "fire", "refer_untraceable_to_cme_officer", on=DAY[21], actor=SCHOOL
    )
    assert error.failed == [says]
    assert f"{fact}: yes" in str(error)
    walk.check(check, on=DAY[21], actor=SCHOOL)
    walk.fire("refer_untraceable_to_cme_officer", on=DAY[21], actor=SCHOOL)
    assert walk.state == "referred_to_cme_officer"


def test_a_move_is_confirmed_only_after_the_destination_la_confirms_receipt(
    sqlite_service,
) -> None:
    walk = absent(sqlite_service, "moved_away")
    error = walk.refused(
        GuardFailed, "fire", "refer_untraceable_to_cme_officer", on=DAY[3], actor=SCHOOL
    )
    assert error.failed[0].startswith("the pupil is on roll but not attending")
    walk.facts(
        {"new_address": "4 Example Close, Luton", "destination_la": "Luton"},
        on=DAY[3],
        actor=SCHOOL,
    )
    walk.fire("refer_move_to_cme_officer", on=DAY[3], actor=SCHOOL)
    assert walk.outbox()[-1] == ("notify", "cme_officer", "cme_move_referral", DAY[3])
    walk.facts({"off_roll_date": DAY[10]}, on=DAY[10], actor=OFFICER)
    error = walk.refused(GuardFailed, "fire", "confirm_receipt", on=DAY[10], actor=OFFICER)
    assert error.failed == [
        "children must only be removed once the destination LA has "
        "confirmed receipt of notification"
    ]
    walk.check("destination_la_confirmed_receipt", on=DAY[10], actor=OFFICER)
    walk.fire("confirm_receipt", on=DAY[10], actor=OFFICER)
    assert walk.state == "off_roll_administration"


def test_a_child_who_left_the_country_needs_no_cme_notification(sqlite_service) -> None:
    walk = absent(sqlite_service, "moved_away")
    walk.facts(
        {"reason_to_doubt_left_country": True, "safeguarding_concern": True},
        on=DAY[3],
        actor=SCHOOL,
    )
    error = walk.refused(GuardFailed, "fire", "child_left_the_country", on=DAY[3], actor=SCHOOL)
    assert error.failed == [
        "CME notifications do not apply for children who have left the country, unless the "
        "school has reason to believe this may not be the case",
        "if there are safeguarding concerns, then a referral to MASH must be made",
    ]
    walk.facts({"reason_to_doubt_left_country": False}, on=DAY[3], actor=SCHOOL)
    walk.check("mash_referral_made", on=DAY[3], actor=SCHOOL)
    walk.fire("child_left_the_country", on=DAY[3], actor=SCHOOL)
    assert walk.state == "left_the_country"


def test_whereabouts_established_by_pas_ends_the_checks(sqlite_service) -> None:
    walk = absent(sqlite_service, "continuous_absence")
    walk.refused(GuardFailed, "fire", "found_on_roll_at_another_school", on=DAY[10], actor=PAS)
    walk.facts({"other_school": "Acland Burghley School"}, on=DAY[10], actor=PAS)
    walk.fire("found_on_roll_at_another_school", on=DAY[10], actor=PAS)
    assert walk.state == "whereabouts_established"
    assert walk.timers() == []
