"""`cme calendar` through click's runner: exit codes, ISO dates and the JSON shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "calendars"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["calendar", *args])


def test_school_day_human_output_starts_with_the_iso_date() -> None:
    result = run("school-day", "--from", "2024-10-21", "--day", "26")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "2024-12-02"
    assert lines[1].startswith("Day 26 = 2 Dec 2024: 26th school day from 21 Oct 2024")


def test_school_day_json() -> None:
    result = run("school-day", "--from", "2024-10-21", "--day", "26", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "date": "2024-12-02",
        "explanation": "Day 26 = 2 Dec 2024: 26th school day from 21 Oct 2024, skipping half "
        "term 28 Oct – 1 Nov, calendar london version 1",
    }


def test_school_day_with_a_pause() -> None:
    result = run(
        "school-day",
        "--from",
        "2024-10-21",
        "--day",
        "26",
        "--pause",
        "2024-11-04:2024-11-05",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["date"] == "2024-12-04"


@pytest.mark.parametrize("bad", ["2024-11-04", "2024-11-08:2024-11-04", "a:b"])
def test_bad_pause_is_a_usage_error(bad: str) -> None:
    result = run("school-day", "--from", "2024-10-21", "--day", "2", "--pause", bad)
    assert result.exit_code == 2
    assert "--pause" in result.stderr


def test_count_human_and_json() -> None:
    human = run("count", "--from", "2024-09-02", "--to", "2024-12-20")
    assert (human.exit_code, human.stdout) == (0, "75\n")
    result = run("count", "--from", "2024-09-02", "--to", "2024-12-20", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"school_days": 75}


@pytest.mark.parametrize(
    ("dob", "expected"),
    [
        ("2019-02-10", {"compulsory_from": "2024-03-31", "compulsory_until": "2035-06-29"}),
        ("2007-09-23", {"compulsory_from": "2012-12-31", "compulsory_until": "2024-06-28"}),
    ],
)
def test_school_age_json_shape(dob: str, expected: dict[str, str]) -> None:
    result = run("school-age", "--dob", dob, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected


def test_school_age_human() -> None:
    result = run("school-age", "--dob", "2007-09-23")
    assert result.exit_code == 0, result.output
    assert result.stdout == "compulsory_from: 2012-12-31\ncompulsory_until: 2024-06-28\n"


def test_show_json() -> None:
    result = run("show", "--year", "2024-25", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["year"] == "2024-25"
    assert summary["calendar"] == "london"
    assert summary["terms"][0]["first_day"] == "2024-09-02"
    assert summary["bank_holidays_in_term"] == [{"date": "2025-05-05", "name": "May Day"}]


def test_show_human_prints_iso_dates() -> None:
    result = run("show", "--year", "2024-25")
    assert result.exit_code == 0, result.output
    for text in ("2024-09-02", "2024-12-20", "2025-05-05", "Christmas holiday", "195 school days"):
        assert text in result.stdout


def test_calendar_option_takes_a_path() -> None:
    path = str(FIXTURES / "two-years.yaml")
    result = run("school-day", "--calendar", path, "--from", "2025-07-14", "--day", "8", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["date"] == "2025-09-03"
    shown = run("show", "--calendar", path, "--year", "2025-26", "--json")
    assert json.loads(shown.stdout)["inset_days"][0]["date"] == "2025-09-01"


def test_list() -> None:
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    assert {"name": "london-2024-25", "version": 1, "school_years": ["2024-25"]} in json.loads(
        result.stdout
    )


def test_date_outside_the_calendar_exits_non_zero_naming_the_year() -> None:
    result = run("school-day", "--from", "2027-10-21", "--day", "3")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: 21 Oct 2027 is in school year 2027-28")
    assert "run `cme calendar new 2027-28`" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_calendar() -> None:
    result = run(
        "count", "--calendar", "london-2024-52", "--from", "2024-09-02", "--to", "2024-09-06"
    )
    assert result.exit_code == 1
    assert "Did you mean 'london-2024-25'?" in result.stderr


def test_invalid_calendar_file_shows_every_issue_with_its_place() -> None:
    path = FIXTURES / "invalid" / "overlapping-terms.yaml"
    result = run("count", "--calendar", str(path), "--from", "2024-09-02", "--to", "2024-09-06")
    assert result.exit_code == 1
    assert "invalid for 1 reason:" in result.stderr
    assert f"{path}:13:20: term 'spring'" in result.stderr


def test_unknown_year_in_show() -> None:
    result = run("show", "--year", "2027-28")
    assert result.exit_code == 1
    assert "no school year '2027-28'" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("school-day", "--from", "21/10/2024", "--day", "3"),
        ("school-day", "--from", "2024-10-21", "--day", "0"),
        ("school-day", "--from", "2024-10-21"),
        ("school-age",),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    assert run(*args).exit_code == 2


@pytest.mark.parametrize("command", ["school-day", "count", "school-age", "show", "list"])
def test_help_ends_with_an_example(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example: cme calendar " + command in result.stdout


def test_calendar_commands_do_not_import_sqlalchemy() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from engine.cli import cli\n"
        "r = CliRunner().invoke(cli, ['calendar', 'school-day', '--from', '2024-10-21', "
        "'--day', '26'])\n"
        "assert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(cli, ['calendar', 'show', '--year', '2024-25'])\n"
        "assert r.exit_code == 0, r.output\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
