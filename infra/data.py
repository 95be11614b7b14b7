"""The single DynamoDB table, built from the key schema the code and the local stack share."""

from __future__ import annotations

from typing import Final

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct
from meetings import deployment

from infra.acknowledgments import acknowledge_scan
from infra.config import MeetingsConfig

AWS_MANAGED_KEY_REASON: Final = (
    "Encrypted at rest with the AWS managed key for DynamoDB: every use is in CloudTrail, "
    "with no key policy to run and no KMS permission in any role. The one secret the table "
    "holds, a webhook's signing secret, is already encrypted under the stack's own customer "
    "managed key before it is written."
)


def _string_key(name: str) -> dynamodb.Attribute:
    # Every key attribute of the table is a string (see meetings.deployment).
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class MeetingsTable(Construct):
    """On-demand, point-in-time recovery, TTL, encrypted, with a stream feeding the publisher."""

    def __init__(self, scope: Construct, construct_id: str, *, config: MeetingsConfig) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_string_key(deployment.PARTITION_KEY),
            sort_key=_string_key(deployment.SORT_KEY),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=deployment.TTL_ATTRIBUTE,
            stream=dynamodb.StreamViewType(deployment.STREAM_VIEW_TYPE),
            # The AWS managed key: encrypted at rest and every use visible in CloudTrail,
            # with no key policy to run and no extra permissions for the functions.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=config.stateful_removal_policy,
            # A retained table must not be deletable by a stray console click either.
            deletion_protection=config.removal_policy == "retain",
        )
        acknowledge_scan(self.table, "CKV_AWS_119", AWS_MANAGED_KEY_REASON)
        for index_name, (partition_key, sort_key) in deployment.GLOBAL_INDEXES.items():
            self.table.add_global_secondary_index(
                index_name=index_name,
                partition_key=_string_key(partition_key),
                sort_key=_string_key(sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        for index_name, sort_key in deployment.LOCAL_INDEXES.items():
            self.table.add_local_secondary_index(
                index_name=index_name,
                sort_key=_string_key(sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )
