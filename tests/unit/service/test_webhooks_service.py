"""The webhook use cases against fakes of their ports: registration (admins only, SSRF at
registration), rotation, fanout by type, and a delivery's attempt, retry and disabling."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import pytest
from meetings.domain.errors import ForbiddenError, InvalidRequestError
from meetings.domain.identity import Identity
from meetings.domain.url_safety import LOOPBACK_ONLY, TargetPolicy
from meetings.domain.webhook_retries import RetryPolicy
from meetings.domain.webhooks import (
    PROBATION_MS,
    SECRET_OVERLAP_MS,
    Delivery,
    DisabledReason,
    Lane,
)
from meetings.service.webhook_delivery import (
    DeliverySettings,
    Outcome,
    WebhookDelivering,
    WebhookFanout,
)
from meetings.service.webhooks import NewWebhook, WebhookAdmin, WebhookChange
from standardwebhooks import Webhook

from tests.unit.service.webhook_fakes import (
    MemoryWebhookStore,
    RecordingQueue,
    RecordingSender,
    ReversibleCipher,
    StubResolver,
)

ADMIN = Identity("root", frozenset({"admins"}), is_admin=True)
USER = Identity("alice", frozenset(), is_admin=False)
PUBLIC = ipaddress.ip_address("93.184.215.14")
DAY_MS = 86_400_000


class World:
    def __init__(self, targets: TargetPolicy = TargetPolicy.PUBLIC) -> None:
        self.now = int(time.time() * 1000)
        self.sending_now = self.now
        self.store = MemoryWebhookStore()
        self.queue = RecordingQueue()
        self.resolver = StubResolver({"hooks.example.com": [PUBLIC]})
        self.sender = RecordingSender()
        self.admin = WebhookAdmin(
            self.store, ReversibleCipher(), self.queue, self.resolver,
            clock=lambda: self.now, targets=targets,
        )  # fmt: skip
        self.delivering = WebhookDelivering(
            self.store, ReversibleCipher(), self.queue, self.resolver, self.sender,
            clock=lambda: self.now, signing_clock=lambda: self.sending_now,
            settings=DeliverySettings(RetryPolicy(), disable_after_ms=DAY_MS, targets=targets),
            draw=lambda: 0.0,
        )  # fmt: skip

    def register(self, **changes: Any) -> tuple[str, str]:
        spec = {"url": "https://hooks.example.com/in", "event_types": ["*"]} | changes
        issued = self.admin.create(ADMIN, NewWebhook(**spec))
        return issued.webhook.webhookId, issued.secret


@pytest.fixture
def world() -> World:
    return World()


def test_only_admins_manage_webhooks(world: World) -> None:
    with pytest.raises(ForbiddenError):
        world.admin.create(USER, NewWebhook("https://hooks.example.com/in", ["*"]))
    webhook_id, _ = world.register()
    for call in (
        lambda: world.admin.get(USER, webhook_id),
        lambda: world.admin.delete(USER, webhook_id),
        lambda: world.admin.rotate_secret(USER, webhook_id),
        lambda: world.admin.list(USER, limit=5, next_token=None),
    ):
        with pytest.raises(ForbiddenError):
            call()


@pytest.mark.parametrize(
    ("url", "answers"),
    [
        ("https://rebind.example.com/", ["127.0.0.1"]),
        ("https://meta.example.com/", ["169.254.169.254"]),
        ("https://mixed.example.com/", ["93.184.215.14", "192.168.0.10"]),
        ("https://nowhere.example.com/", []),
        ("http://hooks.example.com/in", ["93.184.215.14"]),
    ],
)
def test_registration_refuses_what_resolves_to_refused_addresses(
    world: World, url: str, answers: list[str]
) -> None:
    host = url.split("/")[2]
    world.resolver.answers[host] = [ipaddress.ip_address(a) for a in answers]
    with pytest.raises(InvalidRequestError) as refused:
        world.admin.create(ADMIN, NewWebhook(url, ["*"]))
    assert refused.value.details == [
        {"field": "url", "problem": refused.value.details[0]["problem"]}
    ]
    assert world.store.records == {}


LOOPBACK_MODE_REFUSED = [
    "https://hooks.example.com/in",  # a public name: never looked up
    "http://hooks.example.com/in",
    "https://localhost.example.com/",
    "https://93.184.215.14/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:127.0.0.1]/",
    "ftp://127.0.0.1/",
]


@pytest.mark.parametrize("url", LOOPBACK_MODE_REFUSED)
def test_the_local_stack_refuses_anything_but_loopback_before_resolving(url: str) -> None:
    world = World(TargetPolicy.LOOPBACK)
    with pytest.raises(InvalidRequestError) as refused:
        world.admin.create(ADMIN, NewWebhook(url, ["*"]))
    assert LOOPBACK_ONLY in refused.value.details[0]["problem"]
    assert world.resolver.asked == [] and world.store.records == {}


def test_the_local_stack_delivers_to_loopback_only() -> None:
    world = World(TargetPolicy.LOOPBACK)
    loopback = ipaddress.ip_address("127.0.0.1")
    world.resolver.answers["localhost"] = [loopback]
    for url in ("http://127.0.0.1:8080/in", "https://[::1]:9/x", "http://localhost:9/x"):
        world.admin.create(ADMIN, NewWebhook(url, ["*"]))
    assert world.resolver.asked == ["localhost"]  # the one name allowed, answered locally
    world.resolver.answers["localhost"] = [loopback, PUBLIC]
    with pytest.raises(InvalidRequestError):
        world.admin.create(ADMIN, NewWebhook("http://localhost:9/x", ["*"]))
    # A public URL already stored (say, from a deployed table's copy) is refused at delivery,
    # before any lookup, and nothing is sent.
    deployed = World()
    public_id, _ = deployed.register()
    world.store.records[public_id] = deployed.store.records[public_id]
    world.resolver.asked.clear()
    outcome = world.delivering.deliver(Delivery(public_id, "e", "meeting.created", "{}"), 1, "r")
    assert outcome is Outcome.MOVED and world.sender.sent == [] and world.resolver.asked == []
    assert LOOPBACK_ONLY in (world.store.attempts[-1].error or "")


def test_the_signature_timestamp_is_the_senders_wall_clock_not_the_decision_clock(
    world: World,
) -> None:
    webhook_id, secret = world.register()
    world.now += 3 * DAY_MS  # the time the backend decides by moved on (a shifted world clock)
    world.delivering.deliver(Delivery(webhook_id, "e", "meeting.created", "{}"), 1, "r")
    headers = world.sender.sent[-1][2]
    assert headers["webhook-timestamp"] == str(world.sending_now // 1000)
    Webhook(secret).verify("{}", headers)  # the receiver's real clock agrees


def test_the_secret_is_stored_sealed_and_only_returned_once(world: World) -> None:
    webhook_id, secret = world.register()
    record = world.store.records[webhook_id]
    assert secret.startswith("whsec_")
    assert secret.encode() not in record.secrets[0].ciphertext
    rotated = world.admin.rotate_secret(ADMIN, webhook_id).secret
    assert rotated != secret
    assert all(secret.encode() not in s.ciphertext for s in world.store.records[webhook_id].secrets)


def test_rotation_keeps_the_old_secret_signing_for_a_day(world: World) -> None:
    webhook_id, old = world.register()
    new = world.admin.rotate_secret(ADMIN, webhook_id).secret
    world.delivering.deliver(Delivery(webhook_id, "evt", "meeting.created", "{}"), 1, "r")
    headers = world.sender.sent[-1][2]
    for secret in (old, new):
        Webhook(secret).verify("{}", headers)
    world.now += SECRET_OVERLAP_MS
    world.delivering.deliver(Delivery(webhook_id, "evt", "meeting.created", "{}"), 1, "r")
    assert len(world.sender.sent[-1][2]["webhook-signature"].split(" ")) == 1


def test_fanout_queues_one_delivery_per_wanting_enabled_subscription(world: World) -> None:
    everything, _ = world.register()
    ended_only, _ = world.register(event_types=["meeting.ended"])
    off, _ = world.register()
    world.admin.update(ADMIN, off, WebhookChange(enabled=False))
    fanout = WebhookFanout(world.store, world.queue, clock=lambda: world.now)
    detail = {"eventId": "e1", "meetingId": "m", "occurredAt": "2026-12-02T17:00:00.000Z"}
    assert fanout.fan_out("meeting.ended", detail, "t", fanout.subscriptions()) == 2
    assert fanout.fan_out("attendee.joined", detail, "t", fanout.subscriptions()) == 1
    assert [d.webhookId for d in world.queue.queued] == [everything, ended_only, everything]
    assert world.queue.queued[0].eventId == "e1"
    assert '"timestamp":"2026-12-02T17:00:00.000Z"' in world.queue.queued[0].body


def test_a_delivery_goes_to_the_address_checked_at_this_attempt(world: World) -> None:
    webhook_id, secret = world.register()
    world.resolver.asked.clear()
    outcome = world.delivering.deliver(Delivery(webhook_id, "e", "meeting.created", "{}"), 1, "r")
    assert outcome is Outcome.DELIVERED
    target, address, headers, _ = world.sender.sent[-1]
    assert (target.host, address, world.resolver.asked) == ("hooks.example.com", PUBLIC,
                                                            ["hooks.example.com"])  # fmt: skip
    Webhook(secret).verify("{}", headers)
    assert world.store.attempts[-1].delivered


def test_dns_rebinding_after_registration_is_refused_at_delivery(world: World) -> None:
    webhook_id, _ = world.register()
    world.resolver.answers["hooks.example.com"] = [ipaddress.ip_address("10.1.2.3")]
    outcome = world.delivering.deliver(Delivery(webhook_id, "e", "meeting.created", "{}"), 1, "r")
    assert outcome is Outcome.MOVED
    assert world.sender.sent == []  # nothing was sent anywhere
    assert (world.store.attempts[-1].error or "").startswith("refused:")


def test_a_first_attempt_that_fails_moves_to_the_retry_lane_due_after_its_backoff(
    world: World,
) -> None:
    webhook_id, _ = world.register()
    world.sender.status_codes = [503]
    delivery = Delivery(webhook_id, "e", "meeting.created", "{}")
    assert world.delivering.deliver(delivery, 1, "r1") is Outcome.MOVED
    assert world.queue.queued == [delivery.to_retry_lane(1)]
    assert world.queue.delays == [RetryPolicy().nominal_wait(1)]
    assert world.queue.visibility == []  # done on the first lane: SQS deletes it there
    assert world.store.attempts[-1].attempt == 1


def test_a_retry_lane_that_refuses_leaves_the_retry_on_the_first_lane(world: World) -> None:
    webhook_id, _ = world.register()
    world.sender.status_codes = [503]
    world.queue.refused_lanes = {Lane.RETRY}
    delivery = Delivery(webhook_id, "e", "meeting.created", "{}")
    assert world.delivering.deliver(delivery, 1, "r1") is Outcome.RETRY
    assert world.queue.visibility == [(Lane.FIRST, "r1", RetryPolicy().nominal_wait(1))]


def test_a_failure_on_the_retry_lane_schedules_the_next_attempt_by_visibility(
    world: World,
) -> None:
    webhook_id, _ = world.register()
    world.sender.status_codes = [503]
    retrying = Delivery(webhook_id, "e", "meeting.created", "{}").to_retry_lane(1)
    outcome = world.delivering.deliver(retrying, 1, "r2")  # its first receive: attempt 2
    assert outcome is Outcome.RETRY
    assert world.queue.visibility == [(Lane.RETRY, "r2", RetryPolicy().nominal_wait(2))]
    attempt = world.store.attempts[-1]
    assert (attempt.statusCode, attempt.attempt, attempt.delivered) == (503, 2, False)
    assert attempt.nextRetryAt == world.now + RetryPolicy().nominal_wait(2) * 1000
    assert world.store.records[webhook_id].failingSince == world.now


def test_the_last_attempt_gives_up_to_the_dead_letter_queue(world: World) -> None:
    webhook_id, _ = world.register()
    world.sender.status_codes = [500]
    last = RetryPolicy().attempts
    outcome = world.delivering.deliver(
        Delivery(webhook_id, "e", "meeting.created", "{}"), last, "r"
    )
    assert outcome is Outcome.GIVE_UP
    assert world.store.attempts[-1].nextRetryAt is None


def test_receives_past_the_schedule_send_nothing_and_go_on_to_the_dead_letters(
    world: World,
) -> None:
    webhook_id, _ = world.register()
    delivery = Delivery(webhook_id, "e", "meeting.created", "{}")
    outcome = world.delivering.deliver(delivery, RetryPolicy().attempts + 1, "r")
    assert outcome is Outcome.GIVE_UP and world.sender.sent == []
    assert world.queue.visibility == [(Lane.FIRST, "r", 0)]


def test_410_disables_the_subscription_and_stops_retrying(world: World) -> None:
    webhook_id, _ = world.register()
    world.sender.status_codes = [410]
    outcome = world.delivering.deliver(Delivery(webhook_id, "e", "meeting.created", "{}"), 1, "r")
    assert outcome is Outcome.DROPPED and world.queue.visibility == []
    record = world.store.records[webhook_id]
    assert (record.enabled, record.disabledReason) == (False, DisabledReason.GONE)
    outcome = world.delivering.deliver(Delivery(webhook_id, "f", "meeting.created", "{}"), 1, "r")
    assert outcome is Outcome.DROPPED and len(world.sender.sent) == 1


def test_a_day_of_failures_disables_and_a_success_in_between_resets(world: World) -> None:
    webhook_id, _ = world.register()
    world.sender.status_codes = [500]
    delivery = Delivery(webhook_id, "e", "meeting.created", "{}")
    retrying = delivery.to_retry_lane(1)
    world.delivering.deliver(delivery, 1, "r")
    world.now += DAY_MS - 1
    world.sender.status_codes = [200]
    world.delivering.deliver(retrying, 1, "r")
    assert world.store.records[webhook_id].failingSince is None
    world.sender.status_codes = [500]
    world.delivering.deliver(retrying, 1, "r")  # on probation: its events take the retry lane
    world.now += DAY_MS
    assert world.delivering.deliver(retrying, 2, "r") is Outcome.DROPPED
    assert world.store.records[webhook_id].disabledReason is DisabledReason.FAILING


def test_ping_and_redeliver_queue_the_same_event_again(world: World) -> None:
    webhook_id, _ = world.register()
    ping = world.admin.ping(ADMIN, webhook_id)
    assert ping.eventType == "webhook.ping" and world.queue.queued == [ping]
    world.delivering.deliver(ping, 1, "r")
    [attempt] = world.admin.deliveries(ADMIN, webhook_id, limit=10, next_token=None).records
    again = world.admin.redeliver(ADMIN, webhook_id, attempt.deliveryId)
    assert (again.eventId, again.body) == (ping.eventId, ping.body)


def test_a_failing_endpoint_waits_on_the_retry_lane_until_it_answers_again(
    world: World,
) -> None:
    failing, _ = world.register()
    healthy, _ = world.register(url="https://hooks.example.com/other")
    world.sender.status_codes = [None]  # a timeout
    first = Delivery(failing, "e1", "meeting.created", "{}")
    assert world.delivering.deliver(first, 1, "r") is Outcome.MOVED
    fanout = WebhookFanout(world.store, world.queue, clock=lambda: world.now)
    fanout.fan_out("meeting.ended", {"eventId": "e2"}, "t", fanout.subscriptions())
    lanes = {(d.webhookId, d.eventId): d.lane for d in world.queue.queued}
    assert lanes[(failing, "e2")] is Lane.RETRY and lanes[(healthy, "e2")] is Lane.FIRST

    # One queued on the first lane before the failure moves over without being attempted.
    sent = len(world.sender.sent)
    queued_earlier = Delivery(failing, "e0", "meeting.created", "{}")
    assert world.delivering.deliver(queued_earlier, 1, "r") is Outcome.MOVED
    assert len(world.sender.sent) == sent and world.queue.queued[-1] == (
        queued_earlier.to_retry_lane(0)
    )

    world.sender.status_codes = [200]
    assert world.delivering.deliver(first.to_retry_lane(1), 1, "r") is Outcome.DELIVERED
    assert world.store.attempts[-1].attempt == 2

    def lane_of_next_event(event_id: str) -> Lane:
        fanout.fan_out("meeting.ended", {"eventId": event_id}, "t", fanout.subscriptions())
        return next(d.lane for d in world.queue.queued[-2:] if d.webhookId == failing)

    # Answering again, it stays on probation a while: a blip does not bring it back at once.
    assert lane_of_next_event("e3") is Lane.RETRY
    world.now += PROBATION_MS
    assert lane_of_next_event("e4") is Lane.FIRST
