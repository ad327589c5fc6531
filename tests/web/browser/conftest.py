"""Browser tests: the web service served by uvicorn on a free localhost port, driven by Playwright
in Debian's headless Chromium (/usr/bin/chromium; never Playwright's own browser download).

One server and one browser per test session (each test gets a fresh browser context, so no
cookies carry over); the clock is pinned so that pages, deadlines and screenshots are the same
whatever day the tests run. Every page a test visits is checked with axe-core (WCAG 2.2 AA) and
for console errors (a blocked script, a missing asset) by `Visitor.visit`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engine.cli import wiring
from engine.web.accounts import add_account
from engine.web.context import Engine
from engine.web.settings import WEB_ROOT, WebSettings
from tests.web.conftest import PASSWORD

if TYPE_CHECKING:
    from fastapi import FastAPI
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response

CHROMIUM = Path("/usr/bin/chromium")
AXE = WEB_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "out" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium calls Google's hosts at start, and this network refuses them.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
"""WCAG 2.2 AA, which UK public sector bodies must meet (the 2018 accessibility regulations)."""

NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
"""The pinned clock: Thursday 3 December 2026, a school day on the shipped london calendar."""
TODAY = NOW.date()

if not CHROMIUM.is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: `bash scripts/setup` installs Debian's chromium and "
        "chromium-driver where apt-get is available and it runs as root",
        allow_module_level=True,
    )
if not AXE.is_file():
    pytest.skip(
        f"axe-core is not installed at {AXE}: run `bash scripts/setup` (npm ci in engine/web)",
        allow_module_level=True,
    )


class PinnedEngine(Engine):
    """The app's engine with its clock pinned (the one clock read every page uses): NOW, or
    what a test sets with `LiveServer.at`."""

    pinned: dt.datetime = NOW

    def now(self) -> dt.datetime:
        return self.pinned


@dataclass
class LiveServer:
    """The app served on localhost: its address, the app (for its engine) and its database."""

    url: str
    app: FastAPI
    db_url: str
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def engine(self) -> PinnedEngine:
        engine: PinnedEngine = self.app.state.engine
        return engine

    @contextlib.contextmanager
    def at(self, when: dt.datetime) -> Iterator[None]:
        """The service's clock at `when` for the block (tests in one session run one at a time)."""
        self.engine.pinned = when
        try:
            yield
        finally:
            self.engine.pinned = NOW

    def account(self, role: str, *, school: str | None = None) -> str:
        """A new local account in `role` (with PASSWORD); its unique name."""
        name = f"{role.replace('_', '.')}.{next(self._names)}"
        add_account(
            self.engine.store,
            wiring.roles(),
            name=name,
            role=role,
            password=PASSWORD,
            by="test.setup",
            at=NOW,
            school=school,
        )
        return name


def _free_socket() -> socket.socket:
    # Bound before uvicorn starts, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """uvicorn serving the app over a fresh SQLite database, in a thread, for the session."""
    import uvicorn

    from engine.web.app import create_app

    db_url = f"sqlite:///{tmp_path_factory.mktemp('web-browser') / 'cme.db'}"
    settings = WebSettings(db_url=db_url, secure_cookies=False, session_secret="browser-tests")
    app = create_app(settings)
    app.state.engine = PinnedEngine(settings)
    app.state.engine.service  # noqa: B018 (open the database before the first request)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.02)
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, db_url=db_url)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    app.state.engine.store.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            chromium_sandbox=False,
            args=CHROMIUM_FLAGS,
        )
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) for one test."""
    made = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    made.set_default_timeout(30_000)  # generous: CI shares two cores with the whole suite
    yield made
    made.close()


class AccessibilityFailure(AssertionError):
    """axe-core found WCAG 2.2 AA violations on a page."""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, so the page's own CSP does not block it.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary),
            }));
        }""",
        AXE_TAGS,
    )
    return found


def describe(violations: list[dict[str, Any]]) -> str:
    """Violations as lines a person can act on."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        lines.extend(f"    {node}" for node in v["nodes"][:5])
    return "\n".join(lines)


class Visitor:
    """One person in a browser: signs in, visits pages (each checked with axe-core and for
    console errors) and saves screenshots to out/screenshots/."""

    def __init__(self, page: Page, server: LiveServer) -> None:
        self.page = page
        self.server = server
        self.errors: list[str] = []
        self.checked: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        # A page answered 400 (a form with errors) is logged as a failed load too; failed
        # loads are judged by _response, which knows what was loaded.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} for {response.url}")

    def goto(self, path: str) -> Page:
        """Open `path` on the service and check the page."""
        self.page.goto(self.server.url + path)
        self.check()
        return self.page

    def check(self) -> None:
        """The page as it is now passes axe-core and logged no console error."""
        self.page.wait_for_load_state("load")
        where = self.page.url.removeprefix(self.server.url)
        violations = axe_violations(self.page)
        if violations:
            raise AccessibilityFailure(
                f"{where} fails WCAG 2.2 AA (axe-core):\n{describe(violations)}"
            )
        assert not self.errors, f"{where} logged errors: {json.dumps(self.errors, indent=1)}"
        # A form a browser would send without the session's token is refused (403) on submit.
        tokenless = self.page.eval_on_selector_all(
            "form[method=post]",
            "forms => forms.filter(f => !(f.elements['csrf_token'] || {}).value)"
            ".map(f => f.getAttribute('action'))",
        )
        assert not tokenless, f"{where}: forms sent without the CSRF token: {tokenless}"
        self.checked.append(where)

    def sign_in(self, name: str, password: str = PASSWORD) -> None:
        """Sign in through the form, and land on the start page."""
        self.goto("/sign-in")
        self.page.get_by_label("User name").fill(name)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(self.server.url + "/")
        self.check()

    def screenshot(self, name: str) -> Path:
        """The whole page, saved as out/screenshots/<name>.png (a test artefact)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def visitor(context: BrowserContext, live_server: LiveServer) -> Visitor:
    """A person at a fresh browser, on the live server."""
    return Visitor(context.new_page(), live_server)
