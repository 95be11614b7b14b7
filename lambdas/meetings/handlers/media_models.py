"""Request and response bodies of recording and transcription (docs/api.md,
"Recording, transcription and mute-all"), as pydantic models: the request models check every
rule Chime checks (domain/recording.py, domain/transcription.py) so a bad request is a 400
before any AWS call; the response models describe handlers/media_views.py's shapes in the
OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from meetings.domain.recording import COMPOSITED_AUDIO, RecordingOptions, recording_options_problem
from meetings.domain.transcription import (
    LANGUAGE_MODEL_MAX,
    LANGUAGE_MODEL_PATTERN,
    PII_ENTITY_TYPES_MAX,
    PII_ENTITY_TYPES_PATTERN,
    VOCABULARY_MAX,
    VOCABULARY_PATTERN,
    TranscriptionSettings,
    transcription_settings_problem,
)
from meetings.handlers.model_base import ApiModel

LanguageCode = Literal[
    "en-US", "en-GB", "es-US", "fr-CA", "fr-FR", "en-AU", "it-IT", "de-DE", "pt-BR", "ja-JP",
    "ko-KR", "zh-CN", "th-TH", "hi-IN",
]  # fmt: skip
TranscribeRegion = Literal[
    "us-east-2", "us-east-1", "us-west-2", "ap-northeast-2", "ap-southeast-2", "ap-northeast-1",
    "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "sa-east-1", "auto",
    "us-gov-west-1",
]  # fmt: skip


class _Strict(ApiModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ------------------------------------------------------------------------------


class RecordingOptionsBody(_Strict):
    """What a recording captures (Chime's ArtifactsConfiguration)."""

    # The document states recording_options_problem's cross-field rule too: no video or
    # content chunks next to AudioWithCompositedVideo.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "not": {
                "allOf": [
                    {"required": ["audio"], "properties": {"audio": {"const": COMPOSITED_AUDIO}}},
                    {
                        "anyOf": [
                            {"required": [flag], "properties": {flag: {"const": True}}}
                            for flag in ("video", "content")
                        ]
                    },
                ]
            }
        },
    )

    audio: Literal["AudioOnly", "AudioWithActiveSpeakerVideo", "AudioWithCompositedVideo"] = (
        "AudioOnly"
    )
    video: bool = False
    content: bool = False
    resolution: Literal["HD", "FHD"] = "FHD"
    layout: Literal["PresenterOnly", "Horizontal", "Vertical", "ActiveSpeakerOnly"] = (
        "PresenterOnly"
    )

    @model_validator(mode="after")
    def _chime_rules(self) -> RecordingOptionsBody:
        problem = recording_options_problem(self.to_domain())
        if problem:
            raise ValueError(problem)
        return self

    def to_domain(self) -> RecordingOptions:
        return RecordingOptions(
            audio=self.audio,
            video=self.video,
            content=self.content,
            resolution=self.resolution,
            layout=self.layout,
        )


class AutoRecordingBody(RecordingOptionsBody):
    """POST /meetings' `recording`: `auto: true` starts it with the first attendee."""

    auto: bool = False


PiiEntityTypes = Annotated[
    str,
    Field(min_length=1, max_length=PII_ENTITY_TYPES_MAX, pattern=f"^{PII_ENTITY_TYPES_PATTERN}$"),
]
VocabularyName = Annotated[
    str, Field(min_length=1, max_length=VOCABULARY_MAX, pattern=f"^{VOCABULARY_PATTERN}$")
]
LanguageModelName = Annotated[
    str, Field(min_length=1, max_length=LANGUAGE_MODEL_MAX, pattern=f"^{LANGUAGE_MODEL_PATTERN}$")
]


def _absent(*names: str) -> dict[str, Any]:
    """A schema clause: these fields are absent or null."""
    return {"properties": {name: {"type": "null"} for name in names}}


def _given(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


# The document states the cross-field rules of transcription_settings_problem that JSON Schema
# can: a languageCode XOR identifyLanguage with two or more distinct options, and what goes
# with each; PII only with en-US, one kind at a time, entity types only with one; a filter
# method only with a filter. One cannot be stated: preferredLanguage must be one of
# languageOptions (the fuzzing lists it as a rule no schema states).
_TRANSCRIPTION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "allOf": [
                _given("languageCode"),
                {"properties": {"identifyLanguage": {"const": False}}},
                _absent("languageOptions", "preferredLanguage"),
                {
                    "anyOf": [
                        _absent("contentIdentificationType", "contentRedactionType"),
                        {"properties": {"languageCode": {"const": "en-US"}}},
                    ]
                },
            ]
        },
        {
            "allOf": [
                {
                    "required": ["identifyLanguage"],
                    "properties": {"identifyLanguage": {"const": True}},
                },
                _given("languageOptions"),
                {"properties": {"languageOptions": {"minItems": 2, "uniqueItems": True}}},
                _absent(
                    "languageCode",
                    "languageModelName",
                    "vocabularyName",
                    "vocabularyFilterName",
                    "contentIdentificationType",
                    "contentRedactionType",
                ),
            ]
        },
    ],
    "not": {"allOf": [_given("contentIdentificationType"), _given("contentRedactionType")]},
    "allOf": [
        {
            "anyOf": [
                _absent("piiEntityTypes"),
                _given("contentIdentificationType"),
                _given("contentRedactionType"),
            ]
        },
        {"anyOf": [_absent("vocabularyFilterMethod"), _given("vocabularyFilterName")]},
    ],
}


class TranscriptionBody(_Strict):
    """Chime's EngineTranscribeSettings: a languageCode, or identifyLanguage with options."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_TRANSCRIPTION_SCHEMA)

    languageCode: LanguageCode | None = None  # noqa: N815
    identifyLanguage: bool = False  # noqa: N815
    languageOptions: list[LanguageCode] | None = Field(default=None, max_length=14)  # noqa: N815
    preferredLanguage: LanguageCode | None = None  # noqa: N815
    region: TranscribeRegion | None = None
    partialResultsStability: Literal["low", "medium", "high"] | None = None  # noqa: N815
    contentIdentificationType: Literal["PII"] | None = None  # noqa: N815
    contentRedactionType: Literal["PII"] | None = None  # noqa: N815
    piiEntityTypes: PiiEntityTypes | None = None  # noqa: N815
    vocabularyName: VocabularyName | None = None  # noqa: N815
    vocabularyFilterName: VocabularyName | None = None  # noqa: N815
    vocabularyFilterMethod: Literal["remove", "mask", "tag"] | None = None  # noqa: N815
    languageModelName: LanguageModelName | None = None  # noqa: N815

    @model_validator(mode="after")
    def _chime_rules(self) -> TranscriptionBody:
        problem = transcription_settings_problem(self.to_domain())
        if problem:
            raise ValueError(problem)
        return self

    def to_domain(self) -> TranscriptionSettings:
        values = self.model_dump(exclude_none=True)
        return TranscriptionSettings.from_dict(values)


# --- responses (for the OpenAPI document) ----------------------------------------------------


class Failure(ApiModel):
    code: str
    message: str


class ArtifactView(ApiModel):
    kind: Literal["audio", "video", "composited", "transcript", "events"]
    contentType: str  # noqa: N815
    bytes: int
    url: str | None = None  # a time-limited download link (GET recordings/{id} only)


class RecordingView(ApiModel):
    recordingId: str  # noqa: N815
    meetingId: str  # noqa: N815
    status: Literal["CAPTURING", "PROCESSING", "AVAILABLE", "FAILED"]
    startedAt: str  # noqa: N815
    stoppedAt: str | None  # noqa: N815
    availableAt: str | None  # noqa: N815
    failure: Failure | None
    options: RecordingOptionsBody
    artifacts: list[ArtifactView]


class RecordingEnvelope(ApiModel):
    recording: RecordingView


class RecordingList(ApiModel):
    recordings: list[RecordingView]
    nextToken: str | None  # noqa: N815


class TranscriptionView(ApiModel):
    status: Literal["STARTING", "STARTED", "INTERRUPTED", "STOPPED", "FAILED"]
    languageCode: str | None  # noqa: N815
    identifyLanguage: bool  # noqa: N815
    region: str | None
    requestedAt: str  # noqa: N815
    startedAt: str | None  # noqa: N815
    failure: Failure | None


class TranscriptionEnvelope(ApiModel):
    transcription: TranscriptionView


class RecordingSummary(ApiModel):
    """The meeting view's `recording`: its newest recording while capturing or processing."""

    recordingId: str  # noqa: N815
    status: Literal["CAPTURING", "PROCESSING"]


class TranscriptLineView(ApiModel):
    attendeeId: str | None  # noqa: N815
    externalUserId: str | None  # noqa: N815
    startedAt: str  # noqa: N815
    endedAt: str  # noqa: N815
    text: str


class Transcript(ApiModel):
    meetingId: str  # noqa: N815
    lines: list[TranscriptLineView]
