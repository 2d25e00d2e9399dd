"""Paged KV-cache blocks with prefix caching, modelled on vLLM V1's block pool.

Full blocks are identified by a hash chained over the token ids of every block before them, so a
block is shared only when the whole prefix up to it is equal. Blocks whose reference count drops
to zero stay cached and go to the back of a free queue; allocation takes from the front, which
evicts the least recently freed block first (LRU). Usage counts cached-but-free blocks as free,
as vLLM's `kv_cache_usage_perc` does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Block:
    """One KV block: `block_size` token slots on the virtual GPU."""

    block_id: int
    ref_count: int = 0
    block_hash: int | None = None


def block_hashes(token_ids: Sequence[int], block_size: int) -> list[int]:
    """Return the chained hash of each full block of `token_ids`."""
    hashes: list[int] = []
    parent = 0
    for start in range(0, len(token_ids) - block_size + 1, block_size):
        parent = hash((parent, tuple(token_ids[start : start + block_size])))
        hashes.append(parent)
    return hashes


class BlockPool:
    """Fixed pool of KV blocks with an LRU queue of free blocks and a prefix-hash index."""

    def __init__(self, num_blocks: int, block_size: int, enable_caching: bool = True) -> None:
        if num_blocks <= 0:
            raise ValueError("a KV cache needs at least one block")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.enable_caching = enable_caching
        self._blocks = [Block(i) for i in range(num_blocks)]
        self._free: OrderedDict[int, None] = OrderedDict.fromkeys(range(num_blocks))
        self._cached: dict[int, Block] = {}

    @property
    def num_free(self) -> int:
        """Blocks that can be allocated now (evictable cached blocks included)."""
        return len(self._free)

    def usage(self) -> float:
        """Fraction of blocks held by running sequences, 0..1."""
        return 1.0 - len(self._free) / self.num_blocks

    def cached_prefix(self, hashes: Sequence[int]) -> list[Block]:
        """Return the cached blocks matching the longest prefix of `hashes`."""
        hits: list[Block] = []
        if not self.enable_caching:
            return hits
        for block_hash in hashes:
            block = self._cached.get(block_hash)
            if block is None:
                break
            hits.append(block)
        return hits

    def acquire(self, blocks: Sequence[Block]) -> None:
        """Take a reference on cached blocks, removing free ones from the eviction queue."""
        for block in blocks:
            if block.ref_count == 0:
                del self._free[block.block_id]
            block.ref_count += 1

    def allocate(self, count: int) -> list[Block] | None:
        """Allocate `count` fresh blocks, evicting cached ones LRU-first; None if too few."""
        if count > len(self._free):
            return None
        fresh = []
        for _ in range(count):
            block_id, _ = self._free.popitem(last=False)
            block = self._blocks[block_id]
            if block.block_hash is not None:
                self._cached.pop(block.block_hash, None)
                block.block_hash = None
            block.ref_count = 1
            fresh.append(block)
        return fresh

    def release(self, blocks: Sequence[Block]) -> None:
        """Drop references; tail blocks are queued first so prefixes are evicted last."""
        for block in reversed(blocks):
            block.ref_count -= 1
            if block.ref_count == 0:
                self._free[block.block_id] = None

    def register(self, block: Block, block_hash: int) -> None:
        """Record a block that now holds a full, computed prefix block."""
        if self.enable_caching and block.block_hash is None and block_hash not in self._cached:
            block.block_hash = block_hash
            self._cached[block_hash] = block

    def reset_prefix_cache(self) -> bool:
        """Forget every cached hash (vLLM's /reset_prefix_cache); False while blocks are in use."""
        if len(self._free) != self.num_blocks:
            return False
        for block in self._blocks:
            block.block_hash = None
        self._cached.clear()
        return True
