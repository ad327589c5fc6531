"""Appendix 7 walked with real dates on london-2024-25: a notification on Monday 21 October 2024
makes Day 5 Friday 25 October, skips half term (28 October - 1 November), and makes Day 16
Monday 18 November and Day 26 Monday 2 December 2024."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.cases.projection import EventKind
from engine.cases.service import CaseService
from engine.errors import GuardFailed, MissingChecks, RoleNotPermitted, TransitionNotAllowed
from engine.time.calendars import load_calendar
from tests.scenarios.helpers import (
    LINE_MANAGER,
    OFFICER,
    SECONDARY_DOB,
    Walk,
    notification,
)

D = dt.date
NOTIFIED = D(2024, 10, 21)
"""Day 1: the CME notification is received (a Monday)."""
DAY = {
    1: D(2024, 10, 21),
    2: D(2024, 10, 22),
    3: D(2024, 10, 23),
    4: D(2024, 10, 24),
    5: D(2024, 10, 25),
    6: D(2024, 11, 4),
    7: D(2024, 11, 5),
    8: D(2024, 11, 6),
    10: D(2024, 11, 8),
    12: D(2024, 11, 12),
    15: D(2024, 11, 15),
    16: D(2024, 11, 18),
    17: D(2024, 11, 19),
    20: D(2024, 11, 22),
    24: D(2024, 11, 28),
    25: D(2024, 11, 29),
    26: D(2024, 12, 2),
    27: D(2024, 12, 3),
}
"""Day N of a case notified on 21 October 2024, as `cme calendar school-day` gives them."""
EIGHT_WEEKS = D(2024, 12, 16)
"""Eight calendar weeks from the notification (section 12)."""

DAY_1_CHECKS = ("core_information_checked", "opened_on_cme_register")
DAY_5_15_CHECKS = (
    "first_formal_letter_sent",
    "mash_check",
    "camden_resident_index_check",
    "housing_check",
    "council_tax_check",
    "yos_check",
    "nhs_spine_check",
)
DAY_16_25_CHECKS = (
    "second_formal_letter_sent",
    "pan_london_check",
    "second_home_visit",
    "giap_check",
)


def opened(service: CaseService, **form: object) -> Walk:
    """A case notified on Day 1 with the Day 1 steps recorded that day."""
    walk = Walk.open(service, notification(NOTIFIED, **form), on=NOTIFIED)  # type: ignore[arg-type]
    walk.check(*DAY_1_CHECKS, on=DAY[1])
    return walk


TRACING = (
    (1, ("contact_attempted_by_phone",)),
    (2, ("contact_attempted_by_email",)),
    (5, ("first_formal_letter_sent",)),
    (6, ("mash_check", "camden_resident_index_check")),
    (8, ("housing_check", "council_tax_check")),
    (10, ("yos_check", "nhs_spine_check")),
    (12, ("first_home_visit",)),
    (16, ("second_formal_letter_sent",)),
    (17, ("pan_london_check",)),
    (20, ("second_home_visit",)),
    (24, ("giap_check",)),
)
"""When each Appendix 7 check is made in these walks: (Day N, checks), each inside its window."""


def traced(walk: Walk, *, through: int = 25, skip: tuple[str, ...] = ()) -> None:
    """Every Appendix 7 check due up to Day `through` recorded on its day, except `skip`."""
    for day, ids in TRACING:
        todo = [i for i in ids if i not in skip]
        if day <= through and todo:
            walk.check(*todo, on=DAY[day])


def test_the_day_numbers_are_school_days_on_the_shipped_calendar() -> None:
    cal = load_calendar("london-2024-25")
    assert {n: cal.school_day_n(NOTIFIED, n) for n in DAY} == DAY
    assert "skipping half term 28 Oct – 1 Nov" in cal.explain(NOTIFIED, 26)


def test_opening_arms_the_day_1_to_5_timers_on_their_school_days(sqlite_service) -> None:
    walk = Walk.open(sqlite_service, notification(NOTIFIED), on=NOTIFIED)
    assert walk.state == "establishing_contact"
    assert walk.timers() == [
        ("core_information_checked_outstanding", DAY[2]),
        ("opened_on_cme_register_outstanding", DAY[2]),
        # The Day 1–3 window is escalated the morning after its last day: Day 4, not Day 3.
        ("contact_attempted_by_phone_outstanding", DAY[4]),
        ("contact_attempted_by_email_outstanding", DAY[4]),
        ("reasonable_checks_starts", DAY[5]),
    ]


def test_day_1_steps_not_recorded_are_escalated_to_the_officer_on_day_2(sqlite_service) -> None:
    walk = Walk.open(sqlite_service, notification(NOTIFIED), on=NOTIFIED)
    walk.sweep(DAY[2])
    escalations = walk.events(EventKind.escalation)
    assert [
        (e.payload["data"]["timer"], e.effective_date, e.payload["data"]["to_role"])
        for e in escalations
    ] == [
        ("core_information_checked_outstanding", DAY[2], "cme_officer"),
        ("opened_on_cme_register_outstanding", DAY[2], "cme_officer"),
    ]
    assert walk.case.overdue
    assert walk.outbox() == [("notify", "cme_officer", "escalation", DAY[2])] * 2


def test_contact_established_on_day_2_moves_to_supporting_a_school_place(sqlite_service) -> None:
    walk = opened(sqlite_service)
    walk.check("contact_attempted_by_phone", on=DAY[2], outcome="mother answered")
    walk.fire("contact_established", on=DAY[2])
    case = walk.case
    assert case.state == "supporting_to_school_place"
    assert walk.day(case.state_entered_on) == 2
    # The Day 3 and Day 5 timers of establishing contact are cancelled; the 8-week target runs.
    assert ("reasonable_checks_starts", DAY[5]) in walk.timers("cancelled")
    assert walk.timers() == [("reintegration_target_missed", EIGHT_WEEKS)]
    walk.sweep(DAY[16])
    assert walk.state == "supporting_to_school_place"
    assert walk.events(EventKind.timer_fired, EventKind.escalation) == []
    # Placed through the usual In Year Admissions process, within the 8 weeks.
    walk.facts(
        {
            "placement_route": "in_year_admissions",
            "placement_provision": "Kentish Town Primary School",
        },
        on=DAY[16],
    )
    walk.fire("child_placed", on=DAY[16])
    assert walk.case.state == "placed"
    assert walk.case.closed_on == DAY[16]
    assert walk.timers() == []
    walk.refused(TransitionNotAllowed, "check", "giap_check", on=DAY[17])


def test_untraceable_closed_by_the_line_manager_on_day_26(service) -> None:
    """The whole Appendix 7 timeline with every check in its window (SQLite and PostgreSQL)."""
    walk = opened(service)
    traced(walk)
    walk.sweep(DAY[26])
    moves = [
        (e.payload["data"]["trigger"], e.effective_date, e.actor)
        for e in walk.events(EventKind.timer_fired)
    ]
    assert moves == [
        ("start_reasonable_checks", DAY[5], "scheduler"),
        ("start_further_checks", DAY[16], "scheduler"),
        ("start_closure_decision", DAY[26], "scheduler"),
    ]
    assert walk.state == "closure_decision"
    # Every check was on time, so each check's escalation was withdrawn as it was recorded:
    # nobody was chased, and no reminder that was not needed clutters the history.
    assert walk.events(EventKind.escalation) == []
    assert walk.events(EventKind.timer_lapsed) == []
    withdrawn = [t for t, _ in walk.timers("cancelled") if t.endswith("_outstanding")]
    assert len(withdrawn) == 4 + 7 + 4
    walk.check("day_26_closure_form", on=DAY[26])
    error = walk.refused(RoleNotPermitted, "fire", "close_untraceable", on=DAY[26], actor=OFFICER)
    assert "School Inclusion Team Manager (line_manager)" in str(error)
    walk.fire("close_untraceable", on=DAY[26], actor=LINE_MANAGER)
    case = walk.case
    assert (case.state, case.terminal, case.closed_on) == ("closed_untraceable", True, DAY[26])
    assert case.closed_on is not None
    assert walk.day(case.closed_on) == 26
    every_check = {
        *DAY_1_CHECKS,
        *DAY_5_15_CHECKS,
        *DAY_16_25_CHECKS,
        "day_26_closure_form",
        "contact_attempted_by_phone",
        "contact_attempted_by_email",
    }
    assert every_check <= set(case.checks)
    last = walk.events()[-1]
    assert (last.actor, last.role) == ("dylan", "line_manager")
    assert last.rule.startswith("close_untraceable: Appendix 7, Day 26; section 10")
    assert walk.outbox() == [
        ("letter", "parent_carer", "first_formal_cme_letter", DAY[5]),
        ("letter", "parent_carer", "second_formal_cme_letter", DAY[16]),
        ("notify", "london_authorities", "pan_london_check", DAY[16]),
        ("notify", "line_manager", "closure_decision_due", DAY[26]),
        ("notify", "notifier", "untraceable_closure_notifier", DAY[26]),
    ]
    assert walk.timers() == []


def test_checks_window_by_window_are_on_their_school_days(sqlite_service) -> None:
    walk = opened(sqlite_service)
    traced(walk)
    checks = walk.case.checks
    days = {check: walk.day(D.fromisoformat(done["on"])) for check, done in checks.items()}
    assert all(days[c] == 1 for c in DAY_1_CHECKS)
    assert all(5 <= days[c] <= 15 for c in DAY_5_15_CHECKS)
    assert all(16 <= days[c] <= 25 for c in DAY_16_25_CHECKS)


def test_closure_is_refused_until_every_check_is_recorded(sqlite_service) -> None:
    walk = opened(sqlite_service)
    traced(walk, skip=("second_home_visit", "giap_check"))
    walk.sweep(DAY[25])
    assert walk.events(EventKind.escalation) == []  # Day 25 is still in the window
    walk.sweep(DAY[26])
    chased = [
        (e.payload["data"]["timer"], e.effective_date) for e in walk.events(EventKind.escalation)
    ]
    assert chased == [
        ("second_home_visit_outstanding", DAY[26]),
        ("giap_check_outstanding", DAY[26]),
    ]
    walk.check("day_26_closure_form", on=DAY[26])
    error = walk.refused(MissingChecks, "fire", "close_untraceable", on=DAY[26], actor=LINE_MANAGER)
    assert error.missing == ["second_home_visit", "giap_check"]
    assert "giap_check (Check DfE Get Information about Pupils (GIAP) database)" in str(error)
    walk.check("second_home_visit", "giap_check", on=DAY[26])
    walk.fire("close_untraceable", on=DAY[26], actor=LINE_MANAGER)
    assert walk.state == "closed_untraceable"


def test_the_line_manager_may_keep_the_case_open_and_decide_later(sqlite_service) -> None:
    walk = opened(sqlite_service)
    traced(walk)
    walk.check("day_26_closure_form", on=DAY[26])
    error = walk.refused(GuardFailed, "fire", "keep_case_open", on=DAY[26], actor=LINE_MANAGER)
    assert "reason_case_kept_open" in str(error)
    walk.facts(
        {"reason_case_kept_open": "aunt reports the family may be in Luton"},
        on=DAY[26],
        actor=LINE_MANAGER,
    )
    walk.fire("keep_case_open", on=DAY[26], actor=LINE_MANAGER)
    assert walk.state == "tracing_continues"
    assert not walk.case.terminal
    assert walk.timers() == []
    back = D(2024, 12, 9)
    walk.fire("return_for_closure_decision", on=back)
    # Day 27 is past, so the line manager is told at once that the decision is outstanding
    # (the policy sets no review period for a case kept open: see the process's questions).
    walk.sweep(back)
    (told,) = walk.events(EventKind.escalation)
    assert (told.payload["data"]["to_role"], told.effective_date) == ("line_manager", back)
    walk.fire("close_untraceable", on=back, actor=LINE_MANAGER)
    assert walk.state == "closed_untraceable"


def test_reasonable_checks_may_start_on_day_4_but_not_within_days_1_to_3(sqlite_service) -> None:
    walk = opened(sqlite_service)
    error = walk.refused(GuardFailed, "fire", "start_reasonable_checks", on=DAY[3])
    assert error.failed == ["the Day 1–3 window for establishing contact has passed"]
    walk.fire("start_reasonable_checks", on=DAY[4])
    assert walk.state == "reasonable_checks"
    assert ("first_formal_letter_sent_outstanding", DAY[16]) in walk.timers()
    assert ("further_checks_starts", DAY[16]) in walk.timers()


def test_safeguarding_concern_on_day_12_is_referred_to_mash_at_once(sqlite_service) -> None:
    walk = opened(sqlite_service)
    traced(walk, through=12)
    assert walk.state == "reasonable_checks"
    assert walk.day(DAY[12]) == 12
    timers_before = walk.timers()
    error = walk.refused(GuardFailed, "fire", "refer_to_mash", on=DAY[12])
    assert "safeguarding_concern" in str(error)
    walk.facts({"safeguarding_concern": "neighbour heard shouting; child not seen"}, on=DAY[12])
    result = walk.fire("refer_to_mash", on=DAY[12])
    assert result.event.effective_date == DAY[12]
    assert (result.event.rule or "").startswith(
        "refer_to_mash: Appendix 7, points to note; section 13"
    )
    assert walk.state == "reasonable_checks"
    assert walk.timers() == timers_before  # the Day 15 and Day 16 timers run on
    assert walk.outbox()[-1] == ("referral", "mash", "mash_referral", DAY[12])
    # The police are involved only where a crime is suspected.
    walk.facts({"crime_suspected": False}, on=DAY[12])
    error = walk.refused(GuardFailed, "fire", "involve_police", on=DAY[12])
    assert error.failed == ["there is reason to suspect a crime has been committed"]
    assert "(crime_suspected: no)" in str(error)
    walk.facts({"crime_suspected": True}, on=DAY[12])
    walk.fire("involve_police", on=DAY[12], actor=LINE_MANAGER)
    assert walk.outbox()[-1] == ("referral", "police", "police_referral", DAY[12])
    walk.sweep(DAY[16])
    assert walk.state == "further_checks"


def test_move_to_another_la_waits_for_confirmation_of_receipt(sqlite_service) -> None:
    walk = opened(sqlite_service)
    traced(walk, through=6)
    error = walk.refused(GuardFailed, "fire", "moved_to_another_la", on=DAY[7])
    assert "destination_la" in str(error)
    walk.facts({"destination_la": "London Borough of Barnet"}, on=DAY[7])
    walk.fire("moved_to_another_la", on=DAY[7])
    assert walk.state == "awaiting_destination_la_confirmation"
    assert walk.outbox()[-1] == (
        "notify",
        "destination_la",
        "cme_notification_to_destination_la",
        DAY[7],
    )
    # SIT keeps the case until receipt is confirmed: no timer moves it, and its clock stands still.
    assert walk.timers() == []
    walk.sweep(DAY[27])
    assert walk.state == "awaiting_destination_la_confirmation"
    assert not walk.case.terminal
    assert walk.day(DAY[27]) == 7
    walk.fire("destination_la_confirmed_receipt", on=DAY[27])
    case = walk.case
    assert (case.state, case.terminal, case.closed_on) == (
        "transferred_to_destination_la",
        True,
        DAY[27],
    )


def test_child_who_left_the_country_ends_with_the_evidence(sqlite_service) -> None:
    walk = opened(sqlite_service)
    walk.sweep(DAY[6])
    error = walk.refused(GuardFailed, "fire", "child_left_the_country", on=DAY[6])
    assert "left_the_country_evidence" in str(error)
    walk.facts({"left_the_country_evidence": "school received a letter from Lisbon"}, on=DAY[6])
    walk.fire("child_left_the_country", on=DAY[6])
    assert walk.case.state == "left_the_country"
    assert walk.case.terminal


def test_primary_child_placed_within_8_weeks_via_the_primary_inclusion_forum(
    sqlite_service,
) -> None:
    walk = opened(sqlite_service)
    walk.fire("contact_established", on=DAY[2])
    assert walk.case.facts["age_phase"] == "primary"
    walk.facts(
        {
            "placement_route": "fair_access_panel",
            "no_vacancy_in_camden_schools": True,
            "medical_needs": False,
        },
        on=DAY[6],
    )
    error = walk.refused(GuardFailed, "fire", "refer_to_placement_panel", on=DAY[6])
    assert error.failed == ["the Fair Access Panel (FAP) is for secondary aged children"]
    assert "age_phase: primary" in str(error)
    assert "placement_route: fair access panel" in str(error)
    walk.facts({"placement_route": "primary_inclusion_forum"}, on=DAY[6])
    walk.fire("refer_to_placement_panel", on=DAY[6])
    assert walk.state == "referred_to_placement_panel"
    assert walk.outbox()[-1] == ("referral", "placement_panel", "placement_panel_referral", DAY[6])
    assert walk.timers() == [("reintegration_target_missed_at_panel", EIGHT_WEEKS)]
    placed_on = D(2024, 12, 9)
    walk.facts({"placement_provision": "Carlton Primary School"}, on=placed_on)
    walk.fire("child_placed", on=placed_on)
    assert walk.case.state == "placed"
    assert walk.case.closed_on == placed_on
    walk.sweep(D(2025, 1, 6))
    assert walk.events(EventKind.escalation) == []


def test_secondary_child_beyond_8_weeks_via_the_fair_access_panel(sqlite_service) -> None:
    walk = opened(sqlite_service, dob=SECONDARY_DOB)
    walk.fire("contact_established", on=DAY[2])
    assert walk.case.facts["age_phase"] == "secondary"
    walk.facts(
        {
            "placement_route": "primary_inclusion_forum",
            "no_vacancy_in_camden_schools": False,
            "medical_needs": False,
        },
        on=DAY[6],
    )
    error = walk.refused(GuardFailed, "fire", "refer_to_placement_panel", on=DAY[6])
    assert error.failed == [
        "the Primary Inclusion Forum (PIF) is for primary aged children",
        "FAP and PIF referrals are for the rare occasion where there are no vacancies in "
        "Camden schools",
    ]
    walk.facts(
        {"placement_route": "fair_access_panel", "no_vacancy_in_camden_schools": True}, on=DAY[6]
    )
    walk.fire("refer_to_placement_panel", on=DAY[6])
    walk.sweep(EIGHT_WEEKS)
    (missed,) = walk.events(EventKind.escalation)
    assert (missed.effective_date, missed.payload["data"]["to_role"]) == (
        EIGHT_WEEKS,
        "line_manager",
    )
    assert "within 8 weeks (section 12)" in missed.payload["data"]["message"]
    assert walk.case.overdue
    assert walk.state == "referred_to_placement_panel"
    placed_on = D(2025, 1, 6)
    walk.facts({"placement_provision": "Haverstock School"}, on=placed_on)
    walk.fire("child_placed", on=placed_on)
    assert walk.case.state == "placed"
    assert not walk.case.overdue


def test_child_with_an_ehcp_is_placed_by_the_sen_service_with_the_clock_stopped(
    sqlite_service,
) -> None:
    walk = opened(sqlite_service, ehc_plan=True)
    walk.fire("contact_established", on=DAY[2])
    walk.fire("refer_to_sen_service", on=DAY[3])
    assert walk.state == "sen_service_leading"
    assert walk.outbox()[-1] == ("referral", "sen_service", "sen_service_referral", DAY[3])
    assert walk.day(DAY[16]) == 3  # the clock stands still while the SEN service leads
    placed_on = DAY[16]
    walk.facts({"placement_provision": "Swiss Cottage School"}, on=placed_on)
    walk.fire("placed_by_sen_service", on=placed_on, actor=type(OFFICER)("sen", "sen_service"))
    assert walk.case.state == "placed"


@pytest.mark.parametrize("state_trigger", ["contact_established", "moved_to_another_la"])
def test_closed_cases_refuse_every_step(sqlite_service, state_trigger: str) -> None:
    walk = opened(sqlite_service)
    walk.facts(
        {
            "destination_la": "Luton",
            "placement_route": "in_year_admissions",
            "placement_provision": "Kentish Town Primary School",
        },
        on=DAY[2],
    )
    walk.fire(state_trigger, on=DAY[2])
    walk.fire(
        "child_placed"
        if state_trigger == "contact_established"
        else "destination_la_confirmed_receipt",
        on=DAY[3],
    )
    assert walk.case.terminal
    walk.refused(TransitionNotAllowed, "fire", "refer_to_mash", on=DAY[4])
    walk.refused(TransitionNotAllowed, "facts", {"ground": "8(1)(h)"}, on=DAY[4])


def test_a_panel_referral_after_the_8_weeks_reminds_the_line_manager_again(
    sqlite_service,
) -> None:
    walk = opened(sqlite_service, dob=SECONDARY_DOB)
    walk.fire("contact_established", on=DAY[2])
    walk.sweep(EIGHT_WEEKS)
    assert [e.effective_date for e in walk.events(EventKind.escalation)] == [EIGHT_WEEKS]
    referred = D(2025, 1, 6)
    walk.facts(
        {
            "placement_route": "fair_access_panel",
            "no_vacancy_in_camden_schools": True,
            "medical_needs": False,
        },
        on=referred,
    )
    walk.fire("refer_to_placement_panel", on=referred)
    assert not walk.case.overdue
    walk.sweep(referred)
    # The 8 weeks are counted from the notification, so the panel's target is already missed.
    assert [e.effective_date for e in walk.events(EventKind.escalation)] == [EIGHT_WEEKS, referred]
    assert walk.case.overdue
