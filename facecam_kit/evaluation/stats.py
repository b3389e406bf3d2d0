"""Confidence intervals for comparisons of models on the same test items: the paired bootstrap.

Two models scored on the same held-out items (heads) differ item by item; what varies from one
test set to the next is which items were drawn. :func:`paired_bootstrap` therefore resamples
items with replacement and recomputes the mean of the per-item differences, ``B`` times, and
reports the 2.5th and 97.5th percentiles (the percentile interval). An item is the unit of
resampling: several scenes or training seeds of one head are averaged into that head's value first
(:func:`per_item_means`), since they are not independent draws of the test set.

A gap is *resolved* when its interval excludes 0; with few items (12 heads) an interval is wide,
and a gap that is not resolved is reported as such, not as a tie.

Taught in notebook 09 (FaceCam-mini).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

#: resamples per interval: the percentiles move by about 0.1% of the interval's width between seeds
NUM_RESAMPLES = 10_000


def per_item_means(items, values) -> tuple[list, np.ndarray]:
    """The mean value of each item: items (N,) hashable labels (e.g. head indices), values (N,) float.
    Non-finite values are skipped; an item with none is left out. Returns (labels, means (M,))."""
    groups = defaultdict(list)
    for item, v in zip(items, values, strict=True):
        if np.isfinite(v):
            groups[item].append(float(v))
    labels = sorted(groups)
    return labels, np.array([np.mean(groups[k]) for k in labels])


def paired_bootstrap(
    a, b=None, num_resamples: int = NUM_RESAMPLES, confidence: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """Mean of ``a - b`` (or of ``a`` alone) over paired items, with a percentile bootstrap interval.

    a, b: (N,) per-item values of two models on the same N items, in the same order (NaN where an
    item has no value: such items are dropped from both). Returns ``mean``, ``lo``, ``hi``, ``n``
    (the items used) and ``resolved`` (the interval excludes 0). Raises ValueError for
    mismatched lengths or fewer than 2 usable items.
    """
    a = np.asarray(a, dtype=np.float64)
    b_ = np.zeros_like(a) if b is None else np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b_.shape != a.shape:
        raise ValueError(f"a and b must be (N,) arrays of the same items, got {np.shape(a)} and {np.shape(b)}")
    d = a - b_
    d = d[np.isfinite(d)]
    if len(d) < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 items with values, got {len(d)}")
    lo, hi = _interval(lambda idx: d[idx].mean(1), len(d), num_resamples, confidence, seed)
    return {
        "mean": float(d.mean()),
        "lo": float(lo),
        "hi": float(hi),
        "n": len(d),
        "resolved": bool(lo > 0 or hi < 0),
    }


def ratio_bootstrap(
    a, b, num_resamples: int = NUM_RESAMPLES, confidence: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """Ratio of means ``mean(a) / mean(b)`` over paired items, with a percentile bootstrap interval
    (items resampled together): how many times larger one condition's error is than another's.

    a, b: (N,) per-item values (positive; NaN where an item has none: dropped from both). Returns
    ``mean`` (the ratio), ``lo``, ``hi``, ``n`` and ``resolved`` (the interval excludes 1)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b.shape != a.shape:
        raise ValueError(f"a and b must be (N,) arrays of the same items, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 2 or b.mean() <= 0:
        raise ValueError(f"a ratio interval needs at least 2 items and a positive mean of b, got {len(a)} items")
    lo, hi = _interval(lambda idx: a[idx].mean(1) / b[idx].mean(1), len(a), num_resamples, confidence, seed)
    return {
        "mean": float(a.mean() / b.mean()),
        "lo": float(lo),
        "hi": float(hi),
        "n": len(a),
        "resolved": bool(lo > 1 or hi < 1),
    }


def _interval(statistic, n: int, num_resamples: int, confidence: float, seed: int) -> tuple[float, float]:
    """Percentile interval of ``statistic`` (resampled item indices (B, n) -> (B,)) over ``num_resamples``
    resamples of n items with replacement."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    idx = np.random.default_rng(seed).integers(0, n, size=(num_resamples, n))
    lo, hi = np.quantile(statistic(idx), [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)
