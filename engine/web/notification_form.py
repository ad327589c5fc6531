"""The Appendix 6 notification as a web form: its fields, the form data the engine's model
(`engine.cases.notification.NotificationForm`, which the importer reads files into) takes, and
each of the engine's messages mapped back to the field it is about.

Validates nothing itself: `parse_form` and `open_case` (dates, school age, duplicates) do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CHILDREN = 2
"""Child rows the form shows: the first is required, the others are used when filled in."""


@dataclass(frozen=True)
class Field:
    """One input of the form: its id (the form data key and HTML id), label and kind."""

    id: str
    label: str
    kind: str = "text"
    """text, date, textarea or checkbox."""
    hint: str = ""
    required: bool = False
    autocomplete: str | None = None


DATE_HINT = "For example, 2015-03-14 or 14/03/2015"

NOTIFIER = (
    Field("notifier-name", "Notifier's name", required=True, autocomplete="name"),
    Field("notifier-position", "Position"),
    Field("notifier-school_or_service", "School or service"),
    Field("notifier-address", "Address", "textarea"),
    Field("notifier-contact_number", "Contact number", autocomplete="tel"),
    Field("notifier-email", "Email address", autocomplete="email"),
)
PARENT = (
    Field("parent_carer-names", "Parent or carer's names", required=True),
    Field("parent_carer-relationship", "Relationship to the children"),
    Field("parent_carer-address", "Address", "textarea"),
    Field("parent_carer-postcode", "Postcode"),
    Field("parent_carer-contact_numbers", "Contact numbers", hint="Separate numbers with commas"),
    Field("parent_carer-email", "Email address"),
    Field("parent_carer-translator_required", "A translator is required", "checkbox"),
    Field("parent_carer-language", "Language"),
)
INVOLVEMENT = (
    Field("involvement-social_care_early_help", "Social care or early help", "checkbox"),
    Field("involvement-camhs", "CAMHS", "checkbox"),
    Field("involvement-yos", "Youth offending service", "checkbox"),
    Field("involvement-asylum_seeker", "Asylum seeker", "checkbox"),
    Field("involvement-other", "Other", "checkbox"),
    Field("involvement-other_details", "Other involvement: details"),
)
ABOUT = (
    Field("explanation", "Detailed explanation for the CME notification", "textarea"),
    Field("date_of_last_attendance", "Date of last attendance", "date", DATE_HINT),
    Field(
        "date_of_last_contact", "Date of last contact with the parent or carer", "date", DATE_HINT
    ),
    Field(
        "additional_information",
        "Additional information",
        "textarea",
        "Emergency contacts, sibling details, anything else relevant",
    ),
)


def child_fields(i: int) -> tuple[Field, ...]:
    """The fields of child row `i` (0-based)."""
    p = f"children-{i}-"
    return (
        Field(p + "full_name", "Full name", required=i == 0),
        Field(p + "date_of_birth", "Date of birth", "date", DATE_HINT, required=i == 0),
        Field(p + "gender", "Gender"),
        Field(p + "upn", "Unique pupil number (UPN)", hint="13 characters, the check letter first"),
        Field(p + "ethnicity", "Ethnicity"),
        Field(p + "school", "School", hint="The school whose admissions register the child is on"),
        Field(p + "previous_school", "Previous school", hint="If not on a school roll"),
        Field(p + "ground", "Ground for removal from the register", hint="For example, 8(1)(h)"),
        Field(p + "ehc_plan", "Has an education, health and care plan", "checkbox"),
        Field(p + "looked_after", "Is a looked-after child", "checkbox"),
    )


def every_field() -> list[Field]:
    """Every input of the form, in page order (the error summary follows it)."""
    fields = [Field("received_on", "Date the notification was received (Day 1)", "date")]
    fields += [Field("date", "Date on the form", "date", DATE_HINT, required=True)]
    fields += [*NOTIFIER, *PARENT]
    for i in range(CHILDREN):
        fields += child_fields(i)
    return [*fields, *INVOLVEMENT, *ABOUT]


_UK_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def iso_date(text: str) -> str:
    """A date as typed (2015-03-14 or 14/03/2015), as the ISO text the model reads; anything
    else unchanged, for the model to refuse in its own words.
    """
    text = text.strip()
    m = _UK_DATE.match(text)
    if m is None:
        return text
    return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"


def form_data(typed: Mapping[str, str]) -> dict[str, Any]:
    """The notification as the engine's model takes it, from what was typed: blank answers are
    left out (the model says which are required), ticked boxes are true.
    """
    data: dict[str, Any] = {"form": "cme_notification"}
    children: list[dict[str, Any]] = []
    for i in range(CHILDREN):
        child = _section(typed, child_fields(i), f"children-{i}-")
        if i == 0 or any(v not in (None, False) for v in child.values()):
            children.append(child)
    data["children"] = children
    data["notifier"] = _section(typed, NOTIFIER, "notifier-")
    parent = _section(typed, PARENT, "parent_carer-")
    numbers = parent.pop("contact_numbers", None)
    parent["contact_numbers"] = [n.strip() for n in (numbers or "").split(",") if n.strip()]
    data["parent_carer"] = parent
    data["involvement"] = _section(typed, INVOLVEMENT, "involvement-")
    data.update(_section(typed, ABOUT, ""))
    date = (typed.get("date") or "").strip()
    if date:
        data["date"] = iso_date(date)
    return {k: v for k, v in data.items() if v is not None}


def _section(typed: Mapping[str, str], fields: tuple[Field, ...], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        name = f.id.removeprefix(prefix)
        if f.kind == "checkbox":
            out[name] = typed.get(f.id) in ("yes", "on", "true")
            continue
        value = (typed.get(f.id) or "").strip()
        if value:
            out[name] = iso_date(value) if f.kind == "date" else value
    return out


_LINE = re.compile(r"^\s+([A-Za-z_][\w.]*)(?: \([^)]*\))?: (.*)$")


def field_errors(message: str, *, labels: Mapping[str, str]) -> dict[str, str]:
    """The engine's refusal of a notification, each line beside the field it names
    ("children.0.upn: …" beside the first child's UPN); a line naming no field goes beside the
    date received. The engine's words are kept; a missing answer says which ("Enter …").
    """
    errors: dict[str, str] = {}
    loose: list[str] = []
    for line in message.splitlines()[1:] or [message]:
        found = _LINE.match(line)
        if found is None:
            loose.append(line.strip())
            continue
        where, said = found.group(1), found.group(2)
        field = _field_of(where, labels)
        if field is None:
            loose.append(f"{where}: {said}")
            continue
        if said == "Field required":
            said = f"Enter the {labels[field][0].lower()}{labels[field][1:]}"
        errors.setdefault(field, said)
    if loose:
        errors.setdefault("received_on", " ".join(x for x in loose if x) or message)
    return errors


def _field_of(where: str, labels: Mapping[str, str]) -> str | None:
    """The form field an engine location names; a child named whole (its age) is its birth
    date; a list item (a contact number) is its list.
    """
    parts = where.split(".")
    if len(parts) == 2 and parts[0] == "children":
        parts.append("date_of_birth")
    while parts:
        candidate = "-".join(parts)
        if candidate in labels:
            return candidate
        parts.pop()
    return None


__all__ = [
    "ABOUT",
    "CHILDREN",
    "INVOLVEMENT",
    "NOTIFIER",
    "PARENT",
    "Field",
    "child_fields",
    "every_field",
    "field_errors",
    "form_data",
    "iso_date",
]
