"""Cross-references within one process file, checked piece by piece: states, triggers, checks,
facts, roles and timers named where they are used, and every guard and timer condition compiled
(`engine.language.expressions`). One broken state or trigger does not hide the mistakes in the
others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.errors import Issue, suggest
from engine.language.definition import (
    RESERVED_NAMES,
    CheckDefinition,
    FactDefinition,
    TimerDefinition,
    TriggerDefinition,
)
from engine.language.derived import derived_issues
from engine.language.expressions import (
    CEL_KEYWORDS,
    CEL_TYPE_NAMES,
    CompiledCondition,
    ExpressionProblem,
    compile_condition,
)
from engine.language.yamlsafe import Document, PathKey

_Model = TypeVar("_Model", bound=BaseModel)


def issue_at(
    doc: Document,
    key_marks: Mapping[PathKey, tuple[int, int]],
    loc: Sequence[str | int],
    message: str,
    *,
    at_key: bool = False,
) -> Issue:
    """An issue about the value at `loc` (or about its key, when `at_key` and the key is known)."""
    if at_key and tuple(loc) in key_marks:
        line, column = key_marks[tuple(loc)]
        return Issue(doc.path, line, column, message)
    return doc.issue(loc, message)


class References:
    """Cross-references within one file, checked piece by piece.

    One broken state or trigger must not hide the mistakes in the others.
    """

    def __init__(
        self,
        doc: Document,
        key_marks: Mapping[PathKey, tuple[int, int]],
        data: dict[str, Any],
        lines: list[str],
    ) -> None:
        self.doc = doc
        self.lines = lines
        self.key_marks = key_marks
        self.data = data
        self.issues: list[Issue] = []
        self.trigger_guards: dict[str, tuple[CompiledCondition, ...]] = {}
        self.timer_conditions: dict[str, tuple[CompiledCondition, ...]] = {}
        self.states = _mapping(data.get("states"))
        self.roles = set(_mapping(data.get("roles")))
        self.facts: dict[str, FactDefinition] = {}
        self.broken_facts: set[str] = set()
        for name, raw in _mapping(data.get("facts")).items():
            fact = _valid(FactDefinition, raw)
            if fact is None:
                self.broken_facts.add(str(name))
            else:
                self.facts[str(name)] = fact
        self.checks: dict[str, PathKey] = {}
        self.timers: list[tuple[str, int, TimerDefinition]] = []
        self.timer_locs: dict[str, PathKey] = {}
        self.triggers: list[tuple[int, TriggerDefinition]] = []

    def issue(self, loc: Sequence[str | int], message: str, *, at_key: bool = False) -> None:
        self.issues.append(issue_at(self.doc, self.key_marks, loc, message, at_key=at_key))

    def place(self, loc: Sequence[str | int]) -> str:
        return f"line {self.doc.place(loc)[0]}"

    def run(self) -> list[Issue]:
        self._collect()
        self._check_facts()
        self._check_initial()
        self._check_stage_map()
        for index, trig in self.triggers:
            self._check_trigger(index, trig)
        for state, index, timer in self.timers:
            self._check_timer(state, index, timer)
        self._check_derived()
        return self.issues

    def _check_derived(self) -> None:
        declared = {str(n) for n in _mapping(self.data.get("facts"))}
        for loc, message in derived_issues(
            self.facts, declared, self.triggers, self.trigger_guards
        ):
            self.issue(loc, message)

    def _collect(self) -> None:  # noqa: C901 (one branch per kind of name a definition declares)
        for state, raw_state in self.states.items():
            state_map = _mapping(raw_state)
            for index, raw in enumerate(_sequence(state_map.get("checklist"))):
                check = _valid(CheckDefinition, raw)
                if check is None:
                    continue
                loc: PathKey = ("states", state, "checklist", index, "id")
                if check.id in self.checks:
                    self.issue(
                        loc,
                        f"duplicate check id {check.id!r}: also used at "
                        f"{self.place(self.checks[check.id])}; check ids are unique in a process",
                    )
                else:
                    self.checks[check.id] = loc
                self._check_roles(("states", state, "checklist", index), check)
            for index, raw in enumerate(_sequence(state_map.get("timers"))):
                timer = _valid(TimerDefinition, raw)
                if timer is None:
                    continue
                loc = ("states", state, "timers", index, "id")
                if timer.id in self.timer_locs:
                    self.issue(
                        loc,
                        f"duplicate timer id {timer.id!r}: also used at "
                        f"{self.place(self.timer_locs[timer.id])}; timer ids are unique in a "
                        "process",
                    )
                    continue
                self.timer_locs[timer.id] = loc
                self.timers.append((str(state), index, timer))
        trigger_ids: dict[str, int] = {}
        for index, raw in enumerate(_sequence(self.data.get("triggers"))):
            trig = _valid(TriggerDefinition, raw)
            if trig is None:
                continue
            if trig.id in trigger_ids:
                self.issue(
                    ("triggers", index, "id"),
                    f"duplicate trigger id {trig.id!r}: also used at "
                    f"{self.place(('triggers', trigger_ids[trig.id], 'id'))}",
                )
                continue
            trigger_ids[trig.id] = index
            self.triggers.append((index, trig))

    def _check_roles(self, base: PathKey, named: CheckDefinition | FactDefinition) -> None:
        """The roles a check or fact is reserved to (`recorded_by`, `waived_by`) are declared."""
        for key in ("recorded_by", "waived_by"):
            for j, role in enumerate(getattr(named, key, ())):
                if role not in self.roles:
                    self.issue((*base, key, j), self._unknown("role", role, self.roles))

    def _check_facts(self) -> None:
        for name, fact in self.facts.items():
            self._check_roles(("facts", name), fact)
        for name in _mapping(self.data.get("facts")):
            if name in RESERVED_NAMES:
                self.issue(
                    ("facts", name),
                    f"fact {name!r} uses a reserved name (guards read {name} from the engine: "
                    f"{', '.join(sorted(RESERVED_NAMES))}); choose another name",
                    at_key=True,
                )
            elif name in CEL_KEYWORDS or name in CEL_TYPE_NAMES:
                self.issue(
                    ("facts", name),
                    f"fact {name!r} is a word of the guard language (CEL); choose another name",
                    at_key=True,
                )

    def _check_initial(self) -> None:
        initial = self.data.get("initial")
        if isinstance(initial, str) and self.states and initial not in self.states:
            self.issue(("initial",), self._unknown("state", initial, self.states))

    def _check_stage_map(self) -> None:
        """`applies.stage_map` moves cases to stages of this version that are still open."""
        stage_map = _mapping(_mapping(self.data.get("applies")).get("stage_map"))
        for old, new in stage_map.items():
            loc = ("applies", "stage_map", old)
            if not isinstance(new, str) or not self.states:
                continue
            if new not in self.states:
                self.issue(loc, f"applies.stage_map: {self._unknown('state', new, self.states)}")
            elif _mapping(self.states[new]).get("terminal") is True:
                self.issue(
                    loc,
                    f"applies.stage_map: {old}: {new} is a closing stage; a migration moves "
                    "running cases, so map to a stage that is still open",
                )

    def _unknown(self, what: str, name: str, known: Iterable[Any]) -> str:
        names = {str(k) for k in known}
        plural = {
            "state": "states",
            "role": "roles",
            "check": "checks",
            "fact": "facts",
            "trigger": "triggers",
        }[what]
        return f"unknown {what} {name!r}" + suggest(name, names, what=plural)

    def _check_trigger(self, index: int, trig: TriggerDefinition) -> None:  # noqa: C901 (each reference a step makes, checked where it is made)
        base: PathKey = ("triggers", index)
        if isinstance(trig.source, list):
            for j, source in enumerate(trig.source):
                if self.states and source not in self.states:
                    self.issue((*base, "source", j), self._unknown("state", source, self.states))
        if self.states and trig.dest is not None and trig.dest not in self.states:
            self.issue((*base, "dest"), self._unknown("state", trig.dest, self.states))
        for j, role in enumerate(trig.roles):
            if role not in self.roles:
                self.issue((*base, "roles", j), self._unknown("role", role, self.roles))
        for j, check in enumerate(trig.requires_checks):
            if check not in self.checks:
                message = self._unknown("check", check, self.checks)
                self.issue((*base, "requires_checks", j), message)
        for j, fact in enumerate(trig.requires_facts):
            if fact not in self.facts and fact not in self.broken_facts:
                self.issue((*base, "requires_facts", j), self._unknown("fact", fact, self.facts))
        for j, action in enumerate(trig.actions):
            # The check a letter records when sent must be one of the process's checks.
            if action.records_check is not None and action.records_check not in self.checks:
                message = self._unknown("check", action.records_check, self.checks)
                self.issue((*base, "actions", j, "records_check"), message)
        self.trigger_guards[trig.id] = self._compile(trig.guards, (*base, "guards"))

    def _check_timer(self, state: str, index: int, timer: TimerDefinition) -> None:
        base: PathKey = ("states", state, "timers", index)
        known = {t.id for _, t in self.triggers}
        if timer.fire is not None and timer.fire not in known:
            self.issue((*base, "fire"), self._unknown("trigger", timer.fire, known))
        if timer.escalate is not None and timer.escalate.to_role not in self.roles:
            self.issue(
                (*base, "escalate", "to_role"),
                self._unknown("role", timer.escalate.to_role, self.roles),
            )
        self.timer_conditions[timer.id] = self._compile(timer.when, (*base, "when"))

    def _compile(self, conditions: Sequence[Any], base: PathKey) -> tuple[CompiledCondition, ...]:
        compiled = []
        for j, cond in enumerate(conditions):
            loc: PathKey = (*base, j, "expr")
            try:
                compiled.append(compile_condition(cond, facts=self.facts, checks=self.checks))
            except ExpressionProblem as problem:
                if any(_mentions(cond.expr, name) for name in self.broken_facts):
                    continue  # the fact's own error is reported; its guards cannot be typed
                self.issues.append(self._expression_issue(loc, cond.expr, problem))
        return tuple(compiled)

    def _expression_issue(self, loc: PathKey, expr: str, problem: ExpressionProblem) -> Issue:
        """Place the problem on the offending character when the expression sits on one line."""
        line, column = self.doc.place(loc)
        if "\n" not in expr and 0 < line <= len(self.lines):
            rest = self.lines[line - 1][column - 1 :]
            if rest[:1] in ("'", '"') and rest[1:].startswith(expr):
                column += 1  # point inside the quotes, at the expression itself
            elif not rest.startswith(expr):
                return Issue(self.doc.path, line, column, problem.message)
            if problem.line == 1 and problem.column is not None:
                column += problem.column - 1
        return Issue(self.doc.path, line, column, problem.message)


def _mentions(expr: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", expr) is not None


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _valid(model: type[_Model], raw: Any) -> _Model | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


__all__ = []
