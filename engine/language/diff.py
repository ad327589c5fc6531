"""What changed between two versions of a process definition, in a policy owner's words.

Pure: compares two `ProcessDefinition`s (no database, no cases), grouping each difference by area
(states, days, checks, timers, guards, triggers, roles, facts, actions, wording) so `cme process
diff` can show behaviour changes apart from rewording. What a window generates
(`engine/language/windows.py`) is shown once, as the change of its day, not as every field of
every generated timer; a check that takes its stage's window moves with the stage, unlisted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.language.definition import ProcessDefinition, TimerDefinition
from engine.language.windows import CheckEscalation, GeneratedStart

AREAS = (
    "applies",
    "states",
    "days",
    "checks",
    "timers",
    "guards",
    "triggers",
    "roles",
    "facts",
    "actions",
    "choices",
    "wording",
)
"""The groups a diff is shown in, in order ("choices": the LA's own choices and their switches)."""


@dataclass(frozen=True)
class Change:
    """One difference between two versions, in words."""

    area: str
    where: str
    what: str
    path: tuple[str, ...] = field(default=(), compare=False)
    """Where in the definition it is, e.g. ("states", "checks", "timers", "t1", "day")."""
    kind: str = field(default="changed", compare=False)
    """"added", "removed" or "changed"."""

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


def diff_definitions(old: ProcessDefinition, new: ProcessDefinition) -> list[Change]:
    """Every difference from `old` to `new`, grouped by area (states, days, checks, guards …)."""
    changes = [
        _describe(path, before, after)
        for path, before, after in _diff(_shape(old), _shape(new), ())
        if path != ("version",)
    ]
    changes += _generated_changes(old, new)
    order = {a: i for i, a in enumerate(AREAS)}
    return sorted(changes, key=lambda c: order[c.area])


def _shape(definition: ProcessDefinition) -> dict[str, Any]:
    """The definition as nested dicts, lists of things with ids keyed by id, guards by expr."""
    data = definition.model_dump(mode="json", exclude_none=True, by_alias=True)
    for trig in data["triggers"]:
        trig["guards"] = {g["expr"]: g["says"] for g in trig.get("guards", [])}
    data["triggers"] = {t["id"]: t for t in data["triggers"]}
    for name, state in data["states"].items():
        state["checklist"] = {c["id"]: c for c in state.get("checklist", [])}
        for check in state["checklist"].values():
            if "days" in check and check["days"] == state.get("days"):
                del check["days"]  # its stage's window: a change shows once, on the stage
        generated = {t.id for t in _generated(definition, name)}
        timers = [t for t in state.get("timers", []) if t["id"] not in generated]
        for timer in timers:
            timer["when"] = {c["expr"]: c["says"] for c in timer.get("when", [])}
        state["timers"] = {t["id"]: t for t in timers}
    return data


def _generated(definition: ProcessDefinition, state: str) -> list[TimerDefinition]:
    """The timers a state's windows generate (in a definition as the engine runs it)."""
    return [
        t
        for t in definition.states[state].timers
        if isinstance(t, GeneratedStart | CheckEscalation)
    ]


def _generated_changes(old: ProcessDefinition, new: ProcessDefinition) -> list[Change]:
    """Generated timers added, dropped, or due on another day: one line each."""
    before = {(s, t.id): t for s in old.states for t in _generated(old, s)}
    after = {(s, t.id): t for s in new.states for t in _generated(new, s)}
    out = []
    for key in list(before) + [k for k in after if k not in before]:
        was, now = before.get(key), after.get(key)
        state, timer_id = key
        where = f"state {state}, timer {timer_id} (from the window)"
        path = ("states", state, "timers", timer_id)
        if was is None and now is not None:
            out.append(Change("timers", where, f"added: Day {now.day}", path, "added"))
        elif now is None and was is not None:
            out.append(Change("timers", where, f"removed (was Day {was.day})", path, "removed"))
        elif was is not None and now is not None:
            if was.day != now.day:
                out.append(Change("days", where, f"day: {was.day} → {now.day}", (*path, "day")))
            role = (
                was.escalate.to_role if was.escalate else None,
                now.escalate.to_role if now.escalate else None,
            )
            if role[0] != role[1]:
                out.append(
                    Change("timers", where, f"escalate to: {role[0]} → {role[1]}", (*path, "to"))
                )
    return out


_ABSENT = object()
Path = tuple[str, ...]


def _diff(old: Any, new: Any, path: Path) -> Iterable[tuple[Path, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict) and not _window(old) | _window(new):
        for key in list(old) + [k for k in new if k not in old]:
            yield from _diff(old.get(key, _ABSENT), new.get(key, _ABSENT), (*path, str(key)))
    elif old != new:
        yield path, old, new


def _window(value: dict[str, Any]) -> bool:
    """A day window ({first, last}): compared, and shown, whole ("Day 5–15 → Day 4–15")."""
    return set(value) == {"first", "last"}


_WORDING = frozenset({"title", "description", "note", "ref", "questions"})


def _area(path: Path) -> str:  # noqa: C901 (one branch per area of a definition a change can touch)
    head = path[0]
    if head in ("effective_from", "commencement", "applies"):
        return "applies"
    if head == "clock":
        return "days"
    if head == "la_choices":
        return "wording" if path[2:3] in (("says",), ("why",)) else "choices"
    # Titles, descriptions, notes and where a rule is cited from change no behaviour.
    cited = "source" in path and not (head == "triggers" and path[2:3] == ("source",))
    if cited or _WORDING & set(path) or head not in ("states", "triggers", "roles", "facts"):
        return "wording"
    if head in ("roles", "facts"):
        return head
    rest = path[2:]
    if head == "states":
        if not rest or rest[0] in ("terminal", "stops_clock"):
            return "states"
        if rest[0] == "days":
            return "days"
        if rest[0] in ("checklist", "timers"):
            if len(rest) > 2 and rest[2] in ("days", "day", "weeks", "unit", "counted_from"):
                return "days"
            return "checks" if rest[0] == "checklist" else "timers"
        return "actions" if rest[0] == "on_enter" else "states"
    if rest and rest[0] in ("guards", "roles", "actions"):
        return rest[0]
    return "triggers"


def _describe(path: Path, old: Any, new: Any) -> Change:
    change = _words(path, old, new)
    kind = "added" if old is _ABSENT else "removed" if new is _ABSENT else "changed"
    return Change(change.area, change.where, change.what, path, kind)


def _words(path: Path, old: Any, new: Any) -> Change:
    area = _area(path)
    what = {"states": "state", "triggers": "trigger", "roles": "role", "facts": "fact"}
    if path[0] in what and len(path) >= 2:
        where = f"{what[path[0]]} {path[1]}"
        rest = list(path[2:])
    elif path[0] == "applies":
        where, rest = "applies to", list(path[1:])
    elif path[0] == "la_choices" and len(path) >= 2:
        where, rest = f"LA choice {path[1]}", list(path[2:])
        switch = _switch(rest, new)
        if switch is not None:
            return Change(area, where, switch)
    else:
        where, rest = "", list(path)
    if rest and rest[0] in ("checklist", "timers") and len(rest) >= 2:
        where += f", {'check' if rest[0] == 'checklist' else 'timer'} {rest[1]}"
        rest = rest[2:]
    if rest and rest[0] in ("guards", "when") and len(rest) == 2:
        said = new if old is _ABSENT else old
        verb = "added" if old is _ABSENT else "removed" if new is _ABSENT else "now says"
        kind = "guard" if rest[0] == "guards" else "condition"
        expr = "" if said == rest[1] else f" ({rest[1]})"
        return Change(area, where, f"{kind} {verb}: {said}{expr}")
    label = " ".join(r.replace("_", " ") for r in rest)
    if old is _ABSENT:
        text = f"{label} added: {_show(new)}" if label else f"added ({_title(new)})"
    elif new is _ABSENT:
        text = f"{label} removed (was {_show(old)})" if label else f"removed ({_title(old)})"
    elif isinstance(old, list) and isinstance(new, list) and _hashable(old + new):
        gained = [x for x in new if x not in old]
        lost = [x for x in old if x not in new]
        parts = ([f"+ {', '.join(map(str, gained))}"] if gained else []) + (
            [f"- {', '.join(map(str, lost))}"] if lost else []
        )
        text = f"{label}: {'; '.join(parts) or 'reordered'}"
    else:
        text = f"{label}: {_show(old)} → {_show(new)}"
    return Change(area, where, text)


def _switch(rest: list[str], new: Any) -> str | None:
    """An LA choice switched on or off, or added switched off, in words (its rules come and go
    with it, listed under their own areas); None for any other change to a choice.
    """
    if rest == ["applies"] and isinstance(new, bool):
        return "switched on" if new else "switched off"
    if not rest and isinstance(new, dict) and new.get("applies") is False:
        return f"added, switched off ({_title(new)})"
    return None


def _hashable(values: list[Any]) -> bool:
    return all(isinstance(v, str | int | float | bool) for v in values)


def _title(value: Any) -> str:
    if isinstance(value, dict):
        return str(
            value.get("title")
            or value.get("wording")
            or value.get("says")
            or value.get("description")
            or ""
        )
    return _show(value)


def _show(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"first", "last"}:
        first, last = value["first"], value["last"]
        return f"Day {first}" if first == last else f"Day {first}–{last}"
    if isinstance(value, dict) and "title" in value:
        return str(value["title"])
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 100 else text[:97] + "..."


__all__ = ["AREAS", "Change", "diff_definitions"]
