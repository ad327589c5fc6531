"""The live RAG rating rules (policy section 6): their YAML model, loader and evaluation.

Owns `processes/rag.yaml` (`kind: rag`): strict pydantic models, loading with every problem placed
at `path:line:column`, CEL conditions compiled and type-checked at load against the facts of the
rated processes, and rating one case from its facts and measures. Does not own which cases are
rated or how their measures are computed (`rag_report.py`).

A rule is a condition, a colour and a reason. A case's colour is the worst colour of the rules it
meets (red, then amber, then green), or `otherwise` when it meets none; every rule it meets is
given as a reason. A fact a case does not have (not declared by its process, or not recorded) is
"not set", and a condition that reads it does not hold.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from engine.errors import DefinitionError, Issue
from engine.language.definition import (
    RESERVED_NAMES,
    Condition,
    FactDefinition,
    FactType,
    Identifier,
    SourceDefinition,
    Strict,
)
from engine.language.expressions import (
    CompiledCondition,
    ExpressionProblem,
    compile_condition,
    guard_context,
)
from engine.language.yamlsafe import Document, load_yaml, pydantic_issues

RAG_FILE = "rag.yaml"
# Only plain {name} placeholders: str.format would let a rule reach attributes of values.
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class Colour(StrEnum):
    """A RAG colour; red is the most urgent."""

    red = "red"
    amber = "amber"
    green = "green"


SEVERITY = {Colour.red: 0, Colour.amber: 1, Colour.green: 2}

MEASURES: dict[str, FactDefinition] = {
    "weeks_out_of_education": FactDefinition(
        type=FactType.int,
        description="Whole weeks since the date of last attendance (else since the case opened).",
    ),
    "days_out_of_education": FactDefinition(
        type=FactType.int,
        description="Calendar days since the date of last attendance (else since the case opened).",
    ),
    "weeks_since_notification": FactDefinition(
        type=FactType.int, description="Whole calendar weeks since Day 1 of the case."
    ),
    "outstanding_checks": FactDefinition(
        type=FactType.int,
        description="Checks the case still owes, from any stage it has entered (case show).",
    ),
    "escalated_checks": FactDefinition(
        type=FactType.int,
        description="Of those, the checks escalated: their window ended and nobody acted.",
    ),
    "state": FactDefinition(type=FactType.string, description="The case's stage id."),
    "process": FactDefinition(type=FactType.string, description="The case's process id."),
    "notification_text": FactDefinition(
        type=FactType.string,
        description=(
            "The notification's explanation, additional information and 'other' involvement "
            "details, lower-cased: for risks the form records only in words (section 3)."
        ),
    ),
}
"""Values the report computes for every rated case, readable by rules like facts."""


class RagRuleDefinition(Strict):
    """One rating rule: when its condition holds, the case is at least this colour, for a reason."""

    colour: Colour
    """red, amber or green."""
    when: Condition
    """A CEL condition over the case's facts, the measures and the thresholds."""
    because: str
    """Why the case has this colour, as the report prints it."""
    source: str | None = None
    """Where in the policy the rule comes from, e.g. "section 3" or "section 12"."""


class RagOtherwiseDefinition(Strict):
    """The colour and reason of a case that meets no rule."""

    colour: Colour = Colour.green
    because: str


class RagDefinition(Strict):
    """The live RAG rating: which processes' cases it rates and the rules that colour them."""

    kind: Literal["rag"]
    """Marks the file as RAG rules (the process loader skips it)."""
    version: int = Field(ge=1)
    """Raise it whenever the rules change, so a report says which rules it used."""
    title: str
    source: SourceDefinition
    processes: list[Identifier] = Field(min_length=1)
    """The processes whose open cases are on the CME register and rated."""
    thresholds: dict[Identifier, int] = Field(default_factory=dict)
    """Named numbers rules compare with (e.g. `reintegration_target_weeks: 8`)."""
    extra_facts: dict[Identifier, FactDefinition] = Field(default_factory=dict)
    """Facts rules may read that the rated processes do not declare yet (not set on any case
    until a process declares them), e.g. `young_carer`."""
    rules: list[RagRuleDefinition] = Field(min_length=1)
    otherwise: RagOtherwiseDefinition
    questions: list[str] = Field(default_factory=list)
    """Where the policy leaves the rating open: the questions, for the policy owner."""


@dataclass(frozen=True)
class RagReason:
    """A rule a case met: its colour and reason."""

    colour: Colour
    because: str


@dataclass(frozen=True)
class RagRating:
    """A case's colour and every reason for it, most urgent first."""

    colour: Colour
    reasons: tuple[RagReason, ...]

    def explain(self) -> str:
        """The reasons in one line, e.g. "red: looked-after child; amber: EHC plan"."""
        return "; ".join(f"{r.colour}: {r.because}" for r in self.reasons)


@dataclass(frozen=True, eq=False)
class LoadedRag:
    """Validated RAG rules with their compiled conditions and the text they came from."""

    definition: RagDefinition
    path: str
    text: str
    content_hash: str
    conditions: tuple[CompiledCondition, ...]
    fact_defs: Mapping[str, FactDefinition]
    checks: frozenset[str]

    def rate(
        self,
        *,
        facts: Mapping[str, Any],
        measures: Mapping[str, Any],
        checks_done: Collection[str],
        case_day: int,
        state_day: int,
        on: dt.date,
        opened_on: dt.date,
    ) -> RagRating:
        """The colour of one case on `on`, with the reason of every rule it meets."""
        values: dict[str, Any] = {
            k: v for k, v in facts.items() if k in self.fact_defs and k not in MEASURES
        }
        values.update(measures)
        values.update(self.definition.thresholds)
        context = guard_context(
            facts=values,
            fact_defs=self.fact_defs,
            checks_done=checks_done,
            all_checks=self.checks,
            case_day=case_day,
            state_day=state_day,
            effective_date=on,
            opened_on=opened_on,
        )
        shown = {**measures, **self.definition.thresholds}
        met = [
            RagReason(rule.colour, _fill(rule.because, shown))
            for rule, cond in zip(self.definition.rules, self.conditions, strict=True)
            if cond.evaluate(context)
        ]
        if not met:
            other = self.definition.otherwise
            return RagRating(other.colour, (RagReason(other.colour, _fill(other.because, shown)),))
        met.sort(key=lambda r: SEVERITY[r.colour])
        return RagRating(met[0].colour, tuple(met))


def rated_facts(
    process_facts: Mapping[str, Mapping[str, FactDefinition]],
) -> tuple[dict[str, FactDefinition], list[str]]:
    """The facts of the rated processes merged by name, and each name declared with two types."""
    merged: dict[str, FactDefinition] = {}
    clashes: list[str] = []
    for process_id, facts in process_facts.items():
        for name, fact in facts.items():
            present = merged.get(name)
            if present is None:
                merged[name] = fact
            elif present.type != fact.type:
                clashes.append(
                    f"fact {name!r} is {present.type} in one rated process and {fact.type} in "
                    f"{process_id}; rules cannot read it with one type"
                )
    return merged, clashes


def load_rag_text(
    text: str,
    path: str,
    *,
    process_facts: Mapping[str, Mapping[str, FactDefinition]],
    process_checks: Collection[str] = (),
) -> LoadedRag:
    """Validate RAG rules against the facts of each process (by id); every problem at once."""
    doc = load_yaml(text, path)
    try:
        definition = RagDefinition.model_validate(doc.data)
    except ValidationError as exc:
        raise DefinitionError(pydantic_issues(doc, exc.errors())) from None
    issues: list[Issue] = []
    unknown = [p for p in definition.processes if p not in process_facts]
    for p in unknown:
        index = definition.processes.index(p)
        known = ", ".join(sorted(process_facts)) or "none"
        issues.append(doc.issue(("processes", index), f"no process {p!r} is loaded ({known})"))
    facts, clashes = rated_facts(
        {p: process_facts[p] for p in definition.processes if p in process_facts}
    )
    issues.extend(doc.issue(("processes",), c) for c in clashes)
    fact_defs = _rule_names(doc, definition, facts, issues)
    checks = frozenset(process_checks)
    compiled: list[CompiledCondition] = []
    for index, rule in enumerate(definition.rules):
        try:
            compiled.append(compile_condition(rule.when, facts=fact_defs, checks=checks))
        except ExpressionProblem as problem:
            loc: tuple[str | int, ...] = ("rules", index, "when")
            if isinstance(_at(doc.data, loc), dict):
                loc = (*loc, "expr")
            issues.append(doc.issue(loc, problem.message))
    if issues:
        raise DefinitionError(issues)
    return LoadedRag(
        definition=definition,
        path=path,
        text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        conditions=tuple(compiled),
        fact_defs=fact_defs,
        checks=checks,
    )


def load_rag(
    path: str | Path | None = None,
    *,
    process_facts: Mapping[str, Mapping[str, FactDefinition]],
    process_checks: Collection[str] = (),
) -> LoadedRag:
    """The RAG rules at `path`, or the shipped `processes/rag.yaml`."""
    if path is None:
        text = resources.files("processes").joinpath(RAG_FILE).read_text(encoding="utf-8")
        label = f"processes/{RAG_FILE}"
    else:
        label = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DefinitionError([Issue(label, 1, 1, "no such file")]) from None
        except UnicodeDecodeError as exc:
            raise DefinitionError(
                [Issue(label, 1, 1, f"not UTF-8 ({exc.reason} at byte {exc.start}); save as UTF-8")]
            ) from None
        except OSError as exc:
            raise DefinitionError([Issue(label, 1, 1, f"cannot read: {exc.strerror}")]) from None
    return load_rag_text(text, label, process_facts=process_facts, process_checks=process_checks)


def load_rag_for(registry: Iterable[Any], path: str | Path | None = None) -> LoadedRag:
    """The RAG rules checked against the facts and checks of every process in `registry`.

    Where versions of a process declare different facts, rules may read any of them (a later
    version's type wins).
    """
    facts: dict[str, dict[str, FactDefinition]] = {}
    checks: set[str] = set()
    for compiled in sorted(registry, key=lambda c: (c.definition.id, c.definition.version)):
        d = compiled.definition
        facts.setdefault(d.id, {}).update(d.facts)
        checks.update(d.checks())
    return load_rag(path, process_facts=facts, process_checks=checks)


def _rule_names(
    doc: Document,
    definition: RagDefinition,
    facts: dict[str, FactDefinition],
    issues: list[Issue],
) -> dict[str, FactDefinition]:
    """Everything a rule may read, typed: facts, extra facts, measures and thresholds."""
    names: dict[str, FactDefinition] = dict(facts)
    for name, fact in definition.extra_facts.items():
        if name in facts:
            issues.append(
                doc.issue(
                    ("extra_facts", name),
                    f"{name!r} is already a fact of a rated process; remove it from extra_facts",
                )
            )
        names[name] = fact
    for name, fact in MEASURES.items():
        if name in names:
            issues.append(
                doc.issue(
                    ("processes",),
                    f"fact {name!r} has the name of a measure the report computes; rename the fact",
                )
            )
        names[name] = fact
    for name in definition.thresholds:
        if name in names or name in RESERVED_NAMES:
            issues.append(
                doc.issue(
                    ("thresholds", name),
                    f"threshold {name!r} has the name of a fact or measure; choose another name",
                )
            )
            continue
        names[name] = FactDefinition(type=FactType.int, description=f"threshold {name}")
    return names


def _fill(text: str, values: Mapping[str, Any]) -> str:
    """`text` with each {name} of a known value replaced; anything else is left as written."""
    return _PLACEHOLDER.sub(
        lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text
    )


def _at(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        if isinstance(data, list) and isinstance(part, int) and part < len(data):  # noqa: SIM114 (list and dict take different keys)
            data = data[part]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


__all__ = [
    "Colour",
    "LoadedRag",
    "MEASURES",
    "RagDefinition",
    "RagRating",
    "RagReason",
    "load_rag",
    "load_rag_for",
    "load_rag_text",
]
