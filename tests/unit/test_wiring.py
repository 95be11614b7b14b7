"""The composition root: one container per execution environment, its clock, its reset."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from meetings import wiring


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TABLE_NAME", "meetings-unit")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    wiring.reset()
    yield
    wiring.reset()


def test_a_container_builds_each_part_once_and_shares_it() -> None:
    container = wiring.container()
    assert wiring.container() is container
    assert container.creating.store is container.meeting_store is container.queries.store
    assert container.attending.chime is container.chime is container.ending.chime
    assert container.settings.table_name == "meetings-unit"


def test_a_replaced_clock_is_heard_by_services_built_before() -> None:
    container = wiring.container()
    queries = container.queries
    container.clock = lambda: 42
    assert queries.clock() == 42
    assert container.now() == 42


def test_reset_builds_a_new_container_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = wiring.container()
    monkeypatch.setenv("TABLE_NAME", "meetings-other")
    assert wiring.container() is before  # read once, as in Lambda
    wiring.reset()
    after = wiring.container()
    assert after is not before
    assert after.settings.table_name == "meetings-other"
    assert after.clock is wiring.wall_clock_ms
