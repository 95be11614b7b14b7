"""Where the idempotent create keeps its records: Powertools' DynamoDB persistence layer on the
project's one table, in a partition of its own (key = caller + Idempotency-Key).

Imported only when a create carries an Idempotency-Key (wiring builds it on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from meetings import deployment

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IDEMPOTENCY_PARTITION: Final = "IDEMPOTENCY#create-meeting"


def persistence_layer(table_name: str, client: DynamoDBClient) -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr=deployment.PARTITION_KEY,
        sort_key_attr=deployment.SORT_KEY,
        static_pk_value=IDEMPOTENCY_PARTITION,
        expiry_attr=deployment.TTL_ATTRIBUTE,
        boto3_client=client,
    )
