"""The emulator's settings: one frozen value, chosen when the emulator is built."""

from __future__ import annotations

from dataclasses import dataclass

from meetings.deployment import CHIME_CONTROL_REGIONS

# moto's default account: locally, Chime's ARNs and events name the same account as the AWS
# resources (the recordings bucket, the event bus) and the functions' ACCOUNT_ID.
DEFAULT_ACCOUNT_ID = "123456789012"
# Chime's quota: concurrently active meetings per account (adjustable on AWS).
DEFAULT_MAX_ACTIVE_MEETINGS = 250


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated Chime SDK Meetings control plane behaves.

    `region` is the control region the clients call (events carry it); the two rule switches
    turn on the two 30-minute rules that older public text lists and newer text no longer does
    (docs/chime.md, "The four auto-end rules").
    """

    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    # None: no request-rate quota (AWS enforces about 10/s; tests opt in).
    rate_limit_per_second: int | None = None
    rule_single_attendee: bool = True
    rule_screen_share_idle: bool = True
    max_active_meetings: int = DEFAULT_MAX_ACTIVE_MEETINGS
    # False: the virtual clock moves only by `advance()`. True: it also follows real time
    # (the interactive local stack), and the server checks the auto-end rules every second.
    follow_wall_clock: bool = False
    # Where `chime:*` events are sent with EventBridge PutEvents (None: not sent anywhere).
    eventbridge_endpoint_url: str | None = None
    event_bus_name: str = "default"
    # ListAttendees page size when the caller gives no MaxResults (Chime documents none).
    default_page_size: int = 10
    # Where media pipelines write their artifacts with PutObject (None: an in-memory store).
    s3_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if self.region not in CHIME_CONTROL_REGIONS:
            raise ValueError(f"region must be a Chime control region {CHIME_CONTROL_REGIONS}")
        if not (self.account_id.isdigit() and len(self.account_id) == 12):
            raise ValueError("account_id must be 12 digits")
        if self.rate_limit_per_second is not None and self.rate_limit_per_second < 1:
            raise ValueError("rate_limit_per_second must be at least 1 (or None)")
        if self.max_active_meetings < 1 or not 1 <= self.default_page_size <= 100:
            raise ValueError("max_active_meetings ≥ 1 and 1 ≤ default_page_size ≤ 100")
