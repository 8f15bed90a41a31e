"""qarepro.pipeline.rerun: compare two output folders' metric values."""

from __future__ import annotations

from qarepro import pipeline
from qarepro.io import read_json, write_json


def test_compare_runs_ignores_timings_and_provenance(tmp_path):
    for name, seconds in (("a", 1.0), ("b", 2.0)):
        write_json(tmp_path / name / "smoke" / "04_evaluate.json",
                   {"models": {"m": {"metrics": {"d": {"exact": 50.0, "f1": 60.0}}, "model": f"/{name}/x"}},
                    "speed": [{"samples_per_s": seconds}], "provenance": {"timings": {"s": seconds}}})
    assert pipeline.compare_runs(tmp_path / "a", tmp_path / "b", "smoke") == []
    write_json(tmp_path / "b" / "smoke" / "04_evaluate.json", {"models": {"m": {"metrics": {"d": {"f1": 61.0}}}}})
    assert pipeline.compare_runs(tmp_path / "a", tmp_path / "b", "smoke") == ["differs: 04_evaluate.json"]

def test_compare_shared_only_checks_what_both_runs_hold_outside_the_grid_tables(tmp_path):
    scores = {"a": {"run1": 60.0, "run2": 50.0}, "b": {"run1": 60.0, "run2": 50.0, "run3": 40.0}}
    for name, runs in scores.items():  # b ran a bigger grid, and its stage JSON differs
        write_json(tmp_path / name / "smoke" / "05_ablations.json", {"gains": [{"gain": len(runs)}]})
        for run, f1 in runs.items():
            write_json(tmp_path / name / "smoke" / "ablations" / "card" / f"{run}-hf" / "d" / "metrics.json",
                       {"exact": f1 - 5, "f1": f1, "provenance": {"created_utc": name}})
    a, b = tmp_path / "a", tmp_path / "b"
    assert "differs: 05_ablations.json" in pipeline.compare_runs(a, b, "smoke")
    assert pipeline.compare_runs(a, b, "smoke", shared_only=True) == []
    write_json(b / "smoke" / "ablations" / "card" / "run2-hf" / "d" / "metrics.json", {"exact": 45.0, "f1": 50.5})
    assert pipeline.compare_runs(a, b, "smoke", shared_only=True) == ["differs: ablations/card/run2-hf/d/metrics.json"]
    assert pipeline.main(["compare", str(a), str(b), "--profile", "smoke", "--shared-only",
                          "--out", str(tmp_path / "rerun.json")]) == 1
    record = read_json(tmp_path / "rerun.json")
    assert (record["compared"], record["identical"]) == (2, 1)  # the grid table is left out
    assert record["only_in_b"] == ["ablations/card/run3-hf/d/metrics.json"] and record["only_in_a"] == []
