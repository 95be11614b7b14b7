"""Synthesized stacks, built once per test session (a CDK synth takes seconds)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from synth_support import CONSOLE_CONTEXT, CUSTOM_CONTEXT, Deployment, synthesize


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "bundling: builds the real Lambda asset (PyPI on first run, then a local cache)",
    )


@pytest.fixture(scope="session")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict[str, Any]], Deployment]:
    def _deploy(context: dict[str, Any]) -> Deployment:
        return synthesize(tmp_path_factory.mktemp("cdk.out"), context)

    return _deploy


@pytest.fixture(scope="session")
def default(deploy: Callable[[dict[str, Any]], Deployment]) -> Deployment:
    """The stack as cdk.json configures it."""
    return deploy({})


@pytest.fixture(scope="session")
def custom(deploy: Callable[[dict[str, Any]], Deployment]) -> Deployment:
    return deploy(CUSTOM_CONTEXT)


@pytest.fixture(scope="session")
def console(deploy: Callable[[dict[str, Any]], Deployment]) -> Deployment:
    """The default stack with the console deployed (context flag `console`)."""
    return deploy(CONSOLE_CONTEXT)


@pytest.fixture(scope="session")
def custom_context() -> dict[str, Any]:
    return dict(CUSTOM_CONTEXT)
