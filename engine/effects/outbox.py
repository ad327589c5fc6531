"""The engine side of the outbox: send what steps asked for, file letters, keep failures for retry.

Owns claiming pending rows (one transaction per row; `FOR UPDATE SKIP LOCKED` on PostgreSQL so
two senders never take the same row), turning a row and its case into a letter or a message,
and recording the result: `sent` (with the time), or `failed` with `attempts` and `last_error`
and retried on the next run until `max_attempts`, then `dead` until someone retries it by hand.
A letter is filed as a `document` row and recorded on the case (a `letter_filed` event with the
template version); a letter whose action `records_check` records that check too, with the
document as its evidence, in the same transaction (`engine.cases.letter_checks`). Adapters do
the rendering and sending through the ports; nothing here imports one.

Delivery is at least once: a crash after the mail server accepted a message but before the row
was marked sent sends it again on the next run. Nothing is ever lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import and_, insert, select, update

from engine.cases.projection import CaseState
from engine.cases.service import Actor, CaseService
from engine.effects.ports import (
    DeliveryFailed,
    LetterRenderer,
    Notifier,
    OutgoingMessage,
    RenderedLetter,
)
from engine.errors import CMEError, InputError
from engine.protection.access import ActorLike, Permission, log_read, require
from engine.store.tables import case_table, document_table, outbox_table

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
"""Failed sends are retried on each run until this many attempts, then the row is `dead`."""
STATUSES = ("pending", "failed", "sent", "dead")
_SENDABLE = ("pending", "failed")


class MessageComposer(Protocol):
    """Writes the subject and body of an email from a template and a case's details."""

    def compose(self, template: str, context: Mapping[str, Any]) -> tuple[str, str]:
        """(subject, body) of the message `template` filled in with `context`."""


class RecipientDirectory(Protocol):
    """Resolves a role or party (cme_officer, mash, notifier, destination_la …) to addresses."""

    def addresses(self, recipient: str, context: Mapping[str, Any]) -> list[str]:
        """The email addresses of `recipient` for this case; raise `DeliveryFailed` if unknown."""


class LetterTemplates(LetterRenderer, Protocol):
    """A letter renderer that can say whether it has a template."""

    def has_template(self, template: str) -> bool:
        """Whether a letter template of this name exists."""


@dataclass(frozen=True)
class OutboxItem:
    """One row of the outbox, as stored."""

    id: int
    case_id: str
    event_seq: int
    kind: str
    recipient: str
    template: str | None
    channel: str | None
    wording: str
    status: str
    attempts: int
    last_error: str | None
    created_on: dt.date
    sent_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Any) -> OutboxItem:
        """From a stored outbox row."""
        m = row._mapping
        return cls(**{k: m[k] for k in cls.__dataclass_fields__})


@dataclass
class SendSummary:
    """What one run of the sender did."""

    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    dead: list[tuple[int, str]] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)


@dataclass
class OutboxSender:
    """Sends pending outbox rows through the adapters it is given."""

    service: CaseService
    notifier: Notifier
    renderer: LetterTemplates
    composer: MessageComposer
    directory: RecipientDirectory
    actor: Actor
    max_attempts: int = MAX_ATTEMPTS

    def send_pending(
        self, *, on: dt.date, at: dt.datetime, limit: int | None = None
    ) -> SendSummary:
        """Send (or file) every pending or failed row, each in its own transaction."""
        # Sending acts on cases (a letter is recorded on the case), so it needs change_case.
        require(self.actor, Permission.change_case, table=self.service.roles)
        summary = SendSummary()
        for outbox_id in waiting_ids(self.service, max_attempts=self.max_attempts, limit=limit):
            self._send_one(outbox_id, on=on, at=at, summary=summary)
        return summary

    def _send_one(
        self, outbox_id: int, *, on: dt.date, at: dt.datetime, summary: SendSummary
    ) -> None:
        store = self.service.store
        with self.service.batch() as conn:
            query = select(outbox_table).where(
                and_(outbox_table.c.id == outbox_id, outbox_table.c.status.in_(_SENDABLE))
            )
            if not store.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                return  # sent meanwhile, or another sender holds it
            item = OutboxItem.from_row(row)
            stored = CaseState.from_row(
                conn.execute(select(case_table).where(case_table.c.id == item.case_id)).one()
            )
            # Personal data is sealed per case in the store; letters need it in the clear.
            case = self.service.revealed(stored, conn=conn)
            try:
                with conn.begin_nested():
                    document = self._deliver(conn, item, case, on=on, at=at)
            except (DeliveryFailed, CMEError) as exc:
                self._mark_failed(conn, item, str(exc) or type(exc).__name__, summary)
                return
            except Exception as exc:  # an adapter's bug must not lose the row: keep and report
                log.exception("outbox row %s: unexpected error", item.id)
                self._mark_failed(conn, item, f"{type(exc).__name__}: {exc}", summary)
                return
            conn.execute(
                update(outbox_table)
                .where(outbox_table.c.id == item.id)
                .values(status="sent", attempts=item.attempts + 1, last_error=None, sent_at=at)
            )
        summary.sent.append(item.id)
        if document is not None:
            summary.documents.append(document)

    def _deliver(
        self, conn: Any, item: OutboxItem, case: CaseState, *, on: dt.date, at: dt.datetime
    ) -> int | None:
        """Produce the letter and/or message of one row; returns the filed document's id."""
        context = message_context(self.service, case, item, on=on)
        document_id = None
        letter: RenderedLetter | None = None
        if item.template and (item.kind == "letter" or self.renderer.has_template(item.template)):
            letter = self.renderer.render(item.template, context)
            document_id = self._file(conn, item, letter, on=on, at=at)
        elif item.kind == "letter":
            raise InputError(f"a letter needs a template; outbox row {item.id} names none")
        if item.kind == "letter":
            return document_id
        template = item.template or "generic"
        subject, body = self.composer.compose(template, context)
        addresses = self.directory.addresses(item.recipient, context)
        message = OutgoingMessage(
            outbox_id=item.id,
            case_id=item.case_id,
            recipient=", ".join(addresses),
            subject=subject,
            body=body,
            attachments=[(letter.filename, letter.content)] if letter else [],
        )
        self.notifier.send(message)
        return document_id

    def _file(
        self, conn: Any, item: OutboxItem, letter: RenderedLetter, *, on: dt.date, at: dt.datetime
    ) -> int:
        document_id = int(
            conn.execute(
                insert(document_table).values(
                    case_id=item.case_id,
                    outbox_id=item.id,
                    template=letter.template,
                    template_version=letter.template_version,
                    filename=letter.filename,
                    media_type=letter.media_type,
                    content=letter.content,
                    sha256=hashlib.sha256(letter.content).hexdigest(),
                    created_on=on,
                    created_at=at,
                )
            ).inserted_primary_key[0]
        )
        self.service.file_letter(
            item.case_id,
            template=letter.template,
            template_version=letter.template_version,
            document_id=document_id,
            outbox_id=item.id,
            on=on,
            at=at,
            actor=self.actor,
        )
        self._record_check(conn, item, letter.template, document_id, on=on, at=at)
        return document_id

    def _record_check(
        self,
        conn: Any,
        item: OutboxItem,
        template: str,
        document_id: int,
        *,
        on: dt.date,
        at: dt.datetime,
    ) -> None:
        """Record the check this letter's action names (`records_check`), with the letter as
        its evidence, in the transaction that files it; a refusal fails the row, unwritten.
        """
        from engine.cases.letter_checks import check_of_action

        if item.kind != "letter":
            return
        position = conn.execute(
            select(outbox_table.c.position).where(outbox_table.c.id == item.id)
        ).scalar_one()
        events = self.service.events(item.case_id, conn=conn)
        check = check_of_action(events, item.event_seq, int(position))
        if check is None:
            return
        self.service.record_letter_check(
            item.case_id,
            check,
            template=template,
            document_id=document_id,
            on=on,
            at=at,
            actor=self.actor,
        )

    def _mark_failed(self, conn: Any, item: OutboxItem, error: str, summary: SendSummary) -> None:
        attempts = item.attempts + 1
        status = "dead" if attempts >= self.max_attempts else "failed"
        conn.execute(
            update(outbox_table)
            .where(outbox_table.c.id == item.id)
            .values(status=status, attempts=attempts, last_error=error[:2000])
        )
        (summary.dead if status == "dead" else summary.failed).append((item.id, error))
        log.warning("outbox row %s %s (attempt %s): %s", item.id, status, attempts, error)


def waiting_ids(
    service: CaseService, *, max_attempts: int = MAX_ATTEMPTS, limit: int | None = None
) -> list[int]:
    """Ids of rows still to send: pending, or failed with attempts left; oldest first."""
    query = (
        select(outbox_table.c.id)
        .where(and_(outbox_table.c.status.in_(_SENDABLE), outbox_table.c.attempts < max_attempts))
        .order_by(outbox_table.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    with service.store.read() as conn:
        return [int(r[0]) for r in conn.execute(query)]


def list_outbox(
    service: CaseService, *, status: Sequence[str] | None = None, case_id: str | None = None
) -> list[OutboxItem]:
    """Outbox rows, optionally only some statuses or one case's; oldest first."""
    query = select(outbox_table).order_by(outbox_table.c.id)
    if status:
        unknown = sorted(set(status) - set(STATUSES))
        if unknown:
            raise InputError(
                f"no outbox status {', '.join(unknown)}; statuses are {', '.join(STATUSES)}"
            )
        query = query.where(outbox_table.c.status.in_(list(status)))
    if case_id:
        query = query.where(outbox_table.c.case_id == case_id)
    with service.store.read() as conn:
        return [OutboxItem.from_row(r) for r in conn.execute(query)]


def documents_of(service: CaseService, outbox_ids: Sequence[int]) -> dict[int, list[int]]:
    """The documents filed for each outbox row (row id -> document ids, oldest first): what an
    officer types to `cme outbox document` to print a letter.
    """
    if not outbox_ids:
        return {}
    found: dict[int, list[int]] = {}
    query = (
        select(document_table.c.outbox_id, document_table.c.id)
        .where(document_table.c.outbox_id.in_(list(outbox_ids)))
        .order_by(document_table.c.id)
    )
    with service.store.read() as conn:
        for outbox_id, document_id in conn.execute(query):
            found.setdefault(int(outbox_id), []).append(int(document_id))
    return found


def retry(service: CaseService, ids: Sequence[int] | None = None) -> list[int]:
    """Put failed or dead rows (the ones named, else every dead one) back to pending, with fresh
    attempts; returns the ids changed. A sent row is never sent again.
    """
    where = [outbox_table.c.status.in_(["failed", "dead"] if ids else ["dead"])]
    if ids:
        where.append(outbox_table.c.id.in_(list(ids)))
    with service.store.engine.begin() as conn:
        changed = [int(r[0]) for r in conn.execute(select(outbox_table.c.id).where(and_(*where)))]
        if ids:
            missing = sorted(set(ids) - set(changed))
            if missing:
                raise InputError(
                    "outbox rows not failed or dead (already sent, still pending, or no such "
                    f"row): {', '.join(str(i) for i in missing)}; nothing was changed"
                )
        if changed:
            conn.execute(
                update(outbox_table)
                .where(outbox_table.c.id.in_(changed))
                .values(status="pending", attempts=0)
            )
    return changed


def message_context(
    service: CaseService, case: CaseState, item: OutboxItem, *, on: dt.date
) -> dict[str, Any]:
    """What a letter or message template may use: the case, child, family, notifier and action."""
    definition = service.process_for(case).definition
    personal = case.personal
    facts = {**case.facts, **(personal.get("facts") or {})}
    return {
        "case": {
            "id": case.id,
            "process": case.process_id,
            "process_title": definition.title,
            "state": case.state,
            "state_title": definition.states[case.state].title,
            "opened_on": case.opened_on,
            "assigned_officer": case.assigned_officer,
            "closed_on": case.closed_on,
        },
        "child": _with_defaults(
            personal.get("child"),
            ("full_name", "date_of_birth", "gender", "upn", "school", "previous_school", "ground"),
        ),
        "parent_carer": _with_defaults(
            personal.get("parent_carer"),
            (
                "names",
                "relationship",
                "address",
                "postcode",
                "contact_numbers",
                "email",
                "translator_required",
                "language",
            ),
        ),
        "notifier": _with_defaults(
            personal.get("notifier"),
            ("name", "position", "school_or_service", "address", "contact_number", "email"),
        ),
        "facts": facts,
        "checks": dict(case.checks),
        "action": {
            "id": item.id,
            "kind": item.kind,
            "recipient": item.recipient,
            "template": item.template,
            "channel": item.channel,
            "wording": item.wording,
            "requested_on": item.created_on,
        },
        "on": on,
    }


def _with_defaults(value: Any, keys: Sequence[str]) -> dict[str, Any]:
    """The mapping with every expected key present (None where the case has no value)."""
    data = dict(value) if isinstance(value, Mapping) else {}
    return {**{k: None for k in keys}, **data}


def document_of(
    service: CaseService, document_id: int, *, actor: ActorLike, at: dt.datetime
) -> dict[str, Any]:
    """A filed document with its content (the reader's read of its case is logged)."""
    require(actor, Permission.read_case, table=service.roles)
    with service.store.read() as conn:
        row = conn.execute(select(document_table).where(document_table.c.id == document_id)).first()
    if row is None:
        raise InputError(f"no document {document_id}")
    with service.store.engine.begin() as conn:
        log_read(conn, actor, case_id=row.case_id, action=f"document {document_id}", at=at)
    return dict(row._mapping)


__all__ = [
    "MAX_ATTEMPTS",
    "LetterTemplates",
    "MessageComposer",
    "OutboxItem",
    "OutboxSender",
    "RecipientDirectory",
    "SendSummary",
    "document_of",
    "documents_of",
    "list_outbox",
    "message_context",
    "retry",
    "waiting_ids",
]
