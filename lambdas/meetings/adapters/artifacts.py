"""The recordings bucket behind the ArtifactStore port: listings under a prefix,
time-limited download links (SigV4 presigned GETs), and small text objects."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from meetings.adapters import aws_clients
from meetings.adapters.chime import DEFAULT_RETRY_AFTER_SECONDS
from meetings.domain.errors import ThrottledError, UpstreamError, UpstreamUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_THROTTLING = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded"})


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _THROTTLING:
            raise ThrottledError(retry_after=DEFAULT_RETRY_AFTER_SECONDS) from error
        raise UpstreamError(f"S3 {operation} failed: {code or 'unknown error'}") from error
    except BotoCoreError as error:
        raise UpstreamUnavailableError(retry_after=DEFAULT_RETRY_AFTER_SECONDS) from error


class RecordingsBucket:
    """Port: ArtifactStore."""

    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        self._bucket = bucket
        self._client = client

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = aws_clients.s3_client()
        return self._client

    def list_objects(self, prefix: str) -> dict[str, int]:
        found: dict[str, int] = {}
        arguments: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        while True:
            with _translated("ListObjectsV2"):
                answer: Any = self.client.list_objects_v2(**arguments)
            for entry in answer.get("Contents", []):
                found[str(entry["Key"])] = int(entry.get("Size", 0))
            if not answer.get("IsTruncated"):
                return found
            arguments["ContinuationToken"] = answer["NextContinuationToken"]

    def presign_get(self, key: str, expires_in_seconds: int) -> str:
        # Signed locally: no request, no failure but a bad configuration.
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=expires_in_seconds,
            )
        )

    def read_text(self, key: str, max_bytes: int) -> str:
        with _translated("GetObject"):
            answer: Any = self.client.get_object(
                Bucket=self._bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}"
            )
            body: bytes = answer["Body"].read()
        return body.decode("utf-8", errors="replace")
