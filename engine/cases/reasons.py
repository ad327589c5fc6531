"""What a person said with an event, beyond what it did: the note given with a step, and the
reason given for a deliberate repeat, an amendment, a waiver, a legal hold or a purge.

Owns reading them from an event's body (its opened personal part and its plain data), so that
`cme case show`, audit replay and export all show the same words. A reason about the family is
personal data: it is shown only where the personal part was opened for a reader whose role may
read case records (`read_case`); elsewhere it is withheld. Does not decide who may read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.cases.events import EventBody, Note, is_sealed


def said_with(body: EventBody) -> dict[str, str]:
    """`note` and `reason` of an event, where it has them. What is sealed in a personal part
    not opened for this reader (or withheld from it) is left out.
    """
    out: dict[str, str] = {}
    # A legal hold's, a purge's, a calendar reload's reason, and why a case was opened although
    # the child seemed to have one, are kept in the plain part.
    plain = getattr(body, "reason", None) or getattr(body, "override_reason", None)
    if isinstance(plain, str) and plain:
        out["reason"] = plain
    part: Any = body.personal
    if part is None:
        return out
    if not isinstance(part, Mapping) or is_sealed(part):
        return out
    personal: Mapping[str, Any] = part
    note = personal.get("last_note")
    if note and not isinstance(body, Note):  # a note's text is the event itself
        out["note"] = str(note)
    reasons = [str(personal["reason"])] if personal.get("reason") else []
    waived = personal.get("waiver_reasons")
    if isinstance(waived, Mapping):
        reasons += [str(r) for r in waived.values() if r]
    if reasons:
        out["reason"] = "; ".join(reasons)
    return out
