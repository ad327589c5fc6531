"""Turns process YAML into a `LoadedProcess`, reporting every problem as `path:line:column: …`.

Owns: reading files (package data through `importlib.resources`), schema validation (via
`engine.language.yamlsafe` and pydantic), reference checks across the file (states, triggers,
checks,
facts, roles, timers), compiling guards (`engine.language.expressions`), the content hash, and the
JSON
Schema export. Does not own graph checks (`lint.py`) or building machines (`machine.py`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from engine.errors import DefinitionError, Issue, suggest
from engine.language import definition
from engine.language.definition import (
    RESERVED_NAMES,
    CheckDefinition,
    FactDefinition,
    ProcessDefinition,
    TimerDefinition,
    TriggerDefinition,
)
from engine.language.expressions import (
    CEL_KEYWORDS,
    CEL_TYPE_NAMES,
    CompiledCondition,
    ExpressionProblem,
    compile_condition,
)
from engine.language.yamlsafe import Document, PathKey, load_yaml, pydantic_issues

PACKAGE = "processes"
SCHEMA_FILE = "schema/process.schema.json"
SCHEMA_ID = "https://cme-engine.example/schema/process.schema.json"

ProcessPath = str | os.PathLike[str] | Traversable
_Model = TypeVar("_Model", bound=BaseModel)


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
        return _issue(self.document, self.key_marks, loc, message, at_key=at_key)


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
    checker = _References(doc, key_marks, data, text.splitlines())
    issues.extend(checker.run())
    # The same mistake can be seen by the whole-file and the piecewise validation.
    issues = list(dict.fromkeys(issues))
    if issues or defn is None:
        raise DefinitionError(issues)
    return LoadedProcess(
        definition=defn,
        path=path,
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        trigger_guards=checker.trigger_guards,
        timer_conditions=checker.timer_conditions,
        document=doc,
        key_marks=key_marks,
    )


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


def process_json_schema() -> dict[str, Any]:
    """The JSON Schema of a process file, for editors (VS Code's YAML extension and others)."""
    schema = ProcessDefinition.model_json_schema(schema_generator=_ShorthandSchema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    """`process_json_schema()` as the exact text committed to processes/schema/."""
    return json.dumps(process_json_schema(), indent=2, ensure_ascii=False) + "\n"


def shipped_schema_text() -> str:
    """The JSON Schema file shipped in the package (compare with `schema_text()` for drift)."""
    return resources.files(PACKAGE).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


class _ShorthandSchema(GenerateJsonSchema):
    """Schema generation that also offers the short forms the loader accepts.

    `days: 5-15` or `days: 26`, a guard written as a bare expression string, and `ref:` as a bare
    section string are parsed by before-validators, which pydantic cannot describe by itself;
    without this an editor would flag the policy's own shorthand as wrong.
    """

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        inner = super().function_before_schema(schema)
        func = schema["function"]["function"]
        if func is definition._parse_days:
            return {
                "anyOf": [
                    {"type": "integer", "minimum": 1, "description": "A single day, e.g. 26."},
                    {
                        "type": "string",
                        "pattern": r"^\s*\d+\s*(?:[-–]\s*\d+)?\s*$",
                        "description": "A window of days, e.g. 5-15.",
                    },
                    inner,
                ]
            }
        if func is definition._parse_condition:
            return {"anyOf": [{"type": "string", "description": "A CEL expression."}, inner]}
        if func is definition._parse_source:
            section = {"type": "string", "description": "A section, e.g. Appendix 7."}
            return {"anyOf": [section, inner]}
        return inner


# --- reading ---------------------------------------------------------------------------------


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


def _key_marks(text: str) -> dict[PathKey, tuple[int, int]]:
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


def _issue(
    doc: Document,
    key_marks: Mapping[PathKey, tuple[int, int]],
    loc: Sequence[str | int],
    message: str,
    *,
    at_key: bool = False,
) -> Issue:
    if at_key and tuple(loc) in key_marks:
        line, column = key_marks[tuple(loc)]
        return Issue(doc.path, line, column, message)
    return doc.issue(loc, message)


# --- reference checks ------------------------------------------------------------------------


class _References:
    """Cross-references within one file, checked piece by piece.

    One broken state or trigger must not hide the mistakes in the others.
    """

    def __init__(
        self,
        doc: Document,
        key_marks: Mapping[PathKey, tuple[int, int]],
        data: dict[str, Any],
        lines: list[str],
    ) -> None:
        self.doc = doc
        self.lines = lines
        self.key_marks = key_marks
        self.data = data
        self.issues: list[Issue] = []
        self.trigger_guards: dict[str, tuple[CompiledCondition, ...]] = {}
        self.timer_conditions: dict[str, tuple[CompiledCondition, ...]] = {}
        self.states = _mapping(data.get("states"))
        self.roles = set(_mapping(data.get("roles")))
        self.facts: dict[str, FactDefinition] = {}
        self.broken_facts: set[str] = set()
        for name, raw in _mapping(data.get("facts")).items():
            fact = _valid(FactDefinition, raw)
            if fact is None:
                self.broken_facts.add(str(name))
            else:
                self.facts[str(name)] = fact
        self.checks: dict[str, PathKey] = {}
        self.timers: list[tuple[str, int, TimerDefinition]] = []
        self.timer_locs: dict[str, PathKey] = {}
        self.triggers: list[tuple[int, TriggerDefinition]] = []

    def issue(self, loc: Sequence[str | int], message: str, *, at_key: bool = False) -> None:
        self.issues.append(_issue(self.doc, self.key_marks, loc, message, at_key=at_key))

    def place(self, loc: Sequence[str | int]) -> str:
        return f"line {self.doc.place(loc)[0]}"

    def run(self) -> list[Issue]:
        self._collect()
        self._check_facts()
        self._check_initial()
        for index, trig in self.triggers:
            self._check_trigger(index, trig)
        for state, index, timer in self.timers:
            self._check_timer(state, index, timer)
        return self.issues

    def _collect(self) -> None:
        for state, raw_state in self.states.items():
            state_map = _mapping(raw_state)
            for index, raw in enumerate(_sequence(state_map.get("checklist"))):
                check = _valid(CheckDefinition, raw)
                if check is None:
                    continue
                loc: PathKey = ("states", state, "checklist", index, "id")
                if check.id in self.checks:
                    self.issue(
                        loc,
                        f"duplicate check id {check.id!r}: also used at "
                        f"{self.place(self.checks[check.id])}; check ids are unique in a process",
                    )
                else:
                    self.checks[check.id] = loc
            for index, raw in enumerate(_sequence(state_map.get("timers"))):
                timer = _valid(TimerDefinition, raw)
                if timer is None:
                    continue
                loc = ("states", state, "timers", index, "id")
                if timer.id in self.timer_locs:
                    self.issue(
                        loc,
                        f"duplicate timer id {timer.id!r}: also used at "
                        f"{self.place(self.timer_locs[timer.id])}; timer ids are unique in a "
                        "process",
                    )
                    continue
                self.timer_locs[timer.id] = loc
                self.timers.append((str(state), index, timer))
        trigger_ids: dict[str, int] = {}
        for index, raw in enumerate(_sequence(self.data.get("triggers"))):
            trig = _valid(TriggerDefinition, raw)
            if trig is None:
                continue
            if trig.id in trigger_ids:
                self.issue(
                    ("triggers", index, "id"),
                    f"duplicate trigger id {trig.id!r}: also used at "
                    f"{self.place(('triggers', trigger_ids[trig.id], 'id'))}",
                )
                continue
            trigger_ids[trig.id] = index
            self.triggers.append((index, trig))

    def _check_facts(self) -> None:
        for name in _mapping(self.data.get("facts")):
            if name in RESERVED_NAMES:
                self.issue(
                    ("facts", name),
                    f"fact {name!r} uses a reserved name (guards read {name} from the engine: "
                    f"{', '.join(sorted(RESERVED_NAMES))}); choose another name",
                    at_key=True,
                )
            elif name in CEL_KEYWORDS or name in CEL_TYPE_NAMES:
                self.issue(
                    ("facts", name),
                    f"fact {name!r} is a word of the guard language (CEL); choose another name",
                    at_key=True,
                )

    def _check_initial(self) -> None:
        initial = self.data.get("initial")
        if isinstance(initial, str) and self.states and initial not in self.states:
            self.issue(("initial",), self._unknown("state", initial, self.states))

    def _unknown(self, what: str, name: str, known: Iterable[Any]) -> str:
        names = {str(k) for k in known}
        plural = {
            "state": "states",
            "role": "roles",
            "check": "checks",
            "fact": "facts",
            "trigger": "triggers",
        }[what]
        return f"unknown {what} {name!r}" + suggest(name, names, what=plural)

    def _check_trigger(self, index: int, trig: TriggerDefinition) -> None:
        base: PathKey = ("triggers", index)
        if isinstance(trig.source, list):
            for j, source in enumerate(trig.source):
                if self.states and source not in self.states:
                    self.issue((*base, "source", j), self._unknown("state", source, self.states))
        if self.states and trig.dest is not None and trig.dest not in self.states:
            self.issue((*base, "dest"), self._unknown("state", trig.dest, self.states))
        for j, role in enumerate(trig.roles):
            if role not in self.roles:
                self.issue((*base, "roles", j), self._unknown("role", role, self.roles))
        for j, check in enumerate(trig.requires_checks):
            if check not in self.checks:
                message = self._unknown("check", check, self.checks)
                self.issue((*base, "requires_checks", j), message)
        for j, fact in enumerate(trig.requires_facts):
            if fact not in self.facts and fact not in self.broken_facts:
                self.issue((*base, "requires_facts", j), self._unknown("fact", fact, self.facts))
        self.trigger_guards[trig.id] = self._compile(trig.guards, (*base, "guards"))

    def _check_timer(self, state: str, index: int, timer: TimerDefinition) -> None:
        base: PathKey = ("states", state, "timers", index)
        known = {t.id for _, t in self.triggers}
        if timer.fire is not None and timer.fire not in known:
            self.issue((*base, "fire"), self._unknown("trigger", timer.fire, known))
        if timer.escalate is not None and timer.escalate.to_role not in self.roles:
            self.issue(
                (*base, "escalate", "to_role"),
                self._unknown("role", timer.escalate.to_role, self.roles),
            )
        self.timer_conditions[timer.id] = self._compile(timer.when, (*base, "when"))

    def _compile(self, conditions: Sequence[Any], base: PathKey) -> tuple[CompiledCondition, ...]:
        compiled = []
        for j, cond in enumerate(conditions):
            loc: PathKey = (*base, j, "expr")
            try:
                compiled.append(compile_condition(cond, facts=self.facts, checks=self.checks))
            except ExpressionProblem as problem:
                if any(_mentions(cond.expr, name) for name in self.broken_facts):
                    continue  # the fact's own error is reported; its guards cannot be typed
                self.issues.append(self._expression_issue(loc, cond.expr, problem))
        return tuple(compiled)

    def _expression_issue(self, loc: PathKey, expr: str, problem: ExpressionProblem) -> Issue:
        """Place the problem on the offending character when the expression sits on one line."""
        line, column = self.doc.place(loc)
        if "\n" not in expr and 0 < line <= len(self.lines):
            rest = self.lines[line - 1][column - 1 :]
            if rest[:1] in ("'", '"') and rest[1:].startswith(expr):
                column += 1  # point inside the quotes, at the expression itself
            elif not rest.startswith(expr):
                return Issue(self.doc.path, line, column, problem.message)
            if problem.line == 1 and problem.column is not None:
                column += problem.column - 1
        return Issue(self.doc.path, line, column, problem.message)


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
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
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


def _mentions(expr: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", expr) is not None


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _valid(model: type[_Model], raw: Any) -> _Model | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None
