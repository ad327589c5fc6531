"""The event log's declared shape: the stored event, one frozen model per event kind, the payload
format version, and the upgrades from older formats applied on read.

A stored payload is `{"v": FORMAT, "data": {...}, "personal": {...}}`: `data` is the kind's
model (below), `personal` the family's data (sealed by `engine.protection.crypto` when written).
Payloads written before formats were stamped have no `"v"`: they are format 1. The hash covers
the payload exactly as stored, so an old event is never rewritten: `CaseEvent.payload` keeps the
stored dict, and `CaseEvent.body` is the typed model read from it through the upgrade chain.

To add an event kind: add it to `EventKind`, write its model (a frozen, kw_only subclass of
`EventBody` whose fields are the `data` keys), list it in `BODIES`, and teach `projection.apply`
what it does to a case (or nothing). Old payloads are untouched.

To change a kind's shape: bump `event_formats.FORMAT` to N+1, change the model, and add to
`event_formats.UPGRADES` the function taking a format-N payload to format N+1 (a new dict; never
mutate the stored one). Reading runs every upgrade from the stored format up, so each function
knows only its neighbour.

Writers build the model, seal its personal part and store `body.payload()` (stamped with today's
format); `check_body` validates one with pydantic (types, no unknown keys). The models are frozen
dataclasses, not pydantic models, and reading builds them without validation (`body_of`):
pydantic validation measured ~4x the cost of this build, and verify reads millions of events.

The kinds and their models live in `engine.cases.event_bodies`, re-exported here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.cases import event_formats as formats
from engine.cases.event_bodies import (
    BODIES,
    Action,
    CaseAssigned,
    CheckRecorded,
    CheckWaived,
    DeadlineMove,
    DeadlineMoved,
    Escalation,
    EventBody,
    EventKind,
    FactChanged,
    LegalHold,
    LetterFiled,
    Migration,
    Note,
    NotificationLinked,
    Opened,
    Personal,
    Purge,
    Sealed,
    StepTaken,
    TimerFired,
    TimerLapsed,
)
from engine.cases.event_formats import FORMAT, FORMAT_KEY, UPGRADES, builder, upgraded

GENESIS_HASH = "0" * 64


_MAKERS = {kind: builder(cls) for kind, cls in BODIES.items()}


def body_of(kind: EventKind, payload: Mapping[str, Any]) -> EventBody:
    """The typed model of a stored payload (upgraded first). Unknown `data` keys raise."""
    if payload.get(FORMAT_KEY, 1) not in formats.READ_AS_IS:
        payload = upgraded(payload)
    return _MAKERS[kind](payload.get("data") or {}, payload.get("personal"))


_ADAPTERS: dict[type[EventBody], Any] = {}


def _adapter(cls: type[EventBody]) -> Any:
    """The pydantic validator of a model, built on first use (the read path never needs one)."""
    from pydantic import ConfigDict, TypeAdapter

    if cls not in _ADAPTERS:
        # Stdlib dataclasses and TypedDicts take their pydantic config from this attribute.
        # Strict, so nothing is coerced: what is validated is exactly what will be written.
        for nested in (Action, DeadlineMove, Sealed):
            setattr(nested, "__pydantic_config__", ConfigDict(extra="forbid"))  # noqa: B010
        cls.__pydantic_config__ = ConfigDict(  # type: ignore[attr-defined]
            extra="forbid", strict=True, revalidate_instances="always"
        )
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def check_body(kind: EventKind, payload: Mapping[str, Any]) -> EventBody:
    """The model of a payload, validated in full with pydantic (keys, and types without any
    coercion); raises TypeError or `pydantic.ValidationError`. For writers and tests.
    """
    current = upgraded(payload)
    body = BODIES[kind](**(current.get("data") or {}), personal=current.get("personal"))
    _adapter(type(body)).validate_python(body)
    return body  # the writer's own values (strict validation changed none of them)


# -- the stored event ----------------------------------------------------------------------


def is_sealed(part: Any) -> bool:
    """Whether a payload's personal part is sealed by `engine.protection.crypto` (`{"enc": …,
    "key": …}`).
    """
    # Not `set(part) == {...}`: two sets built per event were a tenth of `apply` in verify.
    return isinstance(part, dict) and len(part) == 2 and "enc" in part and "key" in part


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the exact text stored and hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class _Body:
    """`CaseEvent.body`, read once per event and kept in its `__dict__` (which shadows this
    non-data descriptor afterwards). Unlike `functools.cached_property` on Python 3.11 it
    takes no lock, which verify would pay on every one of millions of events.
    """

    def __get__(self, ev: CaseEvent | None, owner: type[CaseEvent]) -> EventBody:
        if ev is None:
            raise AttributeError("body is read from an event, not from CaseEvent")
        payload: Mapping[str, Any] = ev.payload  # body_of, inlined: verify reads millions of bodies
        if payload.get(FORMAT_KEY, 1) not in formats.READ_AS_IS:
            payload = upgraded(payload)
        body = _MAKERS[ev.kind](payload.get("data") or {}, payload.get("personal"))
        ev.__dict__["body"] = body
        return body


@dataclass(frozen=True)
class CaseEvent:
    """One event of a case's history, as stored; `body` is its payload as a typed model."""

    case_id: str
    seq: int
    effective_date: dt.date
    recorded_at: dt.datetime
    actor: str
    role: str
    kind: EventKind
    payload: dict[str, Any]
    """As stored (and hashed): never re-serialised in another shape."""
    process_id: str
    process_version: int
    rule: str | None
    prev_hash: str
    hash: str = ""

    body = _Body()
    """The payload as its kind's model, upgraded from the format it was written in."""

    def content(self) -> dict[str, Any]:
        """Everything the hash covers (all fields but the hash itself)."""
        return {
            "case_id": self.case_id,
            "seq": self.seq,
            "effective_date": self.effective_date.isoformat(),
            "recorded_at": _utc_iso(self.recorded_at),
            "actor": self.actor,
            "role": self.role,
            "kind": str(self.kind),
            "payload": self.payload,
            "process_id": self.process_id,
            "process_version": self.process_version,
            "rule": self.rule,
        }

    def compute_hash(self) -> str:
        """SHA-256 over the previous event's hash and this event's canonical content."""
        digest = hashlib.sha256(self.prev_hash.encode())
        digest.update(canonical_json(self.content()).encode())
        return digest.hexdigest()

    def sealed(self) -> CaseEvent:
        """The same event with its hash filled in."""
        return replace(self, hash=self.compute_hash())


def _utc_iso(value: dt.datetime) -> str:
    # Databases differ in whether they keep tzinfo; hash the same instant the same way.
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def as_date(value: Any) -> dt.date:
    """A stored date as a date (SQLite may give text, a timestamp column a datetime)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def event_from_row(row: Any) -> CaseEvent:
    """An event as read back from its stored row (a mapping or SQLAlchemy Row)."""
    m = row._mapping if hasattr(row, "_mapping") else row
    return CaseEvent(
        case_id=m["case_id"],
        seq=m["seq"],
        effective_date=as_date(m["effective_date"]),
        recorded_at=m["recorded_at"],
        actor=m["actor"],
        role=m["role"],
        kind=EventKind(m["kind"]),
        payload=json.loads(m["payload"]),
        process_id=m["process_id"],
        process_version=m["process_version"],
        rule=m["rule"],
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )


def event_to_row(ev: CaseEvent) -> dict[str, Any]:
    """The stored row of an event: the payload as canonical JSON, exactly the text hashed."""
    recorded = ev.recorded_at
    recorded = recorded.replace(tzinfo=dt.UTC) if recorded.tzinfo is None else recorded
    return {
        "case_id": ev.case_id,
        "seq": ev.seq,
        "effective_date": ev.effective_date,
        "recorded_at": recorded,
        "actor": ev.actor,
        "role": ev.role,
        "kind": str(ev.kind),
        "payload": canonical_json(ev.payload),
        "process_id": ev.process_id,
        "process_version": ev.process_version,
        "rule": ev.rule,
        "prev_hash": ev.prev_hash,
        "hash": ev.hash,
    }


__all__ = [
    "BODIES",
    "FORMAT",
    "GENESIS_HASH",
    "UPGRADES",
    "Action",
    "CaseAssigned",
    "CaseEvent",
    "CheckRecorded",
    "CheckWaived",
    "DeadlineMove",
    "DeadlineMoved",
    "Escalation",
    "EventBody",
    "EventKind",
    "FactChanged",
    "LegalHold",
    "LetterFiled",
    "Migration",
    "Note",
    "NotificationLinked",
    "Opened",
    "Personal",
    "Purge",
    "Sealed",
    "StepTaken",
    "TimerFired",
    "TimerLapsed",
    "as_date",
    "body_of",
    "canonical_json",
    "check_body",
    "event_from_row",
    "event_to_row",
    "is_sealed",
    "upgraded",
]
