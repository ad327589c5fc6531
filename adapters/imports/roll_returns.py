"""Importing statutory on/off roll returns at non-standard transition points (Appendix 2) as CSV.

Columns (a header row is required; names are not case-sensitive):

| column | required | meaning |
| --- | --- | --- |
| school | yes | the school making the return |
| change | yes | `addition` or `deletion` (to or from the admission register) |
| change_date | yes | the day the pupil's name was added or deleted (Day 1 of the return) |
| child_name | yes | the pupil's full name |
| date_of_birth | yes | of compulsory school age on the change date |
| upn | no | the pupil's UPN (check letter verified) |
| non_standard_transition_point | no | yes (default) or no |
| ground | for deletions | the ground for removal given on the return |
| received_on | no | the day the return reached the LA; blank: expected but not received yet |
| case_id | no | an open roll_returns case the return answers (else a new case is opened) |

Each row opens a roll_returns case on its change date with its facts (or uses `case_id`), then,
if `received_on` is given, records the return as submitted on that date. Dates are YYYY-MM-DD or
DD/MM/YYYY. A row is the same row again (never imported twice) if its school, pupil (UPN, else
name and date of birth), change and change date are the same.
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
from engine.errors import InputError

KIND = "roll_return"
REQUIRED = ("school", "change", "change_date", "child_name", "date_of_birth")
OPTIONAL = ("upn", "non_standard_transition_point", "ground", "received_on", "case_id")


def import_roll_returns(
    service: CaseService, path: str | Path, *, at: dt.datetime, actor: Actor
) -> ImportResult:
    """Check every row of the file, then open (or answer) every return, or none."""
    csv_file = read_csv(path, required=REQUIRED, optional=OPTIONAL)
    problems: list[RowProblem] = []
    rows: list[ImportRow] = []
    today = at.date()
    for row in csv_file.rows:
        p = RowParser(row, problems)
        school = p.text("school")
        change = p.choice("change", ("addition", "deletion"))
        change_date = p.date("change_date", not_after=today)
        name = p.text("child_name")
        dob = p.date_of_birth("date_of_birth", on=change_date)
        upn = p.upn()
        nstp = p.yes_no("non_standard_transition_point", default=True)
        ground = p.text("ground", required=change == "deletion")
        received = p.date("received_on", required=False, not_after=today)
        case_id = p.text("case_id", required=False)
        if case_id and received is None:
            p.fail("case_id names a case awaiting its return, so received_on is needed")
        if received and change_date and received < change_date:
            p.fail(f"received_on {received} is before change_date {change_date}")
        if not p.ok:
            continue
        assert school
        assert change
        assert change_date
        assert name
        assert dob
        values: dict[str, Any] = {
            "school": school,
            "change": change,
            "change_date": change_date,
            "name": name,
            "dob": dob,
            "upn": upn,
            "nstp": nstp,
            "ground": ground,
            "received": received,
            "case_id": case_id,
        }
        who = upn or f"{name.casefold()}|{dob.isoformat()}"
        key = f"{school.casefold()}|{who}|{change}|{change_date.isoformat()}"
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


def _runner(v: dict[str, Any], at: dt.datetime, actor: Actor) -> Callable[[CaseService], str]:
    def run(service: CaseService) -> str:
        case_id = v["case_id"]
        if case_id is not None and service.get(case_id).process_id != "roll_returns":
            raise InputError(f"case {case_id} is not an on/off roll return case")
        if case_id is None:
            form = NotificationForm(
                date=v["change_date"],
                notifier=Notifier(name=v["school"], school_or_service=v["school"]),
                parent_carer=ParentCarer(names="not given on the roll return"),
                children=[
                    Child(
                        full_name=v["name"],
                        date_of_birth=v["dob"],
                        upn=v["upn"],
                        school=v["school"],
                    )
                ],
            )
            (case_id,) = service.open_case(
                form, on=v["change_date"], at=at, actor=actor, process="roll_returns"
            )
            facts = {"roll_change": v["change"], "non_standard_transition_point": v["nstp"]}
            if v["ground"]:
                facts["deletion_ground"] = v["ground"]
            # Every fact the return gives is judged: one refused does not hide another.
            every_reason(
                partial(
                    service.set_fact, case_id, name, value, on=v["change_date"], at=at, actor=actor
                )
                for name, value in facts.items()
            )
        if v["received"] is not None:
            service.fire(case_id, "submit_return", on=v["received"], at=at, actor=actor)
            return f"{case_id}: return received {v['received'].isoformat()}"
        return f"{case_id}: return awaited"

    return run


__all__ = ["import_roll_returns"]
