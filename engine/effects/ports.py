"""The engine's ports: small protocols that adapters implement at the edge.

The engine records that an action was requested (an outbox row) and what came back; adapters in
`adapters/` do the sending, rendering and asking. Nothing here imports an adapter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """An email or notification to send: to whom, about what, and the text."""

    outbox_id: int
    case_id: str
    recipient: str
    """A role id or party (notifier, destination_la, mash, ehe_team …), resolved by the adapter."""
    subject: str
    body: str
    attachments: list[tuple[str, bytes]] = field(default_factory=list)


class DeliveryFailed(Exception):
    """The adapter could not deliver; the outbox keeps the message and retries it."""


class Notifier(Protocol):
    """Sends a message (e.g. by SMTP); raises DeliveryFailed if it did not go."""

    def send(self, message: OutgoingMessage) -> None:
        """Deliver `message` or raise DeliveryFailed."""


@dataclass(frozen=True)
class RenderedLetter:
    """A letter produced for a case: the printable document and the template version it used."""

    template: str
    template_version: str
    filename: str
    content: bytes
    media_type: str


class LetterRenderer(Protocol):
    """Renders a letter template with a case's details into a printable document."""

    def render(self, template: str, context: dict[str, Any]) -> RenderedLetter:
        """The letter `template` filled in with `context`."""


@dataclass(frozen=True)
class EnquiryResult:
    """What an enquiry system said about a child: which system, when, what, and who asked."""

    case_id: str
    system: str
    """MASH, resident_index, housing, council_tax, yos, nhs_spine, giap …"""
    on: dt.date
    outcome: str
    officer: str


class EnquirySource(Protocol):
    """An enquiry system (or a batch file of its answers) that yields results to record."""

    def results(self) -> list[EnquiryResult]:
        """Every result this source has."""
