"""Pydantic models of a process definition: what a `processes/*.yaml` file may say.

Owns the shape of the language and the checks one model can make on itself. Does not own reading
YAML (`loader.py`), graph checks across the file (`lint.py`), or guard compilation
(`expressions.py`). Field docstrings become the JSON Schema descriptions a policy owner sees.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from engine.language.outline import (
    CheckOutline,
    CountOutline,
    ProcessOutline,
    StateOutline,
    StepOutline,
)

ID_PATTERN = r"^[a-z][a-z0-9_]*$"

RESERVED_NAMES = frozenset({"checks", "case_day", "state_day", "effective_date", "opened_on"})
"""Names every guard may read besides the declared facts, so no fact may take them:
`checks` (map of check id -> recorded?), `case_day` (Day N of the case, int), `state_day`
(Day N since entering the current state, int), `effective_date` and `opened_on` (timestamps)."""
Identifier = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]
"""A lower_snake_case name: states, triggers, checks, facts, roles and timers are named so."""


class Strict(BaseModel):
    """Base of every definition model: unknown keys are errors and values never change."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, str_strip_whitespace=True
    )


class ClockUnit(StrEnum):
    """How a day count is measured."""

    school_days = "school_days"
    calendar_days = "calendar_days"


def _parse_days(value: Any) -> Any:
    """Accept `26`, `"5-15"`, `"5–15"` or a mapping for a day window."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"first": value, "last": value}
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:[-–]\s*(\d+))?\s*", value)
        if match:
            first = int(match.group(1))
            last = int(match.group(2) or first)
            return {"first": first, "last": last}
        raise ValueError(f"day window {value!r} must look like 26 or 5-15")
    return value


class DayWindowDefinition(Strict):
    """Days N to M of the clock, inclusive (the policy's "Day 5–15"); one day has first == last."""

    first: int = Field(ge=1)
    """First day of the window (Day 1 is the day the clock starts)."""
    last: int = Field(ge=1)
    """Last day of the window, inclusive."""

    @model_validator(mode="after")
    def _ordered(self) -> DayWindowDefinition:
        if self.last < self.first:
            raise ValueError(
                f"day window is inverted: Day {self.first}–{self.last}; write the earlier day first"
            )
        return self

    def __str__(self) -> str:
        return f"Day {self.first}" if self.first == self.last else f"Day {self.first}–{self.last}"


DayWindow = Annotated[DayWindowDefinition, BeforeValidator(_parse_days)]


class RuleBasis(StrEnum):
    """Why a rule binds: the LA's written policy, the law, or the LA's own choice beyond both."""

    policy = "policy"
    """The LA's policy (cite its section): e.g. Camden CME Policy 2023-24 section 4.3."""
    law = "law"
    """A regulation, a section of an Act, or statutory guidance (cite it)."""
    la_choice = "la_choice"
    """The LA's own practice, asked of by neither policy nor law: named in `la_choices` and
    switched off there without touching the rule."""


class SourceDefinition(Strict):
    """Where a rule comes from, so an auditor can follow it back."""

    basis: RuleBasis | None = None
    """Whether the rule is policy, law or the LA's own choice (shown in `cme process show` and
    in refusals)."""
    document: str | None = None
    """The policy or regulation, e.g. "Camden CME Policy 2023-24"; defaults to the process's."""
    section: str
    """Section, appendix or regulation, e.g. "Appendix 7" or "Regulation 8(1)(h)"."""
    quote: str | None = None
    """The policy's own words, where they help."""


def _parse_source(value: Any) -> Any:
    if isinstance(value, str):
        return {"section": value}
    return value


Source = Annotated[SourceDefinition, BeforeValidator(_parse_source)]


class ClockDefinition(Strict):
    """How the process counts days."""

    unit: ClockUnit = ClockUnit.school_days
    """School days (the policy's "Day N") or calendar days."""
    day_one: str
    """What Day 1 is, in words, e.g. "the day the CME notification is received"."""
    calendar: str | None = None
    """Calendar a case uses unless it names its own (default: the shipped default calendar)."""


class RoleDefinition(Strict):
    """A role that may act on cases of this process."""

    title: str
    """The job as the policy names it, e.g. "School Inclusion and CME Officer"."""
    description: str | None = None


class FactType(StrEnum):
    """Types a case fact may have; guards are type-checked against them."""

    bool = "bool"
    int = "int"
    float = "float"
    string = "string"
    date = "date"
    enum = "enum"


class DerivedCount(StrEnum):
    """What the engine counts for a derived fact; processes/README.md ("How a count is defined")
    says which days count and whether the end points do.
    """

    school_days_between = "school_days_between"
    """int: school days on or after `from` and before `to` (`from` counts; `to` only with
    `to_included`)."""
    school_days_after = "school_days_after"
    """date: the `days`-th school day after `from` (`from` itself never counts)."""
    months_between = "months_between"
    """int: whole calendar months from `from` to `to`."""
    age_on = "age_on"
    """int: age in whole years on `to` of a person born on `from`."""
    school_leaving_date = "school_leaving_date"
    """date: the day a person born on `from` ceases to be of compulsory school age, the last
    Friday in June of the school year in which they turn 16 (Education Act 1996 s.8)."""


DERIVED_SOURCES = frozenset({"effective_date", "opened_on"})
"""Reserved names a count may start or end on besides recorded date facts: the day the step or
timer takes effect, and Day 1 of the case."""


class DerivedDefinition(Strict):
    """How the engine counts a fact from dates recorded on the case; nobody types it."""

    count: DerivedCount
    """school_days_between (int), school_days_after (date), months_between (int), age_on
    (int) or school_leaving_date (date). School days are the case's calendar's (for a process
    the school runs, the pupil's school's calendar with its own INSET and closure days)."""
    from_: Identifier = Field(alias="from")
    """The date counted from: a date fact recorded on the case, or `opened_on` (Day 1) or
    `effective_date` (the day the step takes effect). For age_on and school_leaving_date, the
    date of birth."""
    to: Identifier | None = None
    """The date counted to (not for school_days_after or school_leaving_date): a date fact,
    `opened_on` or `effective_date`."""
    days: int | None = Field(default=None, ge=1, le=400)
    """For school_days_after: how many school days after `from` (e.g. 15 for the last day to
    apply for an independent review panel)."""
    to_included: bool = False
    """For school_days_between: count `to` too, when it is the last day of a period (the last
    day of a leave of absence) rather than the day something is decided (an off-roll date)."""

    @model_validator(mode="after")
    def _shape(self) -> DerivedDefinition:
        if self.count == DerivedCount.school_days_after:
            if self.days is None:
                raise ValueError("school_days_after needs `days`: how many school days after")
            if self.to is not None:
                raise ValueError("school_days_after counts `days` from `from`; it takes no `to`")
        elif self.count == DerivedCount.school_leaving_date:
            if self.to is not None or self.days is not None:
                raise ValueError(
                    "school_leaving_date is counted from the date of birth alone: no `to` or `days`"
                )
        else:
            if self.to is None:
                raise ValueError(f"{self.count.value} needs `to`: the date it counts to")
            if self.days is not None:
                raise ValueError("`days` is only for school_days_after")
        if self.to_included and self.count != DerivedCount.school_days_between:
            raise ValueError("`to_included` is only for school_days_between")
        return self

    @property
    def sources(self) -> tuple[str, ...]:
        """The dates it is counted from, in order (`from`, then `to` if any)."""
        return (self.from_,) if self.to is None else (self.from_, self.to)

    @property
    def result_type(self) -> FactType:
        """The type of the value counted: a date for school_days_after and school_leaving_date,
        else a whole number.
        """
        dated = (DerivedCount.school_days_after, DerivedCount.school_leaving_date)
        return FactType.date if self.count in dated else FactType.int


class FactDefinition(Strict):
    """A typed fact about a case that guards may use."""

    type: FactType
    """bool, int, float, string, date, or enum (with `values`)."""
    description: str
    """What the fact means, in the policy's words."""
    values: list[str] | None = None
    """For enums: the allowed values."""
    not_backdated: bool = False
    """For dates: refuse a value earlier than the day it is recorded (e.g. an off-roll date)."""
    recorded_by: list[Identifier] = Field(default_factory=list)
    """Roles who may record or change this fact (e.g. only the school gives its off-roll date);
    empty means any role of the process. Enforced for every command and import."""
    personal: bool = False
    """Personal data about the child or family (encrypted at rest, left out of exports)."""
    source: Source | None = None
    derived: DerivedDefinition | None = None
    """Counted by the engine from recorded dates whenever guards are judged (and shown by
    `cme case show`); nobody types it, and setting it by hand is refused."""

    @model_validator(mode="after")
    def _enum_values(self) -> FactDefinition:
        if self.type == FactType.enum and not self.values:
            raise ValueError("an enum fact needs `values`: the list of allowed values")
        if self.type != FactType.enum and self.values is not None:
            raise ValueError("`values` is only for facts of type enum")
        if self.not_backdated and self.type != FactType.date:
            raise ValueError("`not_backdated` is only for facts of type date")
        if self.derived is not None:
            want = self.derived.result_type
            if self.type != want:
                gives = "a date" if want == FactType.date else "a whole number"
                raise ValueError(
                    f"a {self.derived.count.value} count gives {gives}: declare `type: "
                    f"{want.value}`, not {self.type.value}"
                )
            if self.recorded_by or self.not_backdated:
                raise ValueError(
                    "a derived fact is counted by the engine, never recorded: leave out "
                    "`recorded_by` and `not_backdated` (put them on the dates it counts from)"
                )
        return self


class CheckDefinition(Strict):
    """One action expected in a stage: a letter, a system check, a visit, a call."""

    id: Identifier
    """Stable id used by triggers (`requires_checks`) and by officers (`cme case check`)."""
    wording: str
    """What to do, in the policy's words."""
    channel: str | None = None
    """The channel or system it concerns: phone, email, first_class_post, MASH, NHS Spine …"""
    days: DayWindow | None = None
    """When in the case it should be done (e.g. 5-15); leave it out to use its stage's `days`,
    so a window is stated once."""
    required: bool = True
    """Whether leaving it undone counts as outstanding."""
    recorded_by: list[Identifier] = Field(default_factory=list)
    """Roles who may record it (e.g. only the CME Officer confirms receipt); empty means any
    role of the process. Enforced for every command and import."""
    waived_by: list[Identifier] = Field(default_factory=list)
    """Roles who may waive it, with a reason (e.g. only a line manager); empty means it cannot be
    waived."""
    escalate_to: Identifier | None = None
    """Role told the morning after the window's last school day if it is still outstanding;
    defaults to its stage's `escalate_to`."""
    la_choice: Identifier | None = None
    """The LA choice (a key of the process's `la_choices`) this check belongs to: expected only
    while that choice is switched on."""
    source: Source | None = None


class ActionDefinition(Strict):
    """Something the engine asks an adapter to do when a step happens."""

    kind: Literal["letter", "notify", "referral", "record"]
    """letter: render and file a letter; notify: email a role or party; referral: refer to a
    service (MASH, police, Connexions, EHE); record: note that an external step is due."""
    template: str | None = None
    """Letter or message template id, e.g. first_formal_cme_letter."""
    to: str
    """Who it goes to: a role id, or a party (notifier, parent_carer, destination_la, mash,
    police, ehe_team, connexions, sen_service)."""
    wording: str
    """What the action is, in the policy's words."""
    channel: str | None = None
    """How: first_class_post, recorded_delivery, email, phone, secure_upload."""
    records_check: Identifier | None = None
    """For letters: the check that sending (or posting) this letter records, with the letter as
    its evidence (e.g. first_formal_letter_sent)."""
    la_choice: Identifier | None = None
    """The LA choice (a key of the process's `la_choices`) this action belongs to: requested
    only while that choice is switched on."""
    source: Source | None = None


class ConditionDefinition(Strict):
    """One condition of a guard: an expression and what it means in words."""

    expr: str
    """A CEL expression over the declared facts, `checks.<id>` (bool) and `case_day` (int)."""
    says: str
    """The condition in words, shown when it fails (e.g. "absent 20 or more school days")."""
    source: Source | None = None
    """Where the condition comes from and on what basis (policy, law, LA choice)."""
    la_choice: Identifier | None = None
    """The LA choice (a key of the process's `la_choices`) this condition belongs to: it holds
    only while that choice is switched on."""


def _parse_condition(value: Any) -> Any:
    if isinstance(value, str):
        return {"expr": value, "says": value}
    return value


Condition = Annotated[ConditionDefinition, BeforeValidator(_parse_condition)]


class TriggerDefinition(Strict):
    """A step: who may take it, from where to where, and what must hold first."""

    id: Identifier
    """The trigger's name, as officers type it (`cme case fire ID <id>`)."""
    title: str
    """The step in words."""
    source: list[Identifier] | Literal["*"]
    """States it may be taken from; "*" means any non-terminal state (an interrupt)."""
    dest: Identifier | None = None
    """The state the case moves to; leave it out for a step that keeps the case where it is
    (e.g. a MASH referral from any stage: recorded, its actions requested, the clock unchanged)."""
    roles: list[Identifier] = Field(default_factory=list)
    """Roles allowed to take it; empty means only the timer (scheduler) fires it."""
    by_timer: bool = False
    """Whether a timer may fire it."""
    guards: list[Condition] = Field(default_factory=list)
    """All must hold; each failing one is named with the facts it reads."""
    requires_checks: list[Identifier] = Field(default_factory=list)
    """Checks that must be recorded before this step."""
    requires_facts: list[Identifier] = Field(default_factory=list)
    """Facts that must be recorded (any value) before this step."""
    requires_reason: bool = False
    """Whether the step is refused without a reason given with it (`cme case fire --note`),
    kept in the case's history: e.g. closing a case opened in error."""
    actions: list[ActionDefinition] = Field(default_factory=list)
    """What the engine requests of adapters when the step is taken."""
    legal_basis: str | None = None
    """Regulation or statute, e.g. "Regulation 8(1)(h)"."""
    ref: Source
    """Where in the policy this step comes from."""
    note: str | None = None
    """Questions or ambiguities in the policy, written down next to the rule."""

    @model_validator(mode="after")
    def _someone_fires(self) -> TriggerDefinition:
        if not self.roles and not self.by_timer:
            raise ValueError("a trigger needs `roles` who may take it, or `by_timer: true`")
        return self


class EscalationDefinition(Strict):
    """Tell a role that something is overdue."""

    to_role: Identifier
    """The role told (e.g. line_manager)."""
    message: str
    """What they are told."""


class TimerDefinition(Strict):
    """A day-based step: on Day N (of the case or of this state) fire a trigger or escalate."""

    id: Identifier
    """Stable id; with the case and state entry it makes the timer's idempotency key."""
    description: str
    """What happens, in words."""
    day: int | None = Field(default=None, ge=1)
    """Fire on Day N (Day 1 = the start of the count), in the process clock's unit."""
    weeks: int | None = Field(default=None, ge=1)
    """Or fire N calendar weeks after the start of the count (the policy's "within 8 weeks")."""
    unit: ClockUnit | None = None
    """Override the process clock's unit for `day`."""
    counted_from: Literal["case", "state"] = "case"
    """Count from Day 1 of the case, or from the day the case entered this state."""
    fire: Identifier | None = None
    """The trigger to fire."""
    escalate: EscalationDefinition | None = None
    """Or the escalation to raise."""
    when: list[Condition] = Field(default_factory=list)
    """Only fire if these hold on the due day (else the timer lapses, recorded)."""
    ref: Source

    @model_validator(mode="after")
    def _one_of(self) -> TimerDefinition:
        if (self.day is None) == (self.weeks is None):
            raise ValueError("a timer needs exactly one of `day` or `weeks`")
        if (self.fire is None) == (self.escalate is None):
            raise ValueError("a timer needs exactly one of `fire` or `escalate`")
        if self.weeks is not None and self.unit is not None:
            raise ValueError("`unit` applies to `day`, not `weeks`")
        return self


class StateDefinition(Strict):
    """A stage of a case."""

    title: str
    """The stage in words."""
    description: str
    """What the officer does here."""
    terminal: bool = False
    """Whether the case ends here (no step leads out)."""
    days: DayWindow | None = None
    """The days of the case this stage covers, e.g. 5-15. Stated once, it generates the timer
    that moves a case in on its first day (the `by_timer` step into the stage), the window of
    each check that states no `days`, and the escalation of each outstanding check the morning
    after its last school day."""
    escalate_to: Identifier | None = None
    """Role told when a required check of this stage is still outstanding the morning after its
    window's last school day."""
    clears_checks_of: list[Identifier] = Field(default_factory=list)
    """Stages whose outstanding checks are no longer expected once a case enters this one
    (e.g. contact established ends the tracing checks). Checks otherwise stay outstanding
    across stage changes until recorded or waived; a terminal stage clears them all."""
    stops_clock: bool = False
    """Whether case day counts pause while the case is here (e.g. SEN service leads)."""
    checklist: list[CheckDefinition] = Field(default_factory=list)
    """Actions expected in this stage."""
    timers: list[TimerDefinition] = Field(default_factory=list)
    """Day-based steps and escalations armed on entering this stage."""
    on_enter: list[ActionDefinition] = Field(default_factory=list)
    """Actions requested when a case enters this stage."""
    legal_basis: str | None = None
    ref: Source
    note: str | None = None


class LaChoiceDefinition(Strict):
    """A rule the LA adds of its own accord, beyond its policy and the law, and its switch."""

    says: str
    """The choice in words (e.g. "refer school leavers at risk of NEET to Connexions before
    removal")."""
    applies: bool = True
    """Switched on (true) or off (false): conditions, checks and actions naming this choice
    hold only while it is on."""
    why: str | None = None
    """Why the LA chose it."""


class ApplicabilityDefinition(Strict):
    """Which cases a version applies to (its transitional provision)."""

    cases_opened_from: dt.date | None = None
    """Cases opened on or after this date take this version (default: `effective_from`)."""
    migrate_open_cases: bool = False
    """Whether open cases on earlier versions move onto this version on its effective date: the
    daily run migrates them (one audited migration event each, as `cme process migrate` does);
    a case whose stage has no counterpart here (same name or `stage_map`) is reported and left
    on its version."""
    stage_map: dict[Identifier, Identifier] = Field(default_factory=dict)
    """Stages of earlier versions that this version renames or merges: old stage -> stage here,
    used when open cases migrate. A stage with the same name here needs no entry."""


class ProcessDefinition(Strict):
    """A whole process: states, steps, clock, roles, facts and where each rule comes from."""

    kind: Literal["process"] = "process"
    """Marks the file as a process definition (other files in processes/ say another kind)."""
    id: Identifier
    """The process name, e.g. untraceable_cme."""
    title: str
    version: int = Field(ge=1)
    """Raise it whenever the file changes; a changed file with the same version is refused."""
    effective_from: dt.date | None = None
    """The date this version comes into force. Leave it out for a version whose date is not known
    yet (e.g. regulations awaiting a commencement order): it is *pending*, and applies to no case
    until a policy owner gives the date (`cme process commence ID VERSION --on DATE`)."""
    commencement: str | None = None
    """What brings a pending version into force, in words (e.g. "the date the Secretary of State
    appoints by commencement regulations"); required when `effective_from` is left out."""
    source: SourceDefinition
    """The policy or law this process encodes."""
    description: str | None = None
    applies: ApplicabilityDefinition = Field(default_factory=ApplicabilityDefinition)
    la_choices: dict[Identifier, LaChoiceDefinition] = Field(default_factory=dict)
    """Rules the LA adds beyond its policy and the law, each switchable here; a condition,
    check or action names one with `la_choice:`."""
    compulsory_school_age_only: bool = True
    """Open cases only for children of compulsory school age on Day 1 (the CME duty); false
    where the policy also covers younger children (roll returns, a nursery pupil leaving)."""
    one_open_case_per_child: bool = False
    """A child has at most one open case of this process: opening or importing another for the
    same child (same UPN, or same name and date of birth) is refused unless linked to the open
    case or opened anyway with a reason (the CME register: one entry per child). False where a
    case is an event, not a child (a roll return, a removal from roll)."""
    clock: ClockDefinition
    initial: Identifier
    """The state a new case starts in."""
    roles: dict[Identifier, RoleDefinition]
    facts: dict[Identifier, FactDefinition] = Field(default_factory=dict)
    states: dict[Identifier, StateDefinition]
    triggers: list[TriggerDefinition]
    questions: list[str] = Field(default_factory=list)
    """Where the policy is ambiguous or out of date: the questions, for the policy owner."""

    @model_validator(mode="after")
    def _commencement(self) -> ProcessDefinition:
        # `applies.stage_map` naming stages of this version is checked where it is written
        # (engine/language/references.py).
        if self.effective_from is None and not self.commencement:
            raise ValueError(
                "a version without `effective_from` is pending: say what brings it into force "
                'in `commencement:` (e.g. "the date set by commencement regulations"), or give '
                "`effective_from: YYYY-MM-DD`"
            )
        opened_from = self.applies.cases_opened_from
        if self.effective_from and opened_from and opened_from < self.effective_from:
            # Otherwise a version would be in force, for the cases it takes, before its own date.
            raise ValueError(
                f"`applies.cases_opened_from` ({opened_from}) is before `effective_from` "
                f"({self.effective_from}): no version may apply before it comes into force. To "
                "restate the law as it stood, date the version from the law (effective_from: "
                f"{opened_from})"
            )
        return self

    @property
    def pending(self) -> bool:
        """Whether this version awaits a commencement date (no `effective_from` yet)."""
        return self.effective_from is None

    def applies_from(self, commenced: dt.date | None = None) -> dt.date | None:
        """The first day a new case takes this version: `applies.cases_opened_from`, else its
        effective date (`effective_from`, or for a pending version the date a policy owner gave,
        `commenced`); None while it is pending.
        """
        effective = self.effective_from or commenced
        if effective is None:
            return None
        return self.applies.cases_opened_from or effective

    def trigger(self, trigger_id: str) -> TriggerDefinition | None:
        """The trigger with this id, or None."""
        for trig in self.triggers:
            if trig.id == trigger_id:
                return trig
        return None

    def checks(self) -> dict[str, CheckDefinition]:
        """Every check of every state, by id."""
        return {c.id: c for s in self.states.values() for c in s.checklist}

    def dest_of(self, trig: TriggerDefinition, source: str) -> str:
        """The state a trigger leads to from `source` (itself, for a step that stays)."""
        return trig.dest if trig.dest is not None else source

    def source_states(self, trig: TriggerDefinition) -> list[str]:
        """The states a trigger may be taken from ("*" expanded to every non-terminal state)."""
        if trig.source == "*":
            return [name for name, st in self.states.items() if not st.terminal]
        return list(trig.source)

    def outline(self) -> ProcessOutline:
        """The parts a person reads about a case, stored with the version for fast reading."""
        return ProcessOutline(
            id=self.id,
            version=self.version,
            title=self.title,
            states={
                sid: StateOutline(
                    id=sid,
                    title=st.title,
                    description=st.description,
                    terminal=st.terminal,
                    checklist=tuple(
                        CheckOutline(
                            id=c.id,
                            wording=c.wording,
                            channel=c.channel,
                            first=c.days.first if c.days else None,
                            last=c.days.last if c.days else None,
                            required=c.required,
                        )
                        for c in st.checklist
                    ),
                )
                for sid, st in self.states.items()
            },
            steps=tuple(
                StepOutline(
                    id=t.id,
                    title=t.title,
                    roles=tuple(t.roles),
                    sources=tuple(self.source_states(t)),
                )
                for t in self.triggers
            ),
            counts=tuple(
                CountOutline(n, d.count.value, d.from_, d.to, d.days, d.to_included)
                for n, f in self.facts.items()
                if (d := f.derived) is not None
            ),
        )
