"""The decision step without a database: plain cases, a shipped process, a calendar, and the
event to append or every reason against it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from engine.cases import decide, timer_decision
from engine.cases.decide import POLICY, SCHEDULER_ACTOR, Command, Situation
from engine.cases.events import EventKind, FactChanged, Note, StepTaken, TimerLapsed
from engine.cases.projection import CaseState
from engine.errors import (
    BackdatingRefused,
    CaseClosed,
    GuardFailed,
    InputError,
    MissingChecks,
    Refusal,
    RoleNotPermitted,
    TransitionNotAllowed,
    UnknownCheck,
    UnknownStep,
)
from engine.language.machine import CompiledProcess
from engine.language.registry import ProcessRegistry
from engine.protection.access import Actor
from engine.time.calendars import DEFAULT_CALENDAR, load_calendar

OPENED = dt.date(2024, 10, 21)
AT = dt.datetime(2025, 9, 1, 9, tzinfo=dt.UTC)
OFFICER = Actor("sona", "cme_officer")
MANAGER = Actor("mo", "line_manager")


@pytest.fixture(scope="module")
def process() -> CompiledProcess:
    return ProcessRegistry.from_package().in_force("untraceable_cme", OPENED)


def case(**changes: Any) -> CaseState:
    """A case of untraceable_cme v1 opened on OPENED, as its row would read."""
    return replace(
        CaseState(
            id="CME-000001",
            process_id="untraceable_cme",
            process_version=1,
            state="establishing_contact",
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


def situation(
    process: CompiledProcess, *, on: dt.date = OPENED, actor: Actor = OFFICER, **changes: Any
) -> Situation:
    return Situation(
        case=case(**changes),
        compiled=process,
        actor=actor,
        on=on,
        at=AT,
        calendar=load_calendar(DEFAULT_CALENDAR),
        checks=process.definition.checks(),
    )


def test_a_step_that_may_be_taken_is_the_event_to_append(process: CompiledProcess) -> None:
    sit = situation(process, on=OPENED + dt.timedelta(days=1))
    draft = decide.take_step(sit, decide.step_of(process.definition, "contact_established"))
    assert draft.kind is EventKind.trigger
    assert isinstance(draft.body, StepTaken)
    assert (draft.body.from_state, draft.body.to_state) == (
        "establishing_contact",
        "supporting_to_school_place",
    )
    assert draft.rule is not None
    assert draft.rule.startswith("contact_established: ")


def test_a_refusal_carries_every_reason(process: CompiledProcess) -> None:
    """Wrong role, wrong stage, checks missing, a guard failing, and backdated: all five."""
    sit = situation(process, on=OPENED, last_effective=OPENED + dt.timedelta(days=1))
    with pytest.raises(Refusal) as info:
        decide.take_step(sit, decide.step_of(process.definition, "close_untraceable"))
    kinds = [type(r) for r in info.value.reasons]
    assert kinds == [
        RoleNotPermitted,
        TransitionNotAllowed,
        BackdatingRefused,
        MissingChecks,
        GuardFailed,
    ]
    err = info.value
    # A refusal is each of its reasons, and reads their facts.
    assert isinstance(err, MissingChecks)
    assert isinstance(err, GuardFailed)
    assert "giap_check" in err.missing
    assert err.failed == ["it is Day 26 or later (closure is decided on Day 26)"]
    assert [r["error"] for r in err.to_json()["reasons"]] == [
        "role_not_permitted",
        "step_not_allowed",
        "backdated",
        "missing_checks",
        "guard_failed",
    ]


def test_one_reason_is_raised_as_itself(process: CompiledProcess) -> None:
    sit = situation(process, on=OPENED + dt.timedelta(days=1))
    with pytest.raises(GuardFailed) as info:
        decide.take_step(sit, decide.step_of(process.definition, "moved_to_another_la"))
    assert not isinstance(info.value, Refusal)
    assert info.value.unset == ["destination_la"]


def test_a_closed_case_is_the_only_reason_a_step_is_refused(process: CompiledProcess) -> None:
    sit = situation(process, state="placed", terminal=True, closed_on=OPENED)
    with pytest.raises(CaseClosed) as info:
        decide.take_step(sit, decide.step_of(process.definition, "moved_to_another_la"))
    assert (info.value.case_id, info.value.stage) == ("CME-000001", "placed")


def test_what_differs_between_commands_is_one_table(process: CompiledProcess) -> None:
    closed = situation(process, state="placed", terminal=True, closed_on=OPENED)
    # A closed case may take a note, but not a check or a fact.
    assert isinstance(decide.add_note(closed, "moved away").body, Note)
    with pytest.raises(CaseClosed):
        decide.record_check(closed, "mash_check", "none found")
    with pytest.raises(CaseClosed):
        decide.set_fact(closed, "crime_suspected", "false")
    assert POLICY[Command.note].closed
    assert not POLICY[Command.check].closed
    assert not POLICY[Command.timer_step].forwards  # a late sweep writes on the due date


def test_checks_and_facts(process: CompiledProcess) -> None:
    sit = situation(process)
    draft = decide.record_check(sit, "mash_check", " none found ")
    assert draft.body.personal == {"check_outcomes": {"mash_check": "none found"}}
    with pytest.raises(UnknownCheck) as info:
        decide.record_check(sit, "mash_chek", "x")
    assert info.value.suggestions[0] == "mash_check"
    fact = decide.set_fact(sit, "crime_suspected", "false")
    assert isinstance(fact.body, FactChanged)
    assert fact.body.facts == {"crime_suspected": False}
    with pytest.raises(UnknownStep):
        decide.step_of(process.definition, "contact_establish")


def test_a_role_outside_the_process_and_a_future_date(process: CompiledProcess) -> None:
    with pytest.raises(RoleNotPermitted) as info:
        decide.add_note(situation(process, actor=Actor("x", "janitor")), "hello")
    assert info.value.role == "janitor"
    with pytest.raises(InputError, match="after the day this is recorded"):
        decide.add_note(situation(process, on=AT.date() + dt.timedelta(days=1)), "hello")


def test_a_timer_whose_step_is_refused_lapses_saying_why(process: CompiledProcess) -> None:
    """The Day 3 timer fires `start_reasonable_checks`; due on Day 2 its guard fails."""
    timer = {
        "key": "k",
        "state": "establishing_contact",
        "timer_id": "reasonable_checks_starts",
        "explanation": "Day 4",
    }
    tdef = next(
        t
        for t in process.definition.states["establishing_contact"].timers
        if t.id == "reasonable_checks_starts"
    )
    early = situation(process, on=OPENED + dt.timedelta(days=1), actor=SCHEDULER_ACTOR)
    outcome = timer_decision.fire_timer(early, timer, tdef)
    assert outcome.status == "lapsed"
    assert outcome.draft is not None
    assert isinstance(outcome.draft.body, TimerLapsed)
    assert "the Day 1–3 window" in outcome.draft.body.because[0]
    due = situation(process, on=dt.date(2024, 10, 25), actor=SCHEDULER_ACTOR)
    fired = timer_decision.fire_timer(due, timer, tdef)
    assert fired.status == "fired"
    assert fired.draft is not None
    assert fired.draft.kind is EventKind.timer_fired
    moved_on = situation(process, actor=SCHEDULER_ACTOR, state="contact_established")
    assert timer_decision.fire_timer(moved_on, timer, tdef).status == "cancelled"
