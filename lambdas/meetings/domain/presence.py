"""A meeting's activity log, and everything the backend derives from it.

Chime's events arrive late, twice or out of order. Instead of applying each one as a change
to the current state (where the order of arrival would matter), the backend keeps the set of
state-relevant events it has seen as compact entries on the meeting item — a grow-only set,
so adding an entry is idempotent and commutative — and derives presence, video, content
share, the connected count, the peak and the start from that set alone. The same set of
entries therefore gives the same state whatever order they arrived in.

Entries sort by (timestamp, rank): at equal timestamps a disconnect ranks after a join, so
ties break the same way every time and never leave a ghost connection.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from meetings.domain.chime_events import ChimeEvent, ChimeEventType
from meetings.domain.records import Presence

TIMESTAMP_DIGITS: Final = 13  # epoch ms, zero-padded so an entry is fixed-width up front


class EntryKind(StrEnum):
    MEETING_STARTED = "S"  # Chime created the meeting: the start of the auto-end clocks
    JOINED = "J"  # audio connected
    VIDEO_ON = "V"
    VIDEO_OFF = "v"
    CONTENT_ON = "C"  # this attendee shares content
    CONTENT_OFF = "c"
    LEFT = "L"
    DROPPED = "D"
    DELETED = "X"


_RANK: Final = {kind: rank for rank, kind in enumerate(EntryKind)}
AUDIO_KINDS: Final = frozenset(
    {EntryKind.JOINED, EntryKind.LEFT, EntryKind.DROPPED, EntryKind.DELETED}
)
_DISCONNECTED: Final = {
    EntryKind.LEFT: Presence.LEFT,
    EntryKind.DROPPED: Presence.DROPPED,
    EntryKind.DELETED: Presence.LEFT,
}


def attendee_ref(attendee_id: str) -> str:
    """A short, stable stand-in for an attendee id (keeps the log small on the item).

    48 bits: a collision among the at most 250 attendees of one meeting is about 1 in 10^10.
    """
    digest = hashlib.blake2b(attendee_id.encode(), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest).decode()


@dataclass(frozen=True, slots=True, order=True)
class LogEntry:
    timestamp: int
    rank: int
    ref: str  # attendee_ref of the attendee it concerns ("" for meeting entries)

    @property
    def kind(self) -> EntryKind:
        return list(EntryKind)[self.rank]

    def encode(self) -> str:
        return f"{self.timestamp:0{TIMESTAMP_DIGITS}d}{self.kind.value}{self.ref}"

    @classmethod
    def of(cls, timestamp: int, kind: EntryKind, ref: str = "") -> LogEntry:
        return cls(timestamp, _RANK[kind], ref)

    @classmethod
    def decode(cls, text: str) -> LogEntry:
        timestamp = int(text[:TIMESTAMP_DIGITS])
        kind = EntryKind(text[TIMESTAMP_DIGITS])
        return cls.of(timestamp, kind, text[TIMESTAMP_DIGITS + 1 :])


_ATTENDEE_KINDS: Final = {
    ChimeEventType.ATTENDEE_JOINED: EntryKind.JOINED,
    ChimeEventType.ATTENDEE_LEFT: EntryKind.LEFT,
    ChimeEventType.ATTENDEE_DROPPED: EntryKind.DROPPED,
    ChimeEventType.ATTENDEE_DELETED: EntryKind.DELETED,
    ChimeEventType.VIDEO_STARTED: EntryKind.VIDEO_ON,
    ChimeEventType.VIDEO_STOPPED: EntryKind.VIDEO_OFF,
}
# For the content-share attendee, its own presence is its sharer's content share.
_CONTENT_KINDS: Final = {
    ChimeEventType.ATTENDEE_JOINED: EntryKind.CONTENT_ON,
    ChimeEventType.CONTENT_JOINED: EntryKind.CONTENT_ON,
    ChimeEventType.ATTENDEE_LEFT: EntryKind.CONTENT_OFF,
    ChimeEventType.ATTENDEE_DROPPED: EntryKind.CONTENT_OFF,
    ChimeEventType.ATTENDEE_DELETED: EntryKind.CONTENT_OFF,
    ChimeEventType.CONTENT_LEFT: EntryKind.CONTENT_OFF,
    ChimeEventType.CONTENT_DROPPED: EntryKind.CONTENT_OFF,
}
# Content events name the sharer (or its content attendee): never the sharer's own audio.
_CONTENT_ONLY: Final = frozenset(
    {ChimeEventType.CONTENT_JOINED, ChimeEventType.CONTENT_LEFT, ChimeEventType.CONTENT_DROPPED}
)


def subject_of(event: ChimeEvent) -> str | None:
    """The attendee whose state the event changes: the sharer for content-share events."""
    return event.sharer_attendee_id or event.attendee_id


def entry_for(event: ChimeEvent) -> LogEntry | None:
    """The log entry an event contributes, or None when it changes nothing we derive."""
    if event.event_type is ChimeEventType.MEETING_STARTED:
        return LogEntry.of(event.timestamp, EntryKind.MEETING_STARTED)
    subject = subject_of(event)
    if subject is None:
        return None
    content_event = event.is_content_share or event.event_type in _CONTENT_ONLY
    kinds = _CONTENT_KINDS if content_event else _ATTENDEE_KINDS
    kind = kinds.get(event.event_type)
    if kind is None:
        return None
    return LogEntry.of(event.timestamp, kind, attendee_ref(subject))


def decode_log(encoded: Iterable[str]) -> frozenset[LogEntry]:
    return frozenset(LogEntry.decode(text) for text in encoded)


def _until(entries: Iterable[LogEntry], ended_at: int | None) -> list[LogEntry]:
    """Entries in order; none after the end (nothing happens in a meeting after it ended)."""
    return sorted(e for e in entries if ended_at is None or e.timestamp <= ended_at)


@dataclass(frozen=True, slots=True)
class AttendeeActivity:
    presence: Presence | None  # None: no presence event seen (the stored one stands)
    joinedAt: int | None = None  # noqa: N815 - the current (or last) connection's start
    leftAt: int | None = None  # noqa: N815 - when that connection ended; None while connected
    video: bool = False
    contentShare: bool = False  # noqa: N815


def attendee_activity(
    entries: Iterable[LogEntry], attendee_id: str, ended_at: int | None
) -> AttendeeActivity:
    ref = attendee_ref(attendee_id)
    presence: Presence | None = None
    joined_at: int | None = None
    left_at: int | None = None
    last_join: LogEntry | None = None
    last_video: LogEntry | None = None
    sharing = False
    for entry in _until((e for e in entries if e.ref == ref), ended_at):
        kind = entry.kind
        if kind is EntryKind.JOINED:
            presence, joined_at, left_at, last_join = (
                Presence.CONNECTED,
                entry.timestamp,
                None,
                entry,
            )
        elif kind in _DISCONNECTED:
            presence, left_at = _DISCONNECTED[kind], entry.timestamp
        elif kind in (EntryKind.VIDEO_ON, EntryKind.VIDEO_OFF):
            last_video = entry
        elif kind in (EntryKind.CONTENT_ON, EntryKind.CONTENT_OFF):
            sharing = kind is EntryKind.CONTENT_ON
    if ended_at is not None and presence is Presence.CONNECTED:
        presence, left_at = Presence.LEFT, ended_at
    # Video belongs to the current connection: a camera left on before a rejoin is off.
    video = (
        presence is Presence.CONNECTED
        and last_video is not None
        and last_video.kind is EntryKind.VIDEO_ON
        and last_join is not None
        and last_video > last_join
    )
    return AttendeeActivity(
        presence=presence,
        joinedAt=joined_at,
        leftAt=left_at,
        video=video,
        contentShare=sharing and ended_at is None,
    )


def audio_steps(entries: Iterable[LogEntry], ended_at: int | None) -> list[tuple[int, int]]:
    """(instant, audio connections from then on) at every change of the count, in order."""
    connected: set[str] = set()
    steps: list[tuple[int, int]] = []
    for entry in _until((e for e in entries if e.kind in AUDIO_KINDS), ended_at):
        before = len(connected)
        if entry.kind is EntryKind.JOINED:
            connected.add(entry.ref)
        else:
            connected.discard(entry.ref)
        if len(connected) != before:
            steps.append((entry.timestamp, len(connected)))
    return steps


@dataclass(frozen=True, slots=True)
class MeetingActivity:
    startedAt: int | None  # noqa: N815 - the first audio join
    connected: int
    peakConnected: int  # noqa: N815
    contentShareActive: bool  # noqa: N815
    chimeCreatedAt: int | None  # noqa: N815 - chime:MeetingStarted's timestamp, if seen


def meeting_activity(entries: Iterable[LogEntry], ended_at: int | None) -> MeetingActivity:
    ordered = _until(entries, ended_at)
    steps = audio_steps(ordered, ended_at)
    joins = [e.timestamp for e in ordered if e.kind is EntryKind.JOINED]
    created = [e.timestamp for e in ordered if e.kind is EntryKind.MEETING_STARTED]
    sharing: dict[str, bool] = {}
    for entry in ordered:
        if entry.kind in (EntryKind.CONTENT_ON, EntryKind.CONTENT_OFF):
            sharing[entry.ref] = entry.kind is EntryKind.CONTENT_ON
    return MeetingActivity(
        startedAt=min(joins, default=None),
        connected=0 if ended_at is not None or not steps else steps[-1][1],
        peakConnected=max((count for _, count in steps), default=0),
        contentShareActive=ended_at is None and any(sharing.values()),
        chimeCreatedAt=min(created, default=None),
    )
