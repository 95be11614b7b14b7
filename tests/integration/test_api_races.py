"""Concurrent requests on one container's service: rooms and joins stay single, nothing orphaned.

moto's requests are serialized (conftest's `atomic_moto`); the code under test still runs fully
concurrently.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from meetings.domain.identity import Identity
from meetings.handlers.api import meeting_service
from meetings.service.meetings import NewMeeting


def identity(user_id: str) -> Identity:
    return Identity(user_id=user_id, groups=frozenset(), is_admin=False)


def test_concurrent_creators_of_one_room_share_one_meeting(backend: Any, chime: Any) -> None:
    service = meeting_service()
    users = [f"user-{number}" for number in range(6)]
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        outcomes = list(
            pool.map(
                lambda user: service.create_meeting(
                    identity(user), NewMeeting(externalMeetingId="race-room", join=True), None
                ),
                users,
            )
        )
    meeting_ids = {outcome.body["meeting"]["meetingId"] for outcome in outcomes}
    assert len(meeting_ids) == 1
    assert sum(outcome.created for outcome in outcomes) == 1
    assert chime.open_meeting_ids() == meeting_ids
    attendees = {outcome.body["joinInfo"]["Attendee"]["AttendeeId"] for outcome in outcomes}
    assert len(attendees) == len(users)
    (meeting_id,) = meeting_ids
    roster = service.roster(identity("user-0"), meeting_id, limit=100, next_token=None)
    assert sorted(attendee["userId"] for attendee in roster["attendees"]) == users


def test_concurrent_joins_of_one_user_give_one_attendee(backend: Any, chime_client: Any) -> None:
    service = meeting_service()
    host = identity("host")
    meeting_id = service.create_meeting(host, NewMeeting(), None).body["meeting"]["meetingId"]
    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(pool.map(lambda _: service.join(identity("bob"), meeting_id), range(5)))
    assert len({outcome.body["Attendee"]["AttendeeId"] for outcome in outcomes}) == 1
    assert sum(outcome.created for outcome in outcomes) >= 1
    meeting = service.get_meeting(host, meeting_id)["meeting"]
    assert meeting["attendees"]["total"] == 1
    assert len(chime_client.list_attendees(MeetingId=meeting_id)["Attendees"]) == 1
