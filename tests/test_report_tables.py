"""qarepro.report.tables: threshold curves, display tables, plans and runs."""

from __future__ import annotations

import math

import pandas as pd
from qarepro import report
from tests.helpers import toy_scoring_case as _toy



def test_threshold_curve_matches_the_official_sweep():
    from qarepro import metrics

    gold, preds, na = _toy()
    curve = report.threshold_curve(gold, preds, na)
    official = metrics.score(gold, preds, na)
    assert math.isclose(curve.f1.max(), official["best_f1"])
    assert math.isclose(curve.exact.max(), official["best_exact"])
    # keep everything -> the plain score; answer nothing -> the NoAns share
    assert math.isclose(curve.f1.iloc[-1], metrics.score(gold, preds)["f1"])
    assert curve.exact.iloc[0] == 50.0 and curve.threshold.is_monotonic_increasing


def test_threshold_curve_uses_nbest_spans_where_the_decoder_said_no_answer():
    gold, preds, na = _toy()
    preds = {**preds, "1": ""}  # decoder abstained, but its best span was right
    nbest = {"1": [{"text": "", "char_start": None}, {"text": "b c", "char_start": 2}]}
    without = report.threshold_curve(gold, preds, na)
    with_nbest = report.threshold_curve(gold, preds, na, nbest)
    assert with_nbest.f1.iloc[-1] > without.f1.iloc[-1]
    assert report.best_spans(nbest) == {"1": "b c"}


def test_display_tables_hold_no_python_reprs():
    df = pd.DataFrame([{"overrides": {"temperature": 1.0}, "shape": [1605, 2, 192], "f1": 13.333333333,
                        "lr": 3e-05, "flag": True, "none": None}])
    html = report.display_table(df).to_html()
    assert "{'" not in html and "[1605" not in html and "13.333" not in html
    assert "temperature=1.00" in html and "1605 × 2 × 192" in html and "13.33" in html and "3.0e-05" in html
    long = pd.DataFrame({"x": range(300)})
    assert "…" not in report.display_table(long).to_html() and ">299<" in report.display_table(long).to_html()


def test_plan_and_runs_are_summarised():
    plan = [{"card": "c", "factor": "temperature", "value": v, "seed": 42, "overrides": {"temperature": v}} for v in (1, 5)]
    s = report.plan_summary(plan)
    assert s.to_dict("records") == [{"card": "c", "factor": "temperature", "values": "1, 5", "seeds": "42", "rows": 2}]
    assert report.plan_table(plan)["overrides"].tolist() == ["temperature=1", "temperature=5"]
