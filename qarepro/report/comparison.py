"""Claims against reproduced numbers: rows, verdicts, counts and the headline.

Verdicts: |reproduced - claimed| <= tolerance -> "within tolerance", else "outside"; a claim with
no reproduced number is "not run". Tolerances come from the claims file (per kind of
comparison) unless the profile sets one. Results of a pipeline-check profile (smoke: tiny
random models, fixture sample) are labelled as such: they test the machinery, not the cards.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from ..claims import Claims, load_all
from .gains import claimed_gains, gain_direction, interval_text, measured_gain, paired_headline
from .labels import GAIN_NOT_SHOWN, GAIN_REVERSED, GAIN_SHOWN, INTERVAL_NAME, NOT_COMPARABLE, NOT_RUN, OUTSIDE, WITHIN


# Which reproduced model is compared with which claimed subject, and under which tolerance.
#   published: the deepset checkpoint re-scored here     distilled: our retrained student
#   base: our student trained without distillation (w=0) teacher: the teacher re-scored here
SUBJECT_MODELS = {"distilled": ("published", "distilled"), "base": ("base",), "teacher": ("teacher",)}


MODEL_TOLERANCE = {"published": "published", "teacher": "published", "distilled": "retrained", "base": "retrained"}


COMPARISON_COLUMNS = ["card", "claim", "source", "verified", "model", "dataset", "metric",
                      "claimed", "reproduced", "delta", "tolerance", "verdict", "measured_on", "interval"]


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
        measured = measured_gain(gains, claims.card, g.dataset)
        interval, on = "", g.dataset if rep is not None else ""
        if measured is not None:
            rep, on = measured["gain"], measured["dataset"]
            interval = interval_text(measured)
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


def verdict_counts(table: pd.DataFrame, purpose: str | None = None) -> dict[str, int]:
    """How many rows got each verdict; for a pocket run, over the rows it compares (the claimed
    gains) and, apart, the cards' absolute numbers it lists as context (`split_claims`)."""
    if purpose == "pocket":
        compared, context = split_claims(table, purpose)
        return {**verdict_counts(compared), f"context ({NOT_COMPARABLE})": len(context)}
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


def headline(purpose: str | None, table: pd.DataFrame | None = None, gains: pd.DataFrame | None = None,
             paired: Mapping[str, pd.DataFrame] | None = None, dataset: str | None = None,
             answer: Sequence[str] | None = None) -> str:
    """Markdown: the run's headline result in a few sentences (claimed vs reproduced with verdicts
    for a reproduction; the measured gain against the cards' claimed gains for a pocket run, and
    the gain at each value of a paired factor, e.g. training-set size, on `dataset`)."""
    lines = []
    if paired and dataset:
        lines += paired_headline(paired, dataset)
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
                f"({r['dataset']}; {INTERVAL_NAME}: {interval_text(r)}; seeds {r['seeds']}); the interval is above "
                f"zero on {shown} of {len(sets)} datasets. "
                + (f"The card claims {c['value']:+.1f} F1 ({c['dataset']}, {c['source']})." if c else ""))
    if purpose == "pocket":
        head = "**Headline: the distillation gain** (the claim this run can test)."
        if answer:  # the answer from the per-question evidence first, then the per-seed summaries
            head += "\n\n" + "\n\n".join(answer) + "\n\nPer-seed summaries (95% t-intervals over seeds):"
        tail = ("The cards' absolute scores are not comparable with these models: 06 lists them once, as "
                "context, not as failures.")
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


def claims_table(profile: Any, reproduced: Mapping[str, Mapping[str, Any]], *, gains: pd.DataFrame | None = None,
                 models: Sequence[str] | None = None) -> pd.DataFrame:
    """The one verdict rule of a run: `compare_all` with the run's purpose, tolerance and cards
    (`profile`: a pipeline Profile, or anything with .purpose, .tolerance, .cards). Every report,
    JSON and markdown table of the run takes its verdicts from here, so they cannot disagree."""
    return compare_all(reproduced, tolerance=profile.tolerance, models=models, cards=profile.cards,
                       purpose=profile.purpose, gains=gains)


GAIN_MODEL = "distilled - base"   # the model column of a claimed gain's rows


CONTEXT_NOTE = ("**Context: the cards' own absolute numbers.** Their models (roberta-base, bert-medium and their "
                "teachers) trained on ~130k SQuAD 2.0 questions; this run's models are others, at another scale, so "
                "these numbers are not compared with anything here (verdict: not comparable). They are listed once, "
                "for scale.")


def split_claims(table: pd.DataFrame, purpose: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows compared with this run, context rows). A pocket run compares only the claimed gains;
    the cards' absolute numbers are context: one row per claimed number, without a reproduced one."""
    if purpose != "pocket" or not len(table):
        return table, table.iloc[0:0]
    gains = table[table["model"] == GAIN_MODEL]
    absolute = table[table["model"] != GAIN_MODEL]
    context = (absolute.drop_duplicates(["card", "claim", "dataset", "metric"])
               [["card", "claim", "source", "dataset", "metric", "claimed"]].assign(verdict=NOT_COMPARABLE))
    return gains, context.reset_index(drop=True)
