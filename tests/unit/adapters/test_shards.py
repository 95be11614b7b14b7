"""Merging an index's shards: the items come out in the index's order whatever the shards
hold, and a merge resumed from its positions goes on exactly after the last item taken."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from meetings import deployment
from meetings.adapters.table.shards import ShardMerge, index_start_key

INDEX_KEYS = (deployment.DUE_INDEX_PK, deployment.DUE_INDEX_SK)


def item(shard: str, sort: str, meeting: int) -> dict[str, Any]:
    return {
        deployment.PARTITION_KEY: {"S": f"MEETING#{meeting}"},
        deployment.SORT_KEY: {"S": "MEETING"},
        deployment.DUE_INDEX_PK: {"S": shard},
        deployment.DUE_INDEX_SK: {"S": sort},
    }


class FakeIndex:
    """Shards as DynamoDB pages them: in sort key order (ties in a fixed order), Limit items
    at a time, LastEvaluatedKey the last item returned while more remain."""

    def __init__(self, shards: dict[str, list[dict[str, Any]]], descending: bool) -> None:
        self.shards = {
            name: sorted(
                items,
                key=lambda i: (i[INDEX_KEYS[1]]["S"], i[deployment.PARTITION_KEY]["S"]),
                reverse=descending,
            )
            for name, items in shards.items()
        }
        self.queries = 0

    def query(self, shard: str, start: Any, limit: int) -> tuple[list[Any], Any]:
        self.queries += 1
        items = self.shards[shard]
        first = 0 if start is None else items.index(next(i for i in items if i == start)) + 1
        page = items[first : first + limit]
        more = first + limit < len(items)
        return page, index_start_key(page[-1], INDEX_KEYS) if more and page else None


def sort_value(entry: dict[str, Any]) -> str:
    return str(entry[INDEX_KEYS[1]]["S"])


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_paged_merges_give_every_item_once_in_order(descending: bool, seed: int) -> None:
    rng = random.Random(seed)
    counter = itertools.count()
    shards = {
        f"OPEN#{n}": [
            item(f"OPEN#{n}", f"2026-01-01T00:00:{rng.randrange(20):02d}Z", next(counter))
            for _ in range(rng.randrange(0, 12))
        ]
        for n in range(4)
    }
    index = FakeIndex(shards, descending)
    positions: Any = dict.fromkeys(shards)
    taken: list[dict[str, Any]] = []
    while positions:
        merge = ShardMerge(
            index.query, positions, index_keys=INDEX_KEYS, descending=descending, per_shard=2
        )
        taken += itertools.islice(merge, 3)
        positions = merge.positions()
    everything = [i for items in shards.values() for i in items]
    assert sorted(map(id, taken)) == sorted(map(id, everything))
    values = [sort_value(i) for i in taken]
    assert values == sorted(values, reverse=descending)


def test_a_merge_stopped_early_reports_no_positions_only_when_all_is_taken() -> None:
    shards = {"OPEN#0": [item("OPEN#0", "a", 1)], "OPEN#1": []}
    index = FakeIndex(shards, descending=False)
    merge = ShardMerge(
        index.query, dict.fromkeys(shards), index_keys=INDEX_KEYS, descending=False, per_shard=5
    )
    assert [sort_value(i) for i in merge] == ["a"]
    assert merge.positions() is None
    assert index.queries == 2  # one per shard: each answered everything it had
