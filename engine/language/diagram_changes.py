"""What a diagram of a new version marks: states, steps and timers that are new or changed since
an earlier version, and what the new version removes (listed, since it cannot be drawn).

Pure: compares two `ProcessDefinition`s through `engine/language/diff.py` (states) and the arrows
and escalations `engine/language/diagram.py` would draw (steps and timers, generated ones too),
so a moved window marks its stage, its start timer and its escalations alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.language.definition import ProcessDefinition
from engine.language.diagram import diagram_edges, escalations
from engine.language.diff import diff_definitions

EdgeKey = tuple[str, str, str | None]
"""(source state, trigger, timer id or None) of an arrow."""


@dataclass(frozen=True)
class DiagramChanges:
    """Marks for a diagram of the new version ("added" or "changed"), and what it removes."""

    from_version: int
    to_version: int
    states: dict[str, str] = field(default_factory=dict)
    edges: dict[EdgeKey, str] = field(default_factory=dict)
    escalations: dict[tuple[str, str], str] = field(default_factory=dict)
    """(state, timer id) of escalations that are new or changed."""
    removed: list[str] = field(default_factory=list)
    """What the new version no longer has, in words (stages, steps, timers, checks)."""

    def key(self) -> list[str]:
        """The key to the marks and the list of what was removed, as lines under a drawing."""
        lines = [
            f"Changes from version {self.from_version} to version {self.to_version}: "
            "new in green, changed in orange."
        ]
        if self.removed:
            lines.append(f"Removed in version {self.to_version}:")
            lines += [f"  - {item}" for item in self.removed]
        else:
            lines.append(f"Nothing is removed in version {self.to_version}.")
        return lines


def diagram_changes(old: ProcessDefinition, new: ProcessDefinition) -> DiagramChanges:
    """Which parts of `new` a diagram marks as added or changed since `old`, and what it lost."""
    marks = DiagramChanges(from_version=old.version, to_version=new.version)
    changed_steps: set[str] = set()
    for change in diff_definitions(old, new):
        path = change.path
        if change.area == "wording" or len(path) < 2:
            continue
        if path[0] == "states":
            state = path[1]
            if len(path) == 2 and change.kind == "added":
                marks.states[state] = "added"
            elif len(path) == 2 and change.kind == "removed":
                marks.removed.append(f"stage {state} ({old.states[state].title})")
            else:
                marks.states.setdefault(state, "changed")
                if len(path) == 4 and path[2] == "checklist" and change.kind == "removed":
                    marks.removed.append(f"check {path[3]} (in stage {state})")
        elif path[0] == "triggers":
            changed_steps.add(path[1])
    _mark_edges(old, new, marks, changed_steps)
    _mark_escalations(old, new, marks)
    return marks


def _mark_edges(
    old: ProcessDefinition, new: ProcessDefinition, marks: DiagramChanges, steps: set[str]
) -> None:
    before = {(e.source, e.trigger, e.timer): e for e in diagram_edges(old)}
    after = {(e.source, e.trigger, e.timer): e for e in diagram_edges(new)}
    for key, edge in after.items():
        was = before.get(key)
        if was is None:
            marks.edges[key] = "added"
        elif (
            was.dest != edge.dest
            or was.label != edge.label
            or (edge.timer is None and edge.trigger in steps)
        ):
            marks.edges[key] = "changed"
    for key, edge in before.items():
        if key not in after:
            what = f"timer {edge.timer} ({edge.label})" if edge.timer else f"step {edge.trigger}"
            marks.removed.append(f"{what}: {edge.source} → {edge.dest}")


def _mark_escalations(
    old: ProcessDefinition, new: ProcessDefinition, marks: DiagramChanges
) -> None:
    before = dict(escalations(old))
    after = dict(escalations(new))
    for key, text in after.items():
        if key not in before:
            marks.escalations[key] = "added"
        elif before[key] != text:
            marks.escalations[key] = "changed"
    for (state, timer_id), text in before.items():
        if (state, timer_id) not in after:
            marks.removed.append(f"timer {timer_id} in {state} ({text})")


__all__ = ["DiagramChanges", "EdgeKey", "diagram_changes"]
