"""The outline stored with each process version says what the definition says: every shipped
process's stages, checklists and steps, through JSON and back."""

from __future__ import annotations

import pytest

from engine.language.definition import ProcessDefinition
from engine.language.outline import ProcessOutline
from engine.language.registry import ProcessRegistry


def _definitions(registry: ProcessRegistry) -> list[ProcessDefinition]:
    return [compiled.definition for compiled in registry]


def test_every_shipped_process_outlines_and_reads_back_the_same(
    registry: ProcessRegistry,
) -> None:
    definitions = _definitions(registry)
    assert {d.id for d in definitions} >= {"untraceable_cme", "removal_grounds"}
    for d in definitions:
        outline = d.outline()
        assert ProcessOutline.from_json(outline.to_json()) == outline
        assert (outline.id, outline.version, outline.title) == (d.id, d.version, d.title)


def test_the_outline_has_each_stage_checklist_and_window_as_the_definition(
    registry: ProcessRegistry,
) -> None:
    for d in _definitions(registry):
        outline = d.outline()
        assert list(outline.states) == list(d.states)
        for sid, state in d.states.items():
            got = outline.states[sid]
            assert (got.title, got.description, got.terminal) == (
                state.title,
                state.description,
                state.terminal,
            )
            assert [(c.id, c.wording, c.channel, c.required, c.window) for c in got.checklist] == [
                (c.id, c.wording, c.channel, c.required, str(c.days) if c.days else None)
                for c in state.checklist
            ]


def test_the_steps_from_a_stage_are_those_a_person_may_take_there(
    registry: ProcessRegistry,
) -> None:
    for d in _definitions(registry):
        outline = d.outline()
        for sid, state in d.states.items():
            expected = (
                []
                if state.terminal
                else [t.id for t in d.triggers if sid in d.source_states(t) and t.roles]
            )
            assert [s.id for s in outline.steps_from(sid)] == expected, (d.id, sid)


def test_the_untraceable_timeline_outline_keeps_the_policy_wording(
    registry: ProcessRegistry,
) -> None:
    d = registry.get("untraceable_cme").definition
    first = d.outline().states[d.initial].checklist
    assert first[0].wording.startswith("CME notification received.")
    windows = {c.window for s in d.outline().states.values() for c in s.checklist}
    assert "Day 1–3" in windows


@pytest.mark.parametrize(
    "stored",
    [
        '{"format": 999, "id": "x"}',
        '{"format": 1}',
        '{"format": 1, "id": "x", "version": 1}',
        '{"format": 1, "id": "x", "version": 1, "title": "t", "states": {"s": [1]}, "steps": []}',
        "not json",
        "[]",
    ],
)
def test_an_outline_of_another_format_or_damaged_is_not_read(stored: str) -> None:
    # None: the reader rebuilds the outline from the version's text
    # (tests/engine/store/test_store.py).
    assert ProcessOutline.from_json(stored) is None
