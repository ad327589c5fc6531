"""Diagrams: every state and every YAML transition appears, timers labelled with their day."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from engine.language.diagram import GraphvizMissing, diagram_edges, to_dot, to_mermaid, to_svg
from engine.language.lint import edges
from engine.language.loader import load_process_file, process_files

APPENDIX7 = Path(__file__).parents[2] / "fixtures" / "processes" / "appendix7.yaml"
MERMAID_EDGE = re.compile(r"^    (\w+) --> (\w+) : (\w+) \((.*)\)$")
MERMAID_TIMER = re.compile(
    r"^    (\w+) --> (\w+) : (Day \d+(?: in state)?|\d+ weeks?.*) \(timer (\w+)\)$"
)


@pytest.fixture(scope="module")
def mermaid() -> str:
    return to_mermaid(load_process_file(APPENDIX7).definition)


def test_mermaid_has_every_state(mermaid: str) -> None:
    defn = load_process_file(APPENDIX7).definition
    assert mermaid.startswith("stateDiagram-v2\n")
    declared = re.findall(r'^    state "[^"]*" as (\w+)$', mermaid, flags=re.M)
    assert declared == list(defn.states)
    assert '    state "Reasonable checks (Day 5–15)" as reasonable_checks' in mermaid
    assert f"    [*] --> {defn.initial}" in mermaid
    ends = re.findall(r"^    (\w+) --> \[\*\]$", mermaid, flags=re.M)
    assert ends == [n for n, s in defn.states.items() if s.terminal]


def test_mermaid_transitions_match_the_yaml(mermaid: str) -> None:
    defn = load_process_file(APPENDIX7).definition
    drawn = []
    for line in mermaid.splitlines():
        match = MERMAID_EDGE.match(line)
        if match and not MERMAID_TIMER.match(line):
            drawn.append((match.group(1), match.group(3), match.group(2)))
            trig = defn.trigger(match.group(3))
            assert trig is not None
            assert all(role in match.group(4) for role in trig.roles)
    assert sorted(drawn) == sorted(edges(defn))


def test_mermaid_draws_each_timer_with_its_day(mermaid: str) -> None:
    timers = {
        m.group(4): (m.group(1), m.group(2), m.group(3))
        for m in map(MERMAID_TIMER.match, mermaid.splitlines())
        if m
    }
    assert timers == {
        "start_checks_on_day_5": ("establishing_contact", "reasonable_checks", "Day 5"),
        "further_checks_on_day_16": ("reasonable_checks", "further_checks", "Day 16"),
        "closure_decision_on_day_26": ("further_checks", "closure_decision", "Day 26"),
    }
    assert "note right of closure_decision : Day 3 in state - escalate to line_manager" in mermaid


def test_interrupt_is_drawn_from_every_open_state(mermaid: str) -> None:
    sources = re.findall(
        r"^    (\w+) --> supporting_school_place : contact_established", mermaid, flags=re.M
    )
    assert sources == [
        "notification_received",
        "establishing_contact",
        "reasonable_checks",
        "further_checks",
        "closure_decision",
    ]


def test_dot_has_every_edge() -> None:
    defn = load_process_file(APPENDIX7).definition
    dot = to_dot(defn)
    assert dot.startswith('digraph "appendix7_untraceable v1" {')
    assert dot.rstrip().endswith("}")
    arrows = re.findall(r'^  "(\w+)" -> "(\w+)" \[label="([^"]*)"', dot, flags=re.M)
    assert len(arrows) == len(diagram_edges(defn))
    assert (
        "closure_decision",
        "closed_untraceable",
        "close_untraceable\\n(line_manager)",
    ) in arrows
    assert '"closed_untraceable" [label="Closed as untraceable", peripheries=2];' in dot


def test_dot_escapes_quotes() -> None:
    text = APPENDIX7.read_text("utf-8").replace(
        "title: Closed as untraceable", 'title: Closed as "untraceable"'
    )
    from engine.language.loader import load_process_text

    dot = to_dot(load_process_text(text, "q.yaml").definition)
    assert 'label="Closed as \\"untraceable\\""' in dot
    mermaid = to_mermaid(load_process_text(text, "q.yaml").definition)
    assert "state \"Closed as 'untraceable'\" as closed_untraceable" in mermaid


def test_svg_without_graphviz_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizMissing, match="Graphviz"):
        to_svg(load_process_file(APPENDIX7).definition)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_svg_with_graphviz() -> None:
    svg = to_svg(load_process_file(APPENDIX7).definition)
    assert "<svg" in svg
    assert "closure_decision" in svg


@pytest.mark.parametrize("entry", process_files(), ids=lambda e: e.name)
def test_shipped_processes_render(entry: object) -> None:
    defn = load_process_file(entry).definition  # type: ignore[arg-type]
    mermaid = to_mermaid(defn)
    for source, trigger, dest in edges(defn):
        assert f"    {source} --> {dest} : {trigger} (" in mermaid
