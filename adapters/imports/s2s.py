"""Importing the DfE S2S lost pupil extract (policy section 9) as CSV: a CME case per pupil.

Columns (a header row is required):

| column | required | meaning |
| --- | --- | --- |
| upn | yes | the pupil's UPN from the CTF (check letter verified) |
| surname | yes | |
| forename | yes | |
| date_of_birth | yes | of compulsory school age on the import date |
| gender | no | |
| last_school | yes | the school that sent the CTF to the lost pupil database (name or LAESTAB) |
| date_left | yes | the day the pupil left that school (taken as the date of last attendance) |
| postcode | no | the last known postcode |

Each row opens an untraceable_cme case with Day 1 on the import date (`--on`), the notifier
being the S2S lost pupil database. A pupil with the same UPN and leaving date is never
imported twice.
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

KIND = "s2s_lost_pupil"
REQUIRED = ("upn", "surname", "forename", "date_of_birth", "last_school", "date_left")
OPTIONAL = ("gender", "postcode")
NOTIFIER = "DfE S2S lost pupil database"


def import_s2s(
    service: CaseService, path: str | Path, *, on: dt.date, at: dt.datetime, actor: Actor
) -> ImportResult:
    """Check every row, then open a case per lost pupil, or none."""
    csv_file = read_csv(path, required=REQUIRED, optional=OPTIONAL)
    problems: list[RowProblem] = []
    rows: list[ImportRow] = []
    for row in csv_file.rows:
        p = RowParser(row, problems)
        upn = p.upn(required=True)
        surname, forename = p.text("surname"), p.text("forename")
        dob = p.date_of_birth("date_of_birth", on=on)
        last_school = p.text("last_school")
        left = p.date("date_left", not_after=on)
        if not p.ok:
            continue
        assert upn
        assert surname
        assert forename
        assert dob
        assert last_school
        assert left
        v: dict[str, Any] = {
            "name": f"{forename} {surname}",
            "dob": dob,
            "upn": upn,
            "gender": row.get("gender") or None,
            "school": last_school,
            "left": left,
            "postcode": row.get("postcode") or None,
        }
        rows.append(
            ImportRow(line=row.line, key=f"{upn}|{left.isoformat()}", run=_runner(v, on, at, actor))
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
            date=on,
            notifier=Notifier(name=NOTIFIER, school_or_service=NOTIFIER),
            parent_carer=ParentCarer(
                names="not known (S2S lost pupil record)", postcode=v["postcode"]
            ),
            children=[
                Child(
                    full_name=v["name"],
                    date_of_birth=v["dob"],
                    upn=v["upn"],
                    gender=v["gender"],
                    previous_school=v["school"],
                )
            ],
            explanation=f"S2S lost pupil: left {v['school']} on {v['left'].isoformat()} with no "
            "destination school known (CTF sent to the lost pupil database).",
            date_of_last_attendance=v["left"],
        )
        return ", ".join(service.open_case(form, on=on, at=at, actor=actor))

    return run


__all__ = ["import_s2s"]
