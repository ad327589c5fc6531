"""`cme doctor`: the deployment's health on a day, for people and for monitoring (exit 0/1/2).

Thin over `engine.deployment.doctor`; reads the clock and the configuration here, at the edge.
"""

from __future__ import annotations

import datetime as dt
import sys

import click

from engine.cli.common import DATE, db_option, handle_errors, json_option, print_json

_MARK = {"ok": "ok     ", "warning": "WARNING", "failing": "FAILING"}


@click.command()
@click.option(
    "--on",
    "on",
    type=DATE,
    default=None,
    help="The day to check (YYYY-MM-DD; default: today in the scheduler's time zone).",
)
@db_option
@json_option
@handle_errors
def doctor(on: dt.date | None, db_url: str | None, as_json: bool) -> None:
    """Check the deployment is healthy: exit 0 ok, 1 warning, 2 failing (for monitoring).

    Checks that the calendars cover the day (failing) and the 60 school days after it
    (warning); that every case key is wrapped by the master key in use; the schema version;
    the scheduler's last sweep; timers the calendar cannot place; dead or stuck outbox items;
    the age of the last checkpoint; that published processes match their files. Changes
    nothing.

    Example: cme doctor --on 2026-12-03 --json
    """
    from zoneinfo import ZoneInfo

    from engine.cli import wiring
    from engine.deployment.config import DEFAULT_SQLITE, sqlite_file
    from engine.deployment.daily import doctor_inputs
    from engine.deployment.doctor import no_database, run_checks
    from engine.store.database import open_store

    config = wiring.config(db_url)  # `cme --config`, CME_CONFIG, beside the database, ./
    url = wiring.database(db_url)
    now = wiring.now()
    day = on or now.astimezone(ZoneInfo(config.scheduler.timezone)).date()
    file = sqlite_file(url or f"sqlite:///{DEFAULT_SQLITE}")
    if file is not None and not file.exists():
        report = no_database(day, str(file))  # and make none: opening SQLite would
    else:
        store = open_store(url, upgrade=False)
        try:
            report = run_checks(doctor_inputs(store, config, db_url=url, on=day, now=now))
        finally:
            store.dispose()
    if as_json:
        print_json(report.as_dict())
    else:
        for f in report.findings:
            click.echo(f"{_MARK[f.status]}  {f.check}: {f.message}")
            for detail in f.details[:10]:
                click.echo(f"           {detail}")
        click.echo(
            f"{report.status} on {day.isoformat()}"
            + (f" ({len(report.problems())} check(s) need attention)" if report.problems() else "")
        )
    sys.exit(report.exit_code)
