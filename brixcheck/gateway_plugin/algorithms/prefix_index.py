"""The prefix-block index of ``prefix-cache`` and ``pd`` (v0.5.0
``pkg/utils/prefixcacheindexer/hash.go`` with its LRU store ``pkg/utils/lrustore``).

A prompt's tokens are cut into blocks of AIBRIX_PREFIX_CACHE_BLOCK_SIZE; block i's hash chains
the hash of block i-1, so equal hashes mean equal prefixes. Each hash remembers, per model,
which pods were sent that prefix. v0.5.0 uses xxhash with a random seed; this uses Python's
tuple hash (randomised per process as well), which is what makes it cheap: one C-level hash per
block. Entries idle for AIBRIX_PREFIX_CACHE_EVICTION_DURATION_MINS are evicted lazily, and the
store holds at most AIBRIX_PREFIX_CACHE_BLOCK_NUMBER blocks, least recently used first out.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection

from brixcheck.gateway_plugin.algorithms.common import env_int

DEFAULT_BLOCK_SIZE = 4  # v0.5.0 code default; the release manifest passes 128
DEFAULT_BLOCK_NUMBER = 200_000
DEFAULT_EVICTION_MINUTES = 20


class PrefixHashTable:
    def __init__(self, block_size: int | None = None, capacity: int | None = None,
                 ttl_s: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.block_size = max(1, block_size or env_int("AIBRIX_PREFIX_CACHE_BLOCK_SIZE",
                                                       DEFAULT_BLOCK_SIZE))
        self.capacity = capacity or env_int("AIBRIX_PREFIX_CACHE_BLOCK_NUMBER",
                                            DEFAULT_BLOCK_NUMBER)
        self.ttl_s = ttl_s or 60.0 * env_int("AIBRIX_PREFIX_CACHE_EVICTION_DURATION_MINS",
                                             DEFAULT_EVICTION_MINUTES)
        self._clock = clock
        self._lock = threading.Lock()
        # hash -> [last access, {model: {pod: last access}}]
        self._store: OrderedDict[int, list] = OrderedDict()

    def prefix_hashes(self, tokens: bytes) -> list[int]:
        """Chained hash per whole block (a trailing partial block is not hashed)."""
        size, parent, hashes = self.block_size, 0, []
        for start in range(0, len(tokens) - size + 1, size):
            parent = hash((parent, tokens[start:start + size]))
            hashes.append(parent)
        return hashes

    def match_prefix(self, tokens: bytes, model: str,
                     ready: Collection[str]) -> tuple[dict[str, int], list[int]]:
        """Pods (of `ready`) holding the longest run of leading blocks -> percent of blocks
        matched, and the hashes. A pod drops out at the first block it lacks (seqSearchPrefix)."""
        hashes = self.prefix_hashes(tokens)
        candidates, matched, percent = set(ready), {}, 0
        now = self._clock()
        with self._lock:
            for i, h in enumerate(hashes):
                models = self._get(h, now)
                holders = models.get(model) if models else None
                if not holders:
                    break
                if not all(c in holders for c in candidates):
                    for gone in [c for c in candidates if c not in holders]:
                        candidates.discard(gone)
                        if percent:
                            matched[gone] = percent
                    if not candidates:
                        break
                percent = (i + 1) * 100 // len(hashes)
        if percent:
            matched.update(dict.fromkeys(candidates, percent))
        return matched, hashes

    def add_prefix(self, hashes: list[int], model: str, pod: str) -> None:
        now = self._clock()
        with self._lock:
            store = self._store
            for h in hashes:
                entry = store.get(h)
                if entry is None or now - entry[0] > self.ttl_s:
                    store[h] = [now, {model: {pod: now}}]
                else:
                    entry[0] = now
                    entry[1].setdefault(model, {})[pod] = now
                    store.move_to_end(h)
            while len(store) > self.capacity:
                store.popitem(last=False)

    def _get(self, h: int, now: float) -> dict[str, dict[str, float]] | None:
        entry = self._store.get(h)
        if entry is None:
            return None
        if now - entry[0] > self.ttl_s:
            del self._store[h]
            return None
        return entry[1]

    def __len__(self) -> int:
        return len(self._store)
