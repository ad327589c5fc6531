"""What a new version of a process would do to running cases if they moved to it (`cme process
impact`): in sum (deadlines that move, stages it removes or renames, facts it would refuse,
checklists and steps that change) and case by case (`engine.cases.case_impact`). Writes nothing;
each case is previewed as a migration would run it (`engine.cases.migration.preview_case`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.cases.case_impact import CaseImpact, case_impact
from engine.cases.migration import DeadlineMove, preview_case, running_cases
from engine.cases.service import CaseService
from engine.language.definition import ProcessDefinition
from engine.language.machine import CompiledProcess


@dataclass
class Impact:
    """What publishing (and migrating to) a version would do to the running cases."""

    process_id: str
    version: int
    on: dt.date
    running: Counter[int] = field(default_factory=Counter)
    """Running cases on other versions, by version."""
    removed: dict[str, list[str]] = field(default_factory=dict)
    """Case ids by state, for states the new version does not have and no mapping covers."""
    renamed: dict[str, str] = field(default_factory=dict)
    """Stages the new version renames (old id -> new id, same title), with open cases in them."""
    deadlines: list[DeadlineMove] = field(default_factory=list)
    due_at_once: int = 0
    """Deadlines that would fall due at once because of the change (not those already past)."""
    already_past: int = 0
    """Deadlines past on the date under the cases' own versions too (not caused by the change)."""
    cases: list[CaseImpact] = field(default_factory=list)
    """Each running case on another version, and what changes for it."""
    bad_facts: dict[str, list[str]] = field(default_factory=dict)
    """Case ids by "fact = value" the new version's fact types do not accept."""
    checklists: Counter[str] = field(default_factory=Counter)
    """Cases in each state whose checklist the new version changes."""
    steps: Counter[str] = field(default_factory=Counter)
    """Cases in each state whose next steps the new version changes."""
    migrate_open_cases: bool = False
    applies_from: dt.date | None = None

    def sentences(self) -> list[str]:
        """The impact in a policy owner's words."""
        total = sum(self.running.values())
        by = ", ".join(f"{n} on version {v}" for v, n in sorted(self.running.items()))
        out = [
            f"{_n(total, 'open case')} of {self.process_id} "
            f"{'is' if total == 1 else 'are'} on another version" + (f" ({by})." if by else ".")
        ]
        stay = (
            "open cases are expected to migrate to it"
            if self.migrate_open_cases
            else (
                "open cases are not expected to migrate: unless migrated, each stays on the "
                "version "
                "it opened under"
            )
        )
        if self.applies_from is None:
            out.append(
                f"Version {self.version} is pending: it applies to no case until a policy owner "
                f"gives its date (cme process commence); {stay}."
            )
        else:
            out.append(
                f"Version {self.version} applies to cases opened from "
                f"{self.applies_from.isoformat()}; {stay}."
            )
        if total == 0:
            return out
        gone = sum(len(ids) for ids in self.removed.values())
        if gone:
            states = ", ".join(f"{s} ({len(ids)})" for s, ids in sorted(self.removed.items()))
            out.append(
                f"{_n(gone, 'open case')} {'is' if gone == 1 else 'are'} in states that "
                f"version {self.version} removes: {states}; give each a --map to migrate "
                "them, or they stay where they are."
            )
        else:
            out.append(f"No open case is in a state that version {self.version} removes.")
        if self.renamed:
            maps = " ".join(f"--map {a}={b}" for a, b in sorted(self.renamed.items()))
            out.append(
                f"Version {self.version} renames "
                + ", ".join(f"{a} to {b}" for a, b in sorted(self.renamed.items()))
                + f"; a migration moves their cases with {maps}."
            )
        out.append(self._deadline_sentence())
        if self.due_at_once:
            out.append(
                f"{_n(self.due_at_once, 'deadline')} would already have passed on "
                f"{self.on.isoformat()} and fall due at once."
            )
        if self.already_past:
            out.append(
                f"{_n(self.already_past, 'deadline')} had already passed on "
                f"{self.on.isoformat()} under {'its' if self.already_past == 1 else 'their'} "
                "own version too, so the change does not cause "
                f"{'it' if self.already_past == 1 else 'them'}."
            )
        if self.bad_facts:
            shown = "; ".join(f"{k} ({len(v)})" for k, v in sorted(self.bad_facts.items()))
            cases = len({c for ids in self.bad_facts.values() for c in ids})
            out.append(
                f"{_n(cases, 'case')} {'holds' if cases == 1 else 'hold'} fact values "
                f"version {self.version} does not accept: {shown}."
            )
        if self.checklists:
            cases = sum(self.checklists.values())
            out.append(
                f"{_n(cases, 'case')} {'is' if cases == 1 else 'are'} in states whose "
                f"checklist changes: {_counted(self.checklists)}."
            )
        if self.steps:
            cases = sum(self.steps.values())
            out.append(
                f"{_n(cases, 'case')} {'has' if cases == 1 else 'have'} next steps whose "
                f"conditions, checks or roles change: {_counted(self.steps)}."
            )
        return out

    def case_lines(self) -> list[str]:
        """Each running case and what changes for it, for the text report."""
        if not self.cases:
            return []
        out = [f"Case by case, as of {self.on.isoformat()} (dates on each case's calendar):"]
        for item in self.cases:
            out += [f"  {line}" for line in item.lines(self.version)]
        return out

    def _deadline_sentence(self) -> str:
        moved = [d for d in self.deadlines if d.old is not None and d.new is not None]
        added = sum(1 for d in self.deadlines if d.old is None)
        dropped = sum(1 for d in self.deadlines if d.new is None)
        if not self.deadlines:
            return "No deadline moves."
        parts = []
        if moved:
            shifts = [d.school_days for d in moved if d.school_days is not None]
            earlier = [-s for s in shifts if s < 0]
            later = [s for s in shifts if s > 0]
            detail = []
            if earlier:
                detail.append(
                    f"{len(earlier)} earlier, earliest by {_n(max(earlier), 'school day')}"
                )
            if later:
                detail.append(f"{len(later)} later, by up to {_n(max(later), 'school day')}")
            same = len(moved) - len(earlier) - len(later)
            if same:
                detail.append(f"{same} to another date on the same school day count")
            parts.append(
                f"{_n(len(moved), 'deadline')} {'moves' if len(moved) == 1 else 'move'}"
                + (f" ({'; '.join(detail)})" if detail else "")
            )
        if added:
            parts.append(f"{_n(added, 'deadline')} {'is' if added == 1 else 'are'} added")
        if dropped:
            parts.append(f"{_n(dropped, 'deadline')} {'is' if dropped == 1 else 'are'} dropped")
        return "; ".join(parts) + "."


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _counted(counter: Counter[str]) -> str:
    return ", ".join(f"{k} ({n})" for k, n in sorted(counter.items()))


def impact(
    service: CaseService,
    to: CompiledProcess,
    *,
    on: dt.date,
    mapping: Mapping[str, str] | None = None,
) -> Impact:
    """What version `to` would do to the running cases of its process if they moved to it."""
    definition = to.definition
    result = Impact(
        process_id=definition.id,
        version=definition.version,
        on=on,
        migrate_open_cases=definition.applies.migrate_open_cases,
        applies_from=definition.applies.cases_opened_from
        or service.catalog.effective_date(definition),
    )
    mapping = mapping or {}
    for case in running_cases(service, definition.id, not_version=definition.version):
        result.running[case.process_version] += 1
        old = service.process_for(case).definition
        renamed = _renamed(old, definition).get(case.state)
        target = mapping.get(case.state) or renamed or case.state
        if target not in definition.states:
            result.removed.setdefault(case.state, []).append(case.id)
            result.cases.append(
                case_impact(
                    case,
                    old,
                    definition,
                    calendar=service.calendar_for(case),
                    on=on,
                    to_state=None,
                    preview=None,
                )
            )
            continue
        if renamed and case.state not in mapping:
            result.renamed[case.state] = renamed
        preview = preview_case(service, case, to, target, on=on, mapped=target != case.state)
        item = case_impact(
            case,
            old,
            definition,
            calendar=service.calendar_for(case),
            on=on,
            to_state=target,
            preview=preview,
            mapped=target != case.state,
            renamed=target == renamed and case.state not in mapping,
        )
        result.cases.append(item)
        result.deadlines.extend(preview.deadlines)
        result.due_at_once += len(item.due_at_once)
        result.already_past += len(item.already_past)
        for name, value in case.facts.items():
            if not _fact_accepted(definition, name, value):
                result.bad_facts.setdefault(f"{name} = {value!r}", []).append(case.id)
        if _checklist(old, case.state) != _checklist(definition, target):
            result.checklists[case.state] += 1
        if _steps(old, case.state) != _steps(definition, target):
            result.steps[case.state] += 1
    return result


def _renamed(old: ProcessDefinition, new: ProcessDefinition) -> dict[str, str]:
    """Stages of `old` the new version lacks but has under another id with the same title."""
    added = {
        state.title.casefold(): name for name, state in new.states.items() if name not in old.states
    }
    return {
        name: added[state.title.casefold()]
        for name, state in old.states.items()
        if name not in new.states and state.title.casefold() in added
    }


def _fact_accepted(definition: ProcessDefinition, name: str, value: Any) -> bool:
    fact = definition.facts.get(name)
    if fact is None:
        return False
    return value is None or not fact.values or value in fact.values


def _checklist(definition: ProcessDefinition, state: str) -> list[Any]:
    return [c.model_dump() for c in definition.states[state].checklist]


def _steps(definition: ProcessDefinition, state: str) -> dict[str, Any]:
    return {
        t.id: t.model_dump(include={"dest", "roles", "guards", "requires_checks", "requires_facts"})
        for t in definition.triggers
        if state in definition.source_states(t)
    }


__all__ = ["Impact", "impact"]
