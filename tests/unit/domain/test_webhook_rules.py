"""Registration rules, event filters, disabling, the sequence step and webhook.disabled."""

from __future__ import annotations

import pytest
from meetings.deployment import DOMAIN_EVENT_TYPES
from meetings.domain.domain_events import DomainEvent, webhook_events
from meetings.domain.errors import InvalidRequestError
from meetings.domain.event_sequence import SequenceState, advance, stamped
from meetings.domain.webhooks import (
    Delivery,
    DisabledReason,
    SealedSecret,
    WebhookRecord,
    checked_description,
    checked_event_types,
    disable_reason_after_failure,
)

DAY_MS = 86_400_000


def _record(**changes: object) -> WebhookRecord:
    values: dict[str, object] = {
        "webhookId": "wh_1", "url": "https://example.com/", "eventTypes": ("*",),
        "description": "", "createdAt": 0, "createdBy": "admin", "updatedAt": 0,
    }  # fmt: skip
    return WebhookRecord(**(values | changes))  # type: ignore[arg-type]


def test_event_types_are_known_types_or_everything() -> None:
    assert checked_event_types(["*"]) == ("*",)
    assert checked_event_types(["meeting.ended", "meeting.ended"]) == ("meeting.ended",)
    assert set(checked_event_types(list(DOMAIN_EVENT_TYPES))) == set(DOMAIN_EVENT_TYPES)
    for bad in ([], ["meeting.exploded"], ["*", "meeting.ended"], ["webhook.ping"]):
        with pytest.raises(InvalidRequestError) as refused:
            checked_event_types(bad)
        assert refused.value.details and refused.value.details[0]["field"] == "eventTypes"


def test_descriptions_are_short_printable_text() -> None:
    assert checked_description("billing hooks ✓") == "billing hooks ✓"
    for bad in ("x" * 257, "line\nbreak"):
        with pytest.raises(InvalidRequestError):
            checked_description(bad)


def test_a_subscription_wants_its_types_while_enabled() -> None:
    some = _record(eventTypes=("meeting.ended",))
    assert some.wants("meeting.ended") and not some.wants("attendee.joined")
    assert _record().wants("attendee.joined")
    assert not _record(enabled=False).wants("meeting.ended")


def test_signing_secrets_are_the_current_one_and_those_inside_their_overlap() -> None:
    record = _record(
        secrets=(
            SealedSecret(b"new"),
            SealedSecret(b"old", retiresAt=1000),
            SealedSecret(b"older", retiresAt=10),
        )
    )
    assert [s.ciphertext for s in record.signing_secrets(500)] == [b"new", b"old"]
    assert [s.ciphertext for s in record.signing_secrets(1000)] == [b"new"]


def test_410_disables_at_once_other_failures_after_a_day() -> None:
    healthy, failing = _record(), _record(failingSince=0)
    assert disable_reason_after_failure(healthy, 410, 5, DAY_MS) is DisabledReason.GONE
    assert disable_reason_after_failure(healthy, 500, 5, DAY_MS) is None
    assert disable_reason_after_failure(failing, 500, DAY_MS - 1, DAY_MS) is None
    assert disable_reason_after_failure(failing, None, DAY_MS, DAY_MS) is DisabledReason.FAILING


def test_a_delivery_survives_the_queue_unchanged() -> None:
    delivery = Delivery("wh_1", "evt", "meeting.ended", '{"type":"meeting.ended"}')
    assert Delivery.from_message(delivery.to_message()) == delivery


def _event(detail_type: str, **detail: object) -> DomainEvent:
    return DomainEvent(detail_type, {"eventId": detail_type, "meetingId": "m", **detail})


def test_sequence_numbers_each_event_and_counts_connected_attendees() -> None:
    state = SequenceState()
    stamps = []
    for event in (
        _event("meeting.created"),
        _event("attendee.joined", attendeeId="a"),
        _event("attendee.joined", attendeeId="b"),
        _event("attendee.joined", attendeeId="b"),  # a repeat of a join changes no count
        _event("attendee.left", attendeeId="a"),
        _event("meeting.ended"),
    ):
        state, stamp = advance(state, event)
        stamps.append((stamp.sequence, stamp.connected))
    assert stamps == [(1, None), (2, 1), (3, 2), (4, 2), (5, 1), (6, None)]
    detail = stamped(_event("attendee.left", attendeeId="b"), advance(state, _event("x"))[1])
    assert detail.detail["sequence"] == 7


def test_webhook_disabled_is_published_for_an_enabled_to_disabled_change_only() -> None:
    before = {"webhookId": "wh_1", "enabled": True, "url": "https://example.com/"}
    after = before | {"enabled": False, "disabledAt": 1_000, "disabledReason": "gone"}
    [event] = webhook_events(before, after)
    assert event.detail_type == "webhook.disabled"
    assert event.detail["reason"] == "gone" and event.detail["webhookId"] == "wh_1"
    assert webhook_events(before, after)[0].event_id == event.event_id  # stable on a repeat
    assert webhook_events(after, after) == [] and webhook_events(None, before) == []
    assert webhook_events(before, before | {"failingSince": 5}) == []
