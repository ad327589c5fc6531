"""Section 37 of the Children's Wellbeing and Schools Act 2026 end to end, both pending versions
commenced on Monday 4 January 2027: the LA decides on consent in a home_education_consent case,
and the school's Ground F removal (removal_grounds version 7) follows that decision, naming the
consent case (the engine has no cross-process link, so the case id is recorded as a fact)."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.cases.commencement import commence_version
from engine.cases.service import Actor, CaseService
from engine.errors import GuardFailed
from tests.scenarios.helpers import LINE_MANAGER, SCHOOL, Walk, notification
from tests.scenarios.removal import Ground, Timeline, propose

D = dt.date
COMMENCED = D(2027, 1, 4)
POLICY_OWNER = Actor("pat", "policy_owner")
RECORDED_AT = dt.datetime(2027, 8, 31, 17, 0, tzinfo=dt.UTC)
"""When the walks are recorded: after every date they use."""
SPRING_2027 = Timeline(
    proposed=COMMENCED, confirmed=D(2027, 1, 11), removed=D(2027, 1, 18), calendar="london"
)
DECIDED = D(2027, 1, 13)


@pytest.fixture(autouse=True)
def _recorded_after_the_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Walk, "recorded_at", RECORDED_AT)


def decided(service: CaseService, decision: str) -> Walk:
    """The LA's consent case for a child under section 47 enquiries, decided on 13 January."""
    for process, version in (("home_education_consent", 1), ("removal_grounds", 7)):
        commence_version(
            service, process, version, on=COMMENCED, at=RECORDED_AT, actor=POLICY_OWNER
        )
    walk = Walk.open(
        service, notification(COMMENCED), on=COMMENCED, process="home_education_consent"
    )
    walk.facts({"relevant_child_condition": "condition_b_section_47"}, on=COMMENCED)
    walk.check("school_told_to_wait", on=COMMENCED)
    walk.fire("relevant_child", on=COMMENCED)
    walk.facts(
        {"consent_decision": decision, "decision_reasons": "recorded for the test"},
        on=DECIDED,
        actor=LINE_MANAGER,
    )
    step = "give_consent" if decision == "consent_given" else "refuse_consent"
    walk.fire(step, on=DECIDED, actor=LINE_MANAGER)
    return walk


def removal_after(service: CaseService, consent: Walk, withdrawal_consent: str) -> Walk:
    """The school's Ground F removal, the parent's letter received, the LA's decision recorded."""
    ground = Ground(
        "Ground F",
        "make_ehe_notification",
        "remove_under_ground_f",
        facts={"school_attendance_order": False, "withdrawal_consent": withdrawal_consent},
        confirmations=("parent_written_ehe_notification_received",),
        notice=("notify", "ehe_team"),
    )
    walk = propose(service, ground, SPRING_2027)
    assert walk.case.process_version == 7
    walk.check("parent_written_ehe_notification_received", on=SPRING_2027.confirmed, actor=SCHOOL)
    walk.facts(
        {"off_roll_date": SPRING_2027.removed, "withdrawal_consent_case": consent.case_id},
        on=SPRING_2027.removed,
        actor=SCHOOL,
    )
    return walk


def test_consent_refused_the_school_cannot_remove_the_name_under_ground_f(
    sqlite_service: CaseService,
) -> None:
    consent = decided(sqlite_service, "consent_refused")
    assert consent.state == "consent_refused"
    removal = removal_after(sqlite_service, consent, "refused")
    removal.refused(
        GuardFailed, "fire", "remove_under_ground_f", on=SPRING_2027.removed, actor=SCHOOL
    )
    assert removal.state != "removed_from_roll"


def test_consent_given_the_school_removes_the_name_under_ground_f(
    sqlite_service: CaseService,
) -> None:
    consent = decided(sqlite_service, "consent_given")
    assert consent.state == "consent_given"
    removal = removal_after(sqlite_service, consent, "given")
    removal.fire("remove_under_ground_f", on=SPRING_2027.removed, actor=SCHOOL)
    assert removal.state == "removed_from_roll"
    assert removal.case.facts["withdrawal_consent_case"] == consent.case_id
