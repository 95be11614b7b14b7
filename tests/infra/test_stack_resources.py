"""The resources of MeetingsStack and their key properties, for two different configurations."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match
from cfn_render import render, render_all
from meetings import deployment
from meetings.settings import Settings
from synth_support import Deployment

from infra import stack as stack_module
from infra.function import FUNCTION_SIZES

API_GATEWAY_TIMEOUT_SECONDS = 30


def only(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    assert len(resources) == 1, sorted(resources)
    return next(iter(resources.values()))


def function_props(stack: Deployment, name: str) -> dict[str, Any]:
    logical_id = stack.logical_id(stack.stack.functions[name].function)
    props: dict[str, Any] = stack.resources[logical_id]["Properties"]
    return props


# --- the table -----------------------------------------------------------------------------


def test_the_table_is_the_shared_definition(default: Deployment) -> None:
    """Keys, indexes and stream equal the definition the local stack creates in moto."""
    props = only(default.of_type("AWS::DynamoDB::Table"))["Properties"]
    shared = deployment.table_definition("unused")

    def by_name(indexes: list[dict[str, Any]]) -> dict[str, Any]:
        return {index["IndexName"]: (index["KeySchema"], index["Projection"]) for index in indexes}

    assert props["KeySchema"] == shared["KeySchema"]
    assert (
        sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"])
        == (shared["AttributeDefinitions"])
    )
    assert by_name(props["GlobalSecondaryIndexes"]) == by_name(shared["GlobalSecondaryIndexes"])
    assert by_name(props["LocalSecondaryIndexes"]) == by_name(shared["LocalSecondaryIndexes"])
    assert props["StreamSpecification"] == {"StreamViewType": deployment.STREAM_VIEW_TYPE}
    assert props["BillingMode"] == shared["BillingMode"]


def test_the_table_is_protected(default: Deployment) -> None:
    table = only(default.of_type("AWS::DynamoDB::Table"))
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {
        "AttributeName": deployment.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    # SSEEnabled without a key: KMS with the AWS managed key (alias/aws/dynamodb).
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_removal_policy_destroy_lets_the_table_go(custom: Deployment) -> None:
    table = only(custom.of_type("AWS::DynamoDB::Table"))
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["DeletionProtectionEnabled"] is False
    for log_group in custom.of_type("AWS::Logs::LogGroup").values():
        assert log_group["DeletionPolicy"] == "Delete"


# --- the functions -------------------------------------------------------------------------


def test_one_function_per_handler(default: Deployment) -> None:
    functions = default.of_type("AWS::Lambda::Function").values()
    handlers = sorted(f["Properties"]["Handler"] for f in functions)
    assert handlers == sorted(deployment.HANDLERS.values())


def test_every_function_runs_python_313_on_arm_with_tracing_and_json_logs(
    default: Deployment,
) -> None:
    for name in deployment.HANDLERS:
        props = function_props(default, name)
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert props["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
        assert props["MemorySize"] == FUNCTION_SIZES[name].memory_mb
        assert props["Timeout"] == FUNCTION_SIZES[name].timeout.to_seconds()


def test_the_api_function_answers_inside_api_gateways_limit(default: Deployment) -> None:
    assert function_props(default, "api")["Timeout"] < API_GATEWAY_TIMEOUT_SECONDS


def test_each_function_logs_into_its_own_log_group_with_retention(
    default: Deployment, custom: Deployment
) -> None:
    for stack, days in ((default, 30), (custom, 90)):
        groups = {
            name: render(function_props(stack, name)["LoggingConfig"]["LogGroup"])
            for name in deployment.HANDLERS
        }
        assert len(set(groups.values())) == len(groups)
        for group in groups.values():
            assert stack.resources[group]["Properties"]["RetentionInDays"] == days


def test_each_function_has_its_own_role(default: Deployment) -> None:
    roles = {render(function_props(default, name)["Role"]) for name in deployment.HANDLERS}
    assert len(roles) == len(deployment.HANDLERS)


def test_all_functions_share_one_code_asset(default: Deployment) -> None:
    codes = {json.dumps(function_props(default, n)["Code"]) for n in deployment.HANDLERS}
    assert len(codes) == 1


def test_the_environment_is_the_settings_model(default: Deployment) -> None:
    stack = default.stack
    table = default.logical_id(stack.data.table)
    bus = default.logical_id(stack.domain_events.bus)
    for name in deployment.HANDLERS:
        env = function_props(default, name)["Environment"]["Variables"]
        assert set(Settings.env_names()) <= set(env)
        assert render(env["TABLE_NAME"]) == table
        assert render(env["EVENT_BUS_NAME"]) == bus
        assert render(env["RECORDINGS_BUCKET"]) == default.logical_id(stack.media.bucket)
        assert render(env["ACCOUNT_ID"]) == "<AWS::AccountId>"
        assert render(env["WEBHOOK_KEY_ID"]) == f"{default.logical_id(stack.webhooks.key)}.Arn"
        deliveries = default.logical_id(stack.webhooks.deliveries_queue)
        assert render(env["WEBHOOK_DELIVERY_QUEUE_URL"]) == deliveries  # Ref: the URL
        retries = default.logical_id(stack.webhooks.retries_queue)
        assert render(env["WEBHOOK_RETRY_QUEUE_URL"]) == retries
        assert env["RECORDING_URL_TTL_SECONDS"] == "900"
        assert env["RECORDINGS_VISIBLE_TO_ATTENDEES"] == "false"
        # Loopback deliveries are for the local stack only: deployed, public targets only.
        assert env["WEBHOOK_TARGETS"] == "public"
        assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
        assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert env["POWERTOOLS_SERVICE_NAME"]
        # What the functions will read at cold start must pass their own model.
        at_deploy = {"ACCOUNT_ID": "123456789012"}
        resolved = {
            key: value if isinstance(value, str) else at_deploy.get(key, "resolved-at-deploy")
            for key, value in env.items()
        }
        Settings.from_environ(resolved)


def test_the_deployed_resources_variables_are_settings_variables() -> None:
    """The stack sets these from CloudFormation values, past the settings model: a renamed
    setting must not leave the code reading a variable nobody sets."""
    deployed = {
        stack_module.RECORDINGS_BUCKET_VARIABLE,
        stack_module.ACCOUNT_ID_VARIABLE,
        stack_module.WEBHOOK_KEY_ID_VARIABLE,
        stack_module.WEBHOOK_DELIVERY_QUEUE_URL_VARIABLE,
        stack_module.WEBHOOK_RETRY_QUEUE_URL_VARIABLE,
    }
    assert deployed <= set(Settings.env_names())


def test_configured_values_reach_the_environment(custom: Deployment) -> None:
    env = function_props(custom, "api")["Environment"]["Variables"]
    assert env["DEFAULT_MEDIA_REGION"] == "eu-west-2"
    assert env["ADMIN_GROUP"] == "operators"
    assert env["MAX_OPEN_MEETINGS_PER_USER"] == "3"
    assert env["RETENTION_DAYS"] == "7"
    assert env["RECORDING_URL_TTL_SECONDS"] == "300"
    assert env["RECORDINGS_VISIBLE_TO_ATTENDEES"] == "true"
    assert env["ACCOUNT_ID"] == "123456789012"
    assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert function_props(custom, "api")["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"


def test_snap_start_on_a_published_version_behind_an_alias(default: Deployment) -> None:
    assert function_props(default, "api")["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    for name in set(deployment.HANDLERS) - {"api"}:
        assert "SnapStart" not in function_props(default, name)
    api_function = default.logical_id(default.stack.functions["api"].function)
    version_id, version = next(iter(default.of_type("AWS::Lambda::Version").items()))
    assert render(version["Properties"]["FunctionName"]) == api_function
    alias = only(default.of_type("AWS::Lambda::Alias"))["Properties"]
    assert alias["Name"] == "live"
    assert render(alias["FunctionVersion"]) == f"{version_id}.Version"


def test_snap_start_can_be_switched_off(custom: Deployment) -> None:
    assert "SnapStart" not in function_props(custom, "api")
    assert len(custom.of_type("AWS::Lambda::Alias")) == 1


# --- Chime's events ------------------------------------------------------------------------


def chime_rule(stack: Deployment) -> dict[str, Any]:
    props: dict[str, Any] = stack.resources[stack.logical_id(stack.stack.chime_events.rule)]
    return props


def test_the_chime_rule_pattern_is_the_shared_constant(default: Deployment) -> None:
    rule = chime_rule(default)["Properties"]
    assert rule["EventPattern"] == deployment.CHIME_EVENT_PATTERN
    assert "EventBusName" not in rule  # Chime publishes to the default bus
    assert rule["State"] == "ENABLED"


def test_the_rule_delivers_to_the_queue_with_its_own_dead_letter_queue(
    default: Deployment,
) -> None:
    events = default.stack.chime_events
    (target,) = chime_rule(default)["Properties"]["Targets"]
    assert render(target["Arn"]) == f"{default.logical_id(events.queue)}.Arn"
    dead_letters = target["DeadLetterConfig"]["Arn"]
    assert render(dead_letters) == f"{default.logical_id(events.rule_dead_letter_queue)}.Arn"
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400


def test_every_queue_uses_sse_sqs_and_refuses_plain_http(default: Deployment) -> None:
    queues = default.of_type("AWS::SQS::Queue")
    assert len(queues) == 11  # 5 of meetings, 6 of webhooks
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in queue["Properties"]
    secured = set()
    for policy in default.of_type("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                secured.update(render_all(policy["Properties"]["Queues"]))
    assert secured == set(queues)


def test_the_events_queue_feeds_the_events_function_with_partial_batches(
    default: Deployment,
) -> None:
    events = default.stack.chime_events
    queue = default.resources[default.logical_id(events.queue)]["Properties"]
    assert queue["VisibilityTimeout"] == 6 * FUNCTION_SIZES["events"].timeout.to_seconds()
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    dead_letters = f"{default.logical_id(events.dead_letter_queue)}.Arn"
    assert render(queue["RedrivePolicy"]["deadLetterTargetArn"]) == dead_letters
    default.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [default.logical_id(events.queue), "Arn"]},
            "FunctionName": {"Ref": default.logical_id(default.stack.functions["events"].function)},
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


# --- the outbox ----------------------------------------------------------------------------


def test_the_table_stream_feeds_the_publisher(default: Deployment) -> None:
    table = default.logical_id(default.stack.data.table)
    dead_letters = default.logical_id(default.stack.outbox.dead_letter_queue)
    default.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [table, "StreamArn"]},
            "FunctionName": {
                "Ref": default.logical_id(default.stack.functions["publisher"].function)
            },
            "StartingPosition": "TRIM_HORIZON",
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ParallelizationFactor": 1,
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Fn::GetAtt": [dead_letters, "Arn"]}}
            },
        },
    )


def test_the_project_has_its_own_event_bus(default: Deployment) -> None:
    assert len(default.of_type("AWS::Events::EventBus")) == 1


# --- the cleanup ---------------------------------------------------------------------------


def test_the_scheduler_invokes_the_cleanup_with_retries_and_a_dead_letter_queue(
    default: Deployment, custom: Deployment
) -> None:
    for stack, expression in (
        (default, deployment.DEFAULT_CLEANUP_SCHEDULE),
        (custom, "rate(5 minutes)"),
    ):
        schedule = only(stack.of_type("AWS::Scheduler::Schedule"))["Properties"]
        assert schedule["ScheduleExpression"] == expression
        target = schedule["Target"]
        cleanup = stack.logical_id(stack.stack.functions["cleanup"].function)
        assert render(target["Arn"]) == f"{cleanup}.Arn"
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
        assert json.loads(target["Input"]) == {}
        dead_letters = stack.logical_id(stack.stack.cleanup.dead_letter_queue)
        assert render(target["DeadLetterConfig"]["Arn"]) == f"{dead_letters}.Arn"


# --- identity ------------------------------------------------------------------------------


def test_the_default_identity_is_a_cognito_pool_with_an_admin_group(default: Deployment) -> None:
    pool = only(default.of_type("AWS::Cognito::UserPool"))
    assert pool["DeletionPolicy"] == "Retain"
    assert pool["Properties"]["MfaConfiguration"] == "OPTIONAL"
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    client = only(default.of_type("AWS::Cognito::UserPoolClient"))["Properties"]
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    group = only(default.of_type("AWS::Cognito::UserPoolGroup"))["Properties"]
    assert group["GroupName"] == "admins"


def test_an_external_issuer_replaces_cognito(custom: Deployment) -> None:
    for kind in ("UserPool", "UserPoolClient", "UserPoolGroup"):
        assert custom.of_type(f"AWS::Cognito::{kind}") == {}


# --- observability -------------------------------------------------------------------------


def alarm_metrics(stack: Deployment) -> list[str]:
    names = []
    for alarm in stack.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        names.append(props.get("MetricName") or "expression")
    return sorted(names)


def test_alarms_cover_errors_throttles_dead_letters_and_lag(default: Deployment) -> None:
    functions = len(deployment.HANDLERS)
    assert alarm_metrics(default) == sorted(
        ["expression"]  # the API's 5xx rate
        + ["Errors"] * functions
        + ["Throttles"] * functions
        + ["ApproximateNumberOfMessagesVisible"] * 7
        + ["ApproximateAgeOfOldestMessage", "IteratorAge"]
        + ["RecordingsFailed", "expression"]  # and the webhook failure rate
    )


def test_the_api_5xx_alarm_is_a_rate(default: Deployment) -> None:
    default.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Metrics": Match.array_with(
                [Match.object_like({"Expression": "IF(requests > 0, 100 * errors / requests, 0)"})]
            ),
            "Threshold": 1,
        },
    )


def test_every_alarm_notifies_the_topic(default: Deployment) -> None:
    topic = default.logical_id(default.stack.monitoring.topic)
    for alarm in default.of_type("AWS::CloudWatch::Alarm").values():
        assert render_all(alarm["Properties"]["AlarmActions"]) == [topic]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_the_alarm_email_is_optional(default: Deployment, custom: Deployment) -> None:
    assert default.of_type("AWS::SNS::Subscription") == {}
    subscription = only(custom.of_type("AWS::SNS::Subscription"))["Properties"]
    assert subscription["Protocol"] == "email"
    assert subscription["Endpoint"] == "oncall@example.com"


def test_there_is_a_dashboard(default: Deployment) -> None:
    dashboard = only(default.of_type("AWS::CloudWatch::Dashboard"))["Properties"]
    assert dashboard["DashboardName"] == "ChimeMeetings-dev"


# --- outputs -------------------------------------------------------------------------------


def test_outputs_have_fixed_names(default: Deployment, custom: Deployment) -> None:
    common = {
        "ApiUrl",
        "JwtIssuer",
        "TableName",
        "EventBusName",
        "AlarmTopicArn",
        "DashboardName",
        "RecordingsBucketName",
        "WebhookKeyArn",
        "WebhookDeliveryQueueUrl",
        "WebhookDeadLetterQueueUrl",
    }
    assert set(default.json["Outputs"]) == common | {"UserPoolId", "UserPoolClientId"}
    custom_outputs = custom.json["Outputs"]
    assert set(custom_outputs) == common
    assert custom_outputs["JwtIssuer"]["Value"] == "https://issuer.example.com/"


def test_the_stack_lives_in_the_configured_region_and_account(custom: Deployment) -> None:
    assert custom.stack.region == "eu-central-1"
    assert custom.stack.account == "123456789012"
    assert custom.stack.stack_name == "ChimeMeetings-prod"
