"""The paired bootstrap: its intervals cover the truth as often as they say, and pair what they should."""

import numpy as np
import pytest

from facecam_kit.evaluation.stats import paired_bootstrap, per_item_means, ratio_bootstrap


def test_a_constant_gap_has_a_zero_width_interval_and_nan_items_drop_out():
    a = np.array([3.0, 4.0, np.nan, 6.0])
    gap = paired_bootstrap(a, a - 0.5)
    assert gap["mean"] == pytest.approx(0.5) and gap["lo"] == pytest.approx(0.5) and gap["hi"] == pytest.approx(0.5)
    assert gap["n"] == 3 and gap["resolved"]
    tie = paired_bootstrap(a, a)
    assert tie["mean"] == 0 and not tie["resolved"]


def test_pairing_removes_the_items_own_spread():
    """Items differ far more than the models do: paired, the 0.3 gap is resolved; the same values
    unpaired (shuffled) are not."""
    rng = np.random.default_rng(0)
    item = rng.normal(0, 5, 12)  # e.g. some heads are much harder than others
    a, b = item + 0.3 + rng.normal(0, 0.1, 12), item + rng.normal(0, 0.1, 12)
    paired = paired_bootstrap(a, b)
    assert paired["resolved"] and paired["lo"] > 0.1 and paired["hi"] < 0.5
    unpaired = paired_bootstrap(a, rng.permutation(b))
    assert not unpaired["resolved"]


def test_95_percent_intervals_cover_the_true_gap_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    gaps = [paired_bootstrap(rng.normal(1.0, 2.0, 12), np.zeros(12), num_resamples=2000, seed=i) for i in range(300)]
    covered = [g["lo"] <= 1.0 <= g["hi"] for g in gaps]
    # the percentile bootstrap runs a little short with 12 items (measured 0.91 here)
    assert 0.86 <= np.mean(covered) <= 0.98
    wide = paired_bootstrap(rng.normal(1.0, 2.0, 400), np.zeros(400))
    assert wide["hi"] - wide["lo"] == pytest.approx(2 * 1.96 * 2.0 / 20, rel=0.15)


def test_ratio_of_means_is_paired_and_covers_the_true_ratio():
    """An error twice as large on every item is a ratio of exactly 2; with noise, the interval of
    the ratio of means covers the true ratio about 95% of the time at 12 items."""
    b = np.array([2.0, 5.0, np.nan, 9.0])
    exact = ratio_bootstrap(2 * b, b)
    assert exact["mean"] == pytest.approx(2) and exact["lo"] == pytest.approx(2) and exact["hi"] == pytest.approx(2)
    assert exact["n"] == 3 and exact["resolved"] and not ratio_bootstrap(b, b)["resolved"]
    rng = np.random.default_rng(2)
    hits = []
    for i in range(300):
        item = rng.uniform(2, 10, 12)  # per-head difficulty, shared by both conditions
        r = ratio_bootstrap(1.5 * item * rng.lognormal(0, 0.3, 12), item, num_resamples=2000, seed=i)
        hits.append(r["lo"] <= 1.5 * np.exp(0.3**2 / 2) <= r["hi"])  # the lognormal noise's mean
    assert 0.86 <= np.mean(hits) <= 0.98
    with pytest.raises(ValueError, match="positive mean of b"):
        ratio_bootstrap(np.ones(3), np.zeros(3))


def test_per_item_means_average_each_items_scenes():
    labels, means = per_item_means([2, 0, 2, 0, 1], [1.0, 4.0, 3.0, np.nan, np.inf])
    assert labels == [0, 2] and means.tolist() == [4.0, 2.0]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="same items"):
        paired_bootstrap(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="at least 2 items"):
        paired_bootstrap([1.0, np.nan])
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap(np.ones(3), confidence=95)
