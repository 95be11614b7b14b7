"""The single table's item layout: every key the code writes is built here.

- meeting: `MEETING#<meetingId>` / `MEETING`. The record; in `byHost` always, in
  `openByCreated` and `openByDeadline` while open.
- attendee: `MEETING#<meetingId>` / `ATTENDEE#<attendeeId>`. Presence and capabilities; in
  `rosterByAdded`.
- activity: `MEETING#<meetingId>` / `ACTIVITY`. The meeting's activity log (checkpoint and
  recent entries, domain/presence.py) and its version; written by the events function only.
  No index attribute, so no index copies it; the meeting item stays small.
- user pointer: `MEETING#<meetingId>` / `USER#<userId>`. The user's current attendee, and
  whether the host barred the user.
- room: `ROOM#<casefolded name>` / `ROOM`. The open meeting holding a room name, and the
  name's generation.
- open-meeting count: `HOST#<userId>` / `OPEN_MEETINGS`. How many open meetings the user hosts
  (`openMeetings`); the create transaction raises it only below the per-user cap.
- idempotency: `IDEMPOTENCY#...` / Powertools' key, written by Powertools' persistence layer.

A meeting's activity, attendee and user items share its partition, so one Query reads a roster.
"""

from __future__ import annotations

from typing import Final

MEETING_SK: Final = "MEETING"
ACTIVITY_SK: Final = "ACTIVITY"
ROOM_SK: Final = "ROOM"
ATTENDEE_SK_PREFIX: Final = "ATTENDEE#"
USER_SK_PREFIX: Final = "USER#"
OPEN_PARTITION: Final = "OPEN"
OPEN_MEETINGS_SK: Final = "OPEN_MEETINGS"


def meeting_pk(meeting_id: str) -> str:
    return f"MEETING#{meeting_id}"


def attendee_sk(attendee_id: str) -> str:
    return f"{ATTENDEE_SK_PREFIX}{attendee_id}"


def user_sk(user_id: str) -> str:
    return f"{USER_SK_PREFIX}{user_id}"


def room_pk(room_name: str) -> str:
    """Room names are case-insensitive (Chime documents ExternalMeetingId so)."""
    return f"ROOM#{room_name.casefold()}"


def host_pk(user_id: str) -> str:
    return f"HOST#{user_id}"
