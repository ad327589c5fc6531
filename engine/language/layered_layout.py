"""A layered (Sugiyama-style) layout of a small directed graph, in pure Python.

Owns the geometry only: which layer each box goes in, their order and positions, and the points
each arrow passes through, with room kept for its label (a label rides on a point of its own, as
Graphviz's `dot` does, so labels and boxes never overlap). Knows nothing of processes or of SVG
(`engine/language/svg.py` draws the result). Written by hand rather than taken from a library: the
graphs are a few dozen boxes, and on PyPI the layered layouts are either bindings to Graphviz
(pydot, pygraphviz: the system program this avoids), or pure Python but unmaintained and copyleft
(grandalf: last released January 2023, GPL-2.0 or EPL-1.0), or young single-author projects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

LAYER_GAP = 28.0
"""Vertical space between consecutive ranks (boxes on even ranks, labels on odd ones)."""
NODE_GAP = 24.0
"""Horizontal space between neighbouring boxes or labels in a rank."""
POINT_WIDTH = 12.0
"""Width of the point an arrow passes through where it has no label."""
SWEEPS = 8
"""Rounds of ordering by barycentre (the graphs are small: this settles them)."""


@dataclass(frozen=True)
class Box:
    """Something to place: a state, or the start point."""

    id: str
    width: float
    height: float


@dataclass(frozen=True)
class Arrow:
    """An arrow from one box to another, with the size of its label (0 × 0: no label)."""

    source: str
    dest: str
    label_width: float = 0.0
    label_height: float = 0.0


@dataclass
class Placed:
    """Where a box or a point went: its centre and size."""

    x: float
    y: float
    width: float
    height: float


@dataclass
class Route:
    """The points an arrow passes through, from its source's edge to its dest's, and the centre
    of its label (None for an arrow without one or a box to itself).
    """

    arrow: Arrow
    points: list[tuple[float, float]]
    label: tuple[float, float] | None


@dataclass
class Layout:
    """The whole drawing: boxes by id, routes in the order the arrows were given, its size."""

    boxes: dict[str, Placed]
    routes: list[Route]
    width: float
    height: float
    loops: dict[str, list[Arrow]] = field(default_factory=dict)
    """Arrows from a box back to itself, by box (drawn beside it, room kept on its right)."""


@dataclass
class _Node:
    id: str
    width: float
    height: float
    rank: int = 0
    x: float = 0.0
    real: bool = True
    offset: float = 0.0
    """Where the box's centre is from the node's (left of it, for a box with loops)."""
    box_height: float = 0.0
    """The box's own height (the node may be taller, to fit its loops' labels)."""


def layout(boxes: list[Box], arrows: list[Arrow], *, first: str | None = None) -> Layout:
    """Place `boxes` top to bottom along `arrows`, starting from `first` (default: the first).

    Cycles are broken by turning back the arrows that close them (found depth-first from
    `first`, in the order given); an arrow spanning several ranks passes through a point on
    each, and its label sits on the middle one.
    """
    nodes = {b.id: _Node(b.id, b.width, b.height, box_height=b.height) for b in boxes}
    loops: dict[str, list[Arrow]] = defaultdict(list)
    edges: list[Arrow] = []
    for arrow in arrows:
        if arrow.source == arrow.dest:
            loops[arrow.source].append(arrow)
        else:
            edges.append(arrow)
    for box_id, own in loops.items():
        # Room on the right of the box for its loop and the loop's labels.
        extra = 20.0 + max(a.label_width for a in own)
        nodes[box_id].width += extra
        nodes[box_id].offset = -extra / 2
        nodes[box_id].height = max(nodes[box_id].height, sum(a.label_height for a in own))
    order = [b.id for b in boxes]
    back = _back_edges(order, edges, first or (order[0] if order else None))
    forward = [(a.dest, a.source) if i in back else (a.source, a.dest) for i, a in enumerate(edges)]
    _rank(nodes, order, forward)
    chains = _chains(nodes, edges, forward)
    ranks = _order(nodes, chains)
    _place_x(nodes, ranks, chains)
    heights = _place_y(nodes, ranks)
    routes = [_route(nodes, edges[i], chains[i], i in back, heights) for i in range(len(edges))]
    width = max((n.x + n.width / 2 for n in nodes.values()), default=0.0) + NODE_GAP
    height = sum(heights) + LAYER_GAP * (len(heights) + 1)
    placed = {
        b.id: Placed(
            nodes[b.id].x + nodes[b.id].offset,
            _y(heights, nodes[b.id].rank),
            b.width,
            b.height,
        )
        for b in boxes
    }
    return Layout(placed, routes, width, height, dict(loops))


def _back_edges(order: list[str], edges: list[Arrow], first: str | None) -> set[int]:
    """Indexes of the arrows that close a cycle, found depth-first from `first`."""
    out: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for i, a in enumerate(edges):
        out[a.source].append((i, a.dest))
    seen: set[str] = set()
    on_path: set[str] = set()
    back: set[int] = set()
    starts = ([first] if first else []) + order
    for start in starts:
        if start in seen:
            continue
        # An explicit stack keeps deep graphs off Python's recursion limit.
        stack: list[tuple[str, int]] = [(start, 0)]
        seen.add(start)
        on_path.add(start)
        while stack:
            node, i = stack[-1]
            if i < len(out[node]):
                stack[-1] = (node, i + 1)
                index, dest = out[node][i]
                if dest in on_path:
                    back.add(index)
                elif dest not in seen:
                    seen.add(dest)
                    on_path.add(dest)
                    stack.append((dest, 0))
            else:
                on_path.discard(node)
                stack.pop()
    return back


def _rank(nodes: dict[str, _Node], order: list[str], forward: list[tuple[str, str]]) -> None:
    """Longest path from the top: each box one layer (two ranks) below its lowest source."""
    incoming: dict[str, list[str]] = defaultdict(list)
    outgoing: dict[str, list[str]] = defaultdict(list)
    for source, dest in forward:
        incoming[dest].append(source)
        outgoing[source].append(dest)
    waiting = {n: len(incoming[n]) for n in order}
    ready = [n for n in order if waiting[n] == 0]
    while ready:
        node = ready.pop(0)
        for dest in outgoing[node]:
            nodes[dest].rank = max(nodes[dest].rank, nodes[node].rank + 2)
            waiting[dest] -= 1
            if waiting[dest] == 0:
                ready.append(dest)


def _chains(
    nodes: dict[str, _Node], edges: list[Arrow], forward: list[tuple[str, str]]
) -> list[list[str]]:
    """For each arrow, the node ids it passes through top to bottom (points added as needed)."""
    chains = []
    for i, (top, bottom) in enumerate(forward):
        arrow = edges[i]
        first, last = nodes[top].rank, nodes[bottom].rank
        middle = (first + last) // 2 if (first + last) % 2 else (first + last) // 2 - 1
        middle = max(middle, first + 1)
        chain = [top]
        for rank in range(first + 1, last):
            labelled = rank == middle and arrow.label_width > 0
            point = _Node(
                f"\0{i}:{rank}",
                arrow.label_width if labelled else POINT_WIDTH,
                arrow.label_height if labelled else 0.0,
                rank,
                real=False,
            )
            nodes[point.id] = point
            chain.append(point.id)
        chain.append(bottom)
        chains.append(chain)
    return chains


def _order(nodes: dict[str, _Node], chains: list[list[str]]) -> list[list[str]]:
    """Nodes of each rank, left to right, by repeated barycentre sweeps down and up."""
    top = max((n.rank for n in nodes.values()), default=0)
    ranks: list[list[str]] = [[] for _ in range(top + 1)]
    for node in nodes.values():
        ranks[node.rank].append(node.id)
    above: dict[str, list[str]] = defaultdict(list)
    below: dict[str, list[str]] = defaultdict(list)
    for chain in chains:
        for upper, lower in zip(chain, chain[1:], strict=False):
            above[lower].append(upper)
            below[upper].append(lower)
    position = {n: i for rank in ranks for i, n in enumerate(rank)}
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        sequence = range(1, len(ranks)) if down else range(len(ranks) - 2, -1, -1)
        for r in sequence:
            neighbours = above if down else below

            def centre(node: str, neighbours: dict[str, list[str]] = neighbours) -> float:
                linked = neighbours[node]
                if not linked:
                    return float(position[node])
                return sum(position[n] for n in linked) / len(linked)

            ranks[r].sort(key=lambda n: (centre(n), position[n]))
            for i, node_id in enumerate(ranks[r]):
                position[node_id] = i
    return ranks


def _place_x(nodes: dict[str, _Node], ranks: list[list[str]], chains: list[list[str]]) -> None:
    """Left to right in each rank, then nudged towards the centre of what each links to."""
    linked: dict[str, list[str]] = defaultdict(list)
    for chain in chains:
        for a, b in zip(chain, chain[1:], strict=False):
            linked[a].append(b)
            linked[b].append(a)
    for rank in ranks:
        x = NODE_GAP
        for node_id in rank:
            node = nodes[node_id]
            node.x = x + node.width / 2
            x += node.width + NODE_GAP
    for _ in range(SWEEPS):
        for rank in ranks:
            wanted = [
                sum(nodes[n].x for n in linked[node_id]) / len(linked[node_id])
                if linked[node_id]
                else nodes[node_id].x
                for node_id in rank
            ]
            _settle([nodes[n] for n in rank], wanted)
    left = min((n.x - n.width / 2 for n in nodes.values()), default=NODE_GAP)
    for node in nodes.values():
        node.x += NODE_GAP - left


def _settle(row: list[_Node], wanted: list[float]) -> None:
    """Move each node of a rank towards its wanted x, keeping their order and the gaps."""
    for node, x in zip(row, wanted, strict=True):
        node.x = x
    for left, right in zip(row, row[1:], strict=False):
        right.x = max(right.x, left.x + (left.width + right.width) / 2 + NODE_GAP)
    # Pushed right as a block: move the block back so it is centred on what it wanted.
    if row:
        shift = (sum(wanted) - sum(n.x for n in row)) / len(row)
        for node in row:
            node.x += shift


def _place_y(nodes: dict[str, _Node], ranks: list[list[str]]) -> list[float]:
    """The height of each rank (its tallest box or label)."""
    return [max((nodes[n].height for n in rank), default=0.0) for rank in ranks]


def _y(heights: list[float], rank: int) -> float:
    """The centre line of a rank."""
    return LAYER_GAP * (rank + 1) + sum(heights[:rank]) + heights[rank] / 2


def _route(
    nodes: dict[str, _Node], arrow: Arrow, chain: list[str], reversed_: bool, heights: list[float]
) -> Route:
    top, bottom = nodes[chain[0]], nodes[chain[-1]]
    points = [(top.x + top.offset, _y(heights, top.rank) + top.box_height / 2)]
    label = None
    for node_id in chain[1:-1]:
        node = nodes[node_id]
        y = _y(heights, node.rank)
        if node.height > 0:
            label = (node.x, y)
            # Pass along the label's left edge, so the text sits beside the line.
            points.append((node.x - node.width / 2, y - node.height / 2))
            points.append((node.x - node.width / 2, y + node.height / 2))
        else:
            points.append((node.x, y))
    points.append((bottom.x + bottom.offset, _y(heights, bottom.rank) - bottom.box_height / 2))
    if reversed_:
        points.reverse()
    return Route(arrow, points, label)


__all__ = ["Arrow", "Box", "Layout", "Placed", "Route", "layout"]
