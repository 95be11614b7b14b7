"""Why Chime ended a meeting on its own, read from event timestamps only.

`chime:MeetingEnded` carries no reason. The backend infers one from its activity log
(domain/presence.py), by the project's precise reading of Chime's auto-end rules (docs/chime.md,
"The project's precise reading"): a rule explains an end at instant E when its condition held
continuously for at least its threshold before E; rules are tried in the order no_audio_5min,
single_attendee_30min, chime_24h_limit, and the first whose answer is not a clear "no"
decides — "yes" gives its reason, "cannot tell" gives `unknown`. Screen-share viewers raise
no event, so that rule is never inferred. A running capture pipeline counts as an audio
connection, as Chime counts it (from its MediaPipelineInProgress to its Deleted or
PermanentFailure): while one runs, the no-audio clock does not start.

Precision guard: a rule explains an end at E only if, by the log, it would have fired within
END_TOLERANCE_MS before E (threshold <= elapsed <= threshold + tolerance). A log saying the
rule would have fired much earlier than E contradicts Chime (it did not end the meeting then):
an event is missing from the log, and the answer is `unknown`, never a guess. The tolerance
covers Chime's rule timers and the spread between its subsystems' timestamps (a drop is
reported 10-15 s after the packets stopped).

"Cannot tell" happens when a stretch began at the meeting's creation and the log lacks
chime:MeetingStarted: the creation instant is then only known to lie at or before the
earliest entry, which is a lower bound on the stretch — enough for a "yes", never for a "no".

The log may be compacted (domain/presence.py): the timeline then starts from the checkpoint,
which holds the audio count at its horizon and the instants of the last drops below one and two
connections, and gives the same answers as the whole log. A checkpoint known to be incomplete
(an entry older than the horizon arrived too late to be merged) makes every answer `unknown`
(no prediction): the audio count at the end is built on the count at the horizon, so every
rule's answer depends on the folded past.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Final

from meetings.domain.presence import LogLike
from meetings.domain.records import EndNoticer, EndReason, EndSource
from meetings.domain.replay import Replay

NO_AUDIO_MS: Final = 300_000
SINGLE_ATTENDEE_MS: Final = 1_800_000
LIFETIME_MS: Final = 86_400_000
# How long after a rule's threshold an end instant may lie and still be explained by it.
END_TOLERANCE_MS: Final = 60_000


class Verdict(Enum):
    HOLDS = "holds"
    FAILS = "fails"
    UNDECIDABLE = "undecidable"


@dataclass(frozen=True, slots=True)
class _Since:
    """Since when a condition holds: exactly, or only 'at or before' (a lower bound)."""

    instant: int
    exact: bool


@dataclass(frozen=True, slots=True)
class _Timeline:
    count_at_end: int
    drops: dict[int, int | None]  # bound -> the last drop of the audio count below it
    created_at: int | None
    earliest: int | None
    latest: int | None
    exact: bool  # False: the folded past is incomplete (or extends past the end)

    @classmethod
    def of(cls, log: LogLike, ended_at: int | None) -> _Timeline:
        replay = Replay(log, ended_at)
        return cls(
            count_at_end=replay.audio_count,
            drops={bound: replay.last_drop_below(bound) for bound in (1, 2)},
            created_at=replay.created_at,
            earliest=replay.earliest,
            latest=replay.latest,
            exact=replay.exact,
        )

    def creation(self) -> _Since | None:
        if self.created_at is not None:
            return _Since(self.created_at, exact=True)
        if self.earliest is not None:
            return _Since(self.earliest, exact=False)
        return None

    def audio_count_at_end(self) -> int:
        return self.count_at_end

    def below_since(self, bound: int) -> _Since | None:
        """Since when fewer than `bound` audio connections are present (call when that holds
        at the end): the last drop below it, else the creation. None: cannot tell."""
        since = self.drops[bound]
        return _Since(since, exact=True) if since is not None else self.creation()


# (reason, fewer audio connections than, threshold): the audio rules in precedence order.
_AUDIO_RULES: Final = (
    (EndReason.NO_AUDIO_5MIN, 1, NO_AUDIO_MS),
    (EndReason.SINGLE_ATTENDEE_30MIN, 2, SINGLE_ATTENDEE_MS),
)


@dataclass(frozen=True, slots=True)
class _RuleStart:
    reason: EndReason
    threshold: int
    holds: bool  # the rule's condition holds at the end of the log
    since: _Since | None  # since when it holds (None: cannot tell, or it does not hold)


def _rule_starts(timeline: _Timeline) -> Iterator[_RuleStart]:
    """Each rule in precedence order, with since when its condition holds at the end of the
    log."""
    for reason, bound, threshold in _AUDIO_RULES:
        if timeline.audio_count_at_end() >= bound:
            yield _RuleStart(reason, threshold, holds=False, since=None)
        else:
            yield _RuleStart(reason, threshold, holds=True, since=timeline.below_since(bound))
    yield _RuleStart(EndReason.CHIME_24H_LIMIT, LIFETIME_MS, holds=True, since=timeline.creation())


def _verdict(since: _Since | None, ended_at: int, threshold: int) -> Verdict:
    if since is None:
        return Verdict.UNDECIDABLE
    elapsed = ended_at - since.instant
    if elapsed > threshold + END_TOLERANCE_MS:
        # By the log the rule would have fired long before E (an exact start), or the stretch
        # was at least that long (a lower bound): the log misses something.
        return Verdict.UNDECIDABLE
    if elapsed >= threshold:
        return Verdict.HOLDS
    # A lower bound below the threshold says nothing: the stretch may have been longer.
    return Verdict.FAILS if since.exact else Verdict.UNDECIDABLE


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One auto-end rule tried against an end at E: whether its condition held at E, since
    when (`since_exact` False: only a lower bound, the creation read from the earliest entry),
    its threshold, and the verdict (None: the condition did not hold at E)."""

    reason: EndReason
    threshold_ms: int
    since: int | None
    since_exact: bool
    verdict: Verdict | None


def check_rules(log: LogLike, ended_at: int) -> tuple[RuleCheck, ...] | None:
    """Every auto-end rule tried against an end at `ended_at`, in precedence order (what
    `infer_end_reason` decides by, for a reader who wants to see why). None: the log's folded
    past is incomplete, so no rule can be judged."""
    timeline = _Timeline.of(log, ended_at)
    if not timeline.exact:
        return None
    return tuple(
        RuleCheck(
            rule.reason,
            rule.threshold,
            None if rule.since is None else rule.since.instant,
            since_exact=rule.since is not None and rule.since.exact,
            verdict=_verdict(rule.since, ended_at, rule.threshold) if rule.holds else None,
        )
        for rule in _rule_starts(timeline)
    )


def infer_end_reason(log: LogLike, ended_at: int) -> EndReason:
    """The auto-end reason that explains an end at `ended_at` (Chime's MeetingEnded instant):
    the first rule whose verdict is not a clear "no" decides.

    `log`: an ActivityLog (checkpoint and entries) or a plain collection of entries."""
    for check in check_rules(log, ended_at) or ():
        if check.verdict is Verdict.HOLDS:
            return check.reason
        if check.verdict is Verdict.UNDECIDABLE:
            return EndReason.UNKNOWN
    return EndReason.UNKNOWN


def predict_end(log: LogLike, now: int) -> tuple[EndReason, int] | None:
    """For a meeting Chime no longer knows but never reported ended: the rule that would have
    ended it first if the log is complete, and that instant — if it lies at or before `now`.

    None when the log cannot say (its creation instant unknown, its folded past incomplete, or
    no rule due by now): the caller then reports `vanished`. A rule that would have fired
    before the last entry evidently did not: the log misses something (or Chime runs with that
    rule switched off), so nothing is predicted — as `infer_end_reason` answers `unknown` for
    such a log; the instant returned is one at which `infer_end_reason` gives the same reason.
    """
    timeline = _Timeline.of(log, None)
    if not timeline.exact or timeline.created_at is None or timeline.latest is None:
        return None
    best: tuple[int, EndReason] | None = None
    for rule in _rule_starts(timeline):
        if rule.since is None:
            continue
        fires_at = rule.since.instant + rule.threshold + 1  # "more than T": the first ms past
        if fires_at <= timeline.latest:
            return None
        if best is None or fires_at < best[0]:
            best = (fires_at, rule.reason)
    if best is None or best[0] > now:
        return None
    return best[1], best[0]


def settled_end(
    log: LogLike,
    reason: EndReason,
    ended_at: int,
    source: EndSource,
    noticed_by: EndNoticer | None,
) -> tuple[EndReason, int, EndSource]:
    """The final (reason, endedAt, its source) of an ended meeting whose reason waited for
    late events: inferred against Chime's instant (or a predicted one); for an end only the
    backend's clock dates, the timeline's prediction up to that instant, else `vanished` when
    reconciliation noticed it and `unknown` when a request did. A reason already stated (one
    the backend requested) stays. The backend's clock never enters the inference itself."""
    if reason is not EndReason.UNKNOWN:
        return reason, ended_at, source
    if source is not EndSource.BACKEND:
        return infer_end_reason(log, ended_at), ended_at, source
    predicted = predict_end(log, ended_at)
    if predicted is not None:
        return predicted[0], predicted[1], EndSource.PREDICTED
    fallback = EndReason.VANISHED if noticed_by is EndNoticer.RECONCILIATION else EndReason.UNKNOWN
    return fallback, ended_at, source
