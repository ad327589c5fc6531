"""The weekly report uploaded for MASH to cross-check (policy section 13): identifying fields
only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from engine.cases.service import CaseService
from engine.protection.access import ActorLike, Permission, require
from engine.reports.as_of import cases_as_of
from engine.reports.reads import log_reads, maybe_date
from engine.reports.register import REGISTER_PROCESSES
from engine.reports.tables import Column, Report

MASH_COLUMNS = (
    Column("case_id", "CME case"),
    Column("full_name", "Child's name"),
    Column("date_of_birth", "Date of birth"),
    Column("gender", "Gender", table=False),
    Column("upn", "UPN"),
    Column("parent_carer", "Parent/carer", table=False),
    Column("address", "Address", table=False),
    Column("postcode", "Postcode"),
    Column("school", "School or last school"),
    Column("cme_since", "CME since"),
)
"""Only what MASH needs to match a child against its records (data minimisation): no ethnicity,
contact numbers, emails, notes, facts or reasons."""


def mash_report(
    service: CaseService,
    *,
    on: dt.date,
    actor: ActorLike,
    at: dt.datetime,
    processes: Collection[str] = REGISTER_PROCESSES,
) -> Report:
    """The weekly report uploaded for MASH to cross-check (section 13): identifying fields only."""
    require(actor, Permission.read_case, table=service.roles)
    cases = cases_as_of(service, on, processes=processes)
    log_reads(service, actor, [c.id for c in cases], action=f"report mash on {on}", at=at)
    rows: list[dict[str, Any]] = []
    for case in cases:
        child = case.personal.get("child") or {}
        carer = case.personal.get("parent_carer") or {}
        rows.append(
            {
                "case_id": case.id,
                "full_name": child.get("full_name"),
                "date_of_birth": maybe_date(child.get("date_of_birth")),
                "gender": child.get("gender"),
                "upn": child.get("upn"),
                "parent_carer": carer.get("names"),
                "address": carer.get("address"),
                "postcode": carer.get("postcode"),
                "school": child.get("school") or child.get("previous_school"),
                "cme_since": case.opened_on,
            }
        )
    return Report(
        name="mash",
        title="Weekly CME report for MASH",
        on=on,
        columns=MASH_COLUMNS,
        rows=rows,
        notes=[f"children missing education on {on.isoformat()}: {len(rows)}"],
    )


__all__ = ["MASH_COLUMNS", "mash_report"]
