"""What the officer's case page shows: `cme case show`'s summary (read and logged through
`case_summary`), the steps allowed now and why the others are not (`steps_now`), the facts one
may record, and the case's letters with the check each records.

Builds plain dicts for the template; decides nothing (every rule is the engine's).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from engine.cases.letter_checks import check_of_action
from engine.cases.step_preview import steps_now
from engine.cases.views import case_summary
from engine.protection.access import Actor, Permission
from engine.store.tables import document_table, outbox_table
from engine.web.context import Engine


def case_page(engine: Engine, case_id: str, *, actor: Actor, on: dt.date) -> dict[str, Any]:
    """Everything the case page shows about `case_id` on `on`, read as `actor`."""
    at = engine.now()
    summary = case_summary(engine.reader, case_id, on=on, actor=actor, at=at)
    may_change = engine.roles.allows(actor.role, Permission.change_case)
    page: dict[str, Any] = {"case": summary, "may_change": may_change}
    page["checks_now"] = summary["outstanding_checks"]
    page["steps"] = (
        steps_now(engine.service, case_id, actor=actor, on=on, at=at) if may_change else []
    )
    page["facts_declared"] = [] if summary["terminal"] else _facts_declared(engine, case_id)
    page["letters"] = letters_of(engine, case_id, summary)
    page["history_hidden"] = sum(1 for e in summary["history"] if e.get("not_needed"))
    return page


def _facts_declared(engine: Engine, case_id: str) -> list[dict[str, Any]]:
    """The facts the case's process declares that a person records (not the counted ones)."""
    service = engine.service
    definition = service.definition_for(service.get(case_id))
    return [
        {
            "name": name,
            "type": str(getattr(fact.type, "value", fact.type)),
            "description": fact.description,
            "values": list(fact.values or []),
        }
        for name, fact in sorted(definition.facts.items())
        if fact.derived is None
    ]


def letters_of(engine: Engine, case_id: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The case's filed letters (newest last), each with the check it records and whether that
    check is recorded yet; and the letters still waiting in the outbox.
    """
    service = engine.service
    with service.store.read() as conn:
        filed = conn.execute(
            select(
                document_table.c.id,
                document_table.c.template,
                document_table.c.filename,
                document_table.c.created_on,
                outbox_table.c.event_seq,
                outbox_table.c.position,
            )
            .join(outbox_table, outbox_table.c.id == document_table.c.outbox_id, isouter=True)
            .where(document_table.c.case_id == case_id)
            .order_by(document_table.c.id)
        ).all()
        waiting = conn.execute(
            select(outbox_table.c.id, outbox_table.c.template, outbox_table.c.status)
            .where(
                outbox_table.c.case_id == case_id,
                outbox_table.c.kind == "letter",
                outbox_table.c.status != "sent",
            )
            .order_by(outbox_table.c.id)
        ).all()
    events = service.events(case_id) if filed else []
    recorded = summary["checks_recorded"]
    out: list[dict[str, Any]] = []
    for row in filed:
        check = (
            check_of_action(events, row.event_seq, row.position)
            if row.event_seq is not None
            else None
        )
        if check is None:  # a letter whose check was named when it was marked posted
            check = next((c for c, d in recorded.items() if d.get("document_id") == row.id), None)
        out.append(
            {
                "document": row.id,
                "template": row.template,
                "filename": row.filename,
                "filed_on": row.created_on,
                "check": check,
                "recorded": recorded.get(check) if check else None,
            }
        )
    for pending in waiting:
        out.append({"outbox": pending.id, "template": pending.template, "status": pending.status})
    return out


def changed_since(summary: dict[str, Any], seq: int) -> list[dict[str, Any]]:
    """The history rows after event `seq`: what someone else did since a form was rendered."""
    return [e for e in summary["history"] if e["seq"] > seq]


__all__ = ["case_page", "changed_since", "letters_of"]
