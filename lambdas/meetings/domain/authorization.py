"""Who may do what with a meeting (docs/api.md, "Identity and roles").

A caller who may not see a meeting gets 404, as if it did not exist (ids are not confirmed to
strangers); one who may see it but not change it gets 403.
"""

from __future__ import annotations

from meetings.domain.errors import (
    AttendeeNotFoundError,
    AttendeeRemovedError,
    ForbiddenError,
    MeetingNotFoundError,
)
from meetings.domain.identity import Identity
from meetings.domain.records import AttendeeRecord, MeetingRecord, UserPointerRecord


def is_manager(identity: Identity, meeting: MeetingRecord) -> bool:
    """Host or admin: may end, remove, change capabilities, pre-provision."""
    return identity.is_admin or meeting.hostUserId == identity.user_id


def is_member(identity: Identity, pointer: UserPointerRecord | None) -> bool:
    """Has an attendee in the meeting and was not removed by the host."""
    return pointer is not None and pointer.userId == identity.user_id and not pointer.barred


def visible_meeting(
    identity: Identity, meeting: MeetingRecord | None, pointer: UserPointerRecord | None
) -> MeetingRecord:
    if meeting is None or not (is_manager(identity, meeting) or is_member(identity, pointer)):
        raise MeetingNotFoundError()
    return meeting


def managed_meeting(
    identity: Identity, meeting: MeetingRecord | None, pointer: UserPointerRecord | None
) -> MeetingRecord:
    visible = visible_meeting(identity, meeting, pointer)
    if not is_manager(identity, visible):
        raise ForbiddenError("only the host or an admin may do this")
    return visible


def visible_attendee(
    identity: Identity,
    meeting: MeetingRecord | None,
    attendee: AttendeeRecord | None,
    pointer: UserPointerRecord | None,
) -> tuple[MeetingRecord, AttendeeRecord]:
    """Host, admin, or that attendee's own user (unless the host removed them)."""
    if meeting is None:
        raise MeetingNotFoundError()
    manager = is_manager(identity, meeting)
    own = (
        attendee is not None
        and attendee.userId == identity.user_id
        and is_member(identity, pointer)
    )
    if not manager and not is_member(identity, pointer):
        raise MeetingNotFoundError()
    if attendee is None or not (manager or own):
        raise AttendeeNotFoundError()
    return meeting, attendee


def may_join(pointer: UserPointerRecord | None) -> None:
    if pointer is not None and pointer.barred:
        raise AttendeeRemovedError()


def may_list_host(identity: Identity, host_user_id: str) -> None:
    if host_user_id != identity.user_id and not identity.is_admin:
        raise ForbiddenError("only an admin may list another user's meetings")


def readable_recordings(
    identity: Identity,
    meeting: MeetingRecord | None,
    pointer: UserPointerRecord | None,
    *,
    attendees_may_read: bool,
) -> MeetingRecord:
    """Host and admin read a meeting's recordings and transcript; its attendees only where
    the deployment lets them (`recordings_visible_to_attendees`)."""
    visible = visible_meeting(identity, meeting, pointer)
    if not is_manager(identity, visible) and not attendees_may_read:
        raise ForbiddenError("only the host or an admin may read the recordings")
    return visible


def may_manage_webhooks(identity: Identity) -> None:
    if not identity.is_admin:
        raise ForbiddenError("only an admin may manage webhooks")
