"""Reading a sharded index partition as one: the open indexes' `OPEN#<n>` shards (codec.py)
queried side by side and merged in their sort key's order, without a Scan.

Each shard is queried a few items at a time, in the index's order; the merge hands out the
item with the best sort key among the shards' next items, refilling a shard's buffer before
it runs dry. So the items come out in exactly the order one unsharded partition would give,
and a caller may stop at any item: everything before it (in every shard) was handed out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from meetings import deployment
from meetings.adapters.table.codec import Item

# A shard's query: (shard partition value, exclusive start key or None, limit) → (items, the
# key to go on from, or None when the shard has no more).
ShardQuery = Callable[[str, Item | None, int], tuple[list[Item], Item | None]]
# Per shard, where its next query starts (None: at its first item); a shard that has no more
# items is absent.
Positions = dict[str, Item | None]

# A shard's share of a page, and a little more, so that a page rarely needs a second query of a
# shard yet leaves few items read and not handed out.
_SHARE_MARGIN: Final = 2


def shard_limit(limit: int, shards: int) -> int:
    return math.ceil(limit / shards) + _SHARE_MARGIN


def index_start_key(item: Mapping[str, Any], index_keys: tuple[str, str]) -> Item:
    """The start key that resumes an index query right after `item`."""
    names = (deployment.PARTITION_KEY, deployment.SORT_KEY, *index_keys)
    return {name: item[name] for name in names}


class ShardMerge:
    """The items of several shards of an index, in the index's order (newest first when
    `descending`). Iterate it; `positions()` says where to go on after the last item taken."""

    def __init__(
        self,
        query: ShardQuery,
        positions: Positions,
        *,
        index_keys: tuple[str, str],
        descending: bool,
        per_shard: int,
    ) -> None:
        self._query = query
        self._index_keys = index_keys
        self._descending = descending
        self._per_shard = per_shard
        self._next: Positions = dict(positions)  # shards with items not yet read
        self._buffers: dict[str, deque[Item]] = {shard: deque() for shard in positions}
        # Per shard, where to resume after what was taken (unread shards: their start).
        self._resume: Positions = dict(positions)
        self.queries = 0

    def _sort_value(self, item: Item) -> str:
        return str(item[self._index_keys[1]]["S"])

    def _fill(self, shard: str) -> None:
        """Read the shard's next items until it has one buffered or no more."""
        while not self._buffers[shard] and shard in self._next:
            items, last = self._query(shard, self._next[shard], self._per_shard)
            self.queries += 1
            self._buffers[shard].extend(items)
            if last is None:
                del self._next[shard]
            else:
                self._next[shard] = last

    def __iter__(self) -> Iterator[Item]:
        while True:
            for shard in self._buffers:
                self._fill(shard)
            heads = [(self._sort_value(b[0]), s) for s, b in self._buffers.items() if b]
            if not heads:
                return
            _, shard = max(heads) if self._descending else min(heads)
            item = self._buffers[shard].popleft()
            self._resume[shard] = index_start_key(item, self._index_keys)
            yield item

    def positions(self) -> Positions | None:
        """Where the shards go on after the items taken so far (None: nothing is left)."""
        left = {
            shard: self._resume[shard]
            for shard, buffer in self._buffers.items()
            if buffer or shard in self._next
        }
        return left or None
