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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar, NotRequired

# pydantic reads TypedDicts only from typing_extensions before Python 3.12.
from typing_extensions import TypedDict

from engine.cases import event_formats as formats
from engine.cases.event_formats import FORMAT, FORMAT_KEY, UPGRADES, builder, data_fields, upgraded

GENESIS_HASH = "0" * 64


class EventKind(StrEnum):
    """What an event records."""

    opened = "opened"
    trigger = "trigger"
    check_recorded = "check_recorded"
    fact_changed = "fact_changed"
    note = "note"
    timer_fired = "timer_fired"
    timer_lapsed = "timer_lapsed"
    escalation = "escalation"
    migration = "migration"
    deadline_moved = "deadline_moved"
    purge = "purge"
    letter_filed = "letter_filed"
    """A letter was rendered and filed with the case; `apply` passes it through unchanged."""
    legal_hold = "legal_hold"
    """A legal hold placed (`hold: true`) or released; a held case is never purged."""
    check_waived = "check_waived"
    """A check waived, with a reason, by a role the process lets waive it: it is satisfied."""
    notification_linked = "notification_linked"
    """Another notification about the child of this open case, linked to it (no new case)."""
    assigned = "assigned"
    """The case given to another officer (`assigned_officer`); `apply` honours it."""


# -- nested shapes (TypedDicts: declared for readers and pydantic, free at run time) ----------


class Sealed(TypedDict):
    """A personal part sealed by `engine.protection.crypto`: ciphertext and the case key's id."""

    enc: str
    key: str


class Personal(TypedDict, total=False):
    """A personal part in the open (revealed, or written before sealing existed)."""

    child: dict[str, Any]
    parent_carer: dict[str, Any]
    notifier: dict[str, Any]
    involvement: dict[str, Any]
    explanation: str | None
    additional_information: str | None
    form_date: str
    facts: dict[str, Any]
    """Facts declared `personal: true`; merged entry by entry into the case's."""
    check_outcomes: dict[str, str]
    """What each check found; merged entry by entry into the case's."""
    last_note: str
    reason: str
    """Why a step was taken again the same day, or a check amended (the officer's words)."""
    earlier_outcomes: dict[str, list[str]]
    """What amended checks found before, oldest first, for every amended check of the case
    (written whole by each amendment, so it replaces the case's)."""
    waiver_reasons: dict[str, str]
    """Why each waived check was waived; merged entry by entry into the case's."""
    linked_notification: dict[str, Any]
    """The latest notification linked to the case (its child, family and notifier)."""


class Action(TypedDict):
    """An action a step asked for (a letter, a notification), as `ActionDefinition` dumps it."""

    kind: str
    to: str
    wording: str
    template: NotRequired[str]
    channel: NotRequired[str]
    records_check: NotRequired[str]


DeadlineMove = TypedDict(
    "DeadlineMove",
    {"timer": str, "key": str, "from": str, "to": str, "explanation": str | None},
)
"""One pending timer a calendar reload moved (`from`/`to` are ISO dates)."""


# -- one model per kind --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EventBody:
    """What an event says: its `data` keys as fields, and its personal part."""

    KINDS: ClassVar[tuple[EventKind, ...]] = ()
    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"assigned_officer"})
    """Fields written only when set (payloads never carried them as null)."""

    personal: Personal | Sealed | None = None
    """Not a `data` key: the payload's `personal` part, if it has one."""
    assigned_officer: str | None = None
    """A reassignment; `apply` honours it on any event (only `opened` writes one today)."""

    def data(self) -> dict[str, Any]:
        """The payload's `data` dict, as writers have always written it."""
        omit = self.OMIT_IF_NONE
        return {
            f.name: getattr(self, f.name)
            for f in data_fields(type(self))
            if not (f.name in omit and getattr(self, f.name) is None)
        }

    def payload(self) -> dict[str, Any]:
        """The whole payload to store (format `FORMAT`); `personal` must already be sealed."""
        out: dict[str, Any] = {FORMAT_KEY: FORMAT, "data": self.data()}
        if self.personal:
            out["personal"] = self.personal
        return out


@dataclass(frozen=True, kw_only=True)
class Opened(EventBody):
    """A case opened from a notification: its first stage, calendar, siblings and facts."""

    KINDS = (EventKind.opened,)
    OMIT_IF_NONE = frozenset(
        {"assigned_officer", "duplicate_of", "override_reason", "tracks_stages"}
    )
    state: str
    calendar: str
    sibling_group: str | None = None
    siblings: list[str] = field(default_factory=list)
    assigned_officer: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    stops_clock: bool = False
    actions: list[Action] = field(default_factory=list)
    duplicate_of: list[str] | None = None
    """Open cases the child seemed to match, opened anyway (`override_reason` says why)."""
    override_reason: str | None = None
    tracks_stages: bool | None = None
    """Whether the case keeps the stages it enters and when (`CaseState.progress`): every case
    opened since checks stay outstanding across stages; cases opened before do not."""


@dataclass(frozen=True, kw_only=True)
class StepTaken(EventBody):
    """An officer took a step (a trigger); `stays` marks an interrupt that leaves the stage."""

    KINDS = (EventKind.trigger,)
    OMIT_IF_NONE = frozenset({"assigned_officer", "stays", "clears", "deliberate"})
    trigger: str
    from_state: str
    to_state: str
    terminal: bool = False
    stops_clock: bool = False
    actions: list[Action] = field(default_factory=list)
    stays: bool | None = None
    clears: list[str] | None = None
    """Stages whose outstanding checks are no longer expected now (`clears_checks_of`)."""
    deliberate: bool | None = None
    """A step that keeps the stage taken again the same day on purpose (its reason is personal:
    `personal["reason"]`)."""


@dataclass(frozen=True, kw_only=True)
class TimerFired(StepTaken):
    """A timer took its step on its due date."""

    KINDS = (EventKind.timer_fired,)
    timer: str
    key: str
    explanation: str | None = None


@dataclass(frozen=True, kw_only=True)
class CheckRecorded(EventBody):
    """A check was made; what it found is personal (format-1 events may carry it as `outcome`)."""

    KINDS = (EventKind.check_recorded,)
    OMIT_IF_NONE = frozenset({"assigned_officer", "outcome", "document_id", "amends"})
    check: str
    wording: str | None = None
    outcome: str | None = None
    amends: dict[str, Any] | None = None
    """An amendment: the recording it amends (`seq`, `on`, `by`, `role`), which the case keeps
    under the check's `earlier`; its outcome moves to `personal["earlier_outcomes"]` and the
    reason is `personal["reason"]`."""
    document_id: int | None = None
    """The letter recorded as the check's evidence (a letter whose action `records_check`)."""


@dataclass(frozen=True, kw_only=True)
class FactChanged(EventBody):
    """A fact recorded: in the open with the value it replaces, or (`personal_fact`) sealed."""

    KINDS = (EventKind.fact_changed,)
    facts: dict[str, Any] | None = None
    previous: Any = None
    personal_fact: str | None = None

    def data(self) -> dict[str, Any]:
        """A personal fact names itself only; a plain one carries value and previous value."""
        if self.personal_fact is not None:
            out: dict[str, Any] = {"personal_fact": self.personal_fact}
        else:
            out = {"facts": self.facts or {}, "previous": self.previous}
        if self.assigned_officer is not None:
            out["assigned_officer"] = self.assigned_officer
        return out


@dataclass(frozen=True, kw_only=True)
class Note(EventBody):
    """A note (its text is personal: `personal["last_note"]`)."""

    KINDS = (EventKind.note,)


@dataclass(frozen=True, kw_only=True)
class TimerLapsed(EventBody):
    """A timer came due but its conditions no longer held (or its step was refused)."""

    KINDS = (EventKind.timer_lapsed,)
    timer: str
    key: str
    because: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Escalation(EventBody):
    """A timer escalated the case to a role. For a check (`check`, of `stage`), the case is
    overdue until the check is recorded, waived or cleared; otherwise (and in events written
    before checks were named), until it changes stage.
    """

    KINDS = (EventKind.escalation,)
    OMIT_IF_NONE = frozenset({"assigned_officer", "check", "stage"})
    timer: str
    key: str
    to_role: str
    message: str
    explanation: str | None = None
    check: str | None = None
    stage: str | None = None


@dataclass(frozen=True, kw_only=True)
class CheckWaived(EventBody):
    """A check waived by a role allowed to; the reason is personal (`waiver_reasons`)."""

    KINDS = (EventKind.check_waived,)
    check: str
    wording: str


@dataclass(frozen=True, kw_only=True)
class Migration(EventBody):
    """The case moved onto another version of its process; the state keys only if it re-enters
    a stage (`engine.cases.migration.migration_data`).
    """

    KINDS = (EventKind.migration,)
    OMIT_IF_NONE = frozenset(
        {"assigned_officer", "from_state", "to_state", "terminal", "stops_clock"}
    )
    from_version: int
    to_version: int
    mapping: str
    actions: list[Action] = field(default_factory=list)
    from_state: str | None = None
    to_state: str | None = None
    terminal: bool | None = None
    stops_clock: bool | None = None


@dataclass(frozen=True, kw_only=True)
class DeadlineMoved(EventBody):
    """A calendar reload moved the case's pending deadlines (who loaded it is recorded here)."""

    KINDS = (EventKind.deadline_moved,)
    calendar: str
    from_version: int | None
    to_version: int
    loaded_by: str
    loaded_by_role: str
    reason: str
    moved: list[DeadlineMove]


@dataclass(frozen=True, kw_only=True)
class Purge(EventBody):
    """The case's personal data was destroyed under a retention rule."""

    KINDS = (EventKind.purge,)
    rule: str
    reason: str
    source: str
    closed_more_than_years: int
    documents_emptied: int


@dataclass(frozen=True, kw_only=True)
class LetterFiled(EventBody):
    """A letter was rendered and filed with the case."""

    KINDS = (EventKind.letter_filed,)
    template: str
    template_version: str
    document_id: int
    outbox_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class LegalHold(EventBody):
    """A legal hold placed (`hold`) or released, and why."""

    KINDS = (EventKind.legal_hold,)
    hold: bool
    reason: str


@dataclass(frozen=True, kw_only=True)
class NotificationLinked(EventBody):
    """A notification about the case's child linked to the case (its data is personal); `how`
    says how the child matched (the same UPN; the same name and date of birth; a near match).
    """

    KINDS = (EventKind.notification_linked,)
    form_date: str
    how: str


@dataclass(frozen=True, kw_only=True)
class CaseAssigned(EventBody):
    """The case given to another officer (`assigned_officer`), from `from_officer`."""

    KINDS = (EventKind.assigned,)
    from_officer: str | None = None


BODIES: dict[EventKind, type[EventBody]] = {
    kind: cls
    for cls in (
        Opened,
        StepTaken,
        TimerFired,
        CheckRecorded,
        FactChanged,
        Note,
        TimerLapsed,
        Escalation,
        Migration,
        DeadlineMoved,
        Purge,
        LetterFiled,
        LegalHold,
        CheckWaived,
        NotificationLinked,
        CaseAssigned,
    )
    for kind in cls.KINDS
}
"""The model of each event kind's payload."""

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
