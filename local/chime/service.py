"""The emulated service's state and the steps every operation shares: look-ups, events,
disconnecting clients and ending meetings. No locking here: ChimeEmulator holds one lock
around every use."""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any, Final

from meetings.deployment import MEDIA_PIPELINE_EVENT_DETAIL_TYPE

from local.chime import autoend, transcription
from local.chime.clock import Clock
from local.chime.config import EmulatorConfig
from local.chime.errors import MEETING_ENDED, not_found
from local.chime.events import Envelope, EventOutbox, envelope
from local.chime.pipelines import capture
from local.chime.pipelines.state import Pipeline
from local.chime.pipelines.store import ArtifactStore
from local.chime.state import Attendee, Media, Meeting

DELETED: Final = "deleted"  # end reason of DeleteMeeting
PRIMARY_ENDED: Final = "primary_ended"  # a replica ends with its primary meeting
NETWORK_TYPE: Final = "Voip"
# The content-share attendee's connection events carry networkType, like AttendeeJoined.
_CONTENT_CONNECTION_EVENTS: Final = frozenset(
    {"AttendeeContentJoined", "AttendeeContentLeft", "AttendeeContentDropped"}
)


class ChimeState:
    def __init__(
        self, config: EmulatorConfig, clock: Clock, outbox: EventOutbox, store: ArtifactStore
    ) -> None:
        self.config = config
        self.clock = clock
        self.outbox = outbox
        self.store = store  # where media pipelines write their artifacts
        self.pipelines: dict[str, Pipeline] = {}  # by id, in creation order
        # ClientRequestToken → (the create request without the token, the pipeline's id).
        self.pipeline_tokens: dict[str, tuple[dict[str, Any], str]] = {}
        self.meetings: dict[str, Meeting] = {}
        self.open_order: list[str] = []  # open meetings by creation (auto-end tie-break)
        # ClientRequestToken → (the request without the token, the answer given).
        self.requests_by_token: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.events: list[Envelope] = []
        rules = {autoend.NO_AUDIO_5MIN, autoend.CHIME_24H_LIMIT}
        if config.rule_single_attendee:
            rules.add(autoend.SINGLE_ATTENDEE_30MIN)
        if config.rule_screen_share_idle:
            rules.add(autoend.SCREEN_SHARE_IDLE_30MIN)
        self.enabled_rules = frozenset(rules)

    # --- look-ups -----------------------------------------------------------------------------
    def open_meeting(self, meeting_id: str) -> Meeting:
        meeting = self.meetings.get(meeting_id.lower())
        if meeting is None:
            raise not_found("The requested meeting does not exist")
        if not meeting.is_open:
            raise not_found(MEETING_ENDED)
        return meeting

    def live_attendee(self, meeting: Meeting, attendee_id: str) -> Attendee:
        attendee = meeting.attendees.get(attendee_id.lower())
        if attendee is None or attendee.deleted:
            raise not_found("The requested attendee does not exist")
        return attendee

    def meeting_arn(self, meeting_id: str) -> str:
        return f"arn:aws:chime:{self.config.region}:{self.config.account_id}:meeting/{meeting_id}"

    def pipeline_arn(self, pipeline_id: str) -> str:
        prefix = f"arn:aws:chime:{self.config.region}:{self.config.account_id}"
        return f"{prefix}:media-pipeline/{pipeline_id}"

    # --- identities ---------------------------------------------------------------------------
    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def new_join_token(attendee_id: str) -> str:
        secret = secrets.token_urlsafe(48)
        return base64.b64encode(f"{attendee_id}:{secret}".encode()).decode()

    # --- events -------------------------------------------------------------------------------
    def emit(
        self,
        meeting: Meeting,
        event_type: str,
        timestamp_ms: int,
        *,
        attendee_id: str | None = None,
        external_user_id: str | None = None,
        network: bool = False,
        **extra: Any,
    ) -> None:
        detail = _detail(meeting, event_type, timestamp_ms)
        if attendee_id is not None:
            detail["attendeeId"] = attendee_id
            detail["externalUserId"] = external_user_id
        if network:
            detail["networkType"] = NETWORK_TYPE
        detail.update(extra)
        item = envelope(self.config.account_id, self.config.region, detail)
        self.events.append(item)
        self.outbox.put(item)
        capture.record_meeting_event(self, meeting, detail)

    def emit_pipeline_event(
        self, meeting: Meeting, pipeline_id: str, event_type: str, timestamp_ms: int
    ) -> None:
        """A `Chime Media Pipeline State Change` event about one of the meeting's pipelines."""
        detail = _detail(meeting, event_type, timestamp_ms)
        detail["mediaPipelineId"] = pipeline_id
        item = envelope(
            self.config.account_id, self.config.region, detail, MEDIA_PIPELINE_EVENT_DETAIL_TYPE
        )
        self.events.append(item)
        self.outbox.put(item)

    def emit_attendee(
        self, meeting: Meeting, attendee: Attendee, event_type: str, at_ms: int, **extra: Any
    ) -> None:
        self.emit(
            meeting,
            event_type,
            at_ms,
            attendee_id=attendee.attendee_id,
            external_user_id=attendee.external_user_id,
            **extra,
        )

    def emit_content(self, meeting: Meeting, sharer: Attendee, event_type: str, at_ms: int) -> None:
        """Events of the content-share attendee `<attendeeId>#content`."""
        content_id = sharer.content_attendee_id
        self.emit(
            meeting,
            event_type,
            at_ms,
            attendee_id=content_id,
            external_user_id=content_id,
            network=event_type in _CONTENT_CONNECTION_EVENTS,
        )

    # --- media transitions shared by the media plane and the API ------------------------------
    def stop_video(self, meeting: Meeting, attendee: Attendee, media: Media, at_ms: int) -> None:
        if media.video:
            media.video = False
            self.emit_attendee(meeting, attendee, "AttendeeVideoStopped", at_ms)

    def stop_content(
        self, meeting: Meeting, attendee: Attendee, media: Media, at_ms: int, *, dropped: bool
    ) -> None:
        if media.content:
            media.content = False
            self.emit_content(meeting, attendee, "AttendeeContentVideoStopped", at_ms)
            ending = "AttendeeContentDropped" if dropped else "AttendeeContentLeft"
            self.emit_content(meeting, attendee, ending, at_ms)

    def disconnect(
        self, meeting: Meeting, attendee: Attendee, at_ms: int, *, dropped: bool = False
    ) -> None:
        """The client goes away: its streams stop, then it leaves (or drops)."""
        media = attendee.media
        if media is None:
            return
        self.stop_video(meeting, attendee, media, at_ms)
        self.stop_content(meeting, attendee, media, at_ms, dropped=dropped)
        if media.audio:
            ending = "AttendeeDropped" if dropped else "AttendeeLeft"
            self.emit_attendee(meeting, attendee, ending, at_ms, network=True)
        attendee.media = None
        autoend.refresh_conditions(meeting, at_ms)

    def end_meeting(self, meeting: Meeting, at_ms: int, reason: str) -> None:
        """Disconnect every client, stop transcription, then MeetingEnded (always last)."""
        for attendee in meeting.connected():
            self.disconnect(meeting, attendee, at_ms)
        transcription.stop(self, meeting, at_ms)
        meeting.ended_ms = at_ms
        meeting.end_reason = reason
        meeting.live_by_external_id.clear()
        self.open_order.remove(meeting.meeting_id)
        self.emit(meeting, "MeetingEnded", at_ms)
        capture.meeting_ended(self, meeting, at_ms)
        for replica_id in list(self.open_order):
            replica = self.meetings[replica_id]
            if replica.primary_meeting_id == meeting.meeting_id:
                self.end_meeting(replica, at_ms, PRIMARY_ENDED)

    def catch_up(self, now_ms: int) -> None:
        """What Chime does on its own up to now: auto-end rules, then the pipelines' work."""
        self.fire_due(now_ms)
        transcription.run_due(self, now_ms)
        capture.run_due(self, now_ms)

    def fire_due(self, until_ms: int) -> None:
        """End, in time order, every open meeting whose auto-end instant is at or before
        `until_ms` (each at its own instant)."""
        while True:
            due: tuple[int, int, str, Meeting] | None = None
            for position, meeting_id in enumerate(self.open_order):
                meeting = self.meetings[meeting_id]
                upcoming = autoend.next_auto_end(meeting, self.enabled_rules)
                if upcoming is None or upcoming[0] > until_ms:
                    continue
                candidate = (upcoming[0], position, upcoming[1], meeting)
                if due is None or candidate[:2] < due[:2]:
                    due = candidate
            if due is None:
                return
            at_ms, _, reason, meeting = due
            self.end_meeting(meeting, at_ms, reason)


def _detail(meeting: Meeting, event_type: str, timestamp_ms: int) -> dict[str, Any]:
    """What every Chime event's detail carries about its meeting."""
    return {
        "version": "0",
        "eventType": f"chime:{event_type}",
        "timestamp": timestamp_ms,
        "meetingId": meeting.meeting_id,
        "externalMeetingId": meeting.external_meeting_id,
        "mediaRegion": meeting.media_region,
    }
