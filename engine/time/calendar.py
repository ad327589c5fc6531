"""School calendars: the YAML format, loading it, and school-day arithmetic on it.

Owns: `CalendarDefinition` and its parts (what a calendar file may say), turning calendar text into
a validated `SchoolCalendar`, and the questions asked of one: is this a school day, what date is
Day N, how many school days lie between two dates, and why. Does not own: which calendar a case
uses, or what a timer does when its day comes (that is the process and timer code).

A school day is a Monday–Friday inside a term that is not in the term's half term, not an INSET
or closure day, and not an England bank holiday. Bank holidays come from the `holidays` package
(GB, subdivision ENG); calendar files never list them.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import hashlib
import importlib.resources
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from engine.errors import CalendarError, DefinitionError, InputError, Issue
from engine.language.yamlsafe import Document, load_yaml, pydantic_issues

__all__ = [
    "DEFAULT_CALENDAR",
    "BreakDefinition",
    "CalendarDefinition",
    "ClosureDefinition",
    "SchoolCalendar",
    "SchoolYearDefinition",
    "TermDefinition",
    "available_calendars",
    "load_calendar",
    "load_calendar_file",
    "load_calendar_or_file",
    "school_year_of",
]

DEFAULT_CALENDAR = "london-2024-25"
_PACKAGE = "processes"
_FOLDER = "calendars"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_YEAR_KEY = re.compile(r"^(\d{4})-(\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# What the holiday after a term is usually called, so explanations read as officers speak.
_HOLIDAY_AFTER = {
    "autumn": "Christmas holiday",
    "spring": "Easter holiday",
    "summer": "summer holiday",
}

Skip = Sequence[tuple[dt.date, dt.date]]


# --- the YAML format ---------------------------------------------------------------------------


def _plain_date(value: object) -> object:
    """Accept a YAML date or a quoted YYYY-MM-DD string; refuse times, numbers and other shapes."""
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("calendar_date", "write a date without a time, as YYYY-MM-DD")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "calendar_date", "{value} is not a real date", {"value": value}
            ) from None
    raise PydanticCustomError(
        "calendar_date",
        "write the date as YYYY-MM-DD (e.g. 2024-09-02), not {value}",
        {"value": repr(value)},
    )


Day = Annotated[dt.date, BeforeValidator(_plain_date)]


def _calendar_name(value: str) -> str:
    """Refuse names that cannot be file names or `--calendar` values."""
    if not _NAME.match(value):
        suggestion = re.sub(r"[^a-z0-9._-]+", "-", value.lower()).strip("-._") or "my-calendar"
        raise PydanticCustomError(
            "calendar_name",
            "calendar name {value} must be lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (e.g. {suggestion})",
            {"value": repr(value), "suggestion": suggestion},
        )
    return value


class _Strict(BaseModel):
    # No `use_attribute_docstrings`: no JSON Schema is made from these models, and reading the
    # docstrings from source (pydantic uses `inspect`) cost every command ~15 ms at start-up.
    model_config = ConfigDict(extra="forbid", frozen=True)


class BreakDefinition(_Strict):
    """A half-term break inside a term: no school days from `first_day` to `last_day`."""

    first_day: Day
    """First day of the break (inclusive), usually a Monday."""
    last_day: Day
    """Last day of the break (inclusive), usually a Friday."""
    note: str | None = None
    """Where the dates came from, or anything a reader should know."""


class TermDefinition(_Strict):
    """One term of a school year: its first and last school day and its half term."""

    name: str = Field(min_length=1)
    """The term's name: autumn, spring or summer (others are allowed)."""
    first_day: Day
    """First day of term (inclusive)."""
    last_day: Day
    """Last day of term (inclusive)."""
    half_term: BreakDefinition | None = None
    """The half-term break, which must lie inside the term."""
    note: str | None = None
    """Where the dates came from, or anything a reader should know."""


class ClosureDefinition(_Strict):
    """A single weekday in term on which the school is closed to pupils."""

    date: Day
    """The day (a weekday inside a term, not in half term)."""
    note: str | None = None
    """Why the school is closed, and where the date came from."""


class SchoolYearDefinition(_Strict):
    """One school year (1 September – 31 August): its terms and the days closed inside them."""

    terms: tuple[TermDefinition, ...]
    """The terms (at least one), which must not overlap and must lie inside the school year."""
    inset_days: tuple[ClosureDefinition, ...] = ()
    """Staff training (INSET) days: not school days for pupils."""
    closures: tuple[ClosureDefinition, ...] = ()
    """Other days the school is closed (e.g. a polling day or an extra bank holiday)."""
    note: str | None = None
    """Where this year's dates came from, or anything a reader should know."""


class CalendarDefinition(_Strict):
    """A school calendar file: which days are school days, for one or more school years."""

    name: Annotated[str, AfterValidator(_calendar_name)]
    """The calendar's name, as cases and `--calendar` refer to it (the file name without .yaml)."""
    version: int = Field(ge=1, strict=True)
    """Raised whenever a date changes, so a case records which version its clock used."""
    description: str
    """What the calendar is for (which LA or school)."""
    source: str
    """Where the dates came from (a published page, a letter), so they can be checked."""
    years: dict[str, SchoolYearDefinition] = Field(min_length=1)
    """School years keyed like 2024-25; each runs 1 September – 31 August."""


# --- formatting --------------------------------------------------------------------------------


def _fmt(day: dt.date, *, year: bool = True) -> str:
    """A date as officers write it: `2 Dec 2024` (or `2 Dec` without the year)."""
    text = f"{day.day} {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def _fmt_range(first: dt.date, last: dt.date, *, year: bool = True) -> str:
    """A date range: `17–21 Feb 2025`, `28 Oct – 1 Nov`, `23 Dec 2024 – 3 Jan 2025`."""
    if first == last:
        return _fmt(first, year=year)
    if first.year != last.year:
        return f"{_fmt(first)} – {_fmt(last)}"
    tail = _fmt(last, year=year)
    if first.month == last.month:
        return f"{first.day}–{tail}"
    return f"{_fmt(first, year=False)} – {tail}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def school_year_of(day: dt.date) -> str:
    """The school year (1 Sep – 31 Aug) containing `day`, written like `2024-25`."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def _year_span(key: str) -> tuple[dt.date, dt.date] | None:
    """(1 Sep, 31 Aug) of school year `key`, or None if the key is not written like 2024-25."""
    match = _YEAR_KEY.match(key)
    if not match:
        return None
    start = int(match.group(1))
    if int(match.group(2)) != (start + 1) % 100:
        return None
    return dt.date(start, 9, 1), dt.date(start + 1, 8, 31)


# --- validation beyond the types ---------------------------------------------------------------


def _valid(model: type[_Strict], raw: object) -> Any:
    """`raw` as `model`, or None when it does not validate (pydantic has already said why).

    Unknown keys are dropped first, so a misspelt key does not hide the item's other problems.
    """
    if isinstance(raw, dict):
        raw = {key: value for key, value in raw.items() if key in model.model_fields}
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _check_year(doc: Document, key: str, raw_year: object) -> list[Issue]:
    """Issues with one school year that its types cannot express: order, overlap, placement."""
    issues: list[Issue] = []
    yloc: tuple[str | int, ...] = ("years", key)
    span = _year_span(key)
    if span is None:
        issues.append(
            doc.issue(
                yloc,
                f"school year {key!r} must be written like 2024-25: the year it starts, a "
                f"hyphen, and the last two digits of the next year",
            )
        )
    if not isinstance(raw_year, dict):
        return issues
    raw_terms = raw_year.get("terms")
    if raw_terms == []:
        issues.append(doc.issue((*yloc, "terms"), f"school year {key} needs at least one term"))
    terms: list[tuple[int, TermDefinition]] = []
    if isinstance(raw_terms, list):
        terms = [
            (i, term)
            for i, raw in enumerate(raw_terms)
            if (term := _valid(TermDefinition, raw)) is not None
        ]
    seen_names: dict[str, int] = {}
    ordered: list[tuple[int, TermDefinition]] = []
    for i, term in terms:
        tloc = (*yloc, "terms", i)
        described = f"term {term.name!r} ({_fmt_range(term.first_day, term.last_day)})"
        if term.name.lower() in seen_names:
            issues.append(
                doc.issue((*tloc, "name"), f"term name {term.name!r} is used twice in {key}")
            )
        seen_names[term.name.lower()] = i
        if term.last_day < term.first_day:
            issues.append(
                doc.issue(
                    (*tloc, "last_day"),
                    f"term {term.name!r} ends ({_fmt(term.last_day)}) before it starts "
                    f"({_fmt(term.first_day)})",
                )
            )
            continue
        ordered.append((i, term))
        if span is not None:
            for field in ("first_day", "last_day"):
                day = getattr(term, field)
                if not span[0] <= day <= span[1]:
                    issues.append(
                        doc.issue(
                            (*tloc, field),
                            f"{described} is not inside school year {key} "
                            f"({_fmt_range(*span)}); move it to the year it belongs to",
                        )
                    )
                    break
        half = term.half_term
        if half is not None:
            hloc = (*tloc, "half_term")
            if half.last_day < half.first_day:
                issues.append(
                    doc.issue(
                        (*hloc, "last_day"),
                        f"the half term of term {term.name!r} ends ({_fmt(half.last_day)}) "
                        f"before it starts ({_fmt(half.first_day)})",
                    )
                )
            elif half.first_day < term.first_day or half.last_day > term.last_day:
                issues.append(
                    doc.issue(
                        hloc,
                        f"half term {_fmt_range(half.first_day, half.last_day)} is not inside "
                        f"{described}",
                    )
                )
    ordered.sort(key=lambda item: item[1].first_day)
    latest: TermDefinition | None = None
    for i, term in ordered:
        if latest is not None and term.first_day <= latest.last_day:
            issues.append(
                doc.issue(
                    (*yloc, "terms", i, "first_day"),
                    f"term {term.name!r} ({_fmt_range(term.first_day, term.last_day)}) overlaps "
                    f"term {latest.name!r} ({_fmt_range(latest.first_day, latest.last_day)}); "
                    f"terms must not share days",
                )
            )
        if latest is None or term.last_day > latest.last_day:
            latest = term
    seen_days: dict[dt.date, str] = {}
    for field in ("inset_days", "closures"):
        raw_days = raw_year.get(field)
        if not isinstance(raw_days, list):
            continue
        for i, raw in enumerate(raw_days):
            closure = _valid(ClosureDefinition, raw)
            if closure is None:
                continue
            cloc = (*yloc, field, i, "date")
            day = closure.date
            where = f"{field}: {_fmt(day)}"
            if day in seen_days:
                issues.append(doc.issue(cloc, f"{where} is already listed in {seen_days[day]}"))
                continue
            seen_days[day] = field
            if day.weekday() >= 5:
                issues.append(
                    doc.issue(
                        cloc,
                        f"{where} is a {_WEEKDAYS[day.weekday()]}; a closure day must be a "
                        f"weekday in term (weekends are never school days)",
                    )
                )
                continue
            home = next((t for _, t in ordered if t.first_day <= day <= t.last_day), None)
            if home is None:
                issues.append(
                    doc.issue(
                        cloc,
                        f"{where} is not inside any term of {key}; only days in term can be "
                        f"closed (holidays are never school days)",
                    )
                )
            elif home.half_term is not None and (
                home.half_term.first_day <= day <= home.half_term.last_day
            ):
                issues.append(
                    doc.issue(
                        cloc,
                        f"{where} falls in the half term of term {home.name!r}, which is already "
                        f"not a school day",
                    )
                )
    return issues


def _parse(text: str, path: str, *, expected_name: str | None = None) -> CalendarDefinition:
    """Validate calendar text; raise one `DefinitionError` carrying every issue found."""
    doc = load_yaml(text, path)
    if not isinstance(doc.data, dict):
        raise DefinitionError(
            [
                doc.issue(
                    (), "a calendar file is a mapping: name, version, description, source, years"
                )
            ]
        )
    issues: list[Issue] = []
    definition: CalendarDefinition | None = None
    try:
        definition = CalendarDefinition.model_validate(doc.data)
    except ValidationError as exc:
        issues.extend(pydantic_issues(doc, exc.errors()))
    years = doc.data.get("years")
    if isinstance(years, dict):
        for key, raw_year in years.items():
            issues.extend(_check_year(doc, str(key), raw_year))
    name = doc.data.get("name")
    if expected_name is not None and isinstance(name, str) and name != expected_name:
        issues.append(
            doc.issue(
                ("name",),
                f"name {name!r} does not match the file name; a calendar is named after its "
                f"file, so write name: {expected_name}",
            )
        )
    if issues or definition is None:
        raise DefinitionError(list(dict.fromkeys(issues)))
    return definition


# --- runtime -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    """A named stretch of weekdays that are not school days, for explanations and summaries."""

    label: str
    first: dt.date
    last: dt.date
    note: str | None = None
    kind: str = "break"  # break | closure | bank_holiday

    def describe(self, *, year: bool) -> str:
        text = f"{self.label} {_fmt_range(self.first, self.last, year=year)}"
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
            span = _year_span(key)
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

    def _build(self) -> None:
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
        return cls(_parse(text, path), source_text=text, path=path, bank_holidays=bank_holidays)

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
            school_year_of(day), f"{_fmt(day)} is in school year {school_year_of(day)}"
        )

    def _missing(self, year: str, what: str) -> CalendarError:
        """The error for a question needing school year `year`, which the calendar lacks."""
        return CalendarError(
            f"{what}, which calendar {self.name} (version {self.version}) does not cover; it "
            f"covers {', '.join(self._years)}. To add {year}, add a `{year}:` entry under "
            f"`years:` in {self.path} with that year's published term dates, half terms and "
            f"INSET days, and raise `version`"
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
                    f"a paused period cannot end ({_fmt(last)}) before it starts ({_fmt(first)})"
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
            raise self._after_run(run, f"Day {n} from {_fmt(start)}")
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
            raise self._after_run(run, f"counting from {_fmt(start)} to {_fmt(end)}")
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
        text = f"Day {n} = {_fmt(result)}: {_ordinal(n)} school day from {_fmt(start)}"
        if day1 != start:
            why = "not a school day" if not self.is_school_day(start) else "paused"
            text += f" ({why}, so Day 1 is {_fmt(day1)})"
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
                f"pause {_fmt_range(first, last, year=with_year)} "
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
            close = difflib.get_close_matches(year, list(self._years), n=1)
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


# --- loading -----------------------------------------------------------------------------------

_CACHE: dict[str, SchoolCalendar] = {}


def _calendar_dir() -> Traversable:
    """The shipped calendars folder, read as package data whatever the working directory."""
    return importlib.resources.files(_PACKAGE).joinpath(_FOLDER)


def available_calendars() -> list[str]:
    """Names of the calendars shipped in `processes/calendars/`, sorted."""
    return sorted(
        entry.name[: -len(".yaml")]
        for entry in _calendar_dir().iterdir()
        if entry.name.endswith(".yaml") and entry.is_file()
    )


def load_calendar(name: str) -> SchoolCalendar:
    """The shipped calendar called `name` (cached); CalendarError listing known names if none."""
    cached = _CACHE.get(name)
    if cached is not None:
        return cached
    known = available_calendars()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CalendarError(
            f"no calendar named {name!r}.{hint} Known calendars: {', '.join(known) or 'none'}; "
            f"or give the path of a calendar YAML file"
        )
    path = f"{_PACKAGE}/{_FOLDER}/{name}.yaml"
    text = _calendar_dir().joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    definition = _parse(text, path, expected_name=name)
    calendar = SchoolCalendar(definition, source_text=text, path=path)
    _CACHE[name] = calendar
    return calendar


def load_calendar_file(path: str | Path) -> SchoolCalendar:
    """A calendar read from a YAML file anywhere (not cached: the file may be being edited)."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError([Issue(where, 1, 1, f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        raise CalendarError(f"cannot read calendar file {where}: {exc.strerror}") from None
    return SchoolCalendar.from_yaml(text, where)


def load_calendar_or_file(spec: str) -> SchoolCalendar:
    """A shipped calendar by name, or a calendar file if `spec` looks like a path (`.yaml`, `/`)."""
    if spec.endswith((".yaml", ".yml")) or "/" in spec or "\\" in spec:
        return load_calendar_file(spec)
    return load_calendar(spec)
