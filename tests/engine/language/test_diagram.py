"""Diagrams: every state and every YAML transition appears, timers labelled with their day."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.language.diagram import (
    GraphvizMissing,
    diagram_edges,
    escalations,
    to_dot,
    to_mermaid,
    to_svg,
)
from engine.language.diagram_changes import diagram_changes
from engine.language.lint import edges
from engine.language.loader import load_process_file, process_files
from engine.language.svg import COLOURS

APPENDIX7 = Path(__file__).parents[2] / "fixtures" / "processes" / "appendix7.yaml"
VERSIONS = Path(__file__).parents[2] / "fixtures" / "versions"
SVG = "{http://www.w3.org/2000/svg}"
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
        "reasonable_checks_starts": ("establishing_contact", "reasonable_checks", "Day 5"),
        "further_checks_starts": ("reasonable_checks", "further_checks", "Day 16"),
        "closure_decision_starts": ("further_checks", "closure_decision", "Day 26"),
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


def test_graphviz_asked_for_but_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizMissing, match="Graphviz"):
        to_svg(load_process_file(APPENDIX7).definition, graphviz=True)


def no_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without Graphviz: no `dot`, and nothing may be run."""
    monkeypatch.setattr(shutil, "which", lambda name: None)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"ran a program: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)


def svg_texts(svg: str) -> tuple[ET.Element, list[str]]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root, [t.text or "" for t in root.iter(f"{SVG}text")]


def test_svg_is_drawn_without_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    no_graphviz(monkeypatch)
    defn = load_process_file(APPENDIX7).definition
    root, texts = svg_texts(to_svg(defn))
    drawn = {g.get("id") for g in root.iter(f"{SVG}g") if g.get("class") == "state"}
    assert drawn == {f"state-{name}" for name in defn.states}
    assert "Closed as untraceable" in texts
    for edge in diagram_edges(defn):
        assert edge.label in texts, edge
    assert "Day 16 (timer further_checks_starts)" in texts
    assert "Day 3 in state: escalate to line_manager (closure_decision_overdue)" in texts
    timers = [p for p in root.iter(f"{SVG}path") if p.get("class") == "timer"]
    assert timers
    assert all(p.get("stroke-dasharray") for p in timers)


@pytest.mark.parametrize("entry", process_files(), ids=lambda e: e.name)
def test_shipped_processes_draw_as_svg_with_every_state_step_and_timer(
    entry: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_graphviz(monkeypatch)
    defn = load_process_file(entry).definition  # type: ignore[arg-type]
    root, texts = svg_texts(to_svg(defn))
    drawn = {g.get("id") for g in root.iter(f"{SVG}g") if g.get("class") == "state"}
    assert drawn == {f"state-{name}" for name in defn.states}
    for edge in diagram_edges(defn):
        assert edge.label in texts, edge
    for (state, timer_id), text in escalations(defn):
        assert f"{text} ({timer_id})" in texts, (state, timer_id)
    boxes = [
        tuple(float(r.get(k) or 0) for k in ("x", "y", "width", "height"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "state"
        for r in g.iter(f"{SVG}rect")
    ]
    outer = [b for b in boxes if b[2] > 0]
    for i, a in enumerate(outer):
        for b in outer[i + 1 :]:
            inside = a[0] <= b[0] and b[0] + b[2] <= a[0] + a[2] and a[1] <= b[1]
            apart = (
                a[0] + a[2] <= b[0]
                or b[0] + b[2] <= a[0]
                or a[1] + a[3] <= b[1]
                or b[1] + b[3] <= a[1]
            )
            assert inside or apart, f"boxes overlap: {a} {b}"


def test_steps_from_any_open_stage_are_drawn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """untraceable_cme's interrupts ("*") come from one box, not from each of its open stages."""
    no_graphviz(monkeypatch)
    (entry,) = [e for e in process_files() if e.name == "untraceable_cme.yaml"]
    defn = load_process_file(entry).definition
    root, texts = svg_texts(to_svg(defn))
    (box,) = [g for g in root.iter(f"{SVG}g") if g.get("class") == "anywhere"]
    inside = [t.text for t in box.iter(f"{SVG}text")]
    assert inside[0] == "From any open stage"
    assert "refer_to_mash (cme_officer, line_manager)" in inside
    assert texts.count("refer_to_mash (cme_officer, line_manager)") == 1
    assert texts.count("child_left_the_country (cme_officer)") == 1
    open_stages = [n for n, s in defn.states.items() if not s.terminal]
    assert len(open_stages) > 5


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_svg_with_graphviz_when_asked() -> None:
    svg = to_svg(load_process_file(APPENDIX7).definition, graphviz=True)
    assert "<svg" in svg
    assert "closure_decision" in svg


def test_changes_from_an_earlier_version_are_marked_in_every_format() -> None:
    old = load_process_file(VERSIONS / "tracing_v1.yaml").definition
    new = load_process_file(VERSIONS / "tracing_v2.yaml").definition
    changes = diagram_changes(old, new)
    assert changes.states == {"contact": "changed", "checks": "changed"}
    assert changes.edges == {
        ("contact", "start_checks", "start_checks"): "changed",
        ("checks", "to_decision", None): "changed",
        ("decision", "close", None): "changed",
    }
    assert changes.escalations == {("checks", "letter_outstanding"): "changed"}
    assert changes.removed == [
        "stage on_hold (On hold)",
        "step hold: contact → on_hold",
        "step hold: checks → on_hold",
        "step to_decision: on_hold → decision",
    ]
    mermaid = to_mermaid(new, changes)
    assert "    contact --> checks : Day 6 (timer start_checks) (changed)" in mermaid
    assert "    class checks changed" in mermaid
    assert "stage on_hold (On hold)" in mermaid
    assert '"contact" [label="Establishing contact\\nDay 1–3\\n(changed)"' in to_dot(new, changes)
    root, texts = svg_texts(to_svg(new, changes))
    assert "Day 6 (timer start_checks) (changed)" in texts
    assert "(changed in version 2)" in texts
    assert "  - stage on_hold (On hold)" in texts
    orange = {t.text for t in root.iter(f"{SVG}text") if t.get("fill") == COLOURS["changed"]}
    assert "Day 12: escalate to line_manager (letter_outstanding) (changed)" in orange
    unmarked = {t.text for t in root.iter(f"{SVG}text") if t.get("fill") == COLOURS[None]}
    assert "Day 26 (timer decide)" in unmarked
    assert diagram_changes(new, new).key()[1] == "Nothing is removed in version 2."


def test_a_new_stage_and_step_are_marked_added() -> None:
    old = load_process_file(VERSIONS / "tracing_v2.yaml").definition
    new = load_process_file(VERSIONS / "tracing_v1.yaml").definition
    changes = diagram_changes(old, new)
    assert changes.states["on_hold"] == "added"
    assert changes.edges[("contact", "hold", None)] == "added"
    root, _ = svg_texts(to_svg(new, changes))
    on_hold = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "state-on_hold")
    assert next(on_hold.iter(f"{SVG}rect")).get("stroke") == COLOURS["added"]


@pytest.mark.parametrize("entry", process_files(), ids=lambda e: e.name)
def test_shipped_processes_render(entry: object) -> None:
    defn = load_process_file(entry).definition  # type: ignore[arg-type]
    mermaid = to_mermaid(defn)
    for source, trigger, dest in edges(defn):
        assert f"    {source} --> {dest} : {trigger} (" in mermaid
