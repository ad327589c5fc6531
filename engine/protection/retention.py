"""Retention: which closed cases are due for purge, the audited purge itself, and legal hold.

Owns the retention rules (`processes/retention.yaml`, `kind: retention`), finding the cases a rule
makes due, purging one (a `purge` event naming who, when and which rule; the case key destroyed;
filed letters emptied) and placing or releasing a legal hold, which a purge always refuses. Never
deletes a case or an event: the history stays and still verifies. Does not own the key handling
itself (`crypto.py`) or the access check (`access.py`).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from engine.cases.projection import CaseState, EventKind, as_date
from engine.cases.service import Actor, CaseService, CommandResult
from engine.errors import CommandRefused, DefinitionError, InputError, Issue, suggest
from engine.language.definition import Identifier
from engine.language.yamlsafe import load_yaml, pydantic_issues
from engine.protection.access import Permission, require
from engine.store.tables import case_key_table, case_table, document_table

RETENTION_FILE = "retention.yaml"


class LegalHoldRefused(CommandRefused):
    """A purge (or a second hold, or a release) that a legal hold's state does not allow."""


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
        rules = [r for r in self.definition.rules if r.processes is None
                 or process_id in r.processes]
        return max(rules, key=lambda r: r.closed_more_than_years, default=None)

    def check_processes(self, known: Iterable[str]) -> list[Issue]:
        """An issue for each process a rule names that is not loaded (a typo purges nothing)."""
        known = set(known)
        issues = []
        for i, rule in enumerate(self.definition.rules):
            for j, pid in enumerate(rule.processes or []):
                if pid not in known:
                    issues.append(Issue(
                        self.source, 1, 1,
                        f"rules.{i}.processes.{j}: no process {pid!r}"
                        + suggest(pid, known, what="processes"),
                    ))
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
        raise DefinitionError([Issue(label, 1, 1, f"cannot read the retention rules: {exc}")]) \
            from None
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


@dataclass(frozen=True)
class RetentionCandidate:
    """A closed case a rule makes due for purge (or would, but for a legal hold)."""

    case_id: str
    process_id: str
    closed_on: dt.date
    rule: str
    purge_after: dt.date
    legal_hold: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"case_id": self.case_id, "process": self.process_id,
                "closed_on": self.closed_on.isoformat(), "rule": self.rule,
                "purge_after": self.purge_after.isoformat(), "legal_hold": self.legal_hold}


@dataclass
class RetentionReport:
    """What applying the rules did (or, on a dry run, would do)."""

    on: dt.date
    dry_run: bool
    purged: list[RetentionCandidate] = field(default_factory=list)
    held: list[RetentionCandidate] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"on": self.on.isoformat(), "dry_run": self.dry_run,
                "purged": [c.as_dict() for c in self.purged],
                "held": [c.as_dict() for c in self.held]}


def due_for_purge(
    service: CaseService, policy: RetentionPolicy, *, on: dt.date, actor: Actor,
) -> list[RetentionCandidate]:
    """Closed, not yet purged cases whose rule's period has run out by `on` (held ones flagged).

    Shows case numbers and dates, never personal data; needs the `admin` permission.
    """
    require(actor, Permission.admin, table=service.roles)
    with service.store.engine.connect() as conn:
        return _candidates(conn, policy, on=on)


def _candidates(
    conn: Connection, policy: RetentionPolicy, *, on: dt.date
) -> list[RetentionCandidate]:
    purged = select(case_key_table.c.case_id).where(case_key_table.c.destroyed_at.is_not(None))
    rows = conn.execute(
        select(case_table.c.id, case_table.c.process_id, case_table.c.closed_on,
               case_table.c.legal_hold)
        .where(case_table.c.terminal.is_(True), case_table.c.closed_on.is_not(None),
               case_table.c.id.not_in(purged))
        .order_by(case_table.c.closed_on, case_table.c.id)
    ).all()
    out = []
    for row in rows:
        rule = policy.rule_for(row.process_id)
        if rule is None:
            continue
        closed = as_date(row.closed_on)
        last = purge_after(closed, rule.closed_more_than_years)
        if on > last:
            out.append(RetentionCandidate(row.id, row.process_id, closed, rule.id, last,
                                          bool(row.legal_hold)))
    return out


def apply_retention(
    service: CaseService, policy: RetentionPolicy, *, on: dt.date, at: dt.datetime,
    actor: Actor, dry_run: bool = False,
) -> RetentionReport:
    """Purge every due case not on legal hold, each in its own transaction; held ones are listed.

    A dry run changes nothing and reports what a real run would purge.
    """
    require(actor, Permission.admin, table=service.roles)
    report = RetentionReport(on=on, dry_run=dry_run)
    for cand in due_for_purge(service, policy, on=on, actor=actor):
        if cand.legal_hold:
            report.held.append(cand)
            continue
        if not dry_run:
            rule = next(r for r in policy.definition.rules if r.id == cand.rule)
            try:
                purge_case(service, cand.case_id, rule, on=on, at=at, actor=actor)
            except LegalHoldRefused:
                # A hold placed between the listing and the purge wins.
                report.held.append(cand)
                continue
        report.purged.append(cand)
    return report


def purge_case(
    service: CaseService, case_id: str, rule: RetentionRuleDefinition, *, on: dt.date,
    at: dt.datetime, actor: Actor,
) -> CommandResult:
    """Purge one case in one transaction: the purge event, the key destroyed, letters emptied.

    Refused (nothing written) if the case is open, on legal hold, already purged, or its
    retention period has not run out on `on`.
    """
    require(actor, Permission.admin, table=service.roles)

    def allowed(case: CaseState) -> None:
        if case.legal_hold:
            raise LegalHoldRefused(f"case {case.id} is on legal hold; it is never purged while "
                                   "held (`cme admin release` lifts the hold)")
        if not case.terminal or case.closed_on is None:
            raise InputError(f"case {case.id} is open ({case.state}); only closed cases are "
                             "purged")
        last = purge_after(case.closed_on, rule.closed_more_than_years)
        if on <= last:
            raise InputError(f"case {case.id} closed on {case.closed_on.isoformat()}; under "
                             f"{rule.id} it is kept until {last.isoformat()}")

    with service.batch() as conn:
        if service.keys.destroyed(conn, case_id):
            raise InputError(f"case {case_id}'s personal data was already purged")
        cleared = conn.execute(
            update(document_table).where(document_table.c.case_id == case_id)
            .values(content=b"", filename="[purged]")
        ).rowcount
        result = service.append_admin(
            case_id, EventKind.purge, check=allowed, on=on, at=at, actor=actor,
            data={"rule": rule.id, "reason": rule.says, "source": rule.source,
                  "closed_more_than_years": rule.closed_more_than_years,
                  "documents_emptied": cleared},
            rule=f"retention {rule.id}: {rule.source}",
        )
        # Checked again under the case's lock: two purges racing leave one purge event.
        if not service.keys.destroy(conn, case_id, at=at, by=f"{actor.name} ({actor.role})",
                                    reason=f"retention rule {rule.id}"):
            raise InputError(f"case {case_id}'s personal data was already purged")
    return result


def place_hold(
    service: CaseService, case_id: str, *, reason: str, on: dt.date, at: dt.datetime,
    actor: Actor,
) -> CommandResult:
    """Put a case on legal hold (e.g. litigation, an inquiry): no purge will touch it."""
    return _set_hold(service, case_id, True, reason=reason, on=on, at=at, actor=actor)


def release_hold(
    service: CaseService, case_id: str, *, reason: str, on: dt.date, at: dt.datetime,
    actor: Actor,
) -> CommandResult:
    """Lift a legal hold; the case's retention rule applies again from then on."""
    return _set_hold(service, case_id, False, reason=reason, on=on, at=at, actor=actor)


def _set_hold(
    service: CaseService, case_id: str, hold: bool, *, reason: str, on: dt.date,
    at: dt.datetime, actor: Actor,
) -> CommandResult:
    require(actor, Permission.admin, table=service.roles)
    if not reason.strip():
        raise InputError("say why: --reason is required (it is kept in the case's history)")

    def allowed(case: CaseState) -> None:
        if case.legal_hold == hold:
            raise LegalHoldRefused(
                f"case {case.id} is {'already' if hold else 'not'} on legal hold; nothing changed"
            )

    with service.batch() as conn:
        if hold and service.keys.destroyed(conn, case_id):
            raise LegalHoldRefused(f"case {case_id}'s personal data was already purged; a hold "
                                   "cannot bring it back")
        return service.append_admin(
            case_id, EventKind.legal_hold, check=allowed, on=on, at=at, actor=actor,
            data={"hold": hold, "reason": reason.strip()},
            rule="legal hold placed" if hold else "legal hold released",
        )



__all__ = [
    "LegalHoldRefused",
    "RetentionCandidate",
    "RetentionPolicy",
    "RetentionReport",
    "apply_retention",
    "due_for_purge",
    "load_retention",
    "place_hold",
    "purge_case",
    "release_hold",
    "shipped_retention",
]
