"""The CME register (policy sections 4.4 and 6): every open case on a date with its core
information.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from engine.cases.notification import age_phase
from engine.cases.projection import CaseState
from engine.cases.service import CaseService
from engine.cases.views import day_of_case, outstanding_for
from engine.protection.access import ActorLike, Permission, require
from engine.reports.as_of import TimerAsOf, cases_as_of, timers_as_of
from engine.reports.reads import case_facts, days_out_of_education, log_reads, maybe_date
from engine.reports.tables import Column, Report

REGISTER_PROCESSES = ("untraceable_cme",)
"""Processes whose open cases are children missing education, on the CME register."""


REGISTER_COLUMNS = (
    Column("case_id", "Case"),
    Column("child", "Child"),
    Column("date_of_birth", "Date of birth", table=False),
    Column("age", "Age"),
    Column("phase", "Phase", table=False),
    Column("school", "School or last school", table=False),
    Column("ground", "Ground", table=False),
    Column("state", "Stage", table=False),
    Column("state_id", "Stage id"),
    Column("school_day", "School day"),
    Column("days_out", "Days out of education", table=False),
    Column("weeks_out", "Weeks out of education"),
    Column("outstanding_checks", "Outstanding checks", table=False),
    Column("next_due", "Next due step"),
    Column("assigned_officer", "Officer"),
    Column("opened_on", "Opened", table=False),
)


def register_report(
    service: CaseService,
    *,
    on: dt.date,
    actor: ActorLike,
    at: dt.datetime,
    processes: Collection[str] = REGISTER_PROCESSES,
) -> Report:
    """The CME register (sections 4.4 and 6): every open case on `on` with its core information.

    The reader (`actor`) must be allowed to read cases; their read of each case is logged.
    """
    require(actor, Permission.read_case, table=service.roles)
    cases = cases_as_of(service, on, processes=processes)
    log_reads(service, actor, [c.id for c in cases], action=f"report register on {on}", at=at)
    timers = timers_as_of(service, cases)
    rows = [_register_row(service, case, on, timers[case.id]) for case in cases]
    return Report(
        name="register",
        title="CME register",
        on=on,
        columns=REGISTER_COLUMNS,
        rows=rows,
        notes=[f"open cases of {', '.join(sorted(processes))} as of {on.isoformat()}: {len(rows)}"],
    )


def _register_row(
    service: CaseService, case: CaseState, on: dt.date, timers: list[TimerAsOf]
) -> dict[str, Any]:
    outline = service.outline_for(case)
    child = case.personal.get("child") or {}
    dob = maybe_date(child.get("date_of_birth"))
    facts = case_facts(case)
    day = day_of_case(service, case, on)
    days_out = days_out_of_education(case, facts, on)
    # Every check the case still owes, from whichever stage (as `cme case show` lists them).
    outstanding = [o.id for o in outstanding_for(service, case, outline, on)]
    nxt = timers[0] if timers else None
    return {
        "case_id": case.id,
        "child": child.get("full_name"),
        "date_of_birth": dob,
        "age": _age(dob, on) if dob else None,
        "phase": age_phase(dob, on) if dob else None,
        "school": child.get("school") or child.get("previous_school"),
        "ground": facts.get("ground") or child.get("ground"),
        "state": outline.states[case.state].title,
        "state_id": case.state,
        "school_day": day,
        "days_out": days_out,
        "weeks_out": days_out // 7,
        "outstanding_checks": outstanding,
        "next_due": f"{nxt.due_date.isoformat()}: {nxt.what}" if nxt else None,
        "assigned_officer": case.assigned_officer,
        "opened_on": case.opened_on,
    }


def _age(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


__all__ = ["REGISTER_COLUMNS", "REGISTER_PROCESSES", "register_report"]
