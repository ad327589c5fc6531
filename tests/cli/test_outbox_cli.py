"""`cme outbox …` through the CLI: letters filed, a failed email listed, retried, then sent."""

from __future__ import annotations

import json
import socket
from importlib.resources import files
from pathlib import Path

from aiosmtpd.controller import Controller
from click.testing import CliRunner

from engine.cli import cli

FORM = str(files("processes").joinpath("forms", "notification_example.yaml"))


def run(db: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--db", db, "--actor", "sona"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


class Inbox:
    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        text = envelope.content.decode()
        self.subjects.append(
            next(line for line in text.splitlines() if line.startswith("Subject:"))
        )
        return "250 OK"


def test_send_files_letters_keeps_failed_emails_and_retries(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = sqlite_url
    assert run(db, "case", "open", "--form", FORM, "--on", "2024-10-21")[0] == 0
    assert (
        run(db, "case", "fire", "CME-000001", "start_reasonable_checks", "--on", "2024-10-24")[0]
        == 0
    )
    assert (
        run(db, "case", "fire", "CME-000001", "contact_established", "--on", "2024-10-25")[0] == 0
    )
    assert (
        run(db, "case", "fact", "CME-000001", "destination_la", "Islington", "--on", "2024-10-25")[
            0
        ]
        == 0
    )
    assert (
        run(db, "case", "fire", "CME-000001", "moved_to_another_la", "--on", "2024-10-25")[0] == 0
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--from", "cme@camden.example"]

    code, out, err = run(db, "outbox", "send", "--on", "2024-10-25", *smtp)
    assert code == 2
    assert "sent 1 (1 letters filed), failed 1, dead 0" in out
    assert "failed (will be retried): SMTP 127.0.0.1" in err
    code, out, _ = run(db, "outbox", "list", "--status", "failed", "--json")
    (row,) = json.loads(out)
    assert row["template"] == "cme_notification_to_destination_la"
    assert row["attempts"] == 1

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        code, out, _ = run(db, "outbox", "send", "--on", "2024-10-25", *smtp)
    finally:
        controller.stop()
    assert code == 0
    assert "sent 1 (0 letters filed), failed 0, dead 0" in out
    assert inbox.subjects == ["Subject: CME notification from Camden: Ana Silva, born 2015-03-14"]

    pdf = tmp_path / "letter.pdf"
    code, out, _ = run(db, "outbox", "document", "1", "-o", str(pdf))
    assert code == 0
    assert "first_formal_cme_letter" in out
    assert pdf.read_bytes().startswith(b"%PDF-")
    code, _, err = run(db, "outbox", "retry", "1")
    assert code == 1
    assert "not failed or dead" in err
