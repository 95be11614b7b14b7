"""TagResource, UntagResource and ListTagsForResource, which both services have: the same
rules (at most MAX_TAGS, no `aws:` keys) on whichever resource an ARN names, with each
service's own error for an unknown resource or too many tags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from local.chime import rules
from local.chime.errors import ChimeError
from local.chime.service import ChimeState

MAX_TAGS: Final = 50
Operation = Callable[[ChimeState, dict[str, Any]], dict[str, Any]]


class Tagged(Protocol):
    tags: dict[str, str]


def operations(
    find: Callable[[ChimeState, str], Tagged], too_many: Callable[[str], ChimeError]
) -> dict[str, Operation]:
    """The three operations on the resources `find` returns for an ARN (or raises for)."""

    def tag_resource(state: ChimeState, params: dict[str, Any]) -> dict[str, Any]:
        resource = find(state, params["ResourceARN"])
        resource.tags = merged_tags(resource.tags, params["Tags"], params["ResourceARN"], too_many)
        return {}

    def untag_resource(state: ChimeState, params: dict[str, Any]) -> dict[str, Any]:
        resource = find(state, params["ResourceARN"])
        for key in params["TagKeys"]:
            resource.tags.pop(key, None)
        return {}

    def list_tags_for_resource(state: ChimeState, params: dict[str, Any]) -> dict[str, Any]:
        tags = find(state, params["ResourceARN"]).tags
        return {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}

    return {
        "ListTagsForResource": list_tags_for_resource,
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
    }


def merged_tags(
    current: dict[str, str],
    added: list[dict[str, str]],
    arn: str,
    too_many: Callable[[str], ChimeError],
) -> dict[str, str]:
    rules.check_tag_keys(added)
    merged = {**current, **{tag["Key"]: tag["Value"] for tag in added}}
    if len(merged) > MAX_TAGS:
        raise too_many(arn)
    return merged
