"""Who a role or party is by email: `processes/recipients.yaml` (`kind: recipients`), a directory a
policy owner edits.

Owns the strict model of that file, loading it with `path:line:column` errors, and resolving a
recipient (a role such as cme_officer, a party such as mash, the case's notifier, or the
destination LA's named CME Officer) to addresses for one case. Does not own sending
(`smtp.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from engine.effects.ports import DeliveryFailed
from engine.errors import DefinitionError, Issue
from engine.language.yamlsafe import load_yaml, pydantic_issues

RECIPIENTS_FILE = "recipients.yaml"
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address (name@domain)")
    return value


Email = Annotated[str, AfterValidator(_email)]
Emails = Annotated[
    list[Email], BeforeValidator(lambda v: [v] if isinstance(v, str) else v), Field(min_length=1)
]
"""One address, or a list of them."""


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, str_strip_whitespace=True
    )


class RecipientsDefinition(_Strict):
    """The email directory of roles and parties the processes name in their actions."""

    kind: Literal["recipients"]
    version: int = Field(ge=1)
    addresses: dict[str, Emails] = Field(default_factory=dict)
    """A role id or party (cme_officer, line_manager, mash, police, ehe_team …) → addresses."""
    officers: dict[str, Email] = Field(default_factory=dict)
    """An officer's own address by the name cases record as assigned officer; a message to
    cme_officer goes to the case's assigned officer when listed here."""
    local_authorities: dict[str, Emails] = Field(default_factory=dict)
    """The named CME Officer of each local authority, by the name recorded in `destination_la`."""
    from_case: dict[str, str] = Field(default_factory=dict)
    """Parties whose address is on the case, as a path into it (e.g. notifier: notifier.email)."""


class RecipientBook:
    """Resolves recipients to addresses (the engine's `RecipientDirectory`)."""

    def __init__(self, definition: RecipientsDefinition, *, source: str) -> None:
        self.definition = definition
        self.source = source

    def addresses(self, recipient: str, context: Mapping[str, Any]) -> list[str]:
        """The addresses of `recipient` for the case in `context`."""
        d = self.definition
        if recipient in d.from_case:
            value = _lookup(context, d.from_case[recipient])
            if not value or not _EMAIL.match(str(value)):
                raise DeliveryFailed(
                    f"the case has no email address for {recipient} "
                    f"({d.from_case[recipient]} is {value!r}); record it or send by post"
                )
            return [str(value)]
        if recipient == "destination_la":
            return self._destination_la(context)
        if recipient == "cme_officer":
            officer = (context.get("case") or {}).get("assigned_officer")
            if officer in d.officers:
                return [d.officers[officer]]
        if recipient in d.addresses and d.addresses[recipient]:
            return list(d.addresses[recipient])
        raise DeliveryFailed(
            f"no email address for {recipient!r} in {self.source}; add it under `addresses`"
        )

    def _destination_la(self, context: Mapping[str, Any]) -> list[str]:
        la = (context.get("facts") or {}).get("destination_la")
        if not la:
            raise DeliveryFailed("the case records no destination_la to notify")
        wanted = str(la).strip().casefold()
        for name, addresses in self.definition.local_authorities.items():
            if name.casefold() == wanted:
                return list(addresses)
        raise DeliveryFailed(
            f"no CME Officer address for the local authority {la!r} in {self.source}; add it "
            "under `local_authorities`"
        )


def _lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def load_recipients(path: str | Path | None = None) -> RecipientBook:
    """The directory at `path`, or the shipped `processes/recipients.yaml`."""
    if path is None:
        label = f"processes/{RECIPIENTS_FILE}"
        text = resources.files("processes").joinpath(RECIPIENTS_FILE).read_text(encoding="utf-8")
    else:
        label = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DefinitionError([Issue(label, 1, 1, f"cannot read: {exc}")]) from None
    doc = load_yaml(text, label)
    try:
        definition = RecipientsDefinition.model_validate(doc.data)
    except ValidationError as exc:
        raise DefinitionError(pydantic_issues(doc, exc.errors())) from None
    return RecipientBook(definition, source=label)


__all__ = ["RecipientBook", "RecipientsDefinition", "load_recipients"]
