"""How every command opens and writes: the permission `POLICY` names for it, the checks of its
input, the case loaded for update in one transaction, what the decision reads (`Situation`), and
the decided event appended. Every command of `CaseService` (and the modules it delegates to:
`opening.py`, `assignment.py`, `check_commands.py`, `timer_firing.py`) goes through here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from engine.cases.decide import POLICY, SCHEDULER, Command, Draft, Situation
from engine.cases.projection import CaseState
from engine.cases.unit_of_work import CommandResult, UnitOfWork
from engine.protection.access import Actor, require

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from engine.cases.service import CaseService
    from engine.language.machine import CompiledProcess


@contextmanager
def begin_command(
    service: CaseService,
    command: Command,
    case_id: str,
    *,
    actor: Actor,
    on: dt.date,
    at: dt.datetime,
    expected_seq: int | None = None,
    to: CompiledProcess | None = None,
    before: Callable[[], object] | None = None,
) -> Iterator[tuple[UnitOfWork, Situation]]:
    """Open a command on a case: the permission `POLICY` names (the scheduler needs none),
    then the `before` checks of its input, the case loaded for update, and what the
    decision reads.
    """
    permission = POLICY[command].permission
    if permission is not None and actor.role != SCHEDULER:
        require(actor, permission, table=service.roles)
    if before is not None:
        before()
    with service.work.begin() as uow:
        case = uow.load_for_update(case_id, expected_seq)
        yield uow, situation(service, uow, case, to or service.process_for(case), actor, on, at)


def situation(
    service: CaseService,
    uow: UnitOfWork,
    case: CaseState,
    compiled: CompiledProcess,
    actor: Actor,
    on: dt.date,
    at: dt.datetime,
) -> Situation:
    """What the decision reads of the case, loaded in `uow`, under `compiled`."""
    return situation_on(service, uow.conn, case, compiled, actor, on, at)


def situation_on(
    service: CaseService,
    conn: Connection,
    case: CaseState,
    compiled: CompiledProcess,
    actor: Actor,
    on: dt.date,
    at: dt.datetime,
) -> Situation:
    """What the decision reads of the case, read on `conn` (a command's transaction, or a
    read for a dry run such as `step_preview.py`), under `compiled`.
    """
    return Situation(
        case=case,
        compiled=compiled,
        actor=actor,
        on=on,
        at=at,
        calendar=service.calendar_for(case),
        checks=service.checks_of(compiled.definition),
        reveal=lambda c: service.revealed(c, conn=conn),
        history=lambda: service.events(case.id, conn=conn),
    )


def write(uow: UnitOfWork, sit: Situation, draft: Draft) -> CommandResult:
    """Write the decided event in the command's transaction."""
    return uow.append(sit.case, sit.definition, draft, actor=sit.actor, on=sit.on, at=sit.at)
