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

From 4 December 2026 (roll_returns version 3) a deletion return carries what regulation 13(4) of
the 2024 regulations asks for, in these columns (blank ones are simply not recorded; a return
missing one its ground needs is refused, naming the row):

| column | for | meaning |
| --- | --- | --- |
| ground | every deletion | `Ground A` … `Ground O`, or `Regulation 9(3)` |
| pupil_address | every deletion | the pupil's address |
| parents | every deletion | full name and address of each parent the pupil normally lives with |
| emergency_telephone | every deletion | a number each such parent can be reached on |
| new_school | Ground A | the new school |
| new_school_start | Ground A | the day the pupil first attended it, or will |
| left_the_country | Ground G | yes or no |
| new_address | Ground G, in the UK | the new address |
| new_address_parent | Ground G, in the UK | the parent the pupil will live with there |
| new_address_from | Ground G, in the UK | the day the pupil will live there from |
| destination | Ground G, abroad | where the pupil went |

Each row opens a roll_returns case on its change date with its facts (or uses `case_id`), then,
if `received_on` is given, records the return as submitted on that date (under version 3, by the
deletion return step for its ground, after recording the return's details). Dates are YYYY-MM-DD
or DD/MM/YYYY. A row is the same row again (never imported twice) if its school, pupil (UPN, else
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
_DELETION_RETURN = (
    ("pupil_address", "pupil_address"),
    ("parents", "parents_living_with"),
    ("emergency_telephone", "emergency_telephone"),
    ("new_school", "new_school_name"),
    ("new_school_start", "new_school_first_attendance"),
    ("left_the_country", "left_the_country"),
    ("new_address", "new_address"),
    ("new_address_parent", "new_address_parent"),
    ("new_address_from", "new_address_from"),
    ("destination", "destination_country"),
)
"""Version 3's deletion return: CSV column -> fact (regulation 13(4); Camden section 4.3)."""
_DATES = frozenset({"new_school_start", "new_address_from"})
REQUIRED = ("school", "change", "change_date", "child_name", "date_of_birth")
OPTIONAL = (
    "upn",
    "non_standard_transition_point",
    "ground",
    "received_on",
    "case_id",
    *(column for column, _ in _DELETION_RETURN),
)


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
        details = _deletion_details(p)
        if details and change != "deletion":
            p.fail(f"{', '.join(sorted(details))} are only for a deletion")
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
            "details": details,
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
            facts: dict[str, Any] = {
                "roll_change": v["change"],
                "non_standard_transition_point": v["nstp"],
            }
            if _carries_regulation_13_4(service, case_id):
                if v["ground"]:
                    facts["ground"] = v["ground"]
                facts.update(v["details"])
            elif v["details"]:
                raise InputError(
                    f"{', '.join(sorted(v['details']))}: the version of roll_returns in force on "
                    f"{v['change_date'].isoformat()} takes only the ground"
                )
            elif v["ground"]:
                facts["deletion_ground"] = v["ground"]
            # Every fact the return gives is judged: one refused does not hide another.
            every_reason(
                partial(
                    service.set_fact, case_id, name, value, on=v["change_date"], at=at, actor=actor
                )
                for name, value in facts.items()
            )
        elif _carries_regulation_13_4(service, case_id):
            # The return answering an open case brings its regulation 13(4) details with it.
            given = {**({"ground": v["ground"]} if v["ground"] else {}), **v["details"]}
            every_reason(
                partial(
                    service.set_fact, case_id, name, value, on=v["received"], at=at, actor=actor
                )
                for name, value in given.items()
            )
        if v["received"] is not None:
            step = _submit_step(service, case_id, v["change"])
            service.fire(case_id, step, on=v["received"], at=at, actor=actor)
            return f"{case_id}: return received {v['received'].isoformat()}"
        return f"{case_id}: return awaited"

    return run


def _deletion_details(p: RowParser) -> dict[str, Any]:
    """The row's regulation 13(4) details, by fact name (blank columns left out)."""
    found: dict[str, Any] = {}
    for column, fact in _DELETION_RETURN:
        if not p.row.get(column):
            continue
        if column in _DATES:
            found[fact] = p.date(column, not_after=None)
        elif column == "left_the_country":
            found[fact] = p.yes_no(column)
        else:
            found[fact] = p.text(column)
    return found


def _carries_regulation_13_4(service: CaseService, case_id: str) -> bool:
    """Whether the case's version takes the regulation 13(4) deletion return (version 3 on)."""
    definition = service.definition_for(service.get(case_id))
    return definition.trigger("submit_deletion_return") is not None


def _submit_step(service: CaseService, case_id: str, change: str) -> str:
    """The step that records the return: under version 3 a deletion's step is its ground's."""
    case = service.get(case_id)
    if change != "deletion" or not _carries_regulation_13_4(service, case_id):
        return "submit_return"
    ground = case.facts.get("ground")
    if ground == "Ground A":
        return "submit_deletion_return_new_school"
    if ground == "Ground G":
        left = case.facts.get("left_the_country")
        return (
            "submit_deletion_return_left_country" if left else "submit_deletion_return_moved_away"
        )
    return "submit_deletion_return"


__all__ = ["import_roll_returns"]
