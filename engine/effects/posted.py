"""A filed letter marked posted: the check its letter records is recorded, with the letter as
its evidence, by the officer who posted it, on the day it went.

`cme outbox send` files a letter and records its check (`records_check`) at once. Marking it
posted does the same for a letter whose check was not recorded then — a letter queued before its
process named the check, or whose check the officer names (`check=`) — and refuses, saying when,
if the check is already recorded. Nothing is written on a refusal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from engine.cases.letter_checks import check_of_action
from engine.cases.service import Actor, CaseService
from engine.errors import InputError, UnknownCheck
from engine.store.tables import document_table, outbox_table


@dataclass(frozen=True)
class Posted:
    """What marking a letter posted did: the case, the check recorded, the event's number."""

    case_id: str
    check: str
    document_id: int
    seq: int


def mark_posted(
    service: CaseService,
    document_id: int,
    *,
    check: str | None = None,
    on: dt.date,
    at: dt.datetime,
    actor: Actor,
    expected_seq: int | None = None,
) -> Posted:
    """Record the check filed letter `document_id` records (or `check`), with the letter as
    its evidence; InputError if there is no such letter, it names no check, or the check is
    already recorded; the check's own refusals (role, closed case, date) as the engine's; and
    ConcurrentUpdate if the case is no longer at `expected_seq` (when given).
    """
    with service.store.read() as conn:
        doc = conn.execute(
            select(document_table.c.case_id, document_table.c.template, outbox_table)
            .join(outbox_table, outbox_table.c.id == document_table.c.outbox_id, isouter=True)
            .where(document_table.c.id == document_id)
        ).first()
    if doc is None:
        raise InputError(f"no document {document_id}; `cme outbox list` shows each letter's")
    case_id = str(doc.case_id)
    if check is None and doc.event_seq is not None:
        check = check_of_action(service.events(case_id), doc.event_seq, doc.position)
    if check is None:
        raise InputError(
            f"letter {document_id} ({doc.template}) names no check it records; say which with "
            "--check CHECK (e.g. --check first_formal_letter_sent)"
        )
    case = service.get(case_id)
    checks = service.checks_of(service.definition_for(case))
    if check not in checks:
        raise UnknownCheck(name=check, known=checks, process=case.process_id)
    if case.terminal:
        raise InputError(
            f"{case_id} is closed ({case.state}, on {case.closed_on}); a letter on it is not "
            "marked posted; nothing was written"
        )
    done = case.checks.get(check)
    if done is not None:
        evidence = done.get("document_id")
        raise InputError(
            f"{check} is already recorded on {case_id}, on {done['on']}"
            + (f", with document {evidence} as its evidence" if evidence is not None else "")
            + "; nothing was written"
        )
    result = service.record_letter_check(
        case_id,
        check,
        template=str(doc.template),
        document_id=document_id,
        on=on,
        at=at,
        actor=actor,
        expected_seq=expected_seq,
    )
    if result is None:  # closed meanwhile: the decision records nothing on a closed case
        raise InputError(f"{case_id} is closed; {check} was not recorded")
    return Posted(case_id=case_id, check=check, document_id=document_id, seq=result.event.seq)


__all__ = ["Posted", "mark_posted"]
