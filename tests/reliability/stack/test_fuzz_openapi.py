"""Schemathesis fuzzing, driven by the API's own `GET /openapi.json`, over HTTP through the
local gateway: every documented route, valid (positive) and invalid (negative) data, as the
host, a second user, an admin and nobody. Every answer must be no 5xx and must match the
document: its status codes, content types, headers and body schemas.

Header-level cases too: a matrix of content types x body routes and of methods x paths, and
documented bodies sent with generated Content-Type and Content-Encoding headers (415 for
anything but plain `application/json`, in any case, with parameters).

Path parameters are steered half of the time to a real meeting and attendee, so that the
authorization and state paths run, not only 404. Runs are reproducible: Hypothesis is
derandomized (its seed derives from the test) and the example database is off.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meetings import deployment
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import positive_data_acceptance

from local.stack import LocalStack
from tests.localstack_support import Api
from tests.reliability.stack.conftest import LogCollector, leaked_lines

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
        if mode is not GenerationMode.POSITIVE or (method, path) not in UNSTATED_RULES:
            case.call_and_validate(base_url=world.base_url, headers=headers, timeout=30)
            return
        response = case.call(base_url=world.base_url, headers=headers, timeout=30)
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
        if response.status_code == 400:
            assert _refused_by_an_unstated_rule(method, path, response.json()), response.text

    run()
    return calls


# Rules no JSON Schema can state, by route: schema-valid data they refuse is a 400 naming the
# rule (docs/api.md, docs/webhooks.md). Every other 400 for schema-valid data fails the run.
_URL_TARGET = ("url", "is refused: ")  # the URL's target, judged by the SSRF policy
_PREFERRED_LANGUAGE = ("", "preferredLanguage must be one of languageOptions")
UNSTATED_RULES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("POST", "/webhooks"): (_URL_TARGET,),
    ("PATCH", "/webhooks/{webhookId}"): (_URL_TARGET,),
    ("POST", "/meetings/{meetingId}/transcription"): (_PREFERRED_LANGUAGE,),
    ("POST", "/meetings"): (("transcription", _PREFERRED_LANGUAGE[1]),),
}


def _refused_by_an_unstated_rule(method: str, path: str, answer: dict[str, Any]) -> bool:
    details = answer.get("error", {}).get("details") or []
    return bool(details) and all(
        any(
            detail.get("field") == field and problem in str(detail.get("problem"))
            for field, problem in UNSTATED_RULES[(method, path)]
        )
        for detail in details
    )


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


# --- header-level cases: media types, content encodings, methods -----------------------------

JSON_TYPES = ["application/json", "Application/JSON", "application/json; charset=utf-8"]
NOT_JSON_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b",
    "application/xml",
    "application/json-patch+json",
    "application/octet-stream",
]
BODY_ROUTES = [(method, path) for method, path in FUZZED_ROUTES if method in {"POST", "PUT"}]
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def _raw(
    base_url: str, method: str, path: str, headers: dict[str, str], data: bytes | None
) -> tuple[int, Any]:
    """One request exactly as given (no header added): (status, JSON body or None)."""
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


def _concrete(path: str, meeting_id: str, attendee_id: str) -> str:
    return path.replace("{meetingId}", meeting_id).replace("{attendeeId}", attendee_id)


VALID_BODIES = {
    "/batch": {"attendees": [{"userId": "someone"}]},
    "/capabilities": {"audio": "SendReceive", "video": "SendReceive"},
    "/transcription": {"languageCode": "en-US"},
    "/mute-all": {"exceptUserIds": ["fuzz-guest"]},  # the guest of every fresh meeting
}


def _valid_body(path: str) -> bytes:
    ending = "/" + path.rsplit("/", 1)[-1]
    return json.dumps(VALID_BODIES.get(ending, {})).encode()


@pytest.mark.parametrize("content_type", JSON_TYPES + NOT_JSON_TYPES)
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
def test_content_types_on_every_body_route(
    fuzz_world: FuzzWorld, method: str, path: str, content_type: str
) -> None:
    tokens, meeting_id, attendee_id = fuzz_world.fresh_meeting()
    headers = {"Authorization": f"Bearer {tokens['host']}", "Content-Type": content_type}
    status, body = _raw(
        fuzz_world.base_url,
        method,
        _concrete(path, meeting_id, attendee_id),
        headers,
        _valid_body(path),
    )
    assert status < 500, body
    if content_type in NOT_JSON_TYPES:
        assert (status, body["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    elif path.startswith("/webhooks"):
        # Admin routes with ids no meeting provides: the body was read past the media type.
        assert status != 415, body
    else:
        assert status in {200, 201, 202}, body


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("path", sorted({p for _, p in FUZZED_ROUTES}))
def test_every_method_on_every_path(fuzz_world: FuzzWorld, method: str, path: str) -> None:
    """A documented method answers without a 5xx; any other is a 4xx (the gateway's 404 for a
    route it does not have, or the function's 400 for a path that reads as another route's
    with a bad id, or its 405)."""
    tokens, meeting_id, attendee_id = fuzz_world.fresh_meeting()
    headers = {"Authorization": f"Bearer {tokens['guest']}", "Content-Type": "application/json"}
    data = _valid_body(path) if method in {"POST", "PUT", "PATCH"} else None
    concrete = _concrete(path, meeting_id, attendee_id)
    status, body = _raw(fuzz_world.base_url, method, concrete, headers, data)
    assert status < 500, body
    if (method, path) not in set(FUZZED_ROUTES):
        assert 400 <= status < 500, body


MEDIA_TYPE = st.one_of(
    st.sampled_from(JSON_TYPES + NOT_JSON_TYPES + ["", "*/*", "application/*", "json"]),
    st.from_regex(r"\A[a-zA-Z]{1,12}/[a-zA-Z.+-]{1,16}(; ?[a-z]{1,8}=[a-zA-Z0-9-]{1,8})?\Z"),
)
ENCODING = st.sampled_from([None, "identity", "gzip", "br", "deflate", "x-unknown"])


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
def test_fuzzed_media_types_and_encodings(fuzz_world: FuzzWorld, method: str, path: str) -> None:
    """Bodies from the document with generated Content-Type and Content-Encoding headers:
    never a 5xx; a body that is not plain JSON is a 415, a JSON one never is."""
    operation = fuzz_world.schema[path][method]
    tokens, meeting_id, attendee_id = fuzz_world.fresh_meeting()
    concrete = _concrete(path, meeting_id, attendee_id)

    @settings(
        max_examples=QUICK_EXAMPLES * 2,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        content_type=MEDIA_TYPE,
        encoding=ENCODING,
    )
    def run(case: Any, content_type: str, encoding: str | None) -> None:
        body = case.body if case.body is not NOT_SET else {}
        data = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {tokens['host']}", "Content-Type": content_type}
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        status, answer = _raw(fuzz_world.base_url, method, concrete, headers, data)
        assert status < 500, (content_type, encoding, answer)
        is_json = content_type.split(";", 1)[0].strip().lower() == "application/json"
        plain = encoding in {None, "identity"}
        if is_json and plain:
            assert status != 415, (content_type, answer)
        else:
            assert (status, answer["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")

    run()


def test_the_fuzzed_stack_logged_no_secret(
    fuzz_world: FuzzWorld, worker_log: Path, parent_log: LogCollector
) -> None:
    """Runs after the fuzzing (last in the module): the lines every fuzzed request made the
    functions and the gateway write hold no JWT, bearer credential or join token — the
    log-hygiene test's scan, over this module's own stack when it ran on another worker."""
    lines = worker_log.read_text().splitlines() + parent_log.lines
    assert any("meetings-local-api" in line for line in lines), "the functions logged nothing"
    assert leaked_lines(lines, list(fuzz_world.tokens.values())) == []
