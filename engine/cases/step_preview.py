"""The steps a case may take now, and for each one it may not, why: every step from the case's
stage judged by the decision a command runs (`decide.take_step`), writing nothing.

Owns the dry run only: the reasons are the refusals `cme case fire` would give (roles, stage,
dates, a same-day repeat, required checks and facts, guards), each in the engine's own words.
Does not decide anything itself and reads no wall clock (`on` and `at` are arguments).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.cases import decide
from engine.cases.commanding import situation_on
from engine.errors import AccessDenied, CommandRefused, Refusal
from engine.protection.access import Actor, require

if TYPE_CHECKING:
    from engine.cases.service import CaseService


@dataclass(frozen=True)
class StepNow:
    """One step from the case's stage: whether it may be taken now and, if not, every reason."""

    trigger: str
    title: str
    roles: tuple[str, ...]
    allowed: bool
    reasons: tuple[str, ...] = field(default=())
    """The refusals `cme case fire` would give now, in the policy's order."""
    needs_reason: bool = False
    """The step is taken only with a reason (its note), kept in the history."""


def steps_now(
    service: CaseService, case_id: str, *, actor: Actor, on: dt.date, at: dt.datetime
) -> list[StepNow]:
    """Each step a person may take from the case's stage, judged for `actor` on `on`."""
    permitted: str | None = None
    permission = decide.POLICY[decide.Command.step].permission
    try:
        if permission is not None:
            require(actor, permission, table=service.roles)
    except AccessDenied as exc:
        permitted = str(exc)
    # The case's process and calendar are read (and cached) before the read below opens: read
    # inside it, a cold cache takes a second pooled connection while holding the first, and a
    # web server under load then exhausts the pool with every thread holding one and waiting.
    first = service.get(case_id)
    if first.terminal:
        return []
    service.process_for(first)
    service.calendar_for(first)
    service.outline_for(first)
    with service.store.read() as conn:
        case = service.get(case_id, conn=conn)
        if case.terminal:
            return []
        compiled = service.process_for(case)
        definition = compiled.definition
        sit = situation_on(service, conn, case, compiled, actor, on, at)
        out = []
        for step in service.outline_for(case).steps_from(case.state):
            trig = definition.trigger(step.id)
            if trig is None:
                continue
            reasons: list[str] = [] if permitted is None else [permitted]
            try:
                decide.take_step(sit, trig)
            except CommandRefused as exc:
                found = exc.reasons if isinstance(exc, Refusal) else [exc]
                reasons += [str(r) for r in found]
            out.append(
                StepNow(
                    trigger=step.id,
                    title=step.title,
                    roles=step.roles,
                    allowed=not reasons,
                    reasons=tuple(reasons),
                    needs_reason=trig.requires_reason,
                )
            )
    return out


__all__ = ["StepNow", "steps_now"]
