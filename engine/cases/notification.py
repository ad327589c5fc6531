"""The CME notification form (policy Appendix 6) as strict models, and what a case takes from it.

Owns validation of a notification: every child's UPN check letter, date of birth within compulsory
school age on the notification date, at least one child. Does not own opening cases
(`service.py`) or reading files (`adapters/imports`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.errors import InputError
from engine.language.facts import CONTROL_CHARACTERS


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        # A NUL from a pasted or converted file would reach the database (PostgreSQL refuses it).
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and CONTROL_CHARACTERS.search(t) for t in texts):
            raise ValueError("contains a control character (such as NUL); retype it")
        return value


class Notifier(_Form):
    """Who made the notification."""

    name: str = Field(min_length=1)
    position: str | None = None
    school_or_service: str | None = None
    address: str | None = None
    contact_number: str | None = None
    email: str | None = None


class ParentCarer(_Form):
    """The parent or carer the children live with."""

    names: str = Field(min_length=1)
    relationship: str | None = None
    address: str | None = None
    postcode: str | None = None
    contact_numbers: list[str] = Field(default_factory=list)
    email: str | None = None
    translator_required: bool = False
    language: str | None = None


class Child(_Form):
    """One child missing education, as the form's table records them."""

    full_name: str = Field(min_length=1)
    date_of_birth: dt.date
    gender: str | None = None
    upn: str | None = None
    ethnicity: str | None = None
    school: str | None = None
    """The school whose admissions register the child is on, if any."""
    previous_school: str | None = None
    """If not on a school roll: name and address of the previous school."""
    ground: str | None = None
    """Ground for removing from the admissions register, under the regulations in force."""
    ehc_plan: bool = False
    looked_after: bool = False

    @field_validator("upn")
    @classmethod
    def _upn(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        from engine.cases.upn import validate_upn

        try:
            return validate_upn(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None


class LeadProfessional(_Form):
    """A professional working with the family or a child."""

    service: str
    name: str | None = None
    contact: str | None = None
    supporting: str | None = None
    """Whole family, or the child's name."""


class Involvement(_Form):
    """The form's involvement boxes."""

    social_care_early_help: bool = False
    camhs: bool = False
    yos: bool = False
    asylum_seeker: bool = False
    other: bool = False
    other_details: str | None = None
    lead_professionals: list[LeadProfessional] = Field(default_factory=list)


class NotificationForm(_Form):
    """A CME notification form (Appendix 6)."""

    form: Literal["cme_notification"] = "cme_notification"
    date: dt.date
    """The date on the form."""
    notifier: Notifier
    parent_carer: ParentCarer
    children: list[Child] = Field(min_length=1)
    involvement: Involvement = Field(default_factory=Involvement)
    explanation: str | None = None
    """Detailed explanation for the CME notification."""
    date_of_last_attendance: dt.date | None = None
    date_of_last_contact: dt.date | None = None
    additional_information: str | None = None
    """Emergency contacts, sibling details, any other relevant information."""


def parse_form(data: Any, *, source: str = "the form") -> NotificationForm:
    """Validate form data; every problem in one InputError naming the field."""
    try:
        return NotificationForm.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(the whole form)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            lines.append(f"  {where}: {msg}")
        header = f"{source} is not a valid CME notification:\n"
        raise InputError(header + "\n".join(lines)) from None


def check_form_dates(form: NotificationForm, *, on: dt.date) -> None:
    """Refuse a form whose dates cannot be right for a notification received on `on` (Day 1)."""
    problems = []
    if form.date > on:
        problems.append(
            f"  date: the form is dated {form.date.isoformat()}, after {on.isoformat()}, the day "
            "it is received; open the case on or after the form's date"
        )
    for name in ("date_of_last_attendance", "date_of_last_contact"):
        value = getattr(form, name)
        if value is not None and value > on:
            problems.append(
                f"  {name}: {value.isoformat()} is after {on.isoformat()}, the day the "
                "notification is received; a last attendance or contact cannot be in the future"
            )
    if problems:
        raise InputError("the notification's dates do not fit:\n" + "\n".join(problems))


def check_school_age(form: NotificationForm, *, on: dt.date) -> None:
    """Refuse a child who is not of compulsory school age on the notification date."""
    from engine.time.school_age import compulsory_school_age

    problems = []
    for i, child in enumerate(form.children):
        start, end = compulsory_school_age(child.date_of_birth)
        if not start <= on <= end:
            problems.append(
                f"  children.{i} ({child.full_name}): born {child.date_of_birth.isoformat()}, "
                f"of compulsory school age from {start.isoformat()} to {end.isoformat()}, "
                f"not on {on.isoformat()}; CME applies only to children of compulsory school age"
            )
    if problems:
        raise InputError(
            "the notification names a child outside compulsory school age:\n" + "\n".join(problems)
        )


def age_phase(dob: dt.date, on: dt.date) -> str:
    """`primary` (Reception to Year 6) or `secondary` (Year 7 on), by age on 31 August before."""
    year_start = dt.date(on.year if on.month >= 9 else on.year - 1, 8, 31)
    age = year_start.year - dob.year - ((year_start.month, year_start.day) < (dob.month, dob.day))
    # A child 11 on the 31 August before the school year is in Year 7.
    return "secondary" if age >= 11 else "primary"


def case_facts(form: NotificationForm, child: Child, *, on: dt.date) -> dict[str, Any]:
    """The facts a case may take from the form; the service keeps those its process declares."""
    facts: dict[str, Any] = {
        "ehc_plan": child.ehc_plan,
        "looked_after": child.looked_after,
        "age_phase": age_phase(child.date_of_birth, on),
        "social_care_involvement": form.involvement.social_care_early_help,
        "camhs_involvement": form.involvement.camhs,
        "yos_involvement": form.involvement.yos,
        "asylum_seeker": form.involvement.asylum_seeker,
        "translator_required": form.parent_carer.translator_required,
        "on_school_roll": bool(child.school),
    }
    if child.ground:
        facts["ground"] = child.ground
    # A process may count from the birth date (e.g. the school leaving date for 2024 Ground L);
    # it keeps it only if it declares `date_of_birth`, as a personal fact.
    facts["date_of_birth"] = child.date_of_birth.isoformat()
    if form.date_of_last_attendance:
        facts["date_of_last_attendance"] = form.date_of_last_attendance.isoformat()
    if form.date_of_last_contact:
        facts["date_of_last_contact"] = form.date_of_last_contact.isoformat()
    return facts


def personal_data(form: NotificationForm, child: Child) -> dict[str, Any]:
    """The child's and family's personal data, kept apart so it can be encrypted per case."""
    return {
        "child": child.model_dump(mode="json"),
        "parent_carer": form.parent_carer.model_dump(mode="json"),
        "notifier": form.notifier.model_dump(mode="json"),
        "involvement": form.involvement.model_dump(mode="json"),
        "explanation": form.explanation,
        "additional_information": form.additional_information,
        "form_date": form.date.isoformat(),
    }
