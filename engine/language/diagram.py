"""Draws a process definition as a flowchart: Mermaid, Graphviz DOT, and SVG through `dot`.

Owns the rendering only. Every YAML transition is drawn: a "*" interrupt becomes one edge from
each non-terminal state, a timer that fires a trigger becomes a dashed edge labelled with its day,
and an escalation becomes a note on its state. Does not own checking the graph (`lint.py`).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from engine.errors import CMEError
from engine.language.definition import ProcessDefinition, TimerDefinition


class GraphvizMissing(CMEError):
    """SVG needs Graphviz's `dot`, which is not installed here."""


@dataclass(frozen=True)
class DiagramEdge:
    """One arrow of the flowchart."""

    source: str
    dest: str
    label: str
    trigger: str
    timer: str | None = None
    """Set for an arrow drawn for a timer (labelled with its day)."""


def diagram_edges(defn: ProcessDefinition) -> list[DiagramEdge]:
    """Every arrow: one per (trigger, source state), then one per timer that fires a trigger."""
    found = []
    for trig in defn.triggers:
        who = ", ".join(trig.roles) if trig.roles else "timer only"
        if trig.roles and trig.by_timer:
            who += ", or timer"
        for source in defn.source_states(trig):
            found.append(
                DiagramEdge(source, defn.dest_of(trig, source), f"{trig.id} ({who})", trig.id)
            )
    for name, state in defn.states.items():
        for timer in state.timers:
            fired = defn.trigger(timer.fire) if timer.fire else None
            if fired is not None:
                label = f"{timer_when(timer)} (timer {timer.id})"
                found.append(
                    DiagramEdge(name, defn.dest_of(fired, name), label, fired.id, timer.id)
                )
    return found


def timer_when(timer: TimerDefinition) -> str:
    """When a timer is due, in words: "Day 26", "Day 3 in state", "8 weeks"."""
    if timer.weeks is not None:
        when = f"{timer.weeks} week{'s' if timer.weeks != 1 else ''}"
    else:
        when = f"Day {timer.day}"
        if timer.unit is not None:
            when += f" ({timer.unit.value.replace('_', ' ')})"
    if timer.counted_from == "state":
        when += " in state"
    return when


def to_mermaid(defn: ProcessDefinition) -> str:
    """A Mermaid `stateDiagram-v2` of the process (paste into Markdown, or mermaid.live)."""
    lines = ["stateDiagram-v2", f"    %% {defn.id} version {defn.version}: {_mm(defn.title)}"]
    for name, state in defn.states.items():
        title = _mm(state.title) + (f" ({state.days})" if state.days else "")
        lines.append(f'    state "{title}" as {name}')
    lines.append(f"    [*] --> {defn.initial}")
    for edge in diagram_edges(defn):
        lines.append(f"    {edge.source} --> {edge.dest} : {_mm(edge.label)}")
    for name, state in defn.states.items():
        if state.terminal:
            lines.append(f"    {name} --> [*]")
        for timer in state.timers:
            if timer.escalate is not None:
                lines.append(
                    f"    note right of {name} : {_mm(timer_when(timer))} - escalate to "
                    f"{timer.escalate.to_role}"
                )
    return "\n".join(lines) + "\n"


def to_dot(defn: ProcessDefinition) -> str:
    """A Graphviz DOT digraph of the process (`dot -Tsvg` renders it)."""
    lines = [
        f"digraph {_q(f'{defn.id} v{defn.version}')} {{",
        f"  label={_q(f'{defn.title} (version {defn.version})')};",
        "  labelloc=t;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        "  __start [shape=point, width=0.15];",
    ]
    for name, state in defn.states.items():
        label = state.title + (f"\n{state.days}" if state.days else "")
        extra = ", peripheries=2" if state.terminal else ""
        lines.append(f"  {_q(name)} [label={_q(label)}{extra}];")
    lines.append(f"  __start -> {_q(defn.initial)};")
    for edge in diagram_edges(defn):
        style = ", style=dashed" if edge.timer else ""
        label = edge.label.replace(" (", "\n(", 1) if not edge.timer else edge.label
        lines.append(f"  {_q(edge.source)} -> {_q(edge.dest)} [label={_q(label)}{style}];")
    for name, state in defn.states.items():
        for timer in state.timers:
            if timer.escalate is not None:
                note = f"__escalate_{timer.id}"
                text = f"{timer_when(timer)}: escalate to {timer.escalate.to_role}"
                lines.append(f"  {_q(note)} [shape=note, label={_q(text)}];")
                lines.append(f"  {_q(name)} -> {_q(note)} [style=dotted, arrowhead=none];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(defn: ProcessDefinition) -> str:
    """The process as SVG, drawn by Graphviz's `dot`; `GraphvizMissing` when it is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(
            "SVG needs Graphviz's `dot` program, which is not installed (e.g. `apt-get install "
            "graphviz`); `--format mermaid` or `--format dot` need nothing extra"
        )
    try:
        done = subprocess.run(
            [dot, "-Tsvg"],
            input=to_dot(defn),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphvizMissing(f"running {dot} failed: {exc}") from None
    if done.returncode != 0:
        raise GraphvizMissing(f"{dot} failed: {done.stderr.strip()}")
    return done.stdout


def _mm(text: str) -> str:
    """Text safe inside Mermaid labels: no quotes, semicolons, hashes or line breaks."""
    return (
        " ".join(text.split())
        .replace('"', "'")
        .replace(";", ",")
        .replace("#", "no. ")
        .replace("%%", "%")
    )


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
