"""The `chime-sdk-media-pipelines` operations the emulator serves, each a function of the state
and its validated input that returns its output members (or raises ChimeError, changing
nothing). Other operations of the model are answered 501 by the server."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any, Final

from local.chime import paging, tagging
from local.chime.errors import MEETING_ENDED, ChimeError, bad_request
from local.chime.pipelines import capture
from local.chime.pipelines.state import (
    IN_PROGRESS,
    INITIALIZING,
    STOPPED,
    CapturePipeline,
    ConcatenationPipeline,
    Pipeline,
    Sink,
)
from local.chime.service import ChimeState
from local.chime.state import Meeting

Params = dict[str, Any]
Output = dict[str, Any]
_PIPELINES_FROM: Final = "pipelines-from"
_ACTIVE: Final = (INITIALIZING, IN_PROGRESS)
# The documented form `arn:aws:chime::<account>:meeting:<id>`, and the MeetingArn form.
_MEETING_ARN: Final = re.compile(
    r"arn:aws:chime:(?:[a-z0-9-]*):(?P<account>\d{12}):meeting[:/](?P<meeting>[0-9a-fA-F-]{36})"
)
_S3_ARN: Final = re.compile(
    r"arn:aws:s3:::(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?"
)
# Chime's documented defaults when ChimeSdkMeetingConfiguration is left out.
DEFAULT_ARTIFACTS: Final = {
    "Audio": {"MuxType": "AudioWithActiveSpeakerVideo"},
    "Video": {"State": "Enabled", "MuxType": "VideoOnly"},
    "Content": {"State": "Enabled", "MuxType": "ContentOnly"},
}


# --- capture ----------------------------------------------------------------------------------
def create_media_capture_pipeline(state: ChimeState, params: Params) -> Output:
    def create() -> Pipeline:
        meeting = _source_meeting(state, params["SourceArn"])
        sink = _sink(state, params["SinkArn"])
        _check_artifacts(params.get("ChimeSdkMeetingConfiguration"))
        tags = _tags(params.get("Tags", []))
        if capture.capturing_in(state, meeting.meeting_id) or _initializing_in(state, meeting):
            raise ChimeError(
                "ResourceLimitExceededException",
                "The meeting already has a media capture pipeline",
            )
        configuration = params.get("ChimeSdkMeetingConfiguration") or {}
        settings = configuration.get("ArtifactsConfiguration") or DEFAULT_ARTIFACTS
        return CapturePipeline(
            **_new_pipeline(state, params, sink, tags),
            meeting_id=meeting.meeting_id,
            artifacts=copy.deepcopy(settings),
        )

    pipeline = _idempotent(state, params, "capture", create)
    assert isinstance(pipeline, CapturePipeline)
    return {"MediaCapturePipeline": pipeline.as_api()}


def _initializing_in(state: ChimeState, meeting: Meeting) -> bool:
    return any(
        isinstance(p, CapturePipeline) and p.meeting_id == meeting.meeting_id
        and p.status == INITIALIZING
        for p in state.pipelines.values()
    )  # fmt: skip


def _source_meeting(state: ChimeState, arn: str) -> Meeting:
    found = _MEETING_ARN.fullmatch(arn)
    if found is None or found["account"] != state.config.account_id:
        raise bad_request("SourceArn must name a meeting of this account")
    meeting = state.meetings.get(found["meeting"].lower())
    if meeting is None:
        raise bad_request("The requested meeting does not exist")
    if not meeting.is_open:
        raise bad_request(MEETING_ENDED)
    return meeting


def _sink(state: ChimeState, arn: str) -> Sink:
    found = _S3_ARN.fullmatch(arn)
    if found is None:
        raise bad_request("The sink must be an S3 bucket ARN: arn:aws:s3:::<bucket>[/<prefix>]")
    if not state.store.bucket_exists(found["bucket"]):
        raise bad_request("The sink bucket does not exist or the service may not write to it")
    return Sink(found["bucket"], (found["prefix"] or "").strip("/"))


def _check_artifacts(configuration: Params | None) -> None:
    """AudioWithCompositedVideo and CompositedVideo go together (the model's text)."""
    settings = (configuration or {}).get("ArtifactsConfiguration")
    if settings is None:
        return
    composited = settings["Audio"]["MuxType"] == "AudioWithCompositedVideo"
    if composited != ("CompositedVideo" in settings):
        raise bad_request(
            "Audio MuxType AudioWithCompositedVideo requires CompositedVideo, and only it allows it"
        )


# --- concatenation ----------------------------------------------------------------------------
def create_media_concatenation_pipeline(state: ChimeState, params: Params) -> Output:
    def create() -> Pipeline:
        source = params["Sources"][0]["MediaCapturePipelineSourceConfiguration"]
        capture_pipeline = _capture_by_arn(state, source["MediaPipelineArn"])
        destination = params["Sinks"][0]["S3BucketSinkConfiguration"]["Destination"]
        sink = _sink(state, destination)
        tags = _tags(params.get("Tags", []))
        return ConcatenationPipeline(
            **_new_pipeline(state, params, sink, tags), source_id=capture_pipeline.pipeline_id
        )

    pipeline = _idempotent(state, params, "concatenation", create)
    assert isinstance(pipeline, ConcatenationPipeline)
    return {"MediaConcatenationPipeline": pipeline.as_api()}


def _capture_by_arn(state: ChimeState, arn: str) -> CapturePipeline:
    prefix = state.pipeline_arn("")
    found = state.pipelines.get(arn[len(prefix) :].lower()) if arn.startswith(prefix) else None
    if not isinstance(found, CapturePipeline):
        raise bad_request("MediaPipelineArn must name a media capture pipeline of this account")
    return found


# --- both kinds -------------------------------------------------------------------------------
def _new_pipeline(
    state: ChimeState, params: Params, sink: Sink, tags: dict[str, str]
) -> dict[str, Any]:
    """What every new pipeline has: an id and ARN, its request, its sink (without a prefix,
    Chime writes under the pipeline's id), its creation instant and tags."""
    now = state.clock.now_ms()
    pipeline_id = state.new_id()
    return {
        "pipeline_id": pipeline_id,
        "arn": state.pipeline_arn(pipeline_id),
        "request": _without_token(params),
        "sink": Sink(sink.bucket, sink.prefix or pipeline_id),
        "created_ms": now,
        "updated_ms": now,
        "tags": tags,
    }


def _idempotent(
    state: ChimeState, params: Params, kind: str, create: Callable[[], Pipeline]
) -> Pipeline:
    """Same ClientRequestToken, same request → the same pipeline (as it is now); same token,
    different request → BadRequest (the model declares no Conflict for the creates)."""
    request = {**_without_token(params), "__operation": kind}
    token = params.get("ClientRequestToken")
    if token is not None and token in state.pipeline_tokens:
        remembered, pipeline_id = state.pipeline_tokens[token]
        if remembered != request:
            raise bad_request("The ClientRequestToken was used with a different request")
        return state.pipelines[pipeline_id]
    pipeline = create()
    state.pipelines[pipeline.pipeline_id] = pipeline
    if token is not None:
        state.pipeline_tokens[token] = (copy.deepcopy(request), pipeline.pipeline_id)
    return pipeline


def _without_token(params: Params) -> Params:
    return {
        name: copy.deepcopy(value) for name, value in params.items() if name != "ClientRequestToken"
    }


def _pipeline(state: ChimeState, pipeline_id: str) -> Pipeline:
    pipeline = state.pipelines.get(pipeline_id.lower())
    if pipeline is None:
        raise ChimeError("NotFoundException", "The media pipeline does not exist")
    return pipeline


def get_media_pipeline(state: ChimeState, params: Params) -> Output:
    pipeline = _pipeline(state, params["MediaPipelineId"])
    member = (
        "MediaCapturePipeline"
        if isinstance(pipeline, CapturePipeline)
        else "MediaConcatenationPipeline"
    )
    return {"MediaPipeline": {member: pipeline.as_api()}}


def get_media_capture_pipeline(state: ChimeState, params: Params) -> Output:
    pipeline = _pipeline(state, params["MediaPipelineId"])
    if not isinstance(pipeline, CapturePipeline):
        raise ChimeError("NotFoundException", "The media capture pipeline does not exist")
    return {"MediaCapturePipeline": pipeline.as_api()}


def delete_media_pipeline(state: ChimeState, params: Params) -> Output:
    """A running capture stops now (last chunk, Stopped, MediaPipelineDeleted); a concatenation
    still waiting for its source is cancelled; one concatenating refuses (Conflict)."""
    pipeline = _pipeline(state, params["MediaPipelineId"])
    now = state.clock.now_ms()
    if pipeline.status not in _ACTIVE:
        raise ChimeError("NotFoundException", f"The media pipeline has {pipeline.status.lower()}")
    if isinstance(pipeline, CapturePipeline):
        capture.stop(state, pipeline, now)
    elif pipeline.status == IN_PROGRESS:
        raise ChimeError("ConflictException", "The concatenation is in progress")
    else:
        pipeline.status = STOPPED
        pipeline.updated_ms = now
        source = state.pipelines[pipeline.source_id]
        assert isinstance(source, CapturePipeline)
        meeting = state.meetings[source.meeting_id]
        state.emit_pipeline_event(meeting, pipeline.pipeline_id, "MediaPipelineDeleted", now)
    return {}


def delete_media_capture_pipeline(state: ChimeState, params: Params) -> Output:
    if not isinstance(_pipeline(state, params["MediaPipelineId"]), CapturePipeline):
        raise ChimeError("NotFoundException", "The media capture pipeline does not exist")
    return delete_media_pipeline(state, params)


def list_media_pipelines(state: ChimeState, params: Params) -> Output:
    page, token = _page(state, params, Pipeline)
    return {"MediaPipelines": page, **token}


def list_media_capture_pipelines(state: ChimeState, params: Params) -> Output:
    page, token = _page(state, params, CapturePipeline)
    return {"MediaCapturePipelines": page, **token}


def _page(state: ChimeState, params: Params, kind: Any) -> tuple[list[Output], Output]:
    """The pipelines still running (Initializing, InProgress), in creation order."""
    size = params.get("MaxResults", state.config.default_page_size)
    start = paging.decode(_PIPELINES_FROM, params.get("NextToken"))
    ordered = list(state.pipelines.values())
    remaining = [
        (index, p) for index, p in enumerate(ordered)
        if index >= start and isinstance(p, kind) and p.status in _ACTIVE
    ]  # fmt: skip
    page = [
        {"MediaPipelineId": p.pipeline_id, "MediaPipelineArn": p.arn} for _, p in remaining[:size]
    ]
    rest = remaining[size:]
    return page, ({"NextToken": paging.encode(_PIPELINES_FROM, rest[0][0])} if rest else {})


# --- tags -------------------------------------------------------------------------------------
def _tags(tags: list[Params]) -> dict[str, str]:
    return tagging.merged_tags({}, tags, "", _too_many_tags)


def _too_many_tags(_: str) -> ChimeError:
    return bad_request(f"A media pipeline can have at most {tagging.MAX_TAGS} tags")


def _tagged(state: ChimeState, arn: str) -> Pipeline:
    prefix = state.pipeline_arn("")
    pipeline = state.pipelines.get(arn[len(prefix) :].lower()) if arn.startswith(prefix) else None
    if pipeline is None:
        raise ChimeError("NotFoundException", "The resource does not exist")
    return pipeline


Operation = Callable[[ChimeState, Params], Output]
OPERATIONS: Final[dict[str, Operation]] = {
    "CreateMediaCapturePipeline": create_media_capture_pipeline,
    "CreateMediaConcatenationPipeline": create_media_concatenation_pipeline,
    "DeleteMediaCapturePipeline": delete_media_capture_pipeline,
    "DeleteMediaPipeline": delete_media_pipeline,
    "GetMediaCapturePipeline": get_media_capture_pipeline,
    "GetMediaPipeline": get_media_pipeline,
    "ListMediaCapturePipelines": list_media_capture_pipelines,
    "ListMediaPipelines": list_media_pipelines,
    **tagging.operations(_tagged, _too_many_tags),
}
