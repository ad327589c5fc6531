"""Derived facts in the language (engine/language/derived.py): what a `derived:` fact may count
from, the type it gives, how steps read it, and that nobody may type one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from engine.errors import CountedFact, DefinitionError, InputError
from engine.language.facts import coerce_fact
from engine.language.loader import load_process_text


def _process(facts: dict[str, Any], trigger: dict[str, Any] | None = None) -> str:
    base: dict[str, Any] = {
        "id": "counting",
        "title": "Counting",
        "version": 1,
        "effective_from": "2024-09-01",
        "source": {"document": "test", "section": "s"},
        "clock": {"day_one": "the day"},
        "initial": "open",
        "roles": {"school": {"title": "School"}},
        "facts": {
            "first_day_of_absence": {"type": "date", "description": "first day absent"},
            "off_roll_date": {"type": "date", "description": "off roll"},
            "boarder": {"type": "bool", "description": "a boarder"},
            **facts,
        },
        "states": {
            "open": {"title": "Open", "description": "d", "ref": "s"},
            "done": {"title": "Done", "description": "d", "ref": "s", "terminal": True},
        },
        "triggers": [
            {
                "id": "remove",
                "title": "Remove",
                "source": ["open"],
                "dest": "done",
                "roles": ["school"],
                "ref": "s",
                **(trigger or {}),
            }
        ],
    }
    return yaml.safe_dump(base, sort_keys=False)


ABSENCE: dict[str, Any] = {
    "absent": {
        "type": "int",
        "description": "school days absent",
        "derived": {
            "count": "school_days_between",
            "from": "first_day_of_absence",
            "to": "off_roll_date",
        },
    }
}
READS_ABSENCE: dict[str, Any] = {
    "requires_facts": ["first_day_of_absence", "off_roll_date"],
    "guards": [{"expr": "absent >= 20", "says": "absent 20 school days"}],
}


def _issues(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        load_process_text(text, "counting.yaml")
    return [i.message for i in info.value.issues]


def test_a_derived_fact_is_read_by_guards_with_its_type() -> None:
    loaded = load_process_text(_process(ABSENCE, READS_ABSENCE), "counting.yaml")
    assert loaded.definition.facts["absent"].derived is not None
    (guard,) = loaded.trigger_guards["remove"]
    assert guard.variables == frozenset({"absent"})
    # The type checker knows a count is a whole number, not text.
    bad = {**READS_ABSENCE, "guards": [{"expr": "absent >= '20'", "says": "x"}]}
    assert any("type error in guard" in m for m in _issues(_process(ABSENCE, bad)))


def test_a_count_from_an_unknown_date_is_refused_with_a_suggestion() -> None:
    facts = {"absent": {**ABSENCE["absent"], "derived": {**ABSENCE["absent"]["derived"]}}}
    facts["absent"]["derived"]["from"] = "first_day_of_absense"
    (message,) = _issues(_process(facts))
    assert message == (
        "absent is counted from unknown fact 'first_day_of_absense'; did you mean "
        "'first_day_of_absence'?"
    )


def test_a_count_from_a_fact_that_is_not_a_date_is_refused() -> None:
    facts = {"absent": {**ABSENCE["absent"], "derived": {**ABSENCE["absent"]["derived"]}}}
    facts["absent"]["derived"]["to"] = "boarder"
    assert _issues(_process(facts)) == [
        "absent is counted from boarder, a bool: a count starts and ends on date facts (or "
        "opened_on, effective_date)"
    ]


def test_a_count_from_another_count_is_refused() -> None:
    facts = {
        **ABSENCE,
        "deadline": {
            "type": "date",
            "description": "d",
            "derived": {"count": "school_days_after", "from": "first_day_of_absence", "days": 5},
        },
        "chained": {
            "type": "int",
            "description": "d",
            "derived": {"count": "months_between", "from": "deadline", "to": "off_roll_date"},
        },
    }
    assert _issues(_process(facts)) == [
        "chained is counted from deadline, which is itself counted: count from the dates a "
        "person records"
    ]


@pytest.mark.parametrize(
    ("fact", "says"),
    [
        (
            {"type": "date", "derived": {"count": "months_between", "from": "a", "to": "b"}},
            "a months_between count gives a whole number: declare `type: int`, not date",
        ),
        (
            {"type": "date", "derived": {"count": "school_days_after", "from": "a"}},
            "school_days_after needs `days`: how many school days after",
        ),
        (
            {"type": "int", "derived": {"count": "age_on", "from": "a"}},
            "age_on needs `to`: the date it counts to",
        ),
        (
            {
                "type": "int",
                "recorded_by": ["school"],
                "derived": {"count": "age_on", "from": "a", "to": "b"},
            },
            "a derived fact is counted by the engine, never recorded",
        ),
        (
            {
                "type": "int",
                "derived": {"count": "months_between", "from": "a", "to": "b", "to_included": True},
            },
            "`to_included` is only for school_days_between",
        ),
    ],
)
def test_a_derived_fact_must_be_declared_whole(fact: dict[str, Any], says: str) -> None:
    messages = _issues(_process({"counted": {"description": "d", **fact}}))
    assert any(says in m for m in messages), messages


def test_a_step_asks_for_the_dates_not_the_count() -> None:
    messages = _issues(
        _process(ABSENCE, {"requires_facts": ["absent"], "guards": READS_ABSENCE["guards"]})
    )
    assert messages == [
        "absent is counted by the engine, never recorded: require the dates it is counted from "
        "(first_day_of_absence, off_roll_date) instead",
        "step remove reads absent, counted from first_day_of_absence, off_roll_date: list them "
        "in requires_facts so a date not yet recorded is named",
    ]


def test_typing_a_derived_fact_is_refused_naming_its_dates() -> None:
    facts = load_process_text(_process(ABSENCE, READS_ABSENCE), "counting.yaml").definition.facts
    with pytest.raises(InputError) as info:
        coerce_fact("absent", 32, facts, on=dt.date(2024, 11, 7))
    assert str(info.value) == (
        "absent is counted by the engine, never typed: it is the school days from "
        "first_day_of_absence up to but not including off_roll_date, on the case's calendar; "
        "record first_day_of_absence and off_roll_date instead"
    )
    assert isinstance(info.value, CountedFact)
    assert (info.value.code, info.value.fact, info.value.dates) == (
        "counted_fact",
        "absent",
        ["first_day_of_absence", "off_roll_date"],
    )
