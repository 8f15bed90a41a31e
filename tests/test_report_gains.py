"""qarepro.report.gains: the distillation gain over seeds, gain and ablation tables."""

from __future__ import annotations

import math

import pytest

from qarepro import report
from tests.helpers import paired_runs as _paired_runs, seed_runs as _seed_runs




def test_gain_table_means_over_seeds_beside_the_claimed_gain():
    evaluated = {"models": {"t": {"role": "teacher", "metrics": {"d": {"f1": 70.0}, "squad_v2-validation": {"f1": 71.0}}}}}
    runs = []
    for seed, distilled, base in [(42, 60.0, 55.0), (43, 62.0, 57.0)]:
        runs.append({"card": "bert-medium-squad2-distilled", "dataset": "d", "factor": "seed", "seed": seed, "f1": distilled})
        runs.append({"card": "bert-medium-squad2-distilled", "dataset": "d", "factor": "baseline_seed", "seed": seed, "f1": base})
    row, claimed_on = report.gain_table(evaluated, {"runs": runs}).to_dict("records")
    assert row["teacher"] == "70.00" and row["no distillation"] == "56.00 ± 1.41"
    assert row["bert-medium-squad2-distilled: distilled"] == "61.00 ± 1.41"
    assert row["bert-medium-squad2-distilled: gain"] == "+5.00"
    # the claim only on the row of the set it was made for (SQuAD 2.0 dev), "–" elsewhere
    assert row["bert-medium-squad2-distilled: claimed gain"] == "–"
    assert claimed_on["dataset"] == "squad_v2-validation" and claimed_on["bert-medium-squad2-distilled: claimed gain"] == "+3.2"
    only_d = {"models": {"t": {"role": "teacher", "metrics": {"d": {"f1": 70.0}}}}}
    assert not any(c.endswith("claimed gain") for c in report.gain_table(only_d, {"runs": runs}))  # no such row: no column


def test_ablation_table_averages_datasets_and_compares_with_the_card_setting_at_the_same_seed():
    card = "bert-medium-squad2-distilled"
    runs = []
    for ds, shift in (("d1", 0.0), ("d2", 10.0)):
        for seed, f1 in ((42, 60.0), (43, 64.0)):
            runs.append({"card": card, "dataset": ds, "factor": "seed", "value": seed, "seed": seed,
                         "decoder": "hf", "f1": f1 + shift})
        runs.append({"card": card, "dataset": ds, "factor": "baseline_seed", "value": 42, "seed": 42,
                     "decoder": "hf", "f1": 50.0 + shift})
        for t, f1 in ((1.0, 58.0), (5.0, 60.0)):
            runs.append({"card": card, "dataset": ds, "factor": "temperature", "value": t, "seed": 42,
                         "decoder": "hf", "f1": f1 + shift})
    table = report.ablation_table({"runs": runs})
    assert list(table["factor"]) == ["card setting", "no distillation", "temperature", "temperature"]
    rows = table.set_index("value").to_dict("index")
    assert rows["the card's T and w"]["mean f1"] == "67.00 ± 2.83" and rows["the card's T and w"]["seeds"] == "42, 43"
    assert rows["w 0"]["vs card setting"] == "-10.00"  # paired with seed 42 only
    assert rows["1.0"]["mean f1"] == "63.00" and rows["1.0"]["vs card setting"] == "-2.00"
    assert rows["5.0"]["vs card setting"] == "+0.00" and rows["5.0"]["seeds"] == "42"
    assert report.ablation_table({"runs": []}).empty


def test_gain_summary_pairs_seeds_and_gives_a_t_interval():
    g = report.gain_summary(_seed_runs())
    assert list(g["dataset"]) == ["d1", "d2", "mean of 2 sets"]
    row = g.iloc[0]
    # paired gains 5, 6, 4: mean 5, sd 1, t(2) = 4.303 -> half-width 4.303 / sqrt(3)
    assert math.isclose(row.gain, 5.0) and math.isclose(row.gain_sd, 1.0)
    assert math.isclose(row.low, 5.0 - 4.303 / math.sqrt(3)) and math.isclose(row.high, 5.0 + 4.303 / math.sqrt(3))
    assert row.seeds == "42, 43, 44" and row.positive == "3 of 3"
    assert report.gain_direction(row.to_dict()) == report.GAIN_SHOWN
    noisy = report.gain_summary(_seed_runs(gains=((42, 60.0, 55.0), (43, 55.0, 58.0))))
    assert report.gain_direction(noisy.iloc[0].to_dict()) == report.GAIN_NOT_SHOWN


def test_paired_gain_summary_gives_each_value_its_own_paired_gain():
    runs = _paired_runs() + _seed_runs(card="roberta-base-squad2-distilled")
    g = report.paired_gain_summary(runs, "train_size")
    assert list(g["value"]) == [1000, 4000] and set(g["dataset"]) == {"d1"}
    small, large = g.iloc[0], g.iloc[1]
    assert small.paired_gains == {42: 3.0, 43: 5.0} and math.isclose(small.gain, 4.0)
    # two seeds: t(1) = 12.706, sd of (3, 5) = sqrt(2)
    assert math.isclose(small.high - small.gain, 12.706 * math.sqrt(2) / math.sqrt(2))
    assert large.paired_gains == pytest.approx({42: 1.0, 43: 1.1}) and math.isclose(large.base, 44.45)
    # the crossed rows stay out of the one-factor tables, whose gain is the seed rows' alone
    assert math.isclose(report.gain_summary(runs).iloc[0].gain, 5.0)
    assert "train_size" not in set(report.ablation_table({"runs": runs})["factor"])
    shown = report.paired_gain_display(g)
    assert list(shown["training questions"]) == [1000, 4000]
    assert list(shown["per-seed gains"]) == ["+3.00, +5.00", "+1.00, +1.10"]
    assert list(shown["verdict"]) == [report.GAIN_NOT_SHOWN, report.GAIN_SHOWN]
    assert report.paired_factors(runs) == ["train_size"]


def test_the_mean_over_sets_weighs_each_set_by_its_questions():
    """A 2,000-question headline and a 150-question sample do not count alike in the mean."""
    runs = _seed_runs()
    for r in runs:
        r["metrics"] = {"total": 2000 if r["dataset"] == "d1" else 150}
    g = report.gain_summary(runs).set_index("dataset")
    label = report.mean_label(2, weighted=True)
    assert label in g.index and "mean of 2 sets" not in g.index
    expected = (2000 * g.loc["d1", "gain"] + 150 * g.loc["d2", "gain"]) / 2150
    assert math.isclose(g.loc[label, "gain"], expected)
    expected_base = (2000 * g.loc["d1", "base"] + 150 * g.loc["d2", "base"]) / 2150
    assert math.isclose(g.loc[label, "base"], expected_base)


def test_the_paired_headline_names_each_values_seeds_when_they_differ():
    runs = _paired_runs()
    extra = [dict(r, seed=45) for r in runs if r["value"] == 4000]
    lines = report.paired_headline(report.paired_gains(runs + extra), "d1")
    assert lines and "seeds 42, 43)" in lines[0] and "seeds 42, 43, 45)" in lines[0] and not lines[0].split(":")[0].endswith(")")
    same = report.paired_headline(report.paired_gains(runs), "d1")
    assert "(seeds " in same[0].split(":")[0]
