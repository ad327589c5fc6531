"""Reports from scenario cases: register, RAG, MASH file, returns and escalations, as of a date."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import select, update

from engine.cases.notification import NotificationForm
from engine.cases.service import Actor, CaseService
from engine.cases.views import case_summary
from engine.reports.as_of import cases_as_of
from engine.reports.escalations import escalations_report
from engine.reports.mash import MASH_COLUMNS, mash_report
from engine.reports.rag import load_rag
from engine.reports.rag_report import rag_report
from engine.reports.register import register_report
from engine.reports.returns import returns_report
from engine.reports.tables import csv_text, safe_cell, xlsx_bytes
from engine.scheduling.sweep import sweep
from engine.store.tables import case_table
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
SCHOOL = Actor("kentish town", "school")
OPENED = dt.date(2024, 10, 21)  # a Monday, Day 1
AS: dict[str, Any] = {"actor": OFFICER, "at": RECORDED_AT}


def _rules(registry):
    facts = {c.definition.id: c.definition.facts for c in registry}
    checks = {c for comp in registry for c in comp.definition.checks()}
    return load_rag(process_facts=facts, process_checks=checks)


def _sweep(service, until: dt.date) -> None:
    """Run the sweep to `until` (the engine's own, not a copy of its loop)."""
    result = sweep(service, until=until, at=RECORDED_AT)
    assert result.total > 0, "the sweep found nothing due: the report below would test nothing"


@pytest.fixture
def siblings(service, example_form):
    """The example notification: Ana (primary, on roll) and Tiago (secondary), last in 13 Sep."""
    return service.open_case(example_form, on=OPENED, at=RECORDED_AT, actor=OFFICER)


def test_register_lists_each_open_case_with_its_core_information(service, siblings) -> None:
    report = register_report(service, **AS, on=OPENED)
    rows = {r["case_id"]: r for r in report.rows}
    ana, tiago = rows[siblings[0]], rows[siblings[1]]
    assert ana["child"] == "Ana Silva"
    assert ana["age"] == 9
    assert ana["phase"] == "primary"
    assert tiago["age"] == 11
    assert tiago["phase"] == "secondary"
    assert ana["school"] == "Kentish Town Primary School"
    assert tiago["school"].startswith("Kentish Town Primary School, 1 Example Road")
    assert ana["ground"] == "8(1)(h)"
    assert ana["state"] == "Notification received, case opened, establishing contact"
    assert ana["school_day"] == 1
    # Last attendance Friday 13 September 2024 → 38 days, 5 whole weeks by 21 October.
    assert (ana["days_out"], ana["weeks_out"]) == (38, 5)
    assert ana["outstanding_checks"] == [
        "core_information_checked",
        "opened_on_cme_register",
        "contact_attempted_by_phone",
        "contact_attempted_by_email",
    ]
    assert ana["next_due"].startswith("2024-10-22: escalate to cme_officer")
    assert ana["assigned_officer"] == "sona"


def test_register_for_a_past_date_does_not_see_later_steps(service, siblings) -> None:
    ana = siblings[0]
    service.record_check(
        ana,
        "core_information_checked",
        on=dt.date(2024, 10, 22),
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="complete",
    )
    service.fire(
        ana, "contact_established", on=dt.date(2024, 10, 23), at=RECORDED_AT, actor=OFFICER
    )
    before = {r["case_id"]: r for r in register_report(service, **AS, on=OPENED).rows}[ana]
    assert "core_information_checked" in before["outstanding_checks"]
    assert before["state_id"] == "establishing_contact"

    def row(on: dt.date) -> dict[str, Any]:
        return {r["case_id"]: r for r in register_report(service, **AS, on=on).rows}[ana]

    on_22 = row(dt.date(2024, 10, 22))
    assert "core_information_checked" not in on_22["outstanding_checks"]
    assert on_22["school_day"] == 2
    after = row(dt.date(2024, 10, 24))
    assert after["state_id"] == "supporting_to_school_place"
    # The same past report, run again after more history, is unchanged.
    assert (
        register_report(service, **AS, on=OPENED).as_json()
        == register_report(service, **AS, on=OPENED).as_json()
    )


def test_a_closed_case_leaves_the_register_from_its_closing_day(service, siblings) -> None:
    tiago = siblings[1]
    service.fire(
        tiago, "contact_established", on=dt.date(2024, 10, 22), at=RECORDED_AT, actor=OFFICER
    )
    for name, value in (
        ("placement_route", "in_year_admissions"),
        ("placement_provision", "Regent High School"),
    ):
        service.set_fact(tiago, name, value, on=dt.date(2024, 11, 4), at=RECORDED_AT, actor=OFFICER)
    service.fire(tiago, "child_placed", on=dt.date(2024, 11, 5), at=RECORDED_AT, actor=OFFICER)

    def listed(on: dt.date) -> set[str]:
        return {r["case_id"] for r in register_report(service, **AS, on=on).rows}

    assert tiago in listed(dt.date(2024, 11, 4))
    assert tiago not in listed(dt.date(2024, 11, 5))
    assert [c.id for c in cases_as_of(service, dt.date(2024, 10, 20))] == []
    # A case closed by the report's date is not even read (at 150,000 cases most are closed):
    # a row that could not be read does not trouble a later report, only an earlier one.
    with service.store.engine.begin() as conn:
        conn.execute(update(case_table).where(case_table.c.id == tiago).values(facts="{not json"))
    assert tiago not in listed(dt.date(2024, 11, 6))
    with pytest.raises(ValueError, match="Expecting property name"):
        listed(dt.date(2024, 11, 4))


def test_rag_colours_follow_the_rules_and_say_why(service, registry, example_form) -> None:
    looked_after = example_form.model_copy(
        update={"children": [example_form.children[0].model_copy(update={"looked_after": True})]}
    )
    no_dates = example_form.model_copy(
        update={
            "children": [example_form.children[1]],
            "date_of_last_attendance": None,
            "additional_information": None,
            "explanation": None,
        }
    )
    # A third child (one child, one open case): Tiago's cousin Rui.
    rui = example_form.children[1].model_copy(
        update={"full_name": "Rui Costa", "date_of_birth": dt.date(2013, 1, 5)}
    )
    young_carer = no_dates.model_copy(
        update={
            "children": [rui],
            "additional_information": "Rui is a YOUNG CARER for his grandmother.",
        }
    )
    (lac,) = service.open_case(looked_after, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    (green,) = service.open_case(no_dates, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    (carer,) = service.open_case(young_carer, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    report = rag_report(service, **AS, on=OPENED, rules=_rules(registry))
    rows = {r["case_id"]: r for r in report.rows}
    assert rows[lac]["colour"] == "red"
    assert rows[lac]["reasons"] == [
        "red: looked-after child",
        "amber: out of education 5 weeks — half-way to the 8-week target",
    ]
    assert rows[green]["colour"] == "green"
    assert rows[green]["reasons"] == [
        "green: no known vulnerability and out of education under 4 weeks"
    ]
    assert rows[carer]["colour"] == "amber"
    assert "group at particular risk" in rows[carer]["reasons"][0]
    assert [r["colour"] for r in report.rows] == ["red", "amber", "green"]
    assert "version 2" in report.notes[0]


def test_rag_safeguarding_concern_recorded_later_turns_the_case_red(
    service, registry, siblings
) -> None:
    ana = siblings[0]
    service.set_fact(
        ana,
        "safeguarding_concern",
        "neighbour reports shouting",
        on=dt.date(2024, 10, 24),
        at=RECORDED_AT,
        actor=OFFICER,
    )
    rules = _rules(registry)
    before = {
        r["case_id"]: r
        for r in rag_report(service, **AS, on=dt.date(2024, 10, 23), rules=rules).rows
    }
    after = {
        r["case_id"]: r
        for r in rag_report(service, **AS, on=dt.date(2024, 10, 24), rules=rules).rows
    }
    assert before[ana]["colour"] == "amber"
    assert after[ana]["colour"] == "red"
    assert after[ana]["reasons"][0].startswith("red: safeguarding concern raised")


def test_changing_a_threshold_in_a_copy_changes_the_colour(
    service, registry, siblings, tmp_path
) -> None:
    from importlib.resources import files

    on = dt.date(2024, 11, 8)  # 56 days after the last attendance: 8 weeks
    shipped = _rules(registry)
    assert {r["colour"] for r in rag_report(service, **AS, on=on, rules=shipped).rows} == {"red"}
    text = files("processes").joinpath("rag.yaml").read_text(encoding="utf-8")
    edited = tmp_path / "rag.yaml"
    edited.write_text(
        text.replace("reintegration_target_weeks: 8", "reintegration_target_weeks: 12")
    )
    facts = {c.definition.id: c.definition.facts for c in registry}
    copy = load_rag(
        edited,
        process_facts=facts,
        process_checks={c for comp in registry for c in comp.definition.checks()},
    )
    rows = rag_report(service, **AS, on=on, rules=copy).rows
    assert {r["colour"] for r in rows} == {"amber"}
    assert rows[0]["reasons"] == [
        "amber: out of education 8 weeks — half-way to the 12-week target"
    ]


def test_mash_file_has_only_the_fields_mash_needs(service, siblings, example_form) -> None:
    report = mash_report(service, **AS, on=OPENED)
    text = csv_text(report)
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == [c.heading for c in MASH_COLUMNS]
    assert [r["Child's name"] for r in table] == ["Ana Silva", "Tiago Silva"]
    assert table[0]["Postcode"] == "NW1 0AA"
    assert table[0]["UPN"] == "H801200001001"
    for secret in (
        "07700 900123",
        "maria.silva@example.com",
        "White - Other",
        "Portuguese",
        "flat apparently empty",
        "aunt",
    ):
        assert secret not in text


def test_csv_and_xlsx_neutralise_formulas(service, example_form) -> None:
    from openpyxl import load_workbook

    hostile = example_form.model_copy(
        update={
            "children": [
                example_form.children[0].model_copy(update={"full_name": '=HYPERLINK("http://x")'})
            ],
            "parent_carer": example_form.parent_carer.model_copy(
                update={"names": "@SUM(A1)", "address": "-2+3"}
            ),
        }
    )
    service.open_case(hostile, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    report = mash_report(service, **AS, on=OPENED)
    row = next(csv.DictReader(io.StringIO(csv_text(report))))
    assert row["Child's name"] == '\'=HYPERLINK("http://x")'
    assert row["Parent/carer"] == "'@SUM(A1)"
    assert row["Address"] == "'-2+3"
    sheet = load_workbook(io.BytesIO(xlsx_bytes(report))).active
    values = [c.value for c in sheet[2]]
    assert '\'=HYPERLINK("http://x")' in values
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-x", "'-x"),
        ("@a", "'@a"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ana", "Ana"),
        (-3, -3),
        (None, ""),
        (True, "yes"),
        (dt.date(2024, 10, 21), "2024-10-21"),
        (["a", "=b"], "a; =b"),
    ],
)
def test_safe_cell(value, expected) -> None:
    assert safe_cell(value) == expected


def _roll_return(
    service: CaseService, example_form: NotificationForm, *, change: str, on: dt.date
) -> str:
    form = example_form.model_copy(update={"children": [example_form.children[0]]})
    (case_id,) = service.open_case(
        form, on=on, at=RECORDED_AT, actor=OFFICER, process="roll_returns"
    )
    service.set_fact(case_id, "roll_change", change, on=on, at=RECORDED_AT, actor=OFFICER)
    service.set_fact(
        case_id, "non_standard_transition_point", True, on=on, at=RECORDED_AT, actor=OFFICER
    )
    return case_id


def test_returns_received_and_overdue(service, example_form) -> None:
    received = _roll_return(service, example_form, change="addition", on=dt.date(2024, 11, 4))
    service.fire(received, "submit_return", on=dt.date(2024, 11, 6), at=RECORDED_AT, actor=SCHOOL)
    overdue = _roll_return(service, example_form, change="addition", on=dt.date(2024, 11, 1))
    waiting = _roll_return(service, example_form, change="addition", on=dt.date(2024, 11, 8))
    deleted = _roll_return(service, example_form, change="deletion", on=dt.date(2024, 11, 8))
    _sweep(service, dt.date(2024, 11, 10))
    report = returns_report(service, **AS, on=dt.date(2024, 11, 10), since=dt.date(2024, 11, 4))
    rows = {r["case_id"]: r for r in report.rows}
    assert rows[received]["status"] == "received"
    assert rows[received]["received_on"] == dt.date(2024, 11, 6)
    # Added on 1 November: Day 7 is 7 November, escalated by the sweep.
    assert rows[overdue]["status"] == "overdue"
    assert rows[overdue]["overdue_since"] == dt.date(2024, 11, 7)
    assert rows[deleted]["status"] == "overdue"  # a deletion is due on the day (Day 2 escalates)
    assert waiting not in rows
    assert rows[overdue]["school"] == "Kentish Town Primary School"
    # As of 6 November nothing was overdue yet and the return had just come in.
    early = returns_report(service, **AS, on=dt.date(2024, 11, 6), since=dt.date(2024, 11, 4))
    assert [(r["case_id"], r["status"]) for r in early.rows] == [(received, "received")]


def test_reports_need_the_right_to_read_cases_and_log_each_read(service, siblings) -> None:
    from engine.errors import AccessDenied
    from engine.store.tables import access_log_table

    with pytest.raises(AccessDenied):
        register_report(service, actor=Actor("x", "school_nurse"), at=RECORDED_AT, on=OPENED)
    mash_report(service, **AS, on=OPENED)
    with service.store.read() as conn:
        logged = conn.execute(select(access_log_table.c.case_id, access_log_table.c.action)).all()
    assert sorted(logged) == [
        (siblings[0], "report mash on 2024-10-21"),
        (siblings[1], "report mash on 2024-10-21"),
    ]


def test_escalations_raised_in_the_period(service, siblings) -> None:
    _sweep(service, dt.date(2024, 10, 24))
    report = escalations_report(
        service, **AS, on=dt.date(2024, 10, 24), since=dt.date(2024, 10, 21)
    )
    # Two Day 1 checks escalated on Day 2 and two Day 1–3 checks on Day 4, for each child.
    assert len(report.rows) == 8
    first = report.rows[0]
    assert first["on"] == dt.date(2024, 10, 22)
    assert first["to_role"] == "cme_officer"
    assert first["message"].startswith("Day 1 check outstanding")
    assert first["still_open"] is True
    assert {r["on"] for r in report.rows} == {dt.date(2024, 10, 22), dt.date(2024, 10, 24)}
    # Acted on once the check is recorded, though the case has not changed stage.
    service.record_check(
        first["case_id"],
        first["check"],
        on=dt.date(2024, 10, 24),
        at=RECORDED_AT,
        actor=OFFICER,
        outcome="done late",
    )
    again = escalations_report(service, **AS, on=dt.date(2024, 10, 24), since=dt.date(2024, 10, 21))
    still = {(r["case_id"], r["check"]): r["still_open"] for r in again.rows}
    assert still[(first["case_id"], first["check"])] is False
    assert sum(still.values()) == 7
    none_yet = escalations_report(
        service, **AS, on=dt.date(2024, 10, 21), since=dt.date(2024, 10, 14)
    )
    assert none_yet.rows == []


def test_register_and_rag_agree_with_the_outstanding_checks_across_stages(
    service, registry, siblings
) -> None:
    ana = siblings[0]
    _sweep(service, dt.date(2024, 10, 25))  # Day 5: the scheduler moves both cases on
    assert service.get(ana).state == "reasonable_checks"
    on = dt.date(2024, 10, 25)
    row = {r["case_id"]: r for r in register_report(service, **AS, on=on).rows}[ana]
    shown = case_summary(service, ana, on=on)["outstanding_checks"]
    assert row["outstanding_checks"] == [o["id"] for o in shown]
    # The missed Day 1–3 checks are still owed after the stage changed.
    assert "contact_attempted_by_email" in row["outstanding_checks"]
    assert "mash_check" in row["outstanding_checks"]  # Day 5–15 has started
    rated = {r["case_id"]: r for r in rag_report(service, **AS, on=on, rules=_rules(registry)).rows}
    assert "amber: 4 check(s) escalated and still outstanding" in " ".join(rated[ana]["reasons"])
