"""Derived facts on a case: counted from the dates recorded on it, on its calendar, whenever
guards are judged (and when `cme case show` shows them). Nothing counted is ever stored.

Which days count (processes/README.md, "How a count is defined"):

- `school_days_between` from A to B: the school days d of the case's calendar with A <= d < B.
  A counts if it is a school day; B does not (it is the day something is decided or done, such
  as the off-roll date, so the count is the school days already passed by then), unless the
  count says `to_included: true` (B is the last day of a period, such as a leave of absence).
  0 when there are none. Stop-the-clock pauses of the case do not apply: the count is about the
  pupil's days, not the case's clock.
- `school_days_after` N from A: the N-th school day strictly after A (A itself never counts,
  even on a school day), e.g. the last day to apply for an independent review panel.
- `months_between` from A to B: the whole calendar months m such that A moved on m months
  (to the same day of the month, or the month's last day where it has no such day) is on or
  before B. 10 January to 10 May is 4; to 9 May is 3; 31 January to 28 February 2025 is 1.
  0 when B is before A.
- `age_on` from D (date of birth) to B: whole years attained on or before B, a birthday being
  attained at the start of its day (29 February counts as 1 March in other years, as
  `engine.time.school_age.birthday` says). 0 when B is before D.
- `school_leaving_date` from D (date of birth): the last day of compulsory school age, the last
  Friday in June of the school year (1 September to 31 August) in which they turn 16
  (`engine.time.school_age.compulsory_school_age`). No calendar is read.

School days are the case's calendar's: for a process the school runs it is the pupil's school's
calendar (its own INSET and closure days overlaid on the authority's), else the authority's.
"""

from __future__ import annotations

import calendar as month_lengths
import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from engine.errors import CalendarError
from engine.language.definition import (
    DERIVED_SOURCES,
    DerivedCount,
    DerivedDefinition,
    ProcessDefinition,
)
from engine.language.derived import Count, how_counted
from engine.language.outline import CountOutline
from engine.time.calendar import SchoolCalendar
from engine.time.school_age import birthday, compulsory_school_age

_ONE_DAY = dt.timedelta(days=1)

_BY_DEFINITION: dict[int, tuple[ProcessDefinition, dict[str, DerivedDefinition]]] = {}


def counted_in(definition: ProcessDefinition) -> dict[str, DerivedDefinition]:
    """The derived facts of a process version by name (found once per loaded definition)."""
    found = _BY_DEFINITION.get(id(definition))
    if found is None or found[0] is not definition:
        counted = {n: f.derived for n, f in definition.facts.items() if f.derived is not None}
        found = _BY_DEFINITION[id(definition)] = (definition, counted)
    return found[1]


def school_days_between(
    cal: SchoolCalendar, start: dt.date, end: dt.date, *, end_included: bool = False
) -> int:
    """School days d with start <= d < end on `cal` (start <= d <= end when `end_included`);
    0 when there are none.
    """
    last = end if end_included else end - _ONE_DAY
    if last < start:
        return 0
    return cal.count(start, last)


def school_days_after(cal: SchoolCalendar, start: dt.date, days: int) -> dt.date:
    """The `days`-th school day strictly after `start` on `cal`."""
    return cal.school_day_n(start + _ONE_DAY, days)


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from `start` to `end` (see the module docstring)."""
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + end.month - start.month
    end_of_month = end.day == month_lengths.monthrange(end.year, end.month)[1]
    if end.day < start.day and not end_of_month:
        months -= 1
    return months


def age_on(born: dt.date, on: dt.date) -> int:
    """Whole years of age on `on` of a person born on `born` (0 before they are born)."""
    if on < born:
        return 0
    years = on.year - born.year
    return years - 1 if on < birthday(born, years) else years


def count(
    name: str, derived: Count, dates: Mapping[str, dt.date | None], cal: SchoolCalendar
) -> int | dt.date | None:
    """The value of derived fact `name` from `dates` (None when a date it needs is unset).

    Raises CalendarError, naming the fact, when the calendar does not cover the dates.
    """
    start = dates.get(derived.from_)
    end = dates.get(derived.to) if derived.to is not None else None
    if start is None or (derived.to is not None and end is None):
        return None
    try:
        if derived.count == DerivedCount.school_days_between:
            assert end is not None
            return school_days_between(cal, start, end, end_included=derived.to_included)
        if derived.count == DerivedCount.school_days_after:
            assert derived.days is not None
            return school_days_after(cal, start, derived.days)
        if derived.count == DerivedCount.school_leaving_date:
            return compulsory_school_age(start)[1]
    except CalendarError as exc:
        raise CalendarError(f"{name} cannot be counted: {exc}") from None
    assert end is not None
    if derived.count == DerivedCount.months_between:
        return months_between(start, end)
    return age_on(start, end)


def with_counts(
    definition: ProcessDefinition,
    facts: Mapping[str, Any],
    cal: SchoolCalendar,
    *,
    on: dt.date,
    opened_on: dt.date,
    names: Collection[str] | None = None,
) -> dict[str, Any]:
    """`facts` with the process's derived facts counted (those in `names`, or all), as stored
    facts are written: a date as ISO text, a count as an int, None when a date is unset.
    """
    counted = counted_in(definition)
    wanted = counted if names is None else {n: d for n, d in counted.items() if n in names}
    if not wanted:
        return facts if isinstance(facts, dict) else dict(facts)
    out = dict(facts)
    dates = _dates(wanted.values(), facts, on=on, opened_on=opened_on)
    for name, derived in wanted.items():
        value = count(name, derived, dates, cal)
        out[name] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def shown_counts(
    counts: Iterable[CountOutline],
    facts: Mapping[str, Any],
    cal: SchoolCalendar,
    *,
    on: dt.date,
    opened_on: dt.date,
) -> dict[str, dict[str, Any]]:
    """Each derived fact as `cme case show` gives it: how it is counted, its value on `on`,
    and why there is none where there is none. A count none of whose dates is recorded yet
    (another ground's, say) is left out.
    """
    counts = list(counts)
    dates = _dates(counts, facts, on=on, opened_on=opened_on)
    shown: dict[str, dict[str, Any]] = {}
    for c in counts:
        recorded = [s for s in c.sources if s not in DERIVED_SOURCES]
        if recorded and all(dates.get(s) is None for s in recorded):
            continue
        entry: dict[str, Any] = {"how": how_counted(c)}
        try:
            value = count(c.name, c, dates, cal)
        except CalendarError as exc:
            entry.update(value=None, why=str(exc))
        else:
            entry["value"] = value.isoformat() if isinstance(value, dt.date) else value
            unset = [s for s in c.sources if dates.get(s) is None]
            if unset:
                entry["why"] = f"needs {' and '.join(unset)}, not recorded yet"
        shown[c.name] = entry
    return shown


def _dates(
    counts: Iterable[Count], facts: Mapping[str, Any], *, on: dt.date, opened_on: dt.date
) -> dict[str, dt.date | None]:
    """The dates the counts read: recorded date facts (stored as ISO text), `effective_date`
    (the day guards are judged) and `opened_on` (Day 1).
    """
    dates: dict[str, dt.date | None] = {"effective_date": on, "opened_on": opened_on}
    for c in counts:
        for source in c.sources:
            if source in dates:
                continue
            value = facts.get(source)
            dates[source] = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return dates


__all__ = [
    "age_on",
    "count",
    "counted_in",
    "months_between",
    "school_days_after",
    "school_days_between",
    "shown_counts",
    "with_counts",
]
