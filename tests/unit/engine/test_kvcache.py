from __future__ import annotations

from brixcheck.engine.kvcache import BlockPool, block_hashes


def test_block_hashes_chain_over_the_whole_prefix():
    a = block_hashes([1, 2, 3, 4, 5, 6, 7, 8], 4)
    b = block_hashes([9, 2, 3, 4, 5, 6, 7, 8], 4)
    assert len(a) == 2
    assert a[0] != b[0]
    assert a[1] != b[1], "equal second blocks after different first blocks must differ"


def test_block_pool_evicts_least_recently_freed_first():
    pool = BlockPool(num_blocks=2, block_size=4)
    first, second = pool.allocate(1), pool.allocate(1)
    assert first
    assert second
    pool.register(first[0], 111)
    pool.register(second[0], 222)
    pool.release(first)
    pool.release(second)
    assert len(pool.cached_prefix([111])) == 1
    pool.allocate(1)  # evicts block 111, freed earliest
    assert pool.cached_prefix([111]) == []
    assert len(pool.cached_prefix([222])) == 1


def test_block_pool_usage_counts_cached_free_blocks_as_free():
    pool = BlockPool(num_blocks=4, block_size=4)
    blocks = pool.allocate(2)
    assert blocks
    assert pool.usage() == 0.5
    pool.register(blocks[0], 1)
    pool.release(blocks)
    assert pool.usage() == 0.0


def test_block_pool_reset_refuses_while_blocks_are_used():
    pool = BlockPool(num_blocks=2, block_size=4)
    blocks = pool.allocate(1)
    assert blocks
    pool.register(blocks[0], 5)
    assert not pool.reset_prefix_cache()
    pool.release(blocks)
    assert pool.reset_prefix_cache()
    assert pool.cached_prefix([5]) == []


def test_block_pool_without_caching_never_hits():
    pool = BlockPool(num_blocks=2, block_size=4, enable_caching=False)
    blocks = pool.allocate(1)
    assert blocks
    pool.register(blocks[0], 9)
    assert pool.cached_prefix([9]) == []
