"""The storage form of an activity log's checkpoint (domain/presence.py): one string on the
activity item, about 40 bytes an attendee, so a compacted log stays small.

`1|horizon|flags|created|started|earliest|latest|peak|below1|below2` then, per attendee ref,
`;ref,presence,joinedAt,leftAt,flags` (flags: v video, c content, p a capture pipeline). The
version leads, so a new form can be told apart.
"""

from __future__ import annotations

from typing import Final

from meetings.domain.presence import Checkpoint, RefState
from meetings.domain.records import Presence

_CHECKPOINT_VERSION: Final = "1"
_PRESENCE_CODES: Final = {Presence.CONNECTED: "C", Presence.LEFT: "L", Presence.DROPPED: "D"}
_PRESENCE_OF_CODE: Final = {code: presence for presence, code in _PRESENCE_CODES.items()}


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _optional(text: str) -> int | None:
    return int(text) if text else None


def encode_checkpoint(checkpoint: Checkpoint) -> str:
    """`1|horizon|flags|created|started|earliest|latest|peak|below1|below2` then, per
    attendee ref, `;ref,presence,joinedAt,leftAt,flags` (about 40 bytes an attendee). The head's
    flags: 1 = incomplete, 2 = a lost join among the folded entries."""
    head = "|".join(
        [
            _CHECKPOINT_VERSION,
            str(checkpoint.horizon),
            str(int(checkpoint.incomplete) | (2 if checkpoint.lost_join else 0)),
            _number(checkpoint.created_at),
            _number(checkpoint.started_at),
            _number(checkpoint.earliest),
            _number(checkpoint.latest),
            str(checkpoint.peak),
            _number(checkpoint.below_one_since),
            _number(checkpoint.below_two_since),
        ]
    )
    refs = [
        ",".join(
            [
                ref,
                "" if state.presence is None else _PRESENCE_CODES[state.presence],
                _number(state.joined_at),
                _number(state.left_at),
                ("v" if state.video else "")
                + ("c" if state.content else "")
                + ("p" if state.capture else ""),
            ]
        )
        for ref, state in sorted(checkpoint.refs.items())
    ]
    return ";".join([head, *refs])


def decode_checkpoint(text: str) -> Checkpoint:
    head, *refs = text.split(";")
    version, horizon, incomplete, created, started, earliest, latest, peak, below1, below2 = (
        head.split("|")
    )
    if version != _CHECKPOINT_VERSION:
        raise ValueError(f"unknown checkpoint version {version!r}")
    states = {}
    for item in refs:
        ref, presence, joined, left, flags = item.split(",")
        states[ref] = RefState(
            presence=_PRESENCE_OF_CODE[presence] if presence else None,
            joined_at=_optional(joined),
            left_at=_optional(left),
            video="v" in flags,
            content="c" in flags,
            capture="p" in flags,
        )
    return Checkpoint(
        horizon=int(horizon),
        refs=states,
        created_at=_optional(created),
        started_at=_optional(started),
        earliest=_optional(earliest),
        latest=_optional(latest),
        peak=int(peak),
        below_one_since=_optional(below1),
        below_two_since=_optional(below2),
        incomplete=bool(int(incomplete) & 1),
        lost_join=bool(int(incomplete) & 2),
    )
