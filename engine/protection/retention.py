"""Retention rules: how long each process's closed cases keep their personal data.

Owns the rules file (`processes/retention.yaml`, `kind: retention`), which rule governs a
process, and the last day of a rule's period. Does not own finding the cases due, purging one or
legal hold (the commands in `engine/cases/purge.py`), the key handling (`crypto.py`) or the
access check (`access.py`).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.errors import DefinitionError, Issue, suggest
from engine.language.definition import Identifier
from engine.language.yamlsafe import load_yaml, pydantic_issues

RETENTION_FILE = "retention.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, str_strip_whitespace=True
    )


class RetentionRuleDefinition(_Strict):
    """One retention rule: cases of these processes, closed more than N years ago, are purged."""

    id: Identifier
    title: str = Field(min_length=1)
    processes: list[Identifier] | None = None
    """Process ids the rule covers; omitted means every process."""
    closed_more_than_years: int = Field(ge=1, le=100)
    """Purge once the case has been closed for more than this many years."""
    says: str = Field(min_length=1)
    """The rule in words, recorded on every purge it causes."""
    source: str = Field(min_length=1)
    """Where the period comes from (the LA's retention schedule, a statute …)."""


class RetentionDefinition(_Strict):
    """The retention file (`kind: retention`)."""

    kind: Literal["retention"]
    version: int = Field(ge=1)
    rules: list[RetentionRuleDefinition] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> RetentionDefinition:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(dupes)}")
        return self


@dataclass(frozen=True)
class RetentionPolicy:
    """The loaded rules, answering which rule governs a process."""

    definition: RetentionDefinition
    source: str

    def rule_for(self, process_id: str) -> RetentionRuleDefinition | None:
        """The rule that governs a process: the longest period among those naming it.

        Where two rules cover one process the longer keeps the data: the safe side when a purge
        cannot be undone.
        """
        rules = [
            r for r in self.definition.rules if r.processes is None or process_id in r.processes
        ]
        return max(rules, key=lambda r: r.closed_more_than_years, default=None)

    def check_processes(self, known: Iterable[str]) -> list[Issue]:
        """An issue for each process a rule names that is not loaded (a typo purges nothing)."""
        known = set(known)
        issues = []
        for i, rule in enumerate(self.definition.rules):
            for j, pid in enumerate(rule.processes or []):
                if pid not in known:
                    issues.append(
                        Issue(
                            self.source,
                            1,
                            1,
                            f"rules.{i}.processes.{j}: no process {pid!r}"
                            + suggest(pid, known, what="processes"),
                        )
                    )
        return issues


def parse_retention(text: str, path: str) -> RetentionPolicy:
    """Validate retention-rule text; one DefinitionError with every issue and its place."""
    doc = load_yaml(text, path)
    if not isinstance(doc.data, dict):
        raise DefinitionError(
            [doc.issue((), "a retention file is a mapping: kind, version, rules")]
        )
    try:
        definition = RetentionDefinition.model_validate(doc.data)
    except ValidationError as exc:
        raise DefinitionError(pydantic_issues(doc, exc.errors())) from None
    return RetentionPolicy(definition, source=path)


def load_retention(path: str | os.PathLike[str] | None = None) -> RetentionPolicy:
    """The rules at `path`, or the shipped `processes/retention.yaml`."""
    if path is None:
        return shipped_retention()
    label = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(
            [Issue(label, 1, 1, f"cannot read the retention rules: {exc}")]
        ) from None
    return parse_retention(text, label)


@functools.cache
def shipped_retention() -> RetentionPolicy:
    """The shipped retention rules (read once)."""
    text = resources.files("processes").joinpath(RETENTION_FILE).read_text(encoding="utf-8")
    return parse_retention(text, f"processes/{RETENTION_FILE}")


def purge_after(closed_on: dt.date, years: int) -> dt.date:
    """The last day of the retention period: `years` after closure (29 Feb counts as 28 Feb)."""
    try:
        return closed_on.replace(year=closed_on.year + years)
    except ValueError:
        return closed_on.replace(year=closed_on.year + years, day=28)


__all__ = [
    "RETENTION_FILE",
    "RetentionDefinition",
    "RetentionPolicy",
    "RetentionRuleDefinition",
    "load_retention",
    "parse_retention",
    "purge_after",
    "shipped_retention",
]
