"""`cme calendar`: school days, day counts, calendar summaries and compulsory school age.

Thin over `engine.time.calendar` and `engine.time.school_age`. Only `reload`, which loads a new
calendar
version into a database and re-projects the deadlines measured on it, imports the store (when it
runs), so the other `cme calendar …` commands never load SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import click

from engine.cli.common import DATE, db_option, handle_errors, json_option, print_json
from engine.time.calendar import SchoolCalendar
from engine.time.calendars import LONDON_CALENDAR, load_calendar_or_file
from engine.time.school_age import compulsory_school_age

F = TypeVar("F", bound=Callable[..., Any])


Range = tuple[dt.date, dt.date]


class DateRange(click.ParamType[Range, Any]):
    """An inclusive date range written FROM:TO, e.g. 2024-11-04:2024-11-08."""

    name = "from:to"

    def convert(
        self,
        value: Any,
        param: click.Parameter | None,
        ctx: click.Context | None,  # noqa: ARG002 (click's signature)
    ) -> Range:
        """Parse FROM:TO into a (first, last) pair of dates."""
        if isinstance(value, tuple):
            return (value[0], value[1])
        first, sep, last = str(value).partition(":")
        try:
            if not sep:
                raise ValueError
            lo, hi = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        except ValueError:
            self.fail(
                f"{value!r} is not a date range; write FROM:TO, e.g. 2024-11-04:2024-11-08", param
            )
        if hi < lo:
            self.fail(f"{value!r} ends before it starts", param)
        return (lo, hi)


def calendar_option(func: F) -> F:
    """Add `--calendar NAME|PATH` (default: CME_CALENDAR, else the shipped London calendar)."""
    return click.option(
        "--calendar",
        "calendar_name",
        envvar="CME_CALENDAR",
        default=LONDON_CALENDAR,
        show_default=True,
        help="A shipped calendar's name, or the path of a calendar YAML file.",
    )(func)


def school_option(func: F) -> F:
    """Add `--school NAME|URN`: lay that school's own closure days over the calendar."""
    return click.option(
        "--school",
        default=None,
        help="A school (name, URN or overlay key) whose own INSET and closure days to add, "
        "as its school-run processes count them.",
    )(func)


def _calendar(calendar_name: str, school: str | None = None) -> SchoolCalendar:
    """The calendar asked for, with the school's overlay laid over it when --school names one."""
    from engine.cli import wiring

    wiring.config()  # the deployment's own calendar folder, if it names one
    cal = load_calendar_or_file(calendar_name)
    _refuse_unreloaded(cal)
    if school is None:
        return cal
    from engine.time.school_calendars import load_school_calendar

    return load_school_calendar(school, cal)


def _refuse_unreloaded(cal: SchoolCalendar) -> None:
    """With a database named (CME_DATABASE_URL or cme.toml), refuse a calendar file holding the
    version stored there with other dates, as opening a case does: one version, one answer.
    Without one, no database code is loaded.
    """
    from engine.cli import wiring

    url = wiring.database(None)
    if url is None:
        return
    from engine.cases.catalog import newest_calendar
    from engine.store.database import open_store
    from engine.time.calendars import refuse_unreloaded

    store = open_store(url)
    try:
        with store.read() as conn:
            stored = newest_calendar(conn, cal.name)
    finally:
        store.dispose()
    refuse_unreloaded(cal, stored)


def pause_option(func: F) -> F:
    """Add `--pause FROM:TO` (repeatable): school days in it do not count."""
    return click.option(
        "--pause",
        "pauses",
        type=DateRange(),
        multiple=True,
        help="A stop-the-clock pause FROM:TO (inclusive) whose school days do not count; repeat.",
    )(func)


def _fmt_date(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


@click.group()
def calendar() -> None:
    """School days, day counts and compulsory school age.

    Example: cme calendar school-day --from 2024-10-21 --day 26
    """


@calendar.command("school-day")
@calendar_option
@school_option
@click.option("--from", "start", type=DATE, required=True, help="Day 1 (or the day before it).")
@click.option("--day", "n", type=click.IntRange(min=1), required=True, help="N, counting from 1.")
@pause_option
@json_option
@handle_errors
def school_day(
    calendar_name: str,
    school: str | None,
    start: dt.date,
    n: int,
    pauses: tuple[tuple[dt.date, dt.date], ...],
    as_json: bool,
) -> None:
    """The date of Day N, counting --from as Day 1 (or the first school day after it).

    Example: cme calendar school-day --from 2024-10-21 --day 26
    """
    cal = _calendar(calendar_name, school)
    result = cal.school_day_n(start, n, skip=pauses)
    explanation = cal.explain(start, n, skip=pauses)
    if as_json:
        print_json({"date": result, "explanation": explanation})
    else:
        click.echo(result.isoformat())
        click.echo(explanation)


@calendar.command("count")
@calendar_option
@school_option
@click.option("--from", "start", type=DATE, required=True, help="First day (inclusive).")
@click.option("--to", "end", type=DATE, required=True, help="Last day (inclusive).")
@pause_option
@json_option
@handle_errors
def count(
    calendar_name: str,
    school: str | None,
    start: dt.date,
    end: dt.date,
    pauses: tuple[tuple[dt.date, dt.date], ...],
    as_json: bool,
) -> None:
    """The number of school days from --from to --to, both inclusive.

    Example: cme calendar count --from 2024-09-02 --to 2024-12-20
    """
    cal = _calendar(calendar_name, school)
    days = cal.count(start, end, skip=pauses)
    if as_json:
        print_json({"school_days": days})
    else:
        click.echo(str(days))


@calendar.command("school-age")
@click.option("--dob", type=DATE, required=True, help="Date of birth.")
@json_option
@handle_errors
def school_age(dob: dt.date, as_json: bool) -> None:
    """When compulsory school age starts and ends for a date of birth (both inclusive).

    Example: cme calendar school-age --dob 2007-09-23
    """
    start, until = compulsory_school_age(dob)
    if as_json:
        print_json({"compulsory_from": start, "compulsory_until": until})
    else:
        click.echo(f"compulsory_from: {start.isoformat()}")
        click.echo(f"compulsory_until: {until.isoformat()}")


@calendar.command("show")
@calendar_option
@school_option
@click.option("--year", required=True, help="School year, written like 2024-25.")
@json_option
@handle_errors
def show(calendar_name: str, school: str | None, year: str, as_json: bool) -> None:
    """Terms, half terms, holidays, INSET and closure days and bank holidays for a school year.

    Example: cme calendar show --year 2024-25
    """
    cal = _calendar(calendar_name, school)
    summary = cal.year_summary(year)
    if as_json:
        print_json(summary)
        return
    _print_summary(cal, summary)


@calendar.command("list")
@json_option
@handle_errors
def list_(as_json: bool) -> None:
    """The calendars (the deployment's own folder's and the shipped ones), with their versions
    and school years, then the school overlays.

    Example: cme calendar list
    """
    from engine.cli import wiring
    from engine.time.calendars import available_calendars, load_calendar

    wiring.config()  # the deployment's own calendar folder, if it names one
    from engine.time.school_calendars import (
        available_school_calendars,
        load_school_calendar,
        school_overlay,
    )

    rows: list[dict[str, Any]] = []
    for name in available_calendars():
        cal = load_calendar(name)
        rows.append({"name": name, "version": cal.version, "school_years": cal.school_years()})
    for key in available_school_calendars():
        overlay = school_overlay(key)
        cal = load_school_calendar(key, load_calendar(overlay.base))
        rows.append(
            {
                "name": cal.name,
                "version": cal.version,
                "school_years": cal.school_years(),
                "school": overlay.school,
                "base": overlay.base,
            }
        )
    if as_json:
        print_json(rows)
        return
    for row in rows:
        school = f"  ({row['school']} over {row['base']})" if "school" in row else ""
        click.echo(
            f"{row['name']}  version {row['version']}  {', '.join(row['school_years'])}{school}"
        )


@calendar.command("new")
@click.argument("year")
@click.option(
    "--into",
    "into",
    type=click.Path(dir_okay=False),
    default=None,
    help="A calendar file to add the year to; a file that does not exist yet is "
    "made, named after the file. Without it the year is printed.",
)
@handle_errors
def new(year: str, into: str | None) -> None:
    """Scaffold school YEAR: England's bank holidays listed, the term dates to fill in.

    The year's bank holidays are written as comments for the reader (the engine takes them from
    the `holidays` package). Every term date is left as YYYY-MM-DD, and the file is refused
    (by `show`, `reload` and case opening) until each is replaced with the published date.

    Example: cme calendar new 2027-28 --into my-la.yaml
    """
    from pathlib import Path

    from engine.time.scaffold import add_year, new_calendar_text, year_block

    if into is None:
        click.echo(year_block(year), nl=False)
        return
    path = Path(into)
    if path.exists():
        text = add_year(path.read_text(encoding="utf-8"), year, into)
    else:
        text = new_calendar_text(path.stem, year)
    from engine.cli.output import write_output

    write_output(path, text, personal=False)
    click.echo(
        f"Wrote school year {year} to {into}: fill in every YYYY-MM-DD with the published "
        f"term dates, raise `version` if the calendar is in use, then check it with "
        f"`cme calendar show --calendar {into} --year {year}`"
    )


@calendar.command("reload")
@click.argument("name_or_path")
@click.option("--dry-run", is_flag=True, help="List the deadlines that would move; change nothing.")
@click.option(
    "--on",
    "on",
    type=DATE,
    default="today",
    show_default=True,
    help="Effective date of the deadline_moved events.",
)
@db_option
@click.option("--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR).")
@click.option(
    "--role",
    envvar="CME_ROLE",
    default="policy_owner",
    show_default=True,
    help="Your role (or CME_ROLE); loading a calendar needs load_process.",
)
@json_option
@handle_errors
def reload(
    name_or_path: str,
    dry_run: bool,
    on: dt.date,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Load a new version of a calendar and move every pending deadline measured on it.

    Compares with the version in force in the database, recomputes each pending timer on the
    new dates, and (unless --dry-run) updates the timers and journals each move on its case as
    a deadline_moved event with the reason. A changed file whose version was not raised is
    refused. Run it again to finish an interrupted reload.

    Example: cme calendar reload london-2024-25 --dry-run
    """
    from engine.cli import wiring
    from engine.scheduling.calendar_reload import apply_calendar_reload, plan_calendar_reload

    wiring.config(db_url)  # the deployment's own calendar folder first, if it names one
    cal = load_calendar_or_file(name_or_path)
    service = wiring.service(db_url)
    if dry_run:
        result = plan_calendar_reload(service, cal)
    else:
        result = apply_calendar_reload(
            service, cal, on=on, at=wiring.now(), actor=wiring.actor(actor, role)
        )
    if as_json:
        print_json({**result.as_dict(), "dry_run": dry_run})
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for change in result.changes:
        console.print(f"Changed: {change}", soft_wrap=True)
    if result.moves:
        table = Table(title="Deadlines that move" + (" (dry run)" if dry_run else ""))
        for column in ("case", "timer", "was due", "now due", "how it is computed now"):
            table.add_column(column)
        for m in result.moves:
            table.add_row(
                m.case_id, m.timer_id, m.old_due.isoformat(), m.new_due.isoformat(), m.explanation
            )
        console.print(table)
    console.print(
        result.summary() + ("; dry run, nothing written" if dry_run else ""), soft_wrap=True
    )


def _print_summary(cal: SchoolCalendar, summary: dict[str, Any]) -> None:
    """A year summary as tables, with ISO dates."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    console.print(
        f"Calendar {cal.name} version {cal.version}, school year {summary['year']} "
        f"({_fmt_date(summary['first_day'])} to {_fmt_date(summary['last_day'])}): "
        f"{summary['school_days']} school days",
        soft_wrap=True,
    )
    terms = Table(title="Terms")
    for column in ("term", "first day", "last day", "half term", "school days"):
        terms.add_column(column)
    for term in summary["terms"]:
        half = term["half_term"]
        half_text = (
            f"{_fmt_date(half['first_day'])} to {_fmt_date(half['last_day'])}" if half else "-"
        )
        terms.add_row(
            term["name"],
            _fmt_date(term["first_day"]),
            _fmt_date(term["last_day"]),
            half_text,
            str(term["school_days"]),
        )
    console.print(terms)
    other = Table(title="Days that are not school days (besides weekends)")
    for column in ("what", "from", "to", "note"):
        other.add_column(column)
    rows: list[tuple[dt.date, str, str, str, str]] = []
    for item in summary["breaks"]:
        rows.append(
            (
                item["first_day"],
                item["name"],
                _fmt_date(item["first_day"]),
                _fmt_date(item["last_day"]),
                "",
            )
        )
    for key, label in (("inset_days", "INSET day"), ("closures", "closure")):
        for item in summary[key]:
            day = _fmt_date(item["date"])
            rows.append((item["date"], label, day, day, item["note"] or ""))
    for item in summary["bank_holidays_in_term"]:
        day = _fmt_date(item["date"])
        rows.append((item["date"], "bank holiday", day, day, item["name"]))
    for row in sorted(rows, key=lambda r: r[0]):
        other.add_row(*row[1:])
    console.print(other)
    console.print(f"Source: {cal.definition.source}", soft_wrap=True)
