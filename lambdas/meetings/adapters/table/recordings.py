"""Recordings and the meeting's media attributes in the table (port: RecordingRepository).

A recording is an item of its meeting's partition (`RECORDING#<recordingId>`), written whole
and conditioned on what was read. While it is not final it sits in the due index under its own
partition (`RECORDING`), sorted by `checkAt`, where the cleanup finds it. The meeting item
carries a summary of its newest recording (`recording`: id, status, sequence) for the meeting
view, written in the same transaction as the recording, and only by the newest one; the
meeting's `transcription` run and `mediaOnStart` options are attributes of the meeting too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from meetings import deployment
from meetings.adapters.table.base import TableBase
from meetings.adapters.table.codec import (
    RECORDING_DUE_PARTITION,
    RECORDING_SK_PREFIX,
    Item,
    from_attribute_values,
    meeting_key,
    meeting_pk,
    recording_key,
    serialize,
    to_attribute_values,
)
from meetings.adapters.table.errors import dynamodb_errors
from meetings.domain import pagination
from meetings.domain.instants import rfc3339
from meetings.domain.recording import (
    Artifact,
    ArtifactKind,
    RecordingOptions,
    RecordingRecord,
    RecordingStatus,
)
from meetings.domain.records import MeetingStatus
from meetings.domain.transcription import TranscriptionRecord
from meetings.service.ports import PageRequest, TransactionRejectedError

SUMMARY_ATTRIBUTE: Final = "recording"
TRANSCRIPTION_ATTRIBUTE: Final = "transcription"
MEDIA_ON_START_ATTRIBUTE: Final = "mediaOnStart"
_RECORD_FIELDS: Final = frozenset(RecordingRecord.__dataclass_fields__)


def recording_to_item(record: RecordingRecord) -> Item:
    values: dict[str, Any] = {name: getattr(record, name) for name in _RECORD_FIELDS}
    values["status"] = str(record.status)
    values["options"] = record.options.as_dict()
    values["artifacts"] = [
        {"kind": str(a.kind), "key": a.key, "contentType": a.contentType, "bytes": a.bytes}
        for a in record.artifacts
    ]
    key = recording_key(record.meetingId, record.recordingId)
    values[deployment.PARTITION_KEY] = key[deployment.PARTITION_KEY]["S"]
    values[deployment.SORT_KEY] = key[deployment.SORT_KEY]["S"]
    if record.checkAt is not None and not record.status.is_final:
        values[deployment.DUE_INDEX_PK] = RECORDING_DUE_PARTITION
        values[deployment.DUE_INDEX_SK] = (
            f"{rfc3339(record.checkAt)}#{record.meetingId}#{record.recordingId}"
        )
    return to_attribute_values(values)


def recording_from_item(item: Mapping[str, Any]) -> RecordingRecord:
    values = from_attribute_values(item)
    arguments = {name: values[name] for name in _RECORD_FIELDS if name in values}
    arguments["status"] = RecordingStatus(arguments["status"])
    arguments["options"] = RecordingOptions.from_dict(values.get("options"))
    arguments["artifacts"] = tuple(
        Artifact(ArtifactKind(a["kind"]), a["key"], a["contentType"], int(a["bytes"]))
        for a in values.get("artifacts", [])
    )
    return RecordingRecord(**arguments)


def _plain_key(record: RecordingRecord) -> dict[str, str]:
    key = recording_key(record.meetingId, record.recordingId)
    return {name: value["S"] for name, value in key.items()}


def _summary(record: RecordingRecord) -> dict[str, Any]:
    return {
        "recordingId": record.recordingId,
        "status": str(record.status),
        "sequence": record.sequence,
    }


class RecordingsTable(TableBase):
    """Port: RecordingRepository."""

    def list_recordings(self, meeting_id: str) -> list[RecordingRecord]:
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {
                "#pk": deployment.PARTITION_KEY,
                "#sk": deployment.SORT_KEY,
            },
            "ExpressionAttributeValues": {
                ":pk": {"S": meeting_pk(meeting_id)},
                ":prefix": {"S": RECORDING_SK_PREFIX},
            },
            "ConsistentRead": True,
        }
        records: list[RecordingRecord] = []
        while True:
            with dynamodb_errors():
                answer: Any = self.client.query(**arguments)
            records.extend(recording_from_item(item) for item in answer.get("Items", []))
            if not answer.get("LastEvaluatedKey"):
                return sorted(records, key=lambda r: r.sequence, reverse=True)
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def list_recordings_page(
        self, meeting_id: str, *, page: PageRequest
    ) -> tuple[list[RecordingRecord], str | None]:
        """One page, newest first. The items' keys (`RECORDING#<recordingId>`) do not sort by
        sequence, and a meeting holds few recordings: they are read whole and paged here; the
        token carries the last key returned, validated like every listing's
        (domain/pagination.py: this caller, this query, recent, inside this meeting)."""
        partition = meeting_pk(meeting_id)
        start = pagination.decode_token(
            page.token,
            page.binding,
            page.now,
            key_names=frozenset({deployment.PARTITION_KEY, deployment.SORT_KEY}),
            fixed={deployment.PARTITION_KEY: partition},
        )
        records = self.list_recordings(meeting_id)
        if start is not None:
            keys = [_plain_key(record) for record in records]
            if start not in keys:
                raise pagination.invalid_token()  # it names no recording of this meeting
            records = records[keys.index(start) + 1 :]
        shown = records[: page.limit]
        last = _plain_key(shown[-1]) if len(records) > page.limit else None
        return shown, pagination.encode_token(last, page.binding, page.now)

    def get_recording(self, meeting_id: str, recording_id: str) -> RecordingRecord | None:
        item = self._get(recording_key(meeting_id, recording_id))
        return None if item is None else recording_from_item(item)

    def add_recording(self, record: RecordingRecord) -> None:
        """The recording and its meeting's summary, while the meeting is open."""
        summary = self._summary_update(record)
        summary["ConditionExpression"] += " AND #status <> :ended"
        summary["ExpressionAttributeNames"]["#status"] = "status"
        summary["ExpressionAttributeValues"][":ended"] = {"S": str(MeetingStatus.ENDED)}
        self._transact([self._put_new(recording_to_item(record)), {"Update": summary}])

    def save_recording(self, record: RecordingRecord, *, seen: RecordingRecord) -> None:
        put = self._put_as_seen(record, seen)
        if record.status is seen.status:
            self._retrying_conflicts(lambda: self.client.put_item(**put))
            return
        try:
            self._transact([{"Put": put}, {"Update": self._summary_update(record)}])
        except TransactionRejectedError as rejected:
            if rejected.failed_at(0):
                raise
            # A newer recording holds the summary: this one's write goes alone.
            self._retrying_conflicts(lambda: self.client.put_item(**put))

    def due_recordings(self, now_ms: int, limit: int) -> list[RecordingRecord]:
        with dynamodb_errors():
            answer: Any = self.client.query(
                TableName=self.table_name,
                IndexName=deployment.DUE_INDEX,
                KeyConditionExpression="#pk = :pk AND #sk < :bound",
                ExpressionAttributeNames={
                    "#pk": deployment.DUE_INDEX_PK,
                    "#sk": deployment.DUE_INDEX_SK,
                },
                ExpressionAttributeValues={
                    ":pk": {"S": RECORDING_DUE_PARTITION},
                    # `<checkAt>#...` sorts below the next millisecond's instant.
                    ":bound": {"S": rfc3339(now_ms + 1)},
                },
                Limit=limit,
            )
        return [recording_from_item(item) for item in answer.get("Items", [])]

    def save_transcription(
        self,
        meeting_id: str,
        record: TranscriptionRecord,
        *,
        seen: TranscriptionRecord | None,
        while_open: bool = False,
    ) -> None:
        names = {"#pk": deployment.PARTITION_KEY, "#t": TRANSCRIPTION_ATTRIBUTE}
        values: Item = {":t": serialize(_without_nones(record.as_dict()))}
        if seen is None:
            condition = "attribute_exists(#pk) AND attribute_not_exists(#t)"
        else:
            names |= {"#r": "requestedAt", "#s": "status", "#e": "eventAt"}
            values |= {":r": serialize(seen.requestedAt), ":s": serialize(str(seen.status))}
            condition = "attribute_exists(#pk) AND #t.#r = :r AND #t.#s = :s"
            if seen.eventAt is None:
                condition += " AND attribute_not_exists(#t.#e)"
            else:
                condition += " AND #t.#e = :e"
                values[":e"] = serialize(seen.eventAt)
        if while_open:
            names["#status"] = "status"
            values[":ended"] = {"S": str(MeetingStatus.ENDED)}
            condition += " AND #status <> :ended"
        self._update(
            TableName=self.table_name,
            Key=meeting_key(meeting_id),
            UpdateExpression="SET #t = :t",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def clear_media_on_start(self, meeting_id: str) -> None:
        self._update(
            TableName=self.table_name,
            Key=meeting_key(meeting_id),
            UpdateExpression="REMOVE #m",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={
                "#m": MEDIA_ON_START_ATTRIBUTE,
                "#pk": deployment.PARTITION_KEY,
            },
        )

    # --- the writes' parts --------------------------------------------------------------

    def _put_as_seen(self, record: RecordingRecord, seen: RecordingRecord) -> dict[str, Any]:
        names = {"#status": "status", "#done": "concatenationDone"}
        values: Item = {
            ":status": {"S": str(seen.status)},
            ":done": {"BOOL": seen.concatenationDone},
        }
        condition = "#status = :status AND #done = :done"
        names["#concat"] = "concatenationPipelineId"
        if seen.concatenationPipelineId is None:
            condition += " AND attribute_not_exists(#concat)"
        else:
            condition += " AND #concat = :concat"
            values[":concat"] = {"S": seen.concatenationPipelineId}
        return {
            "TableName": self.table_name,
            "Item": recording_to_item(record),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _summary_update(self, record: RecordingRecord) -> dict[str, Any]:
        """The meeting's summary of its newest recording (older ones leave it alone)."""
        return {
            "TableName": self.table_name,
            "Key": meeting_key(record.meetingId),
            "UpdateExpression": "SET #rec = :summary",
            "ConditionExpression": (
                "attribute_exists(#pk) AND (attribute_not_exists(#rec) OR #rec.#seq <= :seq)"
            ),
            "ExpressionAttributeNames": {
                "#pk": deployment.PARTITION_KEY,
                "#rec": SUMMARY_ATTRIBUTE,
                "#seq": "sequence",
            },
            "ExpressionAttributeValues": {
                ":summary": serialize(_summary(record)),
                ":seq": {"N": str(record.sequence)},
            },
        }


def _without_nones(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}
