"""The graph linter: each lint fixture gives its error in place; good processes lint clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.language.lint import LintIssue, edges, has_errors, lint
from engine.language.loader import load_process_file, load_process_text, process_files

FIXTURES = Path(__file__).parents[2] / "fixtures" / "processes"
LINT_FIXTURES = sorted((FIXTURES / "lint").glob("*.yaml"))
TINY = FIXTURES / "tiny.yaml"


def expectations(path: Path) -> list[tuple[int, int, str]]:
    header = path.read_text(encoding="utf-8").splitlines()[0]
    found = []
    for part in header.removeprefix("# expect: ").split(" | "):
        line, column, message = part.split(":", 2)
        found.append((int(line), int(column), message.strip()))
    return found


@pytest.mark.parametrize("path", LINT_FIXTURES, ids=lambda p: p.stem)
def test_lint_fixture_reports_its_error_in_place(path: Path) -> None:
    found = lint(load_process_file(path))  # validates: lint problems are not load errors
    rendered = [(i.line, i.column, f"{i.severity}: {i.message}") for i in found]
    for line, column, message in expectations(path):
        assert any((line, column) == (r[0], r[1]) and message in r[2] for r in rendered), (
            f"expected {line}:{column}: {message!r}; got {rendered}"
        )
    assert has_errors(found)
    assert len([i for i in found if i.severity == "error"]) == len(expectations(path)), rendered


def test_every_class_of_lint_error_has_a_fixture() -> None:
    assert {p.stem for p in LINT_FIXTURES} >= {
        "unreachable_state",
        "dead_end",
        "terminal_outgoing",
        "timer_not_by_timer",
        "timer_wrong_state",
        "timer_past_state_window",
        "timer_in_terminal",
        "check_window_outside_state",
        "timer_only_trigger_without_timer",
    }


@pytest.mark.parametrize("path", [FIXTURES / "appendix7.yaml", TINY], ids=lambda p: p.name)
def test_good_fixtures_lint_clean(path: Path) -> None:
    assert lint(load_process_file(path)) == []


@pytest.mark.parametrize("entry", process_files(), ids=lambda e: e.name)
def test_every_shipped_process_lints_clean(entry: object) -> None:
    found = lint(load_process_file(entry))  # type: ignore[arg-type]
    assert not has_errors(found), "\n".join(str(i) for i in found)


def test_interrupts_make_states_reachable_and_give_ways_out() -> None:
    loaded = load_process_file(FIXTURES / "appendix7.yaml")
    sources = {s for s, t, _ in edges(loaded.definition) if t == "contact_established"}
    assert "closure_decision" in sources
    assert "closed_untraceable" not in sources  # "*" never leaves a terminal state


def test_a_trap_with_no_way_to_a_terminal_state() -> None:
    text = TINY.read_text(encoding="utf-8") + (
        "  - {id: park, title: Park, source: [open], dest: parked, roles: [cme_officer],"
        " ref: Appendix 7}\n"
        "  - {id: poke, title: Poke, source: [parked], dest: parked_b, roles: [cme_officer],"
        " ref: Appendix 7}\n"
        "  - {id: prod, title: Prod, source: [parked_b], dest: parked, roles: [cme_officer],"
        " ref: Appendix 7}\n"
    )
    text = text.replace(
        "triggers:\n",
        "  parked: {title: Parked, description: x, ref: Appendix 7}\n"
        "  parked_b: {title: Parked B, description: x, ref: Appendix 7}\n"
        "triggers:\n",
    )
    found = lint(load_process_text(text, "trap.yaml"))
    messages = [i.message for i in found if i.severity == "error"]
    assert any("no terminal state can be reached from state 'parked'" in m for m in messages)
    assert any("no terminal state can be reached from state 'parked_b'" in m for m in messages)
    assert not any("'open'" in m for m in messages)


def test_constant_guard_is_a_warning() -> None:
    text = TINY.read_text(encoding="utf-8").replace(
        'guards: ["absence_days >= 20"]', "guards: [\"absence_days == '20'\"]"
    )
    found = lint(load_process_text(text, "w.yaml"))
    assert [i.severity for i in found] == ["warning"]
    assert "always false" in found[0].message
    assert str(found[0]).startswith("w.yaml:33:14: warning: guard")


def test_lint_issue_is_an_issue() -> None:
    issue = LintIssue("p.yaml", 3, 5, "m", severity="warning")
    assert (issue.path, issue.line, issue.column, issue.message) == ("p.yaml", 3, 5, "m")
    assert str(issue) == "p.yaml:3:5: warning: m"


def test_windows_going_back_in_time_are_a_warning() -> None:
    text = TINY.read_text(encoding="utf-8").replace(
        "triggers:\n",
        "  later: {title: Later, description: x, days: 30-40, ref: Appendix 7}\n"
        "triggers:\n"
        "  - {id: on, title: On, source: [open], dest: later, roles: [cme_officer], ref: A7}\n"
        "  - {id: back, title: Back, source: [later], dest: open, roles: [cme_officer], ref: A7}\n",
    )
    found = lint(load_process_text(text, "back.yaml"))
    assert [(i.severity, i.message.split(":")[0]) for i in found] == [
        ("warning", "trigger 'back' goes back in time")
    ]
