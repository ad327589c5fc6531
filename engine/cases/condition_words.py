"""A refused step's conditions in the policy's words: each failing condition by its `says`, with
the values it read written as a person writes them — yes/no, "2 Dec 2024", whole numbers, enum
values in words — never as code (`True`, ISO dates, CEL).

Used by the decision (`decide.take_step`) for officers' steps, timers' steps and imports alike,
so every refusal reads the same way. A personal fact's value is not written (a refusal may be
kept in a timer's history, which is not sealed): only that it is recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from engine.time.words import day_words

if TYPE_CHECKING:
    from engine.language.definition import FactDefinition
    from engine.language.expressions import CompiledCondition


def value_words(value: object, fact: FactDefinition | None = None) -> str:
    """A fact's value as a person writes it: `yes`/`no`, `2 Dec 2024`, `10`, `left the country`."""
    from engine.language.definition import FactType

    kind = fact.type if fact is not None else None
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return day_words(value.date())
    if isinstance(value, dt.date):
        return day_words(value)
    if isinstance(value, str) and kind == FactType.date:
        # Date facts are stored as ISO text.
        try:
            return day_words(dt.date.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, str) and kind == FactType.enum:
        return value.replace("_", " ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_words(
    conditions: Sequence[CompiledCondition],
    facts: Mapping[str, object],
    fact_defs: Mapping[str, FactDefinition],
    context: Mapping[str, object],
    on: dt.date,
    opened_on: dt.date,
    waived: Collection[str] = (),
) -> list[str]:
    """What each condition read, in words, e.g. `crime_suspected: no; it is Day 2 of the case`:
    the facts from `facts` (as recorded), the day counts and checks from the guard `context`
    (a check in `waived` is said to be waived), and the date the step takes effect (`on`) and
    the case opened.
    """
    return [
        _read(
            c,
            facts=facts,
            fact_defs=fact_defs,
            context=context,
            on=on,
            opened_on=opened_on,
            waived=waived,
        )
        for c in conditions
    ]


def _read(
    condition: CompiledCondition,
    *,
    facts: Mapping[str, object],
    fact_defs: Mapping[str, FactDefinition],
    context: Mapping[str, object],
    on: dt.date,
    opened_on: dt.date,
    waived: Collection[str],
) -> str:
    parts: list[str] = []
    for name in sorted(condition.variables):
        fact = fact_defs.get(name)
        value = facts.get(name)
        if fact is not None and fact.personal and value is not None:
            parts.append(f"{name}: recorded")
        elif fact is not None and fact.derived is not None:
            # A count says which recorded dates it was counted from (derived facts, H2).
            dates = {
                "effective_date": f"the day it takes effect, {day_words(on)}",
                "opened_on": f"the day the case opened, {day_words(opened_on)}",
            }
            sources = [
                dates.get(s) or f"{s} {value_words(facts.get(s), fact_defs.get(s))}"
                for s in fact.derived.sources
            ]
            counted = f"{name}: {value_words(value, fact)}, counted from {' to '.join(sources)}"
            parts.append(counted)
        else:
            parts.append(f"{name}: {value_words(value, fact)}")
    names = condition.names
    if "case_day" in names:
        parts.append(f"it is Day {context.get('case_day')} of the case")
    if "state_day" in names:
        parts.append(f"Day {context.get('state_day')} in this stage")
    if "effective_date" in names:
        parts.append(f"it takes effect on {day_words(on)}")
    if "opened_on" in names:
        parts.append(f"the case opened on {day_words(opened_on)}")
    done = context.get("checks")
    if condition.checks_read and isinstance(done, Mapping):
        for check in sorted(condition.checks_read):
            said = "waived" if check in waived else "recorded" if done.get(check) else None
            parts.append(f"check {check}: {said or 'not recorded'}")
    return "; ".join(parts)


__all__ = ["read_words", "value_words"]
