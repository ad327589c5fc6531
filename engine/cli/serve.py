"""`cme serve`: the web service for the CME team, on the configured database. The scheduler
stays its own process (`cme scheduler`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from engine.cli.common import db_option, handle_errors
from engine.cli.wiring import config, database

if TYPE_CHECKING:
    from engine.web.settings import WebSettings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--insecure-cookies",
    is_flag=True,
    help="Send the session cookie over plain HTTP (localhost trials only; behind the reverse "
    "proxy with TLS leave this off).",
)
@db_option
@handle_errors
def serve(host: str, port: int, insecure_cookies: bool, db_url: str | None) -> None:
    """Serve the web service: officers, line managers, policy owners and auditors in a browser.

    Put it behind a reverse proxy with TLS (docs/deploy.md); accounts are made with
    `cme admin user add NAME --role ROLE`.

    Example: cme serve --host 127.0.0.1 --port 8000
    """
    import uvicorn

    from engine.web.app import create_app

    settings = web_settings(db_url, insecure_cookies=insecure_cookies)
    app = create_app(settings)
    # Build the engine's service before the first request: a missing key or a database that
    # cannot be opened stops here with its message, not on someone's first page.
    app.state.engine.service  # noqa: B018
    signing = "local accounts" + (" and the council's sign-in" if settings.oidc else "")
    click.echo(
        f"cme serve: http://{host}:{port}/ on {settings.db_url or 'the development database'} "
        f"({signing}; signed out after {settings.idle_minutes} idle minutes)"
    )
    if not settings_from_file(db_url):
        click.echo(
            "note: no web.session_secret_file in cme.toml: everyone is signed out when the "
            "service restarts",
            err=True,
        )
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)


def settings_from_file(db_url: str | None) -> bool:
    """Whether the deployment names a session secret file."""
    return config(db_url).web.session_secret_file is not None


def web_settings(db_url: str | None, *, insecure_cookies: bool = False) -> WebSettings:
    """The web service's settings from cme.toml's [web] and [web.oidc] (secrets read from their
    files); --insecure-cookies overrides web.secure_cookies.
    """
    import secrets

    from engine.web.settings import OidcSettings, WebSettings

    web = config(db_url).web
    oidc = None
    if web.oidc is not None:
        oidc = OidcSettings(
            issuer=web.oidc.issuer,
            client_id=web.oidc.client_id,
            client_secret=web.oidc.client_secret(),
            role_claim=web.oidc.role_claim,
            school_claim=web.oidc.school_claim,
        )
    # Without a file, a new secret each start (everyone signs in again after a restart).
    secret = web.session_secret() or secrets.token_urlsafe(32)
    return WebSettings(
        db_url=database(db_url),
        secure_cookies=web.secure_cookies and not insecure_cookies,
        idle_minutes=web.idle_minutes,
        oidc=oidc,
        public_url=web.public_url,
        session_secret=secret,
    )
