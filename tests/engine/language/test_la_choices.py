"""Rule basis and LA choices (issue 14): a switched-off choice's conditions, checks and actions
are dropped once, where the process is loaded, so the machine, the outline, the windows and their
escalations and the checks a step needs agree; lint refuses a choice that is not declared or a
rule marked `la_choice` that names none, and warns of shipped rules that say no basis; every
compiled guard carries its basis for refusals."""

from __future__ import annotations

import pytest

from engine.language.basis import basis_of, basis_words, check_basis
from engine.language.definition import RuleBasis
from engine.language.la_choices import governed, switched_off
from engine.language.lint import lint
from engine.language.loader import LoadedProcess, load_process_text
from engine.language.windows import check_escalations

BASE = """\
kind: process
id: tiny
title: Tiny process
version: 1
effective_from: 2024-09-01
source: {document: Test policy, section: Appendix 7}
la_choices:
  extra_letter:
    says: Send a second letter before closing.
    applies: APPLIES
    why: The LA likes letters.
clock: {day_one: the day the notification is received}
initial: open
roles:
  cme_officer: {title: CME Officer}
facts:
  absence_days: {type: int, description: School days absent}
  vacancies: {type: bool, description: No vacancies}
states:
  open:
    title: Open
    description: Tracing the child
    days: 1-25
    escalate_to: cme_officer
    ref: {basis: policy, section: Appendix 7}
    checklist:
      - {id: letter, wording: Send a letter, days: 5-15}
      - id: second_letter
        wording: Send a second letter
        days: 5-15
        la_choice: extra_letter
  closed:
    title: Closed
    description: Case closed
    terminal: true
    ref: {basis: policy, section: Appendix 7}
triggers:
  - id: close
    title: Close the case
    source: [open]
    dest: closed
    roles: [cme_officer]
    requires_checks: [letter, second_letter]
    guards:
      - expr: absence_days >= 20
        says: absent 20 school days or more
        source: {basis: law, section: Regulation 9(1)(i)}
      - expr: vacancies
        says: there are no vacancies
        la_choice: extra_letter
      - expr: absence_days > 0
        says: absent at all
    actions:
      - kind: letter
        to: parent_carer
        wording: The second letter.
        la_choice: extra_letter
      - kind: notify
        to: cme_officer
        wording: Closed.
    ref: {basis: policy, section: Appendix 7 Day 26}
"""


def _load(applies: bool = True, *, path: str = "tiny.yaml", text: str = BASE) -> LoadedProcess:
    return load_process_text(text.replace("APPLIES", str(applies).lower()), path)


def test_a_switched_on_choice_keeps_its_rules() -> None:
    loaded = _load(True)
    close = loaded.definition.trigger("close")
    assert close is not None
    assert [g.says for g in close.guards] == [
        "absent 20 school days or more",
        "there are no vacancies",
        "absent at all",
    ]
    assert close.requires_checks == ["letter", "second_letter"]
    assert len(close.actions) == 2
    assert "second_letter_outstanding" in check_escalations(loaded.definition)
    assert [c.says for c in loaded.trigger_guards["close"]] == [g.says for g in close.guards]
    assert lint(loaded) == []


def test_a_switched_off_choice_drops_its_conditions_checks_and_actions_in_one_place() -> None:
    loaded = _load(False)
    assert switched_off(loaded.definition) == {"extra_letter"}
    close = loaded.definition.trigger("close")
    assert close is not None
    assert [g.says for g in close.guards] == ["absent 20 school days or more", "absent at all"]
    # The compiled guards the engine judges agree with the definition, in order.
    assert [c.says for c in loaded.trigger_guards["close"]] == [g.says for g in close.guards]
    assert close.requires_checks == ["letter"]
    assert [a.wording for a in close.actions] == ["Closed."]
    # The check is gone from the checklist, the outline, and the escalations its window made.
    assert [c.id for c in loaded.definition.states["open"].checklist] == ["letter"]
    assert [c.id for c in loaded.definition.outline().states["open"].checklist] == ["letter"]
    assert "second_letter_outstanding" not in check_escalations(loaded.definition)
    assert "letter_outstanding" in check_escalations(loaded.definition)
    # As written, it is all still there: show lists it as switched off.
    assert [c.id for c in loaded.as_written.states["open"].checklist] == ["letter", "second_letter"]
    assert governed(loaded.as_written)["extra_letter"] == [
        "check second_letter in open: Send a second letter",
        "guard of close: there are no vacancies",
        "action of close: The second letter.",
    ]
    assert lint(loaded) == []


def test_each_compiled_guard_carries_its_basis_in_words() -> None:
    guards = _load(True).trigger_guards["close"]
    assert [c.basis.words() if c.basis else None for c in guards] == [
        "law: Regulation 9(1)(i)",
        'LA choice: extra_letter ("Send a second letter before closing.")',
        # No source of its own: the step's `ref`.
        "policy: Appendix 7 Day 26",
    ]
    assert [c.basis.refusal_words("tiny") if c.basis else None for c in guards][1] == (
        "LA choice: extra_letter — switch it off in processes/tiny.yaml la_choices"
    )


def test_a_rule_says_its_own_basis_or_that_of_the_rule_it_sits_in() -> None:
    defn = _load(True).definition
    state = defn.states["open"]
    (letter, second) = state.checklist
    assert basis_words(basis_of(defn, letter.source, within=state.ref)) == "policy: Appendix 7"
    second_basis = basis_of(defn, second.source, la_choice=second.la_choice, within=state.ref)
    assert second_basis is not None
    assert second_basis.kind is RuleBasis.la_choice
    assert basis_words(basis_of(defn, None)) == "basis not marked"
    assert basis_words(check_basis(defn, "letter")) == "policy: Appendix 7"
    assert basis_words(check_basis(defn, "second_letter")).startswith("LA choice: extra_letter")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            (
                "        la_choice: extra_letter\n      - expr: absence_days > 0",
                "        la_choice: extra_leter\n      - expr: absence_days > 0",
            ),
            "unknown LA choice 'extra_leter': declare it under `la_choices:`",
        ),
        (
            (
                "        says: there are no vacancies\n        la_choice: extra_letter\n",
                "        says: there are no vacancies\n"
                "        source: {basis: la_choice, section: LA}\n",
            ),
            "this rule's basis is la_choice but it names no choice",
        ),
        (
            (
                "    ref: {basis: policy, section: Appendix 7 Day 26}",
                "    ref: {basis: la_choice, section: LA}",
            ),
            "only a condition, a check or an action can be an LA choice",
        ),
        (
            (
                "        wording: The second letter.\n        la_choice: extra_letter\n",
                "        wording: The second letter.\n        la_choice: extra_letter\n"
                "        source: {basis: law, section: Regulation 13}\n",
            ),
            "names LA choice 'extra_letter' but its source says basis law",
        ),
    ],
    ids=["unknown choice", "basis without choice", "step as a choice", "choice against law"],
)
def test_lint_refuses_a_choice_that_cannot_be_switched(
    edit: tuple[str, str], expected: str
) -> None:
    old, new = edit
    assert BASE.count(old) == 1, old
    loaded = _load(True, text=BASE.replace(old, new))
    errors = [i for i in lint(loaded) if i.severity == "error"]
    assert [e for e in errors if expected in e.message], [str(e) for e in errors]
    (error,) = errors
    # Placed on the rule, not the top of the file.
    assert error.line > 10


def test_lint_warns_of_shipped_rules_that_say_no_basis() -> None:
    text = BASE.replace(
        "    ref: {basis: policy, section: Appendix 7 Day 26}", "    ref: Appendix 7"
    )
    assert lint(_load(True, text=text)) == []  # not shipped: not asked
    found = lint(_load(True, text=text, path="processes/tiny.yaml"))
    assert {(i.severity, i.code) for i in found} == {("warning", "unmarked_basis")}
    messages = [i.message for i in found]
    assert any(m.startswith("step 'close' does not say its basis") for m in messages)
    # The guard with its own source, and the one naming a choice, are marked; the other is not.
    assert [m for m in messages if m.startswith("guard of 'close'")] == [
        "guard of 'close' (absent at all) does not say its basis: say `basis: policy`, "
        "`basis: law` or name an `la_choice:`"
    ]


def test_diff_says_a_choice_switched_off_and_the_rules_that_went_with_it() -> None:
    from engine.language.diff import diff_definitions

    on, off = _load(True).definition, _load(False).definition
    changes = [str(c) for c in diff_definitions(on, off)]
    assert "LA choice extra_letter: switched off" in changes
    assert "trigger close: guard removed: there are no vacancies (vacancies)" in changes
    assert [c.area for c in diff_definitions(on, off) if "extra_letter" in c.where] == ["choices"]


def test_lint_refuses_a_rule_still_on_that_reads_a_check_switched_off() -> None:
    text = BASE.replace(
        "      - expr: absence_days > 0\n        says: absent at all\n",
        "      - expr: absence_days > 0 && checks.second_letter\n        says: absent at all\n",
    )
    assert lint(_load(True, text=text)) == []
    errors = [i for i in lint(_load(False, text=text)) if i.severity == "error"]
    assert [e.message for e in errors] == [
        "guard of 'close' reads check 'second_letter', which belongs to LA choice "
        "'extra_letter', switched off: name the choice on this guard too (`la_choice: "
        "extra_letter`), or switch the choice on"
    ]
