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
    # two cards that plan the same rows share one line; a card with other rows keeps its own
    both = plan + [{**r, "card": "d"} for r in plan] + [{"card": "d", "factor": "seed", "value": 42, "seed": 42,
                                                         "arm": "distilled"}]  # the others: no arm (NaN)
    assert report.plan_summary(both).to_dict("records") == [
        {"card": "c, d", "factor": "temperature", "values": "1, 5", "seeds": "42", "rows": 2},
        {"card": "d", "factor": "seed (distilled)", "values": "42", "seeds": "42", "rows": 1}]
    table = report.plan_table(both)  # the seed row has no overrides: a missing value in the table
    assert list(table["card"]) == ["c, d", "c, d", "d"] and list(table["value"]) == [1, 5, 42]


def test_the_speed_table_reads_the_records_as_04_builds_them_through_a_data_frame():
    """04 passes speed_table(...).to_dict(orient="records"): a missing `same_timing_as` is NaN there,
    not None, and must not hide the timing (every cell read "–" and the figure was empty)."""
    rows = [{"model": "teacher-a", "role": "teacher", "card": "a", "samples_per_s": 21.0, "latency_ms": 48.0,
             "samples_per_s_runs": [21.0, 20.0, 22.0], "latency_ms_runs": [48.0, 47.0, 49.0],
             "n_parameters": 100, "same_timing_as": None},
            {"model": "teacher-b", "role": "teacher", "card": "b", "samples_per_s": 21.0, "latency_ms": 48.0,
             "samples_per_s_runs": [21.0, 20.0, 22.0], "latency_ms_runs": [48.0, 47.0, 49.0],
             "n_parameters": 100, "same_timing_as": "teacher-a"},
            {"model": "distilled-a", "role": "distilled", "card": "a", "samples_per_s": 42.0, "latency_ms": None,
             "samples_per_s_runs": [42.0, 41.0, 43.0], "latency_ms_runs": [], "n_parameters": 50,
             "same_timing_as": None}]
    speed = pd.DataFrame(rows).to_dict(orient="records")
    evaluated = {"teacher-a": {"model": "t"}, "teacher-b": {"model": "t"}, "distilled-a": {"model": "s"}}
    shown = report.speed_display(speed, evaluated).set_index("model")
    rates = "questions/s, median (range, timings)"
    assert list(shown[rates]) == ["21.00 (20.00–22.00, 3 timings)", "42.00 (41.00–43.00, 3 timings)"]
    assert shown["latency (ms), median (range, timings)"].iloc[1] == report.NA  # no latency recorded: no NaN
    assert "2.0x its teacher's questions/s" in report.speed_comparison(speed, evaluated)


def test_the_runs_summary_gives_cards_with_the_same_counts_one_line():
    runs = [{"card": c, "factor": "train_size", "value": 500, "seed": s, "decoder": "hf", "arm": "distilled",
             "run": f"{c}-{s}", "dataset": "d"} for c in ("a", "b") for s in (42, 43)]
    s = report.runs_summary(runs)
    assert list(s["card"]) == ["each of a, b", "both (shared runs counted once)"]
    assert s.iloc[0]["grid rows"] == 2 and s.iloc[1]["trained configurations"] == 4
    one_more = runs + [dict(runs[0], seed=44, run="a-44")]
    assert list(report.runs_summary(one_more)["card"]) == ["a", "b", "both (shared runs counted once)"]


def test_the_runs_table_lists_a_run_two_cards_share_once():
    base = {"factor": "baseline_seed", "value": 42, "seed": 42, "decoder": "hf", "run": "r0", "dataset": "d", "f1": 7.0}
    runs = [{"card": "a", **base}, {"card": "b", **base}, {"card": "a", **base, "factor": "seed", "run": "r1", "f1": 9.0}]
    table = report.runs_table(runs)
    assert list(table["card"]) == ["a, b", "a"] and list(table["f1"]) == [7.0, 9.0]
