"""untraceable_cme version 3 (issue 14), walked on real dates of the 2026-27 year on `london`: a
notification on Monday 11 January 2027 (Day 1) makes Day 4 Thursday 14 January, Day 26 Monday
22 February (after half term, 15–19 February). Each test fails on version 2, which such a case
took before version 3 was shipped.
"""

from __future__ import annotations

import datetime as dt

from engine.cases.projection import EventKind
from engine.cases.service import CaseService
from engine.errors import GuardFailed, MissingChecks
from tests.scenarios.helpers import LINE_MANAGER, OFFICER, notification
from tests.scenarios.late import LateWalk

D = dt.date
DAY = {
    1: D(2027, 1, 11),
    2: D(2027, 1, 12),
    3: D(2027, 1, 13),
    4: D(2027, 1, 14),
    5: D(2027, 1, 15),
    6: D(2027, 1, 18),
    12: D(2027, 1, 26),
    16: D(2027, 2, 1),
    20: D(2027, 2, 5),
    26: D(2027, 2, 22),
}
"""Day N of a case notified on 11 January 2027 (`cme calendar school-day`)."""
SECONDARY_2027 = D(2013, 5, 20)
"""Thirteen on 31 August 2026: Year 9 in 2026-27, secondary aged."""

TRACING = (
    (5, ("first_formal_letter_sent", "mash_check", "camden_resident_index_check")),
    (6, ("housing_check", "council_tax_check", "yos_check", "nhs_spine_check")),
    (16, ("second_formal_letter_sent", "pan_london_check", "giap_check")),
    (20, ("second_home_visit",)),
)


def opened(service: CaseService) -> LateWalk:
    walk = LateWalk.open(service, notification(DAY[1], dob=SECONDARY_2027), on=DAY[1])
    assert walk.case.process_version == 3
    walk.check("core_information_checked", "opened_on_cme_register", on=DAY[1])
    return walk


def test_days_1_to_3_ask_for_contact_by_phone_or_email_not_both(sqlite_service) -> None:
    """Appendix 7: "Establish contact with parent/carer by contact numbers/email"."""
    walk = opened(sqlite_service)
    # Not attempted by the end of Day 3: the CME Officer is told on Day 4, once.
    walk.sweep(DAY[4])
    chased = [e.payload["data"]["timer"] for e in walk.events(EventKind.escalation)]
    assert chased == ["contact_attempted_outstanding"]
    # One call, and no email, is the contact attempt the closure needs.
    walk.check("contact_attempted", on=DAY[4], outcome="phoned; no answer")
    for day, checks in TRACING:
        walk.check(*checks, on=DAY[day])
    walk.check("day_26_closure_form", on=DAY[26])
    walk.fire("close_untraceable", on=DAY[26], actor=LINE_MANAGER)
    assert walk.state == "closed_untraceable"


def test_the_first_home_visit_is_if_necessary_and_the_second_is_required(
    sqlite_service,
) -> None:
    walk = opened(sqlite_service)
    walk.check("contact_attempted", on=DAY[2])
    for day, checks in TRACING:
        walk.check(*(c for c in checks if c != "second_home_visit"), on=DAY[day])
    walk.check("day_26_closure_form", on=DAY[26])
    error = walk.refused(MissingChecks, "fire", "close_untraceable", on=DAY[26], actor=LINE_MANAGER)
    assert error.missing == ["second_home_visit"]
    # The refusal says why the check binds: Appendix 7 states the 2nd visit plainly.
    assert error.bases == {"second_home_visit": "policy: Appendix 7, Day 16-25"}
    assert "Post calling card if no answer) (policy: Appendix 7, Day 16-25)" in str(error)
    assert "first_home_visit_outstanding" not in [t for t, _ in walk.timers("fired")]


def test_a_child_who_left_the_country_with_safeguarding_concerns_is_referred_to_mash(
    sqlite_service,
) -> None:
    """Section 4.3: "If there are safeguarding concerns, then a referral to MASH must be made"."""
    walk = opened(sqlite_service)
    walk.facts(
        {
            "left_the_country_evidence": "Aunt says the family flew to Lisbon, one way.",
            "safeguarding_concerns_on_leaving": True,
        },
        on=DAY[3],
    )
    error = walk.refused(GuardFailed, "fire", "child_left_the_country", on=DAY[3])
    assert error.failed == [
        "there are no safeguarding concerns (with concerns, a referral to MASH must be made as "
        "the case ends)"
    ]
    assert error.bases == ["policy: section 4.3; Appendix 1, 8(1)(e)"]
    walk.facts({"safeguarding_concern": "Neighbours heard a child crying."}, on=DAY[3])
    walk.fire("child_left_the_country_referred_to_mash", on=DAY[3])
    assert walk.state == "left_the_country"
    assert ("referral", "mash", "mash_referral", DAY[3]) in walk.outbox()


def test_a_child_who_never_arrived_at_a_new_school_is_not_cme(sqlite_service) -> None:
    """Section 4.3: "If a child fails to attend on the expected first day ... Cases such as these
    are not deemed CME"; told apart by the fact did_not_arrive_on_expected_first_day."""
    walk = opened(sqlite_service)
    walk.facts({"did_not_arrive_on_expected_first_day": False}, on=DAY[2])
    error = walk.refused(GuardFailed, "fire", "not_cme_did_not_arrive_on_first_day", on=DAY[2])
    assert error.failed == [
        "the child failed to attend on the expected first day at a new school (such cases are "
        "not deemed CME)"
    ]
    walk.facts({"did_not_arrive_on_expected_first_day": True}, on=DAY[2])
    walk.fire("not_cme_did_not_arrive_on_first_day", on=DAY[2])
    assert walk.state == "not_cme_did_not_start"
    assert walk.case.terminal
    assert ("notify", "notifier", "not_cme_did_not_start", DAY[2]) in walk.outbox()


def test_a_destination_la_that_never_confirms_receipt_is_escalated(sqlite_service) -> None:
    """Section 6 keeps the child's details "until receipt of notification is confirmed": the wait
    has no timer in the policy; 10 school days counted from entering the wait (Wednesday
    13 January is its Day 1, so Day 10 is Tuesday 26 January 2027), though the case clock
    stands still."""
    walk = opened(sqlite_service)
    walk.facts({"destination_la": "Leeds City Council"}, on=DAY[3])
    walk.fire("moved_to_another_la", on=DAY[3])
    assert walk.state == "awaiting_destination_la_confirmation"
    assert ("destination_la_confirmation_overdue", D(2027, 1, 26)) in walk.timers()
    walk.sweep(D(2027, 1, 25))
    assert walk.events(EventKind.escalation) == []
    walk.sweep(D(2027, 1, 26))
    (chase,) = walk.events(EventKind.escalation)
    assert chase.payload["data"]["timer"] == "destination_la_confirmation_overdue"
    assert chase.effective_date == D(2027, 1, 26)
    walk.fire("destination_la_confirmed_receipt", on=D(2027, 1, 27))
    assert walk.state == "transferred_to_destination_la"


def test_fap_is_open_to_a_child_not_placed_through_in_year_admissions_even_with_vacancies(
    sqlite_service,
) -> None:
    """Section 6: the routes are for those "unable to be placed through the usual In Year
    Admissions process"; section 12's "no vacancies" is an LA choice, switched off."""
    walk = opened(sqlite_service)
    walk.fire("contact_established", on=DAY[2], actor=OFFICER)
    walk.facts({"placement_route": "fair_access_panel", "medical_needs": False}, on=DAY[12])
    walk.fire("refer_to_placement_panel", on=DAY[12])
    assert walk.state == "referred_to_placement_panel"


def test_the_medical_panel_rule_is_an_la_choice_and_its_refusal_says_so(sqlite_service) -> None:
    walk = opened(sqlite_service)
    walk.fire("contact_established", on=DAY[2], actor=OFFICER)
    walk.facts(
        {"placement_route": "school_inclusion_panel_medical", "medical_needs": False}, on=DAY[12]
    )
    error = walk.refused(GuardFailed, "fire", "refer_to_placement_panel", on=DAY[12])
    assert error.failed == ["the School Inclusion Panel is for medical needs"]
    assert error.bases == [
        "LA choice: medical_panel_for_medical_needs — switch it off in "
        "processes/untraceable_cme.yaml la_choices"
    ]
