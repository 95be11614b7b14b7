"""Chime's rules that the model states only in documentation text (docs/chime.md): the
ExternalMeetingId / ExternalUserId pattern, the reserved `aws:` prefix, media regions,
the capability corner cases and the FHD/UHD attendee cap."""

from __future__ import annotations

import re
from typing import Any, Final

from meetings.deployment import CHIME_MEDIA_REGIONS

from local.chime.errors import bad_request

# Applied as a full match; the model carries only the lengths of these members. `\s` is read
# as Java reads it (ASCII whitespace), like the model's patterns (validation.py).
EXTERNAL_ID_PATTERN: Final = re.compile(r"[-_&@+=,(){}\[\]\/«».:|'\"#a-zA-Z0-9À-ÿ\s]*", re.ASCII)
RESERVED_PREFIX: Final = "aws:"
HIGH_RESOLUTION_MAX_ATTENDEES: Final = 25
# The quota page and the service itself stop CreateMeetingWithAttendees at 10 attendees,
# although the model allows 20.
MAX_ATTENDEES_WITH_MEETING: Final = 10

SENDING: Final = frozenset({"SendReceive", "Send"})
RECEIVING: Final = frozenset({"SendReceive", "Receive"})
_MEDIA_KINDS: Final = ("Audio", "Video", "Content")


def check_external_id(member: str, value: str) -> None:
    """ExternalMeetingId, ExternalUserId and MeetingHostId share the documented pattern."""
    if EXTERNAL_ID_PATTERN.fullmatch(value) is None:
        raise bad_request(f"{member} contains characters outside the allowed pattern")
    if value[: len(RESERVED_PREFIX)].lower() == RESERVED_PREFIX:
        raise bad_request(f"{member} must not begin with the reserved prefix '{RESERVED_PREFIX}'")


def check_media_region(region: str) -> None:
    if region not in CHIME_MEDIA_REGIONS:
        raise bad_request(f"MediaRegion {region} is not a Chime SDK media Region")


def check_tag_keys(tags: list[dict[str, str]]) -> None:
    for tag in tags:
        if tag["Key"].lower().startswith(RESERVED_PREFIX):
            raise bad_request("Tag keys must not begin with the reserved prefix 'aws:'")


def check_meeting_features(features: dict[str, Any] | None) -> None:
    """FHD video or UHD content caps a meeting at 25 attendees, and the model's text asks the
    caller to state that cap (MaxCount) explicitly."""
    if not features:
        return
    video = (features.get("Video") or {}).get("MaxResolution")
    content = (features.get("Content") or {}).get("MaxResolution")
    if video != "FHD" and content != "UHD":
        return
    max_count = (features.get("Attendee") or {}).get("MaxCount")
    if max_count is None:
        raise bad_request("FHD video or UHD content requires MeetingFeatures.Attendee.MaxCount")
    if max_count > HIGH_RESOLUTION_MAX_ATTENDEES:
        raise bad_request(
            "With FHD video or UHD content, MeetingFeatures.Attendee.MaxCount must be at most "
            f"{HIGH_RESOLUTION_MAX_ATTENDEES}"
        )


def resolve_capabilities(
    requested: dict[str, str] | None, features: dict[str, Any] | None
) -> dict[str, str]:
    """The capabilities an attendee gets, or BadRequest for the documented corner cases."""
    video_off = _resolution(features, "Video") == "None"
    content_off = _resolution(features, "Content") == "None"
    if requested is None:
        if video_off and not content_off:
            # Content SendReceive needs video at least Receive, so Chime lowers video to that.
            return {"Audio": "SendReceive", "Video": "Receive", "Content": "SendReceive"}
        return {
            "Audio": "SendReceive",
            "Video": "None" if video_off else "SendReceive",
            "Content": "None" if content_off else "SendReceive",
        }
    capabilities = {kind: requested[kind] for kind in _MEDIA_KINDS}
    if video_off and capabilities["Video"] != "None":
        raise bad_request("The meeting's video is off (MaxResolution None): Video must be None")
    if content_off and capabilities["Content"] != "None":
        raise bad_request("The meeting's content is off (MaxResolution None): Content must be None")
    if capabilities["Content"] in RECEIVING and capabilities["Video"] not in RECEIVING:
        raise bad_request("Content SendReceive or Receive requires Video SendReceive or Receive")
    return capabilities


def _resolution(features: dict[str, Any] | None, kind: str) -> str | None:
    value = ((features or {}).get(kind) or {}).get("MaxResolution")
    return None if value is None else str(value)
