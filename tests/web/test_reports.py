"""The reports pages: the same figures as `cme report` for the same date, as a table, CSV and
XLSX; reads logged as the CLI logs them; not for schools, nor for roles that cannot read cases."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from importlib.resources import files

import pytest
import yaml
from click.testing import CliRunner
from fastapi import FastAPI
from openpyxl import load_workbook

from engine.audit.access import access_entries
from engine.cases.notification import parse_form
from engine.cli import cli
from engine.protection.access import Actor
from tests.web.conftest import SignIn

DAYS = ("2024-10-21", "2024-11-08", "2024-12-02")
"""Day 1, the end of week 3 (Ana's roll return received that week), a later Monday."""
REPORTS = ("register", "rag", "mash", "returns")


@pytest.fixture
def cases(web_app: FastAPI) -> list[str]:
    """The example siblings, opened on Monday 21 October 2024 by an officer; and Ana's roll
    return (an addition on 4 November, received on the 6th).
    """
    text = files("processes").joinpath("forms", "notification_example.yaml").read_text()
    form = parse_form(yaml.safe_load(text))
    service = web_app.state.engine.service
    at, officer = dt.datetime(2024, 10, 21, 9, tzinfo=dt.UTC), Actor("sona", "cme_officer")
    ids = service.open_case(form, on=dt.date(2024, 10, 21), at=at, actor=officer)
    ana = form.model_copy(update={"children": [form.children[0]]})
    on = dt.date(2024, 11, 4)
    at = dt.datetime(2024, 11, 8, 9, tzinfo=dt.UTC)
    (roll,) = service.open_case(ana, on=on, at=at, actor=officer, process="roll_returns")
    service.set_fact(roll, "roll_change", "addition", on=on, at=at, actor=officer)
    service.set_fact(roll, "non_standard_transition_point", True, on=on, at=at, actor=officer)
    school = Actor("kt.lead", "school")
    service.fire(roll, "submit_return", on=dt.date(2024, 11, 6), at=at, actor=school)
    return list(ids)


def cme_report(db: str, name: str, on: str, fmt: str) -> str:
    result = CliRunner().invoke(
        cli,
        ["report", name, "--on", on, "--format", fmt, "--db", db]
        + ["--role", "cme_officer", "--actor", "cli.officer"],
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("name", REPORTS)
def test_downloads_are_the_clis_report_for_the_same_date(
    name: str, cases: list[str], sign_in: SignIn, web_db: str
) -> None:
    officer = sign_in("cme_officer", name="sona.k")
    for on in DAYS:
        web = officer.get(f"/reports/{name}.csv", params={"on": on})
        assert web.status_code == 200
        assert web.headers["content-type"] == "text/csv; charset=utf-8"
        assert f'filename="cme-{name}-{on}.csv"' in web.headers["content-disposition"]
        assert web.headers["cache-control"] == "no-store"
        from_cli = cme_report(web_db, name, on, "csv")
        assert web.text.splitlines() == from_cli.splitlines(), f"{name} on {on}"
        if name == "returns" and on == "2024-11-08":
            assert "received" in web.text
        rows = list(csv.reader(io.StringIO(web.text)))
        book = load_workbook(io.BytesIO(officer.get(f"/reports/{name}.xlsx?on={on}").content))
        sheet = [
            ["" if v is None else str(v) for v in row]
            for row in book.active.iter_rows(values_only=True)
        ]
        assert sheet == rows, f"the spreadsheet holds what the CSV holds ({name} on {on})"


@pytest.mark.parametrize("name", ["register", "rag", "mash"])
def test_the_page_shows_the_clis_figures(
    name: str, cases: list[str], sign_in: SignIn, web_db: str
) -> None:
    officer = sign_in("cme_officer", name="sona.k")
    on = "2024-11-08"
    page = officer.get(f"/reports/{name}", params={"on": on})
    assert page.status_code == 200
    data = json.loads(cme_report(web_db, name, on, "json"))
    assert len(data["rows"]) == 2
    assert f"{len(data['rows'])} rows" in page.text
    assert '<th scope="col" class="govuk-table__header">' in page.text
    for row in data["rows"]:
        assert f'<a class="govuk-link" href="/cases/{row["case_id"]}">' in page.text
        for key in ("child", "full_name", "weeks_out", "school_day", "colour"):
            if key in row:
                assert f">{row[key]}<" in page.text, (key, row[key])
    for note in data["notes"]:
        assert note in page.text


def test_reads_are_logged_as_the_cli_logs_them(
    cases: list[str], sign_in: SignIn, web_app: FastAPI
) -> None:
    sign_in("line_manager", name="lm").get("/reports/register", params={"on": "2024-11-08"})
    logged = [
        (e["case_id"], e["action"])
        for e in access_entries(web_app.state.engine.store)
        if e["actor"] == "lm" and e["role"] == "line_manager" and e["case_id"]
    ]
    assert logged == [(c, "report register on 2024-11-08") for c in cases]


def test_a_bad_date_is_shown_beside_its_field(sign_in: SignIn) -> None:
    page = sign_in("cme_officer").get("/reports/register", params={"on": "8/11/2024"})
    assert page.status_code == 400
    assert 'href="#on"' in page.text
    assert "The date must be a date written YYYY-MM-DD" in page.text
    assert 'id="on-error"' in page.text


def test_the_list_of_reports_and_an_unknown_one(sign_in: SignIn) -> None:
    officer = sign_in("cme_officer")
    index = officer.get("/reports").text
    for name in REPORTS:
        assert f'href="/reports/{name}"' in index
    assert officer.get("/reports/payroll").status_code == 404
    assert officer.get("/reports/payroll.csv").status_code == 404


def test_who_may_not_see_reports(sign_in: SignIn) -> None:
    assert sign_in("policy_owner").get("/reports").status_code == 403
    assert sign_in("records_manager").get("/reports/register.csv").status_code == 403
    school = sign_in("school", school="Kentish Town Primary School")
    answer = school.get("/reports/mash.xlsx")
    assert answer.status_code == 403
    assert "a school sees only the cases it notified" in answer.text
    assert 'href="/reports"' not in school.get("/").text
