"""The local-only control routes (`/_local/...`, never deployed): tokens, the simulated media
plane and speech, the world clock, the event logs, fault injection (Chime calls, media
pipelines, transcription), event chaos, cleanup runs and the emulator's ground truth about a
meeting and a media pipeline."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from meetings.domain.instants import rfc3339
from meetings.domain.records import EndReason

from local.auth import MAX_TTL_SECONDS, LocalIssuer
from local.chime import ChimeEmulator, autoend
from local.chime.emulator import PipelineTruth
from local.event_delivery import Chaos

Answer = tuple[int, Any]
MAX_SAID_CHARS: Final = 1000
_MEDIA = re.compile(
    r"^/_local/meetings/(?P<meeting>[^/]+)/attendees/(?P<attendee>[^/]+)/(?P<action>connect|leave|drop|say)$"
)
_TRUTH = re.compile(r"^/_local/truth/meetings/(?P<meeting>[^/]+)$")
_PIPELINE_TRUTH = re.compile(r"^/_local/truth/media-pipelines/(?P<pipeline>[^/]+)$")
_PIPELINE_FAIL = re.compile(r"^/_local/media-pipelines/(?P<pipeline>[^/]+)/fail$")
_TRANSCRIPTION_FAIL = re.compile(r"^/_local/meetings/(?P<meeting>[^/]+)/transcription/fail$")
# The emulator's end reasons that have a name in the backend's vocabulary. The others have
# none: Chime's screen-share rule raises no event (the backend's honest answer is `unknown`),
# and DeleteMeeting (`deleted`) is the backend's own doing, named by why it deleted
# (`host_ended`, `max_duration`), which Chime does not know.
BACKEND_END_REASONS: Final = {
    autoend.NO_AUDIO_5MIN: EndReason.NO_AUDIO_5MIN,
    autoend.SINGLE_ATTENDEE_30MIN: EndReason.SINGLE_ATTENDEE_30MIN,
    autoend.CHIME_24H_LIMIT: EndReason.CHIME_24H_LIMIT,
}


@dataclass
class ControlPlane:
    issuer: LocalIssuer
    chime: ChimeEmulator
    set_chaos: Callable[[Chaos], None]
    delivery_stats: Callable[[], dict[str, int]]
    run_cleanup: Callable[[dict[str, Any]], Any]
    domain_events: Callable[[], list[dict[str, Any]]]
    # The Chime events chaos lost for good (type, meeting, attendee, timestamp).
    lost_events: Callable[[], list[dict[str, Any]]] = list
    # Moves the local stack's world clock (returns the new world time, epoch ms); without it
    # the route moves the emulator's own clock.
    advance_clock: Callable[[float], int] | None = None

    def __call__(self, method: str, path: str, body: Any) -> Answer:
        if not isinstance(body, dict):
            return 400, {"message": "the body must be a JSON object"}
        patterned: tuple[tuple[re.Pattern[str], str, Callable[[dict[str, str]], Answer]], ...] = (
            (_MEDIA, "POST", lambda m: self._media(m["meeting"], m["attendee"], m["action"], body)),
            (_TRUTH, "GET", lambda m: self._truth(m["meeting"])),
            (_PIPELINE_TRUTH, "GET", lambda m: self._pipeline_truth(m["pipeline"])),
            (_PIPELINE_FAIL, "POST", lambda m: self._fail(m, body)),
            (_TRANSCRIPTION_FAIL, "POST", lambda m: self._fail(m, body)),
        )
        for pattern, verb, handle in patterned:
            found = pattern.match(path)
            if found and method == verb:
                return handle(found.groupdict())
        route = self._routes().get((method, path))
        if route is None:
            return 404, {"message": f"no local control route {method} {path}"}
        return route(body)

    def _routes(self) -> dict[tuple[str, str], Callable[[dict[str, Any]], Answer]]:
        return {
            ("POST", "/_local/token"): self._token,
            ("GET", "/_local/jwks.json"): lambda _: (200, self.issuer.jwks()),
            ("POST", "/_local/clock/advance"): self._advance,
            ("GET", "/_local/events"): lambda _: (200, {"events": list(self.chime.events)}),
            ("GET", "/_local/domain-events"): lambda _: (200, {"events": self.domain_events()}),
            ("POST", "/_local/faults"): self._fault,
            ("DELETE", "/_local/faults"): self._clear_faults,
            ("POST", "/_local/chaos"): self._chaos,
            ("GET", "/_local/chaos"): lambda _: (200, self._chaos_report()),
            ("POST", "/_local/cleanup"): lambda body: (200, self.run_cleanup(body)),
        }

    def _token(self, body: dict[str, Any]) -> Answer:
        sub = body.get("sub")
        groups = body.get("groups", [])
        ttl = body.get("ttlSeconds", 3600)
        if not isinstance(sub, str) or not sub:
            return 400, {"message": "sub: a non-empty string is required"}
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            return 400, {"message": "groups: a list of strings"}
        if not isinstance(ttl, int) or not -MAX_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
            return 400, {"message": f"ttlSeconds: an integer up to {MAX_TTL_SECONDS}"}
        token = self.issuer.issue(
            sub, groups=groups, ttl_seconds=ttl, audience=body.get("aud"), issuer=body.get("iss")
        )
        return 200, {"token": token}

    def _media(
        self, meeting_id: str, attendee_id: str, action: str, body: dict[str, Any]
    ) -> Answer:
        flags = {"audio", "video", "content", "viewingContent"}
        if action == "connect" and not all(isinstance(body.get(f, False), bool) for f in flags):
            return 400, {"message": "audio, video, content, viewingContent: booleans"}
        text = body.get("text")
        if action == "say" and not (isinstance(text, str) and 0 < len(text) <= MAX_SAID_CHARS):
            return 400, {"message": f"text: a non-empty string of at most {MAX_SAID_CHARS}"}
        try:
            if action == "say":
                return 200, {"messages": self.chime.say(meeting_id, attendee_id, str(text))}
            if action == "connect":
                self.chime.connect(
                    meeting_id,
                    attendee_id,
                    audio=body.get("audio", False),
                    video=body.get("video", False),
                    content=body.get("content", False),
                    viewing_content=body.get("viewingContent", False),
                )
            elif action == "leave":
                self.chime.leave(meeting_id, attendee_id)
            else:
                self.chime.drop(meeting_id, attendee_id)
        except LookupError as missing:
            return 404, {"message": str(missing)}
        except ValueError as invalid:
            return 409, {"message": str(invalid)}
        return 200, {"ok": True}

    def _truth(self, meeting_id: str) -> Answer:
        try:
            truth = self.chime.truth(meeting_id)
        except KeyError:
            return 404, {"message": f"the emulator has no meeting {meeting_id}"}
        ended = truth.ended_ms
        backend_reason = BACKEND_END_REASONS.get(truth.end_reason or "")
        pipelines = [
            _pipeline_view(self.chime.pipeline(p)) for p in self.chime.pipeline_ids(meeting_id)
        ]
        return 200, {
            "mediaPipelines": pipelines,
            "meetingId": truth.meeting_id,
            "externalMeetingId": truth.external_meeting_id,
            "status": "OPEN" if ended is None else "ENDED",
            "createdAt": rfc3339(truth.created_ms),
            "createdAtMs": truth.created_ms,
            "endedAt": None if ended is None else rfc3339(ended),
            "endedAtMs": ended,
            "endReason": None if backend_reason is None else str(backend_reason),
            "emulatorEndReason": truth.end_reason,
        }

    def _pipeline_truth(self, pipeline_id: str) -> Answer:
        try:
            return 200, _pipeline_view(self.chime.pipeline(pipeline_id))
        except KeyError:
            return 404, {"message": f"the emulator has no media pipeline {pipeline_id}"}

    def _fail(self, target: dict[str, str], body: dict[str, Any]) -> Answer:
        """A capture pipeline's or a meeting's transcription's failure, temporary by default."""
        permanent, next_start = body.get("permanent", False), body.get("nextStart", False)
        if not (isinstance(permanent, bool) and isinstance(next_start, bool)):
            return 400, {"message": "permanent, nextStart: booleans"}
        try:
            if "pipeline" in target:
                self.chime.fail_pipeline(target["pipeline"], permanent=permanent)
            else:
                self.chime.fail_transcription(
                    target["meeting"], permanent=permanent, next_start=next_start
                )
        except (KeyError, LookupError):
            return 404, {"message": "no such media pipeline or open meeting"}
        except ValueError as invalid:
            return 409, {"message": str(invalid)}
        return 200, {"ok": True}

    def _advance(self, body: dict[str, Any]) -> Answer:
        seconds = body.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            return 400, {"message": "seconds: a non-negative number"}
        if self.advance_clock is not None:
            return 200, {"nowMs": self.advance_clock(float(seconds))}
        self.chime.advance(float(seconds))
        return 200, {"nowMs": self.chime.now_ms()}

    def _fault(self, body: dict[str, Any]) -> Answer:
        operation = body.get("operation")
        if not isinstance(operation, str) or not operation:
            return 400, {"message": "operation: an operation name or '*'"}
        try:
            self.chime.inject_fault(
                operation=operation,
                error=body.get("error"),
                count=int(body.get("count", 1)),
                latency_ms=int(body.get("latencyMs", 0)),
            )
        except (TypeError, ValueError) as invalid:
            return 400, {"message": str(invalid)}
        return 200, {"ok": True}

    def _clear_faults(self, _: dict[str, Any]) -> Answer:
        self.chime.clear_faults()
        return 200, {"ok": True}

    def _chaos_report(self) -> dict[str, Any]:
        return {"deliveries": self.delivery_stats(), "lost": self.lost_events()}

    def _chaos(self, body: dict[str, Any]) -> Answer:
        try:
            chaos = Chaos(
                drop_rate=float(body.get("dropRate", 0.0)),
                duplicate_rate=float(body.get("duplicateRate", 0.0)),
                reorder_window=int(body.get("reorderWindow", 0)),
                seed=body.get("seed"),
            )
        except (TypeError, ValueError) as invalid:
            return 400, {"message": str(invalid)}
        if not (0 <= chaos.drop_rate <= 1 and 0 <= chaos.duplicate_rate <= 1):
            return 400, {"message": "dropRate and duplicateRate are between 0 and 1"}
        self.set_chaos(chaos)
        return 200, {"chaos": body}


def _pipeline_view(truth: PipelineTruth) -> dict[str, Any]:
    return {
        "mediaPipelineId": truth.pipeline_id,
        "kind": truth.kind,
        "status": truth.status,
        "meetingId": truth.meeting_id,
        "failing": truth.failing,
        "bucket": truth.bucket,
        "prefix": truth.prefix,
        "keys": list(truth.keys),
    }
