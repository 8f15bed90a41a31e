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


def test_a_paired_factor_runs_every_value_with_and_without_distillation_at_every_seed(tmp_path):
    text = pipeline.profile_path("smoke").read_text() + (
        "ablations: {cards: [roberta-base-squad2-distilled, bert-medium-squad2-distilled], seed: [42, 43],\n"
        "            temperature: [1, 1.5], train_size: [40, 80], correct_bias: [false, true],\n"
        "            paired: [train_size, correct_bias], paired_cards: [roberta-base-squad2-distilled]}\n")
    (tmp_path / "paired.yaml").write_text(text)
    prof = pipeline.load_profile(tmp_path / "paired.yaml")
    plan = pipeline.ablation_plan(pipeline.Stage("05_ablations", prof))
    crossed = [r for r in plan if r.get("arm")]
    assert {r["factor"] for r in crossed} == {"train_size", "correct_bias"}
    assert {r["card"] for r in crossed} == {"roberta-base-squad2-distilled"}  # paired_cards
    # 2 values x 2 seeds x 2 arms per factor; nothing of a paired factor in the one-at-a-time part
    assert len(crossed) == 2 * (2 * 2 * 2)
    assert not [r for r in plan if r["factor"] in ("train_size", "correct_bias") and not r.get("arm")]
    cells = {(r["factor"], r["value"], r["seed"], r["arm"]): r["overrides"] for r in crossed}
    assert cells[("train_size", 80, 43, "distilled")] == {"max_train_examples": 80, "seed": 43}
    assert cells[("train_size", 80, 43, "baseline")] == {"max_train_examples": 80, "seed": 43,
                                                         **pipeline.NO_DISTILLATION}
    assert cells[("correct_bias", True, 42, "baseline")]["correct_bias"] is True
    # the card's own value is the centre of its distilled arm only
    centres = {(r["factor"], r["value"], r["seed"]) for r in crossed if r["center"]}
    assert ("correct_bias", False, 42) in centres and not [r for r in crossed if r["center"] and r["arm"] == "baseline"]
    assert {r["factor"] for r in plan if r["card"] == "bert-medium-squad2-distilled"} == {
        "temperature", "seed", pipeline.BASELINE_SEED}


def _grid_profile(tmp_path, ablations: str, extra: str = ""):
    text = pipeline.profile_path("smoke").read_text() + extra + f"ablations: {ablations}\n"
    (tmp_path / "grid.yaml").write_text(text)
    return pipeline.load_profile(tmp_path / "grid.yaml")


def test_seeds_by_value_gives_a_value_its_own_seeds(tmp_path):
    prof = _grid_profile(tmp_path, "{cards: [roberta-base-squad2-distilled], seed: [42, 43, 44], train_size: [40, 80],\n"
                                   "  paired: [train_size], seeds_by_value: {train_size: {80: [42, 43, 44, 45, 46]}}}")
    crossed = [r for r in pipeline.ablation_plan(pipeline.Stage("05_ablations", prof)) if r.get("arm")]
    seeds = {v: sorted({r["seed"] for r in crossed if r["value"] == v}) for v in (40, 80)}
    assert seeds == {40: [42, 43, 44], 80: [42, 43, 44, 45, 46]}
    assert len(crossed) == 2 * (3 + 5)  # both arms at every seed of every value


def test_the_teacher_factor_pairs_each_teacher_with_the_same_baseline(tmp_path):
    # the smoke teachers are tiny:… models, so give the card a fine-tuned teacher for this plan
    prof = _grid_profile(tmp_path, "{cards: [roberta-base-squad2-distilled], seed: [42, 43], teacher: [finetuned, weak],\n"
                                   "  paired: [teacher]}",
                         extra="teacher_variants: {weak: {learning_rate: 1.0e-5, correct_bias: false}}\n")
    for plan in prof.plans.values():
        plan.finetune_teacher = True
    crossed = [r for r in pipeline.ablation_plan(pipeline.Stage("05_ablations", prof)) if r.get("arm")]
    assert {(r["value"], r["teacher_variant"], r["arm"]) for r in crossed} == {
        ("finetuned", "finetuned", "distilled"), ("finetuned", "finetuned", "baseline"),
        ("weak", "weak", "distilled"), ("weak", "weak", "baseline")}
    base = {tuple(sorted(r["overrides"].items())) for r in crossed if r["arm"] == "baseline"}
    assert len(base) == 2  # one baseline per seed, whichever teacher the distilled arm has
    assert [r["center"] for r in crossed if r["arm"] == "distilled"] == [True, True, False, False]
