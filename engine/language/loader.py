"""Turns process YAML into a `LoadedProcess`, reporting every problem as `path:line:column: …`.

Owns: reading files (package data through `importlib.resources`), schema validation (via
`engine.language.yamlsafe` and pydantic), the content hash, and finding the shipped process
files. Does not own the cross-reference checks (`references.py`), the JSON Schema export
(`json_schema.py`), graph checks (`lint.py`) or building machines (`machine.py`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.errors import DefinitionError, Issue, suggest
from engine.language import definition
from engine.language.basis import basis_of
from engine.language.definition import ProcessDefinition
from engine.language.expressions import CompiledCondition, compile_condition
from engine.language.la_choices import switched_off, with_choices
from engine.language.references import References, issue_at
from engine.language.windows import with_windows
from engine.language.yamlsafe import Document, PathKey, load_yaml, pydantic_issues

PACKAGE = "processes"


ProcessPath = str | os.PathLike[str] | Traversable


@dataclass(frozen=True, eq=False)
class LoadedProcess:
    """A validated definition with its source text, content hash and compiled conditions."""

    definition: ProcessDefinition
    path: str
    """Where it came from, as shown in messages (package files as `processes/<name>.yaml`)."""
    text: str
    content_hash: str
    """sha256 hex of `text`: a case pins the exact text it ran under."""
    trigger_guards: Mapping[str, tuple[CompiledCondition, ...]]
    """Compiled guards of each trigger, by trigger id (every trigger has an entry)."""
    timer_conditions: Mapping[str, tuple[CompiledCondition, ...]]
    """Compiled `when` conditions of each timer, by timer id (every timer has an entry)."""
    document: Document = field(repr=False)
    """The parsed YAML with the place of every value, for messages about the file."""
    key_marks: Mapping[PathKey, tuple[int, int]] = field(repr=False, default_factory=dict)
    """Line and column of each mapping key (e.g. a state's name), where a value's own mark
    would point at the line after it."""
    written: ProcessDefinition | None = field(repr=False, default=None)
    """The definition as the file says it, before its windows generated timers
    (`engine.language.windows`); `definition` is the one the engine runs."""

    @property
    def as_written(self) -> ProcessDefinition:
        """The definition as the file says it (what lint judges)."""
        return self.written or self.definition

    @property
    def id(self) -> str:
        """The process id."""
        return self.definition.id

    @property
    def version(self) -> int:
        """The process version."""
        return self.definition.version

    def issue(self, loc: Sequence[str | int], message: str, *, at_key: bool = False) -> Issue:
        """An issue about the value at `loc` (or about its key, when `at_key`)."""
        return issue_at(self.document, self.key_marks, loc, message, at_key=at_key)


def load_process_text(text: str, path: str) -> LoadedProcess:
    """Validate one process from its text; raise `DefinitionError` with every issue found."""
    doc = load_yaml(text, path)
    data = doc.data
    if not isinstance(data, dict):
        raise DefinitionError([doc.issue((), "a process file is a mapping (id:, title: …)")])
    kind = data.get("kind", "process")
    if kind != "process":
        raise DefinitionError(
            [doc.issue(("kind",), f"kind is {kind!r}: this file is not a process definition")]
        )
    key_marks = _key_marks(text)
    issues: list[Issue] = []
    defn: ProcessDefinition | None = None
    try:
        defn = ProcessDefinition.model_validate(data)
    except ValidationError as exc:
        issues.extend(_schema_issues(doc, key_marks, exc.errors()))
    checker = References(doc, key_marks, data, text.splitlines())
    issues.extend(checker.run())
    # The same mistake can be seen by the whole-file and the piecewise validation.
    issues = list(dict.fromkeys(issues))
    if issues or defn is None:
        raise DefinitionError(issues)
    # One switch, one place: an LA choice switched off is dropped before anything reads the
    # definition; then one window, one place: the engine runs the timers the windows generate.
    running = with_windows(with_choices(defn))
    guards, conditions = _running_conditions(
        defn, running, checker.trigger_guards, checker.timer_conditions
    )
    return LoadedProcess(
        definition=running,
        path=path,
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        trigger_guards=guards,
        timer_conditions=conditions,
        document=doc,
        key_marks=key_marks,
        written=defn,
    )


def _running_conditions(
    written: ProcessDefinition,
    running: ProcessDefinition,
    trigger_guards: Mapping[str, tuple[CompiledCondition, ...]],
    timer_conditions: Mapping[str, tuple[CompiledCondition, ...]],
) -> tuple[dict[str, tuple[CompiledCondition, ...]], dict[str, tuple[CompiledCondition, ...]]]:
    """The compiled conditions of the definition the engine runs: a switched-off choice's
    dropped, each with its basis (its own `source`, else its step's or stage's `ref`).
    """
    off = switched_off(written)
    guards: dict[str, tuple[CompiledCondition, ...]] = {}
    for trig in written.triggers:
        compiled = trigger_guards.get(trig.id, ())
        guards[trig.id] = tuple(
            replace(c, basis=basis_of(written, g.source, la_choice=g.la_choice, within=trig.ref))
            for g, c in zip(trig.guards, compiled, strict=True)
            if g.la_choice is None or g.la_choice not in off
        )
    conditions: dict[str, tuple[CompiledCondition, ...]] = {}
    for state in written.states.values():
        for timer in state.timers:
            compiled = timer_conditions.get(timer.id, ())
            conditions[timer.id] = tuple(
                replace(
                    c, basis=basis_of(written, w.source, la_choice=w.la_choice, within=timer.ref)
                )
                for w, c in zip(timer.when, compiled, strict=True)
                if w.la_choice is None or w.la_choice not in off
            )
    checks = set(written.checks())
    for state in running.states.values():
        for timer in state.timers:
            if timer.id not in conditions:
                conditions[timer.id] = tuple(
                    compile_condition(c, facts=written.facts, checks=checks) for c in timer.when
                )
    return guards, conditions


def load_process_file(path: ProcessPath) -> LoadedProcess:
    """Read and validate one process file (a filesystem path or a package resource)."""
    return load_process_text(_read(path), display_path(path))


def display_path(path: ProcessPath) -> str:
    """How a file is named in messages: shipped files as `processes/<name>`, others as given."""
    if isinstance(path, str):
        return path
    if isinstance(path, os.PathLike):
        # An editable install hands out real paths for package data; name them as shipped.
        package = resources.files(PACKAGE)
        if isinstance(package, Path) and Path(path).resolve().parent == package.resolve():
            return f"{PACKAGE}/{Path(path).name}"
        return os.fspath(path)
    return f"{PACKAGE}/{path.name}"


def process_files() -> list[Traversable]:
    """The shipped `processes/*.yaml` files whose `kind` is absent or `process`."""
    found = []
    for entry in sorted(resources.files(PACKAGE).iterdir(), key=lambda e: e.name):
        if entry.is_file() and entry.name.endswith((".yaml", ".yml")) and _is_process(entry):
            found.append(entry)
    return found


def load_processes(paths: Iterable[ProcessPath] | None = None) -> list[LoadedProcess]:
    """Load many files (default: the shipped ones), collecting every issue before raising once.

    A directory stands for the process files in it. Two files with the same id and version but
    different text are an error naming both.
    """
    files = process_files() if paths is None else expand_paths(paths)
    loaded: list[LoadedProcess] = []
    issues: list[Issue] = []
    for path in files:
        try:
            loaded.append(load_process_file(path))
        except DefinitionError as exc:
            issues.extend(exc.issues)
    issues.extend(duplicate_issues(loaded))
    if issues:
        raise DefinitionError(issues)
    return loaded


def duplicate_issues(loaded: Iterable[LoadedProcess]) -> list[Issue]:
    """An issue for each file that reuses another's (id, version) with different text."""
    issues = []
    seen: dict[tuple[str, int], LoadedProcess] = {}
    for item in loaded:
        first = seen.setdefault((item.id, item.version), item)
        if first is not item and first.content_hash != item.content_hash:
            issues.append(same_version_issue(first, item))
    return issues


def same_version_issue(first: LoadedProcess, second: LoadedProcess) -> Issue:
    """The issue for two different texts claiming one (id, version), placed on the second."""
    return second.issue(
        ("version",),
        f"process {second.id!r} version {second.version} is also defined, with different "
        f"content, in {first.path}; raise the version when you change a process",
    )


def _read(path: ProcessPath) -> str:
    label = display_path(path)
    try:
        if isinstance(path, str | os.PathLike):
            return Path(path).read_text(encoding="utf-8")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError([Issue(label, 1, 1, "no such file")]) from None
    except IsADirectoryError:
        raise DefinitionError([Issue(label, 1, 1, "is a directory, not a YAML file")]) from None
    except UnicodeDecodeError as exc:
        raise DefinitionError(
            [Issue(label, 1, 1, f"not UTF-8 ({exc.reason} at byte {exc.start}); save as UTF-8")]
        ) from None
    except OSError as exc:
        raise DefinitionError([Issue(label, 1, 1, f"cannot read: {exc.strerror}")]) from None


def _is_process(entry: Traversable | Path) -> bool:
    """Whether a file is a process by its top-level `kind`.

    A file that does not parse counts as one, so that validating it reports why.
    """
    try:
        doc = load_yaml(entry.read_text(encoding="utf-8"), str(entry))
    except (DefinitionError, OSError, UnicodeDecodeError):
        return True
    return not isinstance(doc.data, dict) or doc.data.get("kind", "process") == "process"


def expand_paths(paths: Iterable[ProcessPath]) -> list[ProcessPath]:
    """The files named, with each directory replaced by the process files in it."""
    files: list[ProcessPath] = []
    for path in paths:
        if isinstance(path, str | os.PathLike) and Path(path).is_dir():
            for child in sorted(Path(path).iterdir()):
                if child.suffix in (".yaml", ".yml") and child.is_file() and _is_process(child):
                    files.append(child)
        else:
            files.append(path)
    return files


def _key_marks(text: str) -> dict[PathKey, tuple[int, int]]:  # noqa: C901 (one branch per YAML node kind)
    """Line and column of every mapping key.

    Runs only after `load_yaml` accepted the text, so aliases and depth are known to be small.
    """
    marks: dict[PathKey, tuple[int, int]] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return marks

    def walk(node: yaml.Node, loc: PathKey, depth: int) -> None:
        if depth > 64:
            return
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key: str | int = key_node.value
                if key_node.tag.endswith(":int") and key_node.value.isdigit():
                    key = int(key_node.value)
                marks[(*loc, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                walk(value_node, (*loc, key), depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*loc, index), depth + 1)

    if root is not None:
        walk(root, (), 0)
    return marks


def _schema_issues(
    doc: Document, key_marks: Mapping[PathKey, tuple[int, int]], errors: Sequence[Any]
) -> list[Issue]:
    """Pydantic's errors as issues; an unknown key is placed on the key, with a suggestion."""
    issues = []
    for err in errors:
        (issue,) = pydantic_issues(doc, [err])
        if err["type"] == "extra_forbidden" and err["loc"]:
            key = err["loc"][-1]
            where = _data_path(doc.data, err["loc"])
            line, column = key_marks.get(where, (issue.line, issue.column))
            message = issue.message + suggest(str(key), _FIELD_NAMES, what="keys")
            issue = Issue(doc.path, line, column, message)
        issues.append(issue)
    return issues


def _data_path(data: Any, loc: Sequence[Any]) -> PathKey:
    """A pydantic location with union tags dropped: the path of keys into the YAML data."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            path.append(part)
            node = node[part]
    return tuple(path)


def _field_names() -> frozenset[str]:
    names: set[str] = set()
    for value in vars(definition).values():
        if isinstance(value, type) and issubclass(value, definition.Strict):
            names.update(value.model_fields)
    return frozenset(names)


_FIELD_NAMES = _field_names()


__all__ = [
    "PACKAGE",
    "LoadedProcess",
    "ProcessPath",
    "display_path",
    "duplicate_issues",
    "expand_paths",
    "load_process_file",
    "load_process_text",
    "load_processes",
    "process_files",
    "same_version_issue",
]
