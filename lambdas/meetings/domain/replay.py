"""What an activity log says: each attendee's presence, video and content share, the meeting's
connected count, peak and start, and the audio timeline the end-reason inference reads — one
fold (domain/presence.py) over the log up to an end instant."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from meetings.domain.presence import (
    AUDIO_KINDS,
    EntryKind,
    Fold,
    LogEntry,
    LogLike,
    RefState,
    as_log,
    attendee_ref,
    entries_until,
)
from meetings.domain.records import Presence


@dataclass(frozen=True, slots=True)
class AttendeeActivity:
    presence: Presence | None  # None: no presence event seen (the stored one stands)
    joinedAt: int | None = None  # noqa: N815 - the current (or last) connection's start
    leftAt: int | None = None  # noqa: N815 - when that connection ended; None while connected
    video: bool = False
    contentShare: bool = False  # noqa: N815


@dataclass(frozen=True, slots=True)
class MeetingActivity:
    startedAt: int | None  # noqa: N815 - the first audio join
    connected: int
    peakConnected: int  # noqa: N815
    contentShareActive: bool  # noqa: N815
    chimeCreatedAt: int | None  # noqa: N815 - chime:MeetingStarted's timestamp, if seen


class Replay:
    """What a log says, up to an end instant (None: the meeting is open)."""

    def __init__(self, log: LogLike, ended_at: int | None) -> None:
        activity = as_log(log)
        self.ended_at = ended_at
        self.checkpoint = activity.checkpoint
        self._fold = Fold(activity.checkpoint)
        for entry in entries_until(activity.entries, ended_at):
            self._fold.apply(entry)

    @property
    def exact(self) -> bool:
        """False when the log evidently lacks an entry (a Left or Dropped whose AttendeeJoined
        never arrived), the folded past is known to lack one, or it holds entries after the end
        (the end came more than a millisecond before the horizon): then only what the entries
        after the horizon say is certain, and every end-reason answer depends on the rest."""
        if self._fold.lost_join:
            return False  # the audio timeline misses a connection whose join was lost
        checkpoint = self.checkpoint
        if checkpoint is None:
            return True
        if checkpoint.incomplete:
            return False
        return self.ended_at is None or self.ended_at + 1 >= checkpoint.horizon

    def attendee(self, attendee_id: str) -> AttendeeActivity:
        state = self._fold.refs.get(attendee_ref(attendee_id), RefState())
        presence, left_at = state.presence, state.left_at
        if self.ended_at is not None and presence is Presence.CONNECTED:
            presence, left_at = Presence.LEFT, self.ended_at
        return AttendeeActivity(
            presence=presence,
            joinedAt=state.joined_at,
            leftAt=left_at,
            # Video belongs to the current connection: a camera left on before a rejoin is off.
            video=presence is Presence.CONNECTED and state.video,
            contentShare=state.content and self.ended_at is None,
        )

    def meeting(self) -> MeetingActivity:
        fold = self._fold
        return MeetingActivity(
            startedAt=fold.started_at,
            connected=0 if self.ended_at is not None else fold.count,
            peakConnected=fold.peak,
            contentShareActive=self.ended_at is None
            and any(state.content for state in fold.refs.values()),
            chimeCreatedAt=fold.created_at,
        )

    # The end-reason inference's view (domain/end_reason.py).
    @property
    def audio_count(self) -> int:
        """Audio connections at the end of the log: people and capture pipelines."""
        return self._fold.audio

    def last_drop_below(self, bound: int) -> int | None:
        """The last instant the audio count (people and captures) fell from at least `bound`
        to below it (1 or 2)."""
        return self._fold.below[bound]

    @property
    def created_at(self) -> int | None:
        return self._fold.created_at

    @property
    def earliest(self) -> int | None:
        return self._fold.earliest

    @property
    def latest(self) -> int | None:
        return self._fold.latest


def attendee_activity(log: LogLike, attendee_id: str, ended_at: int | None) -> AttendeeActivity:
    return Replay(log, ended_at).attendee(attendee_id)


def meeting_activity(log: LogLike, ended_at: int | None) -> MeetingActivity:
    return Replay(log, ended_at).meeting()


def audio_steps(entries: Iterable[LogEntry], ended_at: int | None) -> list[tuple[int, int]]:
    """(instant, audio connections from then on) at every change of the count, in order
    (of a plain set of entries)."""
    connected: set[str] = set()
    steps: list[tuple[int, int]] = []
    for entry in entries_until((e for e in entries if e.kind in AUDIO_KINDS), ended_at):
        before = len(connected)
        if entry.kind in (EntryKind.JOINED, EntryKind.CAPTURE_ON):
            connected.add(entry.ref)
        else:
            connected.discard(entry.ref)
        if len(connected) != before:
            steps.append((entry.timestamp, len(connected)))
    return steps
