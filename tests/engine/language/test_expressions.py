"""The guard language: compile-time refusals, evaluation, unset facts, and its safety."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.errors import InputError
from engine.language.definition import ConditionDefinition, FactDefinition
from engine.language.expressions import (
    CompiledCondition,
    ExpressionProblem,
    compile_condition,
    guard_context,
)

FACTS = {
    "absence_days": FactDefinition(type="int", description="school days absent"),
    "contact_made": FactDefinition(type="bool", description="contact established"),
    "ground": FactDefinition(
        type="enum", description="ground", values=["moved_abroad", "untraceable", "ehe"]
    ),
    "off_roll_on": FactDefinition(type="date", description="off-roll date"),
    "distance_km": FactDefinition(type="float", description="distance"),
    "school_name": FactDefinition(type="string", description="school"),
}
CHECKS = ["mash_check", "first_letter", "pan_london_check"]


def compile_(expr: str, says: str | None = None) -> CompiledCondition:
    cond = ConditionDefinition(expr=expr, says=says or expr)
    return compile_condition(cond, facts=FACTS, checks=CHECKS)


def context(**facts: object) -> dict[str, object]:
    done = facts.pop("checks_done", ())
    return guard_context(
        facts=facts,
        fact_defs=FACTS,
        checks_done=done,  # type: ignore[arg-type]
        all_checks=CHECKS,
        case_day=12,
        state_day=3,
        effective_date=dt.date(2024, 10, 21),
        opened_on=dt.date(2024, 10, 1),
    )


@pytest.mark.parametrize(
    "expr",
    [
        "absence_days >= 20 && !contact_made",
        "ground == 'untraceable' || ground in ['moved_abroad', 'ehe']",
        "checks.mash_check && checks['first_letter']",
        "off_roll_on >= opened_on && off_roll_on <= effective_date",
        "off_roll_on > timestamp('2024-09-01T00:00:00Z')",
        "effective_date - opened_on >= duration('240h')",
        "distance_km > 1.5 && distance_km < 100.0",
        "school_name.startsWith('St ') || size(school_name) > 3",
        "case_day >= 26 && state_day < 5",
        "[1, 2].all(n, n < absence_days)",
        "size(checks) == 3",
    ],
)
def test_valid_expressions_compile(expr: str) -> None:
    compiled = compile_(expr)
    assert compiled.expr == expr


@pytest.mark.parametrize(
    ("expr", "message", "column"),
    [
        ("absence_days >= 20 &&", "syntax error in guard", 22),
        ("absense_days >= 20", "unknown name 'absense_days'", 1),
        ("contact_made && absense_days > 3", "did you mean 'absence_days'", 17),
        ("checks.mash_chek", "unknown check 'mash_chek' in guard", 8),
        ("ground == 'untracable'", "'untracable' is not a value of enum fact 'ground'", 11),
        ("ground in ['moved_abroad', 'abroad']", "'abroad' is not a value of enum fact", 28),
        ("absence_days", "gives an int, not true or false", None),
        ("absence_days >= '20'", "type error in guard", None),
        ("foo(absence_days)", "unknown function 'foo'", None),
        ("timestamp('not a date') < off_roll_on", "cannot be evaluated", None),
    ],
)
def test_refused_at_compile_time(expr: str, message: str, column: int | None) -> None:
    with pytest.raises(ExpressionProblem) as info:
        compile_(expr)
    assert message in info.value.message
    if column is not None:
        assert info.value.column == column


@pytest.mark.parametrize(
    "expr",
    [
        # each type error sits behind a short-circuit that a single probe set would take
        "contact_made && absence_days > 'x'",
        "!contact_made || absence_days > 'x'",
        "contact_made ? absence_days > 'x' : true",
        "contact_made && !checks.mash_check && ground == 'ehe' && absence_days + school_name > 0",
        "absence_days > 25 && school_name > 1",
    ],
)
def test_type_errors_behind_short_circuits_are_found(expr: str) -> None:
    with pytest.raises(ExpressionProblem, match="type error"):
        compile_(expr)


def test_reads_and_names() -> None:
    compiled = compile_("absence_days >= 20 && checks.mash_check && case_day > 5")
    assert compiled.variables == {"absence_days"}
    assert compiled.names == {"absence_days", "checks", "case_day"}
    assert compiled.checks_read == frozenset({"mash_check"})
    assert compile_("size(checks) == 3").checks_read is None


def test_evaluate_true_and_false() -> None:
    compiled = compile_("absence_days >= 20 && checks.mash_check")
    assert compiled.evaluate(context(absence_days=25, checks_done={"mash_check"}))
    assert not compiled.evaluate(context(absence_days=25))
    assert compiled.failure(context(absence_days=3, checks_done={"mash_check"})) == "does not hold"


def test_unset_fact_fails_with_a_reason_and_never_raises() -> None:
    compiled = compile_("contact_made || absence_days >= 20")
    ctx = context(absence_days=30)
    assert compiled.failure(ctx) == "needs fact contact_made, not recorded yet"
    assert compiled.evaluate(ctx) is False
    assert compile_("absence_days >= 20").failure(context(absence_days=None)) == (
        "needs fact absence_days, not recorded yet"
    )


def test_dates_become_timestamps() -> None:
    ctx = context(off_roll_on=dt.date(2024, 10, 14))
    assert ctx["off_roll_on"] == dt.datetime(2024, 10, 14, tzinfo=dt.UTC)
    assert ctx["effective_date"] == dt.datetime(2024, 10, 21, tzinfo=dt.UTC)
    assert compile_("off_roll_on >= opened_on && off_roll_on < effective_date").evaluate(ctx)
    assert not compile_("off_roll_on > effective_date").evaluate(ctx)


def test_float_facts_accept_ints_and_enums_compare_as_strings() -> None:
    ctx = context(distance_km=2, ground="ehe")
    assert ctx["distance_km"] == 2.0
    assert isinstance(ctx["distance_km"], float)
    assert compile_("distance_km > 1.5").evaluate(ctx)
    assert compile_("ground == 'ehe'").evaluate(ctx)


def test_checks_map_covers_every_check() -> None:
    ctx = context(checks_done={"first_letter"})
    assert ctx["checks"] == {"mash_check": False, "first_letter": True, "pan_london_check": False}
    assert compile_("size(checks) == 3 && checks.first_letter").evaluate(ctx)


def test_runtime_error_is_a_failed_condition() -> None:
    compiled = compile_("100 / absence_days > 2")
    assert compiled.evaluate(context(absence_days=10))
    reason = compiled.failure(context(absence_days=0))
    assert reason is not None
    assert reason.startswith("could not be evaluated")


def test_python_is_unreachable() -> None:
    # Names outside the facts are refused; there is no function that reaches Python.
    for expr in ("__import__('os')", "eval('1')", "open('/etc/passwd') != null"):
        with pytest.raises(ExpressionProblem):
            compile_(expr)
    with pytest.raises(InputError, match="guards read only"):
        context(absence_days=print)


def test_constant_condition_is_flagged() -> None:
    assert compile_("absence_days == '20'").constant is False
    assert compile_("absence_days >= 20").constant is None


def test_facts_not_declared_are_refused_even_when_reserved_look_alike() -> None:
    with pytest.raises(ExpressionProblem, match="unknown name 'case_days'"):
        compile_("case_days > 1")
