"""``prefix-cache`` (v0.5.0 ``algorithms/prefix_cache.go``, local index; the remote-tokenizer and
KV-event-sync variants need engine tokenizer endpoints and are not emulated).

Per request: if the gateway-local in-flight counts differ by more than
AIBRIX_PREFIX_CACHE_POD_RUNNING_REQUEST_IMBALANCE_ABS_COUNT, prefix matching is skipped; else
the pods holding the longest matched prefix are tried (most matched first, then fewest
in-flight), taking the first whose count is within mean + factor * std-dev (factor:
AIBRIX_PREFIX_CACHE_STANDARD_DEVIATION_FACTOR). Without such a pod it takes a least-request pod.
The prompt's blocks are then recorded for the chosen pod. Tokens are the prompt's UTF-8 bytes
(the `character` tokenizer, AIBRIX_PREFIX_CACHE_TOKENIZER_TYPE's default and the release's
value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from brixcheck.gateway_plugin.algorithms.common import (
    env_int,
    env_str,
    least_request_pod,
    log,
    mean,
    random_pod,
    request_counts,
    rng,
    stdev,
)
from brixcheck.gateway_plugin.algorithms.prefix_index import PrefixHashTable
from brixcheck.gateway_plugin.types import Cache, Pod, RoutingContext, RoutingError

DEFAULT_IMBALANCE_ABS_COUNT = 8  # code defaults; the release manifest passes 16 and 2
DEFAULT_STDDEV_FACTOR = 1


def tokenize(message: str) -> bytes:
    if env_str("AIBRIX_PREFIX_CACHE_TOKENIZER_TYPE", "character") != "character":
        log.warning("only the character tokenizer is emulated; tokenizing by characters")
    return message.encode()


def imbalance_target(counts: Mapping[str, int], pods: Sequence[Pod],
                     threshold: int) -> Pod | None:
    """A least-loaded pod when max - min in-flight exceeds `threshold`, else None."""
    if not counts:
        return None
    low, high = min(counts.values()), max(counts.values())
    if high - low <= threshold:
        return None
    return random_pod([p for p in pods if counts[p.name] == low])


def matched_target(counts: Mapping[str, int], pods: Sequence[Pod], matched: Mapping[str, int],
                   stddev_factor: int) -> Pod | None:
    """The best-matched pod loaded at most mean + factor * std-dev (getTargetPodFromMatchedPods)."""
    values = [float(c) for c in counts.values()]
    limit = mean(values) + stddev_factor * stdev(values)
    names = list(matched)
    rng.shuffle(names)  # v0.5.0 shuffles before its stable sort: equal pods come in random order
    names.sort(key=lambda n: (-matched[n], counts.get(n, 0)))
    by_name = {p.name: p for p in pods}
    for name in names:
        if counts.get(name, 0) <= limit:
            return by_name.get(name)
    return None


class PrefixCacheRouter:
    def __init__(self, cache: Cache, index: PrefixHashTable | None = None) -> None:
        self.cache = cache
        self.index = index or PrefixHashTable()
        self.imbalance = env_int("AIBRIX_PREFIX_CACHE_POD_RUNNING_REQUEST_IMBALANCE_ABS_COUNT",
                                 DEFAULT_IMBALANCE_ABS_COUNT)
        self.stddev_factor = env_int("AIBRIX_PREFIX_CACHE_STANDARD_DEVIATION_FACTOR",
                                     DEFAULT_STDDEV_FACTOR)

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        tokens = tokenize(ctx.message)
        counts = request_counts(self.cache, ready_pods)
        matched: dict[str, int] = {}
        target = imbalance_target(counts, ready_pods, self.imbalance)
        if target is not None:
            hashes = self.index.prefix_hashes(tokens)
            log.info("prefix_cache_load_imbalanced request_id=%s target_pod=%s counts=%s",
                     ctx.request_id, target.name, counts)
        else:
            matched, hashes = self.index.match_prefix(tokens, ctx.model, counts.keys())
            if matched:
                target = matched_target(counts, ready_pods, matched, self.stddev_factor)
                log.info("prefix_cache_matched_pods request_id=%s target_pod=%s matched=%s",
                         ctx.request_id, target and target.name, matched)
        if not matched or target is None:
            # v0.5.0 also lands here after an imbalance pick (nothing matched): least-request.
            target = least_request_pod(self.cache, ready_pods)
            log.info("prefix_cache_fallback_least_request_count request_id=%s target_pod=%s",
                     ctx.request_id, target and target.name)
        if target is None:
            raise RoutingError("no pods to forward request")
        if hashes:
            self.index.add_prefix(hashes, ctx.model, target.name)
        return target
