"""Noise statistics for evaluation scores: bootstrap intervals over items, seed spread, and a verdict in words.

Pure functions on plain lists (0/1 correctness per item, or per-step values); no I/O, no torch. Scores are in
percent. The bootstrap resamples items with replacement (`n_boot` times, seeded NumPy generator, so a result
repeats exactly);
a paired bootstrap resamples the same item indices for both evaluations, which is the right interval for a change
measured on the same items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

N_BOOT = 2000
LEVEL = 0.95


def mean_percent(values: Sequence[float]) -> float:
    return 100.0 * sum(values) / len(values) if values else 0.0


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(samples, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def _resample(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap_ci(
    values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (percent) of per-item values (0/1 or fractions)."""
    if not values:
        raise ValueError("bootstrap_ci needs at least one value")
    x = np.asarray(values, dtype=float)
    return _interval(100.0 * x[_resample(len(x), n_boot, seed)].mean(axis=1), level)


def paired_bootstrap_ci(
    before: Sequence[float], after: Sequence[float], n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(after) - mean(before) (percent points) over the same items."""
    if len(before) != len(after) or not before:
        raise ValueError("paired_bootstrap_ci needs two equally long, non-empty lists (the same items)")
    d = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    return _interval(100.0 * d[_resample(len(d), n_boot, seed)].mean(axis=1), level)


def diff_of_means_ci(
    first: Sequence[float], last: Sequence[float], n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> tuple[float, float]:
    """Bootstrap interval of mean(last) - mean(first) for two independent groups (e.g. a training curve's first
    and last steps), in the values' own unit."""
    if not first or not last:
        raise ValueError("diff_of_means_ci needs two non-empty lists")
    a, b = np.asarray(first, dtype=float), np.asarray(last, dtype=float)
    ma = a[_resample(len(a), n_boot, seed)].mean(axis=1)
    mb = b[_resample(len(b), n_boot, seed + 1)].mean(axis=1)
    return _interval(mb - ma, level)


def spread(scores: Sequence[float]) -> float:
    """Range (max - min) of the same evaluation repeated under different sampling seeds."""
    return max(scores) - min(scores) if scores else 0.0


@dataclass(frozen=True)
class Change:
    """One score change between two evaluations of the same items, judged against the noise."""

    name: str
    before: float
    after: float
    ci95: tuple[float, float]
    """Paired bootstrap 95 % interval of `after - before` (points)."""
    seed_spread: float | None
    """Range of the untrained model's score over sampling seeds at the training temperature (None: not measured)."""

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def exceeds_noise(self) -> bool:
        """The interval excludes 0 and the change is larger than the sampling-seed range (when measured)."""
        outside = self.ci95[0] > 0.0 or self.ci95[1] < 0.0
        return outside and (self.seed_spread is None or abs(self.delta) > self.seed_spread)

    def words(self) -> str:
        lo, hi = self.ci95
        seeds = (
            ""
            if self.seed_spread is None
            else f"; the untrained model moves {self.seed_spread:.1f} points over 3 seeds"
        )
        if self.exceeds_noise:
            verdict = "a real " + ("gain" if self.delta > 0 else "loss") + ": it exceeds the noise floor"
        else:
            verdict = "within the noise floor: no measurable change"
        return (
            f"{self.name}: {self.before:.1f} -> {self.after:.1f} ({self.delta:+.1f} points, paired 95 % interval "
            f"{lo:+.1f} to {hi:+.1f}{seeds}) is {verdict}"
        )


def change(
    name: str, before: Sequence[float], after: Sequence[float], seed_scores: Sequence[float] | None = None
) -> Change:
    """Judge the move from `before` to `after` (per-item values on the same items, in the same order)."""
    return Change(
        name,
        mean_percent(before),
        mean_percent(after),
        paired_bootstrap_ci(before, after),
        spread(seed_scores) if seed_scores else None,
    )
