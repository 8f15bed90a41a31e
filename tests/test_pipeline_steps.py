"""qarepro.pipeline.steps: the ablation grid and the distillation gain."""

from __future__ import annotations

import pandas as pd

from qarepro import pipeline


def test_ablation_plan_is_one_factor_at_a_time(monkeypatch):
    prof = pipeline.load_profile("full")
    stage = pipeline.Stage("05_ablations", prof)
    plan = pipeline.ablation_plan(stage)
    bert = [r for r in plan if r["card"] == "bert-medium-squad2-distilled"]
    baseline = [r for r in bert if r["factor"] == pipeline.BASELINE_SEED]
    bert = [r for r in bert if r["factor"] != pipeline.BASELINE_SEED]
    assert len(bert) == 5 + 5 + 2 + 2 + 3 + 2  # T, w, loss, precision, seed, decoder
    for r in bert:
        if (r["factor"], r["value"]) == ("weight", 0.0):  # the no-distillation run at the centre seed
            assert r["overrides"] == {"seed": 42, **pipeline.NO_DISTILLATION}
        else:
            assert len(r["overrides"]) <= 1
    # the no-distillation baseline is trained at every seed too: the claim's spread needs both sides
    assert [r["seed"] for r in baseline] == [42, 43, 44]
    assert all(r["overrides"]["distillation_loss_weight"] == 0.0 and r["overrides"]["teacher"] is None
               for r in baseline)
    centres = {(r["factor"], r["value"]) for r in bert if r["center"]}
    assert centres == {("temperature", 5.0), ("weight", 1.0), ("loss", "haystack"), ("precision", "fp32"),
                       ("seed", 42), ("decoder", "hf")}
    assert [r["overrides"] for r in bert if r["factor"] == "precision"] == [{"precision": "fp32"},
                                                                             {"precision": "bf16"}]

def test_distillation_gain_is_a_mean_over_seeds_on_both_sides():
    rows = []
    for seed, distilled, base in [(42, 60.0, 55.0), (43, 62.0, 58.0), (44, 61.0, 54.0)]:
        rows.append({"card": "c", "dataset": "d", "factor": "seed", "value": seed, "seed": seed,
                     "center": seed == 42, "is_base": False, "f1": distilled})
        rows.append({"card": "c", "dataset": "d", "factor": pipeline.BASELINE_SEED, "value": seed, "seed": seed,
                     "center": False, "is_base": True, "f1": base})
    (gain,) = pipeline.distillation_gain(pd.DataFrame(rows))
    assert gain["distilled_f1"] == 61.0 and gain["base_f1"] == 55.666666666666664
    assert gain["gain"] == 61.0 - 55.666666666666664
    assert gain["paired_gains"] == {42: 5.0, 43: 4.0, 44: 7.0} and gain["n_seeds"] == 3
    assert gain["seed_sd"] == 1.0 and gain["base_seed_sd"] > 2
