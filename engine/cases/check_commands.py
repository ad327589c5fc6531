"""The officer's commands on a case's checks: record that a check was made (or amend it, keeping
the earlier outcome) and waive one with a reason. The decisions are `decide.record_check` and
`engine/cases/waivers.py`; `CaseService.record_check` and `.waive_check` delegate here.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from engine.cases import decide, free_text
from engine.cases.commanding import begin_command, write
from engine.cases.decide import Command
from engine.cases.unit_of_work import CommandResult
from engine.protection.access import Actor

if TYPE_CHECKING:
    from engine.cases.service import CaseService


def record_check(
    service: CaseService,
    case_id: str,
    check_id: str,
    *,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
    outcome: str,
    expected_seq: int | None,
    amend: bool,
    reason: str | None,
) -> CommandResult:
    """Record a check through `service` (see `CaseService.record_check`)."""

    def blank() -> object:
        decide.require_text(
            outcome,
            "say what the check found: --outcome TEXT or --outcome-file PATH (not blank)",
        )
        free_text.check_free_text(outcome, what="outcome")
        return free_text.reason_with(amend, reason, flag="--amend")

    with begin_command(
        service,
        Command.check,
        case_id,
        actor=actor,
        on=on,
        at=at,
        expected_seq=expected_seq,
        before=blank,
    ) as (uow, sit):
        draft = decide.record_check(
            sit, check_id, outcome, amend=amend, reason=(reason or "").strip()
        )
        return write(uow, sit, draft)


def waive_check(
    service: CaseService,
    case_id: str,
    check_id: str,
    *,
    reason: str,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
    expected_seq: int | None,
) -> CommandResult:
    """Waive a check through `service` (see `CaseService.waive_check`)."""

    def said() -> object:
        return free_text.check_free_text(reason, what="reason") if reason.strip() else None

    with begin_command(
        service,
        Command.waive,
        case_id,
        actor=actor,
        on=on,
        at=at,
        expected_seq=expected_seq,
        before=said,
    ) as (uow, sit):
        from engine.cases.waivers import waive_check

        return write(uow, sit, waive_check(sit, check_id, reason))
