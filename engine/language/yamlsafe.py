"""YAML reading with its traps closed, keeping each node's line and column.

Owns: safe parsing, YAML 1.2-style booleans only (``yes``/``no``/``off`` stay strings),
duplicate keys as errors, caps on aliases, nodes and depth, and a map from each value's path to
its place in the file. Does not own: what the values mean (that is `definition.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.errors import DefinitionError, Issue

MAX_DEPTH = 40
MAX_NODES = 200_000
MAX_ALIASES = 100
MAX_CHARS = 1_000_000
"""Longest text parsed at all: a text libyaml cannot read is read again by the pure-Python
parser (for its messages), and a 25 MB file took that one a minute before the node cap could
refuse it. The largest shipped process is under 50 kB."""

PathKey = tuple[str | int, ...]
_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_NULL_TAG = "tag:yaml.org,2002:null"
_BLOCK_HEADER_COMMENT = re.compile(r"[|>][-+0-9]*#")


class _Loader(yaml.SafeLoader):
    """SafeLoader whose only booleans are true/false, so ids like `no` or `off` stay strings."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_FastLoader: type[yaml.CSafeLoader] | None = None
"""libyaml's loader with `_Loader`'s booleans, or None when PyYAML was built without libyaml."""
if yaml.__with_libyaml__:

    class _CLoader(yaml.CSafeLoader):
        """CSafeLoader resolving tags exactly as `_Loader` does (the resolver is Python)."""

    _CLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
    _FastLoader = _CLoader


@dataclass
class Document:
    """A parsed YAML document: plain Python data plus the place of every value in it."""

    path: str
    data: Any
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def place(self, loc: Iterable[str | int]) -> tuple[int, int]:
        """Line and column (1-based) of the value at `loc`, or of its nearest known parent."""
        key: PathKey = tuple(loc)
        while key:
            if key in self.marks:
                return self.marks[key]
            key = key[:-1]
        return self.marks.get((), (1, 1))

    def issue(self, loc: Iterable[str | int], message: str) -> Issue:
        """An issue placed at the value found at `loc`."""
        line, column = self.place(loc)
        return Issue(self.path, line, column, message)


class _Builder:
    def __init__(self, path: str, *, libyaml: bool = False) -> None:
        self.path = path
        self.marks: dict[PathKey, tuple[int, int]] = {}
        self.issues: list[Issue] = []
        self.nodes = 0
        self.seen: set[int] = set()
        self.aliases = 0
        self.libyaml = libyaml
        self.doubtful = False
        """Set when libyaml composed something the pure-Python parser reads otherwise."""

    def _doubt_flow(self, node: yaml.CollectionNode) -> None:
        # Inside [...] and {...} the parsers differ: PyYAML ends a plain scalar at `?` (and then
        # refuses the `?`), libyaml does not; and they place an empty value one column apart.
        items = (
            node.value
            if isinstance(node, yaml.SequenceNode)
            else [n for pair in node.value for n in pair]
        )
        for item in items:
            if (
                isinstance(item, yaml.ScalarNode)
                and not item.style
                and (not item.value or "?" in item.value)
            ):
                self.doubtful = True

    def _fail(self, node: yaml.Node, message: str) -> None:
        self.issues.append(
            Issue(self.path, node.start_mark.line + 1, node.start_mark.column + 1, message)
        )

    def build(self, node: yaml.Node, loc: PathKey, depth: int) -> Any:  # noqa: C901 (one branch per YAML node kind and tag)
        self.nodes += 1
        if id(node) in self.seen:
            self.aliases += 1
        self.seen.add(id(node))
        if self.aliases > MAX_ALIASES or (self.nodes > MAX_NODES and self.aliases):
            raise _Abort(
                node,
                f"document too large once aliases are expanded (over {MAX_NODES} values or "
                f"{MAX_ALIASES} alias uses): possible alias bomb; write the values out instead",
            )
        if self.nodes > MAX_NODES:
            raise _Abort(
                node, f"document too large: over {MAX_NODES} values; is this the right file?"
            )
        if depth > MAX_DEPTH:
            raise _Abort(node, f"nested deeper than {MAX_DEPTH} levels; flatten the structure")
        self.marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
            self._fail(node, f"tag {node.tag!r} is not allowed; YAML here holds plain data only")
            return None
        if self.libyaml and isinstance(node, yaml.CollectionNode) and node.flow_style:
            self._doubt_flow(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._fail(key_node, "merge keys (<<) are not allowed; write the keys out")
                    continue
                key = self.build(key_node, (*loc, "<key>"), depth + 1)
                if not isinstance(key, str | int):
                    self._fail(key_node, "keys must be plain text")
                    continue
                if key in result:
                    self._fail(key_node, f"duplicate key {key!r}: each key may appear only once")
                    continue
                result[key] = self.build(value_node, (*loc, key), depth + 1)
            self.marks.pop((*loc, "<key>"), None)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if self.libyaml and not node.style and not node.value and node.tag != _NULL_TAG:
            self.doubtful = True  # `key: !` is "" to libyaml, None to PyYAML
        # The constructor needs no stream; given the value as one, its reader would refuse a
        # NUL that a quoted escape ("\0") put in the value, outside the error handling below.
        constructor = _Loader("")
        try:
            return constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._fail(node, f"cannot read value: {exc}")
            return None
        except IndexError:
            # PyYAML's integer builder indexes into the text: an empty `!!int` fails there.
            self._fail(
                node,
                f"empty value tagged {node.tag.rsplit(':', 1)[-1]!r}: write a value "
                "or drop the tag",
            )
            return None
        except (ValueError, OverflowError) as exc:
            # PyYAML builds a date like 2024-02-30 with datetime.date, which raises ValueError.
            self._fail(node, f"{node.value!r} is not a real date or number: {exc}")
            return None
        finally:
            constructor.dispose()


class _Abort(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        self.node = node
        self.message = message


def load_yaml(text: str, path: str) -> Document:
    """Parse one YAML document safely; raise `DefinitionError` naming file, line and column.

    libyaml reads the text when it can, about ten times faster than the pure-Python parser.
    Whatever it cannot read, or reads into a document with any problem, is read again by the
    pure-Python parser, which finds and words every problem exactly as it always has.
    """
    if len(text) > MAX_CHARS:
        raise DefinitionError(
            [
                Issue(
                    path,
                    1,
                    1,
                    f"the file is {len(text):,} characters long, over the {MAX_CHARS:,} read as "
                    "YAML: "
                    "refused unread; is this the right file?",
                )
            ]
        )
    if _FastLoader is not None:
        doc = _load_fast(text, path, _FastLoader)
        if doc is not None:
            return doc
    return _load_checked(text, path)


def _load_fast(text: str, path: str, loader: type[yaml.CSafeLoader]) -> Document | None:
    """The document as libyaml composes it, or None if anything at all is wrong with it.

    Only a clean document is kept; errors of every kind are left to `_load_checked`, so that
    their messages and places stay those of the pure-Python parser.
    """
    if (
        "\t" in text
        or text.find("\ufeff", 1) != -1
        or not text.endswith("\n")
        or _BLOCK_HEADER_COMMENT.search(text)
    ):
        # libyaml takes a tab for a space where PyYAML refuses it, skips a byte order mark at
        # the start of any line (PyYAML only at the start of the text), places a value left
        # empty at the very end of a text with no final line break on a line after it, and
        # takes `|#...` for a block scalar and a comment, which PyYAML refuses.
        return None
    try:
        node = yaml.compose(text, Loader=loader)
    except Exception:  # noqa: BLE001 (any failure: the pure-Python parser reads and reports it)
        return None
    if node is None:
        return None
    builder = _Builder(path, libyaml=True)
    try:
        data = builder.build(node, (), 0)
    except Exception:  # noqa: BLE001 (`_Abort`, or anything the Python reading meets itself)
        return None
    if builder.issues or builder.doubtful:
        return None
    return Document(path=path, data=data, marks=builder.marks)


def _load_checked(text: str, path: str) -> Document:
    """`load_yaml` by the pure-Python parser, whose errors are the ones users see."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or str(exc)
        if exc.context:
            what = f"{exc.context}, {what}"
        raise DefinitionError([Issue(path, line, col, f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise DefinitionError([Issue(path, 1, 1, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise DefinitionError(
            [Issue(path, 1, 1, f"nested deeper than {MAX_DEPTH} levels; flatten the structure")]
        ) from None
    if node is None:
        raise DefinitionError([Issue(path, 1, 1, "the file is empty")])
    builder = _Builder(path)
    try:
        data = builder.build(node, (), 0)
    except _Abort as abort:
        mark = abort.node.start_mark
        issue = Issue(path, mark.line + 1, mark.column + 1, abort.message)
        raise DefinitionError([issue]) from None
    if builder.issues:
        raise DefinitionError(builder.issues)
    return Document(path=path, data=data, marks=builder.marks)


def pydantic_issues(doc: Document, errors: Iterable[Any]) -> list[Issue]:
    """Map pydantic's error list onto `file:line:col` issues, dropping union tags from locations."""
    issues = []
    for err in errors:
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        # pydantic adds the union member's tag to the location; the YAML has no such level.
        data_loc: list[str | int] = []
        node: Any = doc.data
        for part in loc:
            if (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and part < len(node)
            ):
                data_loc.append(part)
                node = node[part]
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}" if loc else message
            parent = data_loc[:-1] if data_loc and data_loc[-1] == loc[-1] else data_loc
            issues.append(doc.issue([*parent, loc[-1]] if loc else parent, message))
            continue
        if err["type"] == "missing":
            message = f"missing required key {loc[-1]!r}"
        where = ".".join(str(p) for p in loc)
        if where and err["type"] != "missing":
            message = f"{where}: {message}"
        issues.append(doc.issue(data_loc, message))
    return issues
