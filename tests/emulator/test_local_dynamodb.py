"""The local stack's DynamoDB (moto, patched in local/aws_services.py) is as strict as DynamoDB
where the backend depends on it: overlapping transactions conflict, plain writes into an
in-flight transaction fail, and item and key sizes are capped. Driven with a stock boto3
client over HTTP, as the handlers reach it.

Interleavings are forced, never hoped for: the in-flight hook holds a transaction in flight
until the test has made its conflicting request.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from meetings import deployment

from local.aws_services import LocalAwsServices

TABLE = "strict-table"
ONGOING = "Transaction is ongoing for the item"
ITEM_LIMIT = 400 * 1024
HASH_TOO_LONG = (
    "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size "
    "limit of2048 bytes"
)
RANGE_TOO_LONG = (
    "One or more parameter values were invalid: Aggregated size of all range keys has exceeded "
    "the size limit of 1024 bytes"
)


@pytest.fixture(scope="module")
def services() -> Iterator[LocalAwsServices]:
    aws = LocalAwsServices("127.0.0.1", 0)
    aws.start()
    client = _client(aws.url)
    client.create_table(**deployment.table_definition(TABLE))
    yield aws
    aws.stop()


def _client(url: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def ddb(services: LocalAwsServices) -> Any:
    return _client(services.url)


@pytest.fixture
def pk() -> str:
    return f"TEST#{uuid.uuid4()}"


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _put(pk: str, sk: str, **attributes: Any) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {**_key(pk, sk), **attributes}}}


def _get(ddb: Any, pk: str, sk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = ddb.get_item(
        TableName=TABLE, Key=_key(pk, sk), ConsistentRead=True
    ).get("Item")
    return item


def _stream_length(ddb: Any, services: LocalAwsServices) -> int:
    streams = boto3.client(
        "dynamodbstreams",
        endpoint_url=services.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return len(streams.get_records(ShardIterator=iterator, Limit=1000)["Records"])


@contextmanager
def in_flight(services: LocalAwsServices, ddb: Any, items: list[dict[str, Any]]) -> Iterator[Any]:
    """Run a TransactWriteItems on another thread and hold it in flight (its items registered,
    not yet written) until the block ends; yields its outcome, filled in after the block."""
    entered, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold(_: object) -> None:
        if not entered.is_set():  # only the first transaction is held
            entered.set()
            release.wait(30)

    def run() -> None:
        try:
            ddb.transact_write_items(TransactItems=items)
            outcome["ok"] = True
        except ClientError as error:
            outcome["error"] = error

    services.dynamodb.in_flight_hook = hold
    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert entered.wait(30), "the transaction never went in flight"
        yield outcome
    finally:
        release.set()
        thread.join(30)
        services.dynamodb.in_flight_hook = None


# --- transactions in flight -----------------------------------------------------------------
def test_overlapping_transaction_is_cancelled_with_transaction_conflict(
    services: LocalAwsServices, ddb: Any, pk: str
) -> None:
    with (
        in_flight(services, ddb, [_put(pk, "A", n={"N": "1"})]) as first,
        pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled,
    ):
        ddb.transact_write_items(
            TransactItems=[
                _put(pk, "B"),
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key(pk, "A"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    answer = cancelled.value.response
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, TransactionConflict]"
    )
    assert answer["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "TransactionConflict", "Message": ONGOING},
    ]
    assert first == {"ok": True}
    assert _get(ddb, pk, "A") is not None, "the transaction in flight completes"
    assert _get(ddb, pk, "B") is None, "the cancelled transaction wrote nothing"


@pytest.mark.parametrize("write", ["put_item", "update_item", "delete_item"])
def test_plain_write_to_an_item_in_flight_fails_with_transaction_conflict_exception(
    services: LocalAwsServices, ddb: Any, pk: str, write: str
) -> None:
    ddb.put_item(TableName=TABLE, Item={**_key(pk, "A"), "n": {"N": "0"}})
    update = {
        "Update": {
            "TableName": TABLE,
            "Key": _key(pk, "A"),
            "UpdateExpression": "SET n = :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    calls = {
        "put_item": lambda: ddb.put_item(TableName=TABLE, Item={**_key(pk, "A"), "n": {"N": "9"}}),
        "update_item": lambda: ddb.update_item(
            TableName=TABLE,
            Key=_key(pk, "A"),
            UpdateExpression="SET n = :nine",
            ExpressionAttributeValues={":nine": {"N": "9"}},
        ),
        "delete_item": lambda: ddb.delete_item(TableName=TABLE, Key=_key(pk, "A")),
    }
    with in_flight(services, ddb, [update]) as first:
        with pytest.raises(ddb.exceptions.TransactionConflictException) as refused:
            calls[write]()
        # Reads are served while the transaction is in flight: the state before it.
        assert _get(ddb, pk, "A") == {**_key(pk, "A"), "n": {"N": "0"}}
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"] == {"Code": "TransactionConflictException", "Message": ONGOING}
    assert first == {"ok": True}
    assert _get(ddb, pk, "A") == {**_key(pk, "A"), "n": {"N": "1"}}


def test_transactions_on_other_items_do_not_conflict(
    services: LocalAwsServices, ddb: Any, pk: str
) -> None:
    with in_flight(services, ddb, [_put(pk, "A")]) as first:
        # Same partition, other items: no conflict, and it completes while the first waits.
        ddb.transact_write_items(TransactItems=[_put(pk, "B"), _put(pk, "C")])
        ddb.put_item(TableName=TABLE, Item=_key(pk, "D"))
        assert _get(ddb, pk, "B") is not None
        assert _get(ddb, pk, "A") is None
    assert first == {"ok": True}
    assert _get(ddb, pk, "A") is not None


def test_the_item_is_free_again_once_the_transaction_is_done(
    services: LocalAwsServices, ddb: Any, pk: str
) -> None:
    with in_flight(services, ddb, [_put(pk, "A")]) as first:
        pass
    assert first == {"ok": True}
    ddb.transact_write_items(TransactItems=[_put(pk, "A", n={"N": "2"})])
    ddb.put_item(TableName=TABLE, Item={**_key(pk, "A"), "n": {"N": "3"}})
    assert _get(ddb, pk, "A") == {**_key(pk, "A"), "n": {"N": "3"}}


def test_a_cancelled_transaction_in_flight_frees_its_items(
    services: LocalAwsServices, ddb: Any, pk: str
) -> None:
    failing = {
        "ConditionCheck": {
            "TableName": TABLE,
            "Key": _key(pk, "A"),
            "ConditionExpression": "attribute_exists(pk)",
        }
    }
    with in_flight(services, ddb, [failing, _put(pk, "B")]) as first:
        pass
    assert first["error"].response["CancellationReasons"][0]["Code"] == "ConditionalCheckFailed"
    ddb.put_item(TableName=TABLE, Item=_key(pk, "B"))


# --- size limits ----------------------------------------------------------------------------
def _filler(pk: str, sk: str, total: int) -> dict[str, Any]:
    """An item of exactly `total` bytes by DynamoDB's rules (names + UTF-8 values)."""
    fixed = len("pk") + len(pk.encode()) + len("sk") + len(sk.encode()) + len("d")
    return {**_key(pk, sk), "d": {"S": "x" * (total - fixed)}}


def test_an_item_of_exactly_400_kb_is_accepted_and_one_byte_more_refused(ddb: Any, pk: str) -> None:
    ddb.put_item(TableName=TABLE, Item=_filler(pk, "A", ITEM_LIMIT))
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName=TABLE, Item=_filler(pk, "B", ITEM_LIMIT + 1))
    assert refused.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Item size has exceeded the maximum allowed size",
    }
    assert _get(ddb, pk, "B") is None


def test_an_update_that_makes_the_item_too_large_is_refused_and_changes_nothing(
    services: LocalAwsServices, ddb: Any, pk: str
) -> None:
    ddb.put_item(TableName=TABLE, Item=_filler(pk, "A", ITEM_LIMIT - 10))
    before, records = _get(ddb, pk, "A"), _stream_length(ddb, services)
    with pytest.raises(ClientError) as refused:
        ddb.update_item(
            TableName=TABLE,
            Key=_key(pk, "A"),
            UpdateExpression="SET e = :e",
            ExpressionAttributeValues={":e": {"S": "y" * 20}},
        )
    assert refused.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Item size to update has exceeded the maximum allowed size",
    }
    assert _get(ddb, pk, "A") == before
    assert _stream_length(ddb, services) == records, "no stream record for a refused write"


def test_a_transaction_with_an_oversized_put_is_refused_whole(ddb: Any, pk: str) -> None:
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(
            TransactItems=[
                _put(pk, "A"),
                {"Put": {"TableName": TABLE, "Item": _filler(pk, "B", ITEM_LIMIT + 1)}},
            ]
        )
    assert refused.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Item size has exceeded the maximum allowed size",
    }
    assert _get(ddb, pk, "A") is None, "nothing of the transaction was written"


def test_a_transaction_whose_update_outgrows_the_limit_is_cancelled_whole(
    services: LocalAwsServices, ddb: Any, pk: str
) -> None:
    ddb.put_item(TableName=TABLE, Item=_filler(pk, "B", ITEM_LIMIT - 10))
    ddb.put_item(TableName=TABLE, Item={**_key(pk, "C"), "n": {"N": "1"}})
    records = _stream_length(ddb, services)
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                _put(pk, "A"),
                {"Delete": {"TableName": TABLE, "Key": _key(pk, "C")}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key(pk, "B"),
                        "UpdateExpression": "SET e = :e",
                        "ExpressionAttributeValues": {":e": {"S": "y" * 20}},
                    }
                },
            ]
        )
    assert cancelled.value.response["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "None"},
        {
            "Code": "ValidationError",
            "Message": "Item size to update has exceeded the maximum allowed size",
        },
    ]
    assert _get(ddb, pk, "A") is None
    assert _get(ddb, pk, "C") == {**_key(pk, "C"), "n": {"N": "1"}}
    assert "e" not in (_get(ddb, pk, "B") or {})
    assert _stream_length(ddb, services) == records


def test_partition_and_sort_keys_at_the_limit_are_accepted(ddb: Any) -> None:
    # Multi-byte characters: the limits are in UTF-8 bytes, not characters.
    ddb.put_item(TableName=TABLE, Item=_key("é" * 1024, "é" * 512))
    assert _get(ddb, "é" * 1024, "é" * 512) is not None


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("put partition key", HASH_TOO_LONG),
        ("put sort key", RANGE_TOO_LONG),
        ("update sort key", RANGE_TOO_LONG),
        ("transaction put sort key", RANGE_TOO_LONG),
        ("transaction update sort key", RANGE_TOO_LONG),
        ("put GSI partition key", HASH_TOO_LONG),
        ("update GSI sort key", RANGE_TOO_LONG),
        ("update LSI sort key", RANGE_TOO_LONG),
        ("transaction update GSI partition key", HASH_TOO_LONG),
    ],
)
def test_keys_over_the_limits_are_refused(ddb: Any, pk: str, how: str, message: str) -> None:
    long_pk, long_sk = "é" * 1025, "é" * 513  # 2050 and 1026 bytes
    ddb.put_item(TableName=TABLE, Item=_key(pk, "A"))

    def set_attribute(name: str, value: str) -> dict[str, Any]:
        return {
            "TableName": TABLE,
            "Key": _key(pk, "A"),
            "UpdateExpression": "SET #a = :v",
            "ExpressionAttributeNames": {"#a": name},
            "ExpressionAttributeValues": {":v": {"S": value}},
        }

    def update_key(sk: str) -> dict[str, Any]:
        return {
            "TableName": TABLE,
            "Key": _key(pk, sk),
            "UpdateExpression": "SET n = :n",
            "ExpressionAttributeValues": {":n": {"N": "1"}},
        }

    attempts = {
        "put partition key": lambda: ddb.put_item(TableName=TABLE, Item=_key(long_pk, "A")),
        "put sort key": lambda: ddb.put_item(TableName=TABLE, Item=_key(pk, long_sk)),
        "update sort key": lambda: ddb.update_item(**update_key(long_sk)),
        "transaction put sort key": lambda: ddb.transact_write_items(
            TransactItems=[_put(pk, "B"), _put(pk, long_sk)]
        ),
        "transaction update sort key": lambda: ddb.transact_write_items(
            TransactItems=[_put(pk, "B"), {"Update": update_key(long_sk)}]
        ),
        "put GSI partition key": lambda: ddb.put_item(
            TableName=TABLE, Item={**_key(pk, "A"), deployment.HOST_INDEX_PK: {"S": long_pk}}
        ),
        "update GSI sort key": lambda: ddb.update_item(
            **set_attribute(deployment.OPEN_INDEX_SK, long_sk)
        ),
        "update LSI sort key": lambda: ddb.update_item(
            **set_attribute(deployment.ROSTER_INDEX_SK, long_sk)
        ),
        "transaction update GSI partition key": lambda: ddb.transact_write_items(
            TransactItems=[
                _put(pk, "B"),
                {"Update": set_attribute(deployment.DUE_INDEX_PK, long_pk)},
            ]
        ),
    }
    with pytest.raises(ClientError) as refused:
        attempts[how]()
    error = refused.value.response["Error"]
    reasons = refused.value.response.get("CancellationReasons")
    if reasons:  # a transaction's update refused after the fact cancels the transaction
        assert {"Code": "ValidationError", "Message": message} in reasons
    else:
        assert error == {"Code": "ValidationException", "Message": message}
    assert _get(ddb, pk, "B") is None, "nothing of a refused transaction was written"
    assert _get(ddb, pk, "A") == _key(pk, "A"), "the item is unchanged"
