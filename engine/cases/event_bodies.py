"""The declared shape of every event kind's payload: `EventKind`, the nested shapes (TypedDicts),
one frozen model per kind (`EventBody` and its subclasses) and `BODIES`, the model of each kind.

Re-exported from `engine.cases.events`, whose docstring says how to add a kind or change a shape;
reading, validating and storing events stay there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, NotRequired

# pydantic reads TypedDicts only from typing_extensions before Python 3.12.
from typing_extensions import TypedDict

from engine.cases.event_formats import FORMAT, FORMAT_KEY, data_fields


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
