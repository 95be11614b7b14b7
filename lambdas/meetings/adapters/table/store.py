"""The request path's store: the meeting and attendee repositories and the read queries over
one table and client (service/ports.py `MeetingStore`)."""

from __future__ import annotations

from meetings.adapters.table.attendees import AttendeeWrites
from meetings.adapters.table.ending import MeetingEnds
from meetings.adapters.table.meetings import MeetingWrites
from meetings.adapters.table.queries import MeetingReads


class MeetingTable(MeetingWrites, MeetingEnds, AttendeeWrites, MeetingReads):
    """Reads and conditional writes of meetings, attendees, user pointers and rooms."""
