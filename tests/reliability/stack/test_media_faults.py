"""Chime's media calls in trouble (the emulator's fault injection), over HTTP.

A start Chime refuses for good (CreateMediaCapturePipeline, StartMeetingTranscription) is
answered like the rest of the API — throttling 429 + Retry-After, unavailable 503 +
Retry-After, failure 502, never 500 — and changes nothing: no record, no pipeline, no run. A
stop refused for good is answered the same way and leaves the capture running and recorded.
A stop or concatenation that fails at the meeting's end does not fail the end; once Chime is
back, the cleanup's checks finish the recording (AVAILABLE, its files in the bucket) and no
capture is left running. One failed call is absorbed by the clients' retries.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.stack import LocalStack
from tests.localstack_support import Api, wait_until
from tests.reliability.stack.recording_truth import (
    capture_running,
    finish_recordings,
    pipelines,
    recordings,
    wrong_recordings,
)

# Each service's own error shapes: media pipelines throttle with ThrottledClientException,
# the meetings service (transcription) with ThrottlingException.
PIPELINE_ERRORS = [
    ("ThrottledClientException", 429, "THROTTLED"),
    ("ServiceUnavailableException", 503, "UPSTREAM_UNAVAILABLE"),
    ("ServiceFailureException", 502, "UPSTREAM_ERROR"),
]
TRANSCRIPTION_ERRORS = [("ThrottlingException", *PIPELINE_ERRORS[0][1:]), *PIPELINE_ERRORS[1:]]
LASTING = 50


def _meeting(api: Api, unique: Any) -> tuple[str, str]:
    host = api.token(unique("host"))
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    attendee = api.request("POST", f"/meetings/{meeting_id}/attendees", token=host).json
    media = f"/_local/meetings/{meeting_id}/attendees/{attendee['Attendee']['AttendeeId']}"
    assert api.request("POST", f"{media}/connect", body={"audio": True}).status == 200
    return meeting_id, host


def _recorded_meeting(api: Api, unique: Any) -> tuple[str, str]:
    meeting_id, host = _meeting(api, unique)
    started = api.request("POST", f"/meetings/{meeting_id}/recording", token=host, body={})
    assert started.status == 202, started.body
    assert wait_until(lambda: capture_running(api, meeting_id)), "the capture never ran"
    return meeting_id, host


def _inject(api: Api, operation: str, error: str, count: int) -> None:
    fault = {"operation": operation, "error": error, "count": count}
    assert api.request("POST", "/_local/faults", body=fault).status == 200


def _refused(answer: Any, status: int, code: str) -> None:
    assert (answer.status, answer.json["error"]["code"]) == (status, code), answer.body
    if status in (429, 503):
        assert int(answer.headers["retry-after"]) >= 1


# botocore's standard retries leave ThrottledClientException alone (not a throttling code,
# and the model does not mark it retryable): one is answered 429 like a lasting one.
REFUSED_STARTS = [(error, LASTING, *answer) for error, *answer in PIPELINE_ERRORS] + [
    ("ThrottledClientException", 1, 429, "THROTTLED")
]


@pytest.mark.parametrize(("error", "count", "status", "code"), REFUSED_STARTS)
def test_a_refused_recording_start_changes_nothing(
    api: Api, local_stack: LocalStack, unique: Any, error: str, count: int, status: int, code: str
) -> None:
    meeting_id, host = _meeting(api, unique)
    _inject(api, "CreateMediaCapturePipeline", error, count)

    answer = api.request("POST", f"/meetings/{meeting_id}/recording", token=host, body={})

    api.request("DELETE", "/_local/faults")
    _refused(answer, status, code)
    assert recordings(api, meeting_id, host) == []
    assert pipelines(api, meeting_id) == []
    view = api.request("GET", f"/meetings/{meeting_id}", token=host).json["meeting"]
    assert view["recording"] is None


@pytest.mark.parametrize(("error", "status", "code"), TRANSCRIPTION_ERRORS)
def test_a_refused_transcription_start_changes_nothing(
    api: Api, local_stack: LocalStack, unique: Any, error: str, status: int, code: str
) -> None:
    meeting_id, host = _meeting(api, unique)
    _inject(api, "StartMeetingTranscription", error, LASTING)

    body = {"languageCode": "en-US"}
    answer = api.request("POST", f"/meetings/{meeting_id}/transcription", token=host, body=body)

    api.request("DELETE", "/_local/faults")
    _refused(answer, status, code)
    view = api.request("GET", f"/meetings/{meeting_id}", token=host).json["meeting"]
    assert view["transcription"] is None
    # Chime has no run either: a second start is accepted (Chime refuses a second run).
    again = api.request("POST", f"/meetings/{meeting_id}/transcription", token=host, body=body)
    assert again.status == 202, again.body


# The answer's mapping per error is the refused start's test; a stop refused for good is the
# same path for each error, so `make test` runs one and `make test-all` all of them.
REFUSED_STOPS = [
    pytest.param(*answer, marks=[pytest.mark.slow] if index else [])
    for index, answer in enumerate(PIPELINE_ERRORS)
]


@pytest.mark.parametrize(("error", "status", "code"), REFUSED_STOPS)
def test_a_refused_stop_keeps_the_recording_and_the_end_finishes_it(
    api: Api, local_stack: LocalStack, unique: Any, error: str, status: int, code: str
) -> None:
    meeting_id, host = _recorded_meeting(api, unique)
    _inject(api, "DeleteMediaPipeline", error, LASTING)

    answer = api.request("DELETE", f"/meetings/{meeting_id}/recording", token=host)
    still = [r["status"] for r in recordings(api, meeting_id, host)]
    running = capture_running(api, meeting_id)
    ended = api.request("DELETE", f"/meetings/{meeting_id}", token=host)

    api.request("DELETE", "/_local/faults")
    _refused(answer, status, code)
    assert (still, running) == (["CAPTURING"], True)
    assert ended.status == 200, ended.body
    finish_recordings(api, local_stack, [(meeting_id, host)])
    assert wrong_recordings(api, local_stack, meeting_id, host) == []
    assert [r["status"] for r in recordings(api, meeting_id, host)] == ["AVAILABLE"]


# A lasting DeleteMediaPipeline fault at the end is the refused stop's test above; the
# answers' mapping is checked there, so two of the errors suffice here.
@pytest.mark.slow  # a minute or more of cleanup rounds each: `make test-all`
@pytest.mark.parametrize("error", ["ThrottledClientException", "ServiceFailureException"])
def test_a_concatenation_fault_at_the_meetings_end_is_repaired_by_the_cleanup(
    api: Api, local_stack: LocalStack, unique: Any, error: str
) -> None:
    meeting_id, host = _recorded_meeting(api, unique)
    _inject(api, "CreateMediaConcatenationPipeline", error, LASTING)

    ended = api.request("DELETE", f"/meetings/{meeting_id}", token=host)
    left = [r["status"] for r in recordings(api, meeting_id, host)]

    api.request("DELETE", "/_local/faults")
    assert ended.status == 200, ended.body
    assert left == ["PROCESSING"], left
    finish_recordings(api, local_stack, [(meeting_id, host)])
    assert wrong_recordings(api, local_stack, meeting_id, host) == []
    assert [r["status"] for r in recordings(api, meeting_id, host)] == ["AVAILABLE"]


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ("CreateMediaCapturePipeline", "ServiceUnavailableException"),
        ("CreateMediaConcatenationPipeline", "ServiceFailureException"),
        ("StartMeetingTranscription", "ThrottlingException"),
        ("DeleteMediaPipeline", "ServiceFailureException"),
    ],
)
def test_one_failed_call_is_absorbed_by_retries(
    api: Api, local_stack: LocalStack, unique: Any, operation: str, error: str
) -> None:
    stopping = operation in ("DeleteMediaPipeline", "CreateMediaConcatenationPipeline")
    meeting_id, host = (_recorded_meeting if stopping else _meeting)(api, unique)
    _inject(api, operation, error, 1)

    if stopping:
        answer = api.request("DELETE", f"/meetings/{meeting_id}/recording", token=host)
    elif operation == "StartMeetingTranscription":
        body = {"languageCode": "en-US"}
        path = f"/meetings/{meeting_id}/transcription"
        answer = api.request("POST", path, token=host, body=body)
    else:
        answer = api.request("POST", f"/meetings/{meeting_id}/recording", token=host, body={})

    assert answer.status in (200, 202), answer.body
    expected = "PROCESSING" if stopping else "CAPTURING"
    assert [r["status"] for r in recordings(api, meeting_id, host)] in ([], [expected])
