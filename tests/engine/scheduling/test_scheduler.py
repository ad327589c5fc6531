"""The alarm clock: the weekday schedule, the start-up catch-up, logging what fired, and a clean
stop on SIGTERM (a real `cme scheduler run` process; no sleeping on the schedule itself)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.cases.service import Actor
from engine.scheduling.scheduler import ScheduleSettings, SweepJob, build_scheduler
from tests.conftest import RECORDED_AT
from tests.engine.scheduling.test_timers import OPENED, form, timer_events

D = dt.date
LONDON = ZoneInfo("Europe/London")
OFFICER = Actor("sona", "cme_officer")


def test_the_sweep_runs_monday_to_friday_at_the_set_time_and_once_at_start_up(service) -> None:
    job = SweepJob(service, ScheduleSettings(at=dt.time(6, 30)), clock=lambda: RECORDED_AT)
    scheduler = build_scheduler(job)
    weekday = scheduler.get_job("weekday_sweep")
    friday_evening = dt.datetime(2024, 12, 20, 18, 0, tzinfo=LONDON)
    nxt = weekday.trigger.get_next_fire_time(None, friday_evening)
    assert nxt == dt.datetime(2024, 12, 23, 6, 30, tzinfo=LONDON)  # Monday, in the holiday too
    summer_time = weekday.trigger.get_next_fire_time(
        None, dt.datetime(2025, 6, 2, 7, 0, tzinfo=LONDON)
    )
    assert summer_time == dt.datetime(2025, 6, 3, 6, 30, tzinfo=LONDON)
    assert summer_time.utcoffset() == dt.timedelta(hours=1)  # 06:30 London time, BST
    catch_up = scheduler.get_job("catch_up")
    assert catch_up.trigger.run_date == RECORDED_AT.astimezone(LONDON)
    # Timers are rows: a missed run is caught up by the next sweep, never replayed one by one.
    assert (weekday.coalesce, weekday.max_instances) == (True, 1)
    assert weekday.misfire_grace_time >= 3600


def test_without_catch_up_only_the_weekday_job_is_scheduled(service) -> None:
    job = SweepJob(service, ScheduleSettings(catch_up=False), clock=lambda: RECORDED_AT)
    assert [j.id for j in build_scheduler(job).get_jobs()] == ["weekday_sweep"]


def test_a_sweep_job_fires_what_is_due_by_today_and_logs_each_timer(service, caplog) -> None:
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    job = SweepJob(service, ScheduleSettings(today=D(2024, 10, 25)), clock=lambda: RECORDED_AT)
    with caplog.at_level(logging.INFO, logger="engine.scheduling.scheduler"):
        result = job("start-up catch-up")
    assert result.total == 5
    assert [t for k, t, _ in timer_events(service, case_id) if k == "timer_fired"] == [
        "reasonable_checks_starts"
    ]
    lines = caplog.messages
    assert (
        f"{case_id} reasonable_checks_starts start_reasonable_checks (due 2024-10-25): fired"
        in lines
    )
    assert lines[-1].startswith("start-up catch-up done: 5 due timers")
    assert job.runs == 1


def test_today_is_read_in_the_schedules_time_zone(service) -> None:
    late_evening_utc = dt.datetime(2025, 6, 2, 23, 30, tzinfo=dt.UTC)  # already 3 June in London
    job = SweepJob(service, ScheduleSettings(), clock=lambda: late_evening_utc)
    assert job.today() == D(2025, 6, 3)


def test_a_stop_asked_for_ends_the_sweep_before_its_next_batch(service) -> None:
    service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    job = SweepJob(service, ScheduleSettings(today=D(2024, 10, 25)), clock=lambda: RECORDED_AT)
    job.stopping.set()
    result = job()
    assert (result.total, result.stopped_early) == (0, True)


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = path.read_text(encoding="utf-8", errors="replace")
        if text in seen:
            return seen
        if proc.poll() is not None:
            pytest.fail(f"the scheduler exited early ({proc.returncode}):\n{seen}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"no {text!r} within {seconds} s:\n{path.read_text()}")


def test_the_scheduler_process_catches_up_at_start_and_stops_cleanly_on_sigterm(
    sqlite_url, registry, tmp_path
) -> None:
    from engine.cases.service import CaseService
    from engine.store.database import open_store

    store = open_store(sqlite_url)
    service = CaseService(store, registry)
    (case_id,) = service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    log = tmp_path / "scheduler.log"
    cme = str(Path(sys.executable).parent / "cme")
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [cme, "scheduler", "run", "--db", sqlite_url, "--today", "2024-12-02", "--at", "07:00"],
            stdout=err,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
        try:
            _wait_for(log, "start-up catch-up done", proc)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log.read_text(encoding="utf-8")
    assert "scheduler started: sweeps Monday to Friday at 07:00 Europe/London" in output
    assert (
        f"{case_id} closure_decision_starts start_closure_decision (due 2024-12-02): fired"
        in output
    )
    assert "SIGTERM received: stopping after the current batch" in output
    assert output.rstrip().endswith("scheduler stopped cleanly")
    fired = [t for k, t, _ in timer_events(service, case_id) if k == "timer_fired"]
    assert fired == ["reasonable_checks_starts", "further_checks_starts", "closure_decision_starts"]
    store.dispose()
