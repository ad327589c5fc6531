"""`cme import …`: notification forms, roll returns, attendance returns, S2S lost pupils, the
weekly Out of School report and enquiry results.

Every row of a file is checked first; if any is bad, each bad row is listed with its line and
nothing is written (exit code 1). Otherwise all rows are written in one transaction. Rows already
imported (same form, same return, same pupil and date) are skipped, so importing a file twice is
safe. CSV files need a header row naming their columns (see each command's help).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from engine.cli.common import DATE, actor_options, db_option, handle_errors, json_option

if TYPE_CHECKING:
    from engine.cases.imports import ImportResult


@click.group("import")
def import_() -> None:
    """Import notifications, returns and extracts: all rows or none, never twice.

    Example: cme import roll-return returns-week-45.csv
    """


@import_.command("form")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--on",
    "on",
    type=DATE,
    default="today",
    show_default=True,
    help="Day 1 of the cases: the day the notifications were received.",
)
@click.option("--process", default="untraceable_cme", show_default=True)
@db_option
@actor_options
@json_option
@handle_errors
def form_cmd(
    files: tuple[str, ...],
    on: dt.date,
    process: str,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Open cases from CME notification forms (YAML or JSON), all files or none.

    Example: cme import form notifications/*.yaml --on 2024-11-04
    """
    from adapters.imports.forms import import_forms
    from engine.cli import wiring

    result = import_forms(
        wiring.service(db_url),
        list(files),
        on=on,
        at=wiring.now(),
        actor=wiring.actor(actor, role),
        process=process,
    )
    _report(result, as_json)


@import_.command("roll-return")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@actor_options
@json_option
@handle_errors
def roll_return_cmd(
    file: str, db_url: str | None, actor: str | None, role: str, as_json: bool
) -> None:
    """Statutory on/off roll returns (Appendix 2) from CSV.

    Columns: school, change (addition/deletion), change_date, child_name, date_of_birth;
    optional: upn, non_standard_transition_point (yes/no), ground (needed for a deletion),
    received_on, case_id. From 4 December 2026 a deletion return also gives what regulation
    13(4) asks for: pupil_address, parents, emergency_telephone; for Ground A new_school and
    new_school_start; for Ground G left_the_country (yes/no) and new_address,
    new_address_parent, new_address_from, or destination.

    Example: cme import roll-return returns.csv
    """
    from adapters.imports.roll_returns import import_roll_returns
    from engine.cli import wiring

    result = import_roll_returns(
        wiring.service(db_url), file, at=wiring.now(), actor=wiring.actor(actor, role)
    )
    _report(result, as_json)


@import_.command("attendance-return")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@actor_options
@json_option
@handle_errors
def attendance_return_cmd(
    file: str, db_url: str | None, actor: str | None, role: str, as_json: bool
) -> None:
    """Attendance, sickness and code N returns (2024 regulations) from CSV.

    Columns: school, return (unauthorised_absence/sickness/code_n), first_day, child_name,
    date_of_birth; optional: upn, absence_unauthorised (yes/no, for unauthorised_absence),
    expects_fifteen_days (yes/no, for sickness), replacement_code and replaced_on (code_n),
    received_on. Run it as the school or the Pupil Attendance Service (--role).

    Example: cme import attendance-return returns.csv --role pupil_attendance_service
    """
    from adapters.imports.attendance_returns import import_attendance_returns
    from engine.cli import wiring

    result = import_attendance_returns(
        wiring.service(db_url), file, at=wiring.now(), actor=wiring.actor(actor, role)
    )
    _report(result, as_json)


@import_.command("s2s")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--on", "on", type=DATE, default="today", show_default=True, help="Day 1 of the cases opened."
)
@db_option
@actor_options
@json_option
@handle_errors
def s2s_cmd(
    file: str, on: dt.date, db_url: str | None, actor: str | None, role: str, as_json: bool
) -> None:
    """The DfE S2S lost pupil extract (section 9) from CSV: a CME case per pupil.

    Columns: upn, surname, forename, date_of_birth, last_school, date_left; optional: gender,
    postcode.

    Example: cme import s2s lost-pupils.csv --on 2024-11-04
    """
    from adapters.imports.s2s import import_s2s
    from engine.cli import wiring

    result = import_s2s(
        wiring.service(db_url), file, on=on, at=wiring.now(), actor=wiring.actor(actor, role)
    )
    _report(result, as_json)


@import_.command("out-of-school")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--on", "on", type=DATE, default="today", show_default=True, help="Day 1 of the cases opened."
)
@db_option
@actor_options
@json_option
@handle_errors
def out_of_school_cmd(
    file: str, on: dt.date, db_url: str | None, actor: str | None, role: str, as_json: bool
) -> None:
    """The weekly Out of School report from the in-house database (section 5) from CSV.

    Columns: child_name, date_of_birth, marked_by, marked_on; optional: gender, upn,
    parent_carer, address, postcode, contact_number, last_school.

    Example: cme import out-of-school out-of-school-week-45.csv --on 2024-11-04
    """
    from adapters.imports.out_of_school import import_out_of_school
    from engine.cli import wiring

    result = import_out_of_school(
        wiring.service(db_url), file, on=on, at=wiring.now(), actor=wiring.actor(actor, role)
    )
    _report(result, as_json)


@import_.command("enquiry")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@actor_options
@json_option
@handle_errors
def enquiry_cmd(file: str, db_url: str | None, actor: str | None, role: str, as_json: bool) -> None:
    """Batch enquiry results (section 8) from CSV, recorded as each case's check.

    Columns: case_id, system (mash, resident_index, housing, council_tax, yos, nhs_spine,
    giap), checked_on, outcome, officer.

    Example: cme import enquiry mash-results.csv
    """
    from adapters.enquiry.csvfile import import_enquiries
    from engine.cli import wiring

    wiring.actor(actor, role)  # refuses a role no person may act in
    result = import_enquiries(wiring.service(db_url), file, at=wiring.now(), role=role)
    _report(result, as_json)


def _report(result: ImportResult, as_json: bool) -> None:
    from engine.cli.common import print_json

    if as_json:
        print_json(
            {
                "source": result.source,
                "sha256": result.file_sha256,
                "written": [{"line": line, "result": what} for line, what in result.written],
                "already_imported": result.already_imported,
            }
        )
        return
    for line, what in result.written:
        click.echo(f"line {line}: {what}")
    click.echo(
        f"{result.source}: {len(result.written)} imported, "
        f"{len(result.already_imported)} already imported before"
        + (
            f" (lines {', '.join(str(n) for n in result.already_imported)})"
            if result.already_imported
            else ""
        )
    )
