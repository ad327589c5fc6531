"""One window, one place: the timers a process's day windows generate.

Owns what a stage's or a check's `days` mean beyond themselves. A check's window is its own
`days` or, left out, its stage's. From the windows the engine generates (pure, from the
definition alone):

- the start timer: for a stage S with `days` and a `by_timer` step into S, a timer in each state
  the step may be taken from, firing it on Day S.first (of the case);
- one escalation per required check with a window, due Day last+1 — the morning after the
  window's last school day — to the check's `escalate_to`, else its stage's.

A hand-written timer that already fires the same step from the same state stands instead of the
generated one (so process versions written before windows generated anything run as they did);
`lint.py` reports it where it duplicates or contradicts the window. Generated escalations are
`CheckEscalation`s: they outlive a change of stage (only recording, waiving or clearing the check
ends them), which `engine/cases/` reads from their type.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.language.definition import (
    CheckDefinition,
    ConditionDefinition,
    DayWindowDefinition,
    EscalationDefinition,
    ProcessDefinition,
    StateDefinition,
    TimerDefinition,
    TriggerDefinition,
)


class GeneratedStart(TimerDefinition):
    """A start timer generated from a stage's `days`: fires the step into `stage` on Day first."""

    stage: str
    """The stage whose window starts."""


class CheckEscalation(TimerDefinition):
    """An escalation generated from a check's window: due the morning after its last school day."""

    check: str
    """The check it escalates while outstanding."""
    stage: str
    """The stage the check belongs to."""


def check_window(state: StateDefinition, check: CheckDefinition) -> DayWindowDefinition | None:
    """The check's window: its own `days`, else its stage's (None: no window)."""
    return check.days or state.days


def escalation_role(state: StateDefinition, check: CheckDefinition) -> str | None:
    """Who is told when the check is still outstanding after its window: the check's
    `escalate_to`, else its stage's.
    """
    return check.escalate_to or state.escalate_to


def start_timer_id(stage: str) -> str:
    """The id of the start timer generated for `stage`."""
    return f"{stage}_starts"


def escalation_id(check_id: str) -> str:
    """The id of the escalation generated for a check."""
    return f"{check_id}_outstanding"


def start_steps(defn: ProcessDefinition) -> Iterator[tuple[str, TriggerDefinition, str]]:
    """Every (source state, step, stage) where a `by_timer` step leads into a stage with `days`
    from another, non-terminal state: where a start timer belongs.
    """
    for trig in defn.triggers:
        if not trig.by_timer or trig.dest is None:
            continue
        dest = defn.states.get(trig.dest)
        if dest is None or dest.days is None:
            continue
        for source in defn.source_states(trig):
            here = defn.states.get(source)
            if source == trig.dest or here is None or here.terminal:
                continue
            yield source, trig, trig.dest


def _start_timer(defn: ProcessDefinition, trig: TriggerDefinition, stage: str) -> GeneratedStart:
    dest = defn.states[stage]
    assert dest.days is not None
    return GeneratedStart(
        id=start_timer_id(stage),
        description=(
            f"Day {dest.days.first}, the first day of {stage} ({dest.days}): take step {trig.id}"
        ),
        day=dest.days.first,
        fire=trig.id,
        ref=dest.ref,
        stage=stage,
    )


def _escalation(
    state_name: str, state: StateDefinition, check: CheckDefinition
) -> CheckEscalation | None:
    window = check_window(state, check)
    role = escalation_role(state, check)
    if not check.required or window is None or role is None:
        return None
    return CheckEscalation(
        id=escalation_id(check.id),
        description=(
            f"Day {window.last + 1}, the morning after its window ({window}): check {check.id} "
            "is neither recorded nor waived."
        ),
        day=window.last + 1,
        when=[ConditionDefinition(expr=f"!checks.{check.id}", says=f"{check.id} is not recorded")],
        escalate=EscalationDefinition(
            to_role=role, message=f"{window} check outstanding ({check.id}): {check.wording}"
        ),
        ref=check.source or state.ref,
        check=check.id,
        stage=state_name,
    )


def generated_timers(defn: ProcessDefinition) -> dict[str, list[TimerDefinition]]:
    """The timers the windows generate, by the state they are armed in (hand-written timers
    that already do the same are left to stand, and not repeated).
    """
    # Escalations first: on the day a window ends and the next begins, the history says what
    # was outstanding before the case moves on.
    out: dict[str, list[TimerDefinition]] = {name: [] for name in defn.states}
    for name, state in defn.states.items():
        taken = {t.id for t in state.timers}
        for check in state.checklist:
            timer = _escalation(name, state, check)
            if timer is not None and timer.id not in taken:
                out[name].append(timer)
    for source, trig, stage in start_steps(defn):
        written = defn.states[source].timers
        if any(t.fire == trig.id for t in written) or any(
            t.id == start_timer_id(stage) for t in (*written, *out[source])
        ):
            continue
        out[source].append(_start_timer(defn, trig, stage))
    return {name: timers for name, timers in out.items() if timers}


def with_windows(defn: ProcessDefinition) -> ProcessDefinition:
    """The definition the engine runs: each check's window resolved from its stage, and each
    state's hand-written timers followed by the ones its windows generate.
    """
    extra = generated_timers(defn)
    states = {}
    for name, state in defn.states.items():
        checklist = [
            c
            if c.days is not None or state.days is None
            else c.model_copy(update={"days": state.days})
            for c in state.checklist
        ]
        states[name] = state.model_copy(
            update={"checklist": checklist, "timers": [*state.timers, *extra.get(name, [])]}
        )
    return defn.model_copy(update={"states": states})


def check_escalations(defn: ProcessDefinition) -> dict[str, CheckEscalation]:
    """The check escalations of a definition the engine runs (`with_windows`), by timer id."""
    return {
        t.id: t for s in defn.states.values() for t in s.timers if isinstance(t, CheckEscalation)
    }


__all__ = [
    "CheckEscalation",
    "GeneratedStart",
    "check_escalations",
    "check_window",
    "escalation_id",
    "escalation_role",
    "generated_timers",
    "start_steps",
    "start_timer_id",
    "with_windows",
]
