"""One window, one place (issue 13): a stage's `days` generate its start timer and each required
check's escalation, the morning after the window's last school day; lint refuses a hand-written
timer that duplicates or contradicts them."""

from __future__ import annotations

from importlib.resources import files

from engine.language.lint import lint
from engine.language.loader import LoadedProcess, load_process_text
from engine.language.windows import CheckEscalation, GeneratedStart, check_escalations

SHIPPED = files("processes").joinpath("untraceable_cme.yaml").read_text(encoding="utf-8")


def _load(text: str) -> LoadedProcess:
    return load_process_text(text, "untraceable_cme.yaml")


def _timers(loaded: LoadedProcess, state: str) -> dict[str, tuple[int | None, str]]:
    return {
        t.id: (t.day, t.fire or (t.escalate.to_role if t.escalate else ""))
        for t in loaded.definition.states[state].timers
    }


def test_the_shipped_windows_generate_start_timers_and_escalations() -> None:
    loaded = _load(SHIPPED)
    contact = _timers(loaded, "establishing_contact")
    assert contact["reasonable_checks_starts"] == (5, "start_reasonable_checks")
    # Day 1-3: escalated on Day 4, the morning after the window's last school day.
    assert contact["contact_attempted_outstanding"] == (4, "cme_officer")
    assert contact["core_information_checked_outstanding"] == (2, "cme_officer")
    assert _timers(loaded, "reasonable_checks")["housing_check_outstanding"] == (16, "cme_officer")
    assert _timers(loaded, "further_checks")["closure_decision_starts"] == (
        26,
        "start_closure_decision",
    )
    # The optional first home visit is not chased.
    assert "first_home_visit_outstanding" not in check_escalations(loaded.definition)
    esc = check_escalations(loaded.definition)["giap_check_outstanding"]
    assert (esc.check, esc.stage, esc.when[0].expr) == (
        "giap_check",
        "further_checks",
        "!checks.giap_check",
    )
    # Checks inherit their stage's window.
    (letter,) = [
        c
        for c in loaded.definition.states["reasonable_checks"].checklist
        if c.id == "first_formal_letter_sent"
    ]
    assert str(letter.days) == "Day 5–15"
    # The file itself states each window once: no hand-written start or check timers.
    written = loaded.as_written.states["reasonable_checks"]
    assert written.timers == []
    assert all(c.days is None for c in written.checklist)
    assert lint(loaded) == []


def test_moving_day_5_15_to_4_15_is_one_number_and_moves_the_start_timer() -> None:
    edited = SHIPPED.replace("    days: 5-15\n", "    days: 4-15\n", 1).replace(
        "version: 3\n", "version: 4\n", 1
    )
    assert edited.count("4-15") == 1
    loaded = _load(edited)
    assert _timers(loaded, "establishing_contact")["reasonable_checks_starts"] == (
        4,
        "start_reasonable_checks",
    )
    timer = next(
        t
        for t in loaded.definition.states["establishing_contact"].timers
        if isinstance(t, GeneratedStart)
    )
    assert timer.stage == "reasonable_checks"
    assert [str(i) for i in lint(loaded) if i.severity == "error"] == []


def test_a_hand_written_start_timer_contradicting_the_window_is_refused_by_lint() -> None:
    # The half-done edit of issue 13: the stage at 4-15, a start timer still at Day 5.
    edited = SHIPPED.replace("    days: 5-15\n", "    days: 4-15\n", 1).replace(
        "    escalate_to: cme_officer\n    ref:\n      basis: policy\n"
        "      section: Appendix 7, Day 1 and Day 1-3\n",
        "    escalate_to: cme_officer\n    timers:\n      - id: reasonable_checks_start\n"
        "        description: the old start timer\n        day: 5\n"
        "        fire: start_reasonable_checks\n        ref: Appendix 7, Day 5-15\n"
        "    ref:\n      basis: policy\n      section: Appendix 7, Day 1 and Day 1-3\n",
        1,
    )
    loaded = _load(edited)
    errors = [i for i in lint(loaded) if i.severity == "error"]
    assert len(errors) == 1, errors
    (error,) = errors
    assert "'reasonable_checks_start' fires 'start_reasonable_checks' on Day 5" in error.message
    assert "starts on Day 4" in error.message
    assert edited.splitlines()[error.line - 1].strip() == "day: 5"
    # The same timer at Day 4 only repeats the window: refused as a duplicate.
    duplicate = _load(
        edited.replace("        day: 5\n        fire:", "        day: 4\n        fire:", 1)
    )
    (dup,) = [i for i in lint(duplicate) if i.severity == "error"]
    assert "duplicates the start of 'reasonable_checks'" in dup.message


def test_a_hand_written_escalation_of_a_generated_check_and_unknown_names_are_refused() -> None:
    edited = SHIPPED.replace(
        "      - id: closure_decision_outstanding\n",
        "      - id: form_late\n        description: late\n        day: 26\n"
        '        when: ["!checks.day_26_closure_form"]\n'
        "        escalate: {to_role: cme_officer, message: late}\n        ref: Appendix 7\n"
        "      - id: closure_decision_outstanding\n",
        1,
    ).replace(
        "    clears_checks_of: [establishing_contact, reasonable_checks, further_checks, "
        "closure_decision]\n",
        "    clears_checks_of: [establishing_contact, reasonable_check]\n",
        1,
    )
    messages = [i.message for i in lint(_load(edited)) if i.severity == "error"]
    assert any("'form_late' contradicts (Day 26 against Day 27)" in m for m in messages), messages
    assert any("unknown stage 'reasonable_check'" in m for m in messages), messages


def test_a_required_check_with_a_window_and_nobody_to_tell_is_refused() -> None:
    edited = SHIPPED.replace(
        "    days: 16-25\n    escalate_to: cme_officer\n", "    days: 16-25\n", 1
    )
    messages = [i.message for i in lint(_load(edited)) if i.severity == "error"]
    assert len(messages) == 4
    assert all("nobody is told when it is missed" in m for m in messages)


def test_version_1_texts_generate_nothing_their_own_timers_do() -> None:
    """A process written before windows generated timers (every hand-written start timer
    stands, no escalate_to) runs exactly its own timers, so stored versions behave as before."""
    loaded = _load(SHIPPED.replace("    escalate_to: cme_officer\n", ""))
    assert not check_escalations(loaded.definition)
    assert not any(
        isinstance(t, CheckEscalation) for s in loaded.definition.states.values() for t in s.timers
    )


def test_a_hand_written_escalation_taking_the_generated_id_is_refused_too() -> None:
    # Written in place of the generated one (same id): generation leaves it, lint refuses it.
    edited = SHIPPED.replace(
        "      - id: closure_decision_outstanding\n",
        "      - id: day_26_closure_form_outstanding\n        description: late\n        day: 27\n"
        '        when: ["!checks.day_26_closure_form"]\n'
        "        escalate: {to_role: cme_officer, message: late}\n        ref: Appendix 7\n"
        "      - id: closure_decision_outstanding\n",
        1,
    )
    loaded = _load(edited)
    mine = [
        t for t in loaded.definition.states["closure_decision"].timers if t.id.startswith("day_26")
    ]
    assert len(mine) == 1
    assert not isinstance(mine[0], CheckEscalation)
    (error,) = [i for i in lint(loaded) if i.severity == "error"]
    assert "'day_26_closure_form_outstanding' duplicates the escalation of check" in error.message
