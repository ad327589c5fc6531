"""`cme doctor`'s checks that the daily work is being done: the scheduler swept recently, no due
timer was left behind, no letter or email is dead or stuck in the outbox, and a checkpoint was
signed recently. `engine/deployment/doctor.py` runs them with the others.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from engine.deployment.health import FAILING, OK, WARNING, DoctorInputs, Finding
from engine.store.runs import CHECKPOINT, SWEEP, last_run
from engine.store.tables import event_table, outbox_table, timer_table

STUCK_OUTBOX_DAYS = 2
"""An outbox item waiting longer than this many days (pending or failing) is stuck."""
CHECKPOINT_WARN_DAYS = 3
"""A checkpoint older than this (a long weekend) is a warning; twice as old is failing."""


def check_sweep(conn: Connection, inputs: DoctorInputs) -> Finding:
    """The scheduler swept on the last weekday before the day (warning if one or two weekdays
    were missed, failing if more, or if it never swept while timers are pending).
    """
    run = last_run(conn, SWEEP)
    pending = int(
        conn.execute(
            select(func.count()).select_from(timer_table).where(timer_table.c.status == "pending")
        ).scalar_one()
    )
    overdue = conn.execute(
        select(func.count(), func.min(timer_table.c.due_date)).where(
            and_(timer_table.c.status == "pending", timer_table.c.due_date < inputs.on)
        )
    ).one()
    late = (
        f"; {overdue[0]} pending timer(s) were due before {inputs.on.isoformat()}"
        if (overdue[0])
        else ""
    )
    if run is None:
        status = FAILING if pending else WARNING
        return Finding(
            "scheduler",
            status,
            (
                "no sweep has been recorded: is `cme scheduler` running (systemd: "
                f"cme-scheduler.service)?{late}"
            ),
        )
    swept = run.on_date or run.finished_at.date()
    missed = _weekdays_between(swept, inputs.on)
    when = (
        f"last sweep up to {swept.isoformat()}, finished "
        f"{run.finished_at.isoformat(sep=' ', timespec='seconds')}"
    )
    if missed == 0:
        return Finding("scheduler", OK, f"{when}; no weekday missed{late}")
    status = WARNING if missed <= 2 else FAILING
    return Finding(
        "scheduler",
        status,
        (f"{when}: {missed} weekday(s) since without a sweep — is `cme scheduler` running?{late}"),
    )


def _weekdays_between(first: dt.date, last: dt.date) -> int:
    """Weekdays strictly after `first` and strictly before `last`."""
    days = (last - first).days - 1
    if days <= 0:
        return 0
    return sum(1 for n in range(1, days + 1) if (first + dt.timedelta(n)).weekday() < 5)


def check_stuck_timers(conn: Connection, inputs: DoctorInputs) -> Finding:  # noqa: ARG001 (one signature for every check)
    """No due timer was left pending by the last sweep (its step could not be taken, usually
    because the deadline it arms falls past the calendar).
    """
    run = last_run(conn, SWEEP)
    if run is None or run.on_date is None:
        return Finding("timers", OK, "no sweep recorded yet: nothing has been left behind")
    rows = conn.execute(
        select(
            timer_table.c.key, timer_table.c.case_id, timer_table.c.due_date, timer_table.c.calendar
        )
        .where(and_(timer_table.c.status == "pending", timer_table.c.due_date <= run.on_date))
        .order_by(timer_table.c.due_date, timer_table.c.id)
    ).all()
    if not rows:
        return Finding(
            "timers",
            OK,
            (f"every timer due by {run.on_date.isoformat()} (the last sweep) was dealt with"),
        )
    blocked: dict[str, str] = run.detail.get("blocked") or {}
    details = tuple(
        f"{r.case_id} timer {r.key} due {_day(r.due_date)} (calendar {r.calendar})"
        + (f": {blocked[r.key]}" if r.key in blocked else "")
        for r in rows[:20]
    )
    why = next(iter(blocked.values()), None)
    return Finding(
        "timers",
        FAILING,
        (
            f"{len(rows)} timer(s) due by {run.on_date.isoformat()} are still pending after "
            "the last "
            "sweep: the calendar cannot place the step they take"
            + (f" ({why})" if why else "")
            + "; those cases are not moving"
        ),
        details,
    )


def check_outbox(conn: Connection, inputs: DoctorInputs) -> Finding:
    """No outbox item is dead (failing) or waiting more than two days (warning)."""
    dead = conn.execute(
        select(outbox_table.c.id, outbox_table.c.case_id, outbox_table.c.last_error)
        .where(outbox_table.c.status == "dead")
        .order_by(outbox_table.c.id)
    ).all()
    cutoff = inputs.on - dt.timedelta(days=STUCK_OUTBOX_DAYS)
    stuck = conn.execute(
        select(
            outbox_table.c.id,
            outbox_table.c.case_id,
            outbox_table.c.created_on,
            outbox_table.c.last_error,
        )
        .where(
            and_(
                outbox_table.c.status.in_(["pending", "failed"]), outbox_table.c.created_on < cutoff
            )
        )
        .order_by(outbox_table.c.id)
    ).all()
    if dead:
        return Finding(
            "outbox",
            FAILING,
            (
                f"{len(dead)} outbox item(s) dead (no more retries): letters or emails that "
                "did not "
                "go; see `cme outbox list --status dead`, fix the cause, then `cme outbox retry`"
            ),
            tuple(f"#{r.id} {r.case_id}: {r.last_error}" for r in dead[:20]),
        )
    if stuck:
        return Finding(
            "outbox",
            WARNING,
            (
                f"{len(stuck)} outbox item(s) waiting since before {cutoff.isoformat()}: is "
                "`cme outbox send` running?"
            ),
            tuple(
                f"#{r.id} {r.case_id} since {_day(r.created_on)}"
                + (f": {r.last_error}" if r.last_error else "")
                for r in stuck[:20]
            ),
        )
    return Finding(
        "outbox", OK, f"nothing dead, nothing waiting more than {STUCK_OUTBOX_DAYS} days"
    )


def check_checkpoint(conn: Connection, inputs: DoctorInputs) -> Finding:
    """A checkpoint was signed within three days (warning after, failing after six), or none
    is needed yet (no events).
    """
    run = last_run(conn, CHECKPOINT)
    setup = (
        ""
        if inputs.checkpoint_signing
        else (" (no keys.checkpoint_signing_key_file in cme.toml: the scheduler cannot sign one)")
    )
    if run is None:
        events = conn.execute(select(func.count()).select_from(event_table)).scalar_one()
        if not events:
            return Finding(
                "checkpoint",
                OK if inputs.checkpoint_signing else WARNING,
                "no checkpoint yet, and no events to sign" + setup,
            )
        return Finding(
            "checkpoint",
            FAILING,
            (
                f"no checkpoint has ever been signed over {events} event(s): nothing would show a "
                f"fully re-hashed history{setup}"
            ),
        )
    age = inputs.now - run.finished_at
    days = age.total_seconds() / 86400
    said = (
        f"last checkpoint signed {run.finished_at.isoformat(sep=' ', timespec='seconds')} "
        f"({days:.1f} days ago, key {run.detail.get('key_id')}, {run.detail.get('file')})"
    )
    if days > 2 * CHECKPOINT_WARN_DAYS:
        return Finding("checkpoint", FAILING, said + setup)
    if days > CHECKPOINT_WARN_DAYS:
        return Finding("checkpoint", WARNING, said + setup)
    return Finding("checkpoint", OK, said)


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]
