"""Claims against reproduced numbers: comparison tables, verdicts, plots and HTML rendering.

Everything here works on plain data (dicts of metrics, data frames) so that it can be tested
without running a model; the notebooks pass it what the stages wrote.

Verdicts: |reproduced - claimed| <= tolerance -> "within tolerance", else "outside"; a claim with
no reproduced number is "not run". Tolerances come from the claims file (per kind of
comparison) unless the profile sets one. Results of a pipeline-check profile (smoke: tiny
random models, fixture sample) are labelled as such: they test the machinery, not the cards.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from . import claims as qclaims
from .claims import Claims, load_all, load_claims  # noqa: F401  (re-exported)
from .paths import portable_html

WITHIN, OUTSIDE, NOT_RUN = "within tolerance", "outside", "not run"
NOT_COMPARABLE = "not comparable"   # an absolute score of another model (pocket runs)
# The pocket runs test the direction of the claim (distillation helps), from the seed interval
GAIN_SHOWN, GAIN_NOT_SHOWN, GAIN_REVERSED = "gain shown", "gain not shown", "distillation worse"
PIPELINE_CHECK = ("pipeline check, not a reproduction: tiny models on the fixture sample; "
                  "the numbers test the machinery, not the cards' claims")
POCKET = ("pocket reproduction: real SQuAD data and a real pretrained encoder (MiniLM-L6 teacher, "
          "3-layer student) at small scale; absolute scores are not comparable with the cards' models: "
          "compare the distillation gain")

# Which reproduced model is compared with which claimed subject, and under which tolerance.
#   published: the deepset checkpoint re-scored here     distilled: our retrained student
#   base: our student trained without distillation (w=0) teacher: the teacher re-scored here
SUBJECT_MODELS = {"distilled": ("published", "distilled"), "base": ("base",), "teacher": ("teacher",)}
MODEL_TOLERANCE = {"published": "published", "teacher": "published", "distilled": "retrained", "base": "retrained"}

COMPARISON_COLUMNS = ["card", "claim", "source", "verified", "model", "dataset", "metric",
                      "claimed", "reproduced", "delta", "tolerance", "verdict", "measured_on", "interval"]


# --------------------------------------------------------------------------------------------
# Comparison


def verdict(claimed: float | None, reproduced: float | None, tolerance: float) -> str:
    if reproduced is None or claimed is None or (isinstance(reproduced, float) and math.isnan(reproduced)):
        return NOT_RUN
    return WITHIN if abs(reproduced - claimed) <= tolerance + 1e-9 else OUTSIDE


def _metric(reproduced: Mapping[str, Any], model: str, dataset: str, metric: str) -> float | None:
    value = (reproduced.get(model) or {}).get(dataset, {})
    value = value.get("metrics", value) if isinstance(value, Mapping) else {}
    v = value.get(metric) if isinstance(value, Mapping) else None
    return None if v is None else float(v)


def compare(claims: Claims, reproduced: Mapping[str, Mapping[str, Mapping[str, Any]]], *,
            tolerance: float | None = None, models: Sequence[str] | None = None,
            purpose: str | None = None, gains: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (claimed number, reproduced model).

    `reproduced`: {model: {dataset: metrics}} where model is one of published / distilled / base /
    teacher and metrics holds the official scorer's keys (exact, f1, ...); a {"metrics": ...}
    wrapper is accepted too. `tolerance` (points) overrides the claims file's. `models` keeps
    only those reproduced models (e.g. ["published"] for verification).

    `purpose` "pocket": other models at another scale, so an absolute score is shown with the
    verdict "not comparable", and a claimed gain is set against the gain measured here (`gains`,
    from `gain_summary`: on the claim's dataset if it was run, else the mean over the sets that
    were) with a verdict on its direction from the seed interval. `gains` is also used, where
    given, for the gain of a reproduction (the mean over seeds instead of the card's own seed).
    """
    tol = claims.tolerance
    rows = []
    for s in claims.scores:
        for model in SUBJECT_MODELS[s.subject]:
            if models is not None and model not in models:
                continue
            t = tolerance if tolerance is not None else getattr(tol, MODEL_TOLERANCE[model])
            for metric, claimed in s.metrics().items():
                rep = _metric(reproduced, model, s.dataset, metric)
                v = verdict(claimed, rep, t)
                if purpose == "pocket" and v != NOT_RUN:
                    v = NOT_COMPARABLE
                rows.append({
                    "card": claims.card, "claim": s.id, "source": s.source, "verified": s.verified,
                    "model": model, "dataset": s.dataset, "metric": metric, "claimed": claimed,
                    "reproduced": rep, "delta": None if rep is None else rep - claimed,
                    "tolerance": t, "verdict": v, "measured_on": s.dataset if rep is not None else "",
                    "interval": "",
                })
    for g in claims.gains:
        if models is not None and not {"distilled", "base"} <= set(models):
            continue
        a = _metric(reproduced, "distilled", g.dataset, g.metric)
        b = _metric(reproduced, "base", g.dataset, g.metric)
        rep = None if a is None or b is None else a - b
        t = tolerance if tolerance is not None else tol.gain
        measured = _measured_gain(gains, claims.card, g.dataset)
        interval, on = "", g.dataset if rep is not None else ""
        if measured is not None:
            rep, on = measured["gain"], measured["dataset"]
            interval = _interval_text(measured)
        v = verdict(g.value, rep, t)
        if purpose == "pocket" and rep is not None:
            v = gain_direction(measured) if measured is not None else NOT_COMPARABLE
        rows.append({
            "card": claims.card, "claim": g.id, "source": g.source, "verified": False,
            "model": "distilled - base", "dataset": g.dataset, "metric": f"{g.metric} gain",
            "claimed": g.value, "reproduced": rep, "delta": None if rep is None else rep - g.value,
            "tolerance": t, "verdict": v, "measured_on": on, "interval": interval,
        })
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def compare_all(reproduced_by_card: Mapping[str, Mapping[str, Any]], *, tolerance: float | None = None,
                models: Sequence[str] | None = None, cards: Iterable[str] | None = None,
                purpose: str | None = None, gains: pd.DataFrame | None = None) -> pd.DataFrame:
    """`compare` for every card (claims files in configs/claims/), stacked."""
    all_claims = load_all()
    frames = [compare(all_claims[c], reproduced_by_card.get(c, {}), tolerance=tolerance, models=models,
                      purpose=purpose, gains=gains)
              for c in (cards or all_claims)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COMPARISON_COLUMNS)


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    counts = {WITHIN: 0, OUTSIDE: 0, NOT_RUN: 0}
    if len(table) and set(table["verdict"]) & {NOT_COMPARABLE, GAIN_SHOWN, GAIN_NOT_SHOWN, GAIN_REVERSED}:
        counts = {GAIN_SHOWN: 0, GAIN_NOT_SHOWN: 0, GAIN_REVERSED: 0, NOT_COMPARABLE: 0, NOT_RUN: 0}
    for v in table["verdict"]:
        counts[v] = counts.get(v, 0) + 1
    return {k: v for k, v in counts.items() if v or k in (WITHIN, OUTSIDE, NOT_RUN)}


def compare_facts(claims: Claims, resolved_config: Mapping[str, Any] | None) -> pd.DataFrame:
    """The card's training facts beside the configuration this run used."""
    rows = []
    for f in claims.facts:
        used = None
        if resolved_config is not None and f.config_key and f.config_key in resolved_config:
            used = resolved_config[f.config_key]
        if f.config_key is None or resolved_config is None:
            status = "not compared"
        elif used is None and f.config_key not in (resolved_config or {}):
            status = "not in config"
        elif _same(f.value, used):
            status = "same"
        else:
            status = "differs"
        rows.append({"card": claims.card, "fact": f.key, "claimed": f.value, "used": "" if used is None else used,
                     "status": status, "source": f.source, "note": f.note or ""})
    return pd.DataFrame(rows, columns=["card", "fact", "claimed", "used", "status", "source", "note"])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def wide_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """One row per claimed number, one column per reproduced model: "value (delta) verdict"."""
    keys = ["card", "claim", "dataset", "metric", "claimed"]
    if not len(table):
        return pd.DataFrame(columns=keys)
    models = list(dict.fromkeys(table["model"]))
    rows: dict[tuple, dict[str, Any]] = {}
    for r in table.itertuples(index=False):
        key = (r.card, r.claim, r.dataset, r.metric, r.claimed)
        row = rows.setdefault(key, dict(zip(keys, key)))
        if r.verdict == NOT_RUN:
            row[r.model] = NOT_RUN
        elif r.verdict == NOT_COMPARABLE:
            row[r.model] = f"{r.reproduced:.{digits}f} · {NOT_COMPARABLE}"
        elif r.verdict in (GAIN_SHOWN, GAIN_NOT_SHOWN, GAIN_REVERSED):
            on = getattr(r, "measured_on", "") or ""
            interval = str(getattr(r, "interval", "") or "").strip("()")
            interval = f"95% interval {interval}" if interval and interval != "one seed" else interval
            row[r.model] = f"{r.reproduced:+.{digits}f} ({interval}) on {on}: {r.verdict}" if interval \
                else f"{r.reproduced:+.{digits}f} on {on}: {r.verdict}"
        else:
            row[r.model] = f"{r.reproduced:.{digits}f} ({r.delta:+.{digits}f}) {r.verdict}"
    out = pd.DataFrame(list(rows.values()))
    for m in models:
        if m not in out:
            out[m] = ""
    out["claimed"] = out["claimed"].map(lambda v: f"{v:.{digits}f}")
    return out[keys + models].fillna("")


def style_wide(wide: pd.DataFrame):
    """Styler for `wide_table`: cells coloured by their verdict."""
    def colour(v: Any) -> str:
        v = str(v)
        if v.endswith(WITHIN) or v.endswith(GAIN_SHOWN):
            return "background-color: #d4edda"
        if v.endswith(OUTSIDE) or v.endswith(GAIN_REVERSED):
            return "background-color: #f8d7da"
        if v.endswith(GAIN_NOT_SHOWN):
            return "background-color: #fff3cd"
        if v == NOT_RUN or v.endswith(NOT_COMPARABLE):
            return "color: #888888"
        return ""

    models = [c for c in wide.columns if c not in ("card", "claim", "dataset", "metric", "claimed")]
    return wide.style.map(colour, subset=models).hide(axis="index")


def format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Rounded copy for display (None shown as an empty cell)."""
    out = table.copy()
    def fmt(v: Any, col: str) -> Any:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return f"{v:+.{digits}f}" if col == "delta" else f"{v:.{digits}f}"
        return v

    for col in ("claimed", "reproduced", "delta", "tolerance"):
        if col in out:
            out[col] = out[col].map(lambda v, col=col: fmt(v, col))
    return out


def to_markdown(table: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    t = format_table(table, digits)
    head = "| " + " | ".join(map(str, t.columns)) + " |"
    sep = "|" + "|".join("---" for _ in t.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in t.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def style_verdicts(table: pd.DataFrame, digits: int = 2):
    """A pandas Styler colouring the verdict column (for notebooks)."""
    colours = {WITHIN: "background-color: #d4edda", OUTSIDE: "background-color: #f8d7da",
               NOT_RUN: "background-color: #eeeeee", NOT_COMPARABLE: "color: #888888",
               GAIN_SHOWN: "background-color: #d4edda", GAIN_NOT_SHOWN: "background-color: #fff3cd",
               GAIN_REVERSED: "background-color: #f8d7da"}
    fmt = {c: (lambda v, c=c: "" if v is None or (isinstance(v, float) and math.isnan(v))
               else (f"{v:+.{digits}f}" if c == "delta" else f"{v:.{digits}f}"))
           for c in ("claimed", "reproduced", "delta", "tolerance") if c in table}
    styler = table.style.format(fmt)
    if "verdict" in table:
        styler = styler.map(lambda v: colours.get(v, ""), subset=["verdict"])
    return styler.hide(axis="index")


# --------------------------------------------------------------------------------------------
# Curves from prediction files


def best_spans(nbest: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, str]:
    """Each question's best non-empty answer in an nbest file (the null entry has no char_start)."""
    out = {}
    for qid, entries in nbest.items():
        for e in entries:
            if e.get("char_start") is not None and e.get("text"):
                out[qid] = e["text"]
                break
    return out


def threshold_curve(gold: Mapping[str, Any], predictions: Mapping[str, str],
                    na_probs: Mapping[str, float], nbest: Mapping[str, Sequence[Mapping]] | None = None) -> pd.DataFrame:
    """EM and F1 (percent) as the no-answer threshold moves over every na_prob value.

    At threshold t a question is answered "" when na_prob > t (the official script's rule) and
    otherwise with its best span: from `nbest` when given (so that the whole range can be swept
    whatever the decoder decided), else the prediction. The first row (t just below the smallest
    na_prob) answers nothing. `gold` is the official SQuAD JSON dict (qarepro.data.to_squad_json).
    """
    from . import metrics as qm

    dataset = gold["data"] if "data" in gold else gold
    answers = dict(predictions)
    if nbest is not None:
        answers.update(best_spans(nbest))
    exact_raw, f1_raw = qm.get_raw_scores(dataset, answers)
    has_ans = qm.make_qid_to_has_ans(dataset)
    qids = list(has_ans)
    n = max(len(qids), 1)
    probs = {q: float(na_probs.get(q, 0.0)) for q in qids}
    # Every question answered "": only the unanswerable ones score.
    cur_em = cur_f1 = float(sum(1 for q in qids if not has_ans[q]))
    rows = [{"threshold": min(probs.values(), default=0.0) - 1e-6, "exact": 100 * cur_em / n, "f1": 100 * cur_f1 / n}]
    for q in sorted(qids, key=lambda q: probs[q]):
        # past probs[q], q is answered with its span instead of ""
        empty = 0.0 if has_ans[q] else 1.0
        if answers.get(q, ""):
            cur_em += exact_raw.get(q, 0.0) - empty
            cur_f1 += f1_raw.get(q, 0.0) - empty
        rows.append({"threshold": probs[q], "exact": 100 * cur_em / n, "f1": 100 * cur_f1 / n})
    df = pd.DataFrame(rows)
    return df.groupby("threshold", as_index=False).last()


# --------------------------------------------------------------------------------------------
# Plots (each returns a matplotlib Figure; `path` also saves it as PNG)


def _save(fig, path: str | Path | None):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        from .io import atomic_path

        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return fig


def _plt():
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def plot_claimed_vs_reproduced(table: pd.DataFrame, *, metric: str = "f1", path: str | Path | None = None,
                               title: str | None = None):
    """Claimed vs reproduced `metric` per dataset, one panel per card (model-index + guide rows)."""
    plt, sns = _plt()
    t = table[(table["metric"] == metric)].copy()
    cards = list(dict.fromkeys(t["card"])) or ["(no claims)"]
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
    """`results`: {model label: official metrics dict (with HasAns_f1 / NoAns_f1)}."""
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
    """F1 (or EM) against the no-answer threshold, one line per model; dots at the default 0.5."""
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
    marks the card's setting. No bar or band is drawn from a single seed."""
    plt, _ = _plt()
    factors = [f for f in runs["factor"].drop_duplicates() if f not in ("seed", "baseline_seed")] if len(runs) else []
    cards = list(runs["card"].drop_duplicates()) if len(runs) else []
    if not factors or not cards:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.text(0.5, 0.5, "no ablation runs", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _save(fig, path)
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
    """`speed`: columns model, samples_per_s, latency_ms (one row per model)."""
    plt, sns = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, max(3, 0.5 * len(speed) + 1.5)))
    if len(speed):
        sns.barplot(data=speed, y="model", x="samples_per_s", ax=axes[0], orient="h")
        sns.barplot(data=speed, y="model", x="latency_ms", ax=axes[1], orient="h")
    axes[0].set_xlabel("questions per second (batched)")
    axes[1].set_xlabel("latency per question, batch 1 (ms, median)")
    axes[0].set_ylabel("")
    axes[1].set_ylabel("")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_training_curves(logs: Mapping[str, pd.DataFrame], *, path: str | Path | None = None,
                         title: str = "Training loss"):
    """`logs`: {run label: per-step log with columns step, loss (qarepro.pipeline.training_log)}."""
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    drawn = False
    for label, df in logs.items():
        if len(df) and "loss" in df and "step" in df:
            d = df.dropna(subset=["loss"])
            ax.plot(d["step"], d["loss"], marker=".", label=label)
            drawn = True
    if drawn:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no training log", ha="center", va="center", transform=ax.transAxes)
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


# --------------------------------------------------------------------------------------------
# HTML


DETAIL_TAG = "detail"


def render_notebook(notebook: str | Path, out_dir: str | Path, name: str | None = None) -> dict[str, Path]:
    """Render an executed notebook to two self-contained HTML files in `out_dir`:
    `<name>.html` (report: code hidden, cells tagged "detail" left out) and `<name>.full.html`
    (every cell, with code). Images are embedded
    as base64 data URIs; nothing is fetched when the page is opened offline except optional
    MathJax, which the reports do not use."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    from .io import atomic_path

    notebook, out_dir = Path(notebook), Path(out_dir)
    name = name or notebook.stem
    nb = nbformat.read(notebook, as_version=4)
    written = {}
    # The lab template, minus the two scripts it would fetch from a CDN (require.js, MathJax).
    offline = DictLoader({"qarepro_offline.html.j2": (
        "{%- extends 'index.html.j2' -%}\n"
        "{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}\n"
        "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}\n")})
    for kind, hide in (("report", True), ("full", False)):
        exporter = HTMLExporter(template_name="lab", template_file="qarepro_offline.html.j2", extra_loaders=[offline],
                                embed_images=True, exclude_input=hide,
                                exclude_input_prompt=hide, exclude_output_prompt=hide)
        if hide:  # cells tagged "detail" (long tables) appear in the full notebook only
            from nbconvert.preprocessors import TagRemovePreprocessor

            exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={DETAIL_TAG}, enabled=True), enabled=True)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
        target = out_dir / (f"{name}.html" if hide else f"{name}.full.html")
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            tmp.write_text(portable_html(body), encoding="utf-8")  # no absolute path of this machine
        written[kind] = target
    return written


def html_page(title: str, parts: Sequence[str | pd.DataFrame | Any]) -> str:
    """A minimal self-contained HTML page of headings/text, tables and figures (base64 PNG)."""
    import html as _html

    body = [f"<h1>{_html.escape(title)}</h1>"]
    for p in parts:
        if isinstance(p, pd.DataFrame):
            body.append(format_table(p).to_html(index=False, border=0, classes="table"))
        elif hasattr(p, "savefig"):
            data = base64.b64encode(figure_png(p)).decode("ascii")
            body.append(f'<img alt="figure" src="data:image/png;base64,{data}"/>')
        else:
            body.append(f"<p>{_html.escape(str(p))}</p>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd}"
             "img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


__all__ = [
    "WITHIN", "OUTSIDE", "NOT_RUN", "PIPELINE_CHECK", "POCKET", "verdict", "compare", "compare_all", "compare_facts",
    "verdict_counts", "wide_table", "style_wide", "format_table", "to_markdown", "style_verdicts", "threshold_curve", "best_spans",
    "plot_claimed_vs_reproduced", "plot_hasans_noans", "plot_threshold_curves", "plot_ablations",
    "plot_speed", "plot_training_curves", "plot_dataset_counts", "render_notebook", "html_page", "load_claims", "load_all", "qclaims",
]


# --------------------------------------------------------------------------------------------
# Distillation gain per dataset (the claim under test), from a profile's stage results


def _mean_sd(values: Sequence[float]) -> str:
    import statistics

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
    claimed = {card: next((g.value for g in c.gains if g.metric == metric), None) for card, c in load_all().items()}
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
            for card in r["card"].drop_duplicates():
                seeded = r[(r["card"] == card) & (r["factor"] == "seed")].drop_duplicates("seed")[metric]
                row[f"{card}: distilled"] = _mean_sd(seeded)
                if len(seeded) and len(base):
                    row[f"{card}: gain"] = f"{seeded.mean() - base.mean():+.2f}"
                if claimed.get(card) is not None:
                    row[f"{card}: claimed gain"] = f"{claimed[card]:+.1f}"
        rows.append(row)
    return pd.DataFrame(rows)


def ablation_table(ablations: Mapping[str, Any], metric: str = "f1") -> pd.DataFrame:
    """One row per card, factor and value of the grid: `metric` averaged over the ablation
    datasets (mean ± sd over seeds where a value ran at several), and its mean difference from the
    card's own setting at the same seeds. The card's setting and the no-distillation baseline
    come first, over all their seeds: their spread is the yardstick for the single-seed rows.
    `ablations`: the 05_ablations JSON."""
    runs = pd.DataFrame(ablations.get("runs", []))
    if not len(runs):
        return pd.DataFrame()
    # one score per run and seed: the mean over datasets
    per_run = runs.groupby(["card", "factor", "value", "seed", "decoder"], sort=False, dropna=False)[metric].mean()
    per_run = per_run.reset_index()
    named = {"seed": ("seeds", "card setting"), "baseline_seed": ("seeds", "no distillation (w 0)")}
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


# --------------------------------------------------------------------------------------------
# What a run can say, and its headline: the distillation gain over seeds

SCOPE = {
    "reproduction": (
        "**What this run can say.** The cards' own models and hyperparameters: each claimed number is "
        "set against the number reproduced here, with a verdict within the claims file's tolerance. "
        "**What it cannot say.** Numbers of datasets this run did not evaluate are \"not run\"; one "
        "training seed per card setting unless the profile's grid adds seeds."),
    "pocket": (
        "**What this run can say.** Whether distillation improves the same student on real SQuAD data "
        "(the cards' claim, tested as the gain of the distilled student over the same student trained "
        "without distillation, per dataset, with an interval over training seeds), and how that gain "
        "moves with temperature, weight, loss variant and decoder. "
        "**What it cannot say.** The cards' absolute scores: the models here are a MiniLM-L6 teacher and a "
        "3-layer student trained on SQuAD 1.1 at small scale, so every absolute card number is shown as "
        "\"not comparable\", and the size of the cards' gains is set beside ours for scale, not as a target."),
    "pipeline_check": (
        "**What this run can say.** That every stage runs end to end and writes its results and reports. "
        "**What it cannot say.** Anything about the cards: tiny random models on a fixture sample; no "
        "number here is evidence for or against a claim."),
}

# two-sided 95% Student t quantiles by degrees of freedom (n seeds - 1)
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
         10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}
INTERVAL_NAME = "95% t-interval over seeds"


def run_scope(purpose: str | None) -> str:
    """Markdown: what a run of this purpose can and cannot say (opens every report)."""
    return SCOPE.get(purpose or "reproduction", SCOPE["reproduction"])


def t975(df: int) -> float:
    if df <= 0:
        return float("nan")
    keys = sorted(_T975)
    return _T975[max(k for k in keys if k <= df)] if df < 30 else 1.96 + 2.4 / df


def seed_stats(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sd (n-1) and a 95% t-interval of the mean over seeds (no interval from one seed)."""
    import statistics

    v = [float(x) for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    n = len(v)
    mean = statistics.mean(v) if v else None
    sd = statistics.stdev(v) if n > 1 else None
    half = t975(n - 1) * sd / math.sqrt(n) if sd is not None else None
    return {"n": n, "mean": mean, "sd": sd, "low": None if half is None else mean - half,
            "high": None if half is None else mean + half}


def _runs_frame(runs: Any) -> pd.DataFrame:
    if isinstance(runs, Mapping):
        runs = runs.get("runs", [])
    df = pd.DataFrame(list(runs) if not isinstance(runs, pd.DataFrame) else runs)
    for col, default in (("is_base", False), ("center", False), ("decoder", None), ("value", None)):
        if col not in df:
            df[col] = default
    return df


def _per_seed(runs: pd.DataFrame, card: str | None, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
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


def mean_label(n: int) -> str:
    return f"mean of {n} sets"


def gain_summary(runs: Any, metric: str = "f1") -> pd.DataFrame:
    """The claim under test, per card and dataset: the card's setting and the same student
    without distillation (mean and sd over seeds), and their per-seed paired difference (the
    gain: mean, sd, 95% t-interval over seeds, and how many seeds gained). A last row per card,
    "mean of N sets", does the same for each seed's mean over the datasets. `runs`: 05's run
    records (a list, a data frame, or the 05_ablations JSON)."""
    df = _runs_frame(runs)
    cols = ["card", "dataset", "seeds", "distilled", "distilled_sd", "base", "base_sd",
            "gain", "gain_sd", "low", "high", "positive"]
    if not len(df):
        return pd.DataFrame(columns=cols)
    rows = []
    for card in df["card"].drop_duplicates():
        d, b = _per_seed(df, card, metric)
        if d.empty or b.empty:
            continue
        datasets = [c for c in d.columns if c in b.columns]
        columns = [(ds, d[ds], b[ds]) for ds in datasets]
        if len(datasets) > 1:
            columns.append((mean_label(len(datasets)), d[datasets].mean(axis=1), b[datasets].mean(axis=1)))
        for ds, dv, bv in columns:
            paired = (dv - bv).dropna()
            if not len(paired):
                paired = pd.Series([dv.mean() - bv.mean()])  # no shared seed: the difference of the means
            sd_, sb, sg = seed_stats(dv.dropna()), seed_stats(bv.dropna()), seed_stats(paired)
            rows.append({"card": card, "dataset": ds, "seeds": ", ".join(str(int(x)) for x in paired.index)
                         if len(paired.index) and paired.index.dtype != object else "",
                         "distilled": sd_["mean"], "distilled_sd": sd_["sd"], "base": sb["mean"], "base_sd": sb["sd"],
                         "gain": sg["mean"], "gain_sd": sg["sd"], "low": sg["low"], "high": sg["high"],
                         "positive": f"{int((paired > 0).sum())} of {len(paired)}"})
    return pd.DataFrame(rows, columns=cols)


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


def _interval_text(row: Mapping[str, Any], digits: int = 2) -> str:
    low, high = row.get("low"), row.get("high")
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return "(one seed)"
    return f"{low:+.{digits}f} to {high:+.{digits}f}"


def _measured_gain(gains: pd.DataFrame | None, card: str, dataset: str) -> dict[str, Any] | None:
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
            "card": r["card"], "dataset": r["dataset"],
            "no distillation (F1)": _pm(r["base"], r["base_sd"], digits),
            "distilled (F1)": _pm(r["distilled"], r["distilled_sd"], digits),
            "gain (F1 points)": "" if r["gain"] is None else f"{r['gain']:+.{digits}f}",
            INTERVAL_NAME: _interval_text(r, digits),
            "seeds gaining": r["positive"],
            "claimed gain (card)": "" if c is None else f"{c['value']:+.1f} ({c['dataset']})",
            "verdict": gain_direction(r),
        })
    return pd.DataFrame(rows)


def _pm(mean: Any, sd: Any, digits: int = 2) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return ""
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def headline(purpose: str | None, table: pd.DataFrame | None = None, gains: pd.DataFrame | None = None) -> str:
    """Markdown: the run's headline result in a few sentences (claimed vs reproduced with verdicts
    for a reproduction; the measured gain against the cards' claimed gains for a pocket run)."""
    lines = []
    if gains is not None and len(gains):
        claimed = claimed_gains()
        pooled = gains[gains["dataset"].astype(str).str.startswith("mean of ")]
        per_set = gains[~gains["dataset"].astype(str).str.startswith("mean of ")]
        for r in (pooled if len(pooled) else per_set).to_dict("records"):
            c = claimed.get(r["card"])
            sets = per_set[per_set["card"] == r["card"]]
            shown = sum(gain_direction(x) == GAIN_SHOWN for x in sets.to_dict("records"))
            lines.append(
                f"- **{r['card']}** setting: distillation changes F1 by **{r['gain']:+.2f}** points "
                f"({r['dataset']}; {INTERVAL_NAME}: {_interval_text(r)}; seeds {r['seeds']}); the interval is above "
                f"zero on {shown} of {len(sets)} datasets. "
                + (f"The card claims {c['value']:+.1f} F1 ({c['dataset']}, {c['source']})." if c else ""))
    if purpose == "pocket":
        head = "**Headline: the distillation gain** (the claim this run can test)."
        tail = ("The cards' absolute scores are not comparable with these models and are shown as "
                "\"not comparable\" below, not as failures.")
        return "\n".join([head, "", *lines, "", tail])
    if table is not None and len(table):
        counts = verdict_counts(table)
        head = ("**Headline: claimed vs reproduced.** " + ", ".join(f"{k}: {v}" for k, v in counts.items()) + ".")
        outside = table[table["verdict"] == OUTSIDE]
        if len(outside):
            worst = outside.reindex(outside["delta"].abs().sort_values(ascending=False).index).head(3)
            head += " Largest differences: " + "; ".join(
                f"{r.card} {r.claim} {r.metric} ({r.model}) {r.reproduced:.2f} vs {r.claimed:.2f}" for r in worst.itertuples()) + "."
        if purpose == "pipeline_check":
            head += " (A pipeline check: these verdicts test the machinery, not the cards.)"
        return "\n".join([head, "", *lines])
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Display: rounded tables without reprs, long tables summarised


def cell_text(v: Any, digits: int = 2) -> Any:
    """A value as a reader should see it in a table cell: numbers rounded (small ones in
    scientific notation), lists joined, mappings as key=value, None empty."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v != 0 and abs(v) < 10 ** -digits:
            return f"{v:.1e}"
        return f"{v:.{digits}f}"
    if isinstance(v, Mapping):
        return ", ".join(f"{k}={cell_text(x, digits)}" for k, x in v.items()) or "(none)"
    if isinstance(v, (list, tuple)):
        return " × ".join(str(cell_text(x, digits)) for x in v) if all(isinstance(x, int) for x in v) and v \
            else ", ".join(str(cell_text(x, digits)) for x in v)
    if hasattr(v, "item"):
        with __import__("contextlib").suppress(Exception):
            return cell_text(v.item(), digits)
    return portable_html(str(v)) if isinstance(v, str) else str(v)


def display_table(df: pd.DataFrame, digits: int = 2, *, colour_verdicts: bool = True):
    """A Styler that shows every row (no "…"), values through `cell_text`, no index."""
    out = df.copy()
    for col in out.columns:
        out[col] = out[col].map(lambda v: cell_text(v, digits)).astype(object)
    styler = out.style.hide(axis="index")
    if colour_verdicts and "verdict" in out:
        colours = {WITHIN: "background-color: #d4edda", OUTSIDE: "background-color: #f8d7da",
                   NOT_RUN: "color: #888888", NOT_COMPARABLE: "color: #888888",
                   GAIN_SHOWN: "background-color: #d4edda", GAIN_NOT_SHOWN: "background-color: #fff3cd",
                   GAIN_REVERSED: "background-color: #f8d7da"}
        styler = styler.map(lambda v: colours.get(v, ""), subset=["verdict"])
    return styler


def plan_summary(plan: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The ablation plan in a few rows: per card and factor, the values and seeds it runs."""
    df = pd.DataFrame(list(plan))
    if not len(df):
        return pd.DataFrame(columns=["card", "factor", "values", "seeds", "rows"])
    names = {"seed": "seed (card setting)", "baseline_seed": "seed (no distillation)"}
    rows = []
    for (card, factor), g in df.groupby(["card", "factor"], sort=False):
        rows.append({"card": card, "factor": names.get(factor, factor),
                     "values": ", ".join(str(cell_text(v)) for v in dict.fromkeys(g["value"])),
                     "seeds": ", ".join(str(s) for s in dict.fromkeys(g["seed"])), "rows": len(g)})
    return pd.DataFrame(rows)


def plan_table(plan: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Every row of the plan, the overrides written as key=value."""
    df = pd.DataFrame(list(plan))
    if "overrides" in df:
        df["overrides"] = df["overrides"].map(lambda o: cell_text(o))
    return df


RUN_COLUMNS = ["card", "factor", "value", "seed", "decoder", "run", "dataset", "exact", "f1", "HasAns_f1"]


def runs_summary(runs: Any) -> pd.DataFrame:
    """What 05 ran, in one row per card: grid rows, distinct trainings, evaluations, datasets."""
    df = _runs_frame(runs)
    if not len(df):
        return pd.DataFrame(columns=["card", "grid rows", "trained configurations", "evaluations", "datasets"])
    rows = []
    for card, g in df.groupby("card", sort=False):
        rows.append({"card": card, "grid rows": len(g.drop_duplicates(["factor", "value", "seed", "decoder"])),
                     "trained configurations": g["run"].nunique() if "run" in g else "",
                     "evaluations": len(g.drop_duplicates(["run", "decoder"])) if "run" in g else "",
                     "datasets": g["dataset"].nunique() if "dataset" in g else ""})
    rows.append({"card": "both (shared runs counted once)", "grid rows": len(df.drop_duplicates(["card", "factor", "value", "seed", "decoder"])),
                 "trained configurations": df["run"].nunique() if "run" in df else "",
                 "evaluations": len(df.drop_duplicates(["run", "decoder"])) if "run" in df else "",
                 "datasets": df["dataset"].nunique() if "dataset" in df else ""})
    return pd.DataFrame(rows)


def runs_table(runs: Any) -> pd.DataFrame:
    """Every run and dataset (for the full notebook): the columns a reader needs, no dicts."""
    df = _runs_frame(runs)
    return df[[c for c in RUN_COLUMNS if c in df]]


def facts_display(facts: pd.DataFrame) -> pd.DataFrame:
    """`compare_facts` with its values written as a reader expects (learning rates as 3.0e-05)."""
    out = facts.copy()
    for col in ("claimed", "used"):
        if col in out:
            out[col] = out[col].map(lambda v: f"{v:.1e}" if isinstance(v, float) and 0 < abs(v) < 0.01 else cell_text(v))
    return out


# --------------------------------------------------------------------------------------------
# Headline figure: teacher, student without and with distillation, per dataset


def plot_headline(runs: Any, teacher: Mapping[str, Any] | None = None, *, metric: str = "f1",
                  path: str | Path | None = None, title: str | None = None):
    """Per dataset: the teacher (one run), the student without distillation and the student
    distilled at each card's setting (mean over seeds, error bars one sd over seeds).
    `teacher`: {dataset: metrics or score}."""
    plt, _ = _plt()
    import numpy as np

    df = _runs_frame(runs)
    bars: list[tuple[str, dict[str, list[float]]]] = []
    seeds: set = set()
    if len(df):
        cards = list(df["card"].drop_duplicates())
        _, base = _per_seed(df, None, metric)
        base = base if not base.empty else _per_seed(df, cards[0], metric)[1]
        if not base.empty:
            bars.append(("student, no distillation", {ds: base[ds].dropna().tolist() for ds in base.columns}))
            seeds |= set(base.index)
        for card in cards:
            d, _ = _per_seed(df, card, metric)
            if not d.empty:
                bars.append((f"student distilled, {card.split('-squad2')[0]} card setting",
                             {ds: d[ds].dropna().tolist() for ds in d.columns}))
                seeds |= set(d.index)
    datasets = list(dict.fromkeys(ds for _, v in bars for ds in v))
    if teacher:
        tv = {ds: [float((m.get("metrics", m) if isinstance(m, Mapping) else {metric: m})[metric])]
              for ds, m in teacher.items() if ds in datasets or not datasets}
        bars.insert(0, ("teacher (one run)", tv))
        datasets = datasets or list(tv)
    fig, ax = plt.subplots(figsize=(max(7, 1.5 * len(datasets) + 2), 4.4))
    if not datasets:
        ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _save(fig, path)
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


# --------------------------------------------------------------------------------------------
# Re-rendering a finished run from its records


def recorded_runs(record: Mapping[str, Any]) -> pd.DataFrame:
    """The run records of a finished 05_ablations (its JSON), as `run_ablations` returns them."""
    runs = pd.DataFrame(record.get("runs", []))
    if not len(runs):
        raise ValueError("the 05_ablations record holds no runs: nothing to re-render")
    return runs


def teacher_scores(evaluated: Mapping[str, Any]) -> dict[str, Any]:
    """{dataset: metrics} of the (first) teacher among 04's evaluated models."""
    for m in (evaluated.get("models", evaluated) or {}).values():
        if isinstance(m, Mapping) and m.get("role") == "teacher":
            return dict(m.get("metrics", {}))
    return {}
