"""Webhook secrets sealed with KMS (port: SecretCipher).

The encryption context names the webhook, so a ciphertext copied onto another subscription's
item does not decrypt there (and CloudTrail shows which webhook each Decrypt was for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from meetings.adapters import aws_clients
from meetings.deployment import WEBHOOK_ENCRYPTION_CONTEXT_KEY
from meetings.domain.errors import UpstreamUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

CONTEXT_KEY: Final = WEBHOOK_ENCRYPTION_CONTEXT_KEY


class KmsSecretCipher:
    def __init__(self, key_id: str, client: KMSClient | None = None) -> None:
        self.key_id = key_id
        self._client = client

    @property
    def client(self) -> KMSClient:
        if self._client is None:
            self._client = aws_clients.kms_client()
        return self._client

    def seal(self, webhook_id: str, secret: bytes) -> bytes:
        if not self.key_id:
            raise UpstreamUnavailableError("webhooks are not configured (WEBHOOK_KEY_ID)")
        try:
            answer = self.client.encrypt(
                KeyId=self.key_id,
                Plaintext=secret,
                EncryptionContext={CONTEXT_KEY: webhook_id},
            )
        except (BotoCoreError, ClientError) as error:
            raise UpstreamUnavailableError("the key service failed, retry later") from error
        return answer["CiphertextBlob"]

    def open(self, webhook_id: str, sealed: bytes) -> bytes:
        # Errors propagate: a delivery that cannot sign is retried like any failed attempt.
        answer = self.client.decrypt(
            CiphertextBlob=sealed, EncryptionContext={CONTEXT_KEY: webhook_id}
        )
        return answer["Plaintext"]
