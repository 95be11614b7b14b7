"""Live transcription: the settings a client may ask for (checked as Chime and Amazon
Transcribe check them), and the meeting's transcription record that Chime's
`chime:Transcription*` events drive (docs/recording.md).

Chime answers StartMeetingTranscription at once and reports the outcome later, as events on
`Chime Meeting State Change`; they may come late, twice or out of order. The record keeps the
timestamp of the event it last applied: an older event changes nothing, and so does one
older than the request that started the current run (it belongs to a previous run), with
`CLOCK_SKEW_MS` of tolerance between the backend's clock and Chime's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

# botocore's chime-sdk-meetings model: TranscribeLanguageCode, TranscribeRegion.
TRANSCRIBE_LANGUAGE_CODES: Final = (
    "en-US", "en-GB", "es-US", "fr-CA", "fr-FR", "en-AU", "it-IT", "de-DE", "pt-BR", "ja-JP",
    "ko-KR", "zh-CN", "th-TH", "hi-IN",
)  # fmt: skip
TRANSCRIBE_REGIONS: Final = (
    "us-east-2", "us-east-1", "us-west-2", "ap-northeast-2", "ap-southeast-2", "ap-northeast-1",
    "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "sa-east-1", "auto", "us-gov-west-1",
)  # fmt: skip
PARTIAL_RESULTS_STABILITIES: Final = ("low", "medium", "high")
VOCABULARY_FILTER_METHODS: Final = ("remove", "mask", "tag")
PII: Final = "PII"
# Amazon Transcribe identifies and redacts PII in US English streams only.
PII_LANGUAGE: Final = "en-US"
# Patterns and lengths of the model's string shapes.
PII_ENTITY_TYPES_PATTERN: Final = r"[A-Z_, ]+"
PII_ENTITY_TYPES_MAX: Final = 300
LANGUAGE_MODEL_PATTERN: Final = r"[0-9a-zA-Z._-]+"
LANGUAGE_MODEL_MAX: Final = 200
VOCABULARY_PATTERN: Final = r"[a-zA-Z0-9,-._]+"
VOCABULARY_MAX: Final = 200
LANGUAGE_OPTIONS_MAX_CHARS: Final = 200  # the options joined with commas
MIN_LANGUAGE_OPTIONS: Final = 2  # Transcribe identifies among at least two languages
CLOCK_SKEW_MS: Final = 5_000


@dataclass(frozen=True, slots=True)
class TranscriptionSettings:
    """EngineTranscribeSettings in the API's words (docs/api.md, "Transcription")."""

    languageCode: str | None = None  # noqa: N815
    identifyLanguage: bool = False  # noqa: N815
    languageOptions: tuple[str, ...] = ()  # noqa: N815
    preferredLanguage: str | None = None  # noqa: N815
    region: str | None = None
    partialResultsStability: str | None = None  # noqa: N815
    contentIdentificationType: str | None = None  # noqa: N815
    contentRedactionType: str | None = None  # noqa: N815
    piiEntityTypes: str | None = None  # noqa: N815
    vocabularyName: str | None = None  # noqa: N815
    vocabularyFilterName: str | None = None  # noqa: N815
    vocabularyFilterMethod: str | None = None  # noqa: N815
    languageModelName: str | None = None  # noqa: N815

    def as_dict(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in self.__slots__}
        values["languageOptions"] = list(self.languageOptions)
        return {name: value for name, value in values.items() if value not in (None, False, [])}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TranscriptionSettings:
        values = {name: raw[name] for name in cls.__slots__ if name in raw}
        values["languageOptions"] = tuple(values.get("languageOptions") or ())
        return cls(**values)


def _language_problem(settings: TranscriptionSettings) -> str | None:  # noqa: PLR0911
    if settings.identifyLanguage == (settings.languageCode is not None):
        return "give either languageCode or identifyLanguage: true"
    if settings.languageCode is not None:
        if settings.languageCode not in TRANSCRIBE_LANGUAGE_CODES:
            return f"languageCode must be one of {', '.join(TRANSCRIBE_LANGUAGE_CODES)}"
        if settings.languageOptions or settings.preferredLanguage:
            return "languageOptions and preferredLanguage go with identifyLanguage only"
        return None
    options = settings.languageOptions
    if len(options) < MIN_LANGUAGE_OPTIONS:
        return f"identifyLanguage needs at least {MIN_LANGUAGE_OPTIONS} languageOptions"
    unknown = [code for code in options if code not in TRANSCRIBE_LANGUAGE_CODES]
    if unknown:
        return f"languageOptions has unsupported codes: {', '.join(unknown)}"
    if len(set(options)) != len(options):
        return "languageOptions has a code twice"
    if len(",".join(options)) > LANGUAGE_OPTIONS_MAX_CHARS:
        return f"languageOptions is longer than {LANGUAGE_OPTIONS_MAX_CHARS} characters"
    if settings.preferredLanguage is not None and settings.preferredLanguage not in options:
        return "preferredLanguage must be one of languageOptions"
    if settings.languageModelName or settings.vocabularyName or settings.vocabularyFilterName:
        return "vocabularies and language models need a languageCode, not identifyLanguage"
    return None


def _pii_problem(settings: TranscriptionSettings) -> str | None:
    kinds = [settings.contentIdentificationType, settings.contentRedactionType]
    if any(kind not in (None, PII) for kind in kinds):
        return f"contentIdentificationType and contentRedactionType take only {PII!r}"
    if all(kinds):
        return "contentIdentificationType and contentRedactionType exclude each other"
    if any(kinds) and settings.languageCode != PII_LANGUAGE:
        return f"PII identification and redaction need languageCode {PII_LANGUAGE}"
    if settings.piiEntityTypes is not None:
        if not any(kinds):
            return "piiEntityTypes needs contentIdentificationType or contentRedactionType"
        if len(settings.piiEntityTypes) > PII_ENTITY_TYPES_MAX or not re.fullmatch(
            PII_ENTITY_TYPES_PATTERN, settings.piiEntityTypes
        ):
            return "piiEntityTypes is a comma-separated list of upper-case entity types"
    return None


def _names_problem(settings: TranscriptionSettings) -> str | None:
    for name, pattern, limit in (
        ("vocabularyName", VOCABULARY_PATTERN, VOCABULARY_MAX),
        ("vocabularyFilterName", VOCABULARY_PATTERN, VOCABULARY_MAX),
        ("languageModelName", LANGUAGE_MODEL_PATTERN, LANGUAGE_MODEL_MAX),
    ):
        value = getattr(settings, name)
        if value is not None and (len(value) > limit or not re.fullmatch(pattern, value)):
            return f"{name} must be 1-{limit} characters of {pattern}"
    if settings.vocabularyFilterMethod is not None:
        if settings.vocabularyFilterMethod not in VOCABULARY_FILTER_METHODS:
            return f"vocabularyFilterMethod must be one of {', '.join(VOCABULARY_FILTER_METHODS)}"
        if settings.vocabularyFilterName is None:
            return "vocabularyFilterMethod needs a vocabularyFilterName"
    return None


def transcription_settings_problem(settings: TranscriptionSettings) -> str | None:
    """Why Chime (or Transcribe, once started) would refuse these settings, or None."""
    if settings.region is not None and settings.region not in TRANSCRIBE_REGIONS:
        return f"region must be one of {', '.join(TRANSCRIBE_REGIONS)}"
    stability = settings.partialResultsStability
    if stability is not None and stability not in PARTIAL_RESULTS_STABILITIES:
        return f"partialResultsStability must be one of {', '.join(PARTIAL_RESULTS_STABILITIES)}"
    return _language_problem(settings) or _pii_problem(settings) or _names_problem(settings)


# --- the record --------------------------------------------------------------------------------


class TranscriptionStatus(StrEnum):
    STARTING = "STARTING"  # asked for; Chime's TranscriptionStarted not seen yet
    STARTED = "STARTED"
    INTERRUPTED = "INTERRUPTED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"

    @property
    def is_running(self) -> bool:
        return self in (
            TranscriptionStatus.STARTING,
            TranscriptionStatus.STARTED,
            TranscriptionStatus.INTERRUPTED,
        )


class TranscriptionEventType(StrEnum):
    STARTED = "chime:TranscriptionStarted"
    STOPPED = "chime:TranscriptionStopped"
    INTERRUPTED = "chime:TranscriptionInterrupted"
    RESUMED = "chime:TranscriptionResumed"
    FAILED = "chime:TranscriptionFailed"


_STATUS_OF: Final = {
    TranscriptionEventType.STARTED: TranscriptionStatus.STARTED,
    TranscriptionEventType.RESUMED: TranscriptionStatus.STARTED,
    TranscriptionEventType.INTERRUPTED: TranscriptionStatus.INTERRUPTED,
    TranscriptionEventType.STOPPED: TranscriptionStatus.STOPPED,
    TranscriptionEventType.FAILED: TranscriptionStatus.FAILED,
}


@dataclass(frozen=True, slots=True)
class TranscriptionRecord:
    """The meeting's current (or last) transcription run: a map attribute of the meeting."""

    status: TranscriptionStatus
    settings: TranscriptionSettings
    requestedAt: int  # noqa: N815 - epoch ms, the backend's clock: the run's start request
    region: str | None = None  # where Chime runs it (its events say)
    startedAt: int | None = None  # noqa: N815 - Chime's TranscriptionStarted
    eventAt: int | None = None  # noqa: N815 - the timestamp of the last event applied
    failureMessage: str | None = None  # noqa: N815

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "settings": self.settings.as_dict(),
            "requestedAt": self.requestedAt,
            "region": self.region,
            "startedAt": self.startedAt,
            "eventAt": self.eventAt,
            "failureMessage": self.failureMessage,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TranscriptionRecord:
        return cls(
            status=TranscriptionStatus(raw["status"]),
            settings=TranscriptionSettings.from_dict(raw.get("settings") or {}),
            requestedAt=int(raw["requestedAt"]),
            region=raw.get("region"),
            startedAt=None if raw.get("startedAt") is None else int(raw["startedAt"]),
            eventAt=None if raw.get("eventAt") is None else int(raw["eventAt"]),
            failureMessage=raw.get("failureMessage"),
        )


def requested(settings: TranscriptionSettings, now: int) -> TranscriptionRecord:
    return TranscriptionRecord(TranscriptionStatus.STARTING, settings, requestedAt=now)


def stop_requested(record: TranscriptionRecord, now: int) -> TranscriptionRecord:
    """StopMeetingTranscription succeeded: stopped as of now (older events change nothing)."""
    return replace(
        record, status=TranscriptionStatus.STOPPED, eventAt=max(now, record.eventAt or 0)
    )


# Two events with one timestamp: the later in this order wins, whatever their arrival.
_TIE_RANK: Final = {
    TranscriptionStatus.STARTING: 0,
    TranscriptionStatus.STARTED: 1,
    TranscriptionStatus.INTERRUPTED: 2,
    TranscriptionStatus.STOPPED: 3,
    TranscriptionStatus.FAILED: 4,
}


def apply_transcription_event(
    record: TranscriptionRecord | None,
    event_type: TranscriptionEventType,
    timestamp: int,
    *,
    region: str | None = None,
    message: str | None = None,
) -> TranscriptionRecord | None:
    """The record after the event; None when the event changes nothing.

    The status is the newest event's (ties by `_TIE_RANK`); `startedAt` is the earliest
    TranscriptionStarted of the run, so a Started that arrives after a Stopped still dates it.
    """
    if record is None or timestamp < record.requestedAt - CLOCK_SKEW_MS:
        return None  # not ours, or a previous run's
    status = _STATUS_OF[event_type]
    started_at = record.startedAt
    if event_type is TranscriptionEventType.STARTED:
        started_at = timestamp if started_at is None else min(started_at, timestamp)
    newest = (
        record.eventAt is None
        or timestamp > record.eventAt
        or (timestamp == record.eventAt and _TIE_RANK[status] > _TIE_RANK[record.status])
    )
    updated = replace(record, startedAt=started_at, region=record.region or region)
    if newest:
        updated = replace(
            updated,
            status=status,
            eventAt=timestamp,
            failureMessage=(message or "transcription failed")
            if status is TranscriptionStatus.FAILED
            else None,
        )
    return None if updated == record else updated
