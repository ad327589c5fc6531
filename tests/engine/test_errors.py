"""Errors carry the facts of the refusal as attributes, build their message from them, and have a
stable machine code."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from engine import errors
from engine.errors import (
    BackdatingRefused,
    CaseClosed,
    CaseNotFound,
    CMEError,
    ConcurrentUpdate,
    GuardFailed,
    Issue,
    MissingChecks,
    Refusal,
    RoleNotPermitted,
    TransitionNotAllowed,
    UnknownCheck,
    UnknownFact,
    UnknownStep,
    UnknownTrigger,
    VersionNotRaised,
    close_matches,
    suggest,
)


def test_every_error_has_its_own_stable_code() -> None:
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, CMEError) and c is not CMEError
    ]
    codes = {c: c.code for c in classes}
    assert all(code != "error" for code in codes.values())
    unknown_names = {
        UnknownStep,
        UnknownCheck,
        UnknownFact,
        errors.UnknownTimer,
        errors.UnknownName,
    }
    # Unknown names share one code and say their kind; every other error has a code of its own.
    others = [code for c, code in codes.items() if c not in unknown_names]
    assert len(others) == len(set(others))
    assert {codes[c] for c in unknown_names} == {"unknown_name"}


def test_an_unknown_name_carries_its_suggestions() -> None:
    err = UnknownCheck(name="mash_chek", known=["mash_check", "zzz"], process="p")
    assert (err.kind, err.name, err.process) == ("check", "mash_chek", "p")
    assert err.suggestions == ["mash_check"]
    assert str(err) == "p has no check 'mash_chek'; did you mean 'mash_check'?"
    assert not isinstance(err, UnknownTrigger)  # an unknown check is not an unknown step
    assert UnknownTrigger is UnknownStep


def test_one_suggestion_helper() -> None:
    assert close_matches("contact_establish", ["contact_established", "x"]) == [
        "contact_established"
    ]
    assert suggest("zz", ["a", "b"], what="steps") == "; known steps: a, b"
    assert suggest("zz", [], what="steps") == "; no steps are declared"


def test_refusals_build_their_messages_from_their_facts() -> None:
    err = TransitionNotAllowed(
        case_id="C-1", step="close", stage="open", stage_title="Open", allowed=["a", "b"]
    )
    assert str(err) == "close cannot be taken from open (Open); from here: a, b"
    assert err.to_json() == {
        "error": "step_not_allowed",
        "message": str(err),
        "case_id": "C-1",
        "step": "close",
        "stage": "open",
        "allowed": ["a", "b"],
    }
    closed = CaseClosed("C-1", stage="placed", closed_on=dt.date(2024, 10, 23), doing="add x")
    assert isinstance(closed, TransitionNotAllowed)
    assert str(closed) == "case C-1 is closed (placed on 2024-10-23); cannot add x"
    assert closed.to_json()["closed_on"] == "2024-10-23"
    role = RoleNotPermitted(
        role="clerk",
        allowed={"line_manager": "Manager"},
        doing="take step close",
        step="close",
        step_title="Close",
    )
    assert (
        str(role) == "close (Close) may be taken only by Manager (line_manager); "
        "you are acting as clerk"
    )
    assert role.to_json()["allowed"] == {"line_manager": "Manager"}


def test_dates_guards_checks_and_conflicts_carry_their_values() -> None:
    back = BackdatingRefused(
        case_id="C-1", requested=dt.date(2024, 1, 1), latest=dt.date(2024, 1, 2)
    )
    assert back.to_json()["requested"] == "2024-01-01"
    assert "latest event took effect on 2024-01-02" in str(back)
    guard = GuardFailed(step="s", failed=["x > 1"], facts={"x": 0.0, "y": None, "z": True})
    assert str(guard) == "s refused: condition not met: x > 1 (x: 0; y: not recorded; z: yes)"
    worded = GuardFailed(step="s", failed=["a", "b"], facts={}, read=["x: no", ""])
    assert str(worded) == "s refused: condition not met: a (x: no); condition not met: b"
    checks = MissingChecks(step="s", missing={"a": "Check A."})
    assert (checks.missing, str(checks)) == (
        ["a"],
        "s needs these checks recorded first: a (Check A)",
    )
    conflict = ConcurrentUpdate(case_id="C-1", expected_seq=1, found_seq=2)
    assert (conflict.code, conflict.exit_code) == ("conflict", 3)
    assert "is at event 2, not 1" in str(conflict)
    version = VersionNotRaised(kind="calendar", name="london", version=2, path="f.yaml")
    assert "set `version: 3`" in str(version)


def test_a_refusal_holds_every_reason() -> None:
    one = CaseNotFound("C-1")
    assert one.to_json() == {"error": "unknown_case", "message": str(one), "case_id": "C-1"}
    reasons = [
        MissingChecks(step="s", missing={"a": "A."}),
        GuardFailed(step="s", failed=["x"], facts={}),
    ]
    err = Refusal.of(reasons)
    assert isinstance(err, Refusal)
    assert err.reasons == reasons
    assert [r["error"] for r in err.to_json()["reasons"]] == ["missing_checks", "guard_failed"]
    assert Refusal.of(reasons[:1]) is reasons[0]
    json.dumps(err.to_json())


def test_a_definition_error_lists_its_issues_as_data() -> None:
    err = errors.DefinitionError([Issue("f.yaml", 3, 1, "bad")])
    assert err.to_json()["issues"] == [{"path": "f.yaml", "line": 3, "column": 1, "message": "bad"}]
    with pytest.raises(CMEError):
        raise err
