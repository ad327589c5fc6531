"""The safe YAML reader: YAML's traps closed, every value's place kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from engine.errors import DefinitionError
from engine.language import yamlsafe
from engine.language.yamlsafe import MAX_DEPTH, Document, load_yaml, pydantic_issues

PROCESSES = Path(__file__).parents[3] / "processes"


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


# libyaml composes the node tree when it can; the pure-Python parser reads whatever libyaml cannot,
# or reads otherwise, so that data, places and messages are what they always were.

needs_libyaml = pytest.mark.skipif(yamlsafe._FastLoader is None, reason="PyYAML without libyaml")


def read_fast(text: str) -> Document | None:
    """The libyaml reading alone: None where load_yaml leaves the text to the Python parser."""
    loader = yamlsafe._FastLoader
    assert loader is not None
    return yamlsafe._load_fast(text, "f.yaml", loader)


def outcome(load: Callable[[str, str], Document], text: str) -> tuple[str, object, object]:
    """What a reading gives: its data (types shown by repr) and marks, or its messages."""
    try:
        doc = load(text, "f.yaml")
    except DefinitionError as exc:
        return ("refused", [str(i) for i in exc.issues], None)
    return ("read", repr(doc.data), doc.marks)


@needs_libyaml
@pytest.mark.parametrize(
    "path", sorted(PROCESSES.rglob("*.yaml")), ids=lambda p: str(p.relative_to(PROCESSES))
)
def test_libyaml_reads_every_shipped_file_as_the_pure_python_parser_does(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast = read_fast(text)
    assert fast is not None, "a shipped file should take the fast path"
    slow = yamlsafe._load_checked(text, "f.yaml")
    assert repr(fast.data) == repr(slow.data)
    assert fast.data == slow.data
    assert fast.marks == slow.marks
    assert outcome(load_yaml, text) == outcome(yamlsafe._load_checked, text)


@needs_libyaml
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # libyaml refuses these too; the message must still be PyYAML's
        (
            "a: 1\nb: [1, 2\nc: 3\n",
            "f.yaml:3:2: YAML syntax error: while parsing a flow sequence, expected ',' or ']', "
            "but "
            "got ':'",
        ),
        (
            "a: x\x00y\n",
            "f.yaml:1:1: YAML error: unacceptable character #x0000: special "
            "characters are not allowed",
        ),
        (
            "a: 'x\ud800'\n",
            "f.yaml:1:1: YAML error: unacceptable character #xd800: special "
            "characters are not allowed",
        ),
        (
            "a: " + "[" * 500 + "]" * 500 + "\n",
            f"f.yaml:1:1: nested deeper than {MAX_DEPTH} levels; flatten the structure",
        ),
        # libyaml reads these; PyYAML refuses them, so they stay refused
        (
            "e\t\n",
            "f.yaml:1:2: YAML syntax error: while scanning for the next token, found "
            "character '\\t' that cannot start any token",
        ),
        (
            "a: [x?]\n",
            "f.yaml:1:6: YAML syntax error: while parsing a flow sequence, expected "
            "',' or ']', but got '?'",
        ),
        (
            "a: |#\n  x\n",
            "f.yaml:1:5: YAML syntax error: while scanning a block scalar, "
            "expected chomping or indentation indicators, but found '#'",
        ),
    ],
)
def test_errors_are_worded_by_the_pure_python_parser(text: str, expected: str) -> None:
    (message,) = issues_of(text)
    assert message.startswith(expected)
    assert outcome(load_yaml, text) == outcome(yamlsafe._load_checked, text)


@needs_libyaml
@pytest.mark.parametrize(
    "text",
    [
        "e\t\n",  # a tab libyaml takes for a space
        "a: [x?]\n",  # `?` inside a flow plain scalar
        "a: |#\n  x\n",  # a block scalar header with a comment and no space
        "a: {x: }\nb: [y: ]\n",  # empty flow values, placed a column apart
        "a: !\n",  # "" to libyaml, None to PyYAML
        "a: 1\nb\ufeff: 2\n",  # a byte order mark inside the text
        "? x",  # an empty value at the end of a text with no final line break
        "a: 1\nb: [1, 2\nc: 3\n",
        "a: " + "[" * 60 + "]" * 60 + "\n",
        "a: !!python/name:os.system\n",
        "a: 1\nb: 2\na: 3\n",
    ],
)
def test_what_libyaml_reads_otherwise_goes_to_the_pure_python_parser(text: str) -> None:
    assert read_fast(text) is None
    assert outcome(load_yaml, text) == outcome(yamlsafe._load_checked, text)


def test_without_libyaml_the_pure_python_parser_reads_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (PROCESSES / "roles.yaml").read_text(encoding="utf-8")
    expected = outcome(load_yaml, text)
    monkeypatch.setattr(yamlsafe, "_FastLoader", None)
    assert outcome(load_yaml, text) == expected
    assert issues_of("a: 1\nb: [1, 2\nc: 3\n")[0].startswith("f.yaml:3:2: YAML syntax error")


def test_an_empty_tagged_integer_is_a_placed_error_not_a_crash() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_yaml("a: !!int\n", "t.yaml")
    assert "t.yaml:1:4: empty value tagged 'int'" in str(caught.value)
