"""Graph and timing checks over a loaded process: what validates but cannot work as a policy.

Owns: unreachable states, dead ends, traps with no way to a terminal state, terminal states
with steps out, timers that can never fire, triggers only a timer fires with no timer, day windows
out of order, and guards that give the same answer whatever the facts. Does not own schema or
reference errors (`loader.py` refuses those before a definition exists).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from engine.errors import Issue, suggest
from engine.language.definition import (
    ActionDefinition,
    CheckDefinition,
    ConditionDefinition,
    ProcessDefinition,
    RuleBasis,
    SourceDefinition,
    StateDefinition,
    TimerDefinition,
)
from engine.language.expressions import CompiledCondition
from engine.language.la_choices import switched_off
from engine.language.loader import PACKAGE, LoadedProcess
from engine.language.windows import check_window, escalation_id, escalation_role, start_steps

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class LintIssue(Issue):
    """An `Issue` with a severity: errors make `cme process lint` exit 1, warnings do not."""

    severity: Severity = "error"
    code: str | None = None
    """What kind of problem, where a caller sorts them (e.g. `unmarked_basis`)."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}"


def lint(loaded: LoadedProcess) -> list[LintIssue]:
    """Every graph and timing problem of one loaded process, in file order."""
    linter = _Linter(loaded)
    linter.run()
    return sorted(linter.issues, key=lambda i: (i.path, i.line, i.column, i.message))


def has_errors(issues: Iterable[LintIssue]) -> bool:
    """Whether any issue is an error (not only a warning)."""
    return any(issue.severity == "error" for issue in issues)


def edges(defn: ProcessDefinition) -> list[tuple[str, str, str]]:
    """Every (source, trigger id, dest) of the process, with "*" expanded to non-terminal states."""
    return [
        (source, trig.id, defn.dest_of(trig, source))
        for trig in defn.triggers
        for source in defn.source_states(trig)
    ]


class _Linter:
    def __init__(self, loaded: LoadedProcess) -> None:
        self.loaded = loaded
        # Judged as written; the timers its windows generate are compared in `_generated`.
        self.defn = loaded.as_written
        self.running = loaded.definition
        self.issues: list[LintIssue] = []
        self.edges = edges(self.defn)

    def add(
        self,
        loc: Sequence[str | int],
        message: str,
        *,
        severity: Severity = "error",
        at_key: bool = False,
        code: str | None = None,
    ) -> None:
        base = self.loaded.issue(loc, message, at_key=at_key)
        self.issues.append(
            LintIssue(base.path, base.line, base.column, base.message, severity=severity, code=code)
        )

    def run(self) -> None:
        self._reachability()
        self._ways_out()
        self._terminal_sources()
        self._timers()
        self._timer_only_triggers()
        self._windows()
        self._generated()
        self._escalations()
        self._names()
        self._constant_guards()
        self._la_choices()
        self._switched_off_checks()
        if self.loaded.path.startswith(f"{PACKAGE}/"):
            self._unmarked()

    def _reachable_from(self, start: str) -> set[str]:
        seen = {start}
        queue = deque([start])
        while queue:
            state = queue.popleft()
            for source, _, dest in self.edges:
                if source == state and dest not in seen:
                    seen.add(dest)
                    queue.append(dest)
        return seen

    def _reachability(self) -> None:
        defn = self.defn
        if defn.states[defn.initial].terminal:
            self.add(
                ("initial",), f"the initial state {defn.initial!r} is terminal: cases end at once"
            )
        reachable = self._reachable_from(defn.initial)
        for name in defn.states:
            if name not in reachable:
                self.add(
                    ("states", name),
                    f"state {name!r} is unreachable: no chain of triggers leads to it from the "
                    f"initial state {defn.initial!r}; add a trigger with `dest: {name}` or "
                    "remove the state",
                    at_key=True,
                )

    def _ways_out(self) -> None:
        terminals = {n for n, s in self.defn.states.items() if s.terminal}
        for name, state in self.defn.states.items():
            if state.terminal:
                continue
            out = [dest for source, _, dest in self.edges if source == name and dest != name]
            if not out:
                self.add(
                    ("states", name),
                    f"state {name!r} is a dead end: no trigger leads out of it; add one, or mark "
                    "it `terminal: true` if cases end here",
                    at_key=True,
                )
            elif terminals and not (self._reachable_from(name) & terminals):
                self.add(
                    ("states", name),
                    f"no terminal state can be reached from state {name!r}: a case that gets "
                    "here can never end",
                    at_key=True,
                )
        if not terminals:
            self.add(("states",), "no state is `terminal: true`: cases of this process never end")

    def _terminal_sources(self) -> None:
        for index, trig in enumerate(self.defn.triggers):
            if not isinstance(trig.source, list):
                continue
            for j, source in enumerate(trig.source):
                state = self.defn.states.get(source)
                if state is not None and state.terminal:
                    self.add(
                        ("triggers", index, "source", j),
                        f"trigger {trig.id!r} leaves terminal state {source!r}; a terminal state "
                        "has no way out (remove it from `source`, or make the state non-terminal)",
                    )

    def _timers(self) -> None:
        for state_name, state in self.defn.states.items():
            for index, timer in enumerate(state.timers):
                loc = ("states", state_name, "timers", index)
                if state.terminal:
                    self.add(
                        (*loc, "id"),
                        f"timer {timer.id!r} can never fire: it sits in terminal state "
                        f"{state_name!r}, where cases have ended",
                    )
                    continue
                if timer.fire is not None:
                    self._timer_trigger(state_name, timer, loc)
                self._timer_day(state_name, state, timer, loc)

    def _timer_trigger(
        self, state_name: str, timer: TimerDefinition, loc: tuple[str | int, ...]
    ) -> None:
        trig = self.defn.trigger(timer.fire or "")
        if trig is None:
            return  # the loader reports unknown triggers
        if not trig.by_timer:
            self.add(
                (*loc, "fire"),
                f"timer {timer.id!r} can never fire trigger {trig.id!r}: the trigger does not say "
                "`by_timer: true`",
            )
        if state_name not in self.defn.source_states(trig):
            self.add(
                (*loc, "fire"),
                f"timer {timer.id!r} can never fire: trigger {trig.id!r} cannot be taken from "
                f"state {state_name!r}, where the timer is armed",
            )

    def _timer_day(
        self,
        state_name: str,
        state: StateDefinition,
        timer: TimerDefinition,
        loc: tuple[str | int, ...],
    ) -> None:
        window = state.days
        if window is None or timer.day is None:
            return
        if timer.unit is not None and timer.unit != self.defn.clock.unit:
            return  # a window in one unit says nothing about a day in another
        if timer.counted_from == "state":
            length = window.last - window.first + 1
            if timer.day > length:
                self.add(
                    (*loc, "day"),
                    f"timer {timer.id!r} can never fire in time: Day {timer.day} of the state is "
                    f"past the state's own window ({window}, {length} day"
                    f"{'s' if length != 1 else ''} long)",
                )
        elif timer.day < window.first:
            # Days after the window are the usual "move on" step (the policy leaves gaps, e.g.
            # Day 1-3 then Day 5); a day before it is already past when a case arrives.
            self.add(
                (*loc, "day"),
                f"timer {timer.id!r} is due on Day {timer.day} of the case, before state "
                f"{state_name!r}'s window ({window}) starts: it fires as soon as a case arrives",
                severity="warning",
            )

    def _timer_only_triggers(self) -> None:
        fired = {t.fire for s in self.running.states.values() for t in s.timers if t.fire}
        for index, trig in enumerate(self.defn.triggers):
            if trig.by_timer and not trig.roles and trig.id not in fired:
                self.add(
                    ("triggers", index, "id"),
                    f"trigger {trig.id!r} can never be taken: only a timer may take it "
                    "(no `roles`), but no timer fires it",
                )

    def _windows(self) -> None:  # noqa: C901 (each way a day window can disagree with its timers and checklist)
        for name, state in self.defn.states.items():
            if state.days is None:
                continue
            for index, check in enumerate(state.checklist):
                if check.days is None:
                    continue
                if check.days.first < state.days.first or check.days.last > state.days.last:
                    self.add(
                        ("states", name, "checklist", index, "days"),
                        f"check {check.id!r} is due {check.days}, outside its state's window "
                        f"({state.days}); move the check or widen the state's `days`",
                    )
        for index, trig in enumerate(self.defn.triggers):
            if trig.source == "*" or trig.dest is None:
                continue  # interrupts and steps that stay put: order does not apply
            dest = self.defn.states[trig.dest]
            for j, source in enumerate(trig.source):
                here = self.defn.states[source].days
                there = dest.days
                if here is None or there is None or source == trig.dest or dest.terminal:
                    continue
                if there.last < here.first:
                    self.add(
                        ("triggers", index, "source", j),
                        f"trigger {trig.id!r} goes back in time: from {source!r} ({here}) to "
                        f"{trig.dest!r} ({there}), whose window ends before this one starts",
                        severity="warning",
                    )
                elif there.first < here.first:
                    self.add(
                        ("triggers", index, "dest"),
                        f"day windows overlap out of order: {trig.dest!r} ({there}) starts "
                        f"before {source!r} ({here}), which leads to it",
                        severity="warning",
                    )

    def _generated(self) -> None:
        """A hand-written timer that does what a window already generates: a start timer firing
        a stage's step on its first day (a duplicate) or on another day (a contradiction), or an
        escalation of a check that has one generated.
        """
        for source, trig, stage in start_steps(self.defn):
            window = self.defn.states[stage].days
            assert window is not None
            for index, timer in enumerate(self.defn.states[source].timers):
                if timer.fire != trig.id or timer.day is None or timer.counted_from != "case":
                    continue  # weeks, or counted from the state: genuinely another rule
                loc = ("states", source, "timers", index, "day")
                if timer.day == window.first:
                    self.add(
                        loc,
                        f"timer {timer.id!r} duplicates the start of {stage!r}: its `days` "
                        f"({window}) already move a case in on Day {window.first}; remove the "
                        "timer",
                    )
                else:
                    self.add(
                        loc,
                        f"timer {timer.id!r} fires {trig.id!r} on Day {timer.day}, but {stage!r} "
                        f"starts on Day {window.first} ({window}); its `days` move a case in "
                        "then: remove the timer (or change the stage's `days`)",
                    )
        # The Day each chased check's escalation falls (the morning after its window), whether
        # or not a hand-written timer took its place.
        due = {
            check.id: window.last + 1
            for state in self.defn.states.values()
            for check in state.checklist
            if check.required
            and (window := check_window(state, check)) is not None
            and escalation_role(state, check) is not None
        }
        for name, state in self.defn.states.items():
            for index, timer in enumerate(state.timers):
                escalated = self._escalated_check(timer)
                named = next((c for c in due if escalation_id(c) == timer.id), None)
                check = escalated if escalated in due else named
                if check is None:
                    continue
                same = timer.day == due[check] and timer.counted_from == "case"
                when = timer.day or timer.weeks
                self.add(
                    ("states", name, "timers", index, "id"),
                    f"timer {timer.id!r} "
                    + (
                        "duplicates"
                        if same
                        else f"contradicts (Day {when} against Day {due[check]})"
                    )
                    + f" the escalation of check {check!r} its window generates (the morning "
                    "after its last day); remove the timer",
                )

    @staticmethod
    def _escalated_check(timer: TimerDefinition) -> str | None:
        """The check a hand-written escalation chases (`when: ["!checks.<id>"]`), if any."""
        if timer.escalate is None or len(timer.when) != 1:
            return None
        expr = timer.when[0].expr.replace(" ", "")
        if expr.startswith("!checks.") and expr[8:].isidentifier():
            return expr[8:]
        return None

    def _escalations(self) -> None:
        """A required check with a window and nobody to tell when it is missed."""
        for name, state in self.defn.states.items():
            for index, check in enumerate(state.checklist):
                window = check_window(state, check)
                if check.required and window is not None and escalation_role(state, check) is None:
                    self.add(
                        ("states", name, "checklist", index, "id"),
                        f"check {check.id!r} is required within {window} but nobody is told when "
                        f"it is missed: give it or its stage {name!r} `escalate_to` (a role), or "
                        "mark it `required: false`",
                    )

    def _names(self) -> None:  # noqa: C901 (each place a stage or role is named, checked where it is named)
        """Stages and roles named by `clears_checks_of`, `escalate_to`, `recorded_by` and
        `waived_by` that the process does not declare.
        """
        roles = set(self.defn.roles)
        for name, state in self.defn.states.items():
            base = ("states", name)
            for j, stage in enumerate(state.clears_checks_of):
                if stage not in self.defn.states:
                    self.add(
                        (*base, "clears_checks_of", j),
                        f"unknown stage {stage!r} in `clears_checks_of`"
                        + suggest(stage, self.defn.states, what="stages"),
                    )
            if state.escalate_to is not None and state.escalate_to not in roles:
                self._unknown_role((*base, "escalate_to"), state.escalate_to, "escalate_to")
            for index, check in enumerate(state.checklist):
                loc = (*base, "checklist", index)
                if check.escalate_to is not None and check.escalate_to not in roles:
                    self._unknown_role((*loc, "escalate_to"), check.escalate_to, "escalate_to")
                for field in ("recorded_by", "waived_by"):
                    for j, role in enumerate(getattr(check, field)):
                        if role not in roles:
                            self._unknown_role((*loc, field, j), role, field)
        for fact_name, fact in self.defn.facts.items():
            for j, role in enumerate(fact.recorded_by):
                if role not in roles:
                    self._unknown_role(("facts", fact_name, "recorded_by", j), role, "recorded_by")

    def _unknown_role(self, loc: tuple[str | int, ...], role: str, field: str) -> None:
        self.add(
            loc,
            f"unknown role {role!r} in `{field}`" + suggest(role, self.defn.roles, what="roles"),
        )

    def _constant_guards(self) -> None:
        # Compiled conditions leave out a switched-off choice's: place each on its written line.
        off = switched_off(self.defn)

        def placed(
            written: Sequence[ConditionDefinition], compiled: tuple[CompiledCondition, ...]
        ) -> list[tuple[int, CompiledCondition]]:
            kept = [
                j for j, c in enumerate(written) if c.la_choice is None or c.la_choice not in off
            ]
            return list(zip(kept, compiled, strict=False))

        groups: list[tuple[tuple[str | int, ...], list[tuple[int, CompiledCondition]]]] = [
            (("triggers", i, "guards"), placed(t.guards, self.loaded.trigger_guards.get(t.id, ())))
            for i, t in enumerate(self.defn.triggers)
        ]
        for state_name, state in self.defn.states.items():
            for i, timer in enumerate(state.timers):
                groups.append(
                    (
                        ("states", state_name, "timers", i, "when"),
                        placed(timer.when, self.loaded.timer_conditions.get(timer.id, ())),
                    )
                )
        for base, conditions in groups:
            for j, cond in conditions:
                if cond.constant is None or not cond.variables:
                    continue
                self.add(
                    (*base, j, "expr"),
                    f"guard `{cond.expr}` is always {str(cond.constant).lower()} for every value "
                    "tried; check the types (CEL never converts: 20 is not '20')",
                    severity="warning",
                )

    # -- rule basis and LA choices ----------------------------------------------------------

    def _choice_rules(
        self,
    ) -> list[
        tuple[tuple[str | int, ...], ActionDefinition | CheckDefinition | ConditionDefinition]
    ]:
        """Every rule that may name an LA choice (conditions, checks, actions), with its place."""
        rules: list[
            tuple[tuple[str | int, ...], ActionDefinition | CheckDefinition | ConditionDefinition]
        ] = []
        for name, state in self.defn.states.items():
            base: tuple[str | int, ...] = ("states", name)
            rules += [((*base, "checklist", i), c) for i, c in enumerate(state.checklist)]
            rules += [((*base, "on_enter", i), a) for i, a in enumerate(state.on_enter)]
            for i, timer in enumerate(state.timers):
                rules += [((*base, "timers", i, "when", j), w) for j, w in enumerate(timer.when)]
        for i, trig in enumerate(self.defn.triggers):
            rules += [(("triggers", i, "guards", j), g) for j, g in enumerate(trig.guards)]
            rules += [(("triggers", i, "actions", j), a) for j, a in enumerate(trig.actions)]
        return rules

    def _la_choices(self) -> None:
        """A rule naming an LA choice the process does not declare, or marked `basis: la_choice`
        without naming one (it could not be switched off), or naming one while its source says
        policy or law.
        """
        choices = self.defn.la_choices
        for loc, rule in self._choice_rules():
            basis = rule.source.basis if rule.source is not None else None
            if rule.la_choice is not None and rule.la_choice not in choices:
                self.add(
                    (*loc, "la_choice"),
                    f"unknown LA choice {rule.la_choice!r}: declare it under `la_choices:` "
                    "(says, applies, why)" + suggest(rule.la_choice, choices, what="LA choices"),
                )
            elif rule.la_choice is None and basis is RuleBasis.la_choice:
                self.add(
                    (*loc, "source", "basis"),
                    "this rule's basis is la_choice but it names no choice: add `la_choice: "
                    "<key>` (a key of `la_choices`) so the LA can switch it off",
                )
            elif rule.la_choice is not None and basis not in (None, RuleBasis.la_choice):
                assert basis is not None
                self.add(
                    (*loc, "source", "basis"),
                    f"this rule names LA choice {rule.la_choice!r} but its source says basis "
                    f"{basis.value}: a rule the policy or the law asks for cannot be switched "
                    "off; drop `la_choice:` or the basis",
                )
        refs: list[tuple[tuple[str | int, ...], SourceDefinition | None]] = [
            (("triggers", i, "ref"), t.ref) for i, t in enumerate(self.defn.triggers)
        ]
        refs += [(("states", n, "ref"), s.ref) for n, s in self.defn.states.items()]
        refs += [(("facts", n, "source"), f.source) for n, f in self.defn.facts.items()]
        for loc, src in refs:
            if src is not None and src.basis is RuleBasis.la_choice:
                self.add(
                    (*loc, "basis"),
                    "only a condition, a check or an action can be an LA choice (it names one "
                    "with `la_choice:`, and the LA switches it off in `la_choices`); mark the "
                    "parts the LA chose instead",
                )

    def _switched_off_checks(self) -> None:
        """A rule still on that reads or records a check of a switched-off choice: the check is
        gone from the running process, so the rule would wait for it for ever.
        """
        off = switched_off(self.defn)
        gone = {
            c.id: c.la_choice
            for s in self.defn.states.values()
            for c in s.checklist
            if c.la_choice is not None and c.la_choice in off
        }
        if not gone:
            return
        for i, trig in enumerate(self.defn.triggers):
            compiled = iter(self.loaded.trigger_guards.get(trig.id, ()))
            for j, guard in enumerate(trig.guards):
                if guard.la_choice is not None and guard.la_choice in off:
                    continue
                cond = next(compiled, None)
                read = (cond.checks_read or frozenset()) if cond is not None else frozenset()
                for check in sorted(read & set(gone)):
                    self.add(
                        ("triggers", i, "guards", j),
                        f"guard of {trig.id!r} reads check {check!r}, which belongs to LA choice "
                        f"{gone[check]!r}, switched off: name the choice on this guard too "
                        f"(`la_choice: {gone[check]}`), or switch the choice on",
                    )
            for j, action in enumerate(trig.actions):
                if action.records_check in gone and action.la_choice not in off:
                    self.add(
                        ("triggers", i, "actions", j, "records_check"),
                        f"this action records check {action.records_check!r}, which belongs to "
                        f"LA choice {gone[action.records_check]!r}, switched off: name the "
                        "choice on the action too, or switch the choice on",
                    )

    def _unmarked(self) -> None:
        """A shipped rule that says no basis, not even through the step or stage it sits in: a
        warning, so a policy owner sees what is still unmarked.
        """
        hint = "say `basis: policy`, `basis: law` or name an `la_choice:`"
        for i, trig in enumerate(self.defn.triggers):
            if trig.ref.basis is None:
                self.add(
                    ("triggers", i, "ref"),
                    f"step {trig.id!r} does not say its basis (in its `ref`): {hint}",
                    severity="warning",
                    code="unmarked_basis",
                )
                for j, guard in enumerate(trig.guards):
                    if _basis(guard.source) is None and guard.la_choice is None:
                        self.add(
                            ("triggers", i, "guards", j),
                            f"guard of {trig.id!r} ({guard.says}) does not say its basis: {hint}",
                            severity="warning",
                            code="unmarked_basis",
                        )
        for name, state in self.defn.states.items():
            if state.ref.basis is not None:
                continue
            for j, check in enumerate(state.checklist):
                if _basis(check.source) is None and check.la_choice is None:
                    self.add(
                        ("states", name, "checklist", j, "id"),
                        f"check {check.id!r} does not say its basis (nor does its stage "
                        f"{name!r}'s `ref`): {hint}",
                        severity="warning",
                        code="unmarked_basis",
                    )


def _basis(source: SourceDefinition | None) -> RuleBasis | None:
    return source.basis if source is not None else None
