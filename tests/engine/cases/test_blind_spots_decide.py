"""What the mutation run of `engine/cases/decide.py` found untested: which commands a closed
case or a backdated date still allows, the scheduler taking a step by hand, and the letters a
step queues on entering a stage that has its own (none of the shipped processes has one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from engine.cases import decide, timer_decision
from engine.cases.decide import POLICY, SCHEDULER_ACTOR, Command, Situation
from engine.cases.events import EventKind, StepTaken
from engine.cases.projection import CaseState
from engine.errors import BackdatingRefused, CaseClosed, GuardFailed, Refusal, RoleNotPermitted
from engine.language.loader import load_process_text
from engine.language.machine import CompiledProcess
from engine.language.registry import ProcessRegistry
from engine.protection.access import Actor
from engine.time.calendars import DEFAULT_CALENDAR, load_calendar

OPENED = dt.date(2024, 10, 21)
AT = dt.datetime(2025, 9, 1, 9, tzinfo=dt.UTC)
OFFICER = Actor("sona", "cme_officer")

# The policy as the service promises it (README, `cme` help): which commands a closed case may
# take, and which must not be dated before the case's latest event.
MAY_TAKE_WHEN_CLOSED = {Command.open, Command.note, Command.letter, Command.admin, Command.system}
NOT_BEFORE_THE_LATEST_EVENT = {
    Command.step,
    Command.check,
    Command.waive,
    Command.fact,
    Command.note,
    Command.letter,
    Command.admin,
    Command.migrate,
    Command.assign,
}


@pytest.fixture(scope="module")
def untraceable() -> CompiledProcess:
    return ProcessRegistry.from_package().in_force("untraceable_cme", OPENED)


def situation(
    process: CompiledProcess, *, on: dt.date = OPENED, actor: Actor = OFFICER, **changes: Any
) -> Situation:
    case = replace(
        CaseState(
            id="CME-000001",
            process_id=process.definition.id,
            process_version=process.definition.version,
            state=process.definition.initial,
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


@pytest.mark.parametrize("command", list(Command))
def test_each_command_on_a_closed_case_and_backdated(
    untraceable: CompiledProcess, command: Command
) -> None:
    assert POLICY[command].closed is (command in MAY_TAKE_WHEN_CLOSED)
    assert POLICY[command].forwards is (command in NOT_BEFORE_THE_LATEST_EVENT)
    closed = situation(untraceable, state="placed", terminal=True, closed_on=OPENED)
    kinds = [type(r) for r in decide.refusals(closed, command, "do it")]
    assert (CaseClosed in kinds) is (command not in MAY_TAKE_WHEN_CLOSED)
    late = situation(untraceable, on=OPENED, last_effective=OPENED + dt.timedelta(days=2))
    kinds = [type(r) for r in decide.refusals(late, command, "do it")]
    assert (BackdatingRefused in kinds) is (command in NOT_BEFORE_THE_LATEST_EVENT)


def test_a_legal_hold_may_be_placed_on_a_closed_case_but_not_backdated(
    untraceable: CompiledProcess,
) -> None:
    closed = situation(
        untraceable,
        state="placed",
        terminal=True,
        closed_on=OPENED,
        last_effective=OPENED + dt.timedelta(days=2),
        on=OPENED + dt.timedelta(days=3),
    )
    hold = {"hold": True, "reason": "court order"}
    draft = decide.records_event(closed, Command.admin, EventKind.legal_hold, hold, "hold")
    assert (draft.kind, draft.touch_timers) == (EventKind.legal_hold, False)
    with pytest.raises(BackdatingRefused):
        decide.records_event(
            replace(closed, on=OPENED), Command.admin, EventKind.legal_hold, hold, "hold"
        )


def test_the_scheduler_may_take_by_hand_only_the_steps_timers_take(
    untraceable: CompiledProcess,
) -> None:
    definition = untraceable.definition
    due = situation(untraceable, on=dt.date(2024, 10, 25), actor=SCHEDULER_ACTOR)
    draft = decide.take_step(due, decide.step_of(definition, "start_reasonable_checks"))
    assert isinstance(draft.body, StepTaken)
    assert draft.body.to_state == "reasonable_checks"
    with pytest.raises(RoleNotPermitted) as info:
        decide.take_step(
            situation(untraceable, on=dt.date(2024, 10, 22), actor=SCHEDULER_ACTOR),
            decide.step_of(definition, "contact_established"),
        )
    assert info.value.role == "scheduler"


ON_ENTER = """
kind: process
id: entering
title: A stage that sends its own letter on entry
version: 1
effective_from: 2024-09-01
source: {document: Test policy, section: section 1}
clock: {day_one: the day the notification is received}
initial: tracing
roles:
  cme_officer: {title: CME Officer}
states:
  tracing:
    title: Tracing
    description: Tracing the child
    ref: section 1
    on_enter:
      - {kind: notify, to: cme_officer, wording: Tracing (again), channel: email}
  closed:
    title: Closed
    description: Case closed
    terminal: true
    ref: section 1
triggers:
  - id: note_concern
    title: Note a concern (the case stays where it is)
    source: [tracing]
    roles: [cme_officer]
    ref: section 1
    actions:
      - {kind: notify, to: cme_officer, wording: A concern was noted, channel: email}
  - id: retrace
    title: Start tracing again
    source: [tracing]
    dest: tracing
    roles: [cme_officer]
    ref: section 1
    actions:
      - {kind: notify, to: cme_officer, wording: Retracing, channel: email}
  - {id: close, title: Close, source: [tracing], dest: closed, roles: [cme_officer],
     ref: section 1}
"""


def test_a_step_into_a_stage_queues_its_letters_and_an_interrupt_does_not() -> None:
    process = ProcessRegistry([load_process_text(ON_ENTER, "entering.yaml")]).in_force(
        "entering", OPENED
    )
    sit = situation(process)
    moved = decide.take_step(sit, decide.step_of(process.definition, "retrace"))
    assert [a.wording for a in moved.actions] == ["Retracing", "Tracing (again)"]
    stays = decide.take_step(sit, decide.step_of(process.definition, "note_concern"))
    assert [a.wording for a in stays.actions] == ["A concern was noted"]
    assert isinstance(stays.body, StepTaken)
    assert stays.body.stays is True
    assert [a["wording"] for a in stays.body.data()["actions"]] == ["A concern was noted"]


def test_the_policy_table_and_drafts_cannot_be_changed_in_place(
    untraceable: CompiledProcess,
) -> None:
    draft = decide.add_note(situation(untraceable), "called")
    for frozen, field in (
        (POLICY[Command.note], "closed"),
        (draft, "rule"),
        (situation(untraceable), "on"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(frozen, field, None)


# --- a reminder timer: its condition judged on the checks recorded by its due date ---------------

REMINDER = {
    "key": "CME-000001:1:contact_attempted_by_phone_outstanding",
    "state": "establishing_contact",
    "timer_id": "contact_attempted_by_phone_outstanding",
    "explanation": "Day 4 = 24 Oct 2024",
}


def _reminder(
    process: CompiledProcess, checks: dict[str, dict[str, str]]
) -> timer_decision.TimerOutcome:
    tdef = next(
        t
        for t in process.definition.states["establishing_contact"].timers
        if t.id == "contact_attempted_by_phone_outstanding"
    )
    # Generated from the Day 1-3 window: due the morning after its last day, Day 4.
    due = situation(process, on=dt.date(2024, 10, 24), actor=SCHEDULER_ACTOR, checks=checks)
    return timer_decision.fire_timer(due, REMINDER, tdef)


@pytest.mark.parametrize(
    ("recorded_on", "status"),
    [
        (None, "fired"),  # not recorded: the reminder escalates
        ("2024-10-23", "lapsed"),  # recorded on Day 3, the window's last day
        ("2024-10-24", "lapsed"),  # recorded on the due date itself
        ("2024-10-25", "fired"),  # recorded the day after: a late sweep still escalates
    ],
)
def test_a_reminder_is_judged_on_the_checks_recorded_by_its_due_date(
    untraceable: CompiledProcess, recorded_on: str | None, status: str
) -> None:
    checks = {} if recorded_on is None else {"contact_attempted_by_phone": {"on": recorded_on}}
    outcome = _reminder(untraceable, checks)
    assert outcome.status == status
    assert outcome.draft is not None
    # Neither an escalation nor a lapse changes the stage, so neither re-arms the timers.
    assert outcome.draft.touch_timers is False
    if status == "fired":
        assert outcome.draft.kind is EventKind.escalation
        assert [a.to for a in outcome.draft.actions] == ["cme_officer"]
    else:
        assert outcome.draft.kind is EventKind.timer_lapsed


def test_an_unknown_name_is_named_after_the_role_refusal_and_before_the_rest(
    untraceable: CompiledProcess,
) -> None:
    stranger = situation(
        untraceable,
        actor=Actor("x", "janitor"),
        on=OPENED,
        last_effective=OPENED + dt.timedelta(days=1),
    )
    for call in (
        lambda: decide.record_check(stranger, "mash_chek", "x"),
        lambda: decide.set_fact(stranger, "crime_suspect", "true"),
    ):
        with pytest.raises(Refusal) as info:
            call()
        kinds = [type(r).__name__ for r in info.value.reasons]
        assert kinds[0] == "RoleNotPermitted"
        assert kinds[1] in ("UnknownCheck", "UnknownFact")
        assert kinds[2] == "BackdatingRefused"
    known_role = situation(untraceable, on=OPENED, last_effective=OPENED + dt.timedelta(days=1))
    with pytest.raises(Refusal) as info:
        decide.record_check(known_role, "mash_chek", "x")
    assert [type(r).__name__ for r in info.value.reasons] == ["UnknownCheck", "BackdatingRefused"]


def test_an_unknown_fact_comes_before_a_backdated_date(untraceable: CompiledProcess) -> None:
    late = situation(untraceable, on=OPENED, last_effective=OPENED + dt.timedelta(days=1))
    with pytest.raises(Refusal) as info:
        decide.set_fact(late, "crime_suspect", "true")
    assert [type(r).__name__ for r in info.value.reasons] == ["UnknownFact", "BackdatingRefused"]


def test_personal_data_is_opened_only_for_a_step_that_reads_a_personal_fact(
    untraceable: CompiledProcess,
) -> None:
    opened: list[str] = []

    def reveal(case: CaseState) -> CaseState:
        opened.append(case.id)
        return replace(case, personal={"facts": {"safeguarding_concern": "seen hurt"}})

    sit = replace(situation(untraceable, on=OPENED + dt.timedelta(days=1)), reveal=reveal)
    decide.take_step(sit, decide.step_of(untraceable.definition, "contact_established"))
    assert opened == []  # reads no fact at all
    draft = decide.take_step(sit, decide.step_of(untraceable.definition, "refer_to_mash"))
    assert opened == ["CME-000001"]  # needs safeguarding_concern, a personal fact
    assert draft.body.data()["stays"] is True


def test_a_step_missing_its_facts_says_so_once_without_judging_guards_on_them(
    untraceable: CompiledProcess,
) -> None:
    sit = situation(
        untraceable, state="supporting_to_school_place", on=OPENED + dt.timedelta(days=1)
    )
    with pytest.raises(GuardFailed) as info:  # one reason, raised as itself
        decide.take_step(sit, decide.step_of(untraceable.definition, "refer_to_placement_panel"))
    assert info.value.unset == [
        "placement_route",
        "age_phase",
        "no_vacancy_in_camden_schools",
        "medical_needs",
    ]


def test_guards_on_recorded_facts_are_judged_while_another_fact_is_missing(
    untraceable: CompiledProcess,
) -> None:
    step = decide.step_of(untraceable.definition, "refer_to_placement_panel")
    usual_route = situation(
        untraceable,
        state="supporting_to_school_place",
        on=OPENED + dt.timedelta(days=1),
        facts={
            "placement_route": "in_year_admissions",
            "age_phase": "primary",
            "medical_needs": False,
        },
    )
    with pytest.raises(Refusal) as info:  # the vacancy fact is missing AND the route is wrong
        decide.take_step(usual_route, step)
    missing, wrong = info.value.reasons
    assert isinstance(missing, GuardFailed)
    assert isinstance(wrong, GuardFailed)
    assert missing.unset == ["no_vacancy_in_camden_schools"]
    assert wrong.failed[0].startswith("the child is unable to be placed through the usual")
    # A guard reading the missing fact is not judged on a missing value.
    fap = situation(
        untraceable,
        state="supporting_to_school_place",
        on=OPENED + dt.timedelta(days=1),
        facts={
            "placement_route": "fair_access_panel",
            "medical_needs": False,
            "no_vacancy_in_camden_schools": True,
        },
    )
    with pytest.raises(GuardFailed) as single:
        decide.take_step(fap, step)
    assert single.value.unset == ["age_phase"]
    police = situation(untraceable, on=OPENED + dt.timedelta(days=1))
    with pytest.raises(GuardFailed) as once:  # not also "no reason to suspect a crime"
        decide.take_step(police, decide.step_of(untraceable.definition, "involve_police"))
    assert (once.value.unset, once.value.failed) == (
        ["crime_suspected"],
        ["crime_suspected recorded"],
    )


def test_an_unknown_name_comes_first_on_a_closed_case_too(untraceable: CompiledProcess) -> None:
    closed = situation(
        untraceable,
        state="placed",
        terminal=True,
        closed_on=OPENED,
        on=OPENED,
        last_effective=OPENED + dt.timedelta(days=1),
    )
    for call, unknown in (
        (lambda: decide.set_fact(closed, "crime_suspect", "true"), "UnknownFact"),
        (lambda: decide.record_check(closed, "mash_chek", "x"), "UnknownCheck"),
    ):
        with pytest.raises(Refusal) as info:
            call()
        assert [type(r).__name__ for r in info.value.reasons] == [
            unknown,
            "CaseClosed",
            "BackdatingRefused",
        ]
