"""The functions' settings: read from the environment by the names the stack sets."""

from __future__ import annotations

import re

import pytest
from meetings.settings import Settings


def test_round_trip_through_the_environment() -> None:
    settings = Settings(table_name="meetings", max_open_meetings_per_user=5)
    assert Settings.from_environ(settings.to_environ()) == settings
    assert list(settings.to_environ()) == Settings.env_names()


def test_environment_text_becomes_numbers() -> None:
    settings = Settings.from_environ({"TABLE_NAME": "meetings", "RETENTION_DAYS": "7"})
    assert settings.retention_days == 7
    assert settings.admin_group == Settings.default_of("admin_group") == "admins"


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({}, "table_name (TABLE_NAME): required"),
        ({"TABLE_NAME": "t"}, "table_name (TABLE_NAME): at least 3 characters"),
        ({"TABLE_NAME": "meetings", "RETENTION_DAYS": "0"}, "not between 1 and 3650"),
        ({"TABLE_NAME": "meetings", "RETENTION_DAYS": "ten"}, "'ten' is not an integer"),
        ({"TABLE_NAME": "meetings", "DEFAULT_MEDIA_REGION": "mars"}, "does not match"),
        ({"TABLE_NAME": "meetings", "RECORDINGS_VISIBLE_TO_ATTENDEES": "yes"}, "'yes' is not"),
        ({"TABLE_NAME": "meetings", "RECORDING_URL_TTL_SECONDS": "30"}, "not between 60"),
        ({"TABLE_NAME": "meetings", "ACCOUNT_ID": "12345"}, "does not match"),
        ({"TABLE_NAME": "meetings", "RECORDINGS_BUCKET": "Bad_Bucket"}, "does not match"),
    ],
)
def test_invalid_environments_are_refused_with_the_variable_named(
    environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        Settings.from_environ(environ)


def test_a_field_without_default_says_so() -> None:
    with pytest.raises(KeyError):
        Settings.default_of("table_name")


def test_recording_settings_read_and_write_their_environment_text() -> None:
    environ = {
        "TABLE_NAME": "meetings",
        "RECORDINGS_BUCKET": "meetings-recordings",
        "RECORDINGS_VISIBLE_TO_ATTENDEES": "true",
        "ACCOUNT_ID": "123456789012",
    }
    settings = Settings.from_environ(environ)
    assert settings.recordings_visible_to_attendees is True
    assert settings.recording_url_ttl_seconds == 900
    assert settings.to_environ()["RECORDINGS_VISIBLE_TO_ATTENDEES"] == "true"
    assert Settings.from_environ(settings.to_environ()) == settings
