"""Rules a request must satisfy before anything is sent to Chime (docs/chime.md).

boto3 checks only minimum lengths, so the backend checks the rest itself: a bad request is a
400 with details, never a Chime error or a 500. Functions return a problem (str) or None, or
raise ValueError, so pydantic validators can use them directly.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

from meetings.deployment import CHIME_MEDIA_REGIONS
from meetings.domain.records import Capabilities, Capability

# Chime's patterns say `\s` and `\w` in Java's sense: ASCII only. Python's (Unicode) and the
# ECMA regexes of the OpenAPI document each read them differently, so they are spelled out:
# this module, the document and Chime then accept exactly the same characters.
_WHITESPACE: Final = r" \t\n\x0b\f\r"
_WORD: Final = r"a-zA-Z0-9_"

# ExternalMeetingId / ExternalUserId: Chime documents this pattern (full match), 2-64 chars.
CHIME_EXTERNAL_ID_PATTERN: Final = r"[-_&@+=,(){}\[\]/«».:|'\"#a-zA-Z0-9À-ÿ" + _WHITESPACE + "]*"
_CHIME_EXTERNAL_ID: Final = re.compile(CHIME_EXTERNAL_ID_PATTERN)
EXTERNAL_ID_MIN: Final = 2
EXTERNAL_ID_MAX: Final = 64
RESERVED_PREFIX: Final = "aws:"
GENERATED_ROOM_PREFIX: Final = "auto-"

# Chime's own patterns for tags (botocore's model; `+-=` in a class is a range there too).
TAG_KEY_PATTERN: Final = r"[a-zA-Z+-=._:/]+"
TAG_VALUE_PATTERN: Final = "[" + _WHITESPACE + _WORD + r"+-=\.:/@]*"
_TAG_KEY: Final = re.compile(TAG_KEY_PATTERN)
_TAG_VALUE: Final = re.compile(TAG_VALUE_PATTERN)
TAG_KEY_MAX: Final = 128
TAG_VALUE_MAX: Final = 256
TAGS_MAX: Final = 50

# MeetingId and AttendeeId (botocore's GuidString).
CHIME_ID_PATTERN: Final = r"[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}"

MAX_ATTENDEES: Final = 250
# Chime caps a meeting at 25 attendees with FHD video or UHD content.
HIGH_RESOLUTION_MAX_ATTENDEES: Final = 25
HIGH_VIDEO_RESOLUTION: Final = "FHD"
HIGH_CONTENT_RESOLUTION: Final = "UHD"

_TOKEN_DIGEST_CHARS: Final = 56


# User ids (token `sub`, provisioned `userId`, `hostUserId`) become parts of table keys
# (`USER#<id>` sort keys, `HOST#<id>` index partition keys): DynamoDB caps sort keys at 1024
# bytes of UTF-8, so an id is limited in bytes as well as in characters.
USER_ID_MAX: Final = 256
USER_ID_MAX_BYTES: Final = 512


def user_id_problem(user_id: str) -> str | None:
    """Why a user id cannot be used, or None."""
    if not 1 <= len(user_id) <= USER_ID_MAX:
        return f"must be 1-{USER_ID_MAX} characters"
    try:
        size = len(user_id.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid Unicode (unpaired surrogate)"
    if size > USER_ID_MAX_BYTES:
        return f"must be at most {USER_ID_MAX_BYTES} bytes in UTF-8"
    return None


def is_valid_chime_external_id(value: str) -> bool:
    return (
        EXTERNAL_ID_MIN <= len(value) <= EXTERNAL_ID_MAX
        and _CHIME_EXTERNAL_ID.fullmatch(value) is not None
        and not value.casefold().startswith(RESERVED_PREFIX)
    )


def room_name_problem(name: str) -> str | None:
    if not EXTERNAL_ID_MIN <= len(name) <= EXTERNAL_ID_MAX:
        return f"must be {EXTERNAL_ID_MIN}-{EXTERNAL_ID_MAX} characters"
    if _CHIME_EXTERNAL_ID.fullmatch(name) is None:
        return "contains characters Chime does not accept in a meeting name"
    folded = name.casefold()
    if folded.startswith(RESERVED_PREFIX) or folded.startswith(GENERATED_ROOM_PREFIX):
        return f"must not start with '{RESERVED_PREFIX}' or '{GENERATED_ROOM_PREFIX}'"
    return None


def media_region_problem(region: str) -> str | None:
    if region not in CHIME_MEDIA_REGIONS:
        return "is not a Chime media region"
    return None


def tags_problem(tags: dict[str, str]) -> str | None:
    if len(tags) > TAGS_MAX:
        return f"at most {TAGS_MAX} tags"
    for key, value in tags.items():
        if not 1 <= len(key) <= TAG_KEY_MAX or _TAG_KEY.fullmatch(key) is None:
            return f"tag key {key!r} is not valid"
        if key.casefold().startswith(RESERVED_PREFIX):
            return f"tag key {key!r} uses the reserved prefix '{RESERVED_PREFIX}'"
        if len(value) > TAG_VALUE_MAX or _TAG_VALUE.fullmatch(value) is None:
            return f"tag value for {key!r} is not valid"
    return None


def attendee_limit(video_max_resolution: str, content_max_resolution: str) -> int:
    if (
        video_max_resolution == HIGH_VIDEO_RESOLUTION
        or content_max_resolution == HIGH_CONTENT_RESOLUTION
    ):
        return HIGH_RESOLUTION_MAX_ATTENDEES
    return MAX_ATTENDEES


def chime_meeting_features(
    *,
    echo_reduction: bool,
    video_max_resolution: str,
    content_max_resolution: str,
    max_attendees: int,
) -> dict[str, Any]:
    """Chime's MeetingFeatures for a create request (shape of the botocore model)."""
    return {
        "Audio": {"EchoReduction": "AVAILABLE" if echo_reduction else "UNAVAILABLE"},
        "Video": {"MaxResolution": video_max_resolution},
        "Content": {"MaxResolution": content_max_resolution},
        "Attendee": {"MaxCount": max_attendees},
    }


RECEIVING: Final = frozenset({Capability.SEND_RECEIVE, Capability.RECEIVE})


def capabilities_combination_problem(capabilities: Capabilities) -> str | None:
    """The rule between the three capabilities that holds in every meeting."""
    receives_content = capabilities.content in RECEIVING
    if receives_content and capabilities.video not in RECEIVING:
        return "content SendReceive or Receive needs video SendReceive or Receive"
    return None


def capabilities_problem(
    capabilities: Capabilities, meeting_features: dict[str, Any]
) -> str | None:
    """Chime's corner cases for attendee capabilities (the model's AttendeeCapabilities docs),
    then what the meeting's features allow."""
    problem = capabilities_combination_problem(capabilities)
    if problem:
        return problem
    video_resolution = meeting_features.get("Video", {}).get("MaxResolution")
    content_resolution = meeting_features.get("Content", {}).get("MaxResolution")
    if video_resolution == "None" and capabilities.video is not Capability.NONE:
        return "the meeting has no video: video must be None"
    if content_resolution == "None" and capabilities.content is not Capability.NONE:
        return "the meeting has no content sharing: content must be None"
    return None


def _token(kind: str, *parts: str) -> str:
    # Unit separators keep ("a", "bc") and ("ab", "c") apart.
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"{kind}-{digest[:_TOKEN_DIGEST_CHARS]}"


def request_token_for_key(user_id: str, idempotency_key: str) -> str:
    """Chime ClientRequestToken of a create with an Idempotency-Key: a retry after a timeout
    lands on the same Chime meeting."""
    return _token("key", user_id, idempotency_key)


def request_token_for_room(room_name: str, generation: int, request_fingerprint: str) -> str:
    """Chime ClientRequestToken of a room's n-th meeting. The fingerprint names the caller and
    the request: a caller repeating the request gets the same Chime meeting; other callers and
    other requests (Chime refuses a token reused with other parameters) get their own, and the
    room item decides which one holds the name (the others are deleted by their own creators).
    A new generation (after the last meeting ended) always gets a new meeting."""
    return _token("room", room_name.casefold(), str(generation), request_fingerprint)
