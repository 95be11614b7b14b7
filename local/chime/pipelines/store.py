"""Where pipelines put their artifacts: an S3 bucket through boto3 (the local stack's moto),
or an in-memory bucket set when the emulator runs without S3."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import ClientError

from local.chime.events import loopback_client


class ArtifactStore(Protocol):
    def bucket_exists(self, bucket: str) -> bool: ...

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class S3ArtifactStore:
    """Objects written with PutObject, as the media pipelines service writes them."""

    def __init__(
        self, endpoint_url: str | None = None, region: str = "us-east-1", *, client: Any = None
    ) -> None:
        """Pass an `s3` client, or the endpoint to build one for (loopback moto)."""
        self._client = client or loopback_client(
            "s3",
            endpoint_url,
            region,
            Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 3}),
        )

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self._client.head_bucket(Bucket=bucket)
        except ClientError:
            return False
        return True

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


class MemoryArtifactStore:
    """Every bucket exists; objects are kept in memory (`objects`, by bucket and key)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}

    def bucket_exists(self, bucket: str) -> bool:
        return True

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        with self._lock:
            self.objects[(bucket, key)] = (body, content_type)

    def clear(self) -> None:
        with self._lock:
            self.objects.clear()

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(key for b, key in self.objects if b == bucket and key.startswith(prefix))

    def get(self, bucket: str, key: str) -> bytes:
        with self._lock:
            return self.objects[(bucket, key)][0]
