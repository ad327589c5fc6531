"""`cme admin user …`: the web service's local accounts, made on the server by whoever runs it.

Who may: the person running `cme` on the server with the deployment's configuration (IT, as
for `cme admin key new` and backups): whoever can run it there can open the database anyway, so
no role is asked, but their name is (--actor or CME_ACTOR) and is recorded on the account and in
the access log. Thin over `engine.web.accounts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from engine.cli.common import db_option, handle_errors, json_option, print_json, safe_text

if TYPE_CHECKING:
    from engine.store.database import Store

OPERATOR_ROLE = "operator"
"""The role the access log records for an account change made at the server's command line."""


def _store(db_url: str | None) -> Store:
    from engine.cli import wiring
    from engine.store.database import open_store

    return open_store(wiring.database(db_url))


def _operator(name: str | None) -> str:
    from engine.cli import wiring

    # wiring.actor refuses a missing name with how to give one; the role is not asked here.
    return wiring.actor(name, "cme_officer").name


def _password(file: str | None) -> str:
    from engine.errors import InputError

    if file is None:
        value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
        return value
    try:
        with open(file, encoding="utf-8") as handle:
            value = handle.read().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read --password-file {file}: {exc}; nothing was changed"
        ) from None
    if not value:
        raise InputError(f"--password-file {file} is empty; nothing was changed")
    return value


def _log(store: Store, operator: str, action: str) -> None:
    from engine.cli import wiring
    from engine.protection.access import Actor, log_read

    with store.engine.begin() as conn:
        log_read(conn, Actor(operator, OPERATOR_ROLE), case_id=None, action=action, at=wiring.now())


@click.group("user")
def user() -> None:
    """The web service's accounts: add, list, disable, enable, set a new password.

    Example: cme admin user add sona.k --role cme_officer --actor jo.admin
    """


@user.command("add")
@click.argument("name")
@click.option("--role", "account_role", required=True, help="Its role (processes/roles.yaml).")
@click.option("--school", default=None, help="A school's account: the school it sees cases of.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A file holding the password (otherwise it is asked twice, hidden).",
)
@click.option("--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR).")
@db_option
@json_option
@handle_errors
def user_add(
    name: str,
    account_role: str,
    school: str | None,
    password_file: str | None,
    actor: str | None,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Add a local account NAME in --role, with a password of at least 12 characters.

    Example: cme admin user add kt.lead --role school --school "Kentish Town Primary School"
    """
    from engine.cases.free_text import check_free_text
    from engine.cli import wiring
    from engine.web.accounts import add_account, refuse_account

    operator = _operator(actor)
    name = check_free_text(name.strip(), what="account name")
    roles = wiring.roles()
    school = school.strip() if school else None
    store = _store(db_url)
    try:
        # Every refusal before the password is asked: nothing typed in vain, nothing written.
        refuse_account(store, roles, name=name, role=account_role, school=school)
        password = _password(password_file)
        made = add_account(
            store,
            roles,
            name=name,
            role=account_role,
            password=password,
            by=operator,
            at=wiring.now(),
            school=school,
        )
        where = f" ({made.school})" if made.school else ""
        _log(store, operator, f"account added: {made.name} as {made.role}{where}")
    finally:
        store.dispose()
    if as_json:
        print_json({"name": made.name, "role": made.role, "school": made.school})
        return
    click.echo(f"added {safe_text(made.name)}: {made.role}{safe_text(where)}; they can sign in now")


@user.command("list")
@db_option
@json_option
@handle_errors
def user_list(db_url: str | None, as_json: bool) -> None:
    """List the accounts: role, school, how they sign in, and whether disabled.

    Example: cme admin user list
    """
    from engine.web.accounts import list_accounts

    store = _store(db_url)
    try:
        rows = list_accounts(store)
    finally:
        store.dispose()
    if as_json:
        print_json(
            [
                {
                    "name": r.name,
                    "role": r.role,
                    "school": r.school,
                    "sign_in": "password" if r.local else "council",
                    "disabled": r.disabled,
                    "created_at": r.created_at,
                    "created_by": r.created_by,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        click.echo("no accounts yet; add one with `cme admin user add NAME --role ROLE`")
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Web service accounts")
    for col in ("name", "role", "school", "signs in with", "status", "added by"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            safe_text(r.name, markup=True),
            r.role,
            safe_text(r.school or "", markup=True),
            "password" if r.local else "council account",
            "disabled" if r.disabled else "active",
            safe_text(r.created_by, markup=True),
        )
    Console().print(t)


@user.command("disable")
@click.argument("name")
@click.option("--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR).")
@db_option
@handle_errors
def user_disable(name: str, actor: str | None, db_url: str | None) -> None:
    """Stop NAME signing in (at once, also in a session already open); the account stays on
    record, as events and reads name it.

    Example: cme admin user disable sona.k --actor jo.admin
    """
    from engine.web.accounts import disable_account

    operator = _operator(actor)
    store = _store(db_url)
    try:
        disable_account(store, name)
        _log(store, operator, f"account disabled: {name}")
    finally:
        store.dispose()
    click.echo(f"disabled {safe_text(name)}: they can no longer sign in")


@user.command("enable")
@click.argument("name")
@click.option("--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR).")
@db_option
@handle_errors
def user_enable(name: str, actor: str | None, db_url: str | None) -> None:
    """Let a disabled account sign in again.

    Example: cme admin user enable sona.k --actor jo.admin
    """
    from engine.web.accounts import enable_account

    operator = _operator(actor)
    store = _store(db_url)
    try:
        enable_account(store, name)
        _log(store, operator, f"account enabled: {name}")
    finally:
        store.dispose()
    click.echo(f"enabled {safe_text(name)}: they can sign in again")


@user.command("password")
@click.argument("name")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A file holding the new password (otherwise it is asked twice, hidden).",
)
@click.option("--actor", envvar="CME_ACTOR", default=None, help="Who you are (or CME_ACTOR).")
@db_option
@handle_errors
def user_password(
    name: str, password_file: str | None, actor: str | None, db_url: str | None
) -> None:
    """Give a local account a new password (one forgotten); sessions already open stay open.

    Example: cme admin user password sona.k --actor jo.admin
    """
    from engine.web.accounts import AccountRefused, list_accounts, set_password

    operator = _operator(actor)
    store = _store(db_url)
    try:
        # Refused before the password is asked: no such (enabled) account, or a council one.
        found = next((a for a in list_accounts(store) if a.name == name), None)
        if found is None or found.disabled:
            raise AccountRefused(f"there is no enabled account named {name!r}; nothing was changed")
        if not found.local:
            raise AccountRefused(
                f"{name!r} signs in with a council account; its password is the council's, "
                "not set here. Nothing was changed"
            )
        set_password(store, name, _password(password_file))
        _log(store, operator, f"account password set: {name}")
    finally:
        store.dispose()
    click.echo(f"set a new password for {safe_text(name)}")
