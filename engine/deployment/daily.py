"""A deployment's daily round: what the doctor looks at, and what the scheduler does after a sweep.

Owns gathering the doctor's inputs from the configuration (calendars as the database uses them,
the master key a command would use, the process files) and the scheduler's after-sweep hooks:
sign the day's checkpoint with the configured key, then run the health checks and log what is
wrong. The checks themselves are `doctor.py`'s; signing is `checkpoints.py`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator

from engine.deployment.checkpoints import checkpoint_folder, sign_daily
from engine.deployment.config import DeploymentConfig, dev_key_path
from engine.deployment.doctor import (
    OK,
    DoctorInputs,
    DoctorReport,
    MasterKeyInUse,
    PublishedFile,
    run_checks,
)
from engine.errors import CMEError
from engine.scheduling.scheduler import AfterSweep
from engine.scheduling.sweep import SweepResult
from engine.store.database import Store
from engine.time.calendar import SchoolCalendar

log = logging.getLogger(__name__)


def doctor_inputs(
    store: Store,
    config: DeploymentConfig,
    *,
    db_url: str | None,
    on: dt.date,
    now: dt.datetime,
) -> DoctorInputs:
    """The doctor's inputs for this deployment, read from its configuration."""
    from engine.time.calendars import DEFAULT_CALENDAR

    def calendar(name: str) -> SchoolCalendar:
        from engine.cases.catalog import newest_calendar
        from engine.time.calendars import load_calendar

        with store.read() as conn:
            stored = newest_calendar(conn, name)
        return stored if stored is not None else load_calendar(name)

    return DoctorInputs(
        store=store,
        on=on,
        now=now,
        calendar=calendar,
        default_calendar=config.calendars.default or DEFAULT_CALENDAR,
        master_key=master_key_in_use(store, config, db_url=db_url),
        process_files=shipped_process_files,
        checkpoint_signing=config.keys.checkpoint_signing_key_file is not None,
    )


def master_key_in_use(
    store: Store, config: DeploymentConfig, *, db_url: str | None
) -> MasterKeyInUse:
    """The master key a command would use, found as commands find it but never made."""
    from sqlalchemy.exc import DBAPIError

    from engine.protection.crypto import master_key_ids
    from engine.protection.masterkeys import find_master_key, read_master_key_file

    dev = dev_key_path(db_url or config.database_url)

    def expected() -> list[str]:
        with store.read() as conn:
            return master_key_ids(conn)

    try:
        choice = find_master_key(
            os.environ,
            key_file=config.keys.master_key_file,
            # Doctor never makes a key: a development key is used only if it is already there.
            dev_path=dev if dev is not None and dev.exists() else None,
            expected=expected,
        )
    except (CMEError, DBAPIError) as exc:
        return MasterKeyInUse(None, str(getattr(exc, "orig", None) or exc))
    previous: list[str] = []
    for path in config.keys.previous_master_key_files:
        try:
            previous.append(read_master_key_file(path).id)
        except CMEError:
            continue
    return MasterKeyInUse(choice.key.id, choice.source, tuple(previous))


def shipped_process_files() -> Iterator[PublishedFile]:
    """The shipped process files, as published versions would be compared with them."""
    from engine.language.loader import load_processes

    for loaded in load_processes():
        yield PublishedFile(loaded.id, loaded.version, loaded.content_hash, str(loaded.path))


def log_report(report: DoctorReport, *, label: str) -> None:
    """Log every finding that is not ok (warning or error), and one line overall."""
    for finding in report.problems():
        level = logging.ERROR if finding.status == "failing" else logging.WARNING
        log.log(
            level, "%s: %s %s: %s", label, finding.status.upper(), finding.check, finding.message
        )
        for detail in finding.details[:5]:
            log.log(level, "%s:     %s", label, detail)
    if report.status == OK:
        log.info("%s: every health check passed for %s", label, report.on.isoformat())


def scheduler_hooks(
    store: Store, config: DeploymentConfig, *, db_url: str | None
) -> tuple[AfterSweep, ...]:
    """After each sweep: sign the day's checkpoint, then run the health checks and log them."""
    folder = checkpoint_folder(db_url, config)

    def checkpoint(_result: SweepResult, _on: dt.date, at: dt.datetime) -> None:
        sign_daily(store, config, folder=folder, at=at)

    def checks(_result: SweepResult, on: dt.date, at: dt.datetime) -> None:
        report = run_checks(doctor_inputs(store, config, db_url=db_url, on=on, now=at))
        log_report(report, label="health checks")

    return (checkpoint, checks)


def start_up_checks(
    store: Store,
    config: DeploymentConfig,
    *,
    db_url: str | None,
    on: dt.date,
    now: dt.datetime,
) -> DoctorReport:
    """The health checks the scheduler runs (and logs) as it starts."""
    report = run_checks(doctor_inputs(store, config, db_url=db_url, on=on, now=now))
    log_report(report, label="start-up health checks")
    return report


__all__ = [
    "doctor_inputs",
    "log_report",
    "master_key_in_use",
    "scheduler_hooks",
    "shipped_process_files",
    "start_up_checks",
]
