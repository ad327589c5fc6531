"""RAG rules: the shipped file loads, every problem is placed, ratings follow the rules."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.errors import DefinitionError
from engine.reports.rag import Colour, load_rag_for, load_rag_text

BASE = """kind: rag
version: 1
title: test
source: {section: section 6}
processes: [untraceable_cme]
thresholds: {target: 8}
rules:
{rules}
otherwise: {colour: green, because: fine}
"""


def _load(registry, rules: str):
    facts = {c.definition.id: c.definition.facts for c in registry}
    return load_rag_text(BASE.replace("{rules}", rules), "rag.yaml", process_facts=facts)


def _rate(loaded, **facts):
    measures = {
        "weeks_out_of_education": facts.pop("weeks", 0),
        "days_out_of_education": 0,
        "weeks_since_notification": 0,
        "state": "reasonable_checks",
        "process": "untraceable_cme",
        "notification_text": facts.pop("text", ""),
    }
    return loaded.rate(
        facts=facts,
        measures=measures,
        checks_done=(),
        case_day=5,
        state_day=1,
        on=dt.date(2024, 10, 25),
        opened_on=dt.date(2024, 10, 21),
    )


def test_the_shipped_rules_load_against_the_shipped_processes(registry) -> None:
    loaded = load_rag_for(registry)
    assert loaded.definition.processes == ["untraceable_cme"]
    assert len(loaded.conditions) == len(loaded.definition.rules)
    assert len(loaded.content_hash) == 64


def test_the_most_urgent_colour_wins_and_every_reason_is_given(registry) -> None:
    loaded = _load(
        registry,
        """  - {colour: amber, when: ehc_plan, because: EHC plan}
  - colour: red
    when: weeks_out_of_education >= target
    because: out {weeks_out_of_education} weeks of {target}
""",
    )
    rating = _rate(loaded, ehc_plan=True, weeks=9)
    assert rating.colour == Colour.red
    assert rating.explain() == "red: out 9 weeks of 8; amber: EHC plan"
    assert _rate(loaded, ehc_plan=False, weeks=2).explain() == "green: fine"


def test_a_fact_the_case_does_not_have_is_not_set(registry) -> None:
    loaded = _load(registry, "  - {colour: red, when: looked_after, because: LAC}\n")
    assert _rate(loaded).colour == Colour.green  # looked_after never recorded: rule not met


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            "  - {colour: red, when: looked_afterr, because: x}\n",
            "rag.yaml:8:25: unknown name 'looked_afterr' in guard `looked_afterr`; did you mean "
            "'looked_after'?",
        ),
        (
            "  - {colour: red, when: 'weeks_out_of_education >= \"8\"', because: x}\n",
            "rag.yaml:8:25: type error in guard",
        ),
        (
            "  - {colour: red, when: 'weeks_out_of_education', because: x}\n",
            "gives an int, not true or false",
        ),
        (
            "  - {colour: pink, when: ehc_plan, because: x}\n",
            "rag.yaml:8:14: rules.0.colour: Input should be 'red', 'amber' or 'green'",
        ),
        ("  - {colour: red, when: ehc_plan}\n", "missing required key 'because'"),
    ],
)
def test_bad_rules_are_placed(registry, rules: str, message: str) -> None:
    with pytest.raises(DefinitionError) as err:
        _load(registry, rules)
    assert message in str(err.value)


def test_unknown_process_and_clashing_threshold_names(registry) -> None:
    facts = {c.definition.id: c.definition.facts for c in registry}
    text = (
        BASE.replace("{rules}", "  - {colour: red, when: ehc_plan, because: x}\n")
        .replace("processes: [untraceable_cme]", "processes: [untraceable_cme, untracable]")
        .replace("thresholds: {target: 8}", "thresholds: {ehc_plan: 8}")
    )
    with pytest.raises(DefinitionError) as err:
        load_rag_text(text, "rag.yaml", process_facts=facts)
    message = str(err.value)
    assert "invalid for 2 reasons" in message
    assert "rag.yaml:5:30: no process 'untracable' is loaded" in message
    assert "threshold 'ehc_plan' has the name of a fact or measure" in message
