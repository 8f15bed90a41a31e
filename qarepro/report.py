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
                      "claimed", "reproduced", "delta", "tolerance", "verdict"]


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
            tolerance: float | None = None, models: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (claimed number, reproduced model).

    `reproduced`: {model: {dataset: metrics}} where model is one of published / distilled / base /
    teacher and metrics holds the official scorer's keys (exact, f1, ...); a {"metrics": ...}
    wrapper is accepted too. `tolerance` (points) overrides the claims file's. `models` keeps
    only those reproduced models (e.g. ["published"] for verification).
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
                rows.append({
                    "card": claims.card, "claim": s.id, "source": s.source, "verified": s.verified,
                    "model": model, "dataset": s.dataset, "metric": metric, "claimed": claimed,
                    "reproduced": rep, "delta": None if rep is None else rep - claimed,
                    "tolerance": t, "verdict": verdict(claimed, rep, t),
                })
    for g in claims.gains:
        if models is not None and not {"distilled", "base"} <= set(models):
            continue
        a = _metric(reproduced, "distilled", g.dataset, g.metric)
        b = _metric(reproduced, "base", g.dataset, g.metric)
        rep = None if a is None or b is None else a - b
        t = tolerance if tolerance is not None else tol.gain
        rows.append({
            "card": claims.card, "claim": g.id, "source": g.source, "verified": False,
            "model": "distilled - base", "dataset": g.dataset, "metric": f"{g.metric} gain",
            "claimed": g.value, "reproduced": rep, "delta": None if rep is None else rep - g.value,
            "tolerance": t, "verdict": verdict(g.value, rep, t),
        })
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def compare_all(reproduced_by_card: Mapping[str, Mapping[str, Any]], *, tolerance: float | None = None,
                models: Sequence[str] | None = None, cards: Iterable[str] | None = None) -> pd.DataFrame:
    """`compare` for every card (claims files in configs/claims/), stacked."""
    all_claims = load_all()
    frames = [compare(all_claims[c], reproduced_by_card.get(c, {}), tolerance=tolerance, models=models)
              for c in (cards or all_claims)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COMPARISON_COLUMNS)


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    counts = {WITHIN: 0, OUTSIDE: 0, NOT_RUN: 0}
    for v in table["verdict"]:
        counts[v] = counts.get(v, 0) + 1
    return counts


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
        if v.endswith(WITHIN):
            return "background-color: #d4edda"
        if v.endswith(OUTSIDE):
            return "background-color: #f8d7da"
        if v == NOT_RUN:
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
               NOT_RUN: "background-color: #eeeeee"}
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
    """`runs`: columns card, factor, value, seed, <metric>, center (bool). One panel per
    (card, factor); mean over seeds with min-max bars; the grey band is the seed spread of the
    card's own setting (the `seed` factor), the dashed line the card's setting."""
    plt, _ = _plt()
    factors = [f for f in runs["factor"].drop_duplicates() if f not in ("seed", "baseline_seed")] if len(runs) else []
    cards = list(runs["card"].drop_duplicates()) if len(runs) else []
    if not factors or not cards:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.text(0.5, 0.5, "no ablation runs", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _save(fig, path)
    fig, axes = plt.subplots(len(cards), len(factors), figsize=(3.6 * len(factors), 3.2 * len(cards)),
                             squeeze=False, sharey="row")
    for i, card in enumerate(cards):
        c = runs[runs["card"] == card]
        seeds = c[c["factor"] == "seed"][metric].dropna()
        for j, factor in enumerate(factors):
            ax = axes[i, j]
            f = c[c["factor"] == factor]
            if len(seeds) > 1:
                ax.axhspan(seeds.min(), seeds.max(), color="grey", alpha=0.2, label="seed spread")
            if len(f):
                keyed = f.assign(_x=f["value"].map(_axis_value))
                g = keyed.groupby("_x", sort=False)[metric].agg(["mean", "min", "max"]).reset_index()
                numeric = all(isinstance(x, (int, float)) for x in g["_x"])
                if numeric:
                    g = g.sort_values("_x")
                xs = list(g["_x"]) if numeric else list(range(len(g)))
                ax.errorbar(xs, g["mean"], yerr=[g["mean"] - g["min"], g["max"] - g["mean"]],
                            marker="o", capsize=3)
                if not numeric:
                    ax.set_xticks(xs, [str(x) for x in g["_x"]])
                centre = f[f.get("center", False) == True]  # noqa: E712
                if len(centre):
                    cx = _axis_value(centre["value"].iloc[0])
                    ax.axvline(cx if numeric else list(g["_x"]).index(cx), color="k", ls="--", lw=0.8)
            ax.set_title(f"{card.split('-squad2')[0]}: {factor}", fontsize=9)
            ax.set_xlabel(factor)
            ax.set_ylabel(metric.upper() if metric == "f1" else "EM")
    fig.suptitle(title)
    fig.tight_layout()
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


def render_notebook(notebook: str | Path, out_dir: str | Path, name: str | None = None) -> dict[str, Path]:
    """Render an executed notebook to two self-contained HTML files in `out_dir`:
    `<name>.html` (report: code hidden) and `<name>.full.html` (with code). Images are embedded
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
