"""`cme outbox …`: the letters and emails steps asked for; send them, see failures, retry.

`send` files each letter (a PDF kept with the case, its template version recorded on the case)
and emails each notification or referral over SMTP; a send that fails stays in the outbox with
its error and is tried again on the next `send`, until `--max-attempts`, then it is `dead` until
`retry`. SMTP settings come from the options or CME_SMTP_HOST, _PORT, _USER, _PASSWORD,
_SECURITY (none, starttls, ssl) and _FROM.
"""

from __future__ import annotations

import datetime as dt

import click

from engine.cli.common import DATE, actor_options, db_option, handle_errors, json_option
from engine.cli.tables import wide_option


@click.group()
def outbox() -> None:
    """Letters and emails waiting to go: list, send and retry.

    Example: cme outbox send --smtp-host mail.camden.example --starttls
    """


@outbox.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="Only rows with this status (pending, failed, sent, dead); repeatable.",
)
@click.option("--case", "case_id", default=None, help="Only this case's rows.")
@wide_option
@db_option
@actor_options
@json_option
@handle_errors
def list_cmd(
    statuses: tuple[str, ...],
    case_id: str | None,
    wide: bool,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """The outbox: what each row is, its status, attempts, last error and the documents filed
    (their ids are what `cme outbox document` takes).

    Example: cme outbox list --status failed --status dead
    """
    from dataclasses import asdict

    from engine.cli import wiring
    from engine.cli.common import print_json
    from engine.effects.outbox import documents_of, list_outbox
    from engine.protection.access import Permission, require

    svc = wiring.service(db_url)
    require(wiring.actor(actor, role), Permission.read_case, table=svc.roles)
    rows = list_outbox(svc, status=list(statuses) or None, case_id=case_id)
    documents = documents_of(svc, [r.id for r in rows])
    if as_json:
        print_json([{**asdict(r), "document_ids": documents.get(r.id, [])} for r in rows])
        return
    from engine.cli.tables import (
        cell,
        console,
        id_column,
        joined,
        lines,
        show,
        table,
        text_column,
    )

    t = table()
    id_column(t, "row")
    id_column(t, "case")
    text_column(t, "what", ratio=3)
    text_column(t, "status", ratio=1)
    id_column(t, "document")
    for r in rows:
        status = f"{r.status}, {r.attempts} attempt{'s' if r.attempts != 1 else ''}"
        t.add_row(
            cell(r.id),
            cell(r.case_id),
            lines(
                f"{r.kind} {r.template or ''} to {r.recipient}",
                (r.last_error or "", "red"),
            ),
            cell(status),
            cell(joined(documents.get(r.id, []), "\n")),
        )
    con = console(wide=wide)
    show(con, t)
    if documents:
        con.print(cell("Print a letter: cme outbox document ID -o letter.pdf", "dim"))


@outbox.command("send")
@click.option(
    "--on",
    "on",
    type=DATE,
    default="today",
    show_default=True,
    help="The date letters are dated and filed.",
)
@click.option("--smtp-host", default=None, help="SMTP server (or CME_SMTP_HOST; localhost).")
@click.option("--smtp-port", type=int, default=None, help="Port (or CME_SMTP_PORT; 25, 465 ssl).")
@click.option("--smtp-user", default=None, help="Log in as (or CME_SMTP_USER).")
@click.option("--smtp-password", default=None, help="Password (or CME_SMTP_PASSWORD).")
@click.option(
    "--starttls",
    "security",
    flag_value="starttls",
    default=None,
    help="Upgrade the connection with STARTTLS.",
)
@click.option("--ssl", "security", flag_value="ssl", help="Connect over TLS (SMTPS).")
@click.option("--from", "sender", default=None, help="From address (or CME_SMTP_FROM).")
@click.option(
    "--recipients",
    type=click.Path(dir_okay=False),
    default=None,
    help="Email directory (default: the shipped processes/recipients.yaml).",
)
@click.option(
    "--templates",
    type=click.Path(file_okay=False),
    default=None,
    help="A folder of letter templates to use instead of the shipped ones.",
)
@click.option("--max-attempts", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most this many.")
@db_option
@actor_options
@json_option
@handle_errors
def send_cmd(
    on: dt.date,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_user: str | None,
    smtp_password: str | None,
    security: str | None,
    sender: str | None,
    recipients: str | None,
    templates: str | None,
    max_attempts: int,
    limit: int | None,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """File every pending letter and send every pending email; keep failures for retry.

    Example: cme outbox send --smtp-host 127.0.0.1 --smtp-port 2525
    """
    from pathlib import Path

    from adapters.letters.renderer import PdfLetterRenderer
    from adapters.notify.compose import TemplateComposer
    from adapters.notify.recipients import load_recipients
    from adapters.notify.smtp import SmtpNotifier, SmtpSettings
    from engine.cli import wiring
    from engine.cli.common import print_json
    from engine.effects.outbox import OutboxSender

    settings = SmtpSettings.from_environment(
        wiring.smtp_environment(db_url),
        host=smtp_host,
        port=smtp_port,
        username=smtp_user,
        password=smtp_password,
        security=security,
        sender=sender,
    )
    sender_ = OutboxSender(
        service=wiring.service(db_url),
        notifier=SmtpNotifier(settings),
        renderer=PdfLetterRenderer(Path(templates) if templates else None),
        composer=TemplateComposer(),
        directory=load_recipients(recipients),
        actor=wiring.actor(actor, role),
        max_attempts=max_attempts,
    )
    summary = sender_.send_pending(on=on, at=wiring.now(), limit=limit)
    if as_json:
        print_json(
            {
                "sent": summary.sent,
                "documents": summary.documents,
                "failed": [{"id": i, "error": e} for i, e in summary.failed],
                "dead": [{"id": i, "error": e} for i, e in summary.dead],
            }
        )
    else:
        for i, error in summary.failed:
            click.echo(f"row {i} failed (will be retried): {error}", err=True)
        for i, error in summary.dead:
            click.echo(f"row {i} dead after {max_attempts} attempts: {error}", err=True)
        click.echo(
            f"sent {len(summary.sent)} ({len(summary.documents)} letters filed), "
            f"failed {len(summary.failed)}, dead {len(summary.dead)}"
        )
    if summary.failed or summary.dead:
        raise SystemExit(2)


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@db_option
@actor_options
@handle_errors
def retry_cmd(ids: tuple[int, ...], db_url: str | None, actor: str | None, role: str) -> None:
    """Put failed or dead rows back to pending (the ids given, else every dead row).

    Example: cme outbox retry 12 15
    """
    from engine.cli import wiring
    from engine.effects.outbox import retry
    from engine.protection.access import Permission, require

    svc = wiring.service(db_url)
    require(wiring.actor(actor, role), Permission.change_case, table=svc.roles)
    changed = retry(svc, list(ids) or None)
    click.echo(f"{len(changed)} row(s) back to pending: {', '.join(map(str, changed)) or 'none'}")


@outbox.command("document")
@click.argument("document_id", type=int)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    required=True,
    help="Where to write the document.",
)
@db_option
@actor_options
@handle_errors
def document_cmd(
    document_id: int, output: str, db_url: str | None, actor: str | None, role: str
) -> None:
    """Write a filed letter (PDF) to a file, e.g. to print it.

    Example: cme outbox document 3 -o letter.pdf
    """
    from engine.cli import wiring
    from engine.effects.outbox import document_of

    doc = document_of(
        wiring.service(db_url), document_id, actor=wiring.actor(actor, role), at=wiring.now()
    )
    from engine.cli.output import write_output

    write_output(output, doc["content"], personal=True)  # a letter names the child: 0600
    click.echo(
        f"{doc['filename']} ({doc['template']}, template version "
        f"{doc['template_version'][:12]}) written to {output}"
    )


@outbox.command("posted")
@click.argument("document_id", type=int)
@click.option(
    "--check",
    default=None,
    help="The check the letter records (default: the one its step names, e.g. "
    "first_formal_letter_sent).",
)
@click.option(
    "--on",
    "on",
    type=DATE,
    default="today",
    show_default=True,
    help="The day it was posted.",
)
@db_option
@actor_options
@json_option
@handle_errors
def posted_cmd(
    document_id: int,
    check: str | None,
    on: dt.date,
    db_url: str | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Mark a printed letter posted: its check is recorded, with the letter as its evidence.

    Example: cme outbox posted 3 --on 2024-10-25
    """
    from engine.cli import wiring
    from engine.cli.common import print_json
    from engine.effects.posted import mark_posted

    done = mark_posted(
        wiring.service(db_url),
        document_id,
        check=check,
        on=on,
        at=wiring.now(),
        actor=wiring.actor(actor, role),
    )
    if as_json:
        print_json(
            {
                "case_id": done.case_id,
                "check": done.check,
                "document_id": done.document_id,
                "seq": done.seq,
            }
        )
    else:
        click.echo(
            f"{done.case_id}: {done.check} recorded, letter {done.document_id} as its evidence "
            f"(event {done.seq})"
        )
