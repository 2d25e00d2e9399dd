"""Request bodies for synthetic workloads, built before the run (nothing costly on the hot path).

Prompts are seeded word sequences of a fixed length; output length is fixed with `max_tokens`
plus `ignore_eos` (vLLM extension) so every tool and strategy does the same work.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

_WORDS = ("alpha", "beta", "gamma", "delta", "cache", "route", "token", "model", "batch", "pod",
          "node", "queue", "prefix", "stream", "gateway", "engine", "kernel", "memory")


@dataclass(frozen=True)
class ChatWorkload:
    """Fixed-shape streaming chat requests."""

    model: str
    prompt_words: int
    output_tokens: int
    seed: int = 0
    continuous_usage: bool = True
    prefix_groups: int = 0
    prefix_words: int = 0
    sessions: int = 0  # multi-turn chat: request i is turn i // sessions of session i % sessions
    turns: int = 8  # turns per conversation; then the session starts a new one

    def _words(self, *key: int) -> str:
        rng = random.Random(hash(key) ^ self.seed)
        return " ".join(rng.choice(_WORDS) for _ in range(self.prompt_words))

    def messages(self, index: int) -> list[dict[str, str]]:
        """Request `index`'s messages: one user prompt, or in a multi-turn workload the
        conversation so far (each earlier turn's user words and a seeded assistant reply) and
        the new user turn, so each turn re-sends its predecessor as a prefix."""
        if not self.sessions:
            return [{"role": "user", "content": self.prompt(index)}]
        session, turn = index % self.sessions, index // self.sessions
        conversation, turn = turn // self.turns, turn % self.turns
        history: list[dict[str, str]] = []
        for k in range(turn):
            history += [{"role": "user", "content": self._words(session, conversation, k, 0)},
                        {"role": "assistant",
                         "content": self._words(session, conversation, k, 1)}]
        return [*history, {"role": "user", "content": self._words(session, conversation,
                                                                   turn, 0)}]

    def prompt(self, index: int) -> str:
        """Request `index`'s prompt: its group's shared prefix (if any) then its own words."""
        rng = random.Random(self.seed * 1_000_003 + index)
        words = [rng.choice(_WORDS) for _ in range(self.prompt_words)]
        if self.prefix_groups and self.prefix_words:
            group = random.Random(self.seed * 7_919 + index % self.prefix_groups)
            words = [f"g{index % self.prefix_groups}"] + \
                [group.choice(_WORDS) for _ in range(self.prefix_words)] + words
        return " ".join(words)

    def body(self, index: int) -> bytes:
        """The JSON body of request `index` (deterministic)."""
        return json.dumps({
            "model": self.model, "stream": True, "max_tokens": self.output_tokens,
            "ignore_eos": True, "messages": self.messages(index),
            "stream_options": {"include_usage": True,
                               "continuous_usage_stats": self.continuous_usage},
        }).encode()
