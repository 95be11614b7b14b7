"""The four auto-end rules on the virtual clock, read as docs/chime.md's precise reading:
each fires at the first millisecond past its threshold, and not one millisecond before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer
from tests.emulator.conftest import add_attendee, create_meeting, event_types

FIVE_MINUTES = 300
THIRTY_MINUTES = 1800
DAY = 86_400
ONE_MS = 0.001


def _ended_at(chime: ChimeEmulator, meeting_id: str) -> int:
    ended = [
        e["detail"]["timestamp"]
        for e in chime.events
        if e["detail"]["eventType"] == "chime:MeetingEnded"
        and e["detail"]["meetingId"] == meeting_id
    ]
    assert len(ended) == 1
    return int(ended[0])


def _ends_exactly_after(chime: ChimeEmulator, meeting_id: str, seconds: int) -> int:
    """Advance to the threshold: still open; one ms more: ended, stamped with that instant."""
    start = chime.now_ms()
    chime.advance(seconds)
    assert meeting_id in chime.open_meeting_ids()
    chime.advance(ONE_MS)
    assert meeting_id not in chime.open_meeting_ids()
    assert _ended_at(chime, meeting_id) == start + seconds * 1000 + 1
    assert event_types(chime)[-1] == "MeetingEnded"
    return start


@pytest.fixture
def emulator_with(
    make_chime_client: Callable[[str], Any],
) -> Iterator[Callable[..., tuple[ChimeEmulator, Any]]]:
    servers: list[EmulatorServer] = []

    def start(**config: Any) -> tuple[ChimeEmulator, Any]:
        server = EmulatorServer(ChimeEmulator(EmulatorConfig(**config), start_ms=0)).start()
        servers.append(server)
        return server.emulator, make_chime_client(server.endpoint_url)

    yield start
    for server in servers:
        server.stop()


def test_a_meeting_nobody_joins_ends_300s_after_creation(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    _ends_exactly_after(chime, meeting["MeetingId"], FIVE_MINUTES)
    assert chime.end_reason(meeting["MeetingId"]) == "no_audio_5min"
    with pytest.raises(chime_client.exceptions.NotFoundException, match="meeting has ended"):
        chime_client.get_meeting(MeetingId=meeting["MeetingId"])


def test_no_audio_counts_from_the_last_audio_disconnect(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    bob = add_attendee(chime_client, meeting["MeetingId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"])
    chime.advance(600)
    chime.leave(meeting["MeetingId"], bob["AttendeeId"])
    _ends_exactly_after(chime, meeting["MeetingId"], FIVE_MINUTES)
    assert chime.end_reason(meeting["MeetingId"]) == "no_audio_5min"


def test_video_without_audio_is_no_audio_connection(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    bob = add_attendee(chime_client, meeting["MeetingId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"], audio=False, video=True)
    _ends_exactly_after(chime, meeting["MeetingId"], FIVE_MINUTES)
    assert event_types(chime)[-2:] == ["AttendeeVideoStopped", "MeetingEnded"]


def test_a_lone_audio_connection_ends_after_30_minutes(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    bob = add_attendee(chime_client, meeting["MeetingId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"])
    _ends_exactly_after(chime, meeting["MeetingId"], THIRTY_MINUTES)
    assert chime.end_reason(meeting["MeetingId"]) == "single_attendee_30min"
    left, ended = chime.events[-2:]
    assert left["detail"]["eventType"] == "chime:AttendeeLeft"
    assert left["detail"]["timestamp"] == ended["detail"]["timestamp"]


def test_fewer_than_two_counts_from_when_the_second_left(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    alice = add_attendee(chime_client, meeting["MeetingId"], "alice")
    bob = add_attendee(chime_client, meeting["MeetingId"], "bob")
    chime.connect(meeting["MeetingId"], alice["AttendeeId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"])
    chime.advance(2 * THIRTY_MINUTES)
    chime.drop(meeting["MeetingId"], bob["AttendeeId"])
    _ends_exactly_after(chime, meeting["MeetingId"], THIRTY_MINUTES)
    assert chime.end_reason(meeting["MeetingId"]) == "single_attendee_30min"


def test_idle_screen_share_viewers_end_the_meeting_after_30_minutes(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    talkers = [add_attendee(chime_client, meeting_id, name) for name in ("alice", "bob")]
    viewer = add_attendee(chime_client, meeting_id, "viewer")
    for talker in talkers:
        chime.connect(meeting_id, talker["AttendeeId"])
    chime.connect(meeting_id, viewer["AttendeeId"], audio=False, viewing_content=True)
    _ends_exactly_after(chime, meeting_id, THIRTY_MINUTES)
    assert chime.end_reason(meeting_id) == "screen_share_idle_30min"


def test_an_active_content_share_keeps_viewers_from_being_idle(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    alice, bob, viewer = (add_attendee(chime_client, meeting_id, n) for n in ("al", "bo", "vi"))
    chime.connect(meeting_id, alice["AttendeeId"], content=True)
    chime.connect(meeting_id, bob["AttendeeId"])
    chime.connect(meeting_id, viewer["AttendeeId"], audio=False, viewing_content=True)
    chime.advance(3 * THIRTY_MINUTES)
    assert meeting_id in chime.open_meeting_ids()
    chime.connect(meeting_id, alice["AttendeeId"])  # the share stops: viewers idle from now
    _ends_exactly_after(chime, meeting_id, THIRTY_MINUTES)
    assert chime.end_reason(meeting_id) == "screen_share_idle_30min"


def test_a_busy_meeting_ends_after_24_hours(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    created = chime.now_ms()
    for name in ("alice", "bob"):
        chime.connect(meeting_id, add_attendee(chime_client, meeting_id, name)["AttendeeId"])
    chime.advance(DAY - 10)
    assert meeting_id in chime.open_meeting_ids()
    _ends_exactly_after(chime, meeting_id, 10)
    assert _ended_at(chime, meeting_id) == created + DAY * 1000 + 1
    assert chime.end_reason(meeting_id) == "chime_24h_limit"
    assert event_types(chime)[-3:] == ["AttendeeLeft", "AttendeeLeft", "MeetingEnded"]


def test_rules_firing_at_one_instant_take_the_documented_order(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    """One audio connection and one idle viewer from the same instant: rules 2 and 3 are due
    together; rule 2 names the end."""
    meeting_id = meeting["MeetingId"]
    talker = add_attendee(chime_client, meeting_id, "talker")
    viewer = add_attendee(chime_client, meeting_id, "viewer")
    chime.connect(meeting_id, talker["AttendeeId"])
    chime.connect(meeting_id, viewer["AttendeeId"], audio=False, viewing_content=True)
    _ends_exactly_after(chime, meeting_id, THIRTY_MINUTES)
    assert chime.end_reason(meeting_id) == "single_attendee_30min"


def test_the_30_minute_rules_can_be_switched_off(
    emulator_with: Callable[..., tuple[ChimeEmulator, Any]],
) -> None:
    chime, client = emulator_with(rule_single_attendee=False, rule_screen_share_idle=False)
    meeting = create_meeting(client)
    meeting_id = meeting["MeetingId"]
    talker = add_attendee(client, meeting_id, "talker")
    viewer = add_attendee(client, meeting_id, "viewer")
    chime.connect(meeting_id, talker["AttendeeId"])
    chime.connect(meeting_id, viewer["AttendeeId"], audio=False, viewing_content=True)
    chime.advance(DAY)
    assert meeting_id in chime.open_meeting_ids()
    chime.advance(ONE_MS)
    assert chime.end_reason(meeting_id) == "chime_24h_limit"
    assert _ended_at(chime, meeting_id) == DAY * 1000 + 1


def test_meetings_ending_in_one_advance_end_in_time_order(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    early = create_meeting(chime_client, ExternalMeetingId="early")
    chime.advance(60)
    late = create_meeting(chime_client, ExternalMeetingId="late")
    lone = add_attendee(chime_client, early["MeetingId"])
    chime.connect(early["MeetingId"], lone["AttendeeId"])
    chime.advance(2 * THIRTY_MINUTES)
    ended = [
        (e["detail"]["meetingId"], e["detail"]["timestamp"])
        for e in chime.events
        if e["detail"]["eventType"] == "chime:MeetingEnded"
    ]
    assert [meeting_id for meeting_id, _ in ended] == [late["MeetingId"], early["MeetingId"]]
    assert ended[0][1] < ended[1][1]
    assert chime.open_meeting_ids() == set()


def test_a_replica_ends_with_its_primary(chime_client: Any, chime: ChimeEmulator) -> None:
    primary = create_meeting(chime_client)
    replica = create_meeting(chime_client, PrimaryMeetingId=primary["MeetingId"])
    assert replica["PrimaryMeetingId"] == primary["MeetingId"]
    chime_client.delete_meeting(MeetingId=primary["MeetingId"])
    assert chime.open_meeting_ids() == set()
    assert chime.end_reason(replica["MeetingId"]) == "primary_ended"


def test_the_clock_only_moves_forward(chime: ChimeEmulator) -> None:
    with pytest.raises(ValueError, match="forward"):
        chime.advance(-1)
    with pytest.raises(KeyError):
        chime.end_reason("00000000-0000-0000-0000-000000000000")


def test_a_clock_following_real_time_still_advances(
    emulator_with: Callable[..., tuple[ChimeEmulator, Any]],
) -> None:
    chime, client = emulator_with(follow_wall_clock=True)
    meeting = create_meeting(client)
    chime.advance(FIVE_MINUTES + 1)
    chime.tick()
    assert chime.open_meeting_ids() == set()
    assert chime.end_reason(meeting["MeetingId"]) == "no_audio_5min"


class _TickingClock:
    """A clock that moves one millisecond on every reading, as a real-time one may between
    two readings of one request."""

    def __init__(self) -> None:
        self.at = 1_796_000_000_000

    def now_ms(self) -> int:
        self.at += 1
        return self.at

    def advance_ms(self, milliseconds: int) -> None:
        self.at += milliseconds


def test_the_no_audio_stretch_starts_at_the_creation_instant_on_a_moving_clock() -> None:
    chime = ChimeEmulator(clock=_TickingClock())
    created = chime.call(
        "CreateMeeting",
        {"ClientRequestToken": "tick-1", "MediaRegion": "us-east-1", "ExternalMeetingId": "tick"},
    )["Meeting"]["MeetingId"]
    started = chime.truth(created).created_ms
    chime.advance(FIVE_MINUTES + 1)
    truth = chime.truth(created)
    assert truth.end_reason == "no_audio_5min"
    assert truth.ended_ms == started + FIVE_MINUTES * 1000 + 1
