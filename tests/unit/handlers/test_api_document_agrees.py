"""The OpenAPI document states the request rules, and the validators enforce them: the two
must accept exactly the same values, or a client generating from the document (and the fuzzer
in tests/reliability) gets 400s for data the document calls valid, or the reverse.

The document's patterns are read by a JSON Schema engine other than Python's `re`
(jsonschema-rs), as any client's would be.
"""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import jsonschema_rs
import pytest
from meetings.handlers.api_models import CapabilitiesBody, CreateMeetingBody, ProvisionBody
from meetings.handlers.media_models import RecordingOptionsBody, TranscriptionBody
from pydantic import BaseModel, ValidationError

# Every Latin-1 and Latin Extended character, then the whitespace and format characters on
# which regex dialects disagree (`\s` in Python, ECMA and Java), and one beyond the BMP.
PROBED_CHARACTERS = [chr(code) for code in range(0x250)] + [
    "\u1680", "\u2000", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "\U0003bebe",
]  # fmt: skip


@cache
def _document_validator(model: type[BaseModel]) -> Any:
    return jsonschema_rs.validator_for(model.model_json_schema())


def _accepted_by_document(model: type[BaseModel], body: dict[str, Any]) -> bool:
    return bool(_document_validator(model).is_valid(body))


def _accepted_by_validator(model: type[BaseModel], body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


def _disagreements(model: type[BaseModel], bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        body
        for body in bodies
        if _accepted_by_document(model, body) != _accepted_by_validator(model, body)
    ]


@pytest.mark.parametrize(
    "make_body",
    [
        lambda c: {"externalMeetingId": f"room{c}x"},
        lambda c: {"externalMeetingId": f"{c}room"},
        lambda c: {"tags": {f"team{c}": "x"}},
        lambda c: {"tags": {f"{c}team": "x"}},
        lambda c: {"tags": {"team": f"sales{c}"}},
    ],
    ids=["room name", "room name start", "tag key", "tag key start", "tag value"],
)
def test_document_and_validator_accept_the_same_characters(make_body: Any) -> None:
    bodies = [make_body(character) for character in PROBED_CHARACTERS]
    assert _disagreements(CreateMeetingBody, bodies) == []
    # Not vacuous: both sides accept some of the probes and refuse others.
    verdicts = {_accepted_by_validator(CreateMeetingBody, body) for body in bodies}
    assert verdicts == {True, False}


@pytest.mark.parametrize(
    "body",
    [
        {"externalMeetingId": "aws:room"},
        {"externalMeetingId": "AUTO-room"},
        {"externalMeetingId": "x"},
        {"externalMeetingId": "r" * 65},
        {"tags": {"aws:team": "x"}},
        {"tags": {"team\n": "x"}},
        {"tags": {"t" * 129: "x"}},
        {"tags": {"team": "x" * 257}},
    ],
)
def test_document_refuses_what_the_validator_refuses(body: dict[str, Any]) -> None:
    assert not _accepted_by_validator(CreateMeetingBody, body)
    assert not _accepted_by_document(CreateMeetingBody, body)


CAPABILITY_CHOICES = [None, "SendReceive", "Send", "Receive", "None"]


def test_capability_combinations_agree() -> None:
    names = ("audio", "video", "content")
    bodies = [
        {name: value for name, value in zip(names, combination, strict=True) if value}
        for combination in itertools.product(CAPABILITY_CHOICES, repeat=3)
    ]
    assert _disagreements(CapabilitiesBody, bodies) == []
    provisions = [{"attendees": [{"userId": "bob", "capabilities": body}]} for body in bodies]
    assert _disagreements(ProvisionBody, provisions) == []
    refused = [body for body in bodies if not _accepted_by_validator(CapabilitiesBody, body)]
    assert {"video": "None"} in refused  # content defaults to SendReceive
    assert {"video": "Send", "content": "Receive"} in refused
    assert {"video": "None", "content": "Send"} not in refused


def test_attendee_limit_and_resolutions_agree() -> None:
    bodies = []
    for seats, video, content in itertools.product(
        [None, 25, 26, 250], [None, "None", "HD", "FHD"], [None, "None", "FHD", "UHD"]
    ):
        features = {
            name: value
            for name, value in (("videoMaxResolution", video), ("contentMaxResolution", content))
            if value
        }
        bodies.append({"features": features} | ({"maxAttendees": seats} if seats else {}))
    assert _disagreements(CreateMeetingBody, bodies) == []
    assert not _accepted_by_validator(
        CreateMeetingBody, {"maxAttendees": 26, "features": {"contentMaxResolution": "UHD"}}
    )


def _transcription_bodies() -> list[dict[str, Any]]:
    """Every combination of the fields the cross-field rules read (None: absent)."""
    choices: dict[str, list[Any]] = {
        "languageCode": [None, "en-US", "fr-FR"],
        "identifyLanguage": [None, True, False],
        "languageOptions": [None, ["en-US"], ["en-US", "fr-FR"], ["en-US", "en-US"]],
        "contentIdentificationType": [None, "PII"],
        "contentRedactionType": [None, "PII"],
        "piiEntityTypes": [None, "NAME"],
        "vocabularyFilterMethod": [None, "mask"],
        "vocabularyFilterName": [None, "filter"],
        "vocabularyName": [None, "words"],
    }
    return [
        {name: value for name, value in zip(choices, values, strict=True) if value is not None}
        for values in itertools.product(*choices.values())
    ]


def test_transcription_settings_agree() -> None:
    """preferredLanguage ∈ languageOptions is the one rule the document cannot state."""
    bodies = _transcription_bodies()
    assert _disagreements(TranscriptionBody, bodies) == []
    accepted = [body for body in bodies if _accepted_by_validator(TranscriptionBody, body)]
    assert {"languageCode": "en-US", "contentRedactionType": "PII"} in accepted
    assert {"identifyLanguage": True, "languageOptions": ["en-US", "fr-FR"]} in accepted
    assert not _accepted_by_document(TranscriptionBody, {})
    assert not _accepted_by_document(
        TranscriptionBody, {"languageCode": "fr-FR", "contentRedactionType": "PII"}
    )


def test_recording_options_agree() -> None:
    """Every artifact combination: composited audio takes no video or content chunks."""
    choices = {
        "audio": [None, "AudioOnly", "AudioWithActiveSpeakerVideo", "AudioWithCompositedVideo"],
        "video": [None, False, True],
        "content": [None, False, True],
        "layout": [None, "ActiveSpeakerOnly"],
    }
    bodies = [
        {name: value for name, value in zip(choices, values, strict=True) if value is not None}
        for values in itertools.product(*choices.values())
    ]
    assert _disagreements(RecordingOptionsBody, bodies) == []
    refused = {"audio": "AudioWithCompositedVideo", "content": True}
    assert not _accepted_by_document(RecordingOptionsBody, refused)
    assert _accepted_by_document(RecordingOptionsBody, {"audio": "AudioWithCompositedVideo"})
