"""The loader: every invalid fixture gives its `path:line:column: message`, all problems at once."""

from __future__ import annotations

import hashlib
import json
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import DefinitionError
from engine.language.json_schema import process_json_schema, schema_text, shipped_schema_text
from engine.language.loader import (
    display_path,
    expand_paths,
    load_process_file,
    load_process_text,
    load_processes,
    process_files,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "processes"
APPENDIX7 = FIXTURES / "appendix7.yaml"
TINY = FIXTURES / "tiny.yaml"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


def expectations(path: Path) -> list[tuple[int, int, str]]:
    """The `# expect: L:C: message | L:C: message` header of a fixture."""
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# expect: "), f"{path} has no expectation header"
    found = []
    for part in header.removeprefix("# expect: ").split(" | "):
        line, column, message = part.split(":", 2)
        found.append((int(line), int(column), message.strip()))
    return found


def test_appendix7_fixture_loads() -> None:
    loaded = load_process_file(APPENDIX7)
    defn = loaded.definition
    assert (loaded.id, loaded.version) == ("appendix7_untraceable", 1)
    assert loaded.path == str(APPENDIX7)
    assert loaded.content_hash == hashlib.sha256(APPENDIX7.read_bytes()).hexdigest()
    assert set(loaded.trigger_guards) == {t.id for t in defn.triggers}
    assert [c.says for c in loaded.trigger_guards["close_untraceable"]] == [
        "missing 20 or more school days continuously",
        "Regulation 8(1)(h), or the PAN London and GIAP checks are done",
    ]
    timers = {t.id for s in defn.states.values() for t in s.timers}
    assert set(loaded.timer_conditions) == timers


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_reports_each_problem_in_place(path: Path) -> None:
    with pytest.raises(DefinitionError) as info:
        load_process_file(path)
    got = [(i.line, i.column, i.message) for i in info.value.issues]
    expected = expectations(path)
    for line, column, message in expected:
        assert any((line, column) == (g[0], g[1]) and message in g[2] for g in got), (
            f"expected {line}:{column}: {message!r}; got {got}"
        )
    assert len(got) == len(expected), f"unexpected extra issues: {got}"
    assert all(i.path == str(path) for i in info.value.issues)
    assert str(info.value).startswith(f"invalid for {len(expected)} reason")


def test_every_class_of_error_has_a_fixture() -> None:
    names = {p.stem for p in INVALID}
    assert {
        "syntax_error",
        "unknown_key",
        "wrong_type",
        "missing_key",
        "unknown_dest_state",
        "unknown_source_state",
        "guard_syntax",
        "guard_unknown_fact",
        "guard_type_error",
        "alias_bomb",
        "duplicate_key",
    } <= names


def test_problems_in_different_parts_are_all_reported() -> None:
    text = TINY.read_text(encoding="utf-8")
    text = text.replace("dest: closed", "dest: shut").replace("roles: [cme_officer]", "roles: [x]")
    text = text.replace("days: 5-15", "days: 5-15, channel: 7")
    with pytest.raises(DefinitionError) as info:
        load_process_text(text, "edited.yaml")
    messages = [i.message for i in info.value.issues]
    assert any("unknown state 'shut'" in m for m in messages)
    assert any("unknown role 'x'" in m for m in messages)
    assert any("channel" in m and "valid string" in m for m in messages)


def test_a_letter_must_record_a_check_the_process_has() -> None:
    shipped = Path(__file__).parents[3] / "processes" / "untraceable_cme.yaml"
    text = shipped.read_text(encoding="utf-8").replace(
        "records_check: first_formal_letter_sent", "records_check: first_formal_leter_sent"
    )
    with pytest.raises(DefinitionError) as info:
        load_process_text(text, "untraceable_cme.yaml")
    (issue,) = info.value.issues
    assert "unknown check 'first_formal_leter_sent'" in issue.message
    assert "first_formal_letter_sent" in issue.message  # the suggestion


def test_a_broken_fact_does_not_cascade_into_its_guards() -> None:
    text = TINY.read_text(encoding="utf-8").replace(
        "absence_days: {type: int,", "absence_days: {type: integer,"
    )
    with pytest.raises(DefinitionError) as info:
        load_process_text(text, "t.yaml")
    assert len(info.value.issues) == 1
    assert "type" in info.value.issues[0].message


def test_kind_other_than_process_is_refused() -> None:
    with pytest.raises(DefinitionError, match="kind is 'rag'"):
        load_process_text("kind: rag\nbands: []\n", "rag.yaml")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no such file"):
        load_process_file(tmp_path / "missing.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DefinitionError, match="not UTF-8"):
        load_process_file(latin)
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DefinitionError, match="empty"):
        load_process_file(empty)


def test_load_processes_collects_issues_across_files(tmp_path: Path) -> None:
    bad_one = tmp_path / "a.yaml"
    bad_one.write_text(TINY.read_text(encoding="utf-8").replace("dest: closed", "dest: x"))
    bad_two = tmp_path / "b.yaml"
    bad_two.write_text("id: [\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_processes([bad_one, bad_two, APPENDIX7])
    assert {i.path for i in info.value.issues} == {str(bad_one), str(bad_two)}


def test_same_id_and_version_with_different_text_names_both_files(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    second = tmp_path / "second.yaml"
    first.write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    second.write_text(TINY.read_text(encoding="utf-8").replace("Tiny process", "Tiny, edited"))
    with pytest.raises(DefinitionError) as info:
        load_processes([first, second])
    (issue,) = info.value.issues
    assert issue.path == str(second)
    assert (issue.line, issue.column) == (5, 10)  # `version: 1`
    assert str(first) in issue.message
    assert "raise the version" in issue.message
    # the same text twice is not a conflict
    copy = tmp_path / "copy.yaml"
    copy.write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    assert len(load_processes([first, copy])) == 2


def test_directories_expand_to_their_process_files(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "rag.yaml").write_text("kind: rag\nbands: []\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not yaml", encoding="utf-8")
    assert [Path(str(p)).name for p in expand_paths([tmp_path])] == ["tiny.yaml"]
    (loaded,) = load_processes([tmp_path])
    assert loaded.id == "tiny"


def test_shipped_process_files_are_processes_only() -> None:
    files = process_files()
    names = [f.name for f in files]
    assert "untraceable_cme.yaml" in names
    for entry in files:
        assert display_path(entry) == f"processes/{entry.name}"
        assert "kind: rag" not in entry.read_text(encoding="utf-8")


@pytest.mark.parametrize("entry", process_files(), ids=lambda e: e.name)
def test_every_shipped_process_validates(entry: Traversable) -> None:
    loaded = load_process_file(entry)
    assert loaded.path.startswith("processes/")
    # What is stored and hashed at publish is the file's text exactly, under the file's id.
    text = entry.read_text(encoding="utf-8")
    assert loaded.text == text
    assert loaded.content_hash == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert entry.name.startswith(loaded.id)


def test_json_schema_is_committed_and_up_to_date() -> None:
    # Drift test: after changing engine/language/definition.py, run
    #   cme process schema --output processes/schema/process.schema.json
    assert shipped_schema_text() == schema_text()


def test_json_schema_offers_the_yaml_shorthands() -> None:
    schema = process_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    state_days = json.dumps(schema["$defs"]["StateDefinition"]["properties"]["days"])
    assert '"type": "integer"' in state_days
    assert "pattern" in state_days
    guards = schema["$defs"]["TriggerDefinition"]["properties"]["guards"]["items"]
    assert {"type": "string", "description": "A CEL expression."} in guards["anyOf"]
    assert schema["additionalProperties"] is False


_LINES = APPENDIX7.read_text(encoding="utf-8").splitlines()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["delete", "duplicate", "drop_colon", "swap"]),
            st.integers(0, len(_LINES) - 1),
            st.integers(0, len(_LINES) - 1),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_edit_loads_or_fails_with_placed_issues(edits: list[tuple[str, int, int]]) -> None:
    lines = list(_LINES)
    for op, i, j in edits:
        i, j = i % len(lines), j % len(lines)
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(j, lines[i])
        elif op == "drop_colon":
            lines[i] = lines[i].replace(":", "", 1)
        else:
            lines[i], lines[j] = lines[j], lines[i]
    issues = []
    try:
        load_process_text("\n".join(lines) + "\n", "edited.yaml")
    except DefinitionError as exc:  # anything else (a crash) fails the test
        issues = exc.issues
        assert issues, "a DefinitionError must carry its issues"
    for issue in issues:
        assert issue.path == "edited.yaml"
        assert 1 <= issue.line <= len(lines) + 1
        assert issue.column >= 1
