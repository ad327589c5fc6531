"""`cme report …` through the CLI: tables, CSV, JSON and XLSX, dated, with clear errors."""

from __future__ import annotations

import csv
import io
import json
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import cli

FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))


def run(db: str, *args: str, role: str = "cme_officer") -> tuple[int, str, str]:
    # A wide terminal, so a table's cells are not folded across lines.
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, [*args, "--db", db, "--role", role, "--actor", "sona"]
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(sqlite_url: str) -> str:
    """The example siblings, opened on Monday 21 October 2024; Ana looked after."""
    code, _, err = run(sqlite_url, "case", "open", "--form", FORM, "--on", "2024-10-21")
    assert code == 0, err
    return sqlite_url


def test_register_as_a_table(db: str) -> None:
    code, out, _ = run(db, "report", "register", "--on", "2024-10-22")
    assert code == 0
    assert "CME register — 2024-10-22" in out
    assert "Ana Silva" in out
    assert "Tiago Silva" in out
    assert "open cases of untraceable_cme as of 2024-10-22: 2" in out


def test_register_as_csv_and_json_for_a_past_date(db: str) -> None:
    code, out, _ = run(db, "report", "register", "--on", "2024-10-21", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["Child"] for r in rows] == ["Ana Silva", "Tiago Silva"]
    assert rows[0]["School day"] == "1"
    assert rows[0]["Weeks out of education"] == "5"
    code, out, _ = run(db, "report", "register", "--on", "2024-10-20", "--format", "json")
    assert code == 0
    assert json.loads(out)["rows"] == []  # before the notification nothing was open


def test_rag_with_an_edited_rules_file(db: str, tmp_path: Path) -> None:
    code, out, _ = run(db, "report", "rag", "--on", "2024-11-08", "--format", "json")
    assert code == 0
    assert {r["colour"] for r in json.loads(out)["rows"]} == {"red"}
    text = files("processes").joinpath("rag.yaml").read_text(encoding="utf-8")
    rules = tmp_path / "rag.yaml"
    rules.write_text(
        text.replace("reintegration_target_weeks: 8", "reintegration_target_weeks: 10"),
        encoding="utf-8",
    )
    code, out, _ = run(
        db, "report", "rag", "--on", "2024-11-08", "--rules", str(rules), "--format", "json"
    )
    assert code == 0
    rows = json.loads(out)["rows"]
    assert {r["colour"] for r in rows} == {"amber"}
    assert rows[0]["reasons"] == [
        "amber: out of education 8 weeks — half-way to the 10-week target"
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "when: looked_after\n",
            "when: looked_afterr\n",
            ":53:11: unknown name 'looked_afterr' in guard `looked_afterr`; did you mean "
            "'looked_after'",
        ),
        (
            "colour: amber\n    when: ehc_plan",
            "colour: blue\n    when: ehc_plan",
            ":66:13: rules.5.colour: Input should be 'red', 'amber' or 'green'",
        ),
        (
            "reintegration_target_weeks: 8",
            "reintegration_target_weeks: eight",
            ":33:31: thresholds.reintegration_target_weeks: Input should be a valid integer",
        ),
    ],
)
def test_a_bad_rules_file_is_placed_and_refused(
    db: str, tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = files("processes").joinpath("rag.yaml").read_text(encoding="utf-8")
    assert old in text
    rules = tmp_path / "rag.yaml"
    rules.write_text(text.replace(old, new), encoding="utf-8")
    code, out, err = run(db, "report", "rag", "--rules", str(rules))
    assert code == 1
    assert out == ""
    assert "invalid for 1 reason" in err
    assert f"{rules}{message}" in err


def test_mash_csv_to_a_file_and_xlsx(db: str, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out_csv = tmp_path / "mash.csv"
    code, _, err = run(db, "report", "mash", "--on", "2024-10-25", "-o", str(out_csv))
    assert code == 0
    assert f"wrote 2 rows to {out_csv}" in err
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    assert rows[1]["Child's name"] == "Tiago Silva"
    assert "Ethnicity" not in rows[0]
    out_xlsx = tmp_path / "mash.xlsx"
    code, _, _ = run(db, "report", "mash", "--format", "xlsx", "-o", str(out_xlsx))
    assert code == 0
    sheet = load_workbook(out_xlsx).active
    assert sheet["B1"].value == "Child's name"
    assert sheet["B2"].value == "Ana Silva"


def test_xlsx_needs_an_output_file(db: str) -> None:
    code, _, err = run(db, "report", "register", "--format", "xlsx")
    assert code == 1
    assert "xlsx is a binary file: give --output FILE.xlsx" in err


def test_returns_and_escalations_periods(db: str) -> None:
    code, out, _ = run(db, "report", "escalations", "--on", "2024-10-25", "--format", "json")
    assert code == 0
    assert json.loads(out)["rows"] == []  # the sweep has not run: nothing was escalated
    code, _, err = run(db, "report", "returns", "--on", "2024-10-25", "--since", "2024-11-01")
    assert code == 1
    assert "--since 2024-11-01 is after --on 2024-10-25" in err


def test_a_role_without_read_access_is_refused(db: str) -> None:
    code, out, err = run(db, "report", "mash", "--on", "2024-10-25", role="scheduler")
    assert code != 0
    assert out == ""
    assert "scheduler" in err
