"""Re-rendering a finished stage from its records (qarepro.rerender): nothing trained, the
stage's metrics untouched (only the keys a report derives from them rewritten), the re-render
recorded beside it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from qarepro import io as qio
from qarepro import paths, pipeline, rerender


def _records(profile: str) -> None:
    card = pipeline.load_profile(profile).ablation.cards[0]
    runs = []
    for ds, shift in (("d1", 0.0), ("d2", 5.0)):
        for seed, d, b in ((42, 30.0, 20.0), (43, 32.0, 21.0)):
            for factor, f1 in (("seed", d), ("baseline_seed", b)):
                runs.append({"card": card, "factor": factor, "value": seed, "seed": seed, "decoder": "hf",
                             "center": False, "run": f"{factor}{seed}", "dataset": ds, "exact": f1 - 5,
                             "f1": f1 + shift, "HasAns_f1": f1 + shift, "NoAns_f1": None,
                             "is_base": factor == "baseline_seed" and seed == 42,
                             "metrics": {"f1": f1 + shift}, "run_dir": "outputs/runs/x"})
    gains = json.loads(json.dumps(pipeline.plain(pipeline.distillation_gain(pd.DataFrame(runs)))))
    res = pipeline.results_dir(profile)
    qio.write_json(res / "04_evaluate.json", {"models": {"teacher-x": {"card": card, "role": "teacher",
                                                                       "metrics": {"d1": {"f1": 40.0}, "d2": {"f1": 45.0}}}}})
    qio.write_json(res / "05_ablations.json", {"stage": "05_ablations", "runs": runs, "gains": gains,
                                               "provenance": {"created_utc": "then", "git": {"commit": "abc"},
                                                              "timings": {"stage_s": 4251.0}}})


@pytest.mark.slow
def test_05_is_rerendered_from_its_records_without_touching_them():
    prof = pipeline.load_profile("smoke")
    _records(prof.name)
    target = pipeline.target(prof.name, "05_ablations")
    before = qio.read_json(target)
    pipeline.ensure_kernel()
    dest = rerender.rerender("05_ablations", prof)
    after = qio.read_json(target)
    assert after["runs"] == before["runs"] and after["gains"] == before["gains"]   # the metrics stay as they were
    assert after["provenance"] == before["provenance"]                            # and so do its 4251 s
    rec = qio.read_json(dest)
    assert rec["record"]["stage_s"] == 4251.0 and rec["same_runs"]
    assert set(rec["rewrote"]) <= {"gain_summary", "paired_gains", "evidence"}    # derived keys this record lacked
    assert {"gain_summary", "paired_gains"} <= set(rec["rewrote"])
    assert rec["provenance"]["timings"]["stage_s"] < 4251.0 and rec["rerender_of"] == "outputs/smoke/05_ablations.json"
    html = (paths.reports(prof.name) / "05_ablations.html").read_text()
    full = (paths.reports(prof.name) / "05_ablations.full.html").read_text()
    assert "gain shown" in html and "95% t-interval over seeds" in html
    assert "Detail: every planned row" in full and "Detail: every planned row" not in html


def test_rerender_refuses_what_has_no_record():
    prof = pipeline.load_profile("smoke")
    with pytest.raises(pipeline.PipelineError, match="nothing to re-render"):
        rerender.rerender("05_ablations", prof)
    with pytest.raises(pipeline.PipelineError, match="nothing to re-render"):
        rerender.rerender("04_evaluate", prof)
    with pytest.raises(pipeline.PipelineError, match="cannot be re-rendered"):
        rerender.rerender("07_unknown", prof)


def test_the_documented_command_parses_and_reaches_the_records(capsys, monkeypatch):
    """`qarepro rerender --profile smoke` (every stage) gets past its arguments to the records."""
    monkeypatch.setattr(pipeline, "ensure_kernel", lambda: None)  # no kernel is needed to find no record
    assert rerender.main(["--profile", "smoke"]) == 1
    err = capsys.readouterr().err
    assert "nothing to re-render" in err and "invalid choice" not in err
    with pytest.raises(SystemExit) as exit_:
        rerender.main(["--profile", "smoke", "07_unknown"])
    assert exit_.value.code == 2 and "cannot re-render 07_unknown" in capsys.readouterr().err
