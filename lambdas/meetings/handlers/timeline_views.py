"""The timeline route's response (docs/api.md, "Timeline"): its body, rendered here, and its
models for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from meetings.domain.end_reason import RuleCheck
from meetings.domain.instants import rfc3339
from meetings.domain.timeline import EndExplanation, Timeline, TimelineItem, condition_of


def _instant(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else rfc3339(epoch_ms)


def _item(item: TimelineItem) -> dict[str, Any]:
    return {
        "at": rfc3339(item.at),
        "source": item.source,
        "type": item.type,
        "attendeeId": item.attendee_id,
        "userId": item.user_id,
        "detail": item.detail,
    }


def _check(check: RuleCheck, ended_at: int) -> dict[str, Any]:
    return {
        "reason": str(check.reason),
        "condition": condition_of(check.reason),
        "thresholdSeconds": check.threshold_ms // 1000,
        "heldAtEnd": check.verdict is not None,
        "since": _instant(check.since),
        "sinceExact": check.since_exact,
        "heldSeconds": None if check.since is None else (ended_at - check.since) / 1000,
        "verdict": None if check.verdict is None else check.verdict.value,
    }


def _end(end: EndExplanation) -> dict[str, Any]:
    return {
        "reason": str(end.reason),
        "final": end.final,
        "settlesAt": _instant(end.settles_at),
        "rule": end.rule,
        "endedAt": rfc3339(end.ended_at),
        "endedAtSource": end.ended_at_source,
        "checks": [_check(check, end.ended_at) for check in end.checks],
    }


def timeline_view(timeline: Timeline) -> dict[str, Any]:
    return {
        "meetingId": timeline.meeting_id,
        "items": [_item(item) for item in timeline.items],
        "truncated": timeline.truncated,
        "foldedBefore": _instant(timeline.folded_before),
        "end": None if timeline.end is None else _end(timeline.end),
    }


class TimelineItemView(BaseModel):
    at: str
    source: Literal["chime", "backend"]
    type: str
    attendeeId: str | None  # noqa: N815
    userId: str | None  # noqa: N815
    detail: str | None


class RuleCheckView(BaseModel):
    reason: str
    condition: str
    thresholdSeconds: int  # noqa: N815
    heldAtEnd: bool  # noqa: N815
    since: str | None
    sinceExact: bool  # noqa: N815
    heldSeconds: float | None  # noqa: N815
    verdict: Literal["holds", "fails", "undecidable"] | None


class EndExplanationView(BaseModel):
    reason: str
    final: bool
    settlesAt: str | None  # noqa: N815
    rule: str
    endedAt: str  # noqa: N815
    endedAtSource: str | None  # noqa: N815
    checks: list[RuleCheckView]


class TimelineEnvelope(BaseModel):
    meetingId: str  # noqa: N815
    items: list[TimelineItemView]
    truncated: bool
    foldedBefore: str | None  # noqa: N815
    end: EndExplanationView | None
