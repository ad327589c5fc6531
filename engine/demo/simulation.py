"""A school term of realistic, invented CME notifications run through the processes: the
simulation behind `cme demo`.

Opens about forty notifications (some with siblings, some children with an EHC plan) across the
autumn term 2024, then moves time forward one school day at a time: each morning the sweep fires
what is due, then simulated officers act. Some families are contacted and placed (In Year
Admissions, the Fair Access Panel or the Primary Inclusion Forum, within or beyond 8 weeks), one
raises a safeguarding concern (MASH referral), one moves to another LA, one leaves the country,
some stay untraceable with every check recorded and are closed on Day 26 by the line manager,
and some are left with checks outstanding, so they escalate. Prints nothing: the CLI
(`engine/cli/demo.py`) shows progress and the results.

Every name, address, school and number here is invented. Step, check and fact ids are looked up
in the process definition at run time (by the states a step joins), so policy edits to
`processes/untraceable_cme.yaml` flow through without touching this file.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.demo.acts import Act
from engine.protection.access import Actor
from engine.time.calendars import DEFAULT_CALENDAR

if TYPE_CHECKING:
    from engine.cases.service import CaseService

TERM_FIRST = dt.date(2024, 9, 2)
TERM_LAST = dt.date(2024, 12, 20)
PROCESS = "untraceable_cme"

_FIRST_NAMES = [
    "Amara",
    "Bilal",
    "Chloe",
    "Dawit",
    "Elif",
    "Femi",
    "Grace",
    "Hamza",
    "Ines",
    "Jayden",
    "Kacper",
    "Layla",
    "Mohammed",
    "Nia",
    "Oskar",
    "Priya",
    "Rafael",
    "Sofia",
    "Tariq",
    "Uma",
    "Victor",
    "Wiktoria",
    "Yusuf",
    "Zara",
    "Aaliyah",
    "Bogdan",
    "Ciara",
    "Deniz",
    "Eva",
    "Kofi",
]
_SURNAMES = [
    "Ahmed",
    "Kowalski",
    "Okafor",
    "Silva",
    "Yilmaz",
    "Mensah",
    "Novak",
    "Haile",
    "Begum",
    "O'Connor",
    "Popescu",
    "Rahman",
    "Santos",
    "Tesfaye",
    "Murphy",
    "Nowak",
    "Osei",
    "Costa",
    "Demir",
    "Kaur",
    "Ali",
    "Reid",
    "Ivanova",
    "Hussain",
]
PRIMARIES = [
    "Castlehaven Primary School",
    "Chalcot Green Primary School",
    "Elm Village Primary School",
    "Brecknock Hill Primary School",
    "Agar Row Primary School",
]
SECONDARIES = [
    "Regent's Row Academy",
    "Belsize Vale School",
    "Kentish Mews Secondary School",
]
_STREETS = [
    "Example Street",
    "Sample Road",
    "Fictional Grove",
    "Invented Way",
    "Placeholder Mews",
    "Demo Terrace",
    "Specimen Place",
]
_POSTCODES = ["NW1", "NW3", "NW5", "NW6", "WC1", "N6", "N19"]
_LANGUAGES = ["Portuguese", "Polish", "Turkish", "Bengali", "Somali", "Romanian", "Tigrinya"]
_NOTIFIERS = [
    ("Attendance Lead", None),
    ("Education Welfare Officer", "Pupil Attendance Service"),
    ("Health Visitor", "Camden Health Visiting Service"),
    ("Housing Officer", "Camden Housing"),
    ("Family Support Worker", "Early Help"),
]
_EXPLANATIONS = [
    "Has not attended since {last}. Calls and emails to the parent unanswered; a home visit "
    "found the flat apparently empty.",
    "Family said they were going abroad for a few weeks in the summer and the child has not "
    "returned; no forwarding address.",
    "Neighbours report the family moved out at the end of the summer; the school has no new "
    "address.",
    "Not on any school roll since arriving in the borough; a health visitor found the family in "
    "temporary accommodation.",
    "Continuous unauthorised absence since {last}; the parent's phone is disconnected.",
]


@dataclass
class Plan:
    """What the simulated officers will do with one case (days are the case's school days)."""

    fate: str
    contact_day: int | None = None
    route: str | None = None
    refer_after: int = 5
    """Calendar days after contact before a panel referral (or SEN referral)."""
    place_after: int = 14
    """Calendar days after contact (or referral) before the child is placed."""
    skip_checks: set[str] = field(default_factory=set)
    check_delay: int = 0
    mash_day: int | None = None
    move_day: int | None = None
    confirm_after: int = 10
    left_day: int | None = None
    contacted_on: dt.date | None = None
    referred_on: dt.date | None = None
    done: set[str] = field(default_factory=set)


@dataclass
class Tally:
    """Running totals for the progress line and the closing summary."""

    opened: int = 0
    fired: int = 0
    escalated: int = 0
    lapsed: int = 0
    steps: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class Simulation:
    """The term: notifications arriving, the morning sweep, and officers acting on their cases."""

    def __init__(self, service: CaseService, *, seed: int) -> None:
        self.service = service
        self.rng = random.Random(seed)
        self.officers = [Actor("sona.k", "cme_officer"), Actor("marcus.b", "cme_officer")]
        self.manager = Actor("dylan.m", "line_manager")
        self.sen = Actor("sen.team", "sen_service")
        compiled = self.service.registry.in_force(PROCESS, TERM_FIRST)
        self.definition = compiled.definition
        # The calendar the cases open on (the demo passes none): for the autumn term 2024 the
        # fallback `london` and `london-2024-25` agree day for day.
        self.calendar = self.service.calendars(self.definition.clock.calendar or DEFAULT_CALENDAR)
        self.plans: dict[str, Plan] = {}
        self._stories = [
            "closed",
            "mash",
            "moved",
            "panel_slow",
            "neglected",
            "left",
            "kept_open",
            "neglected",
            "closed",
        ]
        self.tally = Tally()
        self.arrivals = self._notifications()

    # -- the term ---------------------------------------------------------------------------

    def school_days(self) -> list[dt.date]:
        """The school days of the term, first to last."""
        days = [TERM_FIRST + dt.timedelta(days=i) for i in range((TERM_LAST - TERM_FIRST).days + 1)]
        return [d for d in days if self.calendar.is_school_day(d)]

    def run(self, on_day: Callable[[dt.date], None] | None = None) -> None:
        """Move time forward one school day at a time to the end of term; `on_day` is called
        after each day (for a progress display).
        """
        from engine.scheduling.sweep import sweep

        for day in self.school_days():
            morning = dt.datetime.combine(day, dt.time(7, 0), tzinfo=dt.UTC)
            result = sweep(self.service, until=day, at=morning)
            self.tally.fired += result.counts["fired"]
            self.tally.escalated += result.counts["escalated"]
            self.tally.lapsed += result.counts["lapsed"]
            for form in self.arrivals.get(day, []):
                self._open(form, day)
            self._officers_act(day)
            if on_day is not None:
                on_day(day)

    def _open(self, form: Any, day: dt.date) -> None:
        officer = self.rng.choice(self.officers)
        at = dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)
        ids = self.service.open_case(form, on=day, at=at, actor=officer, process=PROCESS)
        for case_id in ids:
            self.plans[case_id] = self._plan(case_id, day)
            self.tally.opened += 1

    # -- the notifications -------------------------------------------------------------------

    def _notifications(self) -> dict[dt.date, list[Any]]:
        """About forty invented notifications, most in September and October, by arrival day."""
        from engine.cases.notification import parse_form

        rng = self.rng
        days = [TERM_FIRST + dt.timedelta(days=i) for i in range((TERM_LAST - TERM_FIRST).days + 1)]
        early = [d for d in days if self.calendar.is_school_day(d) and d <= dt.date(2024, 11, 8)]
        late = [
            d
            for d in days
            if self.calendar.is_school_day(d) and dt.date(2024, 11, 11) <= d <= dt.date(2024, 12, 6)
        ]
        arrivals = sorted(rng.sample(early[1:], 32) + rng.sample(late, 8))
        forms: dict[dt.date, list[Any]] = {}
        ehc_left = 3
        for i, day in enumerate(arrivals):
            surname = rng.choice(_SURNAMES)
            siblings = 1 if rng.random() < 0.8 else rng.choice([2, 2, 3])
            children = []
            for _ in range(siblings):
                age = rng.randint(5, 14)
                dob = dt.date(day.year - age - 1, rng.randint(1, 12), rng.randint(1, 28))
                phase_school = PRIMARIES if age < 11 else SECONDARIES
                ehc = ehc_left > 0 and rng.random() < 0.12
                ehc_left -= ehc
                on_roll = rng.random() < 0.75
                child: dict[str, Any] = {
                    "full_name": f"{rng.choice(_FIRST_NAMES)} {surname}",
                    "date_of_birth": dob.isoformat(),
                    "gender": rng.choice(["F", "M"]),
                    "ehc_plan": ehc,
                    "looked_after": False,
                }
                if on_roll:
                    child["school"] = rng.choice(phase_school)
                    child["upn"] = _upn(rng)
                    child["ground"] = rng.choice(["Ground I", "Ground H"])
                else:
                    child["previous_school"] = rng.choice(phase_school)
                children.append(child)
            role, service = rng.choice(_NOTIFIERS)
            school = next((c.get("school") for c in children if c.get("school")), None)
            last = day - dt.timedelta(days=rng.randint(14, 40))
            translator = rng.random() < 0.3
            data = {
                "date": day.isoformat(),
                "notifier": {
                    "name": f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}",
                    "position": role,
                    "school_or_service": service or school or "Camden school",
                },
                "parent_carer": {
                    "names": f"{rng.choice(_FIRST_NAMES)} {surname}",
                    "relationship": rng.choice(["Mother", "Father", "Aunt", "Grandmother"]),
                    "address": f"Flat {rng.randint(1, 40)}, {rng.randint(1, 120)} "
                    f"{rng.choice(_STREETS)}, London",
                    "postcode": f"{rng.choice(_POSTCODES)} 0{rng.choice('ABDEFG')}"
                    f"{rng.choice('ABDEFG')}",
                    "contact_numbers": [f"07700 900{rng.randint(100, 999)}"],
                    "email": f"{surname.lower().replace(chr(39), '')}{i}@example.com",
                    "translator_required": translator,
                    "language": rng.choice(_LANGUAGES) if translator else None,
                },
                "children": children,
                "involvement": {
                    "social_care_early_help": rng.random() < 0.2,
                    "camhs": rng.random() < 0.1,
                },
                "explanation": rng.choice(_EXPLANATIONS).format(last=f"{last:%d %B}"),
                "date_of_last_attendance": last.isoformat() if school else None,
                "date_of_last_contact": (last - dt.timedelta(days=3)).isoformat(),
            }
            forms.setdefault(day, []).append(parse_form(data, source=f"demo notification {i}"))
        return forms

    # -- the end of term -----------------------------------------------------------------------

    def history_case(self) -> str:
        """A case worth showing in full: one closed untraceable on Day 26 if there is one."""
        closed = [
            c
            for c, p in self.plans.items()
            if p.fate == "closed" and self.service.get(c).state == "closed_untraceable"
        ]
        return closed[0] if closed else next(iter(self.plans))

    # -- what happens to each case ----------------------------------------------------------

    def _plan(self, case_id: str, opened: dt.date) -> Plan:
        """Choose a case's story; late notifications are simply still open at the end of term."""
        case = self.service.get(case_id)
        rng = self.rng
        ehc = bool(case.facts.get("ehc_plan"))
        late = opened > dt.date(2024, 11, 8)  # Day 26 would fall after the end of term
        if ehc:
            return Plan(
                "sen",
                contact_day=rng.randint(2, 8),
                route="sen",
                refer_after=rng.randint(2, 6),
                place_after=rng.randint(20, 40),
            )
        roll = rng.random()
        if late:
            fate = "contact" if roll < 0.5 else "tracing"
        elif self._stories:
            # Every story the demo promises happens at least once, early enough to finish.
            fate = self._stories.pop(0)
        else:
            fate = rng.choices(["contact", "panel", "closed", "neglected"], weights=[7, 4, 7, 3])[0]
        if fate == "contact":
            return Plan(
                "contact",
                contact_day=rng.randint(2, 10),
                route="in_year_admissions",
                place_after=rng.randint(10, 35),
                check_delay=rng.randint(0, 3),
            )
        if fate in ("panel", "panel_slow"):
            # A slow panel places the child after the 8-week target, which escalates.
            return Plan(
                "panel",
                contact_day=rng.randint(3, 10),
                route="panel",
                refer_after=rng.randint(3, 10),
                place_after=rng.randint(70, 90) if fate == "panel_slow" else rng.randint(15, 30),
                check_delay=rng.randint(0, 3),
            )
        if fate in ("closed", "kept_open", "tracing"):
            return Plan(fate, check_delay=rng.randint(0, 4))
        if fate == "neglected":
            checks = [c.id for c in self._all_checks() if c.required]
            return Plan(
                "neglected", skip_checks=set(rng.sample(checks, k=3)), check_delay=rng.randint(2, 6)
            )
        if fate == "moved":
            return Plan("moved", move_day=rng.randint(6, 12), confirm_after=rng.randint(7, 20))
        if fate == "left":
            return Plan("left", left_day=rng.randint(8, 14))
        return Plan(
            "mash",
            mash_day=rng.randint(5, 9),
            contact_day=rng.randint(12, 18),
            route="in_year_admissions",
            place_after=rng.randint(10, 20),
        )

    def _all_checks(self) -> list[Any]:
        return [c for s in self.definition.states.values() for c in s.checklist]

    def _officers_act(self, day: dt.date) -> None:
        from engine.cases.views import day_of_case

        for case_id, plan in self.plans.items():
            case = self.service.get(case_id)
            if case.terminal:
                continue
            n = day_of_case(self.service, case, day)
            if n is None or n < 1:
                continue
            officer = (
                next(o for o in self.officers if o.name == case.assigned_officer)
                if case.assigned_officer in {o.name for o in self.officers}
                else self.officers[0]
            )
            Act(self, case_id, plan, day, n, officer).run()


def _upn(rng: random.Random) -> str:
    """An invented UPN with a correct check letter: Camden's LA number 202, a made-up school."""
    from engine.cases.upn import check_letter

    body = (
        f"202{rng.randint(2000, 2099):04d}{rng.choice(['13', '15', '17', '19'])}"
        f"{rng.randint(0, 999):03d}"
    )
    return check_letter(body) + body


__all__ = ["PROCESS", "TERM_FIRST", "TERM_LAST", "Plan", "Simulation", "Tally"]
