"""`cme init DIR`: make a new deployment (configuration, keys, database, processes) in DIR.

Thin over `engine.deployment.init`; prints what it made and what is left to fill in.
"""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli.common import handle_errors, json_option, print_json


@click.command("init")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR).")
@click.option(
    "--role",
    envvar="CME_ROLE",
    default="policy_owner",
    show_default=True,
    help="Your role (or CME_ROLE); publishing the processes needs load_process.",
)
@json_option
@handle_errors
def init(folder: str, actor: str | None, role: str, as_json: bool) -> None:
    """Make a working deployment in FOLDER: cme.toml, keys, an SQLite database, the processes.

    Writes FOLDER/cme.toml (each setting explained), FOLDER/keys/master.key, the search key
    beside it (keys/search.key), a checkpoint signing key pair and the web service's session
    secret (keys/session.secret; private files mode 600), and
    FOLDER/cme.db with every shipped process published; then lists the settings left to fill
    in. Refuses a folder that already holds a deployment.

    Example: cme init /srv/cme
    """
    from engine.cli import wiring
    from engine.deployment.init import init_deployment

    who = wiring.actor(actor, role)
    report = init_deployment(
        Path(folder), actor_name=who.name, role=who.role, at=wiring.now(), roles=wiring.roles()
    )
    if as_json:
        print_json(report.as_dict())
        return
    click.echo(f"made a deployment in {report.folder}:")
    click.echo(f"  {report.config}  (the configuration)")
    click.echo(
        f"  {report.master_key_file}  (master key {report.master_key_id}; back it up "
        "apart from the database)"
    )
    click.echo(
        f"  {report.master_key_file.parent / 'search.key'}  (search key: finding cases without "
        "names in the database; keep it with the master key)"
    )
    click.echo(
        f"  {report.signing_key_file} and .pub  (checkpoint signing key, public key "
        "pinned in cme.toml)"
    )
    if report.session_secret_file is not None:
        click.echo(
            f"  {report.session_secret_file}  (signs the web service's session cookies; "
            "a new one signs everyone out)"
        )
    click.echo(f"  {report.database_url}  ({len(report.published)} process versions published)")
    if report.missing:
        click.echo(f"left to fill in, in {report.config.name}: {', '.join(report.missing)}")
    click.echo(
        f"use it with --config {report.config} (or CME_CONFIG), or run cme from {report.folder}"
    )
