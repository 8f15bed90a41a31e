"""The report figures (matplotlib + seaborn), each optionally saved as a PNG."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..io import atomic_path
from .gains import one_factor_runs, per_seed, runs_frame


def _save(fig, path: str | Path | None):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return fig


def _plt():
    """pyplot and seaborn, themed."""
    # deferred: matplotlib and seaborn take seconds to import; only the figure functions need them
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def plot_claimed_vs_reproduced(table: pd.DataFrame, *, metric: str = "f1", path: str | Path | None = None,
                               title: str | None = None):
    """Claimed vs reproduced `metric` per dataset, one panel per card (model-index + guide rows)."""
    t = table[(table["metric"] == metric) & table["reproduced"].notna()].copy()
    cards = list(dict.fromkeys(t["card"]))
    if not cards:
        return None  # nothing reproduced: no figure
    plt, sns = _plt()
    fig, axes = plt.subplots(len(cards), 1, figsize=(10, 3.6 * len(cards)), squeeze=False)
    for ax, card in zip(axes[:, 0], cards):
        c = t[t["card"] == card]
        bars = []
        for _, r in c.iterrows():
            label = (r["dataset"].replace("-validation", "") if r["source"] == "model-index"
                     else r["claim"]).replace("squad_adversarial-", "adv-")
            bars.append({"where": label, "value": r["claimed"], "kind": "claimed"})
            bars.append({"where": label, "value": r["reproduced"], "kind": f"reproduced: {r['model']}"})
        df = pd.DataFrame(bars, columns=["where", "value", "kind"]).drop_duplicates(["where", "kind"])
        df = df.dropna(subset=["value"])
        if len(df):
            sns.barplot(data=df, x="where", y="value", hue="kind", ax=ax)
            ax.legend(fontsize=8, loc="lower right")
        else:
            ax.text(0.5, 0.5, "nothing reproduced yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(card)
        ax.set_xlabel("")
        ax.set_ylabel(metric.upper() if metric == "f1" else "EM")
        ax.tick_params(axis="x", labelsize=8, rotation=20)
    fig.suptitle(title or f"Claimed vs reproduced {metric.upper() if metric == 'f1' else 'EM'}")
    fig.tight_layout()
    return _save(fig, path)


def plot_hasans_noans(results: Mapping[str, Mapping[str, Any]], *, path: str | Path | None = None,
                      title: str = "F1 on answerable (HasAns) and unanswerable (NoAns) questions"):
    """`results`: {model label: official metrics dict (with HasAns_f1 / NoAns_f1)}. None (no
    figure) where no model was scored on an unanswerable question: NoAns cannot be measured
    there, and "all" equals "HasAns"."""
    if not any((m.get("metrics", m) or {}).get("NoAns_total") for m in results.values()):
        return None
    plt, sns = _plt()
    rows = []
    for label, m in results.items():
        m = m.get("metrics", m)
        for key, name in (("f1", "all"), ("HasAns_f1", "HasAns"), ("NoAns_f1", "NoAns")):
            if key in m:
                rows.append({"model": label, "subset": name, "F1": float(m[key])})
    df = pd.DataFrame(rows, columns=["model", "subset", "F1"])
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(results) + 3), 4))
    if len(df):
        sns.barplot(data=df, x="model", y="F1", hue="subset", ax=ax)
    ax.set_title(title)
    ax.set_xlabel("")
    ax.tick_params(axis="x", labelsize=8, rotation=20)
    fig.tight_layout()
    return _save(fig, path)


def plot_threshold_curves(curves: Mapping[str, pd.DataFrame], *, metric: str = "f1",
                          path: str | Path | None = None, title: str | None = None):
    """F1 (or EM) against the no-answer threshold, one line per model; dots at the default 0.5.
    None (no figure) without a curve of more than one point."""
    if not any(len(df) > 1 for df in curves.values()):
        return None
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, df in curves.items():
        line, = ax.plot(df["threshold"], df[metric], label=label, drawstyle="steps-post")
        at = df[df["threshold"] <= 0.5]
        if len(at):
            ax.plot([0.5], [at[metric].iloc[-1]], "o", color=line.get_color())
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    # na_prob = sigmoid(no-answer margin): a logit axis shows the margin evenly, ends included
    ax.set_xscale("logit", nonpositive="clip")
    ax.set_xlim(1e-4, 1 - 1e-4)
    ax.set_xlabel("no-answer threshold on na_prob, logit scale (answer \"\" when na_prob > threshold)")
    ax.set_ylabel(metric.upper() if metric == "f1" else "EM")
    ax.set_title(title or f"{metric.upper()} against the no-answer threshold")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_ablations(runs: pd.DataFrame, *, metric: str = "f1", path: str | Path | None = None,
                   title: str = "One factor at a time around each card"):
    """`runs`: columns card, factor, value, seed, <metric>, center (bool), [dataset]. One panel per
    (card, factor). Each point is the score averaged over the datasets; where a value ran at
    several seeds, the point is the mean over seeds and its error bar one sd over seeds. The grey
    band is the card's own setting over the seed grid (mean ± one sd over seeds), the dashed line
    marks the card's setting. No bar or band is drawn from a single seed. The crossed rows of
    paired factors have their own figure (`plot_gain_by`)."""
    plt, _ = _plt()
    runs = one_factor_runs(runs_frame(runs))
    factors = [f for f in runs["factor"].drop_duplicates() if f not in ("seed", "baseline_seed")] if len(runs) else []
    cards = list(runs["card"].drop_duplicates()) if len(runs) else []
    if not factors or not cards:
        return None  # no one-factor rows: no figure (the caller says so)
    n_sets = runs["dataset"].nunique() if "dataset" in runs else 1
    keys = ["card", "factor", "_x", "seed"]
    per_seed = (runs.assign(_x=runs["value"].map(_axis_value))
                .groupby(keys, sort=False, dropna=False)[metric].mean().reset_index())
    fig, axes = plt.subplots(len(cards), len(factors), figsize=(3.6 * len(factors), 3.2 * len(cards) + 0.5),
                             squeeze=False, sharey="row")
    for i, card in enumerate(cards):
        c = per_seed[per_seed["card"] == card]
        centre = c[c["factor"] == "seed"][metric]
        for j, factor in enumerate(factors):
            ax = axes[i, j]
            if len(centre) > 1:
                m, sd = centre.mean(), centre.std()
                ax.axhspan(m - sd, m + sd, color="grey", alpha=0.2, lw=0)
            f = c[c["factor"] == factor]
            if len(f):
                g = f.groupby("_x", sort=False)[metric].agg(["mean", "std", "count"]).reset_index()
                numeric = all(isinstance(x, (int, float)) for x in g["_x"])
                if numeric:
                    g = g.sort_values("_x")
                xs = list(g["_x"]) if numeric else list(range(len(g)))
                err = g["std"].where(g["count"] > 1, 0.0).fillna(0.0)
                ax.errorbar(xs, g["mean"], yerr=err if (g["count"] > 1).any() else None, marker="o", capsize=3)
                if not numeric:
                    ax.set_xticks(xs, [str(x) for x in g["_x"]])
                flagged = runs[(runs["card"] == card) & (runs["factor"] == factor)]
                centre_rows = flagged[flagged["center"] == True] if "center" in flagged else flagged.iloc[0:0]  # noqa: E712
                if len(centre_rows):
                    cx = _axis_value(centre_rows["value"].iloc[0])
                    ax.axvline(cx if numeric else list(g["_x"]).index(cx), color="k", ls="--", lw=0.8)
            ax.set_title(f"{card.split('-squad2')[0]}: {factor}", fontsize=9)
            ax.set_xlabel(factor)
            ax.set_ylabel((metric.upper() if metric == "f1" else "EM") + (f", mean of {n_sets} sets" if n_sets > 1 else ""))
    n_seeds = runs.loc[runs["factor"] == "seed", "seed"].nunique()
    fig.suptitle(title)
    fig.text(0.01, 0.005, (f"Points: {metric.upper()} averaged over {n_sets} dataset(s). Grey band: the card's setting, "
                           f"mean ± one sd over {n_seeds} training seeds. Error bars: one sd over seeds where a value "
                           "ran at several; single-seed points have none. Dashed line: the card's setting."),
             fontsize=8, color="#444444")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, path)


def _axis_value(v: Any) -> Any:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        return float(v)
    return str(v)


def plot_speed(speed: pd.DataFrame, *, path: str | Path | None = None,
               title: str = "Inference speed: teachers vs students"):
    """`speed`: one row per model: model, samples_per_s, latency_ms (medians over its timings) and,
    where it was timed more than once, <column>_low / <column>_high (the range, drawn as bars)."""
    plt, _ = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, max(3, 0.5 * len(speed) + 1.5)))
    y = np.arange(len(speed))
    for ax, col in zip(axes, ("samples_per_s", "latency_ms")):
        if not len(speed):
            continue
        v = speed[col].astype(float)
        ax.barh(y, v, color="#4c72b0")
        if f"{col}_low" in speed:  # the range, only for models timed more than once
            has = speed[f"{col}_low"].notna().to_numpy()
            ax.errorbar(v[has], y[has], xerr=[(v - speed[f"{col}_low"])[has], (speed[f"{col}_high"] - v)[has]],
                        fmt="none", ecolor="k", capsize=4)
        ax.set_yticks(y, list(speed["model"]))
        ax.invert_yaxis()
    axes[0].set_xlabel("questions per second (batched)")
    axes[1].set_xlabel("latency per question, batch 1 (ms)")
    fig.text(0.01, 0.005, "Bars: the median over each model's timings; black lines: their range (models timed once have none).",
             fontsize=8, color="#444444")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, path)


def plot_training_curves(logs: Mapping[str, pd.DataFrame], *, path: str | Path | None = None,
                         title: str = "Training loss"):
    """`logs`: {run label: per-step log with columns step, loss (qarepro.pipeline.training_log)}."""
    logs = {k: df for k, df in logs.items() if len(df) and "loss" in df and "step" in df}
    if not logs:
        return None  # no training log to draw (the caller says so)
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for label, df in logs.items():
        d = df.dropna(subset=["loss"])
        ax.plot(d["step"], d["loss"], marker=".", label=label)
    ax.legend(fontsize=8)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_dataset_counts(table: pd.DataFrame, *, path: str | Path | None = None,
                        title: str = "Questions per dataset"):
    """`table`: columns dataset, answerable, unanswerable (01_data_prep's counts)."""
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.45 * len(table) + 1)))
    if len(table):
        t = table.set_index("dataset")[["answerable", "unanswerable"]]
        t.plot.barh(stacked=True, ax=ax, color=["#4c72b0", "#dd8452"])
        ax.invert_yaxis()
    ax.set_xlabel("questions")
    ax.set_ylabel("")
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def plot_headline(runs: Any, teacher: Mapping[str, Any] | None = None, *, metric: str = "f1",
                  path: str | Path | None = None, title: str | None = None):
    """Per dataset: the teacher (one run), the student without distillation and the student
    distilled at each card's setting (mean over seeds, error bars one sd over seeds).
    `teacher`: {dataset: metrics or score}."""
    plt, _ = _plt()
    df = runs_frame(runs)
    bars: list[tuple[str, dict[str, list[float]]]] = []
    seeds: set = set()
    if len(df):
        cards = list(df["card"].drop_duplicates())
        _, base = per_seed(df, None, metric)
        base = base if not base.empty else per_seed(df, cards[0], metric)[1]
        if not base.empty:
            bars.append(("student, no distillation", {ds: base[ds].dropna().tolist() for ds in base.columns}))
            seeds |= set(base.index)
        for card in cards:
            d, _ = per_seed(df, card, metric)
            if not d.empty:
                n_card = len(d.index)
                bars.append((f"student distilled, {card.split('-squad2')[0]} card setting"
                             + (f" (one seed, {int(d.index[0])})" if n_card == 1 else f" ({n_card} seeds)"),
                             {ds: d[ds].dropna().tolist() for ds in d.columns}))
                seeds |= set(d.index)
    datasets = list(dict.fromkeys(ds for _, v in bars for ds in v))
    if teacher:
        tv = {ds: [float((m.get("metrics", m) if isinstance(m, Mapping) else {metric: m})[metric])]
              for ds, m in teacher.items() if ds in datasets or not datasets}
        bars.insert(0, ("teacher (one run)", tv))
        datasets = datasets or list(tv)
    if not datasets:
        return None  # nothing ran: no figure
    fig, ax = plt.subplots(figsize=(max(7, 1.5 * len(datasets) + 2), 4.4))
    x = np.arange(len(datasets))
    width = 0.8 / max(len(bars), 1)
    colours = ["#55a868", "#8c8c8c", "#4c72b0", "#dd8452", "#c44e52", "#8172b3"]
    for i, (label, values) in enumerate(bars):
        means = [float(np.mean(values[ds])) if values.get(ds) else np.nan for ds in datasets]
        sds = [float(np.std(values[ds], ddof=1)) if len(values.get(ds, [])) > 1 else 0.0 for ds in datasets]
        has_err = any(len(values.get(ds, [])) > 1 for ds in datasets)
        ax.bar(x + (i - (len(bars) - 1) / 2) * width, means, width, label=label, color=colours[i % len(colours)],
               yerr=sds if has_err else None, capsize=3 if has_err else 0, error_kw={"elinewidth": 1})
    ax.set_xticks(x, [ds.replace("squad_adversarial-", "adv-").replace("-validation", "") for ds in datasets],
                  rotation=20, fontsize=8)
    ax.set_ylabel(f"{metric.upper() if metric == 'f1' else 'EM'} (%)")
    seed_text = ", ".join(str(int(s)) for s in sorted(seeds))
    n = len(seeds)
    ax.set_title(title or "Teacher, student without and with distillation", fontsize=11)
    ax.text(0.0, -0.28, f"Bars: mean over training seeds ({seed_text}; n = {n}); error bars: one sd over those seeds."
            + (" Teacher: one run." if teacher else ""), transform=ax.transAxes, fontsize=8, color="#444444")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return _save(fig, path)


def plot_gain_by(paired: pd.DataFrame, *, dataset: str, claimed: Mapping[str, Mapping[str, Any]] | None = None,
                 path: str | Path | None = None, title: str | None = None, xlabel: str | None = None):
    """The distillation gain against a paired factor's value (e.g. training questions) on `dataset`,
    one line per card: the mean over seeds of the per-seed paired gain, each seed's gain as a dot,
    and the 95% t-interval over seeds as the error bar (none from one seed). The cards' claimed gains
    (`claimed`: {card: {"value", "dataset"}}) are drawn as dotted lines for scale: they come from a
    different regime (the cards' models and data) and are no target for these students."""
    plt, _ = _plt()
    d = paired[paired["dataset"] == dataset] if len(paired) else paired
    if not len(d):
        return None  # no paired runs on this dataset: no figure
    fig, ax = plt.subplots(figsize=(7.6, 5.6))
    colours = {"roberta-base-squad2-distilled": "#4c72b0", "bert-medium-squad2-distilled": "#dd8452"}
    numeric = pd.to_numeric(d["value"], errors="coerce").notna().all()
    values = sorted(d["value"].drop_duplicates(), key=float) if numeric else list(d["value"].drop_duplicates())
    xpos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    n_seeds = set()
    for i, (card, g) in enumerate(d.groupby("card", sort=False)):
        colour = colours.get(card, f"C{i}")
        g = g.assign(_x=g["value"].map(xpos)).sort_values("_x")
        low = (g["gain"] - g["low"]).where(g["low"].notna(), 0.0)
        high = (g["high"] - g["gain"]).where(g["high"].notna(), 0.0)
        ax.errorbar(g["_x"], g["gain"], yerr=[low, high], marker="o", capsize=4, color=colour,
                    label=f"{card.split('-squad2')[0]} card setting: mean gain over seeds, 95% t-interval")
        for x, seeds in zip(g["_x"], g["paired_gains"]):
            seeds = seeds or {}
            n_seeds.add(len(seeds))
            ax.scatter([x] * len(seeds), list(seeds.values()), s=14, color=colour, alpha=0.5, zorder=3)
    for card, c in (claimed or {}).items():
        if card not in set(d["card"]):
            continue  # a claim is drawn only beside the card setting measured here
        ax.axhline(c["value"], color=colours.get(card, "grey"), ls=":", lw=1.2,
                   label=f"{card.split('-squad2')[0]} card's claimed gain, {c['value']:+.1f} F1 "
                         f"({c['dataset']}; its own models and data)")
    ax.axhline(0.0, color="k", lw=0.8)
    if numeric:
        ax.set_xscale("log", base=2)
        ax.set_xticks([xpos[v] for v in values], [f"{int(float(v)):,}" for v in values])
        ax.minorticks_off()
    else:
        ax.set_xticks(list(xpos.values()), [str(v) for v in values])
    ax.set_xlabel(xlabel or "training questions")
    ax.set_ylabel(f"gain in F1 points on {dataset}")
    ax.set_title(title or "The distillation gain as training data grows", fontsize=11)
    seeds_text = "/".join(str(n) for n in sorted(n_seeds)) if n_seeds else "?"
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
    fig.text(0.01, 0.01, f"Dots: each seed's paired gain (distilled minus no distillation, same seed and data; "
             f"{seeds_text} seeds per point).\nDotted lines: the cards' claims, from a different regime, for scale.",
             fontsize=7.5, color="#444444")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, path)
