"""The CME notification form (Appendix 6): validation with every problem named by field, UPN check
letters, compulsory school age on the notification date, and what a case takes from the form."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from typing import Any

import pytest

from engine.cases.notification import (
    NotificationForm,
    age_phase,
    case_facts,
    check_form_dates,
    check_school_age,
    parse_form,
    personal_data,
)
from engine.errors import InputError
from engine.language.yamlsafe import load_yaml


def example() -> dict[str, Any]:
    text = files("processes").joinpath("forms", "notification_example.yaml").read_text()
    data: dict[str, Any] = load_yaml(text, "example").data
    return data


def with_child(**child: Any) -> NotificationForm:
    data = example()
    data["children"] = [{**data["children"][0], **child}]
    return parse_form(data)


def problems(data: Any) -> str:
    with pytest.raises(InputError) as info:
        parse_form(data, source="notification.yaml")
    message = str(info.value)
    assert message.startswith("notification.yaml is not a valid CME notification:")
    return message


def test_the_shipped_example_is_a_valid_form_for_two_siblings() -> None:
    form = parse_form(example())
    assert [c.full_name for c in form.children] == ["Ana Silva", "Tiago Silva"]
    assert form.parent_carer.translator_required
    assert form.children[0].upn == "H801200001001"


def test_the_blank_form_names_every_appendix_6_field() -> None:
    blank = files("processes").joinpath("forms", "notification_blank.yaml").read_text()
    for field in (
        "notifier:",
        "parent_carer:",
        "postcode:",
        "language:",
        "translator_required:",
        "children:",
        "date_of_birth:",
        "upn:",
        "ethnicity:",
        "ground:",
        "ehc_plan:",
        "looked_after:",
        "social_care_early_help:",
        "camhs:",
        "yos:",
        "asylum_seeker:",
        "lead_professionals:",
        "date_of_last_attendance:",
        "date_of_last_contact:",
    ):
        assert field in blank, field


def test_every_problem_is_named_by_its_field() -> None:
    data = example()
    data["notifier"] = {"name": ""}
    data["children"][0]["date_of_birth"] = "2015-02-30"
    data["children"][1]["upn"] = "G80120000101S"
    data["children"][1]["shoe_size"] = 3
    message = problems(data)
    assert "notifier.name: String should have at least 1 character" in message
    assert "children.0.date_of_birth:" in message
    assert "children.1.upn: UPN 'G80120000101S' is malformed" in message
    assert "children.1.shoe_size: unknown field" in message


def test_a_form_without_children_or_not_a_mapping() -> None:
    assert "children: List should have at least 1 item" in problems({**example(), "children": []})
    assert "(the whole form): Input should be a valid dictionary" in problems(["a list"])


@pytest.mark.parametrize(
    ("upn", "why"),
    [
        ("A801200005001", "check letter"),
        ("H80120000100", "has 12 characters; a UPN has exactly 13"),
        ("I801200001001", "I"),
    ],
)
def test_a_malformed_upn_says_why(upn: str, why: str) -> None:
    assert why in problems({**example(), "children": [{**example()["children"][0], "upn": upn}]})


def test_valid_upns_permanent_and_temporary_and_none() -> None:
    assert with_child(upn="G80120000101A").children[0].upn == "G80120000101A"
    assert with_child(upn="B801200005001").children[0].upn == "B801200005001"
    assert with_child(upn="").children[0].upn is None


@pytest.mark.parametrize(
    ("dob", "on", "ok"),
    [
        # 5th birthday 10 Feb 2024: compulsory from the next prescribed day, 31 March 2024.
        (dt.date(2019, 2, 10), dt.date(2024, 3, 30), False),
        (dt.date(2019, 2, 10), dt.date(2024, 3, 31), True),
        # Born 23 Sep 2007: compulsory until the last Friday of June 2024 (28 June).
        (dt.date(2007, 9, 23), dt.date(2024, 6, 28), True),
        (dt.date(2007, 9, 23), dt.date(2024, 7, 1), False),
    ],
)
def test_compulsory_school_age_on_the_notification_date(
    dob: dt.date, on: dt.date, ok: bool
) -> None:
    form = with_child(date_of_birth=dob.isoformat())
    if ok:
        check_school_age(form, on=on)
        return
    with pytest.raises(InputError) as info:
        check_school_age(form, on=on)
    assert "children.0 (Ana Silva)" in str(info.value)
    assert f"not on {on.isoformat()}" in str(info.value)


def test_dates_that_cannot_be_right_for_the_day_it_arrived() -> None:
    form = parse_form(example())  # dated 2024-10-21; last attendance 13 Sep, contact 12 Sep
    check_form_dates(form, on=dt.date(2024, 10, 21))
    with pytest.raises(InputError) as info:
        check_form_dates(form, on=dt.date(2024, 9, 12))
    message = str(info.value)
    assert "the form is dated 2024-10-21, after 2024-09-12" in message
    assert "date_of_last_attendance: 2024-09-13 is after 2024-09-12" in message
    assert "date_of_last_contact" not in message


@pytest.mark.parametrize(
    ("dob", "phase"),
    [
        (dt.date(2013, 8, 31), "secondary"),
        (dt.date(2013, 9, 1), "primary"),
        (dt.date(2019, 3, 14), "primary"),
        (dt.date(2010, 1, 1), "secondary"),
    ],
)
def test_age_phase_by_age_on_31_august(dob: dt.date, phase: str) -> None:
    assert age_phase(dob, dt.date(2024, 10, 21)) == phase


def test_what_a_case_takes_from_the_form() -> None:
    form = parse_form(example())
    ana, tiago = form.children
    facts = case_facts(form, ana, on=dt.date(2024, 10, 21))
    assert facts["ground"] == "8(1)(h)"
    assert facts["on_school_roll"] is True
    assert facts["translator_required"] is True
    assert facts["date_of_last_attendance"] == "2024-09-13"
    assert case_facts(form, tiago, on=dt.date(2024, 10, 21))["on_school_roll"] is False
    personal = personal_data(form, ana)
    assert personal["child"]["full_name"] == "Ana Silva"
    assert personal["parent_carer"]["postcode"] == "NW1 0AA"
    assert personal["notifier"]["name"] == "Jo Adeyemi"
    assert set(personal) >= {"involvement", "explanation", "additional_information"}
    # Nothing personal is a fact: facts are plain data guards may read.
    assert "Ana Silva" not in repr(facts)
