"""A meeting's activity log, and everything the backend derives from it.

Chime's events arrive late, twice or out of order. Instead of applying each one as a change
to the current state (where the order of arrival would matter), the backend keeps the set of
state-relevant events it has seen as compact entries — a grow-only set, so adding an entry is
idempotent and commutative — and derives presence, video, content share, the connected count,
the peak and the start from that set alone. The same set of entries therefore gives the same
state whatever order they arrived in.

A running capture pipeline is an audio connection to Chime's auto-end rules (it counts as an
attendee): its `MediaPipelineInProgress` and its `MediaPipelineDeleted` or
`MediaPipelinePermanentFailure` are entries too (CAPTURE_ON / CAPTURE_OFF, under a ref of
its own). They count in the audio timeline the end-reason inference reads, never in the
meeting's `connected` or peak, which count people.

Entries sort by (timestamp, rank): at equal timestamps a disconnect ranks after a join, so
ties break the same way every time and never leave a ghost connection.

Every derivation is one fold over the entries in that order (`Fold`). So that the log stays
bounded, entries older than HORIZON_MS before the newest one are folded into a `Checkpoint`
(the fold's state at the horizon) once the log is long (`ActivityLog.compacted`); deriving
from the checkpoint plus the remaining entries gives exactly what the whole set gives. An
entry that arrives with a timestamp before the horizon can no longer be merged: it marks the
checkpoint incomplete (unless it is provably a duplicate) and is ignored.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from meetings.domain.chime_events import ChimeEvent, ChimeEventType
from meetings.domain.recording import PipelineEvent, PipelineEventType
from meetings.domain.records import Presence

TIMESTAMP_DIGITS: Final = 13  # epoch ms, zero-padded so an entry is fixed-width up front


class EntryKind(StrEnum):
    MEETING_STARTED = "S"  # Chime created the meeting: the start of the auto-end clocks
    JOINED = "J"  # audio connected
    CAPTURE_ON = "P"  # a capture pipeline joined (before a disconnect at the same instant)
    VIDEO_ON = "V"
    VIDEO_OFF = "v"
    CONTENT_ON = "C"  # this attendee shares content
    CONTENT_OFF = "c"
    LEFT = "L"
    DROPPED = "D"
    DELETED = "X"
    CAPTURE_OFF = "p"  # the capture pipeline left (after people leaving at the same instant)


_RANK: Final = {kind: rank for rank, kind in enumerate(EntryKind)}
_KIND_OF_RANK: Final = tuple(EntryKind)
_CONNECTS: Final = frozenset({EntryKind.JOINED, EntryKind.CAPTURE_ON})
AUDIO_KINDS: Final = frozenset(
    {
        EntryKind.JOINED,
        EntryKind.LEFT,
        EntryKind.DROPPED,
        EntryKind.DELETED,
        EntryKind.CAPTURE_ON,
        EntryKind.CAPTURE_OFF,
    }
)
_DISCONNECTED: Final = {
    EntryKind.LEFT: Presence.LEFT,
    EntryKind.DROPPED: Presence.DROPPED,
    EntryKind.DELETED: Presence.LEFT,
    EntryKind.CAPTURE_OFF: Presence.LEFT,
}
# Disconnects that only ever follow a join of the same attendee (or pipeline).
_ENDS_A_CONNECTION: Final = frozenset({EntryKind.LEFT, EntryKind.DROPPED, EntryKind.CAPTURE_OFF})
_CAPTURE_KINDS: Final = {
    PipelineEventType.IN_PROGRESS: EntryKind.CAPTURE_ON,
    PipelineEventType.DELETED: EntryKind.CAPTURE_OFF,
    PipelineEventType.PERMANENT_FAILURE: EntryKind.CAPTURE_OFF,
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
        return _KIND_OF_RANK[self.rank]

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


def capture_ref(pipeline_id: str) -> str:
    """The ref of a capture pipeline (its own namespace: never an attendee's)."""
    return attendee_ref(f"capture/{pipeline_id}")


def capture_entry(event: PipelineEvent) -> LogEntry | None:
    """The entry a capture pipeline's event contributes: it joins with InProgress and leaves
    with Deleted or PermanentFailure (a TemporaryFailure keeps it in the meeting; Resumed
    follows an InProgress). Only for events of a pipeline known to be a capture."""
    kind = _CAPTURE_KINDS.get(event.event_type)
    if kind is None:
        return None
    return LogEntry.of(event.timestamp, kind, capture_ref(event.pipeline_id))


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


def _order(entry: LogEntry) -> tuple[int, int, str]:
    return (entry.timestamp, entry.rank, entry.ref)  # the dataclass order, compared in C


def entries_until(entries: Iterable[LogEntry], ended_at: int | None) -> list[LogEntry]:
    """Entries in order; none after the end (nothing happens in a meeting after it ended)."""
    return sorted((e for e in entries if ended_at is None or e.timestamp <= ended_at), key=_order)


# --- the folded past: a checkpoint -------------------------------------------------------------

# Entries this long before the newest one are folded into the checkpoint. A record the events
# function fails is received again after the queue's visibility timeout (6 min) at most 4 more
# times before the dead-letter queue (infra/events.py, infra/queues.py): every delivery that
# can still succeed arrives within 24 min of the first, plus seconds of EventBridge delivery.
HORIZON_MS: Final = 1_800_000
# Compaction starts once the log holds this many entries, and only when it folds at least a
# quarter of them (so a busy half-hour is not rewritten on every batch)...
COMPACT_AT: Final = 512
# ...or when the log would exceed this many: then the newest MAX_ENTRIES // 2 stay, whatever
# their age (a burst of activity cannot make the item unbounded; a very late event may then
# find the log's past folded sooner than HORIZON_MS).
MAX_ENTRIES: Final = 2048


@dataclass(frozen=True, slots=True)
class RefState:
    """One attendee's state as its entries so far leave it (keyed by attendee ref)."""

    presence: Presence | None = None  # CONNECTED, LEFT, DROPPED; None: no audio entry yet
    joined_at: int | None = None  # the last JOINED
    left_at: int | None = None  # the last disconnect (None while connected)
    video: bool = False  # the latest of join / camera on / camera off was camera on
    content: bool = False  # the latest content entry was CONTENT_ON
    capture: bool = False  # the ref is a capture pipeline's


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Everything the derivations and the end-reason inference need from the entries before
    `horizon` (all of them strictly earlier than it).

    `incomplete`: an entry timestamped before the horizon arrived after it was folded and was
    not provably a duplicate; it was ignored, so the folded past is known to lack something.
    """

    horizon: int
    refs: Mapping[str, RefState] = field(default_factory=dict)
    created_at: int | None = None  # the earliest MEETING_STARTED
    started_at: int | None = None  # the earliest JOINED
    earliest: int | None = None  # the earliest entry of any kind
    latest: int | None = None  # the latest folded entry
    peak: int = 0  # the most simultaneous audio connections
    # The audio count: people and capture pipelines connected.
    below_one_since: int | None = None  # the last drop of the audio count from >= 1 to 0
    below_two_since: int | None = None  # the last drop from >= 2 to < 2
    incomplete: bool = False
    lost_join: bool = False  # the folded entries hold a Left/Dropped whose join was lost

    @property
    def connected(self) -> int:
        """People connected with audio."""
        return sum(
            1 for s in self.refs.values() if s.presence is Presence.CONNECTED and not s.capture
        )

    @property
    def captures(self) -> int:
        """Capture pipelines connected."""
        return sum(1 for s in self.refs.values() if s.presence is Presence.CONNECTED and s.capture)


class Fold:
    """The derivations' state machine: entries applied in (timestamp, rank) order, from an
    empty log or from a checkpoint. Folding a prefix into a checkpoint and folding the rest
    onto it gives the state of folding everything: the checkpoint is this state, stored."""

    def __init__(self, checkpoint: Checkpoint | None) -> None:
        self.refs: dict[str, RefState] = dict(checkpoint.refs) if checkpoint else {}
        self.created_at = checkpoint.created_at if checkpoint else None
        self.started_at = checkpoint.started_at if checkpoint else None
        self.earliest = checkpoint.earliest if checkpoint else None
        self.latest = checkpoint.latest if checkpoint else None
        self.peak = checkpoint.peak if checkpoint else 0
        self.below = {
            1: checkpoint.below_one_since if checkpoint else None,
            2: checkpoint.below_two_since if checkpoint else None,
        }
        self.count = checkpoint.connected if checkpoint else 0  # people
        self.captures = checkpoint.captures if checkpoint else 0
        # A Left or Dropped of a connection the log never saw start: its AttendeeJoined was
        # lost, so the audio timeline misses a stretch (AttendeeDeleted may follow no join).
        self.lost_join = checkpoint.lost_join if checkpoint else False

    def apply(self, entry: LogEntry) -> None:
        at = entry.timestamp
        self.earliest = at if self.earliest is None else min(self.earliest, at)
        self.latest = at if self.latest is None else max(self.latest, at)
        kind = entry.kind
        if kind is EntryKind.MEETING_STARTED:
            self.created_at = at if self.created_at is None else min(self.created_at, at)
            return
        state = self.refs.get(entry.ref, RefState())
        was_connected = state.presence is Presence.CONNECTED
        was_capture = state.capture
        if kind in _CONNECTS:
            capture = kind is EntryKind.CAPTURE_ON
            state = RefState(Presence.CONNECTED, at, None, False, state.content, capture)
            if not capture:
                self.started_at = at if self.started_at is None else min(self.started_at, at)
        elif kind in _DISCONNECTED:
            if kind in _ENDS_A_CONNECTION and not was_connected:
                self.lost_join = True
            # A disconnect leaves the ref what its connection was (a capture's, or a person's).
            capture = state.capture if was_connected else kind is EntryKind.CAPTURE_OFF
            state = replace(state, presence=_DISCONNECTED[kind], left_at=at, capture=capture)
        elif kind in (EntryKind.VIDEO_ON, EntryKind.VIDEO_OFF):
            state = replace(state, video=kind is EntryKind.VIDEO_ON)
        else:
            state = replace(state, content=kind is EntryKind.CONTENT_ON)
        self.refs[entry.ref] = state
        connected = state.presence is Presence.CONNECTED
        if connected != was_connected:
            before = self.audio
            # A connection counts where it started (a ref is a person's or a capture's).
            if state.capture if connected else was_capture:
                self.captures += 1 if connected else -1
            else:
                self.count += 1 if connected else -1
                self.peak = max(self.peak, self.count)
            for bound in self.below:
                if before >= bound > self.audio:
                    self.below[bound] = at

    @property
    def audio(self) -> int:
        """Audio connections as Chime's auto-end rules count them: people and captures."""
        return self.count + self.captures

    def checkpoint(self, horizon: int, *, incomplete: bool) -> Checkpoint:
        return Checkpoint(
            horizon=horizon,
            refs=dict(self.refs),
            created_at=self.created_at,
            started_at=self.started_at,
            earliest=self.earliest,
            latest=self.latest,
            peak=self.peak,
            below_one_since=self.below[1],
            below_two_since=self.below[2],
            incomplete=incomplete,
            lost_join=self.lost_join,
        )


# --- the log: a checkpoint and the entries after it ---------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityLog:
    """A meeting's activity: the folded past (if any) and the entries at or after its horizon.

    Without a checkpoint this is the plain grow-only set of entries. With one, an entry before
    the horizon can no longer be merged: `with_entries` drops it when the checkpoint proves it
    changes nothing (a redelivered duplicate of the last join or disconnect, or of
    MeetingStarted), and otherwise marks the checkpoint incomplete and ignores it.
    """

    entries: frozenset[LogEntry] = frozenset()
    checkpoint: Checkpoint | None = None

    @property
    def horizon(self) -> int | None:
        return None if self.checkpoint is None else self.checkpoint.horizon

    @property
    def incomplete(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.incomplete

    def with_entries(self, new: Iterable[LogEntry]) -> ActivityLog:
        checkpoint = self.checkpoint
        if checkpoint is None:
            return ActivityLog(self.entries | frozenset(new))
        kept, lost = set(self.entries), False
        for entry in new:
            if entry.timestamp >= checkpoint.horizon:
                kept.add(entry)
            elif not _folded_already(checkpoint, entry):
                lost = True
        if lost and not checkpoint.incomplete:
            checkpoint = replace(checkpoint, incomplete=True)
        return ActivityLog(frozenset(kept), checkpoint)

    def compacted(self, ended_at: int | None) -> ActivityLog:
        """The same log with its old entries folded into the checkpoint, when it is long.

        Every derivation at an end instant E with E + 1 >= the horizon (or of an open meeting)
        gives exactly what the uncompacted log gives. Of an ended meeting, entries after its end
        (which no derivation reads) are dropped and the horizon never passes E + 1."""
        if len(self.entries) <= COMPACT_AT:
            return self
        entries = self.entries
        if ended_at is not None:
            entries = frozenset(e for e in entries if e.timestamp <= ended_at)
        stamps = sorted(e.timestamp for e in entries)
        horizon = (stamps[-1] if stamps else 0) - HORIZON_MS
        if len(stamps) > MAX_ENTRIES:
            horizon = max(horizon, stamps[-(MAX_ENTRIES // 2)] + 1)
        if ended_at is not None:
            horizon = min(horizon, ended_at + 1)
        if self.checkpoint is not None:
            horizon = max(horizon, self.checkpoint.horizon)
        folded = bisect.bisect_left(stamps, horizon)
        if folded < COMPACT_AT // 4 and len(stamps) <= MAX_ENTRIES:
            return self if entries == self.entries else ActivityLog(entries, self.checkpoint)
        return ActivityLog(entries, self.checkpoint).folded_before(horizon)

    def folded_before(self, horizon: int) -> ActivityLog:
        """The entries before `horizon` folded into the checkpoint (which moves to `horizon`;
        a horizon before the checkpoint's changes nothing)."""
        if self.checkpoint is not None and horizon <= self.checkpoint.horizon:
            return self
        ordered = sorted(self.entries, key=_order)
        folded = [e for e in ordered if e.timestamp < horizon]
        fold = Fold(self.checkpoint)
        for entry in folded:
            fold.apply(entry)
        checkpoint = fold.checkpoint(horizon, incomplete=self.incomplete)
        return ActivityLog(frozenset(ordered[len(folded) :]), checkpoint)


def _folded_already(checkpoint: Checkpoint, entry: LogEntry) -> bool:
    """Whether folding `entry` into the checkpoint's past would change nothing: it is
    MeetingStarted at the known instant, or the attendee's last join or disconnect again."""
    kind = entry.kind
    if kind is EntryKind.MEETING_STARTED:
        return checkpoint.created_at == entry.timestamp
    state = checkpoint.refs.get(entry.ref)
    if state is None:
        return False
    if kind in _CONNECTS:
        return state.joined_at == entry.timestamp
    # A disconnect at the instant of the last one, leaving the same presence: either the same
    # entry, or one that sorts before it at that instant (the last disconnect still decides).
    return (
        kind in _DISCONNECTED
        and state.left_at == entry.timestamp
        and state.presence is _DISCONNECTED[kind]
    )


LogLike = ActivityLog | Iterable[LogEntry]


def as_log(log: LogLike) -> ActivityLog:
    return log if isinstance(log, ActivityLog) else ActivityLog(frozenset(log))
