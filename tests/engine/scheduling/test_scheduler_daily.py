"""After each sweep the scheduler records it, signs the day's checkpoint and runs the health
checks, logging what is wrong; a failing after-sweep step never stops the scheduler."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from engine.audit import generate_private_key
from engine.cases.service import CaseService
from engine.deployment.config import DeploymentConfig, KeySettings
from engine.deployment.daily import scheduler_hooks
from engine.scheduling.scheduler import ScheduleSettings, SweepJob
from engine.scheduling.sweep import SweepResult
from engine.store.runs import CHECKPOINT, SWEEP, last_run
from tests.conftest import RECORDED_AT
from tests.engine.scheduling.test_scheduler import OFFICER
from tests.engine.scheduling.test_timers import OPENED, form

D = dt.date
TODAY = D(2024, 10, 25)


def test_each_sweep_is_recorded_and_the_hooks_run_after_it(service: CaseService) -> None:
    service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    seen: list[tuple[int, dt.date, dt.datetime]] = []

    def hook(result: SweepResult, on: dt.date, at: dt.datetime) -> None:
        seen.append((result.total, on, at))

    job = SweepJob(service, ScheduleSettings(today=TODAY), clock=lambda: RECORDED_AT, after=(hook,))
    job()
    assert seen == [(5, TODAY, RECORDED_AT)]
    with service.store.read() as conn:
        run = last_run(conn, SWEEP)
    assert run is not None
    assert (run.on_date, run.finished_at) == (TODAY, RECORDED_AT)
    assert run.detail["counts"]["fired"] >= 1


def test_a_failing_hook_is_logged_and_the_next_hook_still_runs(
    service: CaseService, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def broken(_r: SweepResult, _on: dt.date, _at: dt.datetime) -> None:
        raise RuntimeError("disk full")

    def after(_r: SweepResult, _on: dt.date, _at: dt.datetime) -> None:
        ran.append("after")

    job = SweepJob(
        service, ScheduleSettings(today=TODAY), clock=lambda: RECORDED_AT, after=(broken, after)
    )
    with caplog.at_level(logging.ERROR):
        job("weekday sweep")
    assert ran == ["after"]
    assert "weekday sweep: after-sweep step failed" in caplog.messages


def test_the_deployments_hooks_sign_the_days_checkpoint_and_log_the_health_checks(
    service: CaseService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service.open_case(form(OPENED), on=OPENED, at=RECORDED_AT, actor=OFFICER)
    key = tmp_path / "audit.key"
    key.write_bytes(generate_private_key())
    config = DeploymentConfig(
        source=tmp_path / "cme.toml", keys=KeySettings(checkpoint_signing_key_file=key)
    )
    hooks = scheduler_hooks(service.store, config, db_url=service.store.url)
    job = SweepJob(service, ScheduleSettings(today=TODAY), clock=lambda: RECORDED_AT, after=hooks)
    with caplog.at_level(logging.INFO, logger="engine.deployment"):
        job()
    (written,) = (tmp_path / "checkpoints").iterdir()
    assert written.name == "checkpoint-2025-09-01T090000Z.json"
    with service.store.read() as conn:
        signed = last_run(conn, CHECKPOINT)
    assert signed is not None
    assert signed.detail["file"] == str(written)
    # The health checks ran for the day swept and said what is wrong, by name.
    assert any(m.startswith("health checks: ") for m in caplog.messages)
    # (the letters the case queued were never sent: nothing runs `cme outbox send` here)
    assert any(
        m.startswith("health checks: WARNING outbox: 2 outbox item(s) waiting")
        for m in caplog.messages
    )
