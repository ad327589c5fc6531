"""The registry: processes by (id, version), the version in force, and refused clashes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.errors import DefinitionError, UnknownProcess
from engine.language.loader import LoadedProcess, load_process_text
from engine.language.registry import ProcessRegistry

TINY = (Path(__file__).parents[2] / "fixtures" / "processes" / "tiny.yaml").read_text("utf-8")


def version(n: int, *, effective: str, opened_from: str | None = None) -> LoadedProcess:
    text = TINY.replace("version: 1", f"version: {n}").replace(
        "effective_from: 2024-09-01", f"effective_from: {effective}"
    )
    if opened_from:
        text = text.replace(
            "initial: open", f"applies: {{cases_opened_from: {opened_from}}}\ninitial: open"
        )
    return load_process_text(text, f"tiny_v{n}.yaml")


@pytest.fixture
def registry() -> ProcessRegistry:
    return ProcessRegistry(
        [
            version(1, effective="2023-09-01"),
            version(2, effective="2024-09-01"),
            version(3, effective="2025-01-01", opened_from="2025-04-01"),
        ]
    )


def test_get_by_version_and_latest(registry: ProcessRegistry) -> None:
    assert registry.ids() == ["tiny"]
    assert registry.versions("tiny") == [1, 2, 3]
    assert registry.get("tiny", 2).definition.version == 2
    assert registry.get("tiny").definition.version == 3
    assert len(registry) == 3
    assert [c.definition.version for c in registry] == [1, 2, 3]


def test_unknown_process_and_version(registry: ProcessRegistry) -> None:
    with pytest.raises(UnknownProcess, match="did you mean 'tiny'"):
        registry.get("tiy")
    with pytest.raises(UnknownProcess, match="no version 9; known versions: 1, 2, 3"):
        registry.get("tiny", 9)


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        ("2023-09-01", 1),
        ("2024-08-31", 1),
        ("2024-09-01", 2),
        ("2025-03-31", 2),  # v3 is effective, but applies to cases opened from April
        ("2025-04-01", 3),
    ],
)
def test_in_force(registry: ProcessRegistry, on: str, expected: int) -> None:
    assert registry.in_force("tiny", dt.date.fromisoformat(on)).definition.version == expected


def test_nothing_in_force_before_the_first_version(registry: ProcessRegistry) -> None:
    with pytest.raises(UnknownProcess, match="applies to cases opened from 2023-09-01"):
        registry.in_force("tiny", dt.date(2023, 8, 31))
    with pytest.raises(UnknownProcess):
        registry.in_force("other", dt.date(2024, 1, 1))


def test_same_version_different_text_is_refused_naming_both_files(
    registry: ProcessRegistry,
) -> None:
    clash = load_process_text(TINY.replace("Tiny process", "Tiny, edited"), "edited.yaml")
    with pytest.raises(DefinitionError) as info:
        registry.add(clash)
    message = str(info.value)
    assert "edited.yaml:5:10:" in message
    assert "tiny_v1.yaml" in message
    assert "raise the version" in message


def test_same_text_twice_is_the_same_compiled_process(registry: ProcessRegistry) -> None:
    again = registry.add(version(2, effective="2024-09-01"))
    assert again is registry.get("tiny", 2)


def test_from_package_holds_the_shipped_processes() -> None:
    registry = ProcessRegistry.from_package()
    assert "untraceable_cme" in registry.ids()
    compiled = registry.get("untraceable_cme")
    assert compiled.loaded.path == "processes/untraceable_cme.yaml"
    assert compiled.machine.models == []


def pending(n: int) -> LoadedProcess:
    text = TINY.replace("version: 1", f"version: {n}").replace(
        "effective_from: 2024-09-01", "commencement: the day the regulations commence"
    )
    return load_process_text(text, f"tiny_v{n}.yaml")


def test_a_pending_version_applies_to_no_case_until_it_is_given_a_date() -> None:
    registry = ProcessRegistry([version(1, effective="2023-09-01"), pending(2)])
    assert registry.get("tiny", 2).definition.pending
    assert registry.in_force("tiny", dt.date(2030, 1, 1)).definition.version == 1
    given = {2: dt.date(2024, 11, 4)}
    assert registry.in_force("tiny", dt.date(2024, 11, 1), given).definition.version == 1
    assert registry.in_force("tiny", dt.date(2024, 11, 4), given).definition.version == 2
    only = ProcessRegistry([pending(2)])
    with pytest.raises(UnknownProcess, match="every version is pending: .*cme process commence"):
        only.in_force("tiny", dt.date(2024, 11, 4))


def test_a_pending_version_says_what_brings_it_into_force() -> None:
    text = TINY.replace("effective_from: 2024-09-01\n", "")
    with pytest.raises(DefinitionError, match="commencement"):
        load_process_text(text, "tiny_undated.yaml")


def test_a_version_cannot_take_cases_before_its_own_date() -> None:
    with pytest.raises(DefinitionError, match=r"cases_opened_from.*before `effective_from`"):
        version(4, effective="2026-12-04", opened_from="2024-08-19")
