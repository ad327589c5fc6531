"""The school calendar file format: what a calendar YAML file may say, and checking it.

Owns `CalendarDefinition` and its parts (pydantic models), the checks its types cannot express
(term order and overlap, half terms inside terms, closures on weekdays in term), and
`parse_calendar`, which turns calendar text into a validated definition or one
`DefinitionError` carrying every issue. Does not own day arithmetic (`engine/time/calendar.py`)
nor which calendars ship (`engine/time/calendars.py`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from engine.errors import DefinitionError, Issue
from engine.language.yamlsafe import Document, load_yaml, pydantic_issues
from engine.time.words import WEEKDAYS, day_words, range_words

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_YEAR_KEY = re.compile(r"^(\d{4})-(\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# What `cme calendar new` writes where a term date is still to be filled in; the loader refuses a
# file holding it, naming the school year and every date left to fill.
PLACEHOLDER = "YYYY-MM-DD"


# --- the YAML format ---------------------------------------------------------------------------


def _plain_date(value: object) -> object:
    """Accept a YAML date or a quoted YYYY-MM-DD string; refuse times, numbers and other shapes."""
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("calendar_date", "write a date without a time, as YYYY-MM-DD")
    if isinstance(value, dt.date):
        return value
    if value == PLACEHOLDER:
        raise PydanticCustomError("calendar_placeholder", "not filled in")
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


def school_year_of(day: dt.date) -> str:
    """The school year (1 Sep – 31 Aug) containing `day`, written like `2024-25`."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def year_span(key: str) -> tuple[dt.date, dt.date] | None:
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


def _check_year(doc: Document, key: str, raw_year: object) -> list[Issue]:  # noqa: C901 (each rule of a school year's dates, reported together at their lines)
    """Issues with one school year that its types cannot express: order, overlap, placement."""
    issues: list[Issue] = []
    yloc: tuple[str | int, ...] = ("years", key)
    span = year_span(key)
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
        described = f"term {term.name!r} ({range_words(term.first_day, term.last_day)})"
        if term.name.lower() in seen_names:
            issues.append(
                doc.issue((*tloc, "name"), f"term name {term.name!r} is used twice in {key}")
            )
        seen_names[term.name.lower()] = i
        if term.last_day < term.first_day:
            issues.append(
                doc.issue(
                    (*tloc, "last_day"),
                    f"term {term.name!r} ends ({day_words(term.last_day)}) before it starts "
                    f"({day_words(term.first_day)})",
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
                            f"({range_words(*span)}); move it to the year it belongs to",
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
                        f"the half term of term {term.name!r} ends ({day_words(half.last_day)}) "
                        f"before it starts ({day_words(half.first_day)})",
                    )
                )
            elif half.first_day < term.first_day or half.last_day > term.last_day:
                issues.append(
                    doc.issue(
                        hloc,
                        f"half term {range_words(half.first_day, half.last_day)} is not inside "
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
                    f"term {term.name!r} ({range_words(term.first_day, term.last_day)}) overlaps "
                    f"term {latest.name!r} ({range_words(latest.first_day, latest.last_day)}); "
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
            where = f"{field}: {day_words(day)}"
            if day in seen_days:
                issues.append(doc.issue(cloc, f"{where} is already listed in {seen_days[day]}"))
                continue
            seen_days[day] = field
            if day.weekday() >= 5:
                issues.append(
                    doc.issue(
                        cloc,
                        f"{where} is a {WEEKDAYS[day.weekday()]}; a closure day must be a "
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


def _unfilled(doc: Document) -> list[Issue]:
    """One issue per school year whose term dates still hold `cme calendar new`'s placeholder."""
    years = doc.data.get("years")
    if not isinstance(years, dict):
        return []
    issues: list[Issue] = []
    for key, raw_year in years.items():
        terms = raw_year.get("terms") if isinstance(raw_year, dict) else None
        if not isinstance(terms, list):
            continue
        blanks: list[str] = []
        first: tuple[str | int, ...] | None = None
        for i, term in enumerate(terms):
            if not isinstance(term, dict):
                continue
            label = str(term.get("name", f"term {i + 1}"))
            parts: list[tuple[tuple[str | int, ...], str, object]] = [
                ((i, field), f"{label} {field}", term.get(field))
                for field in ("first_day", "last_day")
            ]
            half = term.get("half_term")
            if isinstance(half, dict):
                parts += [
                    ((i, "half_term", field), f"{label} half_term {field}", half.get(field))
                    for field in ("first_day", "last_day")
                ]
            for where, words, value in parts:
                if value == PLACEHOLDER:
                    blanks.append(words)
                    first = first or where
        if blanks and first is not None:
            issues.append(
                doc.issue(
                    ("years", key, "terms", *first),
                    f"term dates for {key} are not filled in: {', '.join(blanks)}; replace each "
                    f"{PLACEHOLDER} with the date the LA published, then check the file with "
                    f"`cme calendar show --calendar FILE --year {key}`",
                )
            )
    return issues


def parse_calendar(text: str, path: str, *, expected_name: str | None = None) -> CalendarDefinition:
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
    issues: list[Issue] = _unfilled(doc)
    definition: CalendarDefinition | None = None
    try:
        definition = CalendarDefinition.model_validate(doc.data)
    except ValidationError as exc:
        errors = [e for e in exc.errors() if e["type"] != "calendar_placeholder"]
        issues.extend(pydantic_issues(doc, errors))
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


__all__ = [
    "PLACEHOLDER",
    "BreakDefinition",
    "CalendarDefinition",
    "ClosureDefinition",
    "SchoolYearDefinition",
    "TermDefinition",
    "parse_calendar",
    "school_year_of",
    "year_span",
]
