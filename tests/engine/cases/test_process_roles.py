"""Roles on checks and facts, and refusals that name every reason at once in the policy's words,
judged in the decision layer (no database): a small off-rolling process after section 4.3, whose
confirmation of receipt only the CME Officer records and whose off roll date only the school
gives."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from engine.cases import condition_words, decide, process_roles, timer_decision
from engine.cases.decide import SCHEDULER_ACTOR, Situation
from engine.cases.events import CheckRecorded, FactChanged, TimerLapsed
from engine.cases.projection import CaseState
from engine.errors import (
    BackdatingRefused,
    GuardFailed,
    MissingChecks,
    Refusal,
    RoleNotPermitted,
    TransitionNotAllowed,
)
from engine.language.definition import ConditionDefinition, FactDefinition, FactType
from engine.language.expressions import compile_condition
from engine.language.loader import load_process_text
from engine.language.machine import CompiledProcess
from engine.language.registry import ProcessRegistry
from engine.protection.access import Actor
from engine.time.calendars import DEFAULT_CALENDAR, load_calendar

OPENED = dt.date(2024, 11, 25)
ON = dt.date(2024, 12, 3)
AT = dt.datetime(2025, 9, 1, 9, tzinfo=dt.UTC)
SCHOOL = Actor("attendance-lead", "school")
OFFICER = Actor("sona", "cme_officer")

OFF_ROLLING = """
kind: process
id: off_rolling
title: Removing a pupil from roll once the CME Officer confirms receipt
version: 1
effective_from: 2024-09-01
source: {document: Test policy, section: section 4.3}
clock: {day_one: the day the school proposes the removal}
initial: awaiting_confirmation
roles:
  school: {title: School (designated staff)}
  cme_officer: {title: CME Officer}
facts:
  off_roll_date:
    type: date
    description: The date the pupil's name is removed from the admission register.
    recorded_by: [school]
  absence_authorised:
    type: bool
    description: The school authorised the absence.
  joint_enquiries_failed:
    type: bool
    description: Both the school and the LA made reasonable enquiries and failed.
    recorded_by: [school, cme_officer]
  destination_type:
    type: enum
    values: [new_uk_address, left_the_country]
    description: Where the child has gone.
    recorded_by: [school]
states:
  awaiting_confirmation:
    title: Awaiting the CME Officer's confirmation
    description: The school waits for the CME Officer to confirm receipt.
    ref: section 4.3
    checklist:
      - id: cme_officer_confirmed_receipt
        wording: >-
          The CME Officer has confirmed receipt of the CME notification (Please wait for CME
          Officer to confirm receipt before off rolling).
        recorded_by: [cme_officer]
      - id: evidence_of_checks_completed
        wording: The Evidence of Checks form is completed.
  removed:
    title: Removed from roll
    description: The pupil's name is off the admission register.
    terminal: true
    ref: section 4.3
triggers:
  - id: remove_from_roll
    title: Remove from roll
    source: [awaiting_confirmation]
    dest: removed
    roles: [school]
    ref: section 4.3
    requires_checks: [cme_officer_confirmed_receipt, evidence_of_checks_completed]
    requires_facts: [off_roll_date, absence_authorised, joint_enquiries_failed]
    guards:
      - {expr: "off_roll_date >= effective_date", says: the off roll date must not be backdated}
      - {expr: "!absence_authorised", says: the absence was not authorised by the school}
      - {expr: "destination_type == 'left_the_country'", says: the child has left the country}
    note: A drafting note that no refusal may show.
"""


@pytest.fixture(scope="module")
def process() -> CompiledProcess:
    loaded = load_process_text(OFF_ROLLING, "off_rolling.yaml")
    return ProcessRegistry([loaded]).in_force("off_rolling", OPENED)


def situation(
    process: CompiledProcess, *, actor: Actor = SCHOOL, on: dt.date = ON, **changes: Any
) -> Situation:
    case = replace(
        CaseState(
            id="CME-000001",
            process_id="off_rolling",
            process_version=1,
            state="awaiting_confirmation",
            terminal=False,
            calendar=DEFAULT_CALENDAR,
            opened_on=OPENED,
            state_entered_on=OPENED,
            last_effective=OPENED,
            closed_on=None,
            seq=1,
            head_hash="0" * 64,
        ),
        **changes,
    )
    return Situation(
        case=case,
        compiled=process,
        actor=actor,
        on=on,
        at=AT,
        calendar=load_calendar(DEFAULT_CALENDAR),
        checks=process.definition.checks(),
    )


def test_only_the_cme_officer_records_the_confirmation_of_receipt(
    process: CompiledProcess,
) -> None:
    with pytest.raises(RoleNotPermitted) as info:
        decide.record_check(situation(process), "cme_officer_confirmed_receipt", "confirmed")
    err = info.value
    assert (err.role, err.allowed) == ("school", {"cme_officer": "CME Officer"})
    assert str(err) == (
        "check cme_officer_confirmed_receipt (The CME Officer has confirmed receipt of the CME "
        "notification (Please wait for CME Officer to confirm receipt before off rolling)) may "
        "be recorded only by CME Officer (cme_officer); you are acting as School (designated "
        "staff) (school)"
    )
    draft = decide.record_check(
        situation(process, actor=OFFICER), "cme_officer_confirmed_receipt", "confirmed"
    )
    assert isinstance(draft.body, CheckRecorded)
    # A check reserved to no role may be recorded by any role of the process.
    assert decide.record_check(situation(process), "evidence_of_checks_completed", "form seen")


def test_a_reserved_check_names_every_reason_with_the_role(process: CompiledProcess) -> None:
    """Backdated and recorded by the wrong role: both reasons at once."""
    sit = situation(process, last_effective=ON + dt.timedelta(days=1), on=ON)
    with pytest.raises(Refusal) as info:
        decide.record_check(sit, "cme_officer_confirmed_receipt", "confirmed")
    assert [type(r) for r in info.value.reasons] == [RoleNotPermitted, BackdatingRefused]


def test_a_role_outside_the_process_is_refused_once_and_the_engine_is_not(
    process: CompiledProcess,
) -> None:
    with pytest.raises(RoleNotPermitted) as info:
        decide.record_check(
            situation(process, actor=Actor("x", "janitor")), "cme_officer_confirmed_receipt", "x"
        )
    assert not isinstance(info.value, Refusal)
    assert str(info.value) == (
        "role 'janitor' may not record a check in off_rolling, which is done only by its roles: "
        "School (designated staff) (school), CME Officer (cme_officer)"
    )
    # The engine records a check only when a letter the process sends records it.
    sit = situation(process, actor=SCHEDULER_ACTOR)
    assert decide.record_check(sit, "cme_officer_confirmed_receipt", "letter sent")


def test_a_fact_reserved_to_the_school_is_refused_to_the_officer(
    process: CompiledProcess,
) -> None:
    with pytest.raises(RoleNotPermitted) as info:
        decide.set_fact(situation(process, actor=OFFICER), "off_roll_date", "2024-12-03")
    assert str(info.value) == (
        "fact off_roll_date (The date the pupil's name is removed from the admission register) "
        "may be recorded only by School (designated staff) (school); you are acting as CME "
        "Officer (cme_officer)"
    )
    assert isinstance(
        decide.set_fact(situation(process), "off_roll_date", "2024-12-03").body, FactChanged
    )
    for actor in (SCHOOL, OFFICER):
        assert decide.set_fact(situation(process, actor=actor), "joint_enquiries_failed", "yes")
        assert decide.set_fact(situation(process, actor=actor), "absence_authorised", "no")


def test_a_case_opened_with_facts_another_role_records_is_refused(
    process: CompiledProcess,
) -> None:
    definition = process.definition
    refusals = process_roles.open_refusals(
        definition,
        OFFICER,
        ["destination_type", "absence_authorised", "off_roll_date", "undeclared"],
    )
    assert all(isinstance(r, RoleNotPermitted) for r in refusals)
    assert [getattr(r, "recorded", None) for r in refusals] == [
        "fact destination_type (Where the child has gone)",
        "fact off_roll_date (The date the pupil's name is removed from the admission register)",
    ]
    assert process_roles.open_refusals(definition, SCHOOL, ["destination_type"]) == []
    (outside,) = process_roles.open_refusals(definition, Actor("x", "janitor"), ["off_roll_date"])
    assert isinstance(outside, RoleNotPermitted)
    assert (outside.doing, outside.recorded) == ("open a case", None)


def test_a_refusal_names_every_reason_at_once_in_the_policys_words(
    process: CompiledProcess,
) -> None:
    """Wrong role, two checks missing, a fact missing, and three failing conditions: one
    message, values as a person writes them."""
    sit = situation(
        process,
        actor=OFFICER,
        facts={
            "off_roll_date": "2024-12-02",
            "absence_authorised": True,
            "destination_type": "new_uk_address",
        },
    )
    with pytest.raises(Refusal) as info:
        decide.take_step(sit, decide.step_of(process.definition, "remove_from_roll"))
    err = info.value
    assert [type(r) for r in err.reasons] == [
        RoleNotPermitted,
        MissingChecks,
        GuardFailed,
        GuardFailed,
    ]
    message = str(err)
    for part in (
        "remove_from_roll (Remove from roll) may be taken only by School (designated staff) "
        "(school); you are acting as CME Officer (cme_officer)",
        "needs these checks recorded first: cme_officer_confirmed_receipt",
        "evidence_of_checks_completed (The Evidence of Checks form is completed)",
        "needs these facts recorded first: joint_enquiries_failed (Both the school and the LA "
        "made reasonable enquiries and failed)",
        "condition not met: the off roll date must not be backdated (off_roll_date: 2 Dec 2024; "
        "it takes effect on 3 Dec 2024)",
        "condition not met: the absence was not authorised by the school (absence_authorised: yes)",
        "condition not met: the child has left the country (destination_type: new uk address)",
    ):
        assert part in message
    for code in ("True", "False", "2024-12-0", "effective_date", "==", "drafting note"):
        assert code not in message
    failing = err.reasons[-1]
    assert isinstance(failing, GuardFailed)
    assert failing.read == [
        "off_roll_date: 2 Dec 2024; it takes effect on 3 Dec 2024",
        "absence_authorised: yes",
        "destination_type: new uk address",
    ]


def test_a_step_from_the_wrong_stage_still_names_its_checks_and_facts(
    process: CompiledProcess,
) -> None:
    sit = situation(process, state="removed", facts={"absence_authorised": False})
    with pytest.raises(Refusal) as info:
        decide.take_step(sit, decide.step_of(process.definition, "remove_from_roll"))
    assert [type(r) for r in info.value.reasons] == [
        TransitionNotAllowed,
        MissingChecks,
        GuardFailed,
        GuardFailed,
    ]
    assert info.value.unset == ["off_roll_date", "joint_enquiries_failed"]
    # A condition reading a fact no step requires is judged, and says it is not recorded.
    assert "the child has left the country (destination_type: not recorded)" in str(info.value)


TIMED = OFF_ROLLING.replace(
    """    checklist:
      - id: cme_officer_confirmed_receipt""",
    """    timers:
      - id: remove_on_day_8
        description: Day 8, the school removes the pupil.
        day: 8
        fire: remove_from_roll
        ref: section 4.3
    checklist:
      - id: cme_officer_confirmed_receipt""",
).replace(
    "    roles: [school]\n    ref: section 4.3\n    requires_checks",
    "    roles: [school]\n    by_timer: true\n    ref: section 4.3\n    requires_checks",
)


def test_a_timers_refused_step_lapses_naming_every_reason_or_its_only_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = load_process_text(TIMED.replace("id: off_rolling", "id: timed_off_rolling"), "t.yaml")
    timed = ProcessRegistry([loaded]).in_force("timed_off_rolling", OPENED)
    (tdef,) = timed.definition.states["awaiting_confirmation"].timers
    timer = {"key": "k", "state": "awaiting_confirmation", "timer_id": tdef.id, "explanation": ""}
    sit = replace(
        situation(timed, actor=SCHEDULER_ACTOR, facts={"absence_authorised": True}),
        on=dt.date(2024, 12, 4),
    )
    outcome = timer_decision.fire_timer(sit, timer, tdef)
    assert outcome.status == "lapsed"
    assert outcome.draft is not None
    assert isinstance(outcome.draft.body, TimerLapsed)
    because = outcome.draft.body.because
    # The checks, the facts and the conditions, each said; none hides another.
    assert [b.split(" ", 2)[1] for b in because] == ["needs", "needs", "refused:"]
    assert "cme_officer_confirmed_receipt" in because[0]
    assert "off_roll_date" in because[1]
    assert "the absence was not authorised by the school (absence_authorised: yes)" in because[2]
    # A step refused for one reason of any kind lapses saying it, rather than stopping the sweep.
    only = BackdatingRefused("only this", case_id="CME-000001")

    def refused(*args: Any, **kwargs: Any) -> None:
        raise only

    monkeypatch.setattr(timer_decision, "take_step", refused)
    outcome = timer_decision.fire_timer(sit, timer, tdef)
    assert outcome.draft is not None
    assert isinstance(outcome.draft.body, TimerLapsed)
    assert outcome.draft.body.because == ["only this"]


def test_the_values_a_condition_read_are_written_as_people_write_them() -> None:
    facts = {
        "flag": FactDefinition(type=FactType.bool, description="A flag."),
        "route": FactDefinition(
            type=FactType.enum, values=["fair_access_panel", "other"], description="A route."
        ),
        "seen_on": FactDefinition(type=FactType.date, description="A date."),
        "weeks": FactDefinition(type=FactType.float, description="A number."),
        "note": FactDefinition(type=FactType.string, description="Personal.", personal=True),
    }
    cond = compile_condition(
        ConditionDefinition(
            expr="checks.a && flag && route == 'other' && seen_on >= effective_date "
            "&& weeks > 3.0 && note != '' && case_day > 5",
            says="all of it",
        ),
        facts=facts,
        checks={"a", "b"},
    )
    values = {
        "flag": False,
        "route": "fair_access_panel",
        "seen_on": "2024-12-02",
        "weeks": 3.0,
        "note": "the neighbour's account",
    }
    context = {"checks": {"a": True, "b": False}, "case_day": 2}
    (read,) = condition_words.read_words([cond], values, facts, context, ON, OPENED, waived={"a"})
    assert read == (
        "flag: no; note: recorded; route: fair access panel; seen_on: 2 Dec 2024; weeks: 3; "
        "it is Day 2 of the case; it takes effect on 3 Dec 2024; check a: waived"
    )
    (unwaived,) = condition_words.read_words(
        [cond], values, facts, {**context, "checks": {"a": False}}, ON, OPENED
    )
    assert unwaived.endswith("check a: not recorded")
