"""Schemathesis fuzzing, driven by the API's own `GET /openapi.json`, over HTTP through the
local gateway: every documented route, valid (positive) and invalid (negative) data, as the
host, a second user, an admin and nobody. Every answer must be no 5xx and must match the
document: its status codes, content types, headers and body schemas.

Path parameters are steered half of the time to a real meeting and attendee, so that the
authorization and state paths run, not only 404. Runs are reproducible: Hypothesis is
derandomized (its seed derives from the test) and the example database is off.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meetings import deployment
from schemathesis import GenerationMode

from local.stack import LocalStack
from tests.localstack_support import Api

# Examples per route and mode: the bounded run is for `make test`, the larger for test-all.
QUICK_EXAMPLES = 12
THOROUGH_EXAMPLES = 150
CALLERS = ("host", "guest", "admin", "nobody")
# The document itself is served but not described in it (include_in_schema=False).
FUZZED_ROUTES = [
    (method, path) for method, path, _ in deployment.API_ROUTES if path != "/openapi.json"
]
# A route that takes no input at all has no invalid data to send.
NO_INPUT = {("GET", "/health")}
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in FUZZED_ROUTES
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or (method, path) not in NO_INPUT
]


@dataclass
class FuzzWorld:
    base_url: str
    schema: Any
    api: Api
    tokens: dict[str, str]  # the callers other than the host, shared by every route

    def fresh_meeting(self) -> tuple[dict[str, str], str, str]:
        """(tokens by caller, meetingId, the guest's attendeeId) of a new open meeting.

        Fuzzing ends meetings, removes attendees and creates meetings up to the host's cap:
        each route starts from a live meeting with a host of its own."""
        host = self.api.token(f"fuzz-host-{uuid.uuid4().hex[:8]}")
        created = self.api.request("POST", "/meetings", token=host, body={})
        assert created.status == 201, created.body
        meeting_id = str(created.json["meeting"]["meetingId"])
        joined = self.api.request(
            "POST", f"/meetings/{meeting_id}/attendees", token=self.tokens["guest"]
        )
        assert joined.status == 201, joined.body
        tokens = {**self.tokens, "host": host}
        return tokens, meeting_id, str(joined.json["Attendee"]["AttendeeId"])


@pytest.fixture(scope="module")
def fuzz_world(local_stack: LocalStack) -> Iterator[FuzzWorld]:
    api = Api(local_stack.api_url)
    tokens = {
        "guest": api.token("fuzz-guest"),
        "admin": api.token("fuzz-admin", groups=["admins"]),
    }
    schema = schemathesis.openapi.from_url(f"{local_stack.api_url}/openapi.json", timeout=30)
    yield FuzzWorld(base_url=local_stack.api_url, schema=schema, api=api, tokens=tokens)


def _steer(case: Any, meeting_id: str, attendee_id: str) -> None:
    """Point the case's path parameters at the real meeting and attendee."""
    parameters = case.path_parameters
    if parameters is None:
        return
    if "meetingId" in parameters:
        parameters["meetingId"] = meeting_id
    if "attendeeId" in parameters:
        parameters["attendeeId"] = attendee_id


def _fuzz(world: FuzzWorld, method: str, path: str, mode: GenerationMode, examples: int) -> int:
    """Run `examples` cases of one route in one mode; the number of calls made."""
    operation = world.schema[path][method]
    tokens, meeting_id, attendee_id = world.fresh_meeting()
    calls = 0

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        caller=st.sampled_from(CALLERS),
        real_ids=st.booleans(),
    )
    def run(case: Any, caller: str, real_ids: bool) -> None:
        nonlocal calls
        if real_ids:
            _steer(case, meeting_id, attendee_id)
        if mode is GenerationMode.POSITIVE and case.query:
            # An opaque, signed token: only the server mints valid ones (negative mode and
            # the pagination tests cover forged ones).
            case.query.pop("nextToken", None)
        token = tokens.get(caller)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        calls += 1
        case.call_and_validate(base_url=world.base_url, headers=headers, timeout=30)

    run()
    return calls


def test_every_route_is_documented(fuzz_world: FuzzWorld) -> None:
    documented = {
        (method.upper(), operation.path)
        for result in fuzz_world.schema.get_all_operations()
        for operation in [result.ok()]
        for method in [operation.method]
    }
    assert documented == set(FUZZED_ROUTES)


@pytest.mark.parametrize(
    "examples",
    [
        pytest.param(QUICK_EXAMPLES, id="quick"),
        pytest.param(THOROUGH_EXAMPLES, id="thorough", marks=pytest.mark.slow),
    ],
)
@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_fuzzed_route_conforms(
    fuzz_world: FuzzWorld, method: str, path: str, mode: GenerationMode, examples: int
) -> None:
    started = time.monotonic()
    calls = _fuzz(fuzz_world, method, path, mode, examples)
    print(f"{method} {path} {mode.value}: {calls} calls in {time.monotonic() - started:.1f} s")
    assert calls > 0
