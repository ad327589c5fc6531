"""Type-checking a guard at load time, by probing: the compiled CEL program is run on values of
each input's declared type (a few per input, every combination when there are few) and must give
a bool every time, so `&&`, `||` and `?:` short-circuits cannot hide a type error in a branch.
A program that gives the same bool on every probe is reported as constant.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from engine.errors import suggest
from engine.language.definition import FactDefinition, FactType
from engine.language.expressions import (
    CEL_FUNCTIONS,
    ExpressionProblem,
    first_sentence,
    string_literals,
)

_INT_LITERAL = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


_FLOAT_LITERAL = re.compile(r"(?<![\w.])(\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)(?![\w.])")


_UNDEFINED = re.compile(r"Undefined variable or function: '([^']+)'")


_MAX_PROBES = 512


_PROBE_EPOCHS = (dt.datetime(2000, 1, 3, tzinfo=dt.UTC), dt.datetime(2099, 12, 31, tzinfo=dt.UTC))


def _probe_dimensions(  # noqa: C901 (one branch per kind of input a guard can read)
    expr: str,
    masked: str,
    names: Collection[str],
    facts: Mapping[str, FactDefinition],
    checks_read: frozenset[str] | None,
) -> list[tuple[str, Sequence[object]]]:
    """For each input, a few values of its declared type, including literals it is compared to."""
    ints = sorted({int(n) for n in _INT_LITERAL.findall(masked)} | {0, 1})
    int_probes: Sequence[object] = [*dict.fromkeys(v for n in ints for v in (n, n + 1))][:8]
    floats = {float(f) for f in _FLOAT_LITERAL.findall(masked)} | {float(n) for n in ints}
    float_probes: Sequence[object] = [*sorted({v for f in floats for v in (f, f + 0.5)})][:8]
    strings = string_literals(expr)
    string_probes: Sequence[object] = [*dict.fromkeys(["", "x", *strings])][:8]
    dims: list[tuple[str, Sequence[object]]] = []
    for name in sorted(names):
        if name == "checks":
            if checks_read is None:
                dims.append(("checks", [False, True]))
            else:
                dims.extend((f"checks.{c}", [False, True]) for c in sorted(checks_read))
            continue
        if name in ("case_day", "state_day"):
            dims.append((name, int_probes))
            continue
        if name in ("effective_date", "opened_on"):
            dims.append((name, list(_PROBE_EPOCHS)))
            continue
        fact = facts[name]
        values: Sequence[object]
        if fact.type == FactType.bool:
            values = [False, True]
        elif fact.type == FactType.int:
            values = int_probes
        elif fact.type == FactType.float:
            values = float_probes
        elif fact.type == FactType.string:
            values = string_probes
        elif fact.type == FactType.date:
            values = list(_PROBE_EPOCHS)
        else:
            allowed = list(fact.values or [])
            named = [s for s in strings if s in allowed]
            other = [v for v in allowed if v not in named][:1]
            values = [*dict.fromkeys([*named, *other])][:6] or [*allowed[:1]]
        dims.append((name, values))
    return dims


def _combinations(dims: Sequence[tuple[str, Sequence[object]]]) -> Iterator[tuple[object, ...]]:
    """Every combination when there are few; otherwise the extremes plus a fixed random sample."""
    total = 1
    for _, values in dims:
        total *= len(values)
    if total <= _MAX_PROBES:
        yield from itertools.product(*(values for _, values in dims))
        return
    yield tuple(values[0] for _, values in dims)
    yield tuple(values[-1] for _, values in dims)
    rng = random.Random(0)  # fixed seed: load-time checking must be repeatable
    for _ in range(_MAX_PROBES):
        yield tuple(rng.choice(values) for _, values in dims)


def type_check(  # noqa: C901 (probe, evaluate and explain in one place so messages name the probe)
    program: Any,
    expr: str,
    masked: str,
    names: Collection[str],
    facts: Mapping[str, FactDefinition],
    checks: Collection[str],
    checks_read: frozenset[str] | None,
) -> bool | None:
    """Run the program on probe values of the declared types; it must give a bool every time.

    Several probe sets (every combination of a few values per input, when small) make sure
    `&&`, `||` and `?:` short-circuits do not hide a type error in a branch.
    Returns the constant answer when every probe gave the same one, else None.
    """
    dims = _probe_dimensions(expr, masked, names, facts, checks_read)
    base_checks = {c: False for c in checks} if checks_read is None else {}
    seen: set[bool] = set()
    other_error: str | None = None
    for combo in _combinations(dims):
        env: dict[str, object] = {}
        check_map: dict[str, bool] = dict(base_checks)
        for (name, _), value in zip(dims, combo, strict=True):
            if name.startswith("checks."):
                check_map[name.removeprefix("checks.")] = bool(value)
            elif name == "checks":
                check_map = {c: bool(value) for c in checks}
            else:
                env[name] = value
        if "checks" in names:
            env["checks"] = check_map
        try:
            result = program.execute(env)
        except TypeError:
            raise ExpressionProblem(
                f"type error in guard `{expr}`: an operator or function is given values of "
                f"types it does not accept ({_describe_types(names, facts)}); CEL never converts "
                "between types: write 20 not '20', and 20.0 for a float"
            ) from None
        except RuntimeError as exc:
            undefined = _UNDEFINED.search(str(exc))
            if undefined:
                name = undefined.group(1)
                raise ExpressionProblem(
                    f"unknown function {name!r} in guard `{expr}`"
                    + suggest(name, CEL_FUNCTIONS, what="functions")
                ) from None
            other_error = str(exc)
            continue
        except KeyError as exc:
            if checks_read is None:  # `checks[x]` with a probe x that names no check
                other_error = f"no check {exc.args[0]!r}"
                continue
            raise ExpressionProblem(
                f"unknown key {exc.args[0]!r} in guard `{expr}`"
                + suggest(str(exc.args[0]), checks, what="checks")
            ) from None
        except (ArithmeticError, ValueError) as exc:
            # e.g. a division by a probe value of 0: wrong only if no probe evaluates at all
            other_error = str(exc)
            continue
        if not isinstance(result, bool):
            raise ExpressionProblem(
                f"guard `{expr}` gives {_cel_type(result)}, not true or false; compare it "
                "(e.g. `absence_days >= 20`) or combine conditions with && and ||"
            )
        seen.add(result)
    if not seen:
        raise ExpressionProblem(
            f"guard `{expr}` cannot be evaluated: {first_sentence(other_error or 'no result')}"
        )
    return next(iter(seen)) if len(seen) == 1 else None


def _cel_type(value: object) -> str:
    if isinstance(value, int):
        return "an int"
    if isinstance(value, float):
        return "a double"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dt.datetime):
        return "a timestamp"
    if isinstance(value, dt.timedelta):
        return "a duration"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _describe_types(names: Collection[str], facts: Mapping[str, FactDefinition]) -> str:
    parts = []
    for name in sorted(names):
        if name == "checks":
            parts.append("checks.<id>: bool")
        elif name in ("case_day", "state_day"):
            parts.append(f"{name}: int")
        elif name in ("effective_date", "opened_on"):
            parts.append(f"{name}: timestamp")
        else:
            fact = facts[name]
            kind = {
                FactType.float: "double",
                FactType.date: "timestamp",
                FactType.enum: "string (enum)",
            }.get(fact.type, fact.type.value)
            parts.append(f"{name}: {kind}")
    return ", ".join(parts)


__all__ = ["type_check"]
