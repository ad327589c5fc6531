"""Typed case facts: what an officer types becomes a value of the declared type, or a refusal
saying what to write instead; dates the policy forbids backdating are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.errors import BackdatingRefused, InputError, UnknownFact
from engine.language.definition import FactDefinition
from engine.language.facts import coerce_fact

FACTS = {
    "crime_suspected": FactDefinition(type="bool", description="d"),
    "days_absent": FactDefinition(type="int", description="d"),
    "distance_miles": FactDefinition(type="float", description="d"),
    "destination_la": FactDefinition(type="string", description="d"),
    "date_of_last_contact": FactDefinition(type="date", description="d"),
    "off_roll_date": FactDefinition(
        type="date", description="the off roll date", not_backdated=True
    ),
    "placement_route": FactDefinition(
        type="enum", description="d", values=["in_year_admissions", "fair_access_panel"]
    ),
}
ON = dt.date(2024, 10, 22)


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("crime_suspected", "true", True),
        ("crime_suspected", "No", False),
        ("crime_suspected", " y ", True),
        ("crime_suspected", False, False),
        ("days_absent", " 20 ", 20),
        ("days_absent", 3, 3),
        ("distance_miles", "2.5", 2.5),
        ("destination_la", "Barnet", "Barnet"),
        ("date_of_last_contact", "2024-09-12", "2024-09-12"),
        ("date_of_last_contact", dt.date(2024, 9, 12), "2024-09-12"),
        ("placement_route", "fair_access_panel", "fair_access_panel"),
        ("off_roll_date", "2024-10-22", "2024-10-22"),
        ("destination_la", None, None),
    ],
)
def test_values_are_typed_as_declared(name: str, raw: Any, value: Any) -> None:
    assert coerce_fact(name, raw, FACTS, on=ON) == value


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("crime_suspected", "perhaps", "crime_suspected is yes/no: write true or false"),
        ("days_absent", "twenty", "days_absent is a whole number, not 'twenty'"),
        ("days_absent", True, "days_absent is a whole number"),
        ("distance_miles", "far", "distance_miles is a number"),
        ("date_of_last_contact", "12/09/2024", "write it as YYYY-MM-DD, not '12/09/2024'"),
        ("date_of_last_contact", "2024-02-30", "write it as YYYY-MM-DD"),
        ("placement_route", "fair_access", "did you mean 'fair_access_panel'?"),
    ],
)
def test_a_value_of_the_wrong_kind_says_what_to_write(name: str, raw: Any, message: str) -> None:
    with pytest.raises(InputError) as info:
        coerce_fact(name, raw, FACTS, on=ON)
    assert message in str(info.value)


def test_an_unknown_fact_suggests_the_nearest() -> None:
    with pytest.raises(UnknownFact) as info:
        coerce_fact("destination", "Barnet", FACTS, on=ON)
    assert "has no fact 'destination'" in str(info.value)
    assert "did you mean 'destination_la'" in str(info.value)
    assert (info.value.kind, info.value.suggestions[0]) == ("fact", "destination_la")


def test_an_off_roll_date_before_the_day_it_takes_effect_is_refused() -> None:
    with pytest.raises(BackdatingRefused) as info:
        coerce_fact("off_roll_date", "2024-10-21", FACTS, on=ON)
    assert "off_roll_date 2024-10-21 is earlier than 2024-10-22" in str(info.value)
    assert "the off roll date" in str(info.value)
    # Dates without the rule may look back.
    assert coerce_fact("date_of_last_contact", "2020-01-01", FACTS, on=ON) == "2020-01-01"
