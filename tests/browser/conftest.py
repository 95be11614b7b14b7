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

from local.stack import LocalStack
from tests.localstack_support import api, stack_config_for_tests, unique, wait  # noqa: F401

AXE_PACKAGE = Path(__file__).parent / "axe"
AXE_SCRIPT = AXE_PACKAGE / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="package")
def local_stack() -> Iterator[LocalStack]:
    with LocalStack(stack_config_for_tests()) as stack:
        yield stack


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """The system's Chromium: Playwright's own download is neither possible nor needed."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium on PATH (make test installs it)")
    return {**browser_type_launch_args, "executable_path": chromium}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # axe is injected as a script tag, which the console's Content-Security-Policy refuses;
    # one test (..._under_its_content_security_policy_...) checks the page without this.
    return {**browser_context_args, "viewport": VIEWPORT, "bypass_csp": True}


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
