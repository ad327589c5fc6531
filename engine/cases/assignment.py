"""Giving a case to another officer: the `assigned` event naming both officers, refused on a
closed case or one already with that officer. `CaseService.assign` delegates here.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from engine.cases import decide
from engine.cases.commanding import begin_command, write
from engine.cases.decide import Command, Draft
from engine.cases.events import CaseAssigned, EventKind
from engine.cases.unit_of_work import CommandResult
from engine.errors import InputError
from engine.protection.access import Actor

if TYPE_CHECKING:
    from engine.cases.service import CaseService


def assign(
    service: CaseService,
    case_id: str,
    officer: str,
    *,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
    expected_seq: int | None,
) -> CommandResult:
    """Assign the case through `service` (see `CaseService.assign`)."""

    def named() -> object:
        return decide.require_text(officer, "name the officer to give the case to")

    with begin_command(
        service,
        Command.assign,
        case_id,
        actor=actor,
        on=on,
        at=at,
        expected_seq=expected_seq,
        before=named,
    ) as (uow, sit):
        decide.refuse(decide.refusals(sit, Command.assign, "assign it"))
        to = officer.strip()
        if sit.case.assigned_officer == to:
            raise InputError(f"case {case_id} is already assigned to {to}; nothing was written")
        draft = Draft(
            EventKind.assigned,
            CaseAssigned(assigned_officer=to, from_officer=sit.case.assigned_officer),
            "the case given to another officer",
            touch_timers=False,
        )
        return write(uow, sit, draft)
