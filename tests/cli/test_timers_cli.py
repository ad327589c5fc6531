"""`cme tick`, `cme scheduler run` (its refusals) and `cme calendar reload` through click's
runner: exit codes, what is printed, and that refusals write nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cases.service import Actor, CaseService
from engine.cli import cli
from engine.language.registry import ProcessRegistry
from engine.store.database import open_store
from engine.time.calendars import load_calendar
from tests.conftest import RECORDED_AT
from tests.engine.scheduling.test_timers import OPENED, form

D = dt.date


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def one_case(sqlite_url: str, registry: ProcessRegistry) -> str:
    """A database with one case opened on Monday 21 Oct 2024, on london-2024-25 (the fallback
    before `london`; the calendar the reloads below edit)."""
    store = open_store(sqlite_url)
    CaseService(store, registry).open_case(
        form(OPENED),
        on=OPENED,
        at=RECORDED_AT,
        actor=Actor("sona", "cme_officer"),
        calendar="london-2024-25",
    )
    store.dispose()
    return sqlite_url


def events(url: str) -> int:
    store = open_store(url)
    try:
        return len(CaseService(store, ProcessRegistry()).events("CME-000001"))
    finally:
        store.dispose()


def test_tick_prints_each_timer_fired_and_a_summary_then_fires_nothing_twice(one_case) -> None:
    result = run("tick", "--until", "2024-10-25", "--db", one_case)
    assert result.exit_code == 0, result.output
    assert "start_reasonable_checks" in result.output
    assert "escalate to cme_officer" in result.output
    assert result.output.strip().splitlines()[-1] == (
        "5 due timers (1 fired, 4 escalated), due 2024-10-22 to 2024-10-25, in 1 batch"
    )
    again = run("tick", "--until", "2024-10-25", "--db", one_case)
    assert again.exit_code == 0
    assert again.output.strip() == "nothing due on or before 2024-10-25"
    assert events(one_case) == 1 + 5


def test_tick_json_lists_every_firing_with_its_due_date(one_case) -> None:
    result = run("tick", "--until", "2024-10-22", "--db", one_case, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["total"], data["counts"]["escalated"], data["stopped_early"]) == (2, 2, False)
    assert {(f["timer_id"], f["due_date"], f["outcome"]) for f in data["firings"]} == {
        ("core_information_checked_outstanding", "2024-10-22", "escalated"),
        ("opened_on_cme_register_outstanding", "2024-10-22", "escalated"),
    }


def test_tick_refuses_a_date_after_today_and_writes_nothing(one_case) -> None:
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    result = run("tick", "--until", tomorrow, "--db", one_case)
    assert result.exit_code == 1
    assert f"--until {tomorrow} is after today" in result.output
    assert events(one_case) == 1


def test_tick_refuses_a_malformed_date_with_usage_help(one_case) -> None:
    result = run("tick", "--until", "25/10/2024", "--db", one_case)
    assert result.exit_code == 2
    assert "write it as YYYY-MM-DD" in result.output


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--at", "25:00"], 2, "'25:00' is not a time of day; write it as HH:MM"),
        (["--timezone", "Mars/Olympus"], 1, "unknown time zone 'Mars/Olympus'"),
        (["--today", "2999-01-01"], 1, "--today 2999-01-01 is after today"),
    ],
)
def test_scheduler_run_refuses_bad_settings_before_starting(sqlite_url, args, code, says) -> None:
    result = run("scheduler", "run", "--db", sqlite_url, *args)
    assert result.exit_code == code
    assert says in result.output


def test_scheduler_help_ends_with_an_example() -> None:
    result = run("scheduler", "run", "--help")
    assert result.exit_code == 0
    assert "Example: cme scheduler run --at 07:00" in result.output


def _edited(tmp_path: Path, version: int, closure: str = "2024-11-05") -> str:
    text = load_calendar("london-2024-25").source_text
    text = text.replace("version: 1\n", f"version: {version}\n", 1).replace(
        "    closures: []", f"    closures:\n      - date: {closure}\n        note: polling day"
    )
    path = tmp_path / f"london-v{version}-{closure}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def in_reasonable_checks(one_case: str) -> str:
    assert run("tick", "--until", "2024-10-25", "--db", one_case).exit_code == 0
    return one_case


def test_calendar_reload_dry_run_lists_moves_and_writes_nothing(
    in_reasonable_checks, tmp_path
) -> None:
    url = in_reasonable_checks
    result = run("calendar", "reload", _edited(tmp_path, 2), "--dry-run", "--db", url)
    assert result.exit_code == 0, result.output
    assert "Changed: no longer school days: 5 Nov 2024" in result.output
    assert "2024-11-18" in result.output
    assert "2024-11-19" in result.output
    assert (
        result.output.strip()
        .splitlines()[-1]
        .endswith("8 deadline(s) move on 1 case(s), 0 keep their date; dry run, nothing written")
    )
    assert events(url) == 1 + 5


def test_calendar_reload_moves_deadlines_and_refuses_an_unraised_version(
    in_reasonable_checks, tmp_path
) -> None:
    url = in_reasonable_checks
    result = run(
        "calendar",
        "reload",
        _edited(tmp_path, 2),
        "--db",
        url,
        "--on",
        "2024-10-28",
        "--actor",
        "pat",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["previous_version"], data["version"], len(data["moves"])) == (1, 2, 8)
    assert events(url) == 1 + 5 + 1  # one deadline_moved event
    unraised = run("calendar", "reload", _edited(tmp_path, 2, closure="2024-11-06"), "--db", url)
    assert unraised.exit_code == 1
    assert "its version was not raised; set `version: 3`" in unraised.output
    assert events(url) == 7


def test_calendar_reload_needs_a_role_that_may_load(in_reasonable_checks, tmp_path) -> None:
    url = in_reasonable_checks
    result = run("calendar", "reload", _edited(tmp_path, 2), "--db", url, "--role", "cme_officer")
    assert result.exit_code == 5
    assert "load a calendar version" in result.output
    assert events(url) == 1 + 5
