"""qarepro.stats: the seed t-interval, the crossed two-level bootstrap and the pooled trend, each
against a simple reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qarepro import stats


def test_seed_t_interval_is_the_textbook_one():
    g = [0.9, 1.3, 0.2, 1.1, 0.5]
    iv = stats.seed_t_interval(g)
    mean, sd = np.mean(g), np.std(g, ddof=1)
    half = 2.776 * sd / math.sqrt(5)
    assert iv.estimate == pytest.approx(mean) and iv.n == 5
    assert (iv.low, iv.high) == (pytest.approx(mean - half), pytest.approx(mean + half))
    one = stats.seed_t_interval([2.0])
    assert (one.estimate, one.low, one.high) == (2.0, None, None)
    with pytest.raises(ValueError):
        stats.seed_t_interval([])


def _reference_bootstrap(d, rng, draws):
    """The crossed bootstrap written plainly: draw seed and question indices, average the submatrix."""
    s, q = d.shape
    out = np.empty(draws)
    for i in range(draws):
        out[i] = d[np.ix_(rng.integers(s, size=s), rng.integers(q, size=q))].mean()
    return out


def test_crossed_bootstrap_has_the_reference_distribution():
    rng = np.random.default_rng(0)
    d = rng.normal(0.02, 0.3, size=(4, 60)) + rng.normal(0, 0.05, size=(4, 1))  # seed and question noise
    fast = stats.crossed_bootstrap(d, np.random.default_rng(1), draws=4000)
    slow = _reference_bootstrap(d, np.random.default_rng(2), draws=4000)
    assert fast.mean() == pytest.approx(slow.mean(), abs=0.01)
    assert fast.std() == pytest.approx(slow.std(), rel=0.1)


def test_two_level_interval_is_seeded_and_collapses_on_a_constant_matrix():
    d = np.random.default_rng(3).normal(0.05, 0.2, size=(3, 40))
    a = stats.two_level_interval(d, np.random.default_rng(7))
    b = stats.two_level_interval(d, np.random.default_rng(7))
    assert a == b and a.low < a.estimate < a.high
    flat = stats.two_level_interval(np.full((3, 10), 0.25), np.random.default_rng(0))
    assert flat.low == pytest.approx(0.25) and flat.high == pytest.approx(0.25)
    with pytest.raises(ValueError):
        stats.crossed_bootstrap(np.zeros((0, 3)), np.random.default_rng(0))


def test_pooled_trend_recovers_a_noiseless_line():
    # gain = 0.01 + 0.02 per doubling, at sizes 500 / 1000 / 2000, every seed and question alike
    cells = {n: np.full((3, 20), 0.01 + 0.02 * (math.log2(n) - math.log2(1000))) for n in (500, 1000, 2000)}
    tr = stats.pooled_trend(cells, np.random.default_rng(0))
    assert tr.centre_log2 == pytest.approx(math.log2(1000))
    for iv, want in ((tr.level_t, 0.01), (tr.slope_t, 0.02), (tr.level_boot, 0.01), (tr.slope_boot, 0.02)):
        assert iv.estimate == pytest.approx(want)
        assert iv.low == pytest.approx(want) and iv.high == pytest.approx(want)


def test_pooled_trend_interval_covers_the_true_slope_and_needs_two_sizes():
    rng = np.random.default_rng(5)
    cells = {n: 0.02 * math.log2(n / 1000) + rng.normal(0, 0.3, size=(4, 200)) for n in (500, 1000, 2000, 4000)}
    tr = stats.pooled_trend(cells, np.random.default_rng(0))
    assert tr.slope_t.low < 0.02 < tr.slope_t.high
    assert tr.slope_boot.low < 0.02 < tr.slope_boot.high
    with pytest.raises(ValueError, match="two training sizes"):
        stats.pooled_trend({500: cells[500]}, rng)
    with pytest.raises(ValueError, match="same questions"):
        stats.pooled_trend({500: cells[500], 1000: cells[1000][:, :10]}, rng)


def test_pooled_trend_has_one_estimate_for_both_intervals_when_seed_counts_differ():
    # 3, 3 and 1 seeds: the seed-level fit and the bootstrap's fit of cell means are the same line
    rng = np.random.default_rng(7)
    cells = {n: 0.05 * math.log2(n / 1000) + rng.normal(0, 0.3, size=(k, 300))
             for n, k in ((500, 3), (1000, 3), (2000, 1))}
    tr = stats.pooled_trend(cells, np.random.default_rng(0))
    means = [cells[n].mean() for n in (500, 1000, 2000)]
    slope = np.polyfit([-1.0, 0.0, 1.0], means, 1)[0]
    assert tr.slope_t.estimate == pytest.approx(slope) and tr.slope_boot.estimate == pytest.approx(slope)
    assert tr.level_t.estimate == pytest.approx(np.mean(means))
    for iv in (tr.slope_t, tr.slope_boot, tr.level_t, tr.level_boot):
        assert iv.low <= iv.estimate <= iv.high
