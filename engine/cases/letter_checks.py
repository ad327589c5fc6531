"""The check a letter records when it is sent: an action's `records_check` (e.g. the 1st formal
letter records `first_formal_letter_sent`), recorded with the filed letter as its evidence.

Owns which action an outbox row came from (the event that queued it keeps the actions as the
version then in force wrote them) and the decision to record its check: on the same rules as an
officer recording it (`decide.record_check`: the sender's role, the date), by the actor who sent
the letter, in the transaction that files it. A check already recorded stays as it was (the
letter is still filed and shown in the history); so does one on a closed case, and a check the
version the case has since migrated to no longer has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from engine.cases import decide
from engine.cases.decide import Draft, Situation
from engine.cases.events import CaseEvent, CheckRecorded


def check_of_action(events: Sequence[CaseEvent], event_seq: int, position: int) -> str | None:
    """The check the action at `position` of event `event_seq` records when sent, if any."""
    for event in events:
        if event.seq != event_seq:
            continue
        actions = getattr(event.body, "actions", None) or []
        if 0 <= position < len(actions):
            check = actions[position].get("records_check")
            return str(check) if check else None
        return None
    return None


def letter_outcome(template: str, document_id: int) -> str:
    """What the check records it found: the letter, by template and document id."""
    return f"letter {template} sent (document {document_id})"


def record_letter_check(
    sit: Situation, check_id: str, *, template: str, document_id: int
) -> Draft | None:
    """The event recording `check_id` with letter `document_id` as its evidence; None if the
    check is already recorded, the case is closed or its version has no such check.
    """
    if sit.case.terminal or check_id in sit.case.checks or check_id not in sit.checks:
        return None  # closed, done already, or not a check of the version the case is now on
    draft = decide.record_check(sit, check_id, letter_outcome(template, document_id))
    assert isinstance(draft.body, CheckRecorded)
    return replace(draft, body=replace(draft.body, document_id=document_id))


__all__ = ["check_of_action", "letter_outcome", "record_letter_check"]
