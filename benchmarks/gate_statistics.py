"""Does the regression gate's tail-quantile test hold its level, and how much power does it have?

Simulates pairs of runs of n lognormal TTFTs (median 50 ms, sigma 0.3): identical distributions
(false alarms) and a candidate scaled by 1.2 (a 20% slowdown). For the p99 it compares the
gate's permutation test (`brixcheck.analysis.stats.quantile_shift`) with the percentile
bootstrap test it replaced (p = share of resampled changes <= 0), both one-sided, counting a
regression as p < alpha and observed change > 10%. For the p50, Mann–Whitney U. Prints JSON.
Usage: python benchmarks/gate_statistics.py [--trials 1000] [--n 300] [--resamples 999]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from brixcheck.analysis.stats import (
    Alternative,
    bootstrap_replicates,
    mann_whitney_u,
    quantile_shift,
)

TOLERANCE = 0.10


def _bootstrap_p(base: np.ndarray, cand: np.ndarray, resamples: int, seed: int) -> float:
    rng = np.random.Generator(np.random.PCG64(seed))

    def q99(a: np.ndarray) -> np.ndarray:
        return np.quantile(a, 0.99, axis=1)

    changes = (bootstrap_replicates(cand, q99, rng, resamples)
               / bootstrap_replicates(base, q99, rng, resamples) - 1)
    return (1 + int((changes <= 0).sum())) / (resamples + 1)


def _trial(seed: int, n: int, scale: float, resamples: int) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    base = rng.lognormal(np.log(50), 0.3, n)
    cand = rng.lognormal(np.log(50), 0.3, n) * scale
    change99 = float(np.quantile(cand, 0.99) / np.quantile(base, 0.99) - 1)
    change50 = float(np.median(cand) / np.median(base) - 1)
    return {
        "p99 permutation": (quantile_shift(base, cand, 0.99, n_resamples=resamples,
                                           seed=seed).p_value, change99),
        "p99 bootstrap": (_bootstrap_p(base, cand, resamples, seed), change99),
        "p50 Mann-Whitney": (mann_whitney_u(cand, base, Alternative.GREATER).p_value, change50),
    }


def main() -> None:
    """Run the simulation and print rejection rates."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--resamples", type=int, default=999)
    args = parser.parse_args()
    out: dict[str, dict[str, float]] = {}
    for label, scale in (("identical", 1.0), ("slower_20pct", 1.2)):
        counts: dict[str, list[int]] = {}
        for seed in range(args.trials):
            for test, (p, change) in _trial(seed, args.n, scale, args.resamples).items():
                hits = counts.setdefault(test, [0, 0, 0])
                hits[0] += p < 0.01
                hits[1] += p < 0.05
                hits[2] += p < 0.01 and change > TOLERANCE
        out[label] = {f"{test} {what}": hits[i] / args.trials for test, hits in counts.items()
                      for i, what in enumerate(("p<0.01", "p<0.05", "regression@0.01"))}
    print(json.dumps({"n": args.n, "trials": args.trials, "resamples": args.resamples, **out},
                     indent=2))


if __name__ == "__main__":
    main()
