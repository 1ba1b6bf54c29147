"""Browser journeys: Playwright (sync API) driving Debian's chromium against pytest-django's
live_server, with small factory-made data. Each journey saves a full-page screenshot of every page it
visits to tests/e2e/screenshots/<test name>/ (gitignored)."""

from __future__ import annotations

import importlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a thread
# with a running loop unless told that this is deliberate (test setup only, never in the app).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("RXWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
PASSWORD = "password"  # tests/web/factories.UserFactory's


@pytest.fixture(scope="session")
def browser() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (make test installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Journey:
    """A browser page plus the habit of photographing every page visited, numbered in order."""

    def __init__(self, page, base_url: str, folder: Path) -> None:
        self.page, self.base_url, self.folder, self.n = page, base_url, folder, 0

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def shot(self, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/accounts/login/")
        self.shot("sign-in")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()
        self.shot("home")


@pytest.fixture
def journey(request, browser, live_server) -> Iterator[Journey]:
    folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    # Nothing leaves the machine: the NHS.UK CSS asks assets.nhs.uk for the Frutiger font, which
    # would only time out here (the pages fall back to Arial, as they do for any offline user).
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield Journey(page, live_server.url, folder)
    context.close()


# live_server needs transactional tests, which end by flushing every table; the audit table refuses
# DELETE at the database level (triggers, audit migration 0002). So, for this module only: drop the
# triggers just before each flush and put them back once the last journey is done.
_TRIGGERS = importlib.import_module("rxwatch.web.audit.migrations.0002_append_only_triggers")


def _run_sql(which: str) -> None:
    from django.db import connection

    vendor = {"sqlite": "SQLITE", "postgresql": "POSTGRES"}.get(connection.vendor)
    if vendor:
        with connection.cursor() as cur:
            for sql in getattr(_TRIGGERS, f"{vendor}_{which}"):
                cur.execute(sql)


@pytest.fixture(scope="module", autouse=True)
def _restore_audit_triggers(django_db_setup, django_db_blocker) -> Iterator[None]:
    yield
    with django_db_blocker.unblock():
        _run_sql("DOWN")  # idempotent (IF EXISTS), then create them once
        _run_sql("UP")


@pytest.fixture(autouse=True)
def _allow_flush(transactional_db) -> Iterator[None]:
    yield
    _run_sql("DOWN")
