"""The webhooks admin API through the real handler, against moto (DynamoDB, KMS, SQS): admins
only, clear 400s, the secret shown once and stored only as KMS ciphertext bound to its
webhook, never logged; a queued ping delivered by the real delivery handler to a loopback
receiver and verified with the Standard Webhooks library."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from standardwebhooks import Webhook

from local.lambda_runtime import forget_cached_state
from tests.integration.conftest import REGION, TABLE_NAME, ApiAnswer, Caller, lambda_context
from tests.integration.test_api_logging import debug_logging

__all__ = ["debug_logging"]  # the fixture, shared with the API's log-hygiene test

Api = Callable[..., ApiAnswer]
ADMIN = Caller("root", ["admins"])
ALICE = Caller("alice")
HOOK_URL = "http://127.0.0.1:9/hook"  # loopback, as the local stack allows; never called


@pytest.fixture
def webhooks(api: Api, table: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """moto's KMS key and deliveries queue, named in the functions' environment."""
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="webhook-deliveries")["QueueUrl"]
    retry_url = sqs.create_queue(QueueName="webhook-retries")["QueueUrl"]
    monkeypatch.setenv("WEBHOOK_KEY_ID", key_id)
    monkeypatch.setenv("WEBHOOK_DELIVERY_QUEUE_URL", queue_url)
    monkeypatch.setenv("WEBHOOK_RETRY_QUEUE_URL", retry_url)
    monkeypatch.setenv("WEBHOOK_TARGETS", "loopback")
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "1")
    forget_cached_state()
    return {"key_id": key_id, "queue_url": queue_url, "retry_url": retry_url, "sqs": sqs,
            "table": table}  # fmt: skip


def _create(api: Api, **body: Any) -> ApiAnswer:
    return api(
        "POST", "/webhooks", caller=ADMIN, body={"url": HOOK_URL, "eventTypes": ["*"]} | body
    )


def test_create_shows_the_secret_once_and_stores_it_sealed_by_kms(
    api: Api, webhooks: dict[str, Any]
) -> None:
    created = _create(api, description="billing")
    assert created.status == 201 and created.headers.get("cache-control") == "no-store"
    secret, webhook = created.body["secret"], created.body["webhook"]
    assert secret.startswith("whsec_") and webhook["enabled"] is True
    webhook_id = webhook["webhookId"]
    for answer in (
        api("GET", f"/webhooks/{webhook_id}", caller=ADMIN),
        api("GET", "/webhooks", caller=ADMIN),
        api("PATCH", f"/webhooks/{webhook_id}", caller=ADMIN, body={"description": "x"}),
    ):
        assert answer.status == 200 and secret not in json.dumps(answer.body)
        assert 'secret"' not in json.dumps(answer.body)

    item = webhooks["table"].get_item(
        TableName=TABLE_NAME, Key={"pk": {"S": "WEBHOOKS"}, "sk": {"S": f"WEBHOOK#{webhook_id}"}}
    )["Item"]
    assert secret not in json.dumps(item, default=str)
    sealed = item["secrets"]["L"][0]["M"]["ciphertext"]["B"]
    kms = boto3.client("kms", region_name=REGION)
    opened = kms.decrypt(CiphertextBlob=sealed, EncryptionContext={"webhookId": webhook_id})
    assert Webhook(secret)._whsecret == opened["Plaintext"]
    with pytest.raises(ClientError):  # bound to its webhook
        kms.decrypt(CiphertextBlob=sealed, EncryptionContext={"webhookId": "wh_other"})


def test_only_admins_may_use_any_webhook_route(api: Api, webhooks: dict[str, Any]) -> None:
    webhook_id = _create(api).body["webhook"]["webhookId"]
    routes = [
        ("POST", "/webhooks", {"url": HOOK_URL, "eventTypes": ["*"]}),
        ("GET", "/webhooks", None),
        ("GET", f"/webhooks/{webhook_id}", None),
        ("PATCH", f"/webhooks/{webhook_id}", {"enabled": False}),
        ("DELETE", f"/webhooks/{webhook_id}", None),
        ("POST", f"/webhooks/{webhook_id}/rotate-secret", None),
        ("POST", f"/webhooks/{webhook_id}/ping", None),
        ("GET", f"/webhooks/{webhook_id}/deliveries", None),
    ]
    for method, path, body in routes:
        answer = api(method, path, caller=ALICE, body=body)
        assert (answer.status, answer.error_code) == (403, "FORBIDDEN"), (method, path)
    assert api("GET", f"/webhooks/{webhook_id}", caller=ADMIN).body["webhook"]["enabled"]


BAD_REGISTRATIONS = [
    ({"url": HOOK_URL, "eventTypes": ["meeting.exploded"]}, "eventTypes"),
    ({"url": HOOK_URL, "eventTypes": []}, "eventTypes"),
    ({"url": "https://10.0.0.1/hook", "eventTypes": ["*"]}, "url"),
    ({"url": "https://2130706433/hook", "eventTypes": ["*"]}, "url"),
    ({"url": "http://example.com/hook", "eventTypes": ["*"]}, "url"),
    ({"url": "https://user:pw@127.0.0.1/", "eventTypes": ["*"]}, "url"),
    ({"url": HOOK_URL, "eventTypes": ["*"], "description": "d" * 257}, "description"),
    ({"url": HOOK_URL, "eventTypes": ["*"], "secret": "mine"}, "secret"),
]


def test_bad_registrations_are_clear_400s_that_change_nothing(
    api: Api, webhooks: dict[str, Any]
) -> None:
    for body, named in BAD_REGISTRATIONS:
        answer = api("POST", "/webhooks", caller=ADMIN, body=body)
        assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR"), body
        assert named in json.dumps(answer.body["error"]), body
    assert api("GET", "/webhooks", caller=ADMIN).body["webhooks"] == []


def test_unknown_ids_are_404_and_delete_removes(api: Api, webhooks: dict[str, Any]) -> None:
    missing = "wh_" + "0" * 24
    assert api("GET", f"/webhooks/{missing}", caller=ADMIN).error_code == "WEBHOOK_NOT_FOUND"
    assert api("GET", "/webhooks/not-an-id", caller=ADMIN).status == 400
    webhook_id = _create(api).body["webhook"]["webhookId"]
    redeliver = f"/webhooks/{webhook_id}/deliveries/1796233037893-b3757d85cec5/redeliver"
    assert api("POST", redeliver, caller=ADMIN).error_code == "DELIVERY_NOT_FOUND"
    assert api("DELETE", f"/webhooks/{webhook_id}", caller=ADMIN).status == 204
    assert api("DELETE", f"/webhooks/{webhook_id}", caller=ADMIN).status == 404


def test_disabling_by_patch_stops_pings_until_enabled(api: Api, webhooks: dict[str, Any]) -> None:
    webhook_id = _create(api).body["webhook"]["webhookId"]
    off = api("PATCH", f"/webhooks/{webhook_id}", caller=ADMIN, body={"enabled": False})
    assert (off.body["webhook"]["enabled"], off.body["webhook"]["disabledReason"]) == (
        False,
        "admin",
    )
    assert api("POST", f"/webhooks/{webhook_id}/ping", caller=ADMIN).error_code == "CONFLICT"
    on = api("PATCH", f"/webhooks/{webhook_id}", caller=ADMIN, body={"enabled": True})
    assert on.body["webhook"]["disabledReason"] is None
    assert api("POST", f"/webhooks/{webhook_id}/ping", caller=ADMIN).status == 202


@dataclass
class Receiver:
    url: str
    received: list[tuple[dict[str, str], str]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    statuses: list[int] = []
    received: list[tuple[dict[str, str], str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"])).decode()
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/in", received, statuses)
    server.shutdown()
    server.server_close()


def _sqs_event(sqs: Any, queue_url: str) -> dict[str, Any]:
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=5
    )["Messages"]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:webhook-deliveries",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@pytest.mark.usefixtures("debug_logging")
def test_rotated_secrets_sign_a_ping_and_no_secret_reaches_a_log_line(
    api: Api,
    webhooks: dict[str, Any],
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from meetings.handlers.webhook_delivery import handler  # noqa: PLC0415 - after the env

    url, received = receiver.url, receiver.received
    created = _create(api, url=url)
    webhook_id, first = created.body["webhook"]["webhookId"], created.body["secret"]
    rotated = api("POST", f"/webhooks/{webhook_id}/rotate-secret", caller=ADMIN)
    assert rotated.status == 200 and rotated.body["webhook"]["secretRotatedOutUntil"]
    second = rotated.body["secret"]
    ping = api("POST", f"/webhooks/{webhook_id}/ping", caller=ADMIN)
    assert ping.status == 202 and ping.body["eventType"] == "webhook.ping"

    answer = handler(_sqs_event(webhooks["sqs"], webhooks["queue_url"]), lambda_context())
    assert answer == {"batchItemFailures": []}
    [(headers, body)] = received
    for secret in (first, second):
        assert Webhook(secret).verify(body, headers)["type"] == "webhook.ping"
    assert headers["webhook-id"] == ping.body["eventId"]
    log = api("GET", f"/webhooks/{webhook_id}/deliveries", caller=ADMIN).body["deliveries"]
    assert [(d["eventId"], d["statusCode"], d["delivered"]) for d in log] == [
        (ping.body["eventId"], 200, True)
    ]

    # Every field of every record (Powertools' `extra` included), and the printed lines.
    fields = [json.dumps(vars(record), default=str) for record in caplog.records]
    logged = capsys.readouterr().out + "\n".join(fields)
    audits = [(getattr(r, "audit", None), getattr(r, "actor", None)) for r in caplog.records]
    assert ("rotate-secret", "root") in audits and ("create", "root") in audits
    for secret in (first, second):
        assert secret not in logged and secret.removeprefix("whsec_") not in logged
    assert "whsec_" not in logged


def test_a_failed_first_attempt_continues_on_the_retry_lane_with_the_same_event(
    api: Api, webhooks: dict[str, Any], receiver: Receiver
) -> None:
    from meetings.handlers.webhook_delivery import handler  # noqa: PLC0415 - after the env

    receiver.statuses.append(503)
    webhook_id = _create(api, url=receiver.url).body["webhook"]["webhookId"]
    ping = api("POST", f"/webhooks/{webhook_id}/ping", caller=ADMIN).body
    sqs = webhooks["sqs"]
    # Done on the first lane (SQS deletes it there), due again on the retry lane.
    first = handler(_sqs_event(sqs, webhooks["queue_url"]), lambda_context())
    assert first == {"batchItemFailures": []}
    retry_event = _sqs_event(sqs, webhooks["retry_url"])  # visible after its 1 s backoff
    [message] = [json.loads(r["body"]) for r in retry_event["Records"]]
    assert (message["lane"], message["priorAttempts"], message["eventId"]) == (
        "retry",
        1,
        ping["eventId"],
    )
    assert handler(retry_event, lambda_context()) == {"batchItemFailures": []}
    log = api("GET", f"/webhooks/{webhook_id}/deliveries", caller=ADMIN).body["deliveries"]
    assert [(d["attempt"], d["statusCode"]) for d in log] == [(2, 200), (1, 503)]
    assert {h["webhook-id"] for h, _ in receiver.received} == {ping["eventId"]}
