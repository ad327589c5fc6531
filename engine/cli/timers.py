"""`cme tick` (one sweep, by hand) and `cme scheduler run` (the sweep every weekday morning)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import click

from engine.cli.common import DATE, db_option, handle_errors, json_option, print_json


class ClockTime(click.ParamType):  # type: ignore[type-arg]
    """A time of day written HH:MM (24-hour)."""

    name = "HH:MM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:  # noqa: ARG002 (click's signature)
        if isinstance(value, dt.time):
            return value
        try:
            hour, minute = str(value).split(":")
            return dt.time(int(hour), int(minute))
        except ValueError:
            self.fail(f"{value!r} is not a time of day; write it as HH:MM, e.g. 07:00", param)


def _refuse_future(until: dt.date, now: dt.datetime, what: str) -> None:
    from engine.errors import InputError

    if until > now.date():
        raise InputError(
            f"{what} {until.isoformat()} is after today ({now.date().isoformat()}): a timer "
            "fires on or after its due date, never before it; give today or an earlier date"
        )


@click.command("tick")
@click.option(
    "--until",
    type=DATE,
    default="today",
    show_default=True,
    help="Fire every timer due on or before this date (YYYY-MM-DD).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Timers fired per transaction.",
)
@db_option
@json_option
@handle_errors
def tick(until: dt.date, batch_size: int, db_url: str | None, as_json: bool) -> None:
    """Fire every timer due on or before --until, once, each with its due date as effective date.

    What the scheduler does every weekday morning, run by hand; running it twice fires nothing
    twice.

    Example: cme tick --until 2024-12-02
    """
    from engine.cli import wiring
    from engine.scheduling.scheduler import record_sweep
    from engine.scheduling.sweep import sweep
    from engine.scheduling.version_migrations import migrate_due_versions

    at = wiring.now()
    _refuse_future(until, at, "--until")
    service = wiring.service(db_url)
    # Versions whose date has come and which say migrate_open_cases move their open cases first.
    migrated = migrate_due_versions(service, until=until, at=at, batch_size=batch_size)
    result = sweep(service, until=until, at=at, batch_size=batch_size, keep_firings=True)
    # In the run log too, so `cme doctor` sees a deployment swept by cron as swept.
    record_sweep(
        service,
        result,
        label="cme tick",
        started=at,
        finished=wiring.now(),
        migrations=[m.as_dict() for m in migrated],
    )
    if as_json:
        data = result.as_dict()
        if migrated:
            data["migrations"] = [m.as_dict() for m in migrated]
        print_json(data)
        return
    for m in migrated:
        click.echo(m.summary())
    # One plain line per timer (due date, case, outcome, timer → step): easy to read and grep.
    for f in result.firings:
        click.echo(
            f"{f.due_date.isoformat()}  {f.case_id}  {f.outcome:<9}  {f.timer_id} → {f.action}"
        )
    click.echo(result.summary())


@click.group()
def scheduler() -> None:
    """Run the sweep every weekday morning, and once at start-up to catch up.

    Example: cme scheduler run --at 07:00
    """


@scheduler.command("run")
@click.option(
    "--at",
    "at_time",
    type=ClockTime(),
    default=None,
    envvar="CME_SWEEP_AT",
    help="Time of the weekday sweep (or CME_SWEEP_AT; default: scheduler.at in "
    "cme.toml, else 07:00).",
)
@click.option(
    "--timezone",
    default=None,
    help="Time zone of --at and of 'today' (default: scheduler.timezone in cme.toml, "
    "else Europe/London).",
)
@click.option(
    "--today",
    type=DATE,
    default=None,
    help="Treat this date as today in every sweep (rehearsals and tests).",
)
@click.option("--no-catch-up", is_flag=True, help="Do not sweep at start-up.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Timers fired per transaction.",
)
@db_option
@handle_errors
def run_cmd(
    at_time: dt.time | None,
    timezone: str | None,
    today: dt.date | None,
    no_catch_up: bool,
    batch_size: int,
    db_url: str | None,
) -> None:
    """Sweep Monday to Friday at --at, and once now; stops cleanly on SIGTERM or Ctrl-C.

    Every weekday is swept, school day or not: most deadlines fall on school days, but calendar
    deadlines (such as 8 weeks) can fall in a holiday, and a sweep with nothing due costs
    nothing. Logs each timer it fires to stderr.

    Example: cme scheduler run --at 07:00 --db postgresql://postgres@127.0.0.1:5432/cme
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from engine.cli import wiring
    from engine.errors import InputError
    from engine.scheduling.scheduler import ScheduleSettings, SweepJob, run

    configured = wiring.config(db_url).scheduler
    at_time = configured.at if at_time is None else at_time
    timezone = configured.timezone if timezone is None else timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {timezone!r}; e.g. Europe/London") from None
    if today is not None:
        _refuse_future(today, wiring.now(), "--today")
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler's own INFO lines ("Added job", "Running job") drown out what was fired.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    settings = ScheduleSettings(
        at=at_time, timezone=timezone, batch_size=batch_size, today=today, catch_up=not no_catch_up
    )
    from engine.deployment.daily import scheduler_hooks, start_up_checks

    service = wiring.service(db_url)
    config = wiring.config(db_url)  # `cme --config`, CME_CONFIG, beside the database, ./
    # After each sweep: the day's signed checkpoint, then the health checks, logged.
    hooks = scheduler_hooks(service.store, config, db_url=wiring.database(db_url))
    job = SweepJob(service, settings, clock=wiring.now, after=hooks)
    if no_catch_up:  # else the start-up sweep runs the checks after it
        start_up_checks(
            service.store, config, db_url=wiring.database(db_url), on=job.today(), now=wiring.now()
        )
    sys.exit(run(job))
