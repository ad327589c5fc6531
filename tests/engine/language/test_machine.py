"""One shared transitions machine per (process, version); cases fire on it without being added."""

from __future__ import annotations

import datetime as dt
import pickle
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.errors import TransitionNotAllowed, UnknownTimer, UnknownTrigger
from engine.language.expressions import guard_context
from engine.language.loader import load_process_file, load_process_text
from engine.language.machine import CompiledProcess, compile_process

APPENDIX7 = Path(__file__).parents[2] / "fixtures" / "processes" / "appendix7.yaml"


@dataclass
class Case:
    state: str


@pytest.fixture(scope="module")
def compiled() -> CompiledProcess:
    return compile_process(load_process_file(APPENDIX7))


def context(compiled: CompiledProcess, checks: set[str], **facts: object) -> dict[str, object]:
    return guard_context(
        facts=facts,
        fact_defs=compiled.definition.facts,
        checks_done=checks,
        all_checks=compiled.definition.checks().keys(),
        case_day=26,
        state_day=1,
        effective_date=dt.date(2024, 11, 25),
        opened_on=dt.date(2024, 10, 14),
    )


def test_machine_is_configured_once_with_no_models(compiled: CompiledProcess) -> None:
    machine = compiled.machine
    assert machine.models == []
    assert machine.auto_transitions is False
    assert machine.model_override is True
    assert machine.send_event is True
    assert machine.ignore_invalid_triggers is False
    assert set(machine.states) == set(compiled.definition.states)
    assert set(machine.events) == {t.id for t in compiled.definition.triggers}
    assert machine.get_state("closed_untraceable").final is True


def test_fire_moves_a_case_that_was_never_added(compiled: CompiledProcess) -> None:
    case = Case("notification_received")
    assert compiled.fire(case, "begin_contact") == "establishing_contact"
    assert case.state == "establishing_contact"
    assert compiled.fire(case, "start_reasonable_checks") == "reasonable_checks"
    assert compiled.machine.models == []
    assert not hasattr(case, "trigger")  # model_override: nothing is put on the case


def test_many_cases_share_one_machine(compiled: CompiledProcess) -> None:
    cases = [Case("further_checks") for _ in range(1000)]
    for case in cases:
        compiled.fire(case, "propose_closure")
    assert {c.state for c in cases} == {"closure_decision"}
    assert compiled.machine.models == []


def test_interrupt_from_any_open_state_but_not_from_a_terminal_one(
    compiled: CompiledProcess,
) -> None:
    for state, st in compiled.definition.states.items():
        case = Case(state)
        if st.terminal:
            with pytest.raises(TransitionNotAllowed, match="from stage"):
                compiled.fire(case, "contact_established")
            assert case.state == state
        else:
            assert compiled.fire(case, "contact_established") == "supporting_school_place"


def test_wrong_state_is_translated(compiled: CompiledProcess) -> None:
    case = Case("notification_received")
    with pytest.raises(TransitionNotAllowed) as info:
        compiled.fire(case, "close_untraceable")
    assert "from here: begin_contact, contact_established" in str(info.value)
    # the transitions.MachineError is not chained: no transitions exception escapes
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert case.state == "notification_received"


def test_unknown_trigger_and_unknown_state(compiled: CompiledProcess) -> None:
    with pytest.raises(UnknownTrigger, match="did you mean 'begin_contact'"):
        compiled.fire(Case("notification_received"), "begin_contat")
    with pytest.raises(TransitionNotAllowed, match="not a stage of process") as info:
        compiled.fire(Case("limbo"), "begin_contact")
    assert (info.value.step, info.value.stage) == ("begin_contact", "limbo")
    with pytest.raises(TransitionNotAllowed, match="not a stage"):
        compiled.allowed_triggers("limbo")


def test_allowed_triggers(compiled: CompiledProcess) -> None:
    assert compiled.allowed_triggers("closure_decision") == [
        "close_untraceable",
        "contact_established",
    ]
    assert compiled.allowed_triggers("closed_untraceable") == []


def test_check_guards_names_the_failing_conditions(compiled: CompiledProcess) -> None:
    failing = compiled.check_guards(
        "close_untraceable",
        context(compiled, set(), unauthorised_absence_days=5, grounds="regulation_8_1_e"),
    )
    assert [c.says for c in failing] == [
        "missing 20 or more school days continuously",
        "Regulation 8(1)(h), or the PAN London and GIAP checks are done",
    ]
    ok = context(
        compiled,
        {"pan_london_check", "giap_check"},
        unauthorised_absence_days=22,
        grounds="regulation_8_1_e",
    )
    assert compiled.check_guards("close_untraceable", ok) == []
    unset = compiled.check_guards("close_untraceable", context(compiled, set()))
    assert [c.failure(context(compiled, set())) for c in unset] == [
        "needs fact unauthorised_absence_days, not recorded yet",
        "needs fact grounds, not recorded yet",
    ]
    with pytest.raises(UnknownTrigger):
        compiled.check_guards("nope", ok)


def test_timer_conditions(compiled: CompiledProcess) -> None:
    assert compiled.conditions_for_timer("closure_decision_starts") == ()
    assert compiled.check_timer("closure_decision_starts", context(compiled, set())) == []
    with pytest.raises(UnknownTimer, match="no timer"):
        compiled.conditions_for_timer("nope")


def test_compile_is_cached_by_id_version_and_hash() -> None:
    text = APPENDIX7.read_text(encoding="utf-8")
    first = compile_process(load_process_text(text, "a.yaml"))
    again = compile_process(load_process_text(text, "b.yaml"))
    assert again is first
    changed = compile_process(load_process_text(text + "\n# edited\n", "c.yaml"))
    assert changed is not first
    assert changed.machine is not first.machine
    assert changed.key[:2] == first.key[:2]
    assert changed.key[2] != first.key[2]


def test_never_pickled(compiled: CompiledProcess) -> None:
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(compiled)
