"""cdk-nag AwsSolutions findings this stack accepts, each on the narrowest scope, with its reason.

Every acknowledgment is returned as (construct path, finding id, reason) so tests and
docs/deploy.md can list them; anything not acknowledged here fails `make synth` and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from aws_cdk import Acknowledgment, CfnElement, Token, Validations
from constructs import IConstruct

from infra.api import PUBLIC_ROUTES
from infra.permissions import CHIME_ACTIONS, CHIME_ACTIONS_WITHOUT_RESOURCE

if TYPE_CHECKING:
    from infra.stack import MeetingsStack


@dataclass(frozen=True)
class Acknowledged:
    path: str
    finding: str
    reason: str


XRAY_REASON: Final = (
    "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no "
    "resource-level permissions, so Lambda's tracing statement must use '*'."
)
CREATE_MEETING_REASON: Final = (
    "chime:CreateMeeting and chime:CreateMeetingWithAttendees define no resource type in the "
    "Service Authorization Reference (the meeting does not exist before the call), so they "
    "can only be granted on '*'; every other Chime action is scoped to meeting ARNs."
)
LIST_STREAMS_REASON: Final = (
    "The DynamoDB stream event source needs dynamodb:ListStreams, which supports no "
    "resource-level permissions; the stream's own reads are scoped to the stream ARN."
)
MEETING_ARNS_REASON: Final = (
    "Chime meeting ids are assigned by Chime at creation, so the policy can name meetings "
    "only by pattern: meeting/* of this account in this control region, nothing else."
)
LATEST_RUNTIME_REASON: Final = (
    "Python 3.13 is deliberate: the asset's wheels and bytecode are built and verified for "
    "3.13 (infra/bundling.py LAMBDA_PYTHON), and the code is tested on it. Moving to a newer "
    "runtime is a tested upgrade, not a synth-time default."
)
PUBLIC_ROUTE_REASON: Final = (
    "GET /health and GET /openapi.json are public by contract (api-v1): uptime "
    "checks and client code generators call them without a token. They return no user data; "
    "every other route uses the JWT authorizer."
)
DEAD_LETTER_QUEUE_REASON: Final = (
    "This queue is itself a dead-letter queue (of {owner}); it is watched by an alarm on its "
    "depth, and a dead-letter queue of a dead-letter queue would only hide failures."
)
SCHEDULER_INVOKE_REASON: Final = (
    "CDK's grantInvoke for the scheduler's role covers the cleanup function and its "
    "qualified ARNs (function:*, versions and aliases); it names this one function only."
)
MFA_REASON: Final = (
    "MFA follows the configuration (cognitoMfa, default optional: each user may enrol a "
    "TOTP factor); set cognitoMfa=required where every user must use one."
)
PLUS_PLAN_REASON: Final = (
    "The Essentials feature plan: the Plus plan's threat protection is billed per active "
    "user and is a choice for the operator, not a default of the stack."
)


class _Plan:
    """Collects the acknowledgments; applying them is a separate step."""

    def __init__(self) -> None:
        self.acknowledged: list[Acknowledged] = []
        self._scopes: list[IConstruct] = []

    def __call__(self, scope: IConstruct, finding: str, reason: str) -> None:
        self.acknowledged.append(Acknowledged(scope.node.path, finding, reason))
        self._scopes.append(scope)

    def apply(self) -> None:
        for scope, item in zip(self._scopes, self.acknowledged, strict=True):
            Validations.of(scope).acknowledge(Acknowledgment(id=item.finding, reason=item.reason))


def planned_acknowledgments(stack: MeetingsStack) -> list[Acknowledged]:
    """What acknowledge_findings would acknowledge, without acknowledging it."""
    return _plan(stack).acknowledged


def acknowledge_findings(stack: MeetingsStack) -> list[Acknowledged]:
    plan = _plan(stack)
    plan.apply()
    return plan.acknowledged


def _plan(stack: MeetingsStack) -> _Plan:
    acknowledge = _Plan()
    _functions(stack, acknowledge)
    _api(stack, acknowledge)
    _queues(stack, acknowledge)
    _identity(stack, acknowledge)
    return acknowledge


def _functions(stack: MeetingsStack, acknowledge: _Plan) -> None:
    wildcard_reasons = {
        "api": [XRAY_REASON, CREATE_MEETING_REASON],
        "publisher": [XRAY_REASON, LIST_STREAMS_REASON],
    }
    # cdk-nag prints the ARN as the template has it: pseudo parameters in <>, literals as is.
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    meeting_arn = f"arn:<AWS::Partition>:chime:{stack.region}:{account}:meeting/*"
    for name, function in stack.functions.items():
        reasons = wildcard_reasons.get(name, [XRAY_REASON])
        acknowledge(function.role, "AwsSolutions-IAM5[Resource::*]", " ".join(reasons))
        if set(CHIME_ACTIONS[name]) - CHIME_ACTIONS_WITHOUT_RESOURCE:
            acknowledge(
                function.role, f"AwsSolutions-IAM5[Resource::{meeting_arn}]", MEETING_ARNS_REASON
            )
        acknowledge(function.function, "AwsSolutions-L1", LATEST_RUNTIME_REASON)
    cleanup_function = stack.functions["cleanup"].function.node.default_child
    assert isinstance(cleanup_function, CfnElement)
    cleanup_logical_id = stack.get_logical_id(cleanup_function)
    acknowledge(
        stack.cleanup.role,
        f"AwsSolutions-IAM5[Resource::<{cleanup_logical_id}.Arn>:*]",
        SCHEDULER_INVOKE_REASON,
    )


def _api(stack: MeetingsStack, acknowledge: _Plan) -> None:
    for method, path in PUBLIC_ROUTES:
        route = stack.api.http_api.node.find_child(f"{method}{path}")
        acknowledge(route, "AwsSolutions-APIG4", PUBLIC_ROUTE_REASON)


def _queues(stack: MeetingsStack, acknowledge: _Plan) -> None:
    owners = {
        "the Chime rule's target": stack.chime_events.rule_dead_letter_queue,
        "the table stream's event source": stack.outbox.dead_letter_queue,
        "the cleanup schedule": stack.cleanup.dead_letter_queue,
    }
    for owner, queue in owners.items():
        acknowledge(queue, "AwsSolutions-SQS3", DEAD_LETTER_QUEUE_REASON.format(owner=owner))


def _identity(stack: MeetingsStack, acknowledge: _Plan) -> None:
    pool = stack.identity.user_pool
    if pool is None:
        return
    if stack.config.cognito_mfa != "required":
        acknowledge(pool, "AwsSolutions-COG2", MFA_REASON)
    acknowledge(pool, "AwsSolutions-COG8", PLUS_PLAN_REASON)
