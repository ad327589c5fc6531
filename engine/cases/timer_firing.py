"""Firing a due timer: one claimed pending timer settled inside the sweep's transaction, its event
(if any) written on the timer's due date, and a timer another sweeper already dealt with skipped.
The decision is `engine/cases/timer_decision.py`; `CaseService.fire_timer_in` delegates here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from engine.cases import timer_decision
from engine.cases.commanding import situation, write
from engine.cases.decide import SCHEDULER_ACTOR
from engine.cases.events import as_date
from engine.cases.projection import CaseState
from engine.cases.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from engine.cases.service import CaseService


def fire_timer_in(
    service: CaseService,
    conn: Connection,
    timer: Mapping[str, Any],
    *,
    at: dt.datetime,
    cases: dict[str, CaseState] | None,
) -> str:
    """Fire one claimed pending timer through `service` (see `CaseService.fire_timer_in`)."""
    uow = UnitOfWork(conn, service.work)
    case = cases.get(timer["case_id"]) if cases is not None else None
    if case is None:
        case = uow.load(timer["case_id"])
    compiled = service.process_for(case)
    states = compiled.definition.states
    tdef = (
        next(
            (t for t in states[timer["state"]].timers if t.id == timer["timer_id"]),
            None,
        )
        if timer["state"] in states
        else None
    )
    sit = situation(service, uow, case, compiled, SCHEDULER_ACTOR, as_date(timer["due_date"]), at)
    outcome = timer_decision.fire_timer(sit, timer, tdef)
    # The claim is guarded by status = 'pending': a timer another sweeper has already dealt
    # with is skipped before anything is written, so nothing fires twice.
    if outcome.draft is None:
        return (
            outcome.status
            if uow.settle_timer(timer["key"], outcome.status, case.seq)
            else "skipped"
        )
    if not uow.settle_timer(timer["key"], outcome.status, case.seq + 1):
        return "skipped"
    result = write(uow, sit, outcome.draft)
    if cases is not None:
        cases[case.id] = result.case
    return outcome.status
