"""Intervals for a paired distillation gain: over seeds (Student t), over seeds and questions (a
two-level bootstrap), and pooled across training sizes (the gain's trend in log2 of the size).

The data of one cell (a card setting at one training size) is a matrix D [seeds, questions]:
D[s, q] = score of the distilled student at seed s on question q minus the score of the student
trained without distillation at the same seed (same initialisation and data order) on the same
question. Every seed is scored on the same questions, so seeds and questions are crossed: the
bootstrap draws seeds and questions independently and keeps the crossing (each drawn seed is
read on the same drawn questions). Pure numpy; the seed generator is an argument, so the same
records give the same intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

# two-sided 95% quantiles of Student's t by degrees of freedom (df > 30: the normal's 1.96 is
# within 4% of t's and falls as df grows; these are the table values, not an approximation)
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
         10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
         18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060,
         26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042}
BOOTSTRAP_DRAWS = 2000


def t975(df: int) -> float:
    """Two-sided 95% quantile of Student's t with `df` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError(f"t quantile needs df >= 1, got {df}")
    return _T975.get(df, 1.96)


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% interval (low, high); `n` is what it rests on (seeds or points)."""

    estimate: float
    low: float | None
    high: float | None
    n: int

    def as_dict(self, prefix: str = "") -> dict[str, float | int | None]:
        return {f"{prefix}estimate": self.estimate, f"{prefix}low": self.low, f"{prefix}high": self.high,
                f"{prefix}n": self.n}


def seed_t_interval(gains: Sequence[float]) -> Interval:
    """Mean of per-seed paired gains with its 95% Student-t interval (none for one seed)."""
    g = np.asarray(gains, dtype=float)
    if g.size == 0:
        raise ValueError("no paired gains")
    mean = float(g.mean())
    if g.size < 2:
        return Interval(mean, None, None, 1)
    half = t975(g.size - 1) * float(g.std(ddof=1)) / math.sqrt(g.size)
    return Interval(mean, mean - half, mean + half, int(g.size))


def crossed_bootstrap(diffs: np.ndarray, rng: np.random.Generator, draws: int = BOOTSTRAP_DRAWS) -> np.ndarray:
    """`draws` bootstrap means of a [seeds, questions] matrix: seeds drawn with replacement, and
    questions drawn with replacement once per draw and shared by the drawn seeds."""
    d = np.asarray(diffs, dtype=float)
    if d.ndim != 2 or 0 in d.shape:
        raise ValueError(f"expected a non-empty [seeds, questions] matrix, got shape {d.shape}")
    s, q = d.shape
    seed_counts = rng.multinomial(s, np.full(s, 1.0 / s), size=draws)  # [draws, s]
    question_counts = rng.multinomial(q, np.full(q, 1.0 / q), size=draws)  # [draws, q]
    return ((seed_counts @ d) * question_counts).sum(axis=1) / (s * q)


def two_level_interval(diffs: np.ndarray, rng: np.random.Generator, draws: int = BOOTSTRAP_DRAWS) -> Interval:
    """Mean paired gain of a cell with the 2.5-97.5 percentile interval of `crossed_bootstrap`."""
    d = np.asarray(diffs, dtype=float)
    means = crossed_bootstrap(d, rng, draws)
    low, high = np.percentile(means, [2.5, 97.5])
    return Interval(float(d.mean()), float(low), float(high), int(d.shape[0]))


@dataclass(frozen=True)
class Trend:
    """Gain = level + slope * (log2(size) - centre): the pooled gain at the centre size and its change
    per doubling of the training data, each with a t interval (per-seed points) and a bootstrap one."""

    centre_log2: float
    level_t: Interval
    slope_t: Interval
    level_boot: Interval
    slope_boot: Interval

    def as_dict(self) -> dict[str, object]:
        return {"centre_size": float(2 ** self.centre_log2), **self.level_t.as_dict("level_t_"),
                **self.slope_t.as_dict("slope_t_"), **self.level_boot.as_dict("level_boot_"),
                **self.slope_boot.as_dict("slope_boot_")}


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """Weighted least squares y = a + b x (x already centred on the unweighted centre)."""
    w = np.ones_like(y) if w is None else w
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    sxx = float((w * (x - xm) ** 2).sum())
    b = float((w * (x - xm) * (y - ym)).sum() / sxx) if sxx > 0 else 0.0
    return float(ym - b * xm), b


def pooled_trend(cells: Mapping[int, np.ndarray], rng: np.random.Generator,
                 draws: int = BOOTSTRAP_DRAWS) -> Trend:
    """The gain against log2(training size), pooled over cells {size: [seeds, questions] diffs}.

    One estimate, two intervals. The estimate is the line through the sizes' mean gains, each size
    counted once however many seeds it has (as the bootstrap draws it). t intervals: the same line
    as weighted least squares through the per-seed gains (one point per seed and size, weight 1 /
    seeds at that size), its variance from the residual spread of the seed points (df = points - 2).
    Bootstrap: per draw, seeds drawn within each size and one question draw shared by every cell
    (the sizes are scored on the same questions), then the same fit through the drawn cell means."""
    sizes = sorted(cells)
    if len(sizes) < 2:
        raise ValueError("a trend needs at least two training sizes")
    q = {np.asarray(cells[n]).shape[1] for n in sizes}
    if len(q) != 1:
        raise ValueError(f"every size must be scored on the same questions, got counts {sorted(q)}")
    n_q = q.pop()
    logs = np.log2(np.asarray(sizes, dtype=float))
    centre = float(logs.mean())
    seeds = [np.asarray(cells[n]).shape[0] for n in sizes]
    xs = np.concatenate([np.full(s, lg - centre) for s, lg in zip(seeds, logs)])
    ys = np.concatenate([np.asarray(cells[n], dtype=float).mean(axis=1) for n in sizes])
    ws = np.concatenate([np.full(s, 1.0 / s) for s in seeds])
    a, b = _fit(xs, ys, ws)
    df = len(ys) - 2
    design = np.stack([np.ones_like(xs), xs], axis=1)
    gram = design.T @ (ws[:, None] * design)
    if df >= 1 and abs(np.linalg.det(gram)) > 1e-12:
        resid = ys - (a + b * xs)
        s2 = float((resid ** 2).sum() / df)
        coef = np.linalg.solve(gram, (ws[:, None] * design).T)  # (a, b) = coef @ ys
        se_a, se_b = (math.sqrt(s2 * float(c @ c)) for c in coef)
        tq = t975(df)
        level_t = Interval(a, a - tq * se_a, a + tq * se_a, len(ys))
        slope_t = Interval(b, b - tq * se_b, b + tq * se_b, len(ys))
    else:
        level_t, slope_t = Interval(a, None, None, len(ys)), Interval(b, None, None, len(ys))
    question_counts = rng.multinomial(n_q, np.full(n_q, 1.0 / n_q), size=draws)  # shared by every cell
    boot = np.empty((draws, 2))
    per_size = []
    for n in sizes:
        d = np.asarray(cells[n], dtype=float)
        s = d.shape[0]
        seed_counts = rng.multinomial(s, np.full(s, 1.0 / s), size=draws)
        per_size.append(((seed_counts @ d) * question_counts).sum(axis=1) / (s * n_q))
    means = np.stack(per_size, axis=1)  # [draws, sizes]
    x_sizes = logs - centre
    for i in range(draws):
        boot[i] = _fit(x_sizes, means[i])
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    return Trend(centre, level_t, slope_t, Interval(a, float(lo[0]), float(hi[0]), len(sizes)),
                 Interval(b, float(lo[1]), float(hi[1]), len(sizes)))
