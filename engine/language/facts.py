"""Typed case facts: turning what an officer types into a value of the fact's declared type.

Owns coercion and the per-fact rules (enum values, no backdated dates, no value typed for a fact
the engine counts). Does not own which facts a process declares (`definition.py`) or how guards
read them (`expressions.py`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from engine.errors import BackdatingRefused, CountedFact, InputError, UnknownFact, close_matches
from engine.language.definition import FactDefinition, FactType
from engine.language.derived import recorded_sources, typed_by_hand

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters no fact or name may hold (PostgreSQL refuses NUL in text; the rest are garbage)."""
_INT_RANGE = range(-(2**63), 2**63)  # what a guard (CEL int) can hold


def coerce_fact(name: str, raw: Any, facts: dict[str, FactDefinition], *, on: dt.date) -> Any:
    """The value of fact `name` from `raw`, typed as declared; refuses what the fact forbids.

    Date values are stored as ISO text so the stored row and the hash see one spelling.
    """
    if name not in facts:
        raise UnknownFact(name=name, known=facts)
    fact = facts[name]
    if fact.derived is not None:
        # Counted from recorded dates whenever guards are judged: a typed count could disagree.
        raise CountedFact(
            typed_by_hand(name, fact.derived), fact=name, dates=recorded_sources(name, facts)
        )
    value = _convert(name, raw, fact)
    if (
        fact.type == FactType.date
        and fact.not_backdated
        and value is not None
        and dt.date.fromisoformat(value) < on
    ):
        raise BackdatingRefused(
            f"{name} {value} is earlier than {on.isoformat()}, the day it is recorded: "
            f"the policy forbids backdating it ({fact.description})"
        )
    return value


def _convert(name: str, raw: Any, fact: FactDefinition) -> Any:  # noqa: C901 (one branch per declared fact type, each with its own refusal)
    if raw is None:
        return None
    kind = fact.type
    if kind == FactType.bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise InputError(f"{name} is yes/no: write true or false, not {raw!r}")
    if kind == FactType.int:
        if isinstance(raw, bool):
            raise InputError(f"{name} is a whole number, not {raw!r}")
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise InputError(f"{name} is a whole number, not {raw!r}") from None
        if number not in _INT_RANGE:
            raise InputError(f"{name} is a whole number of a sensible size, not {raw!r}")
        return number
    if kind == FactType.float:
        try:
            real = float(str(raw).strip())
        except ValueError:
            raise InputError(f"{name} is a number, not {raw!r}") from None
        if not math.isfinite(real):
            raise InputError(f"{name} is a finite number, not {raw!r}")
        return real
    if kind == FactType.date:
        if isinstance(raw, dt.date):
            return raw.isoformat()
        try:
            return dt.date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise InputError(f"{name} is a date: write it as YYYY-MM-DD, not {raw!r}") from None
    if kind == FactType.enum:
        assert fact.values is not None
        text = str(raw).strip()
        if text not in fact.values:
            close = close_matches(text, fact.values)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            raise InputError(
                f"{name} must be one of {', '.join(fact.values)}; {text!r} is not{hint}"
            )
        return text
    text = str(raw)
    if CONTROL_CHARACTERS.search(text):
        raise InputError(f"{name} contains a control character (such as NUL); retype it")
    return text
