"""What a simulated officer (and line manager) does to one case on one school day of the demo:
record the checks its plan calls for, move it on, close it or let it escalate.

Step ids are looked up in the process definition by the stage they lead to (`_step`), so policy
edits to `processes/untraceable_cme.yaml` flow through without touching this file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.demo.simulation import Plan, Simulation


_OUTCOMES = {
    "phone": "no answer; voicemail left",
    "email": "email sent; no reply",
    "first_class_post": "1st formal letter posted first class",
    "recorded_delivery": "2nd formal letter sent recorded delivery",
    "home_visit": "no answer; calling card posted",
    "Impulse": "case opened on Impulse",
}


class Act:
    """One case on one school day: the officer (and the manager) do what its plan says."""

    def __init__(
        self, sim: Simulation, case_id: str, plan: Plan, day: dt.date, n: int, officer: Any
    ) -> None:
        self.sim = sim
        self.svc = sim.service
        self.case_id = case_id
        self.plan = plan
        self.day = day
        self.n = n
        self.officer = officer
        self.minute = 0

    def _at(self) -> dt.datetime:
        self.minute += 7
        return dt.datetime.combine(self.day, dt.time(10, 0), tzinfo=dt.UTC) + dt.timedelta(
            minutes=self.minute
        )

    def _state(self) -> str:
        return self.svc.get(self.case_id).state

    def fire(self, trigger: str, actor: Any = None) -> None:
        """Take step `trigger` on the case, as the officer unless `actor` is given."""
        self.svc.fire(
            self.case_id, trigger, on=self.day, at=self._at(), actor=actor or self.officer
        )
        self.sim.tally.steps += 1

    def fact(self, name: str, value: Any, actor: Any = None) -> None:
        """Record fact `name` on the case, as the officer unless `actor` is given."""
        self.svc.set_fact(
            self.case_id, name, value, on=self.day, at=self._at(), actor=actor or self.officer
        )

    def run(self) -> None:
        """Act on the case as its state and plan say."""
        handlers: dict[str, Callable[[], None]] = {
            "supporting_to_school_place": self._supporting,
            "referred_to_placement_panel": self._at_panel,
            "sen_service_leading": self._with_sen,
            "awaiting_destination_la_confirmation": self._awaiting_la,
        }
        state = self._state()
        if state in handlers:
            handlers[state]()
            return
        self._tracing(state)

    def _tracing(self, state: str) -> None:
        plan, n = self.plan, self.n
        if plan.left_day and n >= plan.left_day:
            self.fact(
                "left_the_country_evidence",
                "Aunt reports the family flew to Lisbon on a one-way ticket; school had a "
                "text from the mother saying they will not return.",
            )
            self.fire(_step(self.sim.definition, state, needs_fact="left_the_country_evidence"))
            return
        if plan.move_day and n >= plan.move_day:
            self.fact("destination_la", "Leeds City Council")
            self.fire(_step(self.sim.definition, state, needs_fact="destination_la"))
            plan.contacted_on = self.day
            return
        if plan.mash_day and n >= plan.mash_day and "mash" not in plan.done:
            self.fact(
                "safeguarding_concern",
                "Neighbour reports hearing a child crying late at night and an adult "
                "shouting; the family has not been seen since.",
            )
            self.fire(_step(self.sim.definition, state, needs_fact="safeguarding_concern"))
            plan.done.add("mash")
        if plan.contact_day and n >= plan.contact_day:
            self.fire(_step(self.sim.definition, state, to="supporting_to_school_place"))
            plan.contacted_on = self.day
            return
        self._record_checks(state)
        if state == "closure_decision":
            self._decide(state)

    def _record_checks(self, state: str) -> None:
        case = self.svc.get(self.case_id)
        for check in self.sim.definition.states[state].checklist:
            if check.id in case.checks or check.id in self.plan.skip_checks:
                continue
            window = check.days
            first = window.first if window else 1
            last = window.last if window else self.n
            if self.n < min(first + self.plan.check_delay, last) and state != "closure_decision":
                continue
            if not check.required and self.sim.rng.random() < 0.5:
                self.plan.skip_checks.add(check.id)
                continue
            outcome = _OUTCOMES.get(check.channel or "", "checked: no trace of the family")
            self.svc.record_check(
                self.case_id,
                check.id,
                on=self.day,
                at=self._at(),
                actor=self.officer,
                outcome=outcome,
            )
            self.sim.tally.steps += 1

    def _decide(self, state: str) -> None:
        """The line manager's Day 26 decision, for the cases whose every check was made."""
        definition = self.sim.definition
        if self.plan.fate == "closed":
            case = self.svc.get(self.case_id)
            trig = definition.trigger(_step(definition, state, to="closed_untraceable"))
            if trig and all(c in case.checks for c in trig.requires_checks):
                self.fire(trig.id, self.sim.manager)
        elif self.plan.fate == "kept_open":
            self.fact(
                "reason_case_kept_open",
                "Housing has a possible new tenancy for the mother in Haringey; awaiting "
                "their reply before closing.",
                self.sim.manager,
            )
            self.fire(_step(definition, state, to="tracing_continues"), self.sim.manager)

    def _supporting(self) -> None:
        plan, definition = self.plan, self.sim.definition
        since = self.day - (plan.contacted_on or self.day)
        case = self.svc.get(self.case_id)
        if plan.route == "sen" and since.days >= plan.refer_after:
            self.fire(_step(definition, "supporting_to_school_place", to="sen_service_leading"))
            plan.referred_on = self.day
        elif plan.route == "panel" and since.days >= plan.refer_after:
            phase = case.facts.get("age_phase")
            route = "fair_access_panel" if phase == "secondary" else "primary_inclusion_forum"
            self.fact("placement_route", route)
            self.fact("no_vacancy_in_camden_schools", True)
            self.fact("medical_needs", False)
            self.fire(
                _step(definition, "supporting_to_school_place", to="referred_to_placement_panel")
            )
            plan.referred_on = self.day
        elif plan.route == "in_year_admissions" and since.days >= plan.place_after:
            self.fact("placement_route", "in_year_admissions")
            self._place(case, "supporting_to_school_place")

    def _at_panel(self) -> None:
        since = self.day - (self.plan.referred_on or self.day)
        if since.days >= self.plan.place_after:
            self._place(self.svc.get(self.case_id), "referred_to_placement_panel")

    def _place(self, case: Any, state: str) -> None:
        phase = case.facts.get("age_phase")
        from engine.demo.simulation import PRIMARIES, SECONDARIES

        schools = SECONDARIES if phase == "secondary" else PRIMARIES
        self.fact("placement_provision", self.sim.rng.choice(schools))
        self.fire(_step(self.sim.definition, state, to="placed"))

    def _with_sen(self) -> None:
        since = self.day - (self.plan.referred_on or self.day)
        if since.days >= self.plan.place_after:
            self.fact(
                "placement_provision", "Swiss Cottage School (specialist provision)", self.sim.sen
            )
            self.fire(_step(self.sim.definition, "sen_service_leading", to="placed"), self.sim.sen)

    def _awaiting_la(self) -> None:
        since = self.day - (self.plan.contacted_on or self.day)
        if since.days >= self.plan.confirm_after:
            self.fire(
                _step(
                    self.sim.definition,
                    "awaiting_destination_la_confirmation",
                    to="transferred_to_destination_la",
                )
            )


def _step(
    definition: Any, source: str, *, to: str | None = None, needs_fact: str | None = None
) -> str:
    """The step a person takes from `source` to `to` (or the one needing fact `needs_fact`)."""
    from engine.errors import UnknownTrigger

    for trig in definition.triggers:
        if source not in definition.source_states(trig) or (trig.by_timer and not trig.roles):
            continue
        if to is not None and definition.dest_of(trig, source) != to:
            continue
        if needs_fact is not None and needs_fact not in trig.requires_facts:
            continue
        return str(trig.id)
    wanted = f"to {to}" if to else f"needing fact {needs_fact}"
    raise UnknownTrigger(
        f"the demo needs a step from {source} {wanted} in {definition.id} version "
        f"{definition.version}, and there is none"
    )
