"""Writes a process diagram as SVG in pure Python (no Graphviz needed).

Owns the drawing: boxes for states (a double border for a terminal one), solid arrows for steps,
dashed ones for timers, a state's escalations listed in its box, and, for a diagram with changes
marked, new parts in green, changed ones in orange and a list of what was removed. The geometry
comes from `engine/language/layered_layout.py`; what to draw from `engine/language/diagram.py`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from engine.language.layered_layout import Arrow, Box, Layout, layout

FONT = 12.0
"""Font size of the text, in pixels."""
CHAR = 0.6 * FONT
"""A generous average character width (Helvetica averages about 0.55 em)."""
LINE = 1.35 * FONT
PAD = 8.0
COLOURS = {None: "#333333", "added": "#1a7f37", "changed": "#b35900"}
"""Black for what is unchanged; green for new; orange for changed (readable when printed)."""
WORDS = {"added": "new", "changed": "changed"}


@dataclass(frozen=True)
class Text:
    """A line of text and whether it is new or changed ("added", "changed" or None)."""

    text: str
    mark: str | None = None
    bold: bool = False


@dataclass(frozen=True)
class StateBox:
    """A state as drawn: its id, its lines, whether it is terminal, and its mark."""

    id: str
    lines: tuple[Text, ...]
    terminal: bool = False
    mark: str | None = None
    anywhere: bool = False
    """The box of steps that may be taken from any open stage (drawn dashed, not a state)."""


@dataclass(frozen=True)
class Edge:
    """An arrow between two states: its lines of label, and whether it is a timer's (dashed)."""

    source: str
    dest: str
    lines: tuple[Text, ...]
    dashed: bool = False
    mark: str | None = None


@dataclass(frozen=True)
class Drawing:
    """Everything one SVG shows."""

    title: str
    initial: str
    states: tuple[StateBox, ...]
    edges: tuple[Edge, ...]
    notes: tuple[Text, ...] = field(default_factory=tuple)
    """Lines under the drawing: the key to the colours and what was removed."""


START = "\0start"


def render_svg(drawing: Drawing) -> str:
    """The drawing as a standalone SVG document."""
    boxes = [Box(START, 14.0, 14.0)] + [
        Box(s.id, _width(s.lines) + 2 * PAD, len(s.lines) * LINE + 2 * PAD) for s in drawing.states
    ]
    arrows = [Arrow(START, drawing.initial)] + [
        Arrow(e.source, e.dest, _width(e.lines) + PAD, len(e.lines) * LINE) for e in drawing.edges
    ]
    placed = layout(boxes, arrows, first=START)
    top = 2 * LINE
    notes_height = len(drawing.notes) * LINE + (PAD if drawing.notes else 0)
    width = max(
        placed.width,
        _width((Text(drawing.title, bold=True),)) + 2 * PAD,
        _width(drawing.notes) + 2 * PAD,
    )
    height = top + placed.height + notes_height
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="{FONT:.0f}">',
        f"<title>{escape(drawing.title)}</title>",
        "<defs>",
        *(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
            for name, colour in _marker_colours()
        ),
        "</defs>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{PAD}" y="{LINE + 2:.1f}" font-weight="bold">{escape(drawing.title)}</text>',
        f'<g transform="translate(0,{top:.1f})">',
    ]
    out += _edges(placed, drawing)
    out += _loops(placed, drawing)
    out += _states(placed, drawing)
    out.append("</g>")
    y = top + placed.height
    for note in drawing.notes:
        y += LINE
        out.append(_text(PAD, y, note))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _marker_colours() -> list[tuple[str, str]]:
    return [(str(mark or "plain"), colour) for mark, colour in COLOURS.items()]


def _width(lines: tuple[Text, ...]) -> float:
    return max((len(t.text) * CHAR * (1.08 if t.bold else 1.0) for t in lines), default=0.0)


def _text(x: float, y: float, line: Text, *, anchor: str = "start") -> str:
    weight = ' font-weight="bold"' if line.bold or line.mark else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{COLOURS[line.mark]}"'
        f"{weight}>{escape(line.text)}</text>"
    )


def _states(placed: Layout, drawing: Drawing) -> list[str]:
    start = placed.boxes[START]
    out = [
        f'<circle class="start" cx="{start.x:.1f}" cy="{start.y:.1f}" r="{start.width / 2:.1f}" '
        f'fill="{COLOURS[None]}"/>'
    ]
    for state in drawing.states:
        box = placed.boxes[state.id]
        left, top = box.x - box.width / 2, box.y - box.height / 2
        colour = COLOURS[state.mark]
        stroke = 2.5 if state.mark else 1.2
        kind = "anywhere" if state.anywhere else "state"
        dash = ' stroke-dasharray="4,3"' if state.anywhere else ""
        out.append(f'<g class="{kind}" id={quoteattr(f"{kind}-{state.id}")}>')
        out.append(f"<title>{escape(state.id)}</title>")
        out.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
            f'rx="8" fill="white" stroke="{colour}" stroke-width="{stroke}"{dash}/>'
        )
        if state.terminal:
            out.append(
                f'<rect x="{left + 3:.1f}" y="{top + 3:.1f}" width="{box.width - 6:.1f}" '
                f'height="{box.height - 6:.1f}" rx="6" fill="none" stroke="{colour}"/>'
            )
        for i, line in enumerate(state.lines):
            y = top + PAD + (i + 0.8) * LINE
            out.append(_text(box.x, y, line, anchor="middle"))
        out.append("</g>")
    return out


def _edges(placed: Layout, drawing: Drawing) -> list[str]:
    out = []
    drawn = [e for e in drawing.edges if e.source != e.dest]
    for route, edge in zip(placed.routes, (None, *drawn), strict=True):
        colour = COLOURS[edge.mark if edge else None]
        marker = (edge.mark if edge else None) or "plain"
        dash = ' stroke-dasharray="6,4"' if edge is not None and edge.dashed else ""
        width = 2.0 if edge is not None and edge.mark else 1.2
        kind = "timer" if edge and edge.dashed else "step"
        out.append(
            f'<path class="{kind}" d="{_curve(route.points)}" '
            f'fill="none" stroke="{colour}" stroke-width="{width}"{dash} '
            f'marker-end="url(#arrow-{marker})"/>'
        )
        if edge is None or route.label is None:
            continue
        x, y = route.label
        left = x - route.arrow.label_width / 2 + PAD / 2
        first = y - route.arrow.label_height / 2
        for i, line in enumerate(edge.lines):
            out.append(_text(left, first + (i + 0.8) * LINE, line))
    return out


def _loops(placed: Layout, drawing: Drawing) -> list[str]:
    """A box's arrows to itself: one loop on its right, their labels beside it."""
    lines: dict[str, list[Edge]] = defaultdict(list)
    for edge in drawing.edges:
        if edge.source == edge.dest:
            lines[edge.source].append(edge)
    out = []
    for state_id, edges in lines.items():
        box = placed.boxes[state_id]
        right, top = box.x + box.width / 2, box.y - box.height / 4
        bottom = box.y + box.height / 4
        out.append(
            f'<path class="step" d="M{right:.1f},{top:.1f} C{right + 24:.1f},{top - 6:.1f} '
            f'{right + 24:.1f},{bottom + 6:.1f} {right:.1f},{bottom:.1f}" fill="none" '
            f'stroke="{COLOURS[None]}" stroke-width="1.2" marker-end="url(#arrow-plain)"/>'
        )
        texts = [t for e in edges for t in e.lines]
        first = box.y - len(texts) * LINE / 2
        for i, line in enumerate(texts):
            out.append(_text(right + 28, first + (i + 0.8) * LINE, line))
    return out


def _curve(points: list[tuple[float, float]]) -> str:
    """A smooth path through the points: each stretch leaves and arrives vertically."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        middle = (y0 + y1) / 2
        parts.append(f"C{x0:.1f},{middle:.1f} {x1:.1f},{middle:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(parts)


__all__ = ["COLOURS", "Drawing", "Edge", "StateBox", "Text", "render_svg"]
