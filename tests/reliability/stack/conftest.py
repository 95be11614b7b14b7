"""One local stack for the reliability suite, on ephemeral ports, driven over HTTP only.

Tests may read the stack object in-process as an oracle (`local_stack.chime`, the emulator's
truth) but talk to the backend through the API. The functions log at DEBUG into one file, so
that the log-hygiene test can read every line any test made them write.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.stack import LocalStack
from tests.localstack_support import (  # the shared fixtures: api, unique
    Api,
    api,  # noqa: F401
    stack_config_for_tests,
    unique,  # noqa: F401
    wait_until,
)

GROUP = "reliability-stack"
LOG_HYGIENE_MODULE = "test_log_hygiene.py"
# Modules long enough to run beside the rest, each in a group (and so a stack) of its own.
OWN_GROUPS = {
    "test_end_reason_accuracy.py": "reliability-accuracy",
    "test_fuzz_openapi.py": "reliability-fuzz",
}


# What must never reach a log line: a JWT, a bearer credential, an Authorization header, a join
# token by name, a webhook secret (the values of the session's tokens and secrets are checked
# too).
SECRETS = [
    re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*"),
    re.compile(r"bearer\s+\S{10,}", re.IGNORECASE),
    re.compile(r"authorization", re.IGNORECASE),
    re.compile(r"join_?token", re.IGNORECASE),
    re.compile(r"whsec_"),
]


def leaked_lines(lines: list[str], secrets: list[str]) -> list[str]:
    """The lines (cut to 200 characters) that match a pattern of SECRETS or hold a secret."""
    return [
        line[:200]
        for line in lines
        if any(pattern.search(line) for pattern in SECRETS)
        or any(secret in line for secret in secrets)
    ]


class LogCollector(logging.Handler):
    """The parent process's log records (gateway, pollers, control plane), formatted."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="package")
def worker_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability-logs") / "functions.log"


@pytest.fixture(scope="package")
def parent_log() -> Iterator[LogCollector]:
    collector = LogCollector()
    watched = [logging.getLogger(name) for name in ("local", "werkzeug", "moto")]
    previous = [logger.level for logger in watched]
    for logger in watched:
        logger.addHandler(collector)
        logger.setLevel(logging.DEBUG)
    yield collector
    for logger, level in zip(watched, previous, strict=True):
        logger.removeHandler(collector)
        logger.setLevel(level)


@pytest.fixture(scope="package")
def local_stack(worker_log: Path, parent_log: LogCollector) -> Iterator[LocalStack]:
    config = stack_config_for_tests(
        # Enough execution environments for the bursts of the concurrency tests.
        api_workers=6,
        # The package creates meetings faster than Chime's auto-end frees them (5 minutes
        # without attendees), well past the default quota of 250 on a quiet machine; no test
        # here is about that quota (tests/emulator/test_validation.py is).
        chime_max_active_meetings=5000,
        events_workers=2,
        log_level="DEBUG",
        worker_log_path=str(worker_log),
    )
    with LocalStack(config) as stack:
        yield stack


@pytest.fixture(scope="package")
def pool() -> Iterator[ThreadPoolExecutor]:
    """Client-side concurrency: many app instances calling at once."""
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="client") as executor:
        yield executor


def open_records(client: Api, admin_token: str) -> set[str]:
    """Every meeting the backend holds as open (CREATED or STARTED), read as an admin."""
    found: set[str] = set()
    next_token: str | None = None
    while True:
        query = "/meetings?status=open&limit=100"
        if next_token:
            query += f"&nextToken={next_token}"
        answer = client.request("GET", query, token=admin_token)
        assert answer.status == 200, answer.body
        found.update(meeting["meetingId"] for meeting in answer.json["meetings"])
        next_token = answer.json.get("nextToken")
        if not next_token:
            return found


def records_match_chime(
    client: Api, stack: LocalStack, admin_token: str
) -> tuple[set[str], set[str]]:
    """(orphans: open in Chime with no open record, ghosts: open records Chime does not have),
    once events in flight have landed (or the wait ran out)."""

    def difference() -> tuple[set[str], set[str]]:
        chime, records = stack.chime.open_meeting_ids(), open_records(client, admin_token)
        return chime - records, records - chime

    settled = wait_until(lambda: difference() == (set(), set()), timeout=20)
    return (set(), set()) if settled else difference()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, keep this package's tests together on one worker: they share one
    local stack, and the log-hygiene test reads every line the others made the functions
    write. The two longest modules — the end-reason accuracy run (a world of its own with
    chaos on) and the fuzzing — get groups of their own, so they may run on the other worker
    with a stack of their own and the two workers finish closer together. A stack is made per
    worker, so the log-hygiene test reads the lines of the tests that shared its worker; the
    fuzzing covers every route with each caller, and its worker's log is checked by the
    fuzzing module itself (`test_the_fuzzed_stack_logged_no_secret`)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            group = OWN_GROUPS.get(item.path.name, GROUP)
            item.add_marker(pytest.mark.xdist_group(group))
    _log_hygiene_last(items, here)


def _log_hygiene_last(items: list[pytest.Item], here: Path) -> None:
    """The log-hygiene module reads the lines of the package's tests before it: it goes after
    the package's last test (modules named after it, like test_media_*, sort later), within
    the package so that it still shares the package's stack."""
    ours = [index for index, item in enumerate(items) if here in item.path.parents]
    if not ours:
        return
    hygiene = [item for item in items if item.path.name == LOG_HYGIENE_MODULE]
    rest = [item for item in items[ours[0] : ours[-1] + 1] if item.path.name != LOG_HYGIENE_MODULE]
    items[ours[0] : ours[-1] + 1] = rest + hygiene
