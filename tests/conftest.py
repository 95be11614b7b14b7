"""Fixtures every suite may use: the Chime SDK Meetings emulator over real HTTP.

- `chime_server`: one EmulatorServer per test session, on an ephemeral loopback port.
- `chime`: that server's ChimeEmulator, reset (no meetings, events, faults or subscribers;
  the clock restarted) before the test.
- `chime_client`: a stock boto3 `chime-sdk-meetings` client to it (dummy credentials,
  us-east-1), with retries off so each injected fault or throttle reaches the test;
  `make_chime_client(endpoint_url)` builds the same for another server.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer
from local.iam.usage import render, table
from tests.localstack_support import IAM_USAGE_DIR

CHIME_REGION = "us-east-1"
# Suites whose fixtures are expensive and shared (a local stack per package, synthesized
# stacks per session): under pytest-xdist each runs as one unit on one worker. Otherwise
# the scheduler interleaves their tests with others, and each worker builds the shared
# fixture again every time it comes back to the suite (a stack start is seconds, a synth
# more).
SUITES_KEPT_TOGETHER = ("e2e", "infra", "browser")


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")  # pytest-xdist's workers have it


def pytest_configure(config: pytest.Config) -> None:
    if _is_controller(config):
        shutil.rmtree(IAM_USAGE_DIR, ignore_errors=True)  # this session's decisions only


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The used/granted IAM table of every local stack this session ran (docs/deploy.md)."""
    if _is_controller(session.config) and IAM_USAGE_DIR.is_dir():
        report = IAM_USAGE_DIR.parent / "iam-usage.md"
        report.write_text(render(table(IAM_USAGE_DIR)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        suite = item.path.relative_to(tests).parts[0]
        if suite in SUITES_KEPT_TOGETHER:
            item.add_marker(pytest.mark.xdist_group(suite))


@pytest.fixture(scope="session")
def chime_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer(ChimeEmulator(EmulatorConfig(region=CHIME_REGION)), port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def chime(chime_server: EmulatorServer) -> ChimeEmulator:
    chime_server.emulator.reset()
    return chime_server.emulator


def _chime_client_for(endpoint_url: str) -> Any:
    """A boto3 client as application code builds one, pointed at an emulator."""
    return boto3.client(
        "chime-sdk-meetings",
        endpoint_url=endpoint_url,
        region_name=CHIME_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="session")
def make_chime_client() -> Callable[[str], Any]:
    """`make_chime_client(endpoint_url)`: such a client for another emulator server."""
    return _chime_client_for


@pytest.fixture
def chime_client(chime: ChimeEmulator, chime_server: EmulatorServer) -> Any:
    return _chime_client_for(chime_server.endpoint_url)
