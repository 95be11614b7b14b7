"""The AWS clients every adapter uses: created lazily, once per container, with explicit limits.

Created on first use rather than at import, so that tests (moto, the emulator) and the local
stack can set `AWS_ENDPOINT_URL_*` first, and so a cold start pays only for the clients a
function needs. The timeouts and attempts bound one AWS call to well under API Gateway's 30 s:
3 attempts x (2 s connect + 5 s read) plus standard-mode backoff.

They are botocore's clients, which boto3's would only wrap: importing boto3 also imports
s3transfer and multiprocessing, which no function uses (adapters/attribute_values.py converts
the table's items instead of boto3's serializer).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_chime_sdk_media_pipelines import ChimeSDKMediaPipelinesClient
    from mypy_boto3_chime_sdk_meetings import ChimeSDKMeetingsClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

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
def _session() -> botocore.session.Session:
    # One session per container: botocore's default session is shared module state that
    # is not safe to build clients from concurrently.
    return botocore.session.Session()


def _client(service: str, extra: Config | None = None) -> Any:
    config = client_config() if extra is None else client_config().merge(extra)
    return _session().create_client(service, config=config)


# The webhook delivery function's attempts run in threads and reach the table, KMS and SQS
# first from there: a session must not build two clients at once.
_BUILDING = threading.Lock()


@cache
def chime_client() -> ChimeSDKMeetingsClient:
    return cast("ChimeSDKMeetingsClient", _client("chime-sdk-meetings"))


@cache
def dynamodb_client() -> DynamoDBClient:
    with _BUILDING:
        return cast("DynamoDBClient", _client("dynamodb"))


@cache
def events_client() -> Any:
    return _client("events")


@cache
def media_pipelines_client() -> ChimeSDKMediaPipelinesClient:
    return cast("ChimeSDKMediaPipelinesClient", _client("chime-sdk-media-pipelines"))


@cache
def s3_client() -> S3Client:
    # Signature V4 for presigned links (what a KMS-encrypted bucket requires).
    return cast("S3Client", _client("s3", Config(signature_version="s3v4")))


@cache
def kms_client() -> KMSClient:
    with _BUILDING:
        return cast("KMSClient", _client("kms"))


@cache
def sqs_client() -> SQSClient:
    with _BUILDING:
        return cast("SQSClient", _client("sqs"))


def reset_clients() -> None:
    """Forget every cached client: `wiring.reset()` calls it when a new environment (other
    endpoints, other credentials) must be read again, as a new execution environment would."""
    for cached in (
        _session,
        chime_client,
        dynamodb_client,
        events_client,
        media_pipelines_client,
        s3_client,
        kms_client,
        sqs_client,
    ):
        cached.cache_clear()
