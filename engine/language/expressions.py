"""The guard language: CEL expressions over a case's declared facts, compiled and type-checked once.

Owns compiling a `ConditionDefinition` into a `CompiledCondition` (refusing syntax errors, unknown
names, unknown checks, enum values a fact cannot take and type errors at load time) and evaluating
it against a guard context built by `guard_context`. Does not own where conditions sit in a file
(`loader.py` places problems on lines) or when guards run (`machine.py`, the case service).

Safety: expressions run in CEL, which has no access to Python. The context handed to CEL holds
only plain values (bool, int, float, str, timestamps, a map of bools), never callables, so YAML
can never run Python.

Type-checking by probing is `type_check.py`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import InputError, suggest
from engine.language.definition import RESERVED_NAMES, ConditionDefinition, FactDefinition, FactType

if TYPE_CHECKING:
    from engine.language.basis import Basis

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


_CEL_ERROR_PLACE = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")


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
    basis: Basis | None = None
    """Why the condition binds (policy, law, LA choice), set by the loader: a refusal says it."""
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
        except Exception as exc:  # noqa: BLE001 (a CEL runtime error is a failed condition)
            return f"could not be evaluated: {first_sentence(str(exc))}"
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

    from engine.language.type_check import type_check

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
    constant = type_check(program, expr, masked, names, facts, checks, checks_read)
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


def first_sentence(message: str) -> str:
    """The first sentence of a CEL error message, which goes on at length."""
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


def string_literals(expr: str) -> list[str]:
    """The values of the string literals in `expr`."""
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
        return ExpressionProblem(f"syntax error in guard `{expr}`: {first_sentence(message)}")
    line, column, what = int(match.group(1)), int(match.group(2)), match.group(3)
    what = what.replace("Syntax error: ", "").strip()
    # ANTLR lists every token it would have accepted; that list helps nobody editing a policy.
    what = what.split(" expecting ")[0].replace("'<EOF>'", "end of expression")
    return ExpressionProblem(
        f"syntax error in guard `{expr}` at character {column}: {what}", line=line, column=column
    )


__all__ = [
    "CEL_FUNCTIONS",
    "CEL_KEYWORDS",
    "CEL_TYPE_NAMES",
    "CompiledCondition",
    "ExpressionProblem",
    "compile_condition",
    "first_sentence",
    "guard_context",
    "string_literals",
]
