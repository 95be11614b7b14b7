"""The boto3 clients every adapter uses: created lazily, once per container, with explicit limits.

Created on first use rather than at import, so that tests (moto, the emulator) and the local
stack can set `AWS_ENDPOINT_URL_*` first, and so a cold start pays only for the clients a
function needs. The timeouts and attempts bound one AWS call to well under API Gateway's 30 s:
3 attempts x (2 s connect + 5 s read) plus standard-mode backoff.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from meetings.deployment import PARTITION_KEY

if TYPE_CHECKING:
    from mypy_boto3_chime_sdk_meetings import ChimeSDKMeetingsClient
    from mypy_boto3_dynamodb import DynamoDBClient

CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 3


def client_config() -> Config:
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        tcp_keepalive=True,
    )


@cache
def _session() -> boto3.session.Session:
    # One session per container: boto3's default session is shared module state that
    # is not safe to build clients from concurrently.
    return boto3.session.Session()


@cache
def chime_client() -> ChimeSDKMeetingsClient:
    return _session().client("chime-sdk-meetings", config=client_config())


@cache
def dynamodb_client() -> DynamoDBClient:
    return _session().client("dynamodb", config=client_config())


@cache
def events_client() -> Any:
    return _session().client("events", config=client_config())


class TableAdapter:
    """An adapter of the project's one table: its name, and a DynamoDB client that is
    injected (tests) or created on first use (the container's shared client)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    def query_partition(self, partition_key: str) -> list[dict[str, Any]]:
        """Every item of one partition, consistently read, across pages."""
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": partition_key}},
            "ConsistentRead": True,
        }
        while True:
            answer: Any = self.client.query(**arguments)
            items.extend(answer.get("Items", []))
            if not answer.get("LastEvaluatedKey"):
                return items
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def reset_clients() -> None:
    """Forget every cached client (tests and the local stack change endpoints between runs)."""
    for cached in (_session, chime_client, dynamodb_client, events_client):
        cached.cache_clear()
