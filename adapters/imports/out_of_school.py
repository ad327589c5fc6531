"""Importing the weekly Out of School report from the in-house database (Impulse) as CSV
(policy section 5): children key stakeholders have marked as CME, a case each.

Columns (a header row is required):

| column | required | meaning |
| --- | --- | --- |
| child_name | yes | |
| date_of_birth | yes | of compulsory school age on the import date |
| marked_by | yes | the service or stakeholder that marked the child as CME |
| marked_on | yes | the day they marked the child |
| gender | no | |
| upn | no | check letter verified |
| parent_carer | no | names of the parent/carer the child lives with |
| address | no | |
| postcode | no | |
| contact_number | no | |
| last_school | no | |

Each row opens an untraceable_cme case with Day 1 on the import date (`--on`). The same child
(UPN, else name and date of birth) marked on the same day is the same row: next week's report
listing the child again opens nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.imports.csvfile import RowParser, read_csv
from engine.cases.imports import ImportResult, ImportRow, RowProblem, run_import
from engine.cases.notification import Child, NotificationForm, Notifier, ParentCarer
from engine.cases.service import Actor, CaseService

KIND = "out_of_school"
REQUIRED = ("child_name", "date_of_birth", "marked_by", "marked_on")
OPTIONAL = ("gender", "upn", "parent_carer", "address", "postcode", "contact_number", "last_school")


def import_out_of_school(
    service: CaseService, path: str | Path, *, on: dt.date, at: dt.datetime, actor: Actor
) -> ImportResult:
    """Check every row, then open a case per child marked as CME, or none."""
    csv_file = read_csv(path, required=REQUIRED, optional=OPTIONAL)
    problems: list[RowProblem] = []
    rows: list[ImportRow] = []
    for row in csv_file.rows:
        p = RowParser(row, problems)
        name = p.text("child_name")
        dob = p.date_of_birth("date_of_birth", on=on)
        marked_by = p.text("marked_by")
        marked_on = p.date("marked_on", not_after=on)
        upn = p.upn()
        if not p.ok:
            continue
        assert name
        assert dob
        assert marked_by
        assert marked_on
        v: dict[str, Any] = {
            "name": name,
            "dob": dob,
            "upn": upn,
            "marked_by": marked_by,
            "marked_on": marked_on,
            **{k: row.get(k) or None for k in OPTIONAL if k != "upn"},
        }
        who = upn or f"{name.casefold()}|{dob.isoformat()}"
        rows.append(
            ImportRow(
                line=row.line, key=f"{who}|{marked_on.isoformat()}", run=_runner(v, on, at, actor)
            )
        )
    return run_import(
        service,
        kind=KIND,
        source=csv_file.path,
        file_sha256=csv_file.sha256,
        rows=rows,
        problems=problems,
        at=at,
    )


def _runner(
    v: dict[str, Any], on: dt.date, at: dt.datetime, actor: Actor
) -> Callable[[CaseService], str]:
    def run(service: CaseService) -> str:
        form = NotificationForm(
            date=v["marked_on"],
            notifier=Notifier(name=v["marked_by"], school_or_service=v["marked_by"]),
            parent_carer=ParentCarer(
                names=v["parent_carer"] or "not given on the Out of School report",
                address=v["address"],
                postcode=v["postcode"],
                contact_numbers=[v["contact_number"]] if v["contact_number"] else [],
            ),
            children=[
                Child(
                    full_name=v["name"],
                    date_of_birth=v["dob"],
                    upn=v["upn"],
                    gender=v["gender"],
                    previous_school=v["last_school"],
                )
            ],
            explanation=f"Marked as CME by {v['marked_by']} on {v['marked_on'].isoformat()} "
            "(weekly Out of School report).",
        )
        return ", ".join(service.open_case(form, on=on, at=at, actor=actor))

    return run


__all__ = ["import_out_of_school"]
