"""`cme doctor`: each check passes on a healthy deployment and fails (or warns) on a broken one,
with explicit dates; the exit code is the worst finding (0 ok, 1 warning, 2 failing)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select, text

from engine.cases.service import CaseService
from engine.cli import cli
from engine.deployment.doctor import (
    FAILING,
    OK,
    WARNING,
    DoctorInputs,
    MasterKeyInUse,
    PublishedFile,
    check_calendars,
    check_master_key,
    check_processes,
    check_schema,
    run_checks,
)
from engine.deployment.upkeep import check_checkpoint, check_outbox, check_stuck_timers, check_sweep
from engine.language.registry import ProcessRegistry
from engine.store.database import Store, open_store
from engine.store.runs import CHECKPOINT, SWEEP, record_run
from engine.store.tables import (
    case_key_table,
    outbox_table,
    process_version_table,
    timer_table,
)
from tests.conftest import RECORDED_AT
from tests.scenarios.helpers import OFFICER, TEST_CALENDAR, calendars, notification

D = dt.date
MONDAY = D(2024, 10, 21)
NOW = dt.datetime(2024, 10, 21, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def svc(sqlite_url: str, registry: ProcessRegistry) -> Iterator[CaseService]:
    store = open_store(sqlite_url)
    yield CaseService(store, registry, calendars=calendars)
    store.dispose()


@pytest.fixture
def case_id(svc: CaseService) -> str:
    (opened,) = svc.open_case(notification(MONDAY), on=MONDAY, at=RECORDED_AT, actor=OFFICER)
    return str(opened)


def master_id(store: Store) -> str:
    with store.read() as conn:
        return str(conn.execute(select(case_key_table.c.master_key_id)).scalar_one())


def published(store: Store) -> list[PublishedFile]:
    with store.read() as conn:
        return [
            PublishedFile(r.process_id, r.version, r.content_hash, f"{r.process_id}.yaml")
            for r in conn.execute(select(process_version_table))
        ]


def inputs(
    store: Store,
    *,
    on: dt.date = MONDAY,
    now: dt.datetime = NOW,
    key: MasterKeyInUse | None = None,
    files: list[PublishedFile] | None = None,
    signing: bool = True,
) -> DoctorInputs:
    return DoctorInputs(
        store=store,
        on=on,
        now=now,
        calendar=calendars,
        default_calendar=TEST_CALENDAR,
        master_key=key or MasterKeyInUse(None, "not given"),
        process_files=lambda: files or [],
        checkpoint_signing=signing,
    )


def check(store: Store, fn: Any, **kwargs: Any) -> Any:
    with store.read() as conn:
        return fn(conn, inputs(store, **kwargs))


def sql(store: Store, statement: Any, params: dict[str, Any] | None = None) -> None:
    with store.engine.begin() as conn:
        conn.execute(statement, params or {})


def swept(store: Store, on: dt.date, *, blocked: dict[str, str] | None = None) -> None:
    at = dt.datetime.combine(on, dt.time(7, 0), tzinfo=dt.UTC)
    with store.engine.begin() as conn:
        record_run(
            conn,
            SWEEP,
            started_at=at,
            finished_at=at,
            on_date=on,
            detail={"blocked": blocked or {}},
        )


# --- calendars ------------------------------------------------------------------------------------


def test_calendars_covering_the_day_and_sixty_school_days_on_pass(
    svc: CaseService, case_id: str
) -> None:
    found = check(svc.store, check_calendars, on=MONDAY)
    assert found.status == OK, found
    assert TEST_CALENDAR in found.message


def test_a_day_the_calendar_does_not_cover_is_failing_and_says_how_to_add_the_year(
    svc: CaseService, case_id: str
) -> None:
    found = check(svc.store, check_calendars, on=D(2026, 12, 3))
    assert found.status == FAILING
    assert "does not cover 2026-12-03" in found.message
    assert "cme calendar new 2026-27" in found.message


def test_a_calendar_ending_within_sixty_school_days_is_a_warning(svc: CaseService) -> None:
    found = check(svc.store, check_calendars, on=D(2025, 6, 16))
    assert found.status == WARNING
    assert "not the 60 school days after it" in found.message


# --- master key -----------------------------------------------------------------------------------


def test_every_case_key_under_the_master_key_in_use_passes(svc: CaseService, case_id: str) -> None:
    key = MasterKeyInUse(master_id(svc.store), "CME_MASTER_KEY")
    assert check(svc.store, check_master_key, key=key).status == OK


def test_case_keys_under_another_master_key_are_failing(svc: CaseService, case_id: str) -> None:
    key = MasterKeyInUse("0123456789abcdef", "a second key made by mistake")
    found = check(svc.store, check_master_key, key=key)
    assert found.status == FAILING
    assert master_id(svc.store) in found.message
    assert "0123456789abcdef" in found.message


def test_case_keys_under_a_previous_key_mid_rotation_are_a_warning(
    svc: CaseService, case_id: str
) -> None:
    key = MasterKeyInUse("0123456789abcdef", "new key", previous=(master_id(svc.store),))
    found = check(svc.store, check_master_key, key=key)
    assert found.status == WARNING
    assert "cme admin key rotate" in found.message


# --- schema ---------------------------------------------------------------------------------------


def test_a_database_with_every_schema_step_passes(svc: CaseService) -> None:
    assert check(svc.store, check_schema).status == OK


def test_a_database_newer_than_this_cme_is_failing_and_one_behind_a_warning(
    svc: CaseService,
) -> None:
    sql(
        svc.store,
        text("DELETE FROM schema_version WHERE step = (SELECT max(step) FROM schema_version)"),
    )
    assert check(svc.store, check_schema).status == WARNING
    sql(svc.store, text("INSERT INTO schema_version (step, name) VALUES (99, 'from the future')"))
    found = check(svc.store, check_schema)
    assert found.status == FAILING
    assert "newer than this cme" in found.message


# --- scheduler ------------------------------------------------------------------------------------


def test_a_sweep_on_the_last_weekday_passes(svc: CaseService, case_id: str) -> None:
    swept(svc.store, D(2024, 10, 18))  # Friday; the day checked is Monday
    found = check(svc.store, check_sweep, on=MONDAY)
    assert found.status == OK, found


def test_no_sweep_with_timers_pending_is_failing(svc: CaseService, case_id: str) -> None:
    found = check(svc.store, check_sweep, on=MONDAY)
    assert found.status == FAILING
    assert "no sweep has been recorded" in found.message


def test_missed_weekdays_warn_then_fail(svc: CaseService, case_id: str) -> None:
    swept(svc.store, D(2024, 10, 17))  # Thursday: Friday missed
    assert check(svc.store, check_sweep, on=MONDAY).status == WARNING
    swept(svc.store, D(2024, 10, 14))  # an older run does not count: the latest finished does
    assert check(svc.store, check_sweep, on=MONDAY).status == WARNING
    found = check(svc.store, check_sweep, on=D(2024, 10, 24))
    assert found.status == FAILING
    assert "4 weekday(s) since without a sweep" in found.message


# --- timers the calendar cannot place -------------------------------------------------------------


def test_no_timer_left_pending_by_the_last_sweep_passes(svc: CaseService, case_id: str) -> None:
    swept(svc.store, MONDAY)
    assert check(svc.store, check_stuck_timers).status == OK


def test_a_due_timer_the_last_sweep_could_not_take_is_failing(
    svc: CaseService, case_id: str
) -> None:
    with svc.store.read() as conn:
        key, due = conn.execute(
            select(timer_table.c.key, timer_table.c.due_date)
            .where(timer_table.c.status == "pending")
            .order_by(timer_table.c.due_date)
            .limit(1)
        ).one()
    swept(svc.store, due, blocked={key: "Day 20 runs past the end of school year 2024-25"})
    found = check(svc.store, check_stuck_timers, on=due)
    assert found.status == FAILING
    assert "runs past the end of school year 2024-25" in found.message
    assert any(case_id in d and key in d for d in found.details)


# --- outbox ---------------------------------------------------------------------------------------


def _outbox(store: Store, status: str, created_on: dt.date, position: int = 0) -> None:
    sql(
        store,
        insert(outbox_table).values(
            case_id="CME-000001",
            event_seq=1,
            position=position,
            kind="email",
            recipient="cme_officer",
            wording="Check the address",
            status=status,
            attempts=5,
            last_error="connection refused",
            created_on=created_on,
        ),
    )


def test_an_outbox_with_nothing_dead_or_waiting_passes(svc: CaseService) -> None:
    _outbox(svc.store, "sent", D(2024, 10, 1))
    _outbox(svc.store, "pending", MONDAY, position=1)
    assert check(svc.store, check_outbox).status == OK


def test_an_item_waiting_days_is_a_warning_and_a_dead_one_failing(svc: CaseService) -> None:
    _outbox(svc.store, "failed", D(2024, 10, 14))
    found = check(svc.store, check_outbox)
    assert found.status == WARNING
    assert "waiting since before 2024-10-19" in found.message
    _outbox(svc.store, "dead", D(2024, 10, 18), position=1)
    found = check(svc.store, check_outbox)
    assert found.status == FAILING
    assert "connection refused" in found.details[0]


# --- checkpoint age -------------------------------------------------------------------------------


def test_a_checkpoint_signed_yesterday_passes(svc: CaseService, case_id: str) -> None:
    signed = NOW - dt.timedelta(days=1)
    with svc.store.engine.begin() as conn:
        record_run(
            conn,
            CHECKPOINT,
            started_at=signed,
            finished_at=signed,
            detail={"key_id": "abc", "file": "/srv/checkpoints/x.json"},
        )
    assert check(svc.store, check_checkpoint).status == OK


def test_no_checkpoint_over_events_is_failing_and_an_old_one_warns_then_fails(
    svc: CaseService, case_id: str
) -> None:
    found = check(svc.store, check_checkpoint, signing=False)
    assert found.status == FAILING
    assert "checkpoint_signing_key_file" in found.message
    old = NOW - dt.timedelta(days=4)
    with svc.store.engine.begin() as conn:
        record_run(conn, CHECKPOINT, started_at=old, finished_at=old, detail={})
    assert check(svc.store, check_checkpoint).status == WARNING
    assert check(svc.store, check_checkpoint, now=NOW + dt.timedelta(days=5)).status == FAILING


# --- published processes --------------------------------------------------------------------------


def test_published_versions_matching_their_files_pass(svc: CaseService, case_id: str) -> None:
    files = published(svc.store)
    assert files
    found = check(svc.store, check_processes, files=files)
    assert found.status == OK, found


def test_a_file_changed_without_a_new_version_is_failing(svc: CaseService, case_id: str) -> None:
    first, *rest = published(svc.store)
    edited = PublishedFile(first.process_id, first.version, "f" * 64, "processes/edited.yaml")
    found = check(svc.store, check_processes, files=[edited, *rest])
    assert found.status == FAILING
    assert "processes/edited.yaml" in found.details[0]
    assert "raise its `version`" in found.details[0]


# --- all together, and the command ----------------------------------------------------------------


def test_the_report_takes_the_worst_finding_and_its_exit_code(
    svc: CaseService, case_id: str
) -> None:
    report = run_checks(
        inputs(
            svc.store, key=MasterKeyInUse(master_id(svc.store), "env"), files=published(svc.store)
        )
    )
    by_check = {f.check: f.status for f in report.findings}
    assert by_check["scheduler"] == FAILING  # never swept
    assert (report.status, report.exit_code) == (FAILING, 2)
    assert report.as_dict()["checks"][0]["check"] == "calendars"


def test_cme_doctor_exits_with_the_worst_status_and_names_what_is_wrong(tmp_path: Path) -> None:
    env = {"CME_DATABASE_URL": f"sqlite:///{tmp_path / 'cme.db'}", "CME_CONFIG": None}
    runner = CliRunner()
    open_store(env["CME_DATABASE_URL"]).dispose()
    result = runner.invoke(cli, ["doctor", "--on", "2031-01-06", "--json"], env=env)
    data = json.loads(result.stdout)
    assert result.exit_code == 2 == data["exit_code"]
    calendars_found = next(c for c in data["checks"] if c["check"] == "calendars")
    assert calendars_found["status"] == FAILING
    assert "does not cover 2031-01-06" in calendars_found["message"]
    text_run = runner.invoke(cli, ["doctor", "--on", "2031-01-06"], env=env)
    assert text_run.exit_code == 2
    assert "FAILING  calendars:" in text_run.stdout
    assert text_run.stdout.rstrip().endswith("check(s) need attention)")


def test_cme_doctor_on_a_missing_database_fails_and_makes_none(tmp_path: Path) -> None:
    env = {"CME_DATABASE_URL": f"sqlite:///{tmp_path / 'nowhere' / 'cme.db'}", "CME_CONFIG": None}
    result = CliRunner().invoke(cli, ["doctor", "--on", "2026-12-03"], env=env)
    assert result.exit_code == 2
    assert "FAILING  database: no database at" in result.stdout
    assert not (tmp_path / "nowhere").exists()


def test_a_check_that_cannot_run_is_failing_and_the_others_still_run(svc: CaseService) -> None:
    sql(svc.store, text("DROP TABLE run_log"))
    report = run_checks(inputs(svc.store))
    by_check = {f.check: f for f in report.findings}
    assert by_check["scheduler"].status == FAILING
    assert "could not be checked: no such table: run_log" in by_check["scheduler"].message
    assert by_check["outbox"].status == OK


def test_a_sweep_by_hand_is_recorded_as_a_sweep(svc: CaseService, case_id: str) -> None:
    env = {"CME_DATABASE_URL": svc.store.url, "CME_CONFIG": None}
    result = CliRunner().invoke(cli, ["tick", "--until", "2024-10-18"], env=env)
    assert result.exit_code == 0, result.output
    found = check(svc.store, check_sweep, on=MONDAY)
    assert found.status == OK
    assert "last sweep up to 2024-10-18" in found.message
