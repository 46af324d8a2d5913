"""Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", Eq. 1).

With n samples of which c are correct, pass@k = 1 - C(n-c, k) / C(n, k): the chance that a random
size-k subset of the n samples holds at least one correct sample. Computed as a running product so
it stays exact-ish for large n (no huge binomials).
"""

from __future__ import annotations

from collections.abc import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) is correct."""
    if not (0 <= c <= n) or n <= 0:
        raise ValueError(f"need 0 <= c <= n and n > 0 (got n={n}, c={c})")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n (got k={k}, n={n})")
    if n - c < k:
        # every size-k subset contains a correct sample
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    prob_all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_wrong *= 1.0 - k / i
    return 1.0 - prob_all_wrong


def ks_for(n: int) -> list[int]:
    """The k values reported for n samples: 1, powers of two below n, and n itself."""
    ks = [1]
    k = 2
    while k < n:
        ks.append(k)
        k *= 2
    if n > 1:
        ks.append(n)
    return ks


def mean_pass_at_k(correct_counts: Sequence[int], n: int, k: int) -> float:
    """Benchmark-level pass@k: the mean of the per-item estimates (0.0 for an empty benchmark)."""
    if not correct_counts:
        return 0.0
    return sum(pass_at_k(n, c, k) for c in correct_counts) / len(correct_counts)
