"""qarepro.pipeline.rerun: compare two output folders' metric values."""

from __future__ import annotations

import pytest

from qarepro import pipeline
from qarepro.io import read_json, write_json


def test_compare_runs_ignores_timings_and_provenance(tmp_path):
    for name, seconds in (("a", 1.0), ("b", 2.0)):
        write_json(tmp_path / name / "smoke" / "04_evaluate.json",
                   {"models": {"m": {"metrics": {"d": {"exact": 50.0, "f1": 60.0}}, "model": "outputs/runs/x"}},
                    "speed": [{"samples_per_s": seconds}], "provenance": {"timings": {"s": seconds}}})
    assert pipeline.compare_runs(tmp_path / "a", tmp_path / "b", "smoke") == []
    write_json(tmp_path / "b" / "smoke" / "04_evaluate.json", {"models": {"m": {"metrics": {"d": {"f1": 61.0}}}}})
    assert pipeline.compare_runs(tmp_path / "a", tmp_path / "b", "smoke") == [
        "differs: 04_evaluate.json (models.m.metrics.d.exact: only in the first)"]

def test_compare_shared_only_checks_what_both_runs_hold_outside_the_grid_tables(tmp_path):
    scores = {"a": {"run1": 60.0, "run2": 50.0}, "b": {"run1": 60.0, "run2": 50.0, "run3": 40.0}}
    for name, runs in scores.items():  # b ran a bigger grid, and its stage JSON differs
        write_json(tmp_path / name / "smoke" / "05_ablations.json", {"gains": [{"gain": len(runs)}]})
        for run, f1 in runs.items():
            write_json(tmp_path / name / "smoke" / "ablations" / "card" / f"{run}-hf" / "d" / "metrics.json",
                       {"exact": f1 - 5, "f1": f1, "provenance": {"created_utc": name}})
    a, b = tmp_path / "a", tmp_path / "b"
    assert "differs: 05_ablations.json (gains[0].gain: 2 vs 3)" in pipeline.compare_runs(a, b, "smoke")
    assert pipeline.compare_runs(a, b, "smoke", shared_only=True) == []
    write_json(b / "smoke" / "ablations" / "card" / "run2-hf" / "d" / "metrics.json", {"exact": 45.0, "f1": 50.5})
    assert pipeline.compare_runs(a, b, "smoke", shared_only=True) == [
        "differs: ablations/card/run2-hf/d/metrics.json (f1: 50.0 vs 50.5)"]
    assert pipeline.main(["compare", str(a), str(b), "--profile", "smoke", "--shared-only",
                          "--out", str(tmp_path / "rerun.json")]) == 1
    record = read_json(tmp_path / "rerun.json")
    assert (record["compared"], record["identical"]) == (2, 1)  # the grid table is left out
    assert record["first_difference"] == {"ablations/card/run2-hf/d/metrics.json": "f1: 50.0 vs 50.5"}
    assert record["only_in_b"] == ["ablations/card/run3-hf/d/metrics.json"] and record["only_in_a"] == []


def _compare(capsys, a, b, *extra) -> tuple[int, str, str]:
    rc = pipeline.main(["compare", str(a), str(b), "--profile", "smoke", *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("side", ["missing", "empty", "other profile only"])
def test_compare_fails_when_a_side_has_no_results_for_the_profile(tmp_path, capsys, side):
    good = tmp_path / "good"
    write_json(good / "smoke" / "01_data_prep.json", {"questions": 3})
    bad = tmp_path / "bad"
    if side == "empty":
        bad.mkdir()
    elif side == "other profile only":
        write_json(bad / "full" / "01_data_prep.json", {"questions": 3})
    for a, b in ((good, bad), (bad, good), (bad, bad)):
        rc, out, err = _compare(capsys, a, b)
        assert rc == 2 and out == "" and err.count("\n") == 1, err
        assert err.startswith("qarepro compare: error: ") and f"{bad} holds no results for profile smoke" in err


def test_compare_fails_when_the_sides_hold_different_metric_files(tmp_path, capsys):
    for side in ("a", "b"):
        write_json(tmp_path / side / "smoke" / "01_data_prep.json", {"questions": 3})
    write_json(tmp_path / "b" / "smoke" / "eval" / "m" / "d" / "metrics.json", {"f1": 1.0})
    rc, out, _ = _compare(capsys, tmp_path / "a", tmp_path / "b")
    assert rc == 1 and f"only in {tmp_path / 'b'}: eval/m/d/metrics.json" in out


METRICS = {"exact": 50.0, "f1": 61.23456789, "total": 4, "HasAns_total": 3, "best_f1_thresh": 0.25,
           "decoder": "hf", "n_features": 7}


@pytest.mark.parametrize("key, value", [
    ("best_f1_thresh", 0.5), ("HasAns_total", 2), ("n_features", 8), ("f1", 61.23456789 + 4e-7),
    ("decoder", "haystack"), ("total", 4.0), ("new_key", 0)])
def test_compare_catches_any_difference_in_any_value(tmp_path, capsys, key, value):
    write_json(tmp_path / "a" / "smoke" / "eval" / "m" / "d" / "metrics.json",
               {"metrics": METRICS, "provenance": {"created_utc": "1"}, "timings": {"s": 1}})
    write_json(tmp_path / "b" / "smoke" / "eval" / "m" / "d" / "metrics.json",
               {"metrics": {**METRICS, key: value}, "provenance": {"created_utc": "2"}, "timings": {"s": 2}})
    rc, out, _ = _compare(capsys, tmp_path / "a", tmp_path / "b")
    assert rc == 1 and f"differs: eval/m/d/metrics.json (metrics.{key}" in out


def test_compare_leaves_out_only_provenance_and_timings_and_says_so(tmp_path, capsys):
    for side, t in (("a", 1.0), ("b", 2.0)):
        write_json(tmp_path / side / "smoke" / "03_distill.json",
                   {"train": {"train_loss": 1.5, "train_runtime": t, "train_samples_per_second": 10 / t},
                    "teachers": [{"seconds": t, "dtype": "float32"}], "speed": {"ms": t},
                    "provenance": {"git": {"commit": side}}})
    rc, out, _ = _compare(capsys, tmp_path / "a", tmp_path / "b", "--out", str(tmp_path / "r.json"))
    assert rc == 0 and "same values in" in out
    assert "left out of the comparison: provenance, timings, speed, seconds, train_runtime" in out
    assert read_json(tmp_path / "r.json")["left_out"] == list(pipeline.rerun.LEFT_OUT)
