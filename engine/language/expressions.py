"""The guard language: CEL expressions over a case's declared facts, compiled and type-checked once.

Owns compiling a `ConditionDefinition` into a `CompiledCondition` (refusing syntax errors, unknown
names, unknown checks, enum values a fact cannot take and type errors at load time) and evaluating
it against a guard context built by `guard_context`. Does not own where conditions sit in a file
(`loader.py` places problems on lines) or when guards run (`machine.py`, the case service).

Safety: expressions run in CEL, which has no access to Python. The context handed to CEL holds
only plain values (bool, int, float, str, timestamps, a map of bools), never callables, so YAML
can never run Python.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError, suggest
from engine.language.definition import RESERVED_NAMES, ConditionDefinition, FactDefinition, FactType

CEL_KEYWORDS = frozenset(
    {
        "false",
        "true",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)
"""CEL's reserved words: an expression cannot name a fact like this."""
CEL_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"}
)
"""Type names CEL resolves as identifiers (`type(x) == int`); a fact may not take them either."""
CEL_FUNCTIONS = (
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "timestamp",
    "duration",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "bytes",
    "dyn",
    "type",
    "has",
    "all",
    "exists",
    "exists_one",
    "map",
    "filter",
    "getFullYear",
    "getMonth",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
)
"""Standard CEL functions, offered as suggestions when an expression calls an unknown one."""

_UTC = dt.UTC
_STRING_LITERAL = re.compile(
    r"""[rRbB]?(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")""",
    re.DOTALL,
)
_MACRO_VARIABLE = re.compile(
    r"\.\s*(?:all|exists|exists_one|existsOne|map|filter|transformList|transformMap)"
    r"\s*\(\s*([A-Za-z_]\w*)\s*,"
)
_CHECK_DOT = re.compile(r"(?<![\w.])checks\s*\.\s*([A-Za-z_]\w*)")
_CHECK_INDEX = re.compile(r"(?<![\w.])checks\s*\[\s*(\x00+)\s*\]")
_CHECK_ANY = re.compile(r"(?<![\w.])checks\b")
_INT_LITERAL = re.compile(r"(?<![\w.])(\d+)(?![\w.])")
_FLOAT_LITERAL = re.compile(r"(?<![\w.])(\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)(?![\w.])")
_CEL_ERROR_PLACE = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")
_UNDEFINED = re.compile(r"Undefined variable or function: '([^']+)'")
_MAX_PROBES = 512
_PROBE_EPOCHS = (dt.datetime(2000, 1, 3, tzinfo=_UTC), dt.datetime(2099, 12, 31, tzinfo=_UTC))


class ExpressionProblem(Exception):
    """A condition that cannot be compiled; `line`/`column` are within the expression, if known."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(message)


@dataclass(frozen=True, eq=False)
class CompiledCondition:
    """A guard condition compiled once per loaded process; evaluate it against `guard_context`."""

    says: str
    """The condition in words, as the YAML says it."""
    expr: str
    """The CEL source."""
    variables: frozenset[str]
    """The declared facts it reads (an unset one makes the condition fail)."""
    names: frozenset[str]
    """Every context name it reads: facts plus reserved names such as `checks` or `case_day`."""
    checks_read: frozenset[str] | None
    """Check ids it reads by name, or None when it reads `checks` as a whole (e.g. `size()`)."""
    constant: bool | None = None
    """Set when every probe value gave the same answer: a hint the condition may be mistyped."""
    _program: Any = field(default=None, repr=False)
    _fact_order: tuple[str, ...] = field(default=(), repr=False)

    def failure(self, context: Mapping[str, object]) -> str | None:
        """Why the condition does not hold in `context`, or None when it holds. Never raises."""
        missing = [name for name in self._fact_order if context.get(name) is None]
        if missing:
            listed = ", ".join(missing)
            return f"needs fact {listed}, not recorded yet"
        env: dict[str, object] = {}
        for name in self.names:
            value = context.get(name)
            if value is None:
                return f"needs {name}, which the engine did not supply"
            if name == "checks" and self.checks_read is not None and isinstance(value, Mapping):
                # Passing only the checks read keeps evaluation cheap: CEL converts every entry.
                value = {c: bool(value.get(c, False)) for c in self.checks_read}
            env[name] = value
        try:
            result = self._program.execute(env)
        except Exception as exc:  # a CEL runtime error is a failed condition, never a crash
            return f"could not be evaluated: {_first_sentence(str(exc))}"
        if result is True:
            return None
        if result is False:
            return "does not hold"
        return f"gave {type(result).__name__} {result!r}, not true or false"

    def evaluate(self, context: Mapping[str, object]) -> bool:
        """Whether the condition holds in `context` (false when a fact it reads is unset)."""
        return self.failure(context) is None


def guard_context(
    *,
    facts: Mapping[str, object],
    fact_defs: Mapping[str, FactDefinition],
    checks_done: Collection[str],
    all_checks: Collection[str],
    case_day: int,
    state_day: int,
    effective_date: dt.date,
    opened_on: dt.date,
) -> dict[str, object]:
    """The values guards read, converted for CEL (dates become UTC-midnight timestamps)."""
    context: dict[str, object] = {}
    for name, value in facts.items():
        if value is None:
            continue  # unset: conditions reading it fail with "needs fact …"
        context[name] = _to_cel(name, value, fact_defs.get(name))
    done = set(checks_done)
    context["checks"] = {check: check in done for check in all_checks}
    context["case_day"] = int(case_day)
    context["state_day"] = int(state_day)
    context["effective_date"] = _timestamp(effective_date)
    context["opened_on"] = _timestamp(opened_on)
    return context


def compile_condition(
    cond: ConditionDefinition,
    *,
    facts: Mapping[str, FactDefinition],
    checks: Collection[str],
) -> CompiledCondition:
    """Compile and type-check one condition against the declared facts and checks."""
    # Imported here: `cel` pulls in a CLI toolkit (~0.2 s) that reading a case never needs.
    import cel

    expr = cond.expr
    try:
        program = cel.compile(expr)
    except ValueError as exc:
        raise _syntax_problem(expr, str(exc)) from None
    masked = _mask_strings(expr)
    bound = set(_MACRO_VARIABLE.findall(masked))
    names = set(program.variables()) - bound - CEL_TYPE_NAMES
    allowed = set(facts) | RESERVED_NAMES
    for name in sorted(names):
        if name not in allowed:
            raise ExpressionProblem(
                f"unknown name {name!r} in guard `{expr}`"
                + suggest(name, allowed, what="names (facts and reserved names)"),
                line=1,
                column=_column_of(masked, name),
            )
    checks_read = _checks_read(expr, masked, checks) if "checks" in names else frozenset()
    _check_enum_literals(expr, masked, names, facts)
    fact_names = tuple(sorted(n for n in names if n in facts))
    constant = _type_check(program, expr, masked, names, facts, checks, checks_read)
    return CompiledCondition(
        says=cond.says,
        expr=expr,
        variables=frozenset(fact_names),
        names=frozenset(names),
        checks_read=checks_read,
        constant=constant,
        _program=program,
        _fact_order=fact_names,
    )


def _column_of(masked: str, name: str, *, after: str | None = None) -> int | None:
    """1-based column of `name` as an identifier in the (string-masked) expression."""
    prefix = rf"{after}\s*\.\s*" if after else r"(?<![\w.])"
    match = re.search(rf"{prefix}({re.escape(name)})(?!\w)", masked)
    if match is None:
        return None
    return match.start(1) + 1 if "\n" not in masked[: match.start(1)] else None


def _first_sentence(message: str) -> str:
    return message.split(". ")[0].rstrip(".")


def _timestamp(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=_UTC)


def _to_cel(name: str, value: object, fact: FactDefinition | None) -> object:
    if isinstance(value, dt.date):
        return _timestamp(value)
    if isinstance(value, str) and fact is not None and fact.type == FactType.date:
        # Date facts are stored as ISO text (one spelling for the row and the hash chain).
        return _timestamp(dt.date.fromisoformat(value))
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return float(value) if fact is not None and fact.type == FactType.float else value
    if isinstance(value, float):
        return value
    raise InputError(
        f"fact {name!r} holds a {type(value).__name__}; guards read only true/false, numbers, "
        "text and dates"
    )


def _mask_strings(expr: str) -> str:
    """The expression with every string literal's text replaced by NULs (same length)."""

    def blank(match: re.Match[str]) -> str:
        return "\x00" * len(match.group(0))

    return _STRING_LITERAL.sub(blank, expr)


def _string_literals(expr: str) -> list[str]:
    values = []
    for match in _STRING_LITERAL.finditer(expr):
        text = match.group(0).lstrip("rRbB")
        quote = 3 if text[:3] in ("'''", '"""') else 1
        values.append(text[quote:-quote])
    return values


def _literal_at(expr: str, start: int, end: int) -> str:
    text = expr[start:end].lstrip("rRbB")
    quote = 3 if text[:3] in ("'''", '"""') else 1
    return text[quote:-quote]


def _checks_read(expr: str, masked: str, checks: Collection[str]) -> frozenset[str] | None:
    """Check ids read by name (`checks.x`, `checks['x']`); None when `checks` is used whole."""
    read: set[str] = set()
    uses = len(_CHECK_ANY.findall(masked))
    named = 0
    for match in _CHECK_DOT.finditer(masked):
        read.add(match.group(1))
        named += 1
    for match in _CHECK_INDEX.finditer(masked):
        read.add(_literal_at(expr, match.start(1), match.end(1)))
        named += 1
    for check in sorted(read):
        if check not in checks:
            raise ExpressionProblem(
                f"unknown check {check!r} in guard `{expr}`"
                + suggest(check, checks, what="checks"),
                line=1,
                column=_column_of(masked, check, after="checks"),
            )
    return frozenset(read) if named == uses else None


def _check_enum_literals(
    expr: str, masked: str, names: Collection[str], facts: Mapping[str, FactDefinition]
) -> None:
    """Refuse `fact == 'value'` where the enum fact cannot take that value (a silent false)."""
    for name in names:
        fact = facts.get(name)
        if fact is None or fact.type != FactType.enum or not fact.values:
            continue
        ident = rf"(?<![\w.]){re.escape(name)}(?![\w])"
        patterns = (
            rf"{ident}\s*(?:==|!=)\s*(\x00+)",
            rf"(\x00+)\s*(?:==|!=)\s*{ident}",
            rf"{ident}\s+in\s*\[([^\]]*)\]",
        )
        for pattern in patterns:
            for match in re.finditer(pattern, masked):
                start, end = match.span(1)
                for literal in _STRING_LITERAL.finditer(expr[start:end]):
                    value = _literal_at(expr, start + literal.start(), start + literal.end())
                    if value not in fact.values:
                        raise ExpressionProblem(
                            f"{value!r} is not a value of enum fact {name!r} in guard `{expr}`"
                            + suggest(value, fact.values, what="values"),
                            line=1,
                            column=start + literal.start() + 1,
                        )


def _syntax_problem(expr: str, message: str) -> ExpressionProblem:
    match = _CEL_ERROR_PLACE.search(message)
    if not match:
        return ExpressionProblem(f"syntax error in guard `{expr}`: {_first_sentence(message)}")
    line, column, what = int(match.group(1)), int(match.group(2)), match.group(3)
    what = what.replace("Syntax error: ", "").strip()
    # ANTLR lists every token it would have accepted; that list helps nobody editing a policy.
    what = what.split(" expecting ")[0].replace("'<EOF>'", "end of expression")
    return ExpressionProblem(
        f"syntax error in guard `{expr}` at character {column}: {what}", line=line, column=column
    )


def _probe_dimensions(
    expr: str,
    masked: str,
    names: Collection[str],
    facts: Mapping[str, FactDefinition],
    checks: Collection[str],
    checks_read: frozenset[str] | None,
) -> list[tuple[str, Sequence[object]]]:
    """For each input, a few values of its declared type, including literals it is compared to."""
    ints = sorted({int(n) for n in _INT_LITERAL.findall(masked)} | {0, 1})
    int_probes: Sequence[object] = [*dict.fromkeys(v for n in ints for v in (n, n + 1))][:8]
    floats = {float(f) for f in _FLOAT_LITERAL.findall(masked)} | {float(n) for n in ints}
    float_probes: Sequence[object] = [*sorted({v for f in floats for v in (f, f + 0.5)})][:8]
    strings = _string_literals(expr)
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


def _type_check(
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
    dims = _probe_dimensions(expr, masked, names, facts, checks, checks_read)
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
            f"guard `{expr}` cannot be evaluated: {_first_sentence(other_error or 'no result')}"
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
