"""Email through a real local SMTP server (aiosmtpd): delivered, refused, down, then retried."""

from __future__ import annotations

import datetime as dt
import email
import socket
from collections.abc import Iterator
from email.message import Message
from typing import cast

import pytest
from aiosmtpd.controller import Controller

from adapters.letters.renderer import PdfLetterRenderer
from adapters.notify.compose import TemplateComposer
from adapters.notify.recipients import load_recipients
from adapters.notify.smtp import SmtpNotifier, SmtpSettings
from engine.cases.service import Actor
from engine.effects.outbox import OutboxSender, list_outbox
from engine.effects.ports import DeliveryFailed, OutgoingMessage
from tests.conftest import RECORDED_AT

OFFICER = Actor("sona", "cme_officer")
OPENED = dt.date(2024, 10, 21)


class Inbox:
    """An aiosmtpd handler that keeps every message; refuses recipients listed in `refuse`."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.content),
            )
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    handler = Inbox(refuse=frozenset({"nobody@camden.example"}))
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield handler
    controller.stop()


def _message(recipient: str = "mash@camden.example") -> OutgoingMessage:
    return OutgoingMessage(
        outbox_id=7,
        case_id="CME-000001",
        recipient=recipient,
        subject="Safeguarding referral",
        body="Refer with immediate effect.\n",
        attachments=[("letter.pdf", b"%PDF-1.4 test")],
    )


def test_a_message_reaches_the_server(inbox: Inbox, smtp_port: int) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=smtp_port, sender="cme@camden.example")
    SmtpNotifier(settings).send(_message())
    ((mail_from, rcpt, msg),) = inbox.messages
    assert mail_from == "cme@camden.example"
    assert rcpt == ["mash@camden.example"]
    assert msg["Subject"] == "Safeguarding referral"
    assert msg["X-CME-Case"] == "CME-000001"
    parts = list(msg.walk())
    assert parts[1].get_content_type() == "text/plain"
    assert cast(bytes, parts[1].get_payload(decode=True)).decode().strip() == (
        "Refer with immediate effect."
    )
    assert parts[2].get_filename() == "letter.pdf"
    assert parts[2].get_payload(decode=True) == b"%PDF-1.4 test"


def test_a_refused_recipient_is_a_failed_delivery(inbox: Inbox, smtp_port: int) -> None:
    notifier = SmtpNotifier(SmtpSettings(host="127.0.0.1", port=smtp_port))
    with pytest.raises(DeliveryFailed, match="550"):
        notifier.send(_message("nobody@camden.example"))
    assert inbox.messages == []


def test_a_server_that_is_down_is_a_failed_delivery() -> None:
    notifier = SmtpNotifier(SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2))
    with pytest.raises(DeliveryFailed, match="ConnectionRefusedError"):
        notifier.send(_message())


def test_settings_from_the_environment_and_options() -> None:
    env = {
        "CME_SMTP_HOST": "mail.camden.example",
        "CME_SMTP_SECURITY": "ssl",
        "CME_SMTP_USER": "cme",
        "CME_SMTP_PASSWORD": "s3cret",
        "CME_SMTP_FROM": "a@b.example",
    }
    settings = SmtpSettings.from_environment(env)
    assert (settings.host, settings.port, settings.security) == ("mail.camden.example", 465, "ssl")
    assert (settings.username, settings.password) == ("cme", "s3cret")
    assert SmtpSettings.from_environment(env, port=2525, security="starttls").port == 2525
    with pytest.raises(Exception, match="none, starttls or ssl"):
        SmtpSettings.from_environment({"CME_SMTP_SECURITY": "tls"})


def test_an_escalation_email_fails_while_the_server_is_down_then_is_retried(
    service, example_form, smtp_port: int
) -> None:
    form = example_form.model_copy(update={"children": [example_form.children[0]]})
    (case_id,) = service.open_case(form, on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.fire(case_id, "contact_established", on=OPENED, at=RECORDED_AT, actor=OFFICER)
    service.set_fact(
        case_id,
        "safeguarding_concern",
        "neighbour heard shouting",
        on=OPENED,
        at=RECORDED_AT,
        actor=OFFICER,
    )
    service.fire(case_id, "refer_to_mash", on=OPENED, at=RECORDED_AT, actor=OFFICER)

    def sender() -> OutboxSender:
        settings = SmtpSettings(
            host="127.0.0.1", port=smtp_port, sender="cme@camden.example", timeout=2
        )
        return OutboxSender(
            service=service,
            notifier=SmtpNotifier(settings),
            renderer=PdfLetterRenderer(),
            composer=TemplateComposer(),
            directory=load_recipients(),
            actor=OFFICER,
        )

    down = sender().send_pending(on=OPENED, at=RECORDED_AT)
    assert down.sent == []
    (row,) = list_outbox(service, status=["failed"])
    assert row.attempts == 1
    assert "ConnectionRefusedError" in (row.last_error or "")

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        up = sender().send_pending(on=OPENED, at=RECORDED_AT)
    finally:
        controller.stop()
    assert up.sent == [row.id]
    ((_, rcpt, msg),) = handler.messages
    assert rcpt == ["mash@camden.example"]
    assert msg["Subject"] == "Safeguarding referral from the CME team: Ana Silva, born 2015-03-14"
    body = cast(bytes, msg.get_payload(decode=True)).decode()
    assert "Concern: neighbour heard shouting" in body
    assert "Flat 3, 12 Example Street, London NW1 0AA" in body
    assert "07700" not in body  # contact numbers are not MASH's to receive here
    (sent,) = list_outbox(service, status=["sent"])
    assert sent.attempts == 2
