"""botocore's own descriptions of the two emulated services, `chime-sdk-meetings` and
`chime-sdk-media-pipelines` (both 2021-07-15, rest-json), loaded once at run time.

Routes, shapes, constraints and error status codes all come from here, so the emulator
follows the models botocore ships rather than a hand-copied list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final
from urllib.parse import parse_qsl

import botocore.session
from botocore.model import OperationModel, ServiceModel

MEETINGS: Final = "chime-sdk-meetings"
MEDIA_PIPELINES: Final = "chime-sdk-media-pipelines"
SERVED: Final = (MEETINGS, MEDIA_PIPELINES)
API_VERSION = "2021-07-15"
# The one path both models share is `/tags` (TagResource, UntagResource, ListTagsForResource);
# the resource type in the ARN says whose resource it is (anything else: meetings').
RESOURCE_OWNERS: Final = {"media-pipeline": MEDIA_PIPELINES}
_URI_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@cache
def service_model(service: str = MEETINGS) -> ServiceModel:
    session = botocore.session.get_session()
    model = session.get_service_model(service, api_version=API_VERSION)
    if model.protocol != "rest-json":
        raise RuntimeError(f"{service} is no longer rest-json: {model.protocol}")
    return model


@dataclass(frozen=True)
class Route:
    """One operation's HTTP binding: method, a path pattern and the fixed query it needs."""

    operation: OperationModel
    method: str
    path: re.Pattern[str]
    fixed_query: tuple[tuple[str, str], ...]

    def match(self, method: str, path: str, query: dict[str, list[str]]) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.path.fullmatch(path)
        if found is None:
            return None
        for name, value in self.fixed_query:
            if value not in query.get(name, []):
                return None
        return found.groupdict()


def _route_for(operation: OperationModel) -> Route:
    uri = operation.http["requestUri"]
    path, _, query = uri.partition("?")
    pattern = ""
    position = 0
    for label in _URI_LABEL.finditer(path):
        pattern += re.escape(path[position : label.start()])
        # A greedy label (`{Key+}`) may span slashes; a plain one is one path segment.
        pattern += f"(?P<{label.group(1)}>{'.+' if label.group(2) else '[^/]+'})"
        position = label.end()
    pattern += re.escape(path[position:])
    fixed = tuple(parse_qsl(query, keep_blank_values=True))
    return Route(operation, operation.http["method"], re.compile(pattern), fixed)


@cache
def routes(service: str = MEETINGS) -> tuple[Route, ...]:
    """Every operation's route; those needing more fixed query parameters are tried first,
    so `POST /meetings?operation=create-attendees` is not taken for `POST /meetings`."""
    model = service_model(service)
    built = [_route_for(model.operation_model(name)) for name in model.operation_names]
    return tuple(sorted(built, key=lambda route: -len(route.fixed_query)))


def find_route(
    method: str, path: str, query: dict[str, list[str]], service: str = MEETINGS
) -> tuple[OperationModel, dict[str, str]] | None:
    for route in routes(service):
        labels = route.match(method, path, query)
        if labels is not None:
            return route.operation, labels
    return None


def resource_owner(arn: str) -> str:
    """The service an ARN's resource belongs to: `arn:aws:chime:<region>:<account>:<type>/...`."""
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    return RESOURCE_OWNERS.get(resource.split("/", 1)[0], MEETINGS)


@cache
def error_status(error_name: str) -> int:
    """The HTTP status the models give an error shape (`NotFoundException` → 404); a name both
    models define has the same status in both."""
    for service in SERVED:
        model = service_model(service)
        if error_name in model.shape_names:
            shape = model.shape_for(error_name)
            if shape.metadata.get("exception"):
                return int(shape.metadata["error"]["httpStatusCode"])
    raise KeyError(f"{error_name} is not an error shape of {' or '.join(SERVED)}")


@cache
def error_names(service: str | None = None) -> frozenset[str]:
    """The error shapes the operations of one service (None: of either) declare."""
    names: set[str] = set()
    for name in (service,) if service else SERVED:
        model = service_model(name)
        names.update(
            shape.name
            for operation in model.operation_names
            for shape in model.operation_model(operation).error_shapes
        )
    return frozenset(names)


@cache
def operation_names(service: str | None = None) -> frozenset[str]:
    names: set[str] = set()
    for name in (service,) if service else SERVED:
        names.update(service_model(name).operation_names)
    return frozenset(names)
