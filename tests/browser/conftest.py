"""Fixtures for the browser tests: the service under uvicorn on a fresh database holding a
few thousand demo parcels (around the map's default view), and headless Debian Chromium
driven by Playwright, never a downloaded browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgspatial.service import ServiceSettings
from pgspatial.testing import FreshDatabase
from tests.service.serving import demo_database, serve

PARCELS = 3_000
CHROMIUM = os.environ.get("PGSPATIAL_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 30_000
# Software WebGL (SwiftShader through ANGLE) on a machine without a GPU; nothing that phones
# home. --disable-gpu is left out: it adds nothing without a GPU, and on some Chromium
# builds it disables WebGL, which MapLibre cannot do without.
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container: the setuid sandbox is unavailable
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def map_db(pgspatial_database_url: str) -> Iterator[FreshDatabase]:
    """A fresh PostGIS database with the demo parcels and zoning (dropped after)."""
    with demo_database(pgspatial_database_url, parcels=PARCELS) as database:
        yield database


@pytest.fixture(scope="module")
def service_url(map_db: FreshDatabase) -> Iterator[str]:
    """The reference service under uvicorn on 127.0.0.1."""
    with serve(ServiceSettings(database_url=map_db.url)) as url:
        yield url


@pytest.fixture(scope="module")
def chromium_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium (Debian's) with a fresh profile, through Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is missing: scripts/install-system-deps browser")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
            timeout=TIMEOUT_MS,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


# Collects what would break the page (uncaught errors, rejected promises, CSP violations)
# where the tests' waits can see it, so they fail at once instead of at their timeout.
_WATCH_ERRORS = """
window.__pageErrors = [];
addEventListener("error", (e) => __pageErrors.push(`error: ${e.message}`));
addEventListener("unhandledrejection", (e) => __pageErrors.push(`rejection: ${e.reason}`));
addEventListener("securitypolicyviolation",
    (e) => __pageErrors.push(`CSP: ${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.fixture
def page(chromium_context: Any) -> Iterator[Any]:
    """A new tab that records page errors (``pageerror``) and console errors."""
    tab = chromium_context.new_page()
    tab.add_init_script(_WATCH_ERRORS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    tab.on(
        "console",
        lambda message: (
            errors.append(f"console.error: {message.text}") if message.type == "error" else None
        ),
    )
    tab.pgspatial_errors = errors
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where a test leaves its screenshots (pytest's tmp_path, or $PGSPATIAL_SCREENSHOTS)."""
    chosen = os.environ.get("PGSPATIAL_SCREENSHOTS")
    if not chosen:
        return tmp_path
    path = Path(chosen)
    path.mkdir(parents=True, exist_ok=True)
    return path
