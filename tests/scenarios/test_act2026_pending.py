"""The Children's Wellbeing and Schools Act 2026 processes, pending commencement (s.78(5)): each
applies to no case until a policy owner gives its date, and walks on the london calendar as if
commenced on Monday 4 January 2027 (the first day of the spring term)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cases.commencement import commence_version
from engine.cases.projection import EventKind
from engine.cases.service import Actor, CaseService
from engine.errors import (
    CommandRefused,
    GuardFailed,
    MissingChecks,
    RoleNotPermitted,
    UnknownProcess,
)
from engine.language.loader import load_process_file
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from tests.scenarios.helpers import (
    LINE_MANAGER,
    OFFICER,
    PRIMARY_DOB,
    SCHOOL,
    SECONDARY_DOB,
    Walk,
    calendars,
    notification,
)

D = dt.date
COMMENCED = D(2027, 1, 4)
"""The date the tests give each pending version: Monday 4 January 2027."""
POLICY_OWNER = Actor("pat", "policy_owner")
REGISTER = "children_not_in_school"
CONSENT = "home_education_consent"
SAO = "school_attendance_order"
RECORDED_AT = dt.datetime(2027, 8, 31, 17, 0, tzinfo=dt.UTC)
"""When the walks are recorded: after every date they use (a step is never recorded before it
happens)."""
PROCESSES = Path(__file__).parents[2] / "processes"
FILES = (
    "children_not_in_school_register.yaml",
    "home_education_consent.yaml",
    "school_attendance_orders.yaml",
    "untraceable_cme.yaml",
)
"""The Act's processes and the CME process the register refers children to."""


@pytest.fixture(autouse=True)
def _recorded_after_the_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Walk, "recorded_at", RECORDED_AT)


@pytest.fixture(scope="module")
def act_registry() -> ProcessRegistry:
    """The shipped Act processes (and untraceable_cme), as `processes/` ships them."""
    return ProcessRegistry([load_process_file(PROCESSES / name) for name in FILES])


@pytest.fixture
def sqlite_service(sqlite_url: str, act_registry: ProcessRegistry) -> Iterator[CaseService]:
    """A case service on a fresh SQLite database holding the Act's processes."""
    store = open_store(sqlite_url)
    yield CaseService(store, act_registry, calendars=calendars)
    store.dispose()


def commenced(service: CaseService, *processes: str) -> CaseService:
    """Give each pending version 1 its date, as `cme process commence ID 1 --on 2027-01-04`."""
    for process in processes:
        commence_version(service, process, 1, on=COMMENCED, at=RECORDED_AT, actor=POLICY_OWNER)
    return service


@pytest.mark.parametrize("process", [REGISTER, CONSENT, SAO])
def test_a_pending_act_process_opens_no_case_until_its_date_and_none_before_it(
    sqlite_service: CaseService, process: str
) -> None:
    form = notification(D(2026, 12, 7))
    with pytest.raises(UnknownProcess, match="every version is pending"):
        sqlite_service.open_case(
            form, on=D(2026, 12, 7), at=RECORDED_AT, actor=OFFICER, process=process
        )
    commenced(sqlite_service, process)
    # Given its date, it still applies to no case opened before that date.
    with pytest.raises(UnknownProcess):
        sqlite_service.open_case(
            form, on=D(2026, 12, 18), at=RECORDED_AT, actor=OFFICER, process=process
        )
    walk = Walk.open(sqlite_service, notification(COMMENCED), on=COMMENCED, process=process)
    assert (walk.case.process_id, walk.case.process_version) == (process, 1)


# --- the register of children not in school (EA 1996 ss.436B-436G) ----------------------------


def registered(service: CaseService) -> Walk:
    """A child found by CME tracing to be not in school but not missing, put on the register on
    Day 1 with the entry made."""
    walk = Walk.open(
        commenced(service, REGISTER), notification(COMMENCED), on=COMMENCED, process=REGISTER
    )
    walk.facts(
        {"registration_route": "found_by_cme_tracing", "from_cme_case": "CME-2026-0412"},
        on=COMMENCED,
    )
    walk.check("entry_made", "parent_told_of_duties", on=COMMENCED)
    return walk


def test_a_registered_child_s_information_is_held_support_offered_and_the_entry_reviewed(
    sqlite_service: CaseService,
) -> None:
    walk = registered(sqlite_service)
    refused = walk.refused(CommandRefused, "fire", "information_received", on=D(2027, 1, 11))
    assert "parent_information_received" in str(refused)
    walk.facts(
        {
            "eligibility_condition_c": "not_a_registered_pupil",
            "parent_information_received": True,
            "information_last_updated": D(2027, 1, 11),
        },
        on=D(2027, 1, 11),
    )
    walk.fire("information_received", on=D(2027, 1, 11))
    assert walk.state == "on_register"
    # Support at registration is an LA choice, switched on: the letter is queued.
    assert ("letter", "parent_carer", "cnis_support_offer", D(2027, 1, 11)) in walk.outbox()
    # A parent's update keeps the entry where it is.
    walk.facts({"information_last_updated": D(2027, 2, 1)}, on=D(2027, 2, 1))
    walk.fire("information_updated", on=D(2027, 2, 1))
    assert walk.state == "on_register"
    # Twelve calendar weeks on the register (LA choice): the entry falls due for review on
    # Monday 5 April 2027, twelve weeks after it was completed on 11 January.
    walk.sweep(D(2027, 4, 4))
    assert walk.state == "on_register"
    walk.sweep(D(2027, 4, 5))
    assert walk.state == "review_due"
    (fired,) = walk.events(EventKind.timer_fired)
    assert fired.effective_date == D(2027, 4, 5)
    walk.refused(MissingChecks, "fire", "review_entry", on=D(2027, 4, 6))
    walk.check("entry_reviewed", on=D(2027, 4, 6))
    walk.fire("review_entry", on=D(2027, 4, 6))
    assert walk.state == "on_register"
    # The next review is twelve weeks after this one (the summer half term makes no difference:
    # the LA's review period is in calendar weeks).
    assert walk.timers() == [("review_falls_due", D(2027, 6, 29))]


def test_a_child_who_leaves_the_register_with_no_school_place_becomes_a_cme_case(
    sqlite_service: CaseService,
) -> None:
    walk = registered(sqlite_service)
    on = D(2027, 3, 1)
    walk.facts({"education_known": False}, on=on)
    # No CME case named yet: refused, and the refusal names the fact to record.
    refused = walk.refused(CommandRefused, "fire", "refer_as_missing_education", on=on)
    assert "cme_case" in str(refused)
    # The officer opens the untraceable_cme case (no step opens another process's case) ...
    (cme_case,) = sqlite_service.open_case(
        notification(on), on=on, at=RECORDED_AT, actor=OFFICER, process="untraceable_cme"
    )
    # ... and names it on the register entry, which then leaves the register.
    walk.facts({"cme_case": cme_case}, on=on)
    walk.fire("refer_as_missing_education", on=on)
    assert walk.state == "left_register_missing_education"
    assert walk.case.terminal
    assert sqlite_service.get(cme_case).state == "establishing_contact"


def test_a_child_whose_whereabouts_are_known_moves_off_the_register_not_into_cme(
    sqlite_service: CaseService,
) -> None:
    walk = registered(sqlite_service)
    on = D(2027, 3, 1)
    walk.facts({"education_known": True, "moved_to_la": "Islington"}, on=on)
    walk.refused(GuardFailed, "fire", "refer_as_missing_education", on=on)
    walk.fire("moved_out_of_area", on=on)
    assert walk.state == "left_register_moved_away"
    assert ("notify", "destination_la", "cnis_moved_to_la", on) in walk.outbox()


def test_a_child_leaves_the_register_only_after_the_school_leaving_date(
    sqlite_service: CaseService,
) -> None:
    """Born 20 May 2011: sixteen in the 2026-27 school year, so compulsory school age ends on the
    last Friday in June 2027, 25 June (Education Act 1996 section 8)."""
    commenced(sqlite_service, REGISTER)
    form = notification(COMMENCED, dob=SECONDARY_DOB)
    walk = Walk.open(sqlite_service, form, on=COMMENCED, process=REGISTER)
    refused = walk.refused(GuardFailed, "fire", "over_compulsory_school_age", on=D(2027, 6, 25))
    assert "no longer of compulsory school age" in str(refused)
    walk.fire("over_compulsory_school_age", on=D(2027, 6, 28))
    assert walk.state == "left_register_over_age"


def test_a_concern_about_education_is_referred_for_a_school_attendance_order_by_the_manager(
    sqlite_service: CaseService,
) -> None:
    walk = registered(sqlite_service)
    on = D(2027, 2, 8)
    walk.facts({"suitable_education_concern": True}, on=on)
    walk.refused(RoleNotPermitted, "fire", "refer_for_school_attendance_order", on=on)
    walk.fire("refer_for_school_attendance_order", on=on, actor=LINE_MANAGER)
    assert walk.state == "registered"  # the child stays on the register meanwhile
    assert ("referral", "cme_officer", None, on) in walk.outbox()


# --- LA consent to withdraw for home education (EA 1996 s.434A) --------------------------------


def consent_request(service: CaseService) -> Walk:
    walk = Walk.open(
        commenced(service, CONSENT), notification(COMMENCED), on=COMMENCED, process=CONSENT
    )
    walk.facts({"registered_pupil_at": "Kentish Town Primary School"}, on=COMMENCED)
    return walk


def test_a_child_under_section_47_enquiries_is_not_withdrawn_without_consent(
    sqlite_service: CaseService,
) -> None:
    walk = consent_request(sqlite_service)
    walk.facts({"relevant_child_condition": "condition_b_section_47"}, on=COMMENCED)
    # The school must first be told not to remove the name under Ground F yet.
    walk.refused(MissingChecks, "fire", "relevant_child", on=COMMENCED)
    walk.check("school_told_to_wait", on=COMMENCED)
    walk.refused(GuardFailed, "fire", "not_a_relevant_child", on=COMMENCED)
    walk.fire("relevant_child", on=COMMENCED)
    assert walk.state == "deciding"
    walk.check("views_sought", on=D(2027, 1, 6))
    decided = D(2027, 1, 13)
    walk.facts(
        {"consent_decision": "consent_refused", "decision_reasons": "s.47 enquiries continue"},
        on=decided,
        actor=LINE_MANAGER,
    )
    # Only the LA's decision-maker decides, and only the step its decision names.
    walk.refused(RoleNotPermitted, "fire", "refuse_consent", on=decided)
    walk.refused(GuardFailed, "fire", "give_consent", on=decided, actor=LINE_MANAGER)
    walk.fire("refuse_consent", on=decided, actor=LINE_MANAGER)
    assert walk.state == "consent_refused"
    sent = walk.outbox()
    assert ("letter", "parent_carer", "ehe_consent_refused", decided) in sent
    assert ("notify", "school", "ehe_consent_refused_school", decided) in sent


def test_consent_given_lets_the_school_remove_under_ground_f_and_refers_to_the_register(
    sqlite_service: CaseService,
) -> None:
    walk = consent_request(sqlite_service)
    walk.facts({"relevant_child_condition": "condition_a_special_school"}, on=COMMENCED)
    walk.check("school_told_to_wait", on=COMMENCED)
    walk.fire("relevant_child", on=COMMENCED)
    on = D(2027, 1, 20)
    walk.facts(
        {"consent_decision": "consent_given", "decision_reasons": "EHC plan needs met at home"},
        on=on,
        actor=LINE_MANAGER,
    )
    walk.fire("give_consent", on=on, actor=LINE_MANAGER)
    assert walk.state == "consent_given"
    sent = walk.outbox()
    assert ("notify", "school", "ehe_consent_given_school", on) in sent
    assert ("referral", "ehe_team", None, on) in sent


def test_a_child_who_is_not_a_relevant_child_needs_no_consent(
    sqlite_service: CaseService,
) -> None:
    walk = consent_request(sqlite_service)
    walk.facts({"relevant_child_condition": "not_a_relevant_child"}, on=COMMENCED)
    walk.refused(GuardFailed, "fire", "relevant_child", on=COMMENCED)
    walk.fire("not_a_relevant_child", on=COMMENCED)
    assert walk.state == "consent_not_needed"


# --- school attendance orders (EA 1996 s.436I onwards) -----------------------------------------

NOTICE_SERVED = D(2027, 1, 4)
SATISFY_BY = D(2027, 1, 18)
"""15 days beginning with the day of service (today's s.437(2) minimum): 4 to 18 January."""


def sao_case(service: CaseService, *, dob: dt.date = PRIMARY_DOB, satisfy_by: dt.date) -> Walk:
    """A school attendance order case opened on 4 January 2027 with its preliminary notice's
    facts recorded (served that day, the parent to satisfy the LA by `satisfy_by`)."""
    walk = Walk.open(
        commenced(service, SAO), notification(COMMENCED, dob=dob), on=COMMENCED, process=SAO
    )
    walk.facts(
        {
            "reason_for_notice": "register_information_not_given",
            "register_case": "CNIS-2027-0007",
            "notice_served_on": NOTICE_SERVED,
            "satisfy_by": satisfy_by,
        },
        on=NOTICE_SERVED,
    )
    return walk


def notice_served(service: CaseService, *, dob: dt.date = PRIMARY_DOB) -> Walk:
    walk = sao_case(service, dob=dob, satisfy_by=SATISFY_BY)
    walk.fire("serve_preliminary_notice", on=NOTICE_SERVED)
    assert walk.state == "preliminary_notice_served"
    return walk


def order_decided(walk: Walk, *, on: dt.date) -> None:
    """The line manager's findings and the order's details, recorded on `on`."""
    walk.facts(
        {"parent_satisfied_la": False, "expedient_to_attend_school": True},
        on=on,
        actor=LINE_MANAGER,
    )
    walk.facts({"named_school": "Kentish Town Primary School", "order_served_on": on}, on=on)


def test_no_order_before_the_notice_period_ends_then_the_order_is_served_and_complied_with(
    sqlite_service: CaseService,
) -> None:
    walk = notice_served(sqlite_service)
    order_decided(walk, on=SATISFY_BY)
    refused = walk.refused(GuardFailed, "fire", "serve_order", on=SATISFY_BY, actor=LINE_MANAGER)
    assert "the period the notice gave the parent has ended" in str(refused)
    walk.fire("serve_order", on=D(2027, 1, 19), actor=LINE_MANAGER)
    assert walk.state == "order_in_force"
    assert ("letter", "parent_carer", "school_attendance_order", D(2027, 1, 19)) in walk.outbox()
    walk.facts({"registered_at_named_school": True}, on=D(2027, 2, 1), actor=SCHOOL)
    walk.refused(GuardFailed, "fire", "refer_for_prosecution", on=D(2027, 2, 1), actor=LINE_MANAGER)
    walk.fire("child_registered_at_named_school", on=D(2027, 2, 1), actor=SCHOOL)
    assert walk.state == "complied"


def test_an_order_ends_when_the_child_passes_the_school_leaving_date(
    sqlite_service: CaseService,
) -> None:
    """Born 20 May 2011: the order ends after Friday 25 June 2027, the school leaving date."""
    walk = notice_served(sqlite_service, dob=SECONDARY_DOB)
    order_decided(walk, on=D(2027, 1, 19))
    walk.fire("serve_order", on=D(2027, 1, 19), actor=LINE_MANAGER)
    walk.refused(GuardFailed, "fire", "order_ends_over_age", on=D(2027, 6, 25))
    walk.fire("order_ends_over_age", on=D(2027, 6, 28))
    assert walk.state == "ended_over_age"


def test_a_parent_who_satisfies_the_la_within_the_period_gets_no_order(
    sqlite_service: CaseService,
) -> None:
    walk = notice_served(sqlite_service)
    walk.facts({"parent_satisfied_la": True}, on=D(2027, 1, 12), actor=LINE_MANAGER)
    walk.fire("parent_satisfies_la", on=D(2027, 1, 12), actor=LINE_MANAGER)
    assert walk.state == "closed_parent_satisfied"


def test_a_notice_whose_period_ends_on_the_day_of_service_is_refused(
    sqlite_service: CaseService,
) -> None:
    walk = sao_case(sqlite_service, satisfy_by=NOTICE_SERVED)
    walk.refused(GuardFailed, "fire", "serve_preliminary_notice", on=NOTICE_SERVED)
