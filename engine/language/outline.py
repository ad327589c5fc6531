"""The outline of a process version: the parts a person reads about a case.

Owns the stage titles, descriptions and checklists, and the steps out of each stage with who may
take them, as plain data stored as JSON beside each published version (`process_version.outline`).
Showing a case reads this instead of building the definition models (`definition.py`), so it
starts fast. Does not own rules (guards, timers, actions): those stay in the definition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

ESCALATE_CHECK = "escalate_check"
"""The stored action of a check's escalation (`windows.CheckEscalation`): unlike a stage's other
timers it is not cancelled when the case leaves the stage, only when its check is cleared. Here,
beside the outline, so reading a case (`cme due`) never loads the definition models."""

OUTLINE_FORMAT = 1
"""Raised when the stored shape changes; an outline of another format is rebuilt from the text."""


@dataclass(frozen=True)
class CheckOutline:
    """One check of a stage's checklist."""

    id: str
    wording: str
    channel: str | None
    first: int | None
    """First day of its window (None: no window)."""
    last: int | None
    required: bool

    @property
    def window(self) -> str | None:
        """The window as the policy writes it: "Day 5–15", "Day 26", or None."""
        if self.first is None or self.last is None:
            return None
        return f"Day {self.first}" if self.first == self.last else f"Day {self.first}–{self.last}"


@dataclass(frozen=True)
class StateOutline:
    """A stage: its title, what the officer does there, and its checklist."""

    id: str
    title: str
    description: str
    terminal: bool
    checklist: tuple[CheckOutline, ...]


@dataclass(frozen=True)
class StepOutline:
    """A step (trigger): its title, who may take it, and the stages it may be taken from."""

    id: str
    title: str
    roles: tuple[str, ...]
    sources: tuple[str, ...]
    """Every stage it may be taken from ("*" already expanded to the non-terminal stages)."""


@dataclass(frozen=True)
class CountOutline:
    """A derived fact: what the engine counts, and from which recorded dates (`cme case show`
    gives its value; the arithmetic is `engine/cases/derived.py`).
    """

    name: str
    count: str
    """school_days_between, school_days_after, months_between or age_on."""
    from_: str
    to: str | None
    days: int | None
    to_included: bool = False

    @property
    def sources(self) -> tuple[str, ...]:
        """The dates it is counted from, in order."""
        return (self.from_,) if self.to is None else (self.from_, self.to)


@dataclass(frozen=True)
class ProcessOutline:
    """What `cme case show`, `cme due` and the register print of a process version."""

    id: str
    version: int
    title: str
    states: dict[str, StateOutline]
    steps: tuple[StepOutline, ...]
    counts: tuple[CountOutline, ...] = ()
    """The facts the engine counts (stored only when there are some, so older outlines read)."""

    def steps_from(self, state: str) -> list[StepOutline]:
        """The steps a person may take from `state` (none from a terminal stage)."""
        if self.states[state].terminal:
            return []
        return [s for s in self.steps if state in s.sources and s.roles]

    def to_json(self) -> str:
        """The outline as stored: compact JSON tagged with its format."""
        return json.dumps(
            {
                "format": OUTLINE_FORMAT,
                "id": self.id,
                "version": self.version,
                "title": self.title,
                "states": {
                    sid: [
                        s.title,
                        s.description,
                        s.terminal,
                        [
                            [c.id, c.wording, c.channel, c.first, c.last, c.required]
                            for c in s.checklist
                        ],
                    ]
                    for sid, s in self.states.items()
                },
                "steps": [[t.id, t.title, list(t.roles), list(t.sources)] for t in self.steps],
                **(
                    {
                        "counts": [
                            [c.name, c.count, c.from_, c.to, c.days, c.to_included]
                            for c in self.counts
                        ]
                    }
                    if self.counts
                    else {}
                ),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> ProcessOutline | None:
        """The stored outline; None if it is of another format or damaged (the reader then
        rebuilds it from the version's text, which is what the content hash covers).
        """
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != OUTLINE_FORMAT:
                return None
            return cls(
                id=data["id"],
                version=data["version"],
                title=data["title"],
                states={
                    sid: StateOutline(
                        id=sid,
                        title=title,
                        description=description,
                        terminal=terminal,
                        checklist=tuple(CheckOutline(*c) for c in checks),
                    )
                    for sid, (title, description, terminal, checks) in data["states"].items()
                },
                steps=tuple(
                    StepOutline(i, title, tuple(roles), tuple(sources))
                    for i, title, roles, sources in data["steps"]
                ),
                counts=tuple(CountOutline(*c) for c in data.get("counts", ())),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
