"""The decision to waive a check: a role in the check's `waived_by`, with a reason, on a case
that still owes it. A waived check then satisfies the steps that require it (`requires_checks`)
and is no longer outstanding (`outstanding.py`). Pure, like `decide.py`, whose `POLICY` row
(`Command.waive`) says what the command needs.
"""

from __future__ import annotations

from engine.cases.decide import Command, Draft, Situation, refusals, refuse
from engine.cases.events import CheckWaived, EventKind
from engine.errors import (
    CommandRefused,
    InputError,
    UnknownCheck,
    WaiverNotPermitted,
)


def waive_check(sit: Situation, check_id: str, reason: str) -> Draft:
    """The event waiving a check, with the reason, by a role in its `waived_by`: every reason
    it may not be (the process role, a closed case, the date, the check's own rule) at once.
    """
    reasons = refusals(sit, Command.waive, f"waive check {check_id}")
    check = sit.checks.get(check_id)
    case = sit.case
    if check is None:
        reasons.append(UnknownCheck(name=check_id, known=sit.checks, process=sit.definition.id))
    elif sit.actor.role not in check.waived_by:
        roles = sit.definition.roles
        reasons.append(
            WaiverNotPermitted(
                check=check_id,
                wording=check.wording,
                role=sit.actor.role,
                allowed={r: roles[r].title for r in check.waived_by if r in roles},
            )
        )
    elif check_id in case.checks:
        reasons.append(
            CommandRefused(
                f"check {check_id} is recorded (on {case.checks[check_id]['on']}): there is "
                "nothing to waive"
            )
        )
    elif check_id in case.waived:
        reasons.append(
            CommandRefused(
                f"check {check_id} is already waived (on {case.waived[check_id]['on']}, by "
                f"{case.waived[check_id]['by']})"
            )
        )
    text = reason.strip()
    if not text:
        raise InputError(
            f"say why check {check_id} is waived: --reason TEXT (a waiver is kept with its reason)"
        )
    refuse(reasons)
    assert check is not None
    return Draft(
        EventKind.check_waived,
        CheckWaived(
            check=check_id, wording=check.wording, personal={"waiver_reasons": {check_id: text}}
        ),
        f"waive {check_id}: {check.source.section if check.source else sit.definition.id}",
    )


__all__ = ["waive_check"]
