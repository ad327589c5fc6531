"""`cme doctor`: is this deployment healthy on a given day? Each check says ok, warning or failing.

Owns the checks and their thresholds: the calendars cover the day (failing) and the 60 school
days after it (warning); every case key is wrapped by the master key in use; the schema is the
one this cme knows; the scheduler swept recently; no due timer is stuck; no outbox item is dead
or stuck; a checkpoint was signed recently; the published process versions match their files.
Reads only: nothing is written, no key is made, the schema is not upgraded. The scheduler runs
the same checks at start-up and each morning (`engine/deployment/daily.py`) and logs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from engine.deployment.health import (
    FAILING,
    OK,
    WARNING,
    DoctorInputs,
    DoctorReport,
    Finding,
    MasterKeyInUse,
    PublishedFile,
)
from engine.deployment.upkeep import (
    check_checkpoint,
    check_outbox,
    check_stuck_timers,
    check_sweep,
)
from engine.errors import CMEError
from engine.store.schema import SCHEMA_STEPS
from engine.store.tables import (
    case_key_table,
    case_table,
    process_version_table,
)
from engine.time.calendar import SchoolCalendar

LOOK_AHEAD_SCHOOL_DAYS = 60
"""A calendar must reach this many school days past the day checked, or doctor warns."""


def run_checks(inputs: DoctorInputs) -> DoctorReport:
    """Every check, in a fixed order, each on its own connection; a check that cannot run (a
    missing table, an unreadable file) is itself failing, and the others still run.
    """
    from sqlalchemy.exc import DBAPIError

    report = DoctorReport(on=inputs.on)
    for name, check in _CHECKS:
        try:
            with inputs.store.read() as conn:
                report.findings.append(check(conn, inputs))
        except (CMEError, DBAPIError) as exc:
            why = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            report.findings.append(Finding(name, FAILING, f"could not be checked: {why}"))
    return report


def no_database(on: dt.date, where: str) -> DoctorReport:
    """The report for a deployment whose database is not there."""
    return DoctorReport(
        on=on,
        findings=[
            Finding(
                "database",
                FAILING,
                (
                    f"no database at {where}: check --db, CME_DATABASE_URL or database.url in "
                    "cme.toml, or make a deployment with `cme init DIR`"
                ),
            )
        ],
    )


# --- the checks ----------------------------------------------------------------------------------


def check_calendars(conn: Connection, inputs: DoctorInputs) -> Finding:
    """Every calendar in use covers the day (else failing) and 60 school days on (else warning)."""
    names = sorted(
        {
            inputs.default_calendar,
            *(
                r[0]
                for r in conn.execute(
                    select(case_table.c.calendar).distinct().where(case_table.c.terminal.is_(False))
                )
            ),
        }
    )
    on = inputs.on
    failing: list[str] = []
    warning: list[str] = []
    fine: list[str] = []
    for name in names:
        try:
            cal = inputs.calendar(name)
        except CMEError as exc:
            failing.append(f"calendar {name} cannot be loaded: {exc}")
            continue
        if not cal.covers(on):
            failing.append(_short(cal, on, f"does not cover {on.isoformat()}"))
            continue
        try:
            reach = cal.school_day_n(on, LOOK_AHEAD_SCHOOL_DAYS + 1)
        except CMEError:
            warning.append(
                _short(
                    cal,
                    on,
                    (
                        f"covers {on.isoformat()} but not the {LOOK_AHEAD_SCHOOL_DAYS} school days "
                        "after "
                        "it: deadlines set soon will fall past its last school year"
                    ),
                )
            )
            continue
        fine.append(f"{name} (version {cal.version}) reaches {reach.isoformat()}")
    if failing:
        return Finding("calendars", FAILING, failing[0], tuple(failing[1:] + warning))
    if warning:
        return Finding("calendars", WARNING, warning[0], tuple(warning[1:]))
    return Finding(
        "calendars",
        OK,
        (
            f"{', '.join(names)} cover {on.isoformat()} and the "
            f"{LOOK_AHEAD_SCHOOL_DAYS} school days "
            "after it"
        ),
        tuple(fine),
    )


def _short(cal: SchoolCalendar, on: dt.date, what: str) -> str:
    years = cal.school_years()
    start = on.year if on.month >= 9 else on.year - 1
    missing = f"{start}-{(start + 1) % 100:02d}"
    return (
        f"calendar {cal.name} (version {cal.version}; school years "
        f"{', '.join(years) or 'none'}) {what}: no case can be opened or moved on there. Add "
        f"the year with `cme calendar new {missing}` (or the next one it lacks), fill in the "
        "term dates, then publish it"
    )


def check_master_key(conn: Connection, inputs: DoctorInputs) -> Finding:
    """Every live case key is wrapped by the master key in use (previous keys: a rotation to
    finish, warning; any other key: failing).
    """
    rows = conn.execute(
        select(case_key_table.c.master_key_id, func.count())
        .where(case_key_table.c.wrapped.is_not(None))
        .group_by(case_key_table.c.master_key_id)
    ).all()
    by_key = {str(k): int(n) for k, n in rows}
    key = inputs.master_key
    if key.key_id is None:
        status = FAILING if by_key else WARNING
        return Finding(
            "master key",
            status,
            (
                f"no master key: {key.source}"
                + (
                    f"; the database's case keys are wrapped by {', '.join(sorted(by_key))}"
                    if by_key
                    else ""
                )
            ),
        )
    others = {k: n for k, n in by_key.items() if k != key.key_id}
    if not others:
        return Finding(
            "master key",
            OK,
            (
                f"the master key in use ({key.key_id}, from {key.source}) wraps all "
                f"{by_key.get(key.key_id, 0)} case key(s)"
            ),
        )
    unknown = {k: n for k, n in others.items() if k not in key.previous}
    if unknown:
        return Finding(
            "master key",
            FAILING,
            (
                f"{sum(unknown.values())} case key(s) are wrapped by master key(s) "
                f"{', '.join(sorted(unknown))}, not the one in use "
                f"({key.key_id}, from {key.source}):"
                " those cases' personal data cannot be read. Use the deployment's key file"
            ),
            tuple(f"{k}: {n} case key(s)" for k, n in sorted(unknown.items())),
        )
    return Finding(
        "master key",
        WARNING,
        (
            f"{sum(others.values())} case key(s) are still wrapped by a previous master key "
            f"({', '.join(sorted(others))}): finish the rotation with `cme admin key rotate`"
        ),
    )


def check_schema(conn: Connection, inputs: DoctorInputs) -> Finding:  # noqa: ARG001 (one signature for every check)
    """The database has had exactly the schema steps this cme knows."""
    try:
        done = sorted(r[0] for r in conn.execute(text("SELECT step FROM schema_version")))
    except Exception:  # noqa: BLE001 (no table: not a cme database, or not made yet)
        return Finding(
            "schema",
            FAILING,
            "the database has no schema_version table: it is not "
            "a cme database, or none was made yet (run `cme init`)",
        )
    known = len(SCHEMA_STEPS)
    if done and done[-1] > known:
        return Finding(
            "schema",
            FAILING,
            (
                f"the database is at schema step {done[-1]}, newer than this cme knows ({known}): "
                "it was upgraded by a newer cme; install that"
            ),
        )
    missing = [n for n in range(1, known + 1) if n not in done]
    if missing:
        names = [SCHEMA_STEPS[n - 1][0] for n in missing]
        return Finding(
            "schema",
            WARNING,
            (
                f"{len(missing)} schema step(s) not applied yet (the next command that opens the "
                f"database applies them): {'; '.join(names)}"
            ),
        )
    return Finding("schema", OK, f"schema step {known} of {known}: up to date")


def check_processes(conn: Connection, inputs: DoctorInputs) -> Finding:
    """Each process file's version, where published, was published from that very text."""
    stored = {
        (r.process_id, int(r.version)): r.content_hash
        for r in conn.execute(
            select(
                process_version_table.c.process_id,
                process_version_table.c.version,
                process_version_table.c.content_hash,
            )
        )
    }
    differ: list[str] = []
    unpublished: list[str] = []
    files = list(inputs.process_files())
    for f in files:
        published = stored.get((f.process_id, f.version))
        if published is None:
            unpublished.append(f"{f.process_id} v{f.version}")
        elif published != f.content_hash:
            differ.append(
                f"{f.path}: {f.process_id} version {f.version} differs from the text published "
                f"under that version ({published[:12]} vs {f.content_hash[:12]}): raise its "
                "`version` and publish it, or restore the file"
            )
    if differ:
        return Finding(
            "processes",
            FAILING,
            (
                f"{len(differ)} process file(s) differ from their published version: no case can "
                "be opened on them"
            ),
            tuple(differ),
        )
    note = (
        f"; not yet published (published when first used): {', '.join(unpublished)}"
        if unpublished
        else ""
    )
    return Finding(
        "processes",
        OK,
        (f"{len(files) - len(unpublished)} published process version(s) match their files{note}"),
    )


_CHECKS: list[tuple[str, Callable[[Connection, DoctorInputs], Finding]]] = [
    ("calendars", check_calendars),
    ("master key", check_master_key),
    ("schema", check_schema),
    ("scheduler", check_sweep),
    ("timers", check_stuck_timers),
    ("outbox", check_outbox),
    ("checkpoint", check_checkpoint),
    ("processes", check_processes),
]


__all__ = [
    "FAILING",
    "OK",
    "WARNING",
    "DoctorInputs",
    "DoctorReport",
    "Finding",
    "MasterKeyInUse",
    "PublishedFile",
    "no_database",
    "run_checks",
]
