"""``prefix-cache-preble`` (v0.5.0 ``algorithms/prefix_cache_preble.go`` over the radix tree of
``pkg/utils/prefixcacheindexer/tree.go``).

Every prompt is inserted into a radix tree of tokens. If more than half of it was already in
the tree, the request goes to the least-loaded pod (requests in the sliding window) among those
that served the deepest matching node; otherwise to the pod of least estimated cost, where a
pod's cost sums, over the tree nodes it served in the sliding window
(AIBRIX_ROUTER_PREBLE_SLIDING_WINDOW_PERIOD minutes), a prefill-time model of the target GPU
(AIBRIX_ROUTER_PREBLE_TARGET_GPU, V100 or A6000)
times the node's miss rate and request count, plus AIBRIX_ROUTER_PREBLE_DECODING_LENGTH x 0.15 s.
Nodes idle for 5 minutes are evicted. v0.5.0 tokenizes with tiktoken here; the emulator uses
the prompt's UTF-8 bytes, which keeps the routing shape (ratios, tree) and not token counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from brixcheck.gateway_plugin.algorithms.common import env_int, env_str, log
from brixcheck.gateway_plugin.types import Cache, Pod, RoutingContext, RoutingError

NODE_TTL_S = 300.0  # tree.go evictionDuration, hard-coded
MATCH_THRESHOLD = 0.5
DEFAULT_TIME_PER_TOKEN_S = 0.15


@dataclass(eq=False)
class Node:
    key: bytes
    parent: Node | None
    context_length: int
    last_access: float
    children: dict[int, Node] = field(default_factory=dict)
    pods: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> pod -> time

    def ancestry(self):
        node: Node | None = self
        while node is not None:
            yield node
            node = node.parent


class RadixTree:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.root = Node(b"", None, 0, clock())
        self.nodes: set[Node] = set()

    def insert(self, tokens: bytes) -> tuple[Node, int]:
        """Insert `tokens`; the node ending them and how many were already present."""
        node, rest, matched, now = self.root, tokens, 0, self.clock()
        while rest:
            node.last_access = now
            child = node.children.get(rest[0])
            if child is None:
                leaf = Node(rest, node, node.context_length + len(rest), now)
                node.children[rest[0]] = leaf
                self.nodes.add(leaf)
                return leaf, matched
            common = _common_prefix(child.key, rest)
            if common < len(child.key):
                child = self._split(child, common)
            child.last_access = now
            node, rest, matched = child, rest[common:], matched + common
        return node, matched

    def _split(self, child: Node, at: int) -> Node:
        parent = child.parent
        assert parent is not None
        upper = Node(child.key[:at], parent, parent.context_length + at, child.last_access,
                     pods={m: dict(p) for m, p in child.pods.items()})
        parent.children[child.key[0]] = upper
        child.key, child.parent = child.key[at:], upper
        upper.children[child.key[0]] = child
        self.nodes.add(upper)
        return upper

    def evict(self, now: float) -> set[Node]:
        """Drop nodes idle longer than the TTL, with their subtrees."""
        gone: set[Node] = set()
        for node in [n for n in self.nodes if now - n.last_access > NODE_TTL_S]:
            stack = [node]
            while stack:
                current = stack.pop()
                if current not in gone:
                    gone.add(current)
                    stack.extend(current.children.values())
        for node in gone:
            if node.parent is not None and node.parent not in gone:
                node.parent.children.pop(node.key[0], None)
        self.nodes -= gone
        return gone


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _linear_ms(gpu: str, tokens: int) -> float:
    a6000 = gpu == "A6000"
    if tokens >= 384:
        return ((0.10842571 * tokens + 4.209777054806409) if a6000
                else (0.27106428 * tokens + 10.52444263))
    if tokens >= 192:
        return ((-118 + 1.25 * tokens - 2.56e-3 * tokens ** 2) if a6000
                else (-295 + 3.125 * tokens - 6.4e-3 * tokens ** 2))
    return 22.0 if a6000 else 55.0


def _attention_ms(gpu: str, context: int, unique: int) -> float:
    unique = unique or context
    a6000 = gpu == "A6000"
    if context <= 1024:
        return 0.32 if a6000 else 0.80
    forward = (1.86e-4 * context + 0.159) if a6000 else (4.65e-4 * context + 0.398)
    if unique <= 1024 and unique <= 32 * 256 * 2048:
        forward /= 2
    return forward


def _quadratic_ms(gpu: str, tokens: int) -> float:
    if tokens < 4096:
        return 0.0
    if gpu == "A6000":
        return -7.37 + 3.86e-3 * tokens + 2.16e-6 * tokens ** 2
    return -18.425 + 9.65e-3 * tokens + 5.4e-6 * tokens ** 2


@dataclass
class NodeStats:
    count: int = 0
    hit_tokens: int = 0
    prompt_tokens: int = 0
    decoding: int = 0


class PrebleRouter:
    def __init__(self, cache: Cache, clock: Callable[[], float] = time.monotonic) -> None:
        self.cache, self.clock = cache, clock
        self.gpu = env_str("AIBRIX_ROUTER_PREBLE_TARGET_GPU", "V100")
        if self.gpu not in ("V100", "A6000"):
            log.warning("Unknown target GPU: %s. Assume V100 as default", self.gpu)
            self.gpu = "V100"
        self.decoding_length = env_int("AIBRIX_ROUTER_PREBLE_DECODING_LENGTH", 45)
        self.window_s = 60.0 * env_int("AIBRIX_ROUTER_PREBLE_SLIDING_WINDOW_PERIOD", 3)
        self.eviction_s = env_int("AIBRIX_ROUTER_PREBLE_EVICTION_LOOP_INTERVAL", 1000) / 1000.0
        self.tree = RadixTree(clock)
        self.stats: dict[Node, NodeStats] = {}
        self.window: list[tuple[float, Node]] = []
        self.pod_names: frozenset[str] = frozenset()
        self._last_eviction = clock()
        self._lock = threading.Lock()

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        with self._lock:
            self._maintain(ready_pods)
            tokens = ctx.message.encode()
            node, matched = self.tree.insert(tokens)
            ratio = matched / len(tokens) if tokens else 0.0
            target = (self._by_prefix(node, ctx.model, ready_pods)
                      if ratio > MATCH_THRESHOLD else None)
            if target is None:
                log.info("preble cost-model routing request_id=%s match_ratio=%.2f",
                         ctx.request_id, ratio)
                target = self._by_cost(ready_pods)
            if target is None:
                raise RoutingError("no suitable pod found")
            now = self.clock()
            for current in node.ancestry():
                current.pods.setdefault(ctx.model, {})[target.name] = now
            self._record(now, node)
            return target

    def _by_prefix(self, node: Node, model: str, pods: Sequence[Pod]) -> Pod | None:
        """Least-loaded pod of the deepest node on the path that a ready pod served."""
        by_name = {p.name: p for p in pods}
        for current in node.ancestry():  # deepest first = longest context first
            served = [by_name[n] for n in current.pods.get(model, {}) if n in by_name]
            if served:
                return min(served, key=self._pod_load)
        return None

    def _pod_load(self, pod: Pod) -> int:
        return sum(s.count for n, s in self.stats.items()
                   if any(pod.name in ps for ps in n.pods.values()))

    def _by_cost(self, pods: Sequence[Pod]) -> Pod | None:
        costs: dict[str, float] = {}
        for node, stats in self.stats.items():
            cost = self._prefill_cost(node, stats) + stats.decoding * DEFAULT_TIME_PER_TOKEN_S
            for model_pods in node.pods.values():
                for name in model_pods:
                    costs[name] = costs.get(name, 0.0) + cost
        return min(pods, key=lambda p: costs.get(p.name, 0.0), default=None)

    def _prefill_cost(self, node: Node, stats: NodeStats) -> float:
        miss = 1.0 - stats.hit_tokens / stats.prompt_tokens if stats.prompt_tokens > 0 else 1.0
        tokens, context = len(node.key), node.context_length
        base = _linear_ms(self.gpu, tokens) + _attention_ms(self.gpu, context, tokens)
        seconds = (base + _quadratic_ms(self.gpu, tokens)) / 1000.0 / 0.9
        # v0.5.0 divides by the number of models on the node (named as if it were pods).
        return miss * stats.count * seconds / max(1, len(node.pods))

    def _record(self, now: float, node: Node) -> None:
        stats = self.stats.setdefault(node, NodeStats())
        stats.count += 1
        stats.decoding = self.decoding_length
        stats.hit_tokens += node.context_length - len(node.key)
        stats.prompt_tokens += node.context_length
        self.window.append((now, node))

    def _maintain(self, pods: Sequence[Pod]) -> None:
        """Forget pods that left; evict idle nodes and requests out of the window (the
        eviction loop v0.5.0 runs every AIBRIX_ROUTER_PREBLE_EVICTION_LOOP_INTERVAL ms)."""
        names = frozenset(p.name for p in pods)
        if names != self.pod_names:
            for node in self.tree.nodes:
                for model_pods in node.pods.values():
                    for gone in [n for n in model_pods if n not in names]:
                        del model_pods[gone]
            self.pod_names = names
        now = self.clock()
        if now - self._last_eviction >= self.eviction_s:
            self._last_eviction = now
            self._expire(now, self.tree.evict(now))

    def _expire(self, now: float, evicted: set[Node]) -> None:
        """Drop evicted nodes' statistics and un-count requests that left the window."""
        keep = []
        for stamp, node in self.window:
            stats = self.stats.get(node)
            if node in evicted or stats is None:
                continue
            if now - stamp <= self.window_s:
                keep.append((stamp, node))
                continue
            stats.count -= 1
            stats.hit_tokens -= node.context_length - len(node.key)
            stats.prompt_tokens -= node.context_length
            if stats.prompt_tokens <= 0:
                del self.stats[node]
        self.window = keep
        for node in evicted:
            self.stats.pop(node, None)
