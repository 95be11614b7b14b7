"""botocore's own description of `chime-sdk-meetings` 2021-07-15, loaded once at run time.

Routes, shapes, constraints and error status codes all come from here, so the emulator
follows the model botocore ships rather than a hand-copied list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import parse_qsl

import botocore.session
from botocore.model import OperationModel, ServiceModel

SERVICE_NAME = "chime-sdk-meetings"
API_VERSION = "2021-07-15"
_URI_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@cache
def service_model() -> ServiceModel:
    session = botocore.session.get_session()
    model = session.get_service_model(SERVICE_NAME, api_version=API_VERSION)
    if model.protocol != "rest-json":
        raise RuntimeError(f"{SERVICE_NAME} is no longer rest-json: {model.protocol}")
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
def routes() -> tuple[Route, ...]:
    """Every operation's route; those needing more fixed query parameters are tried first,
    so `POST /meetings?operation=create-attendees` is not taken for `POST /meetings`."""
    model = service_model()
    built = [_route_for(model.operation_model(name)) for name in model.operation_names]
    return tuple(sorted(built, key=lambda route: -len(route.fixed_query)))


def find_route(
    method: str, path: str, query: dict[str, list[str]]
) -> tuple[OperationModel, dict[str, str]] | None:
    for route in routes():
        labels = route.match(method, path, query)
        if labels is not None:
            return route.operation, labels
    return None


@cache
def error_status(error_name: str) -> int:
    """The HTTP status the model gives an error shape (`NotFoundException` → 404)."""
    shape = service_model().shape_for(error_name)
    if not shape.metadata.get("exception"):
        raise KeyError(f"{error_name} is not an error shape of {SERVICE_NAME}")
    return int(shape.metadata["error"]["httpStatusCode"])


@cache
def error_names() -> frozenset[str]:
    model = service_model()
    return frozenset(
        shape.name
        for name in model.operation_names
        for shape in model.operation_model(name).error_shapes
    )
