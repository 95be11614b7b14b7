"""Live transcription: its events on `Chime Meeting State Change`, failures on demand, and a
simulated attendee saying a sentence, which becomes transcript messages (a partial result,
then the final one) shaped like Chime's transcript data messages."""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import TYPE_CHECKING, Any, Final

from local.chime.errors import bad_request
from local.chime.pipelines import capture
from local.chime.state import Meeting, Transcription

if TYPE_CHECKING:
    from local.chime.service import ChimeState

RESUME_AFTER_MS: Final = 5_000  # how long an injected interruption lasts
WORD_MS: Final = 300  # how long the simulated speaker takes per word
_FAILED: Final = "Transcription failed (injected)"
_TOKENS: Final = re.compile(r"[\w'-]+|[^\w\s]")


def start(state: ChimeState, meeting: Meeting, configuration: dict[str, Any]) -> None:
    settings = (
        configuration.get("EngineTranscribeSettings")
        or configuration.get("EngineTranscribeMedicalSettings")
        or {}
    )
    region = settings.get("Region")
    if region in (None, "auto"):  # Chime picks the Transcribe Region closest to the media
        region = meeting.media_region
    meeting.transcription = Transcription(copy.deepcopy(configuration), str(region))
    if meeting.transcription_start_fails:  # accepted, then it fails: Chime starts asynchronously
        meeting.transcription_start_fails = False
        _emit(state, meeting, "TranscriptionFailed", state.clock.now_ms(), message=_FAILED)
        meeting.transcription = None
        return
    _emit(state, meeting, "TranscriptionStarted", state.clock.now_ms())


def stop(state: ChimeState, meeting: Meeting, at_ms: int) -> None:
    if meeting.transcription is not None:
        _emit(state, meeting, "TranscriptionStopped", at_ms)
        meeting.transcription = None


def fail(
    state: ChimeState, meeting: Meeting, at_ms: int, *, permanent: bool, next_start: bool
) -> None:
    """Temporary: TranscriptionInterrupted, then TranscriptionResumed RESUME_AFTER_MS later.
    Permanent: TranscriptionFailed, and transcription is off. `next_start`: the meeting's next
    StartMeetingTranscription is accepted but fails (TranscriptionFailed, no Started)."""
    if next_start:
        meeting.transcription_start_fails = True
        return
    transcription = meeting.transcription
    if transcription is None:
        raise ValueError("transcription is not active in this meeting")
    if permanent:
        _emit(state, meeting, "TranscriptionFailed", at_ms, message=_FAILED)
        meeting.transcription = None
        return
    if transcription.interrupted_until_ms is None:
        _emit(
            state,
            meeting,
            "TranscriptionInterrupted",
            at_ms,
            message="Transcription interrupted (injected)",
        )
    transcription.interrupted_until_ms = at_ms + RESUME_AFTER_MS


def run_due(state: ChimeState, now_ms: int) -> None:
    for meeting_id in list(state.open_order):
        meeting = state.meetings[meeting_id]
        transcription = meeting.transcription
        if transcription is None or transcription.interrupted_until_ms is None:
            continue
        if transcription.interrupted_until_ms <= now_ms:
            resumed_at = transcription.interrupted_until_ms
            transcription.interrupted_until_ms = None
            _emit(state, meeting, "TranscriptionResumed", resumed_at)


def say(state: ChimeState, meeting_id: str, attendee_id: str, text: str) -> list[dict[str, Any]]:
    """The attendee (connected with audio) says `text`. While transcription runs, the partial
    and final transcript messages, also written to every running capture's
    transcription-messages artifact; otherwise nothing is transcribed ([])."""
    meeting = state.open_meeting(meeting_id)
    attendee = state.live_attendee(meeting, attendee_id)
    if attendee.media is None or not attendee.media.audio:
        raise bad_request("The attendee is not connected with audio")
    tokens = _TOKENS.findall(text)
    if not any(token[0].isalnum() for token in tokens):
        raise bad_request("Say at least one word")
    transcription = meeting.transcription
    if transcription is None or transcription.interrupted_until_ms is not None:
        return []
    now = state.clock.now_ms()
    speaker = {"attendeeId": attendee.attendee_id, "externalUserId": attendee.external_user_id}
    items = _items(tokens, now, speaker)
    words = [index for index, item in enumerate(items) if item["type"] == "pronunciation"]
    partial_end = words[(len(words) - 1) // 2] + 1  # about the first half of the words
    result_id = str(uuid.uuid4())
    language = _language(transcription)
    messages = [
        {
            "transcript": {
                "results": [
                    _result(result_id, items[:partial_end], partial=True, language=language)
                ]
            }
        },
        {"transcript": {"results": [_result(result_id, items, partial=False, language=language)]}},
    ]
    capture.record_transcript(state, meeting.meeting_id, messages)
    return messages


def _items(tokens: list[str], start_ms: int, speaker: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    at = start_ms
    for token in tokens:
        word = token[0].isalnum() or token[0] in "'-"
        end = at + (WORD_MS if word else 0)
        items.append(
            {
                "type": "pronunciation" if word else "punctuation",
                "startTimeMs": at,
                "endTimeMs": end,
                "attendee": dict(speaker),
                "content": token,
                "vocabularyFilterMatch": False,
            }
        )
        at = end
    return items


def _result(
    result_id: str, items: list[dict[str, Any]], *, partial: bool, language: str | None
) -> dict[str, Any]:
    text = ""
    for item in items:
        joiner = "" if not text or item["type"] == "punctuation" else " "
        text += joiner + item["content"]
    result: dict[str, Any] = {
        "resultId": result_id,
        "channelId": "ch_0",
        "isPartial": partial,
        "startTimeMs": items[0]["startTimeMs"],
        "endTimeMs": items[-1]["endTimeMs"],
        "alternatives": [{"items": copy.deepcopy(items), "transcript": text}],
    }
    if language is not None:
        result["languageCode"] = language
    return result


def _language(transcription: Transcription) -> str | None:
    settings = transcription.configuration.get("EngineTranscribeSettings") or {}
    medical = transcription.configuration.get("EngineTranscribeMedicalSettings") or {}
    language = (
        settings.get("LanguageCode")
        or settings.get("PreferredLanguage")
        or medical.get("LanguageCode")
    )
    return None if language is None else str(language)


def _emit(state: ChimeState, meeting: Meeting, event_type: str, at_ms: int, **extra: Any) -> None:
    transcription = meeting.transcription
    assert transcription is not None
    state.emit(
        meeting,
        event_type,
        at_ms,
        transcriptionRegion=transcription.region,
        transcriptionConfiguration=json.dumps(transcription.configuration, separators=(",", ":")),
        **extra,
    )
