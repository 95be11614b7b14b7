"""The project's domain events, derived from the old and new image of a changed item.

Meeting, attendee and webhook-subscription items speak: a transition of the committed state
becomes one event (created, started, ended, end settled; joined, left; webhook disabled).
`meeting.ended` says whether its `endReason` is final; when it is not (`unknown` while late
Chime events may still complete the timeline), exactly one `meeting.end_settled` follows when
the cleanup settles it, with the final reason and instant — so no subscriber sees a stated
reason later replaced. The `eventId` is a digest of what the event is about — never of when
it was derived — so a stream record processed twice yields the same id and consumers can drop
the repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meetings.domain.instants import rfc3339
from meetings.domain.records import MeetingStatus, Presence

Image = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DomainEvent:
    detail_type: str
    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.detail["eventId"])


def _event_id(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _base(
    meeting: Image, detail_type: str, occurred_at: int | None, *key: object
) -> dict[str, Any]:
    meeting_id = str(meeting["meetingId"])
    return {
        "eventId": _event_id(detail_type, meeting_id, *key),
        "occurredAt": rfc3339(occurred_at) if occurred_at is not None else None,
        "meetingId": meeting_id,
        "externalMeetingId": meeting.get("externalMeetingId"),
        "hostUserId": meeting.get("hostUserId"),
    }


def _status(image: Image | None) -> str | None:
    return None if image is None else image.get("status")


def meeting_events(old: Image | None, new: Image | None) -> list[DomainEvent]:
    if new is None:
        return []  # a TTL deletion: the meeting ended long ago
    events = []
    if old is None:
        events.append(
            DomainEvent(
                "meeting.created", _base(new, "meeting.created", _int(new.get("createdAt")))
            )
        )
    old_status, new_status = _status(old), _status(new)
    if new.get("startedAt") is not None and (old is None or old.get("startedAt") is None):
        events.append(
            DomainEvent("meeting.started", _base(new, "meeting.started", _int(new["startedAt"])))
        )
    if new_status == MeetingStatus.ENDED and old_status != MeetingStatus.ENDED:
        detail = _ended_detail(new, "meeting.ended")
        detail["endReasonFinal"] = new.get(_SETTLES_AT) is None
        events.append(DomainEvent("meeting.ended", detail))
    elif (
        new_status == MeetingStatus.ENDED
        and old_status == MeetingStatus.ENDED
        and old is not None
        and old.get(_SETTLES_AT) is not None
        and new.get(_SETTLES_AT) is None
    ):
        events.append(DomainEvent("meeting.end_settled", _ended_detail(new, "meeting.end_settled")))
    return events


# Present on an ended meeting while its inferred reason is not settled (records.py).
_SETTLES_AT = "endSettlesAt"


def _ended_detail(meeting: Image, detail_type: str) -> dict[str, Any]:
    ended_at, created_at = _int(meeting.get("endedAt")), _int(meeting.get("createdAt"))
    duration = None
    if ended_at is not None and created_at is not None:
        duration = max(0, ended_at - created_at) // 1000
    # One ended and at most one settled event per meeting: the id needs no more than its type.
    return _base(meeting, detail_type, ended_at) | {
        "endReason": meeting.get("endReason"),
        "endedAt": rfc3339(ended_at) if ended_at is not None else None,
        "durationSeconds": duration,
        "peakConnected": _int(meeting.get("peakConnected")) or 0,
        "attendeeCount": _int(meeting.get("attendeeTotal")) or 0,
    }


def _presence(image: Image | None) -> str | None:
    return None if image is None else image.get("presence")


def attendee_events(
    old: Image | None, new: Image | None, meeting: Image | None = None
) -> list[DomainEvent]:
    """attendee.joined on a change to CONNECTED, attendee.left on a change away from it.

    `meeting` adds the room name and host when the caller has them; without it the detail
    carries the meeting id only.
    """
    if new is None:
        return []
    context = dict(meeting or {"meetingId": new["meetingId"]})
    was, now = _presence(old) == Presence.CONNECTED, _presence(new) == Presence.CONNECTED
    who = {"userId": new.get("userId"), "attendeeId": new.get("attendeeId")}
    if now and not was:
        joined_at = _int(new.get("joinedAt"))
        detail = _base(context, "attendee.joined", joined_at, new["attendeeId"], joined_at)
        return [DomainEvent("attendee.joined", detail | who)]
    if was and not now:
        left_at = _int(new.get("leftAt"))
        # Keyed by the connection that ended, so a second image of the same leave matches.
        joined_at = _int(old.get("joinedAt")) if old is not None else None
        detail = _base(context, "attendee.left", left_at, new["attendeeId"], joined_at)
        return [DomainEvent("attendee.left", detail | who | {"presence": _presence(new)})]
    return []


# --- recordings and transcription ----------------------------------------------------------------

_RECORDING_EVENTS = {
    "CAPTURING": "recording.started",
    "AVAILABLE": "recording.available",
    "FAILED": "recording.failed",
}


def recording_events(
    old: Image | None, new: Image | None, meeting: Image | None = None
) -> list[DomainEvent]:
    """recording.started when a recording item appears; recording.available or
    recording.failed when it reaches that status (PROCESSING says nothing: it always follows)."""
    if new is None:
        return []
    status = new.get("status")
    if old is not None and old.get("status") == status:
        return []
    detail_type = _RECORDING_EVENTS.get(str(status))
    if detail_type is None or (detail_type == "recording.started" and old is not None):
        return []
    context = dict(meeting or {"meetingId": new["meetingId"]})
    occurred_at = {
        "recording.started": _int(new.get("startedAt")),
        "recording.available": _int(new.get("availableAt")),
        "recording.failed": _int(new.get("stoppedAt")),
    }[detail_type]
    detail = _base(context, detail_type, occurred_at, new["recordingId"]) | {
        "recordingId": new["recordingId"],
        "status": status,
    }
    if detail_type == "recording.available":
        detail["artifacts"] = [
            {"kind": a.get("kind"), "bytes": _int(a.get("bytes"))}
            for a in new.get("artifacts") or []
        ]
    if detail_type == "recording.failed":
        detail["failure"] = {"code": new.get("failureCode"), "message": new.get("failureMessage")}
    return [DomainEvent(detail_type, detail)]


_TRANSCRIPTION_EVENTS = {
    "STARTED": "transcription.started",
    "STOPPED": "transcription.stopped",
    "FAILED": "transcription.failed",
}


def transcription_events(old: Image | None, new: Image | None) -> list[DomainEvent]:
    """transcription.started (the first STARTED of a run; a resume says nothing),
    transcription.stopped and transcription.failed, from the meeting item's `transcription`."""
    after = (new or {}).get("transcription")
    if new is None or not isinstance(after, Mapping):
        return []
    before = (old or {}).get("transcription")
    before = before if isinstance(before, Mapping) else {}
    same_run = before.get("requestedAt") == after.get("requestedAt")
    status = str(after.get("status"))
    detail_type = _TRANSCRIPTION_EVENTS.get(status)
    if detail_type is None or (same_run and before.get("status") == status):
        return []
    if detail_type == "transcription.started" and same_run and before.get("startedAt") is not None:
        return []  # resumed after an interruption
    requested_at = _int(after.get("requestedAt"))
    settings = after.get("settings") or {}
    detail = _base(new, detail_type, _int(after.get("eventAt")), requested_at) | {
        "languageCode": settings.get("languageCode"),
        "region": after.get("region"),
    }
    if detail_type == "transcription.failed":
        detail["failure"] = {"message": after.get("failureMessage")}
    return [DomainEvent(detail_type, detail)]


def webhook_events(old: Image | None, new: Image | None) -> list[DomainEvent]:
    """webhook.disabled when a subscription goes from enabled to disabled (by an admin, a
    410 answer or a day of failures: `reason`)."""
    if old is None or new is None or not old.get("enabled") or new.get("enabled"):
        return []
    webhook_id, disabled_at = str(new["webhookId"]), _int(new.get("disabledAt"))
    detail = {
        "eventId": _event_id("webhook.disabled", webhook_id, disabled_at),
        "occurredAt": rfc3339(disabled_at) if disabled_at is not None else None,
        "webhookId": webhook_id,
        "url": new.get("url"),
        "reason": new.get("disabledReason"),
    }
    return [DomainEvent("webhook.disabled", detail)]
