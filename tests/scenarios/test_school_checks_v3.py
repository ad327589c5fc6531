"""school_checks version 3 (issue 14), on real dates of 2026-27 on `london`: the pupil is first
absent on Monday 11 January 2027 (Day 1), Day 21 is Monday 8 February 2027. Each test fails on
version 2, which such a case took before version 3 was shipped.
"""

from __future__ import annotations

import datetime as dt

from engine.cases.projection import EventKind
from engine.errors import GuardFailed, MissingChecks
from tests.scenarios.helpers import OFFICER, PAS, SCHOOL, notification
from tests.scenarios.late import LateWalk

D = dt.date
DAY = {1: D(2027, 1, 11), 2: D(2027, 1, 12), 3: D(2027, 1, 13), 21: D(2027, 2, 8)}
"""Day N of the absence on the shipped calendar."""
CHECKS = (
    "emails_to_all_known_addresses",
    "letter_to_parent_carer",
    "emergency_contacts_called_and_emailed",
    "friends_and_relatives_phoned",
    "other_children_and_parents_spoken_to",
    "pas_notified",
)
NOTHING_KNOWN = {
    "route": "continuous_absence",
    "joint_enquiries_failed": True,
    "known_to_safeguarding": False,
    "ehcp_or_sen": False,
    "asylum_seeker": False,
    "safeguarding_concern": False,
}


def absent(service, *, skip: tuple[str, ...] = ()) -> LateWalk:
    walk = LateWalk.open(
        service, notification(DAY[1]), on=DAY[1], actor=SCHOOL, process="school_checks"
    )
    assert walk.case.process_version == 3
    walk.check("first_day_call_text", on=DAY[1], actor=SCHOOL, outcome="no answer")
    walk.check(*(c for c in CHECKS if c not in skip), on=DAY[2], actor=SCHOOL)
    walk.check("pas_checks_completed", on=DAY[3], actor=PAS, outcome="not known to services")
    walk.facts(NOTHING_KNOWN, on=DAY[3], actor=SCHOOL)
    return walk


def chases(walk: LateWalk) -> list[tuple[str, dt.date]]:
    """The escalations of the wait for the CME Officer's confirmation: (timer, day)."""
    return [
        (e.payload["data"]["timer"], e.effective_date)
        for e in walk.events(EventKind.escalation)
        if e.payload["data"]["timer"].startswith("receipt_confirmation")
    ]


def test_the_google_search_has_no_tick_box_so_the_referral_does_not_wait_for_it(
    sqlite_service,
) -> None:
    walk = absent(sqlite_service)
    walk.fire("refer_untraceable_to_cme_officer", on=DAY[21], actor=SCHOOL)
    assert walk.state == "referred_to_cme_officer"
    assert "google_search" not in walk.case.checks


def test_enquiries_include_friends_and_relatives_and_other_children_and_parents(
    sqlite_service,
) -> None:
    """Appendix 1 (h): "Enquiries should include writing to the parents, attempting to make
    telephone contact with parents, appropriate friends and relatives, speaking to other
    children/parents, home visits and local authority checks undertaken by PAS"."""
    walk = absent(
        sqlite_service,
        skip=("friends_and_relatives_phoned", "other_children_and_parents_spoken_to"),
    )
    error = walk.refused(
        MissingChecks, "fire", "refer_untraceable_to_cme_officer", on=DAY[21], actor=SCHOOL
    )
    assert error.missing == ["friends_and_relatives_phoned", "other_children_and_parents_spoken_to"]


def test_a_refusal_of_the_referral_says_the_law_behind_joint_enquiries(sqlite_service) -> None:
    walk = absent(sqlite_service)
    walk.facts({"joint_enquiries_failed": False}, on=DAY[21], actor=SCHOOL)
    error = walk.refused(
        GuardFailed, "fire", "refer_untraceable_to_cme_officer", on=DAY[21], actor=SCHOOL
    )
    (basis,) = error.bases
    assert basis is not None
    assert basis.startswith("law: Education (Pupil Registration) (England) Regulations 2006")
    assert "(law: Education (Pupil Registration)" in str(error)


def test_a_notification_the_cme_officer_does_not_confirm_is_escalated(sqlite_service) -> None:
    """Appendix 1 (h): "Schools must wait for confirmation of notification before removing the
    child from roll" — the wait has an end: the CME Officer is told on the 5th school day of it
    (Friday 12 February 2027) and PAS on the 10th (Friday 26 February, after half term)."""
    walk = absent(sqlite_service)
    walk.fire("refer_untraceable_to_cme_officer", on=DAY[21], actor=SCHOOL)
    walk.sweep(D(2027, 2, 11))
    assert chases(walk) == []
    walk.sweep(D(2027, 2, 26))
    assert chases(walk) == [
        ("receipt_confirmation_overdue", D(2027, 2, 12)),
        ("receipt_confirmation_long_overdue", D(2027, 2, 26)),
    ]
    walk.facts({"off_roll_date": D(2027, 3, 1)}, on=D(2027, 3, 1), actor=OFFICER)
    walk.fire("confirm_receipt", on=D(2027, 3, 1), actor=OFFICER)
    assert walk.state == "off_roll_administration"
