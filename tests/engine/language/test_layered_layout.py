"""The layered layout on any small graph (cycles, loops, long arrows): no two boxes or labels
overlap, every arrow runs from its source's edge to its dest's, and all of it lies inside the
drawing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.language.layered_layout import Arrow, Box, Layout, layout

Rect = tuple[float, float, float, float]
"""left, top, right, bottom"""


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[Box], list[Arrow]]:
    count = draw(st.integers(min_value=1, max_value=10))
    boxes = [
        Box(
            f"s{i}",
            draw(st.floats(min_value=10, max_value=300)),
            draw(st.floats(min_value=10, max_value=120)),
        )
        for i in range(count)
    ]
    pairs = st.tuples(st.integers(0, count - 1), st.integers(0, count - 1))
    arrows = [
        Arrow(f"s{a}", f"s{b}", draw(st.sampled_from([0.0, 40.0, 180.0])), 16.0)
        for a, b in draw(st.lists(pairs, max_size=20))
    ]
    return boxes, [
        Arrow(a.source, a.dest, a.label_width, a.label_height if a.label_width else 0)
        for a in arrows
    ]


def rects(placed: Layout) -> list[tuple[str, Rect]]:
    out = [
        (box_id, (b.x - b.width / 2, b.y - b.height / 2, b.x + b.width / 2, b.y + b.height / 2))
        for box_id, b in placed.boxes.items()
    ]
    for route in placed.routes:
        if route.label is not None:
            x, y = route.label
            w, h = route.arrow.label_width, route.arrow.label_height
            out.append((f"label {route.arrow}", (x - w / 2, y - h / 2, x + w / 2, y + h / 2)))
    return out


def overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] - 0.01 and b[0] < a[2] - 0.01 and a[1] < b[3] - 0.01 and b[1] < a[3] - 0.01


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_nothing_overlaps_and_every_arrow_joins_its_boxes(
    graph: tuple[list[Box], list[Arrow]],
) -> None:
    boxes, arrows = graph
    placed = layout(boxes, arrows)
    shapes = rects(placed)
    for i, (name_a, a) in enumerate(shapes):
        assert min(a[0], a[1]) >= 0, name_a
        assert a[2] <= placed.width, name_a
        assert a[3] <= placed.height, name_a
        for name_b, b in shapes[i + 1 :]:
            assert not overlap(a, b), (name_a, name_b)
    drawn = [a for a in arrows if a.source != a.dest]
    assert [r.arrow for r in placed.routes] == drawn
    for route in placed.routes:
        ends = {route.points[0], route.points[-1]}
        for box_id in (route.arrow.source, route.arrow.dest):
            box = placed.boxes[box_id]
            on_edge = {(box.x, box.y - box.height / 2), (box.x, box.y + box.height / 2)}
            assert ends & on_edge, (route.arrow, route.points)
    assert sum(len(v) for v in placed.loops.values()) == len(arrows) - len(drawn)
