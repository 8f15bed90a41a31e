"""The distillation gain (the claim under test): per dataset, over seeds, with a t-interval."""

from __future__ import annotations

import math
import statistics
from typing import Any, Mapping, Sequence

import pandas as pd

from .. import stats
from ..claims import load_all
from .labels import GAIN_NOT_SHOWN, GAIN_REVERSED, GAIN_SHOWN, INTERVAL_NAME, NOT_RUN


def t975(df: int) -> float:
    """qarepro.stats.t975, NaN where there is no degree of freedom (one seed)."""
    return stats.t975(df) if df > 0 else float("nan")


def seed_stats(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sd (n-1) and a 95% t-interval of the mean over seeds (no interval from one seed)."""
    v = [float(x) for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    n = len(v)
    mean = statistics.mean(v) if v else None
    sd = statistics.stdev(v) if n > 1 else None
    half = t975(n - 1) * sd / math.sqrt(n) if sd is not None else None
    return {"n": n, "mean": mean, "sd": sd, "low": None if half is None else mean - half,
            "high": None if half is None else mean + half}


def runs_frame(runs: Any) -> pd.DataFrame:
    if isinstance(runs, Mapping):
        runs = runs.get("runs", [])
    df = pd.DataFrame(list(runs) if not isinstance(runs, pd.DataFrame) else runs)
    for col, default in (("is_base", False), ("center", False), ("decoder", None), ("value", None), ("arm", None)):
        if col not in df:
            df[col] = default
    return df


def one_factor_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The one-factor-at-a-time rows of the grid (not the crossed rows of paired factors)."""
    return df[df["arm"].isna()] if "arm" in df else df


def paired_factors(runs: Any) -> list[str]:
    df = runs_frame(runs)
    return list(df.loc[df["arm"].notna(), "factor"].drop_duplicates()) if len(df) else []


def per_seed(runs: pd.DataFrame, card: str | None, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(distilled, baseline) per-seed scores, one column per dataset: the card's setting over the
    seed grid and the no-distillation student over the same grid; without a seed grid, the
    card's centre run and the w = 0 run."""
    r = runs if card is None else runs[runs["card"] == card]
    seeded = r[r["factor"] == "seed"]
    centre = seeded if len(seeded) else r[(r["factor"] == "weight") & (r["center"] == True)]  # noqa: E712
    seeded_base = r[r["factor"] == "baseline_seed"]
    base = seeded_base if len(seeded_base) else r[r["is_base"] == True]  # noqa: E712

    def pivot(x):
        if not len(x):
            return pd.DataFrame()
        return x.pivot_table(index="seed", columns="dataset", values=metric, aggfunc="mean")

    return pivot(centre), pivot(base)


def mean_label(n: int, weighted: bool = False) -> str:
    return f"mean of {n} sets" + (", weighted by questions" if weighted else "")


def set_sizes(df: pd.DataFrame) -> dict[str, int]:
    """Questions scored per dataset, from the runs' metrics (`total`); a set without one is left out."""
    if "metrics" not in df:
        return {}
    sizes = {}
    for ds, m in zip(df["dataset"], df["metrics"]):
        if isinstance(m, Mapping) and m.get("total"):
            sizes.setdefault(ds, int(m["total"]))
    return sizes


def gain_summary(runs: Any, metric: str = "f1") -> pd.DataFrame:
    """The claim under test, per card and dataset: the card's setting and the same student
    without distillation (mean and sd over seeds), and their per-seed paired difference (the
    gain: mean, sd, 95% t-interval over seeds, and how many seeds gained). A last row per card,
    "mean of N sets", does the same for each seed's mean over the datasets. `runs`: 05's run
    records (a list, a data frame, or the 05_ablations JSON)."""
    df = one_factor_runs(runs_frame(runs))
    if not len(df):
        return pd.DataFrame(columns=GAIN_COLUMNS)
    rows, sizes = [], set_sizes(df)
    for card in df["card"].drop_duplicates():
        d, b = per_seed(df, card, metric)
        rows += _gain_rows(d, b, {"card": card}, sizes)
    return pd.DataFrame(rows, columns=GAIN_COLUMNS)


GAIN_COLUMNS = ["card", "dataset", "seeds", "distilled", "distilled_sd", "base", "base_sd",
                "gain", "gain_sd", "low", "high", "positive"]


def _gain_rows(d: pd.DataFrame, b: pd.DataFrame, keys: Mapping[str, Any],
               sizes: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """Per dataset (and their mean): distilled and baseline over seeds, and the paired gain. The mean
    over sets weighs each set by its questions where every set's count is known (`sizes`), so a
    150-question sample does not count as much as the 2,000-question headline."""
    if d.empty or b.empty:
        return []
    datasets = [c for c in d.columns if c in b.columns]
    columns = [(ds, d[ds], b[ds]) for ds in datasets]
    if len(datasets) > 1:
        w = pd.Series({ds: (sizes or {}).get(ds) for ds in datasets}, dtype=float)
        if w.notna().all():
            columns.append((mean_label(len(datasets), weighted=True), d[datasets] @ (w / w.sum()),
                            b[datasets] @ (w / w.sum())))
        else:
            columns.append((mean_label(len(datasets)), d[datasets].mean(axis=1), b[datasets].mean(axis=1)))
    rows = []
    for ds, dv, bv in columns:
        paired = (dv - bv).dropna()
        if not len(paired):
            paired = pd.Series([dv.mean() - bv.mean()])  # no shared seed: the difference of the means
        sd_, sb, sg = seed_stats(dv.dropna()), seed_stats(bv.dropna()), seed_stats(paired)
        rows.append({**keys, "dataset": ds, "seeds": ", ".join(str(int(x)) for x in paired.index)
                     if len(paired.index) and paired.index.dtype != object else "",
                     "distilled": sd_["mean"], "distilled_sd": sd_["sd"], "base": sb["mean"], "base_sd": sb["sd"],
                     "gain": sg["mean"], "gain_sd": sg["sd"], "low": sg["low"], "high": sg["high"],
                     "positive": f"{int((paired > 0).sum())} of {len(paired)}",
                     "paired_gains": {int(k): float(v) for k, v in paired.items()}
                     if paired.index.dtype != object else {}})
    return rows


def paired_gain_summary(runs: Any, factor: str, metric: str = "f1") -> pd.DataFrame:
    """The gain at each value of a paired factor (e.g. training questions, bias correction): per
    card, value and dataset, the distilled and the no-distillation student over the seeds that
    value ran at, and their per-seed paired difference with its 95% t-interval."""
    df = runs_frame(runs)
    cols = ["card", "factor", "value", *GAIN_COLUMNS[1:], "paired_gains"]
    df = df[(df["factor"] == factor) & df["arm"].notna()] if len(df) else df
    if not len(df):
        return pd.DataFrame(columns=cols)
    rows = []

    def pivot(x):
        return x.pivot_table(index="seed", columns="dataset", values=metric, aggfunc="mean")

    for (card, value), g in df.groupby(["card", "value"], sort=False):
        rows += _gain_rows(pivot(g[g["arm"] == "distilled"]), pivot(g[g["arm"] == "baseline"]),
                           {"card": card, "factor": factor, "value": value}, set_sizes(df))
    out = pd.DataFrame(rows, columns=cols)
    numeric = pd.to_numeric(out["value"], errors="coerce")
    if numeric.notna().all():
        out = out.assign(_v=numeric).sort_values(["card", "_v"], kind="stable").drop(columns="_v")
    return out.reset_index(drop=True)


def gain_direction(row: Mapping[str, Any] | None) -> str:
    """The pocket verdict on the claim's direction, from the seed interval of the gain."""
    if row is None or row.get("gain") is None:
        return NOT_RUN
    low, high = row.get("low"), row.get("high")
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        # one seed: no interval, so no verdict on the direction
        return GAIN_NOT_SHOWN
    if low > 0:
        return GAIN_SHOWN
    if high < 0:
        return GAIN_REVERSED
    return GAIN_NOT_SHOWN


def interval_text(row: Mapping[str, Any], digits: int = 2) -> str:
    low, high = row.get("low"), row.get("high")
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return "(one seed)"
    return f"{low:+.{digits}f} to {high:+.{digits}f}"


def measured_gain(gains: pd.DataFrame | None, card: str, dataset: str) -> dict[str, Any] | None:
    if gains is None or not len(gains):
        return None
    g = gains[gains["card"] == card]
    exact = g[g["dataset"] == dataset]
    pooled = g[g["dataset"].astype(str).str.startswith("mean of ")]
    pick = exact if len(exact) else pooled if len(pooled) else g.iloc[0:0]
    return pick.iloc[0].to_dict() if len(pick) else None


def claimed_gains(metric: str = "f1") -> dict[str, dict[str, Any]]:
    """{card: the claimed gain (value, dataset, source)} from the claims files."""
    out = {}
    for card, c in load_all().items():
        for g in c.gains:
            if g.metric == metric:
                out[card] = {"value": g.value, "dataset": g.dataset, "source": g.source}
                break
    return out


def gain_display(gains: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """`gain_summary` as a table to read: F1 points, rounded, the interval named in the column."""
    claimed = claimed_gains()
    rows = []
    for r in gains.to_dict("records"):
        c = claimed.get(r["card"])
        rows.append({
            "card": r["card"], "dataset": r["dataset"], "seeds": r.get("seeds", ""),
            "no distillation (F1)": _pm(r["base"], r["base_sd"], digits),
            "distilled (F1)": _pm(r["distilled"], r["distilled_sd"], digits),
            "gain (F1 points)": "" if r["gain"] is None else f"{r['gain']:+.{digits}f}",
            INTERVAL_NAME: interval_text(r, digits),
            "seeds gaining": r["positive"],
            CLAIM_COLUMN: claim_on_row(c, r["dataset"]),
            "verdict": gain_direction(r),
        })
    return drop_empty_claims(pd.DataFrame(rows))


CLAIM_COLUMN = "claimed gain (card, F1 points)"


def claim_on_row(claim: Mapping[str, Any] | None, dataset: str) -> str:
    """A card's claimed gain on the row of the dataset it was claimed for, "–" on every other row."""
    return f"{claim['value']:+.1f}" if claim is not None and claim["dataset"] == dataset else "–"


def drop_empty_claims(table: pd.DataFrame) -> pd.DataFrame:
    """The claimed-gain column only where some row is a dataset a claim was made for."""
    if CLAIM_COLUMN in table and (table[CLAIM_COLUMN] == "–").all():
        return table.drop(columns=CLAIM_COLUMN)
    return table


FACTOR_NAMES = {"train_size": "training questions", "correct_bias": "Adam bias correction"}


def paired_gain_display(paired: pd.DataFrame, dataset: str | None = None, digits: int = 2) -> pd.DataFrame:
    """`paired_gain_summary` as a table to read, one row per card and value (on `dataset`, or every
    dataset when None): both students over seeds, the gain with its interval, and the verdict."""
    rows = []
    for r in paired.to_dict("records"):
        if dataset is not None and r["dataset"] != dataset:
            continue
        rows.append({
            "card": r["card"], FACTOR_NAMES.get(r["factor"], r["factor"]): cell_value(r["value"]),
            "dataset": r["dataset"], "seeds": r["seeds"],
            "no distillation (F1)": _pm(r["base"], r["base_sd"], digits),
            "distilled (F1)": _pm(r["distilled"], r["distilled_sd"], digits),
            "gain (F1 points)": "" if r["gain"] is None else f"{r['gain']:+.{digits}f}",
            "per-seed gains": ", ".join(f"{g:+.{digits}f}" for g in (r.get("paired_gains") or {}).values()),
            INTERVAL_NAME: interval_text(r, digits),
            "verdict": gain_direction(r),
        })
    return pd.DataFrame(rows)


def cell_value(v: Any) -> Any:
    """A factor value as a reader writes it (1000 rather than 1000.0; booleans as words)."""
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _pm(mean: Any, sd: Any, digits: int = 2) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return ""
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _mean_sd(values: Sequence[float]) -> str:
    values = list(values)
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def gain_table(evaluated: Mapping[str, Any], ablations: Mapping[str, Any], metric: str = "f1") -> pd.DataFrame:
    """Per dataset: teacher, student without distillation and each card's distilled student
    (mean ± sd over seeds), and the gain of each card's setting over the baseline with the
    card's claimed gain beside it. `evaluated`/`ablations`: the 04_evaluate / 05_ablations JSON."""
    runs = pd.DataFrame(ablations.get("runs", []))
    teachers = [m for m in evaluated.get("models", {}).values() if m.get("role") == "teacher"]
    claimed = claimed_gains(metric)
    rows = []
    datasets = list(teachers[0]["metrics"]) if teachers else sorted(runs["dataset"].unique()) if len(runs) else []
    for ds in datasets:
        row: dict[str, Any] = {"dataset": ds}
        if teachers:
            row["teacher"] = f"{teachers[0]['metrics'][ds][metric]:.2f}"
        if len(runs):
            r = runs[runs["dataset"] == ds]
            base = r[r["factor"] == "baseline_seed"].drop_duplicates("seed")[metric]
            row["no distillation"] = _mean_sd(base)
            for card in runs["card"].drop_duplicates():  # every card on every row: "not run" where it did not
                mine = r[(r["card"] == card) & (r["factor"] == "seed")].drop_duplicates("seed")
                seeded = mine[metric]
                row[f"{card}: distilled"] = _mean_sd(seeded)
                row[f"{card}: seeds"] = ", ".join(str(int(x)) for x in mine["seed"]) or "–"
                # paired by seed: a card setting run at fewer seeds is set against the baseline at its seeds
                by_seed = r[r["factor"] == "baseline_seed"].drop_duplicates("seed").set_index("seed")[metric]
                paired = (mine.set_index("seed")[metric] - by_seed).dropna()
                if len(paired):
                    row[f"{card}: gain"] = f"{paired.mean():+.2f}"
                if claimed.get(card) is not None:  # only on the row of the dataset the card claims it for
                    row[f"{card}: claimed gain"] = claim_on_row(claimed[card], ds)
        rows.append(row)
    out = pd.DataFrame(rows).fillna("–")
    empty = [c for c in out.columns if c.endswith(": claimed gain") and (out[c] == "–").all()]
    return out.drop(columns=empty)


def ablation_table(ablations: Mapping[str, Any], metric: str = "f1") -> pd.DataFrame:
    """One row per card, factor and value of the grid: `metric` averaged over the ablation
    datasets (mean ± sd over seeds where a value ran at several), and its mean difference from the
    card's own setting at the same seeds. The card's setting and the no-distillation baseline
    come first, over all their seeds: their spread is the yardstick for the single-seed rows.
    `ablations`: the 05_ablations JSON."""
    runs = one_factor_runs(runs_frame(ablations.get("runs", [])))
    if not len(runs):
        return pd.DataFrame()
    # one score per run and seed: the mean over datasets
    per_run = runs.groupby(["card", "factor", "value", "seed", "decoder"], sort=False, dropna=False)[metric].mean()
    per_run = per_run.reset_index()
    named = {"seed": ("card setting", "the card's T and w"), "baseline_seed": ("no distillation", "w 0")}
    rows = []
    for card, g in per_run.groupby("card", sort=False):
        centre = g[g["factor"] == "seed"].set_index("seed")[metric]
        groups = [(f, None, g[g["factor"] == f]) for f in named]
        groups += [(f, v, x) for (f, v), x in g[~g["factor"].isin(list(named))].groupby(["factor", "value"], sort=False)]
        for factor, value, v in groups:
            if not len(v):
                continue
            scores = v.drop_duplicates("seed").set_index("seed")[metric]
            paired = (scores - centre.reindex(scores.index)).dropna()
            factor_name, value_name = named.get(factor, (factor, str(value)))
            rows.append({"card": card, "factor": factor_name, "value": value_name,
                         "seeds": ", ".join(str(x) for x in scores.index),
                         f"mean {metric}": _mean_sd(scores.tolist()),
                         "vs card setting": f"{paired.mean():+.2f}" if len(paired) else ""})
    return pd.DataFrame(rows)


def paired_headline(paired: Mapping[str, pd.DataFrame], dataset: str) -> list[str]:
    """Markdown bullets: the gain at each value of each paired factor, on `dataset`."""
    lines = []
    for factor, summary in paired.items():
        rows = summary[summary["dataset"] == dataset] if len(summary) else summary
        for card, g in rows.groupby("card", sort=False):
            shown = paired_gain_display(g)
            name = FACTOR_NAMES.get(factor, factor)
            one_set = shown["seeds"].nunique() == 1  # else each value says its own seeds
            cells = "; ".join(f"{r[name]}: **{r['gain (F1 points)']}** ({r[INTERVAL_NAME]}"
                              + ("" if one_set else f"; seeds {r['seeds']}") + ")" for r in shown.to_dict("records"))
            seeds = f" (seeds {shown['seeds'].iloc[0]})" if one_set and len(shown) else ""
            lines.append(f"- **{card}** setting, gain in F1 by {name} on {dataset}{seeds}: {cells}.")
    return lines
