"""The simulated media plane: a client connects with its attendee's JoinToken and sends or
views media, then leaves or drops. Each step emits the events Chime sends for it."""

from __future__ import annotations

from typing import Final

from local.chime import autoend, rules
from local.chime.errors import bad_request, limit_exceeded
from local.chime.service import ChimeState
from local.chime.state import Attendee, Media, Meeting

MAX_VIDEO_SENDERS: Final = 25
MAX_CONTENT_SHARES: Final = 2


def connect(state: ChimeState, meeting_id: str, attendee_id: str, wanted: Media) -> None:
    """Connect (or re-connect: Chime's hand-off to another device) with this media."""
    meeting = state.open_meeting(meeting_id)
    attendee = state.live_attendee(meeting, attendee_id)
    _check_allowed(meeting, attendee, wanted)
    now = state.clock.now_ms()
    before = attendee.media or Media()
    state.emit_attendee(meeting, attendee, "AttendeeAuthorized", now)
    attendee.media = before
    if not wanted.video:
        state.stop_video(meeting, attendee, before, now)
    if not wanted.content:
        state.stop_content(meeting, attendee, before, now, dropped=False)
    if before.audio and not wanted.audio:
        state.emit_attendee(meeting, attendee, "AttendeeLeft", now, network=True)
    if wanted.audio and not before.audio:
        state.emit_attendee(meeting, attendee, "AttendeeJoined", now, network=True)
    if wanted.video and not before.video:
        state.emit_attendee(meeting, attendee, "AttendeeVideoStarted", now)
    if wanted.content and not before.content:
        state.emit_content(meeting, attendee, "AttendeeContentJoined", now)
        state.emit_content(meeting, attendee, "AttendeeContentVideoStarted", now)
    attendee.media = Media(wanted.audio, wanted.video, wanted.content, wanted.viewing_content)
    autoend.refresh_conditions(meeting, now)


def _check_allowed(meeting: Meeting, attendee: Attendee, wanted: Media) -> None:
    if not (wanted.audio or wanted.video or wanted.content or wanted.viewing_content):
        raise bad_request("A client connects with at least one of audio, video, content, viewing")
    capabilities = attendee.capabilities
    refused = [
        what
        for what, asked, allowed in (
            ("audio", wanted.audio, capabilities["Audio"] != "None"),
            ("video", wanted.video, capabilities["Video"] in rules.SENDING),
            ("content", wanted.content, capabilities["Content"] in rules.SENDING),
            ("viewing content", wanted.viewing_content, capabilities["Content"] in rules.RECEIVING),
        )
        if asked and not allowed
    ]
    if refused:
        raise bad_request(f"The attendee's capabilities do not allow {', '.join(refused)}")
    others = [a.media for a in meeting.connected() if a is not attendee and a.media]
    if wanted.video and sum(1 for m in others if m.video) >= MAX_VIDEO_SENDERS:
        raise limit_exceeded("The meeting has 25 video senders already")
    if wanted.content and sum(1 for m in others if m.content) >= MAX_CONTENT_SHARES:
        raise limit_exceeded("The meeting has 2 content shares already")


def disconnect(state: ChimeState, meeting_id: str, attendee_id: str, *, dropped: bool) -> None:
    meeting = state.open_meeting(meeting_id)
    attendee = state.live_attendee(meeting, attendee_id)
    if attendee.media is None:
        raise bad_request("The attendee is not connected")
    state.disconnect(meeting, attendee, state.clock.now_ms(), dropped=dropped)
