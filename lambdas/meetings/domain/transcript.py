"""A meeting's transcript, assembled from the transcription messages a capture stored.

Chime sends transcripts to clients as data messages; a capture pipeline stores the same
`TranscriptEvent`s in its transcription-messages artifact, one JSON document per line. Each
result is a line of speech: partial results are revised by later ones with the same
`resultId`, so only final results count, each once (the first final one of an id), ordered
by their start time, attributed to the attendee of their first spoken item. Both spellings
Chime uses are read: the data message's camelCase (`transcript.results[].alternatives[]`) and
the Transcribe event's PascalCase (`Transcript.Results[].Alternatives[]`); status messages
and lines that are not JSON are skipped, so one bad line never loses the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    resultId: str  # noqa: N815
    startTimeMs: int  # noqa: N815 - epoch ms
    endTimeMs: int  # noqa: N815
    attendeeId: str | None  # noqa: N815
    externalUserId: str | None  # noqa: N815
    text: str


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    """A field in camelCase or PascalCase."""
    if name in mapping:
        return mapping[name]
    return mapping.get(name[:1].upper() + name[1:])


def _results(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    transcript = _get(document, "transcript")
    if transcript is None:
        event = _get(document, "transcriptEvent")
        transcript = _get(event, "transcript") if isinstance(event, Mapping) else None
    if not isinstance(transcript, Mapping):
        return []
    results = _get(transcript, "results")
    return [r for r in results if isinstance(r, Mapping)] if isinstance(results, list) else []


def _speaker(items: list[Any]) -> tuple[str | None, str | None]:
    for item in items:
        if not isinstance(item, Mapping):
            continue
        attendee = _get(item, "attendee")
        if isinstance(attendee, Mapping) and _get(attendee, "attendeeId"):
            return str(_get(attendee, "attendeeId")), _get(attendee, "externalUserId")
    return None, None


def _line(result: Mapping[str, Any]) -> TranscriptLine | None:
    if _get(result, "isPartial") is not False:
        return None
    alternatives = _get(result, "alternatives")
    if not isinstance(alternatives, list) or not alternatives:
        return None
    best = alternatives[0]
    if not isinstance(best, Mapping):
        return None
    text = _get(best, "transcript")
    items = _get(best, "items") or []
    if not isinstance(text, str) and isinstance(items, list):
        text = " ".join(str(_get(i, "content")) for i in items if isinstance(i, Mapping))
    result_id, start = _get(result, "resultId"), _get(result, "startTimeMs")
    if not isinstance(text, str) or not text.strip() or result_id is None:
        return None
    if isinstance(start, bool) or not isinstance(start, int | float):
        return None
    end = _get(result, "endTimeMs")
    if isinstance(end, bool) or not isinstance(end, int | float):
        end = start
    attendee_id, external_user_id = _speaker(items if isinstance(items, list) else [])
    return TranscriptLine(
        resultId=str(result_id),
        startTimeMs=int(start),
        endTimeMs=int(end),
        attendeeId=attendee_id,
        externalUserId=external_user_id,
        text=text.strip(),
    )


def parse_messages(text: str) -> list[Any]:
    """The JSON documents of an artifact: one per line, or one JSON array of them."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            documents = json.loads(stripped)
        except ValueError:
            documents = None
        if isinstance(documents, list):
            return documents
    parsed = []
    for raw in text.splitlines():
        try:
            parsed.append(json.loads(raw))
        except ValueError:
            continue
    return parsed


def assemble(documents: Iterable[Any]) -> list[TranscriptLine]:
    """The final lines, each result once, in spoken order (ties: by result id)."""
    lines: dict[str, TranscriptLine] = {}
    for document in documents:
        for result in _results(document):
            line = _line(result)
            if line is not None and line.resultId not in lines:
                lines[line.resultId] = line
    return sorted(lines.values(), key=lambda line: (line.startTimeMs, line.resultId))
