"""The line manager's decisions as pages show them: which steps are reserved to a role, the
cases waiting for one, and each check's evidence on one page.

Owns only the shape of what the pages list; every value comes from the engine's readers
(`case_summary`, `outstanding_checks`, the process outline and definition). Whether a decision
may be taken is the engine's to judge when it is posted (`CaseService.fire`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.cases.events import CheckRecorded
from engine.cases.outstanding import stages_entered
from engine.cases.projection import CaseEvent, CaseState
from engine.language.basis import basis_of, basis_words
from engine.language.definition import ProcessDefinition, TriggerDefinition
from engine.language.outline import ProcessOutline, StepOutline
from engine.store.tables import case_table

if TYPE_CHECKING:
    from engine.cases.reading import CaseReader


def open_cases(reader: CaseReader) -> list[CaseState]:
    """Every open case as its row stands (personal data sealed), in one read."""
    with reader.store.read() as conn:
        rows = conn.execute(
            select(case_table).where(case_table.c.terminal.is_(False)).order_by(case_table.c.id)
        ).all()
    return [CaseState.from_row(r) for r in rows]


def reserved_steps(outline: ProcessOutline, state: str, role: str) -> list[StepOutline]:
    """Steps out of `state` that only `role` may take and that are not an every-stage
    interrupt: the decisions the process reserves to that role (e.g. the Day 26 closure).
    """
    open_stages = {s for s, o in outline.states.items() if not o.terminal}
    return [
        step
        for step in outline.steps_from(state)
        if step.roles == (role,) and not open_stages <= set(step.sources)
    ]


@dataclass(frozen=True)
class FactField:
    """A fact a decision needs, as a form field."""

    name: str
    type: str
    description: str
    values: list[str] | None
    value: Any
    """What the case holds already (None: not recorded)."""


@dataclass(frozen=True)
class DecisionForm:
    """One decision the signed-in role may take now, with what it needs."""

    trigger: str
    title: str
    basis: str
    needs_reason: bool
    facts: list[FactField]
    conditions: list[str]
    checks: list[str]


def decision_forms(
    definition: ProcessDefinition, outline: ProcessOutline, case: CaseState, role: str
) -> list[DecisionForm]:
    """The decisions reserved to `role` from the case's stage, each with its facts, conditions
    (as the process words them) and required checks.
    """
    steps = {s.id for s in reserved_steps(outline, case.state, role)}
    out = []
    for trig in definition.triggers:
        if trig.id not in steps:
            continue
        out.append(
            DecisionForm(
                trigger=trig.id,
                title=trig.title,
                basis=basis_words(basis_of(definition, trig.ref)),
                needs_reason=trig.requires_reason,
                facts=[_fact(definition, name, case) for name in trig.requires_facts],
                conditions=[_says(definition, trig, g) for g in trig.guards],
                checks=list(trig.requires_checks),
            )
        )
    return out


def _fact(definition: ProcessDefinition, name: str, case: CaseState) -> FactField:
    fact = definition.facts.get(name)
    if fact is None:
        return FactField(name, "string", name, None, case.facts.get(name))
    return FactField(
        name, fact.type.value, fact.description, fact.values, case.all_facts().get(name)
    )


def _says(definition: ProcessDefinition, trig: TriggerDefinition, guard: Any) -> str:
    basis = basis_words(
        basis_of(definition, guard.source, la_choice=guard.la_choice, within=trig.ref)
    )
    return f"{guard.says} ({basis})"


@dataclass(frozen=True)
class Evidence:
    """One check of the case and where it stands, with who, when and what was found."""

    stage: str
    stage_title: str
    id: str
    wording: str
    window: str | None
    required: bool
    status: str
    """recorded, waived, outstanding, not due yet, optional or no longer expected."""
    on: str | None = None
    by: str | None = None
    evidence: str | None = None
    due: str | None = None
    escalated: bool = False
    needed_for: list[str] = field(default_factory=list)
    waivable: bool = False


def checklist_evidence(
    summary: dict[str, Any],
    case: CaseState,
    outline: ProcessOutline,
    definition: ProcessDefinition,
    events: list[CaseEvent],
    *,
    role: str,
    decisions: list[DecisionForm],
) -> list[Evidence]:
    """Every check of every stage the case entered, in the process's order, from what
    `case_summary` (the read, logged) says of it and who recorded it in the history.
    """
    recorders: dict[str, CaseEvent] = {}
    for ev in events:
        if isinstance(ev.body, CheckRecorded):
            recorders[ev.body.check] = ev  # the latest recording is the one in force
    recorded = summary["checks_recorded"]
    waived = summary["checks_waived"]
    owed = {o["id"]: o for o in summary["outstanding_checks"]}
    entered = stages_entered(case, outline)
    cleared = set(case.progress.get("cleared", ()))
    checks = definition.checks()
    out = []
    for name, stage in outline.states.items():
        if name not in entered:
            continue
        for check in stage.checklist:
            needed = [d.trigger for d in decisions if check.id in d.checks]
            may_waive = role in checks[check.id].waived_by if check.id in checks else False
            base: dict[str, Any] = {
                "stage": name,
                "stage_title": stage.title,
                "id": check.id,
                "wording": check.wording,
                "window": check.window,
                "required": check.required,
                "needed_for": needed,
            }
            if check.id in recorded:
                done = recorded[check.id]
                who = recorders.get(check.id)
                by = f"{who.actor} ({who.role})" if who is not None else None
                out.append(
                    Evidence(
                        **base,
                        status="recorded",
                        on=done.get("on"),
                        by=by,
                        evidence=done.get("outcome"),
                    )
                )
            elif check.id in waived:
                w = waived[check.id]
                out.append(
                    Evidence(
                        **base,
                        status="waived",
                        on=w.get("on"),
                        by=f"{w.get('by')} ({w.get('role')})",
                        evidence=w.get("reason"),
                    )
                )
            elif check.id in owed:
                item = owed[check.id]
                out.append(
                    Evidence(
                        **base,
                        status="outstanding",
                        due=item["due"],
                        escalated=item["escalated"],
                        waivable=may_waive and not case.terminal,
                    )
                )
            else:
                status = (
                    "no longer expected"
                    if name in cleared or case.terminal
                    else ("optional" if not check.required else "not due yet")
                )
                out.append(
                    Evidence(
                        **base, status=status, waivable=may_waive and status != "no longer expected"
                    )
                )
    return out


def by_stage(evidence: list[Evidence]) -> list[tuple[str, list[Evidence]]]:
    """The evidence grouped by stage (title, rows), in the process's order."""
    groups: list[tuple[str, list[Evidence]]] = []
    for item in evidence:
        if not groups or groups[-1][1][0].stage != item.stage:
            groups.append((item.stage_title, []))
        groups[-1][1].append(item)
    return groups
