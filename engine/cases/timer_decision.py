"""The decision a due timer takes, on the same rules as an officer's step (`decide.take_step`):
cancelled if the case has left the stage (a check's escalation: if its check was cleared), lapsed
if its `when` no longer holds or its step is refused, else fired (its step taken) or escalated.
Pure: no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from engine.cases.decide import (
    Command,
    Draft,
    Situation,
    facts_read,
    guard_values,
    step_of,
    take_step,
)
from engine.cases.events import Escalation, EventKind, TimerLapsed
from engine.errors import CommandRefused, Refusal
from engine.language.windows import CheckEscalation

if TYPE_CHECKING:
    from engine.language.definition import TimerDefinition


@dataclass(frozen=True)
class TimerOutcome:
    """What a due timer does: its new status, and the event to append (None if cancelled)."""

    status: str
    draft: Draft | None = None


def fire_timer(
    sit: Situation, timer: Mapping[str, Any], tdef: TimerDefinition | None
) -> TimerOutcome:
    """The outcome of timer `timer` due on `sit.on`: cancelled if the case has left the stage,
    lapsed if its `when` no longer holds (or its step is refused), else fired: its step taken,
    or its escalation recorded.

    Its `when` conditions are judged on the checks recorded by its due date, so a late sweep
    writes the history an on-time one would have.
    """
    case, compiled = sit.case, sit.compiled
    check = tdef if isinstance(tdef, CheckEscalation) else None
    if check is not None:
        # A check's escalation outlives its stage: only clearing the check (or the case's
        # end) cancels it.
        if case.terminal or check.stage in case.progress.get("cleared", ()):
            return TimerOutcome("cancelled")
    elif case.state != timer["state"] or case.terminal or tdef is None:
        return TimerOutcome("cancelled")
    assert tdef is not None
    day = sit.on.isoformat()
    as_of = case
    waived = case.waived
    if any(c["on"] > day for c in (*case.checks.values(), *waived.values())):
        # Judged on what was recorded or waived by the due date, as an on-time sweep would.
        as_of = replace(
            case,
            checks={k: c for k, c in case.checks.items() if c["on"] <= day},
            progress={
                **case.progress,
                "waived": {k: w for k, w in waived.items() if w["on"] <= day},
            },
        )
    conditions = compiled.conditions_for_timer(tdef.id)
    # Outstanding-step conditions read checks, not personal facts: open no sealed data.
    names = {n for c in conditions for n in c.names}
    context = guard_values(sit, facts_read(sit, names, as_of), as_of)
    failing = [c for c in conditions if not c.evaluate(context)]
    key = timer["key"]
    if failing:
        return _lapsed(tdef, key, [c.says for c in failing])
    if tdef.fire:
        trig = step_of(sit.definition, tdef.fire)
        extra = {"timer": tdef.id, "key": key, "explanation": timer["explanation"]}
        try:
            draft = take_step(
                sit, trig, command=Command.timer_step, kind=EventKind.timer_fired, extra=extra
            )
        except Refusal as exc:
            # Refused: record every reason the step was not taken.
            return _lapsed(tdef, key, [str(r) for r in exc.reasons])
        except CommandRefused as exc:
            # One reason, whichever it is (a condition, a check, the stage, a repeat…).
            return _lapsed(tdef, key, [str(exc)])
        return TimerOutcome("fired", draft)
    from engine.language.definition import ActionDefinition

    assert tdef.escalate is not None
    return TimerOutcome(
        "fired",
        Draft(
            EventKind.escalation,
            Escalation(
                timer=tdef.id,
                key=key,
                to_role=tdef.escalate.to_role,
                message=tdef.escalate.message,
                explanation=timer["explanation"],
                check=check.check if check else None,
                stage=check.stage if check else None,
            ),
            f"escalation {tdef.id}: {tdef.ref.section}",
            actions=(
                ActionDefinition(
                    kind="notify",
                    to=tdef.escalate.to_role,
                    wording=tdef.escalate.message,
                    template="escalation",
                    channel="email",
                ),
            ),
            touch_timers=False,
        ),
    )


def _lapsed(tdef: TimerDefinition, key: str, because: list[str]) -> TimerOutcome:
    return TimerOutcome(
        "lapsed",
        Draft(
            EventKind.timer_lapsed,
            TimerLapsed(timer=tdef.id, key=key, because=because),
            f"timer {tdef.id}: {tdef.ref.section}",
            touch_timers=False,
        ),
    )
