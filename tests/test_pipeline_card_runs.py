"""qarepro.pipeline.card_runs: a card setting without a seed grid in 05 still shows its gain, from
its 03 student against that student's exact twin without distillation."""

from __future__ import annotations

from qarepro import pipeline, report

BERT, ROBERTA = "bert-medium-squad2-distilled", "roberta-base-squad2-distilled"
CONFIG = {"seed": 42, "teacher": "t", "distillation_loss_weight": 1.0, "temperature": 5.0, "loss_variant": "haystack",
          "max_train_examples": 500}


def _runs():
    twin = pipeline.run_identity({**CONFIG, **pipeline.NO_DISTILLATION})
    rows = []
    for seed, d, b in ((42, 11.0, 10.0), (43, 11.5, 10.2)):
        base_run = twin if seed == 42 else "other-seed"
        for factor, f1, run in (("seed", d, f"d{seed}"), ("baseline_seed", b, base_run)):
            rows.append({"card": ROBERTA, "factor": factor, "value": seed, "seed": seed, "arm": None, "decoder": "hf",
                         "center": False, "run": run, "dataset": "squad-validation", "exact": f1, "f1": f1,
                         "HasAns_f1": f1, "NoAns_f1": None, "is_base": factor == "baseline_seed",
                         "metrics": {"f1": f1}, "run_dir": "r"})
    return rows


EVALUATED = {"distilled-bert": {"card": BERT, "role": "distilled",
                                "metrics": {"squad-validation": {"f1": 12.8, "exact": 6.0}, "other": {"f1": 1.0}}}}


def test_the_03_student_is_paired_with_its_twin_without_distillation():
    distilled = {BERT: {"config": CONFIG, "config_hash": "bert03", "run_dir": "runs/bert"}}
    every = pipeline.with_card_runs(_runs(), EVALUATED, distilled, [ROBERTA, BERT])
    bert = every[every["card"] == BERT]
    assert sorted(bert["factor"]) == ["baseline_seed", "seed"] and set(bert["dataset"]) == {"squad-validation"}
    (row,) = report.gain_summary(every).query("card == @BERT").to_dict("records")
    assert row["gain"] == 12.8 - 10.0 and row["seeds"] == "42" and report.interval_text(row) == "(one seed)"
    assert report.gain_direction(row) == report.GAIN_NOT_SHOWN


def test_nothing_is_added_without_a_twin_or_where_the_card_has_its_grid():
    other = {**CONFIG, "temperature": 3.0, "max_train_examples": 250}   # its twin was never trained
    assert len(pipeline.with_card_runs(_runs(), EVALUATED, {BERT: {"config": other}}, [BERT])) == len(_runs())
    roberta = {ROBERTA: {"config": CONFIG, "config_hash": "x"}}             # has seed rows in 05 already
    assert len(pipeline.with_card_runs(_runs(), EVALUATED, roberta, [ROBERTA])) == len(_runs())
