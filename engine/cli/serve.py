"""`cme serve`: the web service for the CME team, on the configured database. The scheduler
stays its own process (`cme scheduler`).
"""

from __future__ import annotations

import click

from engine.cli.common import db_option, handle_errors
from engine.cli.wiring import database


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
    """
    import uvicorn

    from engine.web.app import create_app
    from engine.web.settings import WebSettings

    settings = WebSettings(db_url=database(db_url), secure_cookies=not insecure_cookies)
    app = create_app(settings)
    # Build the engine's service before the first request: a missing key or a database that
    # cannot be opened stops here with its message, not on someone's first page.
    app.state.engine.service  # noqa: B018
    click.echo(
        f"cme serve: http://{host}:{port}/ on {settings.db_url or 'the development database'}"
    )
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)
