"""The four auto-end rules, read as docs/chime.md "The project's precise reading" says.

Each rule watches one condition; a rule fires at the first millisecond past its threshold
(condition held continuously for more than T), and that instant is the MeetingEnded
timestamp. When two fire at the same instant, the earlier rule in RULES wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from local.chime.state import Meeting

NO_AUDIO_5MIN: Final = "no_audio_5min"
SINGLE_ATTENDEE_30MIN: Final = "single_attendee_30min"
SCREEN_SHARE_IDLE_30MIN: Final = "screen_share_idle_30min"
CHIME_24H_LIMIT: Final = "chime_24h_limit"


@dataclass(frozen=True)
class Rule:
    reason: str
    threshold_ms: int


RULES: Final = (
    Rule(NO_AUDIO_5MIN, 300_000),
    Rule(SINGLE_ATTENDEE_30MIN, 1_800_000),
    Rule(SCREEN_SHARE_IDLE_30MIN, 1_800_000),
    Rule(CHIME_24H_LIMIT, 86_400_000),
)


def refresh_conditions(meeting: Meeting, now_ms: int) -> None:
    """Record since when each condition holds; call after every change of media state."""
    media = [attendee.media for attendee in meeting.connected() if attendee.media]
    audio = sum(1 for m in media if m.audio) + meeting.pipeline_connections
    viewers = sum(1 for m in media if m.viewing_content and not m.audio)
    sharing = any(m.content for m in media)
    meeting.no_audio_since = _since(meeting.no_audio_since, audio == 0, now_ms)
    meeting.below_two_audio_since = _since(meeting.below_two_audio_since, audio < 2, now_ms)
    idle = viewers > 0 and not sharing
    meeting.idle_viewers_since = _since(meeting.idle_viewers_since, idle, now_ms)


def _since(current: int | None, holds: bool, now_ms: int) -> int | None:
    if not holds:
        return None
    return now_ms if current is None else current


def next_auto_end(meeting: Meeting, enabled: frozenset[str]) -> tuple[int, str] | None:
    """The instant and reason of the rule that will end this meeting first, if nothing changes."""
    starts = {
        NO_AUDIO_5MIN: meeting.no_audio_since,
        SINGLE_ATTENDEE_30MIN: meeting.below_two_audio_since,
        SCREEN_SHARE_IDLE_30MIN: meeting.idle_viewers_since,
        CHIME_24H_LIMIT: meeting.created_ms,
    }
    best: tuple[int, str] | None = None
    for rule in RULES:
        since = starts[rule.reason]
        if rule.reason not in enabled or since is None:
            continue
        fires_at = since + rule.threshold_ms + 1
        if best is None or fires_at < best[0]:  # strict: an earlier rule wins a tie
            best = (fires_at, rule.reason)
    return best
