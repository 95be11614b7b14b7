"""The typed configuration read from cdk.json context: defaults, overrides, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from meetings import deployment
from meetings.settings import Settings

from infra.config import ConfigError, MeetingsConfig, context_keys, load_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


def problems_for(context: dict[str, Any], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config({"region": "us-east-1", **context}, environ or {})
    return str(raised.value)


def test_cdk_json_lists_every_knob_and_nothing_else() -> None:
    assert sorted(CDK_JSON_CONTEXT) == sorted(context_keys())


def test_cdk_json_values_equal_the_model_defaults() -> None:
    from_file = load_config(CDK_JSON_CONTEXT, {})
    from_defaults = load_config({"region": CDK_JSON_CONTEXT["region"]}, {})
    assert from_file == from_defaults


def test_shared_knobs_default_to_the_functions_own_defaults() -> None:
    config = load_config({"region": "us-east-1"}, {})
    settings = config.function_settings(table_name="table", event_bus_name="bus")
    for name in (
        "admin_group",
        "max_open_meetings_per_user",
        "retention_days",
        "recording_url_ttl_seconds",
        "recordings_visible_to_attendees",
    ):
        assert getattr(settings, name) == Settings.default_of(name)
    assert config.cleanup_schedule == deployment.DEFAULT_CLEANUP_SCHEDULE


@pytest.mark.parametrize("region", deployment.CHIME_CONTROL_REGIONS)
def test_every_control_region_is_accepted(region: str) -> None:
    assert load_config({"region": region}, {}).region == region


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-2", "ap-northeast-1"])
def test_a_region_that_is_not_a_chime_control_region_is_refused(region: str) -> None:
    message = problems_for({"region": region})
    assert f"region: {region!r} is not a Chime control region" in message
    assert "control region that created the meeting" in message


def test_the_region_falls_back_to_the_cli_default_region() -> None:
    config = load_config({}, {"CDK_DEFAULT_REGION": "eu-central-1"})
    assert config.region == "eu-central-1"


def test_the_context_region_wins_over_the_profile_region() -> None:
    config = load_config({"region": "us-west-2"}, {"CDK_DEFAULT_REGION": "eu-central-1"})
    assert config.region == "us-west-2"


def test_a_missing_region_is_refused() -> None:
    with pytest.raises(ConfigError, match="region: not set"):
        load_config({}, {})


def test_the_account_falls_back_to_the_cli_default_account() -> None:
    config = load_config({"region": "us-east-1"}, {"CDK_DEFAULT_ACCOUNT": "111122223333"})
    assert config.account == "111122223333"


def test_cli_strings_are_read_as_their_types() -> None:
    config = load_config(
        {
            "region": "us-east-1",
            "snapStart": "false",
            "maxOpenMeetingsPerUser": "5",
            "corsAllowedOrigins": "https://a.example.com, https://b.example.com",
            "jwtIssuer": "https://issuer.example.com",
            "jwtAudience": '["one", "two"]',
            "alarmEmail": "",
        },
        {},
    )
    assert config.snap_start is False
    assert config.max_open_meetings_per_user == 5
    assert config.cors_allowed_origins == ("https://a.example.com", "https://b.example.com")
    assert config.jwt_audience == ("one", "two")
    assert config.alarm_email is None


def test_a_misspelled_key_is_named_with_the_likely_intent() -> None:
    message = problems_for({"snapstart": False})
    assert "snapstart: unknown context key (did you mean 'snapStart'?)" in message


def test_unrelated_context_keys_of_the_cdk_are_ignored() -> None:
    config = load_config({"region": "us-east-1", "@aws-cdk/core:newStyleStackSynthesis": True}, {})
    assert config.region == "us-east-1"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {"defaultMediaRegion": "mars-north-1"},
            "defaultMediaRegion: 'mars-north-1' does not match",
        ),
        ({"defaultMediaRegion": "eu-south-3"}, "'eu-south-3' is not a Chime media region"),
        ({"corsAllowedOrigins": ["https://a.example.com/"]}, "is not an origin"),
        ({"corsAllowedOrigins": ["*", "https://a.example.com"]}, "list it alone"),
        ({"jwtIssuer": "http://issuer.example.com", "jwtAudience": ["a"]}, "https:// URL"),
        ({"jwtIssuer": "https://issuer.example.com"}, "jwtIssuer and jwtAudience go together"),
        ({"jwtAudience": ["a"]}, "jwtIssuer and jwtAudience go together"),
        ({"logRetentionDays": 31}, "logRetentionDays: CloudWatch Logs accepts only"),
        ({"cleanupSchedule": "every minute"}, "cleanupSchedule: expected an EventBridge"),
        ({"logLevel": "TRACE"}, "logLevel:"),
        ({"removalPolicy": "snapshot"}, "removalPolicy:"),
        ({"cognitoMfa": "sms"}, "cognitoMfa:"),
        ({"alarmEmail": "oncall"}, "alarmEmail: 'oncall' is not an e-mail address"),
        ({"stage": "Prod_1"}, "stage:"),
        ({"account": "12345"}, "account:"),
        ({"apiThrottleRateLimit": 0}, "apiThrottleRateLimit:"),
        ({"apiThrottleBurstLimit": 10_000}, "apiThrottleBurstLimit:"),
        ({"recordingRetentionDays": 0}, "recordingRetentionDays:"),
        ({"recordingRetentionDays": 36500}, "recordingRetentionDays:"),
        ({"recordingsVisibleToAttendees": "sometimes"}, "recordingsVisibleToAttendees:"),
        # An SQS event source's maximum concurrency is 2 at least.
        ({"eventsConcurrency": 1}, "eventsConcurrency:"),
        ({"eventsConcurrency": 1001}, "eventsConcurrency:"),
        ({"createServiceLinkedRoles": "maybe"}, "createServiceLinkedRoles:"),
        ({"console": "perhaps"}, "console:"),
        (
            {"console": True, "jwtIssuer": "https://issuer.example.com", "jwtAudience": ["a"]},
            "console: the console signs in through the stack's Cognito user pool",
        ),
    ],
)
def test_bad_values_are_refused_by_key(context: dict[str, Any], expected: str) -> None:
    assert expected in problems_for(context)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("maxOpenMeetingsPerUser", 0),
        ("recordRetentionDays", 0),
        ("reconcileIntervalSeconds", 5),
        ("idempotencyTtlSeconds", 10),
        ("adminGroup", ""),
        ("domainEventSource", ""),
        ("recordingUrlTtlSeconds", 59),
        ("recordingUrlTtlSeconds", 43201),
    ],
)
def test_shared_knobs_are_checked_with_the_functions_own_rules(key: str, value: Any) -> None:
    """A value the functions' settings model would refuse at cold start fails the synth."""
    assert f"{key}: " in problems_for({key: value})


def test_recording_knobs_read_from_cli_text() -> None:
    config = load_config(
        {
            "region": "us-east-1",
            "recordingRetentionDays": "365",
            "recordingUrlTtlSeconds": "43200",
            "recordingsVisibleToAttendees": "true",
            "createServiceLinkedRoles": "true",
        },
        {},
    )
    assert config.recording_retention_days == 365
    assert config.recording_url_ttl_seconds == 43200
    assert config.recordings_visible_to_attendees is True
    assert config.create_service_linked_roles is True
    settings = config.function_settings(table_name="table", event_bus_name="bus")
    assert settings.to_environ()["RECORDINGS_VISIBLE_TO_ATTENDEES"] == "true"


def test_every_problem_is_reported_at_once() -> None:
    message = problems_for({"logLevel": "LOUD", "maxOpenMeetingsPerUser": 0, "stagee": "x"})
    assert "logLevel:" in message
    assert "maxOpenMeetingsPerUser:" in message
    assert "stagee:" in message


def test_the_config_is_immutable() -> None:
    config = load_config({"region": "us-east-1"}, {})
    with pytest.raises(ValueError, match="frozen"):
        config.stage = "other"  # type: ignore[misc]
    assert isinstance(config, MeetingsConfig)


def test_deploy_docs_describe_every_context_key() -> None:
    docs = (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    missing = [key for key in context_keys() if f"`{key}`" not in docs]
    assert missing == []
