"""Importing the 2024 regulations' attendance returns (attendance_returns) as CSV: the attendance
return (10 continuous school days unauthorised), the sickness return (15 school days) and the
replacement of code N.

Columns (a header row is required; names are not case-sensitive):

| column | required | meaning |
| --- | --- | --- |
| school | yes | the school making the return |
| return | yes | `unauthorised_absence`, `sickness` or `code_n` |
| first_day | yes | the first day of the absence or sickness, or the session coded N (Day 1) |
| child_name | yes | the pupil's full name |
| date_of_birth | yes | of compulsory school age on `first_day` |
| upn | no | the pupil's UPN (check letter verified) |
| absence_unauthorised | for `unauthorised_absence` | yes: every session coded G, N, O or U |
| expects_fifteen_days | for `sickness` | yes: the school expects the pupil to miss 15 school days |
| replacement_code | no | for `code_n`: the code that replaced N (with `replaced_on`) |
| replaced_on | no | for `code_n`: the day code N was replaced |
| received_on | no | the day the return reached the LA; blank: expected, not received yet |

Each row opens an attendance_returns case on `first_day` with its facts, then records the return
as submitted on `received_on` (or code N as replaced on `replaced_on`). The engine counts the
school days: a return received before it is due (fewer than 10 school days of absence, say) is
refused naming its row, and nothing in the file is written. A row is the same row again (never
imported twice) if its school, pupil (UPN, else name and date of birth), return and first day are
the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from adapters.imports.csvfile import RowParser, read_csv
from engine.cases.imports import ImportResult, ImportRow, RowProblem, every_reason, run_import
from engine.cases.notification import Child, NotificationForm, Notifier, ParentCarer
from engine.cases.service import Actor, CaseService

KIND = "attendance_return"
PROCESS = "attendance_returns"
RETURNS = ("unauthorised_absence", "sickness", "code_n")
REQUIRED = ("school", "return", "first_day", "child_name", "date_of_birth")
OPTIONAL = (
    "upn",
    "absence_unauthorised",
    "expects_fifteen_days",
    "replacement_code",
    "replaced_on",
    "received_on",
)
_FIRST_DAY_FACT = {
    "unauthorised_absence": "first_day_of_absence",
    "sickness": "first_day_of_sickness",
    "code_n": "code_n_session_date",
}
_SUBMIT = {
    "unauthorised_absence": "submit_attendance_return",
    "sickness": "submit_sickness_return",
}


def import_attendance_returns(
    service: CaseService, path: str | Path, *, at: dt.datetime, actor: Actor
) -> ImportResult:
    """Check every row of the file, then open every return's case, or none."""
    csv_file = read_csv(path, required=REQUIRED, optional=OPTIONAL)
    problems: list[RowProblem] = []
    rows: list[ImportRow] = []
    today = at.date()
    for row in csv_file.rows:
        p = RowParser(row, problems)
        values = _parse(p, today)
        if not p.ok or values is None:
            continue
        who = values["upn"] or f"{values['name'].casefold()}|{values['dob'].isoformat()}"
        key = f"{values['school'].casefold()}|{who}|{values['kind']}|{values['first'].isoformat()}"
        rows.append(ImportRow(line=row.line, key=key, run=_runner(values, at, actor)))
    return run_import(
        service,
        kind=KIND,
        source=csv_file.path,
        file_sha256=csv_file.sha256,
        rows=rows,
        problems=problems,
        at=at,
    )


def _parse(p: RowParser, today: dt.date) -> dict[str, Any] | None:
    """One row's values, or None (its problems recorded on `p`)."""
    school = p.text("school")
    kind = p.choice("return", RETURNS)
    first = p.date("first_day", not_after=today)
    name = p.text("child_name")
    dob = p.date_of_birth("date_of_birth", on=first)
    upn = p.upn()
    received = p.date("received_on", required=False, not_after=today)
    facts: dict[str, Any] = {}
    if kind == "unauthorised_absence":
        facts["absence_unauthorised"] = p.yes_no("absence_unauthorised")
    elif kind == "sickness":
        facts["expects_fifteen_days_sickness"] = p.yes_no("expects_fifteen_days")
    code = p.text("replacement_code", required=False)
    replaced = p.date("replaced_on", required=False, not_after=today)
    if kind in _SUBMIT and (code or replaced):
        p.fail("replacement_code and replaced_on are only for a code_n return")
    if kind == "code_n":
        if (code is None) != (replaced is None):
            p.fail("a replaced code N needs both replacement_code and replaced_on")
        if received is not None:
            p.fail("a code_n row gives replaced_on, not received_on")
    for later, column in ((received, "received_on"), (replaced, "replaced_on")):
        if later and first and later < first:
            p.fail(f"{column} {later} is before first_day {first}")
    if not p.ok or kind is None or first is None or school is None or name is None:
        return None
    assert dob is not None
    facts = {"return_kind": kind, _FIRST_DAY_FACT[kind]: first, **facts}
    return {
        "school": school,
        "kind": kind,
        "first": first,
        "name": name,
        "dob": dob,
        "upn": upn,
        "facts": facts,
        "received": received,
        "code": code.upper() if code else None,
        "replaced": replaced,
    }


def _runner(v: dict[str, Any], at: dt.datetime, actor: Actor) -> Callable[[CaseService], str]:
    def run(service: CaseService) -> str:
        form = NotificationForm(
            date=v["first"],
            notifier=Notifier(name=v["school"], school_or_service=v["school"]),
            parent_carer=ParentCarer(names="not given on the attendance return"),
            children=[
                Child(full_name=v["name"], date_of_birth=v["dob"], upn=v["upn"], school=v["school"])
            ],
        )
        (case_id,) = service.open_case(form, on=v["first"], at=at, actor=actor, process=PROCESS)
        # Every fact the return gives is judged: one refused does not hide another.
        every_reason(
            partial(service.set_fact, case_id, name, value, on=v["first"], at=at, actor=actor)
            for name, value in v["facts"].items()
        )
        if v["kind"] == "code_n":
            if v["replaced"] is None:
                return f"{case_id}: code N awaiting its replacement"
            every_reason(
                partial(
                    service.set_fact, case_id, name, value, on=v["replaced"], at=at, actor=actor
                )
                for name, value in (
                    ("replacement_code", v["code"]),
                    ("code_n_replaced_on", v["replaced"]),
                )
            )
            service.fire(case_id, "record_code_replaced", on=v["replaced"], at=at, actor=actor)
            return f"{case_id}: code N replaced with {v['code']} on {v['replaced'].isoformat()}"
        if v["received"] is None:
            return f"{case_id}: return awaited"
        service.fire(case_id, _SUBMIT[v["kind"]], on=v["received"], at=at, actor=actor)
        return f"{case_id}: return received {v['received'].isoformat()}"

    return run


__all__ = ["import_attendance_returns"]
