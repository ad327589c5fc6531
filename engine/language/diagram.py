"""Draws a process definition as a flowchart: Mermaid, Graphviz DOT, and SVG.

Owns what is drawn. Every YAML transition is drawn: a "*" interrupt becomes one edge from each
non-terminal state, a timer that fires a trigger becomes a dashed edge labelled with its day, and
an escalation becomes a note on its state. Given the changes from an earlier version
(`engine/language/diagram_changes.py`), new parts are marked in green, changed ones in orange, and
what was removed is listed. SVG is drawn in pure Python (`engine/language/svg.py`); Graphviz's
`dot` is used only when asked for. Does not own checking the graph (`lint.py`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import CMEError
from engine.language.definition import ProcessDefinition, TimerDefinition
from engine.language.svg import COLOURS, Drawing, Edge, StateBox, Text, render_svg

if TYPE_CHECKING:
    from engine.language.diagram_changes import DiagramChanges

MARK_WORDS = {"added": "new", "changed": "changed"}
ANYWHERE = "any_open_stage"
"""The box the SVG draws steps from any open stage ("*") from (not a state id: ids are
lower-case words, and this one is reserved for the drawing)."""


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
    for name in defn.states:
        for timer in state_timers(defn, name):
            fired = defn.trigger(timer.fire) if timer.fire else None
            if fired is not None:
                label = f"{timer_when(timer)} (timer {timer.id})"
                found.append(
                    DiagramEdge(name, defn.dest_of(fired, name), label, fired.id, timer.id)
                )
    return found


def state_timers(defn: ProcessDefinition, state: str) -> list[TimerDefinition]:
    """The timers a case arms in `state`: those written in the YAML."""
    return list(defn.states[state].timers)


def escalations(defn: ProcessDefinition) -> list[tuple[tuple[str, str], str]]:
    """Each escalation timer as ((state, timer id), "Day 16: escalate to cme_officer")."""
    return [
        ((name, timer.id), f"{timer_when(timer)}: escalate to {timer.escalate.to_role}")
        for name in defn.states
        for timer in state_timers(defn, name)
        if timer.escalate is not None
    ]


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


def to_mermaid(defn: ProcessDefinition, changes: DiagramChanges | None = None) -> str:
    """A Mermaid `stateDiagram-v2` of the process (paste into Markdown, or mermaid.live)."""
    lines = ["stateDiagram-v2", f"    %% {defn.id} version {defn.version}: {_mm(defn.title)}"]
    for name, state in defn.states.items():
        title = _mm(state.title) + (f" ({state.days})" if state.days else "")
        lines.append(f'    state "{title}" as {name}')
    lines.append(f"    [*] --> {defn.initial}")
    for edge in diagram_edges(defn):
        mark = _edge_mark(changes, edge)
        lines.append(f"    {edge.source} --> {edge.dest} : {_mm(edge.label)}{_suffix(mark)}")
    for name, state in defn.states.items():
        if state.terminal:
            lines.append(f"    {name} --> [*]")
    for (name, timer_id), text in escalations(defn):
        mark = changes.escalations.get((name, timer_id)) if changes else None
        lines.append(f"    note right of {name} : {_mm(text.replace(':', ' -', 1))}{_suffix(mark)}")
    if changes is not None:
        lines.append("    classDef added stroke:#1a7f37,stroke-width:3px,color:#1a7f37")
        lines.append("    classDef changed stroke:#b35900,stroke-width:3px,color:#b35900")
        for name, mark in changes.states.items():
            if name in defn.states:
                lines.append(f"    class {name} {mark}")
        key = " / ".join(_mm(line.strip()) for line in changes.key())
        lines.append(f"    note left of {defn.initial} : {key}")
    return "\n".join(lines) + "\n"


def to_dot(defn: ProcessDefinition, changes: DiagramChanges | None = None) -> str:
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
        mark = changes.states.get(name) if changes else None
        if mark:
            label += f"\n({MARK_WORDS[mark]})"
            extra += f", color={_q(COLOURS[mark])}, fontcolor={_q(COLOURS[mark])}, penwidth=2.5"
        lines.append(f"  {_q(name)} [label={_q(label)}{extra}];")
    lines.append(f"  __start -> {_q(defn.initial)};")
    for edge in diagram_edges(defn):
        style = ", style=dashed" if edge.timer else ""
        label = edge.label.replace(" (", "\n(", 1) if not edge.timer else edge.label
        mark = _edge_mark(changes, edge)
        if mark:
            label += _suffix(mark)
            style += f", color={_q(COLOURS[mark])}, fontcolor={_q(COLOURS[mark])}, penwidth=2"
        lines.append(f"  {_q(edge.source)} -> {_q(edge.dest)} [label={_q(label)}{style}];")
    for (name, timer_id), text in escalations(defn):
        note = f"__escalate_{timer_id}"
        mark = changes.escalations.get((name, timer_id)) if changes else None
        extra = f", color={_q(COLOURS[mark])}, fontcolor={_q(COLOURS[mark])}" if mark else ""
        lines.append(f"  {_q(note)} [shape=note, label={_q(text + _suffix(mark))}{extra}];")
        lines.append(f"  {_q(name)} -> {_q(note)} [style=dotted, arrowhead=none];")
    if changes is not None:
        # DOT ends a left-aligned label line with a backslash-l, so each line is quoted alone.
        key = "".join(_q(line)[1:-1] + "\\l" for line in changes.key())
        lines.append(f'  __changes [shape=note, label="{key}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_drawing(defn: ProcessDefinition, changes: DiagramChanges | None = None) -> Drawing:
    """What the SVG shows: a box per state (its escalations listed in it), an arrow per pair of
    states with every step and timer between them as a line of its label, and the key.
    """
    notes: dict[str, list[Text]] = defaultdict(list)
    for (name, timer_id), text in escalations(defn):
        mark = changes.escalations.get((name, timer_id)) if changes else None
        notes[name].append(Text(f"{text} ({timer_id}){_suffix(mark)}", mark))
    states = []
    for name, state in defn.states.items():
        mark = changes.states.get(name) if changes else None
        lines = [
            Text(state.title, bold=True),
            Text(name + (f" · {state.days}" if state.days else "")),
        ]
        if mark:
            lines.append(Text(f"({MARK_WORDS[mark]} in version {defn.version})", mark))
        states.append(StateBox(name, tuple(lines + notes[name]), state.terminal, mark))
    # A step from any open stage ("*") is drawn once, from one box, not from every stage.
    anywhere = {t.id for t in defn.triggers if t.source == "*"}
    grouped: dict[tuple[str, str, bool], list[Text]] = defaultdict(list)
    stays: dict[str, Text] = {}
    for edge in diagram_edges(defn):
        mark = _edge_mark(changes, edge)
        line = Text(f"{edge.label}{_suffix(mark)}", mark)
        if edge.timer is None and edge.trigger in anywhere:
            trig = defn.trigger(edge.trigger)
            if trig is not None and trig.dest is None:
                stays[edge.trigger] = _stronger(stays.get(edge.trigger), line)
            elif trig is not None and trig.dest is not None:
                pair = (ANYWHERE, trig.dest, False)
                grouped[pair] = _merge(grouped[pair], line)
            continue
        grouped[(edge.source, edge.dest, edge.timer is not None)].append(line)
    if anywhere:
        lines = [Text("From any open stage", bold=True)]
        if stays:
            lines += [*stays.values(), Text("(the case stays in its stage)")]
        states.append(StateBox(ANYWHERE, tuple(lines), anywhere=True))
    edges = tuple(
        Edge(source, dest, tuple(texts), dashed, _strongest(texts))
        for (source, dest, dashed), texts in grouped.items()
    )
    title = f"{defn.title} ({defn.id}, version {defn.version})"
    key = tuple(Text(line) for line in changes.key()) if changes else ()
    return Drawing(title, defn.initial, tuple(states), edges, key)


def to_svg(
    defn: ProcessDefinition, changes: DiagramChanges | None = None, *, graphviz: bool = False
) -> str:
    """The process as SVG, drawn in pure Python; with `graphviz`, by Graphviz's `dot` instead
    (`GraphvizMissing` when it is not installed).
    """
    if not graphviz:
        return render_svg(to_drawing(defn, changes))
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(
            "--graphviz asks for Graphviz's `dot` program, which is not installed (e.g. "
            "`apt-get install graphviz`); without --graphviz the SVG is drawn without it"
        )
    try:
        done = subprocess.run(
            [dot, "-Tsvg"],
            input=to_dot(defn, changes),
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


def _edge_mark(changes: DiagramChanges | None, edge: DiagramEdge) -> str | None:
    return changes.edges.get((edge.source, edge.trigger, edge.timer)) if changes else None


def _suffix(mark: str | None) -> str:
    return f" ({MARK_WORDS[mark]})" if mark else ""


def _stronger(was: Text | None, text: Text) -> Text:
    """Of two lines for one step drawn once, the one with the stronger mark."""
    if was is None or _strongest([was, text]) == text.mark:
        return text
    return was


def _merge(texts: list[Text], text: Text) -> list[Text]:
    """`texts` with `text`, a step drawn once keeping the line with the stronger mark."""
    step = text.text.split(" ", 1)[0]
    for i, have in enumerate(texts):
        if have.text.split(" ", 1)[0] == step:
            return [*texts[:i], _stronger(have, text), *texts[i + 1 :]]
    return [*texts, text]


def _strongest(texts: list[Text]) -> str | None:
    marks = {t.mark for t in texts}
    return "added" if "added" in marks else "changed" if "changed" in marks else None


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
