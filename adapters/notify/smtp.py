"""Email over SMTP: the engine's `Notifier` for escalations, referrals and notifications.

Owns the connection settings (host, port, TLS, authentication, sender; also read from
CME_SMTP_* variables) and turning an `OutgoingMessage` into one email. Any failure to hand the
message to the server raises `DeliveryFailed`, so the outbox keeps it and retries.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from engine.effects.ports import DeliveryFailed, OutgoingMessage
from engine.errors import InputError

Security = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail."""

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    security: Security = "none"
    sender: str = "cme-engine@localhost"
    timeout: float = 30.0

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str] | None = None, **given: object
    ) -> SmtpSettings:
        """Settings from CME_SMTP_HOST, _PORT, _USER, _PASSWORD, _SECURITY and _FROM, overridden
        by the values `given` that are not None.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "host": env.get("CME_SMTP_HOST", "localhost"),
            "port": env.get("CME_SMTP_PORT"),
            "username": env.get("CME_SMTP_USER"),
            "password": env.get("CME_SMTP_PASSWORD"),
            "security": env.get("CME_SMTP_SECURITY"),
            "sender": env.get("CME_SMTP_FROM"),
        }
        values.update({k: v for k, v in given.items() if v is not None})
        port = values.pop("port")
        security = values.pop("security") or "none"
        if security not in ("none", "starttls", "ssl"):
            raise InputError(f"SMTP security is none, starttls or ssl, not {security!r}")
        try:
            port_number = int(str(port)) if port else (465 if security == "ssl" else 25)
        except ValueError:
            raise InputError(f"SMTP port must be a number, not {port!r}") from None
        sender = values.pop("sender") or "cme-engine@localhost"
        return cls(
            host=str(values["host"]),
            port=port_number,
            username=_text(values.get("username")),
            password=_text(values.get("password")),
            security=security,
            sender=str(sender),
        )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class SmtpNotifier:
    """Sends each message as one email through an SMTP server."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: OutgoingMessage) -> None:
        """Hand the message to the server, or raise `DeliveryFailed` saying why not."""
        email = self.build(message)
        s = self.settings
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                if s.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, s.password or "")
                refused = client.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(
                f"SMTP {s.host}:{s.port}: {type(exc).__name__}: {exc}".strip()
            ) from exc
        if refused:
            raise DeliveryFailed(f"SMTP {s.host}:{s.port} refused recipients: {refused}")

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The email for `message` (recipients are addresses, comma separated)."""
        if "@" not in message.recipient:
            raise DeliveryFailed(f"no email address for {message.recipient!r}")
        email = EmailMessage()
        email["From"] = self.settings.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(idstring=f"cme-outbox-{message.outbox_id}")
        email["X-CME-Case"] = message.case_id
        email.set_content(message.body)
        for filename, content in message.attachments:
            maintype, subtype = (
                ("application", "pdf")
                if filename.endswith(".pdf")
                else ("application", "octet-stream")
            )
            email.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
        return email


__all__ = ["SmtpNotifier", "SmtpSettings"]
