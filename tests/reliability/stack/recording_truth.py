"""The emulator's truth about a meeting's recordings, and what the backend's records must say
of it: shared by the media chaos and media fault modules.

A recording's capture and concatenation write under `recordings/<meetingId>/<recordingId>/`,
so the truth's pipeline prefixes name the recording each belongs to. A record is right when
its capture `Failed` and it is FAILED `CAPTURE_FAILED`, or its concatenation `Stopped` and it
is AVAILABLE with exactly the files in the bucket (kind and size); never CAPTURING or
PROCESSING at the end. A capture still running for an ended meeting is an orphan.
"""

from __future__ import annotations

from typing import Any

from local.stack import LocalStack
from tests.localstack_support import Api, events_in

RUNNING = {"Initializing", "InProgress"}
# The concatenation's folders (Chime's S3 layout) and the API's artifact kinds.
KINDS = {
    "audio": "audio",
    "video": "video",
    "composited-video": "composited",
    "transcription-messages": "transcript",
    "meeting-events": "events",
}
CAPTURE_CHECK_SECONDS = 181  # past a CAPTURING recording's next check (3 minutes)


def pipelines(api: Api, meeting_id: str) -> list[dict[str, Any]]:
    truth = api.request("GET", f"/_local/truth/meetings/{meeting_id}")
    assert truth.status == 200, truth.body
    found: list[dict[str, Any]] = truth.json["mediaPipelines"]
    return found


def capture_running(api: Api, meeting_id: str) -> bool:
    return any(
        p["kind"] == "capture" and p["status"] == "InProgress" for p in pipelines(api, meeting_id)
    )


def recordings(api: Api, meeting_id: str, host: str) -> list[dict[str, Any]]:
    listed = api.request("GET", f"/meetings/{meeting_id}/recordings", token=host)
    assert listed.status == 200, listed.body
    found: list[dict[str, Any]] = listed.json["recordings"]
    return found


def _recording_of(pipeline: dict[str, Any]) -> str:
    return str(pipeline["prefix"]).split("/")[2]


def _stored(stack: LocalStack, pipeline: dict[str, Any]) -> list[tuple[str, int]]:
    s3 = stack.client("s3")
    return sorted(
        (
            KINDS[key.split("/")[-2]],
            s3.head_object(Bucket=pipeline["bucket"], Key=key)["ContentLength"],
        )
        for key in pipeline["keys"]
        if key.split("/")[-2] in KINDS
    )


def wrong_recordings(api: Api, stack: LocalStack, meeting_id: str, host: str) -> list[str]:
    """A line per recording (or pipeline) of an ended meeting whose record disagrees with the
    emulator's truth, naming both."""
    truth = pipelines(api, meeting_id)
    captures = {_recording_of(p): p for p in truth if p["kind"] == "capture"}
    concatenations = {_recording_of(p): p for p in truth if p["kind"] == "concatenation"}
    records = {r["recordingId"]: r for r in recordings(api, meeting_id, host)}
    wrong = [
        f"{meeting_id}: capture {p['mediaPipelineId']} still {p['status']} (orphan)"
        for p in captures.values()
        if p["status"] in RUNNING
    ]
    wrong += [
        f"{meeting_id}/{rid}: capture {captures[rid]['status']} has no record"
        for rid in captures.keys() - records.keys()
    ]
    for rid, record in records.items():
        capture, concatenation = captures.get(rid), concatenations.get(rid)
        read = (record["status"], (record["failure"] or {}).get("code"))
        said = f"{meeting_id}/{rid}: read {read}, truth capture {capture and capture['status']}"
        if capture is None:
            wrong.append(f"{said} (no such capture)")
        elif capture["status"] == "Failed":
            if read != ("FAILED", "CAPTURE_FAILED"):
                wrong.append(said)
        elif concatenation is None or concatenation["status"] != "Stopped":
            wrong.append(f"{said}, concatenation {concatenation and concatenation['status']}")
        else:
            stored = _stored(stack, concatenation)
            one = api.request("GET", f"/meetings/{meeting_id}/recordings/{rid}", token=host)
            artifacts = one.json["recording"]["artifacts"]
            listed = sorted((a["kind"], a["bytes"]) for a in artifacts)
            if (
                read != ("AVAILABLE", None)
                or listed != stored
                or not all(a.get("url") for a in artifacts)
            ):
                wrong.append(f"{said}, concatenated {stored}; read artifacts {listed}")
    return wrong


def unfinished(api: Api, meetings: list[tuple[str, str]]) -> int:
    """How many recordings of the (meetingId, host) pairs are still CAPTURING or PROCESSING."""
    return sum(
        record["status"] in ("CAPTURING", "PROCESSING")
        for meeting_id, host in meetings
        for record in recordings(api, meeting_id, host)
    )


def finish_recordings(
    api: Api, stack: LocalStack, meetings: list[tuple[str, str]], *, rounds: int = 4
) -> dict[str, Any]:
    """What a deployment's schedule does for recordings whose events were lost or whose stop
    failed: once the events in flight have landed, move the world clock past the recordings'
    next checks and run the cleanup, until none is left unfinished (a concatenation the
    cleanup starts is read as finished by the next round). The last cleanup's summary."""
    summary: dict[str, Any] = {}
    for _ in range(rounds):
        events_in(stack)
        if not unfinished(api, meetings):
            break
        advanced = api.request(
            "POST", "/_local/clock/advance", body={"seconds": CAPTURE_CHECK_SECONDS}
        )
        assert advanced.status == 200, advanced.body
        answer = api.request("POST", "/_local/cleanup", body={})
        assert answer.status == 200, answer.body
        summary = answer.json
        # A concatenation the cleanup started runs on Chime's next catch-up and writes its
        # files 1 s of Chime time later: two seconds more finish it now.
        assert api.request("POST", "/_local/clock/advance", body={"seconds": 2}).status == 200
    return summary
