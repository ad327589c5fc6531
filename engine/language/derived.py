"""Derived facts, on the definition side: what each count reads and the checks a file must pass.

Owns the rules a `derived:` fact must follow within its process (the dates it counts from exist,
are dates recorded on the case, and are not counted themselves; a step that reads a count asks
for the dates it is counted from; no step asks for a count to be recorded) and the words that
say how a fact is counted. Does not own the model (`definition.py`) or the arithmetic on a case's
calendar (`engine/cases/derived.py`). Guards read a derived fact like any other: its declared
`type` (int or date) is what the type checker probes it with.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

from engine.errors import suggest
from engine.language.definition import (
    DERIVED_SOURCES,
    DerivedCount,
    DerivedDefinition,
    FactDefinition,
    FactType,
    TriggerDefinition,
)
from engine.language.expressions import CompiledCondition

Place = tuple[str | int, ...]


class Count(Protocol):
    """What a count reads: a `DerivedDefinition`, or the `CountOutline` stored with a version."""

    @property
    def count(self) -> str:
        """school_days_between, school_days_after, months_between, age_on or school_leaving_date."""

    @property
    def from_(self) -> str:
        """The date counted from."""

    @property
    def to(self) -> str | None:
        """The date counted to (None for school_days_after)."""

    @property
    def days(self) -> int | None:
        """For school_days_after: how many school days after."""

    @property
    def to_included(self) -> bool:
        """For school_days_between: whether `to` counts too."""

    @property
    def sources(self) -> tuple[str, ...]:
        """`from_`, then `to` if any."""


def derived_facts(facts: Mapping[str, FactDefinition]) -> dict[str, DerivedDefinition]:
    """The facts of a process the engine counts, by name."""
    return {name: f.derived for name, f in facts.items() if f.derived is not None}


def recorded_sources(name: str, facts: Mapping[str, FactDefinition]) -> tuple[str, ...]:
    """The recorded date facts a derived fact is counted from (none for a recorded fact, and
    never the reserved `effective_date` or `opened_on`, which the engine always knows).
    """
    fact = facts.get(name)
    if fact is None or fact.derived is None:
        return ()
    return tuple(s for s in fact.derived.sources if s not in DERIVED_SOURCES)


def with_sources(names: Iterable[str], facts: Mapping[str, FactDefinition]) -> set[str]:
    """`names` and the recorded dates the derived facts among them are counted from."""
    found = set(names)
    for name in list(found):
        found.update(recorded_sources(name, facts))
    return found


def how_counted(derived: Count) -> str:
    """How the fact is counted, in words (for refusals and `cme process show`)."""
    if derived.count == DerivedCount.school_days_between:
        end = "up to and including" if derived.to_included else "up to but not including"
        return f"the school days from {derived.from_} {end} {derived.to}, on the case's calendar"
    if derived.count == DerivedCount.school_days_after:
        return f"the date {derived.days} school days after {derived.from_}, on the case's calendar"
    if derived.count == DerivedCount.months_between:
        return f"the whole calendar months from {derived.from_} to {derived.to}"
    if derived.count == DerivedCount.school_leaving_date:
        return (
            f"the last Friday in June of the school year in which a person born on "
            f"{derived.from_} turns 16 (the end of compulsory school age)"
        )
    return f"the age in whole years on {derived.to} of a person born on {derived.from_}"


def typed_by_hand(name: str, derived: Count) -> str:
    """The refusal of a value typed for a derived fact: what it is counted from instead."""
    dates = [s for s in derived.sources if s not in DERIVED_SOURCES]
    record = (
        f"; record {' and '.join(dates)} instead"
        if dates
        else "; there is nothing to record for it"
    )
    return f"{name} is counted by the engine, never typed: it is {how_counted(derived)}{record}"


def derived_issues(
    facts: Mapping[str, FactDefinition],
    declared: Collection[str],
    triggers: Sequence[tuple[int, TriggerDefinition]],
    guards: Mapping[str, Sequence[CompiledCondition]],
) -> list[tuple[Place, str]]:
    """Every problem with the derived facts of one file, each with the place it is about.

    `facts` are the facts that validated; `declared` every fact name in the file (a source
    naming a broken fact is reported with that fact, not again here).
    """
    counted = derived_facts(facts)
    return [
        *_source_issues(facts, declared, counted),
        *_step_issues(facts, counted, triggers, guards),
    ]


def _source_issues(
    facts: Mapping[str, FactDefinition],
    declared: Collection[str],
    counted: Mapping[str, DerivedDefinition],
) -> list[tuple[Place, str]]:
    """The dates each count reads exist, are recorded (not counted) and are dates."""
    issues: list[tuple[Place, str]] = []
    for name, derived in counted.items():
        ends = (("from", derived.from_),) + ((("to", derived.to),) if derived.to else ())
        for key, source in ends:
            place: Place = ("facts", name, "derived", key)
            if source in DERIVED_SOURCES:
                continue
            if source not in declared:
                known = [
                    n for n, f in facts.items() if f.type == FactType.date and n not in counted
                ]
                issues.append(
                    (
                        place,
                        f"{name} is counted from unknown fact {source!r}"
                        + suggest(source, [*known, *sorted(DERIVED_SOURCES)], what="dates"),
                    )
                )
            elif source in counted:
                issues.append(
                    (
                        place,
                        f"{name} is counted from {source}, which is itself counted: count from "
                        "the dates a person records",
                    )
                )
            elif source in facts and facts[source].type != FactType.date:
                issues.append(
                    (
                        place,
                        f"{name} is counted from {source}, a {facts[source].type.value}: a count "
                        "starts and ends on date facts (or opened_on, effective_date)",
                    )
                )
    return issues


def _step_issues(
    facts: Mapping[str, FactDefinition],
    counted: Mapping[str, DerivedDefinition],
    triggers: Sequence[tuple[int, TriggerDefinition]],
    guards: Mapping[str, Sequence[CompiledCondition]],
) -> list[tuple[Place, str]]:
    """No step requires a count to be recorded; a step reading one requires its dates."""
    issues: list[tuple[Place, str]] = []
    for index, trig in triggers:
        for j, required in enumerate(trig.requires_facts):
            if required in counted:
                dates = recorded_sources(required, facts)
                issues.append(
                    (
                        ("triggers", index, "requires_facts", j),
                        f"{required} is counted by the engine, never recorded: require the dates "
                        f"it is counted from ({', '.join(dates) or 'none to record'}) instead",
                    )
                )
        read = {n for cond in guards.get(trig.id, ()) for n in cond.names}
        for name in sorted(read & set(counted)):
            missing = [d for d in recorded_sources(name, facts) if d not in trig.requires_facts]
            if missing:
                issues.append(
                    (
                        ("triggers", index, "guards"),
                        f"step {trig.id} reads {name}, counted from {', '.join(missing)}: list "
                        f"{'it' if len(missing) == 1 else 'them'} in requires_facts so a date "
                        "not yet recorded is named",
                    )
                )
    return issues


__all__ = [
    "Count",
    "derived_facts",
    "derived_issues",
    "how_counted",
    "recorded_sources",
    "typed_by_hand",
    "with_sources",
]
