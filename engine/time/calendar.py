"""School-day arithmetic on a validated calendar: is this a school day, what date is Day N, how
many school days lie between two dates, and why.

Owns `SchoolCalendar`, precomputed from a `CalendarDefinition` (`engine/time/calendar_file.py`).
Does not own the file format, which calendars ship (`engine/time/calendars.py`), which calendar a
case uses, or what a timer does when its day comes.

A school day is a Monday–Friday inside a term that is not in the term's half term, not an INSET
or closure day, and not an England bank holiday. Bank holidays come from the `holidays` package
(GB, subdivision ENG); calendar files never list them.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from engine.errors import CalendarError, InputError, close_matches
from engine.language.yamlsafe import load_yaml
from engine.time.calendar_file import (
    CalendarDefinition,
    TermDefinition,
    parse_calendar,
    school_year_of,
    year_span,
)
from engine.time.words import day_words, ordinal, range_words

# What the holiday after a term is usually called, so explanations read as officers speak.
_HOLIDAY_AFTER = {
    "autumn": "Christmas holiday",
    "spring": "Easter holiday",
    "summer": "summer holiday",
}

Skip = Sequence[tuple[dt.date, dt.date]]


@dataclass(frozen=True)
class _Span:
    """A named stretch of weekdays that are not school days, for explanations and summaries."""

    label: str
    first: dt.date
    last: dt.date
    note: str | None = None
    kind: str = "break"  # break | closure | bank_holiday

    def describe(self, *, year: bool) -> str:
        text = f"{self.label} {range_words(self.first, self.last, year=year)}"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class _Run:
    """Consecutive school years the calendar covers, as ordinals, with their school-day indexes."""

    lo: int
    hi: int
    first_year: str
    last_year: str
    end_index: int  # index into the school-day array just past this run's last school day


def _weekdays_within(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date] | None:
    """`first`..`last` trimmed to start and end on weekdays, or None if it holds no weekday."""
    while first <= last and first.weekday() >= 5:
        first += dt.timedelta(days=1)
    while last >= first and last.weekday() >= 5:
        last -= dt.timedelta(days=1)
    return (first, last) if first <= last else None


def england_bank_holidays(first_year: int, last_year: int) -> dict[dt.date, str]:
    """England's bank holidays in calendar years `first_year`..`last_year`, from `holidays`."""
    import holidays  # imported here: it is slow to import and only calendars need it

    found = holidays.country_holidays("GB", subdiv="ENG", years=range(first_year, last_year + 1))
    return {day: str(name) for day, name in sorted(found.items())}


@functools.lru_cache(maxsize=64)
def _shipped_covering(year: str, besides: str) -> tuple[str, ...]:
    """Shipped calendars other than `besides` that list school year `year` (for advice only)."""
    from engine.errors import DefinitionError
    from engine.time.calendars import available_calendars, shipped_years

    found = []
    for name in available_calendars():
        try:
            if name != besides and year in shipped_years(name):
                found.append(name)
        except DefinitionError:
            continue  # a shipped file being edited gives no advice
    return tuple(found)


class SchoolCalendar:
    """A validated calendar, precomputed as a sorted array of school-day ordinals.

    Day counting (`school_day_n`, `count`, `day_number`) is O(log n) by bisection, because timer
    planning calls it for every open case.
    """

    def __init__(
        self,
        definition: CalendarDefinition,
        *,
        source_text: str,
        path: str,
        bank_holidays: Mapping[dt.date, str] | None = None,
    ) -> None:
        self.definition = definition
        self.name: str = definition.name
        self.version: int = definition.version
        self.source_text: str = source_text
        self.content_hash: str = hashlib.sha256(source_text.encode("utf-8")).hexdigest()
        self.path: str = path
        self._years: dict[str, tuple[dt.date, dt.date]] = {}
        for key in sorted(definition.years):
            span = year_span(key)
            assert span is not None  # _parse refused any other key
            self._years[key] = span
        first = min(span[0] for span in self._years.values())
        last = max(span[1] for span in self._years.values())
        if bank_holidays is None:
            bank_holidays = england_bank_holidays(first.year, last.year)
        self.bank_holidays: dict[dt.date, str] = {
            day: name for day, name in sorted(bank_holidays.items()) if first <= day <= last
        }
        self._build()

    def _build(self) -> None:  # noqa: C901 (terms, breaks, closures and bank holidays folded in one pass over the year)
        """Precompute school days, covered runs of years and the named non-school spans."""
        days: list[int] = []
        spans: list[_Span] = []
        terms: list[tuple[str, TermDefinition]] = []
        self._year_days: dict[str, int] = {}
        for key in self._years:
            year = self.definition.years[key]
            closed: dict[dt.date, _Span] = {}
            for label, items in (("INSET day", year.inset_days), ("closure", year.closures)):
                for item in items:
                    closed[item.date] = _Span(label, item.date, item.date, item.note, "closure")
            before = len(days)
            for term in sorted(year.terms, key=lambda t: t.first_day):
                terms.append((key, term))
                half = term.half_term
                if half is not None:
                    spans.append(_Span("half term", half.first_day, half.last_day))
                day = term.first_day
                while day <= term.last_day:
                    in_half = half is not None and half.first_day <= day <= half.last_day
                    if day.weekday() < 5 and not in_half:
                        if day in self.bank_holidays:
                            name = self.bank_holidays[day]
                            spans.append(_Span("bank holiday", day, day, name, "bank_holiday"))
                        elif day in closed:
                            spans.append(closed[day])
                        else:
                            days.append(day.toordinal())
                    day += dt.timedelta(days=1)
            self._year_days[key] = len(days) - before
        spans.extend(self._holidays(terms))
        self._days: list[int] = sorted(days)
        self._day_set: frozenset[int] = frozenset(days)
        self._spans: list[_Span] = sorted(spans, key=lambda s: s.first)
        runs: list[_Run] = []
        for key, (lo, hi) in self._years.items():
            if runs and runs[-1].hi + 1 == lo.toordinal():
                prev = runs[-1]
                runs[-1] = _Run(prev.lo, hi.toordinal(), prev.first_year, key, 0)
            else:
                runs.append(_Run(lo.toordinal(), hi.toordinal(), key, key, 0))
        self._runs = [
            _Run(r.lo, r.hi, r.first_year, r.last_year, bisect.bisect_right(self._days, r.hi))
            for r in runs
        ]
        self._run_los = [r.lo for r in self._runs]

    def _holidays(self, terms: list[tuple[str, TermDefinition]]) -> list[_Span]:
        """The holidays between terms, and before the first and after the last, as weekdays.

        A holiday runs to the next term only while the school years are consecutive; at a gap in
        the calendar's years it stops at 31 August (and the next year's starts at 1 September).
        """
        one = dt.timedelta(days=1)
        spans: list[_Span] = []
        for i, (key, term) in enumerate(terms):
            year_first, year_last = self._years[key]
            prev = terms[i - 1] if i else None
            if prev is None or self._years[prev[0]][1] + one < year_first:
                lead = _weekdays_within(year_first, term.first_day - one)
                if lead:
                    spans.append(_Span(f"before the {term.name} term", *lead, kind="break"))
            nxt = terms[i + 1] if i + 1 < len(terms) else None
            if nxt is not None and year_last + one >= self._years[nxt[0]][0]:
                gap_last = nxt[1].first_day - one
            else:
                gap_last = year_last
            gap = _weekdays_within(term.last_day + one, gap_last)
            if gap:
                label = _HOLIDAY_AFTER.get(term.name.lower(), f"holiday after the {term.name} term")
                spans.append(_Span(label, *gap, kind="break"))
        return spans

    def __repr__(self) -> str:
        return f"<SchoolCalendar {self.name} version {self.version} {self.content_hash[:12]}>"

    # construction -------------------------------------------------------------------------

    @classmethod
    def from_yaml(
        cls,
        text: str,
        path: str,
        *,
        bank_holidays: Mapping[dt.date, str] | None = None,
    ) -> SchoolCalendar:
        """Build a calendar from YAML text; raise `DefinitionError` with `path:line:col` issues."""
        definition = parse_calendar(text, path)
        return cls(definition, source_text=text, path=path, bank_holidays=bank_holidays)

    @classmethod
    def from_stored(
        cls, text: str, path: str, *, bank_holidays: Mapping[dt.date, str]
    ) -> SchoolCalendar:
        """A calendar version as stored (validated when it was loaded), without re-checking each
        year; a text that no longer fits is reported as `from_yaml` would.
        """
        try:
            definition = CalendarDefinition.model_validate(load_yaml(text, path).data)
        except ValidationError:
            return cls.from_yaml(text, path, bank_holidays=bank_holidays)
        return cls(definition, source_text=text, path=path, bank_holidays=bank_holidays)

    # coverage -----------------------------------------------------------------------------

    def covers(self, day: dt.date) -> bool:
        """Whether `day` lies in one of the calendar's school years (1 Sep – 31 Aug)."""
        return school_year_of(day) in self._years

    def _run_of(self, day: dt.date) -> _Run:
        """The covered run of school years containing `day`; CalendarError if there is none."""
        ordinal = day.toordinal()
        i = bisect.bisect_right(self._run_los, ordinal) - 1
        if i >= 0 and ordinal <= self._runs[i].hi:
            return self._runs[i]
        raise self._missing(
            school_year_of(day), f"{day_words(day)} is in school year {school_year_of(day)}"
        )

    def _missing(self, year: str, what: str) -> CalendarError:
        """The error for a question needing school year `year`, which the calendar lacks."""
        others = _shipped_covering(year, self.name)
        hint = (
            f" Shipped calendar {others[0]} covers {year}: use `--calendar {others[0]}` (or "
            f'`[calendars] default = "{others[0]}"` in cme.toml) for new cases.'
            if others
            else ""
        )
        return CalendarError(
            f"{what}, which calendar {self.name} (version {self.version}) does not cover; it "
            f"covers {', '.join(self._years)}.{hint} To add {year}, run `cme calendar new {year}` "
            f"(it writes the year with England's bank holidays listed and the term dates to "
            f"fill in), or add a `{year}:` entry under `years:` in {self.path} with that "
            f"year's published term dates, half terms and INSET days, and raise `version`"
        )

    def _after_run(self, run: _Run, what: str) -> CalendarError:
        """The error for a count that runs past the last school year of `run`."""
        last = run.last_year
        start = int(last[:4]) + 1
        return self._missing(
            f"{start}-{(start + 1) % 100:02d}",
            f"{what} runs past the end of school year {last} into {start}-{(start + 1) % 100:02d}",
        )

    def _skip_ranges(self, skip: Skip) -> list[tuple[int, int]]:
        """Merged [a, b) index ranges of the school-day array that `skip` covers."""
        ranges: list[tuple[int, int]] = []
        for first, last in skip:
            if last < first:
                raise InputError(
                    f"a paused period cannot end ({day_words(last)}) before it starts "
                    f"({day_words(first)})"
                )
            a = bisect.bisect_left(self._days, first.toordinal())
            b = bisect.bisect_right(self._days, last.toordinal())
            if a < b:
                ranges.append((a, b))
        ranges.sort()
        merged: list[tuple[int, int]] = []
        for a, b in ranges:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return merged

    # questions ----------------------------------------------------------------------------

    def is_school_day(self, d: dt.date) -> bool:
        """Whether `d` is a school day; CalendarError naming its school year if not covered."""
        self._run_of(d)
        return d.toordinal() in self._day_set

    def _index_of_day_n(self, start: dt.date, n: int, skip: Skip) -> int:
        """Index in the school-day array of Day `n` from `start` (see `school_day_n`)."""
        if n < 1:
            raise InputError(f"Day {n} does not exist: days are counted from Day 1")
        run = self._run_of(start)
        first = bisect.bisect_left(self._days, start.toordinal())
        index = first + n - 1
        if skip:
            for a, b in self._skip_ranges(skip):
                a = max(a, first)
                if b <= a:
                    continue
                if a > index:
                    break
                index += b - a  # every paused school day pushes Day n one school day later
        if index >= run.end_index:
            raise self._after_run(run, f"Day {n} from {day_words(start)}")
        return index

    def school_day_n(self, start: dt.date, n: int, *, skip: Skip = ()) -> dt.date:
        """The date of Day `n` (n >= 1), where Day 1 is the first school day on or after `start`.

        The policy counts the day a notification arrives as Day 1; one arriving on a weekend, a
        holiday or a closure day is acted on from the next school day, which is then Day 1.
        School days inside any inclusive range in `skip` (stop-the-clock pauses) do not count.
        """
        return dt.date.fromordinal(self._days[self._index_of_day_n(start, n, skip)])

    def count(self, start: dt.date, end: dt.date, *, skip: Skip = ()) -> int:
        """The number of school days in [start, end] inclusive, leaving out those in `skip`."""
        if end < start:
            return 0
        run = self._run_of(start)
        if self._run_of(end) is not run:
            raise self._after_run(run, f"counting from {day_words(start)} to {day_words(end)}")
        i = bisect.bisect_left(self._days, start.toordinal())
        j = bisect.bisect_right(self._days, end.toordinal())
        total = j - i
        if skip:
            for a, b in self._skip_ranges(skip):
                total -= max(0, min(b, j) - max(a, i))
        return total

    def day_number(self, start: dt.date, on: dt.date, *, skip: Skip = ()) -> int:
        """Which Day N `on` is, counting from `start` as in `school_day_n`.

        0 before Day 1; on a day that is not a school day, the number of the last school day
        passed (so Day N's deadline has arrived when `day_number(start, on) >= N`).
        """
        if on < start:
            return 0
        return self.count(start, on, skip=skip)

    def explain(self, start: dt.date, n: int, *, skip: Skip = ()) -> str:
        """Day `n` from `start` in words, naming every break, closure and pause skipped."""
        result = self.school_day_n(start, n, skip=skip)
        day1 = self.school_day_n(start, 1, skip=skip)
        with_year = start.year != result.year
        text = f"Day {n} = {day_words(result)}: {ordinal(n)} school day from {day_words(start)}"
        if day1 != start:
            why = "not a school day" if not self.is_school_day(start) else "paused"
            text += f" ({why}, so Day 1 is {day_words(day1)})"
        skipped = [
            span.describe(year=with_year)
            for span in self._spans
            if span.last >= start and span.first <= result
        ]
        for first, last in sorted(skip):
            lo, hi = max(first, start), min(last, result)
            if lo > hi:
                continue
            days = self.count(lo, hi)
            plural = "" if days == 1 else "s"
            skipped.append(
                f"pause {range_words(first, last, year=with_year)} "
                f"({days} school day{plural} not counted)"
            )
        if skipped:
            text += ", skipping " + ", ".join(skipped)
        return f"{text}, calendar {self.name} version {self.version}"

    def school_years(self) -> list[str]:
        """The school years the calendar covers, oldest first, e.g. `["2024-25"]`."""
        return list(self._years)

    def year_summary(self, year: str) -> dict[str, Any]:
        """Terms, breaks, INSET and closure days and bank holidays in term for one school year."""
        if year not in self._years:
            close = close_matches(year, self._years, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise CalendarError(
                f"calendar {self.name} has no school year {year!r}.{hint} It covers "
                f"{', '.join(self._years)}"
            )
        first, last = self._years[year]
        definition = self.definition.years[year]
        terms = sorted(definition.terms, key=lambda t: t.first_day)

        def clipped(span: _Span) -> dict[str, Any] | None:
            inside = _weekdays_within(max(span.first, first), min(span.last, last))
            if inside is None:
                return None
            return {"name": span.label, "first_day": inside[0], "last_day": inside[1]}

        breaks = [
            item
            for span in self._spans
            if span.kind == "break" and (item := clipped(span)) is not None
        ]
        return {
            "calendar": self.name,
            "version": self.version,
            "year": year,
            "first_day": first,
            "last_day": last,
            "school_days": self._year_days[year],
            "terms": [
                {
                    "name": term.name,
                    "first_day": term.first_day,
                    "last_day": term.last_day,
                    "half_term": None
                    if term.half_term is None
                    else {
                        "first_day": term.half_term.first_day,
                        "last_day": term.half_term.last_day,
                        "note": term.half_term.note,
                    },
                    "school_days": self.count(term.first_day, term.last_day),
                    "note": term.note,
                }
                for term in terms
            ],
            "breaks": breaks,
            "inset_days": [{"date": c.date, "note": c.note} for c in definition.inset_days],
            "closures": [{"date": c.date, "note": c.note} for c in definition.closures],
            "bank_holidays_in_term": [
                {"date": span.first, "name": span.note}
                for span in self._spans
                if span.kind == "bank_holiday" and first <= span.first <= last
            ],
            "note": definition.note,
        }


def bank_holidays_json(cal: SchoolCalendar) -> str:
    """The bank holidays `cal` was built with, as the JSON pinned with its stored version."""
    return json.dumps(
        {day.isoformat(): name for day, name in cal.bank_holidays.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


__all__ = ["SchoolCalendar", "Skip", "bank_holidays_json", "england_bank_holidays"]
