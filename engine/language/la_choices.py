"""LA choices switched off, in one place: the definition the engine runs without them.

Owns what `la_choices: {key: {applies: false}}` means: every condition (a step's guard, a timer's
`when`), check (in a stage's checklist, and named by a step's `requires_checks`) and action (of a
step, or on entering a stage) naming a switched-off choice is dropped when the process is loaded,
so the machine, the outline, the windows and their escalations, and the checks owed all read the
same definition. Also lists, for `cme process show`, what each choice governs. Does not own
checking that a file names only choices it declares (`lint.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from engine.language.definition import (
    ActionDefinition,
    CheckDefinition,
    ConditionDefinition,
    ProcessDefinition,
)

_Named = TypeVar("_Named", ActionDefinition, CheckDefinition, ConditionDefinition)


def switched_off(defn: ProcessDefinition) -> frozenset[str]:
    """The keys of the LA choices this version switches off (`applies: false`)."""
    return frozenset(key for key, choice in defn.la_choices.items() if not choice.applies)


def kept(items: Iterable[_Named], off: frozenset[str]) -> list[_Named]:
    """`items` without those naming a switched-off choice."""
    return [item for item in items if item.la_choice is None or item.la_choice not in off]


def with_choices(defn: ProcessDefinition) -> ProcessDefinition:
    """The definition with every condition, check and action of a switched-off choice dropped
    (itself when none is off).
    """
    off = switched_off(defn)
    if not off:
        return defn
    dropped = {c.id for s in defn.states.values() for c in s.checklist if c.la_choice in off}
    states = {
        name: state.model_copy(
            update={
                "checklist": kept(state.checklist, off),
                "on_enter": kept(state.on_enter, off),
                "timers": [t.model_copy(update={"when": kept(t.when, off)}) for t in state.timers],
            }
        )
        for name, state in defn.states.items()
    }
    triggers = [
        trig.model_copy(
            update={
                "guards": kept(trig.guards, off),
                "actions": kept(trig.actions, off),
                "requires_checks": [c for c in trig.requires_checks if c not in dropped],
            }
        )
        for trig in defn.triggers
    ]
    return defn.model_copy(update={"states": states, "triggers": triggers})


def governed(defn: ProcessDefinition) -> dict[str, list[str]]:  # noqa: C901 (one branch per kind of rule that names a choice)
    """For each LA choice, the rules naming it, in words (e.g. `guard of refer_to_placement_panel:
    FAP and PIF …`), read from the definition as written.
    """
    out: dict[str, list[str]] = {key: [] for key in defn.la_choices}

    def add(choice: str | None, words: str) -> None:
        if choice is not None:
            out.setdefault(choice, []).append(words)

    for name, state in defn.states.items():
        for check in state.checklist:
            add(check.la_choice, f"check {check.id} in {name}: {check.wording}")
        for action in state.on_enter:
            add(action.la_choice, f"on entering {name}: {action.wording}")
        for timer in state.timers:
            for cond in timer.when:
                add(cond.la_choice, f"condition of timer {timer.id}: {cond.says}")
    for trig in defn.triggers:
        for cond in trig.guards:
            add(cond.la_choice, f"guard of {trig.id}: {cond.says}")
        for action in trig.actions:
            add(action.la_choice, f"action of {trig.id}: {action.wording}")
    return out


__all__ = ["governed", "kept", "switched_off", "with_choices"]
