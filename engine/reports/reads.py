"""What the reports read of a case, and logging that they read it.

A case's facts with those kept among its personal data, days out of education, dates as a form
holds them, the first event of a kind in a period, and one access-log row per case a report
shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import and_, insert, select

from engine.cases.events import StepTaken, event_from_row
from engine.cases.projection import CaseState, EventKind
from engine.cases.service import CaseService
from engine.protection.access import ActorLike, log_read
from engine.reports.as_of import in_chunks
from engine.store.tables import access_log_table, event_table


def events_between(
    service: CaseService,
    case_ids: Sequence[str],
    since: dt.date,
    on: dt.date,
    *,
    kind: EventKind,
    trigger: str | Collection[str] | None = None,
) -> dict[str, dt.date]:
    """The first effective date of a matching event in [since, on], by case (for a step, one of
    `trigger`'s steps).
    """
    wanted = None if trigger is None else {trigger} if isinstance(trigger, str) else set(trigger)
    out: dict[str, dt.date] = {}
    with service.store.read() as conn:
        for chunk in in_chunks(case_ids):
            rows = conn.execute(
                select(event_table)
                .where(
                    and_(
                        event_table.c.case_id.in_(chunk),
                        event_table.c.kind == str(kind),
                        event_table.c.effective_date >= since,
                        event_table.c.effective_date <= on,
                    )
                )
                .order_by(event_table.c.seq)
            ).all()
            for row in rows:
                ev = event_from_row(row)
                step = ev.body
                if wanted is not None and not (
                    isinstance(step, StepTaken) and step.trigger in wanted
                ):
                    continue
                out.setdefault(ev.case_id, ev.effective_date)
    return out


def log_reads(
    service: CaseService,
    actor: ActorLike,
    case_ids: Sequence[str | None],
    *,
    action: str,
    at: dt.datetime,
) -> None:
    """Record that `actor` read each of `case_ids` (None: no one case) for a report."""
    if not case_ids:
        return
    if len(case_ids) == 1:
        with service.store.engine.begin() as conn:
            log_read(conn, actor, case_id=case_ids[0], action=action, at=at)
        return
    # One statement for the whole report: a register of thousands of cases logs as many reads.
    with service.store.engine.begin() as conn:
        conn.execute(
            insert(access_log_table),
            [
                {"case_id": c, "actor": actor.name, "role": actor.role, "action": action, "at": at}
                for c in case_ids
            ],
        )


def case_facts(case: CaseState) -> dict[str, Any]:
    """Every fact of the case, including those kept with its personal data."""
    personal = case.personal.get("facts")
    return {**case.facts, **personal} if isinstance(personal, dict) else dict(case.facts)


def days_out_of_education(case: CaseState, facts: dict[str, Any], on: dt.date) -> int:
    """Calendar days out of education: from the last attendance if known, else the case's Day 1."""
    start = maybe_date(facts.get("date_of_last_attendance")) or case.opened_on
    return max(0, (on - start).days)


def maybe_date(value: Any) -> dt.date | None:
    """A date from a form's value (a date or ISO text), or None if it holds none."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


__all__ = [
    "case_facts",
    "days_out_of_education",
    "events_between",
    "log_reads",
    "maybe_date",
]
