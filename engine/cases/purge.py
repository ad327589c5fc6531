"""Purging a closed case's personal data under the retention rules, and legal hold.

Owns finding the cases a rule makes due, purging one (a `purge` event naming who, when and which
rule; the case key destroyed; filed letters emptied) and placing or releasing a legal hold, which
a purge always refuses. Never deletes a case or an event: the history stays and still verifies.
The rules themselves are `engine/protection/retention.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from engine.cases.projection import CaseState, EventKind, as_date
from engine.cases.service import Actor, CaseService, CommandResult
from engine.errors import CommandRefused, InputError
from engine.protection.access import Permission, require
from engine.protection.retention import RetentionPolicy, RetentionRuleDefinition, purge_after
from engine.store.tables import case_key_table, case_table, document_table


class LegalHoldRefused(CommandRefused):
    """A purge (or a second hold, or a release) that a legal hold's state does not allow."""


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
        return {
            "case_id": self.case_id,
            "process": self.process_id,
            "closed_on": self.closed_on.isoformat(),
            "rule": self.rule,
            "purge_after": self.purge_after.isoformat(),
            "legal_hold": self.legal_hold,
        }


@dataclass
class RetentionReport:
    """What applying the rules did (or, on a dry run, would do)."""

    on: dt.date
    dry_run: bool
    purged: list[RetentionCandidate] = field(default_factory=list)
    held: list[RetentionCandidate] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "on": self.on.isoformat(),
            "dry_run": self.dry_run,
            "purged": [c.as_dict() for c in self.purged],
            "held": [c.as_dict() for c in self.held],
        }


def due_for_purge(
    service: CaseService,
    policy: RetentionPolicy,
    *,
    on: dt.date,
    actor: Actor,
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
        select(
            case_table.c.id,
            case_table.c.process_id,
            case_table.c.closed_on,
            case_table.c.legal_hold,
        )
        .where(
            case_table.c.terminal.is_(True),
            case_table.c.closed_on.is_not(None),
            case_table.c.id.not_in(purged),
        )
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
            out.append(
                RetentionCandidate(
                    row.id, row.process_id, closed, rule.id, last, bool(row.legal_hold)
                )
            )
    return out


def apply_retention(
    service: CaseService,
    policy: RetentionPolicy,
    *,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
    dry_run: bool = False,
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
    service: CaseService,
    case_id: str,
    rule: RetentionRuleDefinition,
    *,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
) -> CommandResult:
    """Purge one case in one transaction: the purge event, the key destroyed, letters emptied.

    Refused (nothing written) if the case is open, on legal hold, already purged, or its
    retention period has not run out on `on`.
    """
    require(actor, Permission.admin, table=service.roles)

    def allowed(case: CaseState) -> None:
        if case.legal_hold:
            raise LegalHoldRefused(
                f"case {case.id} is on legal hold; it is never purged while "
                "held (`cme admin release` lifts the hold)"
            )
        if not case.terminal or case.closed_on is None:
            raise InputError(f"case {case.id} is open ({case.state}); only closed cases are purged")
        last = purge_after(case.closed_on, rule.closed_more_than_years)
        if on <= last:
            raise InputError(
                f"case {case.id} closed on {case.closed_on.isoformat()}; under "
                f"{rule.id} it is kept until {last.isoformat()}"
            )

    with service.batch() as conn:
        if service.keys.destroyed(conn, case_id):
            raise InputError(f"case {case_id}'s personal data was already purged")
        cleared = conn.execute(
            update(document_table)
            .where(document_table.c.case_id == case_id)
            .values(content=b"", filename="[purged]")
        ).rowcount
        result = service.append_admin(
            case_id,
            EventKind.purge,
            check=allowed,
            on=on,
            at=at,
            actor=actor,
            data={
                "rule": rule.id,
                "reason": rule.says,
                "source": rule.source,
                "closed_more_than_years": rule.closed_more_than_years,
                "documents_emptied": cleared,
            },
            rule=f"retention {rule.id}: {rule.source}",
        )
        # Checked again under the case's lock: two purges racing leave one purge event.
        if not service.keys.destroy(
            conn,
            case_id,
            at=at,
            by=f"{actor.name} ({actor.role})",
            reason=f"retention rule {rule.id}",
        ):
            raise InputError(f"case {case_id}'s personal data was already purged")
        # Its blind-index entries go with the key: nothing may find the case by the child now.
        from engine.cases.case_index import forget_case

        forget_case(conn, case_id)
    return result


def place_hold(
    service: CaseService,
    case_id: str,
    *,
    reason: str,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
) -> CommandResult:
    """Put a case on legal hold (e.g. litigation, an inquiry): no purge will touch it."""
    return _set_hold(service, case_id, True, reason=reason, on=on, at=at, actor=actor)


def release_hold(
    service: CaseService,
    case_id: str,
    *,
    reason: str,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
) -> CommandResult:
    """Lift a legal hold; the case's retention rule applies again from then on."""
    return _set_hold(service, case_id, False, reason=reason, on=on, at=at, actor=actor)


def _set_hold(
    service: CaseService,
    case_id: str,
    hold: bool,
    *,
    reason: str,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
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
            raise LegalHoldRefused(
                f"case {case_id}'s personal data was already purged; a hold cannot bring it back"
            )
        return service.append_admin(
            case_id,
            EventKind.legal_hold,
            check=allowed,
            on=on,
            at=at,
            actor=actor,
            data={"hold": hold, "reason": reason.strip()},
            rule="legal hold placed" if hold else "legal hold released",
        )


__all__ = [
    "LegalHoldRefused",
    "RetentionCandidate",
    "RetentionReport",
    "apply_retention",
    "due_for_purge",
    "place_hold",
    "purge_case",
    "release_hold",
]
