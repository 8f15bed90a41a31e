"""qarepro.report.comparison: claimed vs reproduced rows, verdicts, tolerances, facts."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from qarepro import claims as qclaims
from qarepro import report
from tests.helpers import seed_runs as _seed_runs, reproduced_metrics as _reproduced

CARDS = ("roberta-base-squad2-distilled", "bert-medium-squad2-distilled")


@pytest.mark.parametrize("claimed, reproduced, tol, expected", [
    (80.0, 80.4, 0.5, report.WITHIN),
    (80.0, 80.5, 0.5, report.WITHIN),      # the boundary counts as within
    (80.0, 79.4, 0.5, report.OUTSIDE),
    (80.0, 85.0, 0.5, report.OUTSIDE),
    (80.0, None, 0.5, report.NOT_RUN),
    (80.0, float("nan"), 0.5, report.NOT_RUN),
])
def test_verdict(claimed, reproduced, tol, expected):
    assert report.verdict(claimed, reproduced, tol) == expected


def test_compare_rows_deltas_and_verdicts():
    c = qclaims.load_claims("bert-medium-squad2-distilled")
    t = report.compare(c, _reproduced())
    assert list(t.columns) == report.COMPARISON_COLUMNS
    row = t[(t.claim == "model-index/squad_v2") & (t.model == "published") & (t.metric == "f1")].iloc[0]
    assert row.reproduced == 72.9 and math.isclose(row.delta, 72.9 - 72.9232) and row.verdict == report.WITHIN
    assert row.tolerance == c.tolerance.published
    row = t[(t.claim == "model-index/squad_v2") & (t.model == "distilled") & (t.metric == "exact")].iloc[0]
    assert row.verdict == report.OUTSIDE and row.tolerance == c.tolerance.retrained  # 67.0 vs 69.82
    row = t[(t.claim == "guide/teacher")].iloc[0]
    assert row.verdict == report.NOT_RUN and pd.isna(row.reproduced)
    gain = t[t.claim == "guide/gain"].iloc[0]
    assert gain.reproduced == 2.0 and math.isclose(gain.delta, -1.2) and gain.verdict == report.OUTSIDE
    counts = report.verdict_counts(t)
    assert sum(counts.values()) == len(t) and counts[report.NOT_RUN] >= 1


def test_compare_tolerance_override_and_model_filter():
    c = qclaims.load_claims("bert-medium-squad2-distilled")
    t = report.compare(c, _reproduced(), tolerance=5.0, models=["published"])
    assert set(t.model) == {"published"} and set(t.tolerance) == {5.0}
    assert "guide/gain" not in set(t.claim)  # needs distilled and base


def test_compare_all_covers_every_card_and_formats():
    t = report.compare_all({"bert-medium-squad2-distilled": _reproduced()})
    assert set(t.card) == set(CARDS)
    assert set(t[t.card == "roberta-base-squad2-distilled"].verdict) == {report.NOT_RUN}
    md = report.to_markdown(t)
    assert md.startswith("| card | claim |") and "not run" in md and "+0.00" not in md.splitlines()[0]
    html = report.style_verdicts(t).to_html()
    assert "within tolerance" in html and "background-color" in html


def test_compare_facts_statuses():
    c = qclaims.load_claims("roberta-base-squad2-distilled")
    t = report.compare_facts(c, {"batch_size": 16, "epochs": 4, "temperature": 1.5})
    status = dict(zip(t.fact, t.status))
    assert status["batch_size"] == "differs" and status["n_epochs"] == "same"
    assert status["temperature"] == "same" and status["infrastructure"] == "not compared"
    assert status["learning_rate"] == "not in config"
    assert set(report.compare_facts(c, None).status) == {"not compared"}


def test_pocket_comparison_marks_absolute_scores_not_comparable_and_judges_the_gain():
    c = qclaims.load_claims("bert-medium-squad2-distilled")
    rep = {"distilled": {"squad_v2-validation": {"exact": 20.0, "f1": 25.0}}}
    gains = report.gain_summary(_seed_runs())
    t = report.compare(c, rep, purpose="pocket", gains=gains)
    scored = t[t.model == "distilled"]
    assert set(scored.verdict) == {report.NOT_COMPARABLE}  # bert-medium claims squad_v2 only
    assert report.OUTSIDE not in set(t.verdict)
    gain = t[t.claim == "guide/gain"].iloc[0]
    assert gain.verdict == report.GAIN_SHOWN and gain.measured_on == "mean of 2 sets"
    assert math.isclose(gain.reproduced, 5.0) and " to " in gain.interval
    wide = report.wide_table(t)
    assert any("not comparable" in str(v) for v in wide["distilled"])
    counts = report.verdict_counts(t)
    assert counts[report.GAIN_SHOWN] == 1 and report.OUTSIDE not in counts
    text = report.headline("pocket", t, gains)
    assert "+5.00" in text and "not comparable" in text and "+3.2" in text


def test_a_pocket_headline_leads_with_the_answer_from_the_per_question_evidence():
    text = report.headline("pocket", answer=["**c** on d: +3.00 (bootstrap +1.00 to +5.00)."])
    head, answer = text.index("Headline: the distillation gain"), text.index("**c** on d: +3.00")
    assert head < answer < text.index("Per-seed summaries") and report.headline("pocket").count("Per-seed") == 0
