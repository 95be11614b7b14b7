"""Recordings: the bucket Chime's media pipelines write into, who may touch it, and the alarm.

Chime facts this relies on (Amazon Chime SDK developer guide, "Creating an Amazon S3 bucket
for media capture pipelines" and "Building a media concatenation pipeline"): the sink bucket
is in the meeting's account; its policy must let `mediapipelines.chime.amazonaws.com` put
objects (and, for concatenation, read and list the capture's chunks), conditioned on
`aws:SourceAccount` and `aws:SourceArn`; the caller of a create reads that policy with its own
credentials (s3:GetBucketPolicy). Pipeline state changes arrive as `Chime Media Pipeline State
Change` events through the existing Chime rule (deployment.CHIME_EVENT_PATTERN).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import CfnElement, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct
from meetings import deployment
from meetings.observability import METRICS_NAMESPACE, SERVICE_NAME

from infra.acknowledgments import acknowledge, acknowledge_scan
from infra.config import MeetingsConfig
from infra.function import MeetingsFunction
from infra.observability import PERIOD, AlarmSpec
from infra.permissions import recording_statements, recordings_objects

MEDIA_PIPELINES_PRINCIPAL: Final = "mediapipelines.chime.amazonaws.com"
# Declared only with `createServiceLinkedRoles` (see docs/deploy.md): service → role name.
SERVICE_LINKED_ROLES: Final = {
    MEDIA_PIPELINES_PRINCIPAL: "AWSServiceRoleForAmazonChimeSDKMediaPipelines",
    "transcription.chime.amazonaws.com": "AWSServiceRoleForAmazonChimeTranscription",
}
# What the functions count when Chime reports a pipeline's permanent failure (a Count in the
# functions' namespace, dimension `service`, like every `count(...)` of the code).
RECORDINGS_FAILED_METRIC: Final = "RecordingsFailed"
# Chime's pipelines upload chunks; an upload it abandons would be billed until removed.
ABANDONED_UPLOAD_DAYS: Final = 1
RECORDINGS_OBJECTS_REASON: Final = (
    "Recording objects are written by Chime under keys it chooses below "
    "recordings/<meetingId>/<recordingId>/, so the role can name them only by that prefix "
    "of the recordings bucket, nothing else."
)
UNVERSIONED_RECORDINGS_REASON: Final = (
    "Unversioned on purpose: Chime writes each chunk and each concatenated file under a key "
    "of its own and no function may put or delete objects, so there is nothing to restore; "
    "and the lifecycle's expiry must really delete, where versioning would keep noncurrent "
    "copies past recordingRetentionDays."
)
UNVERSIONED_ACCESS_LOGS_REASON: Final = (
    "S3 writes each access-log object once, under a key of its own, and nothing rewrites "
    "them; the lifecycle's expiry must really delete, where versioning would keep noncurrent "
    "copies past logRetentionDays."
)
ACCESS_LOGS_NOT_LOGGED_REASON: Final = (
    "This is the bucket that receives the recordings bucket's server access logs: logging "
    "it into itself would log its own log writes, and into another bucket would need a "
    "bucket of logs of logs. Only S3's log delivery writes it."
)


class MediaRecording(Construct):
    """The recordings bucket (with its access-log bucket), the optional service-linked roles,
    and, once the functions exist (`connect`), their S3 statements."""

    def __init__(self, scope: Construct, construct_id: str, *, config: MeetingsConfig) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = private_bucket(
            self,
            "AccessLogs",
            config=config,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs", expiration=Duration.days(config.log_retention_days)
                )
            ],
        )
        self.bucket = private_bucket(
            self,
            "Bucket",
            config=config,
            # Unversioned: Chime writes each chunk and each concatenated file under a key of
            # its own, no function may put or delete objects, and expiry must really delete.
            versioned=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="recordings-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireRecordings",
                    prefix=f"{deployment.RECORDINGS_PREFIX}/",
                    expiration=Duration.days(config.recording_retention_days),
                ),
                s3.LifecycleRule(
                    id="AbortAbandonedUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(ABANDONED_UPLOAD_DAYS),
                ),
            ],
        )
        acknowledge_scan(self.access_logs, "CKV_AWS_21", UNVERSIONED_ACCESS_LOGS_REASON)
        acknowledge_scan(self.access_logs, "CKV_AWS_18", ACCESS_LOGS_NOT_LOGGED_REASON)
        acknowledge_scan(self.bucket, "CKV_AWS_21", UNVERSIONED_RECORDINGS_REASON)
        self._allow_media_pipelines()
        self.service_linked_roles = (
            self._service_linked_roles() if config.create_service_linked_roles else []
        )

    def _allow_media_pipelines(self) -> None:
        """Chime writes capture chunks and concatenated files under the prefix, and reads and
        lists the chunks to concatenate them; only pipelines of this account may."""
        stack = Stack.of(self)
        # The developer guide's condition: this account's Chime resources in any region. Which
        # ARN Chime presents as aws:SourceArn is not documented (a pipeline's, or the meeting's
        # region-less `arn:aws:chime::<account>:meeting:<id>`), and a narrower guess would fail
        # every create with "S3 Bucket policy not valid/present for Sink".
        conditions = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:chime:*:{stack.account}:*"},
        }
        principal = iam.ServicePrincipal(MEDIA_PIPELINES_PRINCIPAL)
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ChimeMediaPipelinesObjects",
                principals=[principal],
                # PutObjectAcl: the guide's required pair; with ACLs disabled on this bucket
                # (bucket owner enforced) it can change nothing.
                actions=["s3:PutObject", "s3:PutObjectAcl", "s3:GetObject"],
                resources=[recordings_objects(self.bucket)],
                conditions=conditions,
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ChimeMediaPipelinesList",
                principals=[principal],
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions=conditions,
            )
        )

    def _service_linked_roles(self) -> list[iam.CfnServiceLinkedRole]:
        roles = []
        for service, role_name in SERVICE_LINKED_ROLES.items():
            role = iam.CfnServiceLinkedRole(
                self, role_name.removeprefix("AWSServiceRoleFor"), aws_service_name=service
            )
            # One per account, shared by every stage and anything else using Chime: deleting
            # this stack must not take it away from them.
            role.apply_removal_policy(RemovalPolicy.RETAIN)
            roles.append(role)
        return roles

    def connect(self, functions: Mapping[str, MeetingsFunction]) -> None:
        """Each function's S3 statements on the recordings bucket and prefix."""
        bucket_resource = self.bucket.node.default_child
        assert isinstance(bucket_resource, CfnElement)
        bucket = Stack.of(self).get_logical_id(bucket_resource)
        for function in functions.values():
            statements = recording_statements(function.name, self.bucket)
            function.grant(*statements)
            if any("s3:GetObject" in s.actions for s in statements):
                acknowledge(
                    function.role,
                    f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{deployment.RECORDINGS_PREFIX}/*]",
                    RECORDINGS_OBJECTS_REASON,
                )

    @property
    def alarms(self) -> list[AlarmSpec]:
        failed = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=RECORDINGS_FAILED_METRIC,
            dimensions_map={"service": SERVICE_NAME},
            period=PERIOD,
            statistic="Sum",
        )
        return [AlarmSpec("RecordingsFailed", failed, 1, "recordings failed in 5 minutes")]


def private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    config: MeetingsConfig,
    object_ownership: s3.ObjectOwnership = s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    **options: Any,
) -> s3.Bucket:
    """A bucket as every bucket of the stack is made: SSE-S3, no public access, ACLs off
    (unless a log writer that needs them asks otherwise), TLS only, the config's removal policy.

    SSE-S3: Chime's pipelines write and concatenate with no key policy to grant, and a
    download link needs only s3:GetObject (SSE-KMS would add kms:Decrypt for every reader and
    a key policy naming Chime's principal for every pipeline)."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=object_ownership,
        enforce_ssl=True,
        removal_policy=config.stateful_removal_policy,
        **options,
    )
