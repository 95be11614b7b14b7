"""Concurrent requests on one container's service: rooms and joins stay single, nothing orphaned.

moto's requests are serialized (conftest's `atomic_moto`); the code under test still runs fully
concurrently.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from meetings import wiring
from meetings.domain.identity import Identity
from meetings.service.creating import NewMeeting


def identity(user_id: str) -> Identity:
    return Identity(user_id=user_id, groups=frozenset(), is_admin=False)


def test_concurrent_creators_of_one_room_share_one_meeting(backend: Any, chime: Any) -> None:
    service = wiring.container()
    users = [f"user-{number}" for number in range(6)]
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        outcomes = list(
            pool.map(
                lambda user: service.creating.create_meeting(
                    identity(user), NewMeeting(externalMeetingId="race-room", join=True), None
                ),
                users,
            )
        )
    meeting_ids = {outcome.meeting.meetingId for outcome in outcomes}
    assert len(meeting_ids) == 1
    assert sum(outcome.created for outcome in outcomes) == 1
    assert chime.open_meeting_ids() == meeting_ids
    attendees = {
        outcome.joined.chime_attendee["AttendeeId"] for outcome in outcomes if outcome.joined
    }
    assert len(attendees) == len(users)
    (meeting_id,) = meeting_ids
    roster = service.queries.roster(identity("user-0"), meeting_id, limit=100, next_token=None)
    assert sorted(attendee.userId for attendee in roster.records) == users


def test_concurrent_joins_of_one_user_give_one_attendee(backend: Any, chime_client: Any) -> None:
    service = wiring.container()
    host = identity("host")
    meeting_id = service.creating.create_meeting(host, NewMeeting(), None).meeting.meetingId
    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(
            pool.map(lambda _: service.attending.join(identity("bob"), meeting_id), range(5))
        )
    assert len({outcome.chime_attendee["AttendeeId"] for outcome in outcomes}) == 1
    assert sum(outcome.created for outcome in outcomes) >= 1
    meeting = service.queries.get_meeting(host, meeting_id)
    assert meeting.attendeeTotal == 1
    assert len(chime_client.list_attendees(MeetingId=meeting_id)["Attendees"]) == 1
