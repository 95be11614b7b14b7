"""The console in a real headless Chromium against the local stack, started once for the
package on ephemeral ports.

Debian's `chromium` drives under Playwright (the Makefile installs it when missing); axe-core
comes from npm into `tests/browser/axe/node_modules` on first use, as the webhook receiver's
library does. `CONSOLE_SCREENSHOTS=<dir>` (`make screenshots`) writes a PNG of each main screen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from local.stack import LocalStack
from tests.localstack_support import api, stack_config_for_tests, unique, wait  # noqa: F401

AXE_PACKAGE = Path(__file__).parent / "axe"
AXE_SCRIPT = AXE_PACKAGE / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="package")
def local_stack() -> Iterator[LocalStack]:
    with LocalStack(stack_config_for_tests()) as stack:
        yield stack


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """The system's Chromium (Playwright's own download is neither possible nor needed),
    driven for this package only: Playwright's event loop runs in the worker's main thread
    while it is started, and must be gone before other packages' tests call asyncio.run (the
    webhook deliverer's batch processor does)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium on PATH (make test installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium)
        yield launched
        launched.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """`new_context(**options)`: a fresh browser profile (closed after the test). axe is
    injected as a script tag, which the console's Content-Security-Policy refuses: contexts
    bypass it unless told otherwise (..._under_its_content_security_policy_... checks the page
    without this)."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**({"viewport": VIEWPORT, "bypass_csp": True} | options))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


@pytest.fixture(scope="session")
def axe_script() -> Path:
    if not AXE_SCRIPT.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed")
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=AXE_PACKAGE,
            check=True,
            timeout=300,
        )
    return AXE_SCRIPT


@pytest.fixture(scope="session")
def shoot() -> Callable[[Any, str], None]:
    """`shoot(page, name)`: the page as a PNG in $CONSOLE_SCREENSHOTS, when it is set."""
    folder = os.environ.get("CONSOLE_SCREENSHOTS")

    def screenshot(page: Any, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return screenshot
