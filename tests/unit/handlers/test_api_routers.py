"""The api function includes its routers lazily: every route of the API is found by the router
`router_for` names for its path, and an unknown path falls back to every router."""

from __future__ import annotations

import importlib
import re

import pytest
from meetings import deployment
from meetings.handlers.api import ROUTER_ORDER, router_for

ROUTES = [(m, t) for m, t, _ in deployment.API_ROUTES if t != "/openapi.json"]


def _powertools_rule(template: str) -> str:
    return re.sub(r"\{([^}]+)\}", r"<\1>", template)


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_every_route_is_in_the_router_its_path_names(method: str, template: str) -> None:
    path = re.sub(r"\{[^}]+\}", "5f5c2c4e-8b1d-4c36-9a2e-1d2f3a4b5c6d", template)
    name = router_for(path)
    assert name in ROUTER_ORDER
    router = importlib.import_module(f"meetings.handlers.routes.{name}").router
    registered = {(rule, tuple(methods)) for rule, methods, *_ in router._routes}
    assert (_powertools_rule(template), (method,)) in registered


@pytest.mark.parametrize("path", ["/", "/openapi.json", "/nowhere", "/meetings/x/unknown"])
def test_an_unknown_path_names_no_router(path: str) -> None:
    assert router_for(path) is None
