"""The safe YAML reader: YAML's traps closed, every value's place kept."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from engine.errors import DefinitionError
from engine.yamlsafe import MAX_DEPTH, load_yaml, pydantic_issues


def issues_of(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        load_yaml(text, "f.yaml")
    return [str(i) for i in info.value.issues]


def test_yaml_1_1_booleans_stay_strings() -> None:
    doc = load_yaml("a: no\nb: off\nc: yes\nd: true\ne: False\n", "f.yaml")
    assert doc.data == {"a": "no", "b": "off", "c": "yes", "d": True, "e": False}


def test_marks_point_at_values() -> None:
    doc = load_yaml("id: x\nstates:\n  open:\n    title: Open\nlist: [a, b]\n", "f.yaml")
    assert doc.place(("id",)) == (1, 5)
    assert doc.place(("states", "open", "title")) == (4, 12)
    assert doc.place(("list", 1)) == (5, 11)
    # unknown places fall back to the nearest known parent
    assert doc.place(("states", "open", "nothing")) == doc.place(("states", "open"))
    assert str(doc.issue(("list", 0), "bad")) == "f.yaml:5:8: bad"


def test_duplicate_keys_are_refused() -> None:
    assert issues_of("a: 1\nb: 2\na: 3\n") == [
        "f.yaml:3:1: duplicate key 'a': each key may appear only once"
    ]


def test_alias_bomb_is_refused() -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (message,) = issues_of("\n".join(lines) + "\n")
    assert "possible alias bomb" in message


def test_a_few_aliases_are_fine() -> None:
    doc = load_yaml("base: &b {x: 1}\none: *b\ntwo: *b\n", "f.yaml")
    assert doc.data["two"] == {"x": 1}


def test_deep_nesting_is_refused() -> None:
    text = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    (message,) = issues_of(text)
    assert f"nested deeper than {MAX_DEPTH} levels" in message


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['echo hi']\n",
        "a: !!python/name:os.system\n",
        "a: !custom {x: 1}\n",
    ],
)
def test_tags_that_could_build_objects_are_refused(text: str) -> None:
    (message,) = issues_of(text)
    assert "f.yaml:1:4:" in message
    assert "is not allowed" in message or "cannot read value" in message


def test_merge_keys_are_refused() -> None:
    (message,) = issues_of("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert message.startswith("f.yaml:3:3: merge keys (<<) are not allowed")


def test_syntax_error_has_line_and_column() -> None:
    (message,) = issues_of("a: 1\nb: [1, 2\nc: 3\n")
    assert message.startswith("f.yaml:3:")
    assert "YAML syntax error" in message


def test_empty_file() -> None:
    assert issues_of("") == ["f.yaml:1:1: the file is empty"]


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[_Inner]
    name: str


def test_pydantic_errors_map_to_places() -> None:
    doc = load_yaml("items:\n  - n: 1\n  - n: two\n    extra: 3\n", "f.yaml")
    with pytest.raises(ValidationError) as info:
        _Outer.model_validate(doc.data)
    got = sorted(str(i) for i in pydantic_issues(doc, info.value.errors()))
    assert got == [
        "f.yaml:1:1: missing required key 'name'",
        "f.yaml:3:8: items.1.n: Input should be a valid integer, unable to parse string as an "
        "integer",
        "f.yaml:4:12: unknown key 'extra'",
    ]
