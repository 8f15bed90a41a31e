"""qarepro.report.evidence: per-cell gains from per-question records, their intervals and the answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qarepro import evaluate, report, stats

DS = "squad-validation"
IDS = [f"q{i}" for i in range(40)]


def _cell(tmp_path, name, f1):
    folder = tmp_path / name
    frame = pd.DataFrame({"id": IDS, "exact": (np.asarray(f1) > 0.5).astype(int), "f1": f1, "na_prob": 0.0})
    evaluate.write_question_scores(frame, folder / DS / evaluate.QUESTION_SCORES)
    return str(folder)


def _runs(tmp_path, gain_by_size, factor="train_size", card="c", noise=0.05):
    rng = np.random.default_rng(1)
    rows = []
    for value, gain in gain_by_size.items():
        for seed in (42, 43, 44):
            base = rng.uniform(0.2, 0.6, size=len(IDS))
            for arm, f1 in (("baseline", base), ("distilled", np.clip(base + gain / 100 + rng.normal(0, noise, len(IDS)), 0, 1))):
                rows.append({"card": card, "factor": factor, "value": value, "seed": seed, "arm": arm, "dataset": DS,
                             "f1": 100 * f1.mean(), "eval_dir": _cell(tmp_path, f"{card}-{factor}-{value}-{seed}-{arm}", f1),
                             "teacher_entropy": 2.0 if arm == "distilled" else None,
                             "teacher_train_f1": 70.0 if arm == "distilled" else None})
    return pd.DataFrame(rows)


def test_the_cell_gain_is_the_mean_per_question_difference_with_both_intervals(tmp_path):
    runs = _runs(tmp_path, {500: 4.0, 1000: 4.0})
    table = report.evidence_table(runs, DS)
    assert list(table["value"]) == [500, 1000] and (table["seeds"] == 3).all() and (table["questions"] == 40).all()
    cells = report.evidence.cell_matrices(runs, DS)
    d = cells[("c", "train_size", 500)]["diffs"]
    row = table.iloc[0]
    assert row["gain"] == pytest.approx(d.mean())
    t = stats.seed_t_interval(d.mean(axis=1))
    assert (row["seed t low"], row["seed t high"]) == (pytest.approx(t.low), pytest.approx(t.high))
    assert row["bootstrap low"] < row["gain"] < row["bootstrap high"]
    assert row["teacher target entropy (nats)"] == 2.0 and row["teacher training-set F1"] == 70.0
    # the paired difference of the means of both students is the cell's gain
    assert row["distilled F1"] - row["no distillation F1"] == pytest.approx(row["gain"], abs=1e-3)  # scores kept to 6 digits


def test_both_means_are_over_the_paired_seeds_only(tmp_path):
    """A grid built cell by cell has baselines whose distilled twins are not there yet: they are left
    out of the means, so that the two means differ by the paired gain."""
    runs = _runs(tmp_path, {500: 4.0})
    partial = runs[~((runs["seed"] != 42) & (runs["arm"] == "distilled"))]  # seeds 43, 44: baseline only
    (row,) = report.evidence_table(partial, DS).to_dict(orient="records")
    assert row["seeds"] == 1
    at_42 = runs[runs["seed"] == 42].set_index("arm")["f1"]
    assert row["no distillation F1"] == pytest.approx(at_42["baseline"])
    assert row["distilled F1"] - row["no distillation F1"] == pytest.approx(row["gain"], abs=1e-3)
    assert "1 seed)" in " ".join(report.answer(report.evidence_table(partial, DS), pd.DataFrame(), DS))


def test_a_growing_gain_is_found_by_the_trend_and_said(tmp_path):
    runs = _runs(tmp_path, {500: 0.0, 1000: 5.0, 2000: 10.0}, noise=0.01)
    trend = report.trend_table(runs, DS)
    (r,) = trend.to_dict(orient="records")
    assert r["slope_t_estimate"] == pytest.approx(5.0, abs=0.5) and r["slope_boot_low"] > 0
    text = " ".join(report.answer(report.evidence_table(runs, DS), trend, DS))
    assert "it grows with data" in text and "500 questions" in text and "2,000 questions" in text


def test_runs_without_records_give_an_empty_table():
    old = pd.DataFrame([{"card": "c", "factor": "train_size", "value": 500, "seed": 42, "arm": "distilled",
                         "dataset": DS, "f1": 10.0}])
    assert report.evidence_table(old, DS).empty and report.trend_table(old, DS).empty


def _teacher_runs(tmp_path, gains, noise, entropy=3.0):
    """The teacher factor as the grid builds it: per seed one baseline, shared by both teachers' cells."""
    rng = np.random.default_rng(2)
    rows = []
    for seed in (42, 43, 44):
        base = rng.uniform(0.2, 0.6, size=len(IDS))
        base_dir = _cell(tmp_path, f"baseline-{seed}", base)
        for value, gain in gains.items():
            f1 = np.clip(base + gain / 100 + rng.normal(0, noise, len(IDS)), 0, 1)
            common = {"card": "c", "factor": "teacher", "value": value, "seed": seed, "dataset": DS}
            rows += [{**common, "arm": "baseline", "f1": 100 * base.mean(), "eval_dir": base_dir,
                      "teacher_entropy": None, "teacher_train_f1": None},
                     {**common, "arm": "distilled", "f1": 100 * f1.mean(),
                      "eval_dir": _cell(tmp_path, f"{value}-{seed}", f1),
                      "teacher_entropy": 2.0 if value == "finetuned" else entropy,
                      "teacher_train_f1": 70.0 if value == "finetuned" else 40.0}]
    return pd.DataFrame(rows)


def test_the_teacher_effect_is_the_paired_difference_of_the_two_distilled_students(tmp_path):
    runs = _teacher_runs(tmp_path, {"finetuned": 0.5, "card-optimiser": 8.0}, noise=0.01)
    (r,) = report.teacher_effect(runs, DS).to_dict(orient="records")
    table = report.evidence_table(runs, DS).set_index("value")
    assert r["difference"] == pytest.approx(table.loc["card-optimiser", "gain"] - table.loc["finetuned", "gain"])
    # the shared baseline cancels: per question, one distilled student minus the other
    cells = report.evidence.cell_matrices(runs, DS)
    other, own = cells[("c", "teacher", "card-optimiser")]["diffs"], cells[("c", "teacher", "finetuned")]["diffs"]
    per_seed = (other - own).mean(axis=1)
    t = stats.seed_t_interval(per_seed)
    assert (r["seed t low"], r["seed t high"]) == (pytest.approx(t.low), pytest.approx(t.high))
    assert r["bootstrap low"] < r["difference"] < r["bootstrap high"] and r["seeds"] == 3


@pytest.mark.parametrize("gains, entropy, said", [
    ({"finetuned": 0.5, "card-optimiser": 8.0}, 3.0, "supports the soft-target hypothesis"),  # softer other wins
    ({"finetuned": 8.0, "card-optimiser": 0.5}, 1.0, "supports the soft-target hypothesis"),  # softer own wins
    ({"finetuned": 0.5, "card-optimiser": 8.0}, 1.0, "contradicts the soft-target hypothesis"),  # sharper other wins
    ({"finetuned": 8.0, "card-optimiser": 0.5}, 3.0, "contradicts the soft-target hypothesis"),  # sharper own wins
    ({"finetuned": 8.0, "card-optimiser": 0.5}, 2.05, "cannot tell them apart"),  # entropies within ENTROPY_TIE
])
def test_the_teacher_finding_names_the_hypothesis_the_numbers_support(tmp_path, gains, entropy, said):
    runs = _teacher_runs(tmp_path, gains, noise=0.01, entropy=entropy)  # the own teacher's entropy: 2.0
    (line,) = report.teacher_finding(report.teacher_effect(runs, DS))
    assert said in line and "excludes zero" in line
    winner = "the card-optimiser teacher" if gains["card-optimiser"] > gains["finetuned"] else "the profile's teacher"
    assert f"{winner[0].upper()}{winner[1:]} gives the larger gain" in line


def test_the_teacher_finding_says_which_teacher_is_stronger_on_the_set(tmp_path):
    runs = _teacher_runs(tmp_path, {"finetuned": 8.0, "card-optimiser": 0.5}, noise=0.01)
    teachers = [{"card": "c", "teacher": "finetuned", "dataset": DS, "f1": 51.07},
                {"card": "c", "teacher": "card-optimiser", "dataset": DS, "f1": 44.5}]
    (line,) = report.teacher_finding(report.teacher_effect(runs, DS, teachers=teachers))
    assert "it is also the stronger teacher on this set (F1 51.1 against 44.5)" in line


def test_an_unresolved_teacher_difference_supports_neither_and_the_teachers_scores_are_shown(tmp_path):
    same = _teacher_runs(tmp_path, {"finetuned": 2.0, "card-optimiser": 2.0}, noise=0.3)
    teachers = [{"card": "c", "teacher": "finetuned", "dataset": DS, "f1": 51.07},
                {"card": "c", "teacher": "card-optimiser", "dataset": DS, "f1": 44.5}]
    effect = report.teacher_effect(same, DS, teachers=teachers)
    (line,) = report.teacher_finding(effect)
    assert "not resolved apart" in line and "F1 51.1 on this set" in line and "F1 44.5 on this set" in line
    assert report.teacher_effect_display(effect).iloc[0]["teacher F1 on this set, profile's / this"] == "51.1 / 44.5"
    text = " ".join(report.answer(report.evidence_table(same, DS), pd.DataFrame(), DS, effect))
    assert "Teacher factor" in text
    (bare,) = report.teacher_finding(report.teacher_effect(same, DS))  # teachers not scored: no such clause
    assert "on this set" not in bare


def test_the_evidence_markdown_holds_every_table(tmp_path):
    runs = pd.concat([_runs(tmp_path / "s", {500: 1.0, 1000: 3.0}),
                      _teacher_runs(tmp_path / "t", {"finetuned": 0.5, "card-optimiser": 8.0}, noise=0.01)])
    parts = report.evidence_markdown(runs, DS)
    assert any("Pooled over sizes" in p for p in parts) and any("Teacher factor" in p for p in parts)
    assert sum(p.lstrip().startswith("|") for p in parts) == 3  # cells, trend, teacher effect
    assert report.evidence_markdown(pd.DataFrame(), DS) == []


def test_question_scores_round_trip_with_the_same_bytes(tmp_path):
    frame = pd.DataFrame({"id": ["001", "a"], "exact": [1, 0], "f1": [1.0, 1 / 3], "na_prob": [0.0, 0.25]})
    a = evaluate.write_question_scores(frame, tmp_path / "a" / evaluate.QUESTION_SCORES)
    b = evaluate.write_question_scores(frame, tmp_path / "b" / evaluate.QUESTION_SCORES)
    assert a.read_bytes() == b.read_bytes()
    back = evaluate.read_question_scores(a)
    assert list(back["id"]) == ["001", "a"] and back["f1"].iloc[1] == pytest.approx(1 / 3, rel=1e-5)


def test_a_cells_interval_does_not_move_when_other_cells_are_added(tmp_path):
    runs = _runs(tmp_path, {500: 4.0, 1000: 4.0})
    alone = report.evidence_table(runs[runs["value"] == 500], DS).iloc[0]
    after_another = report.evidence_table(runs.sort_values("value", ascending=False, kind="stable"), DS)
    beside = after_another[after_another["value"] == 500].iloc[0]
    assert (alone["bootstrap low"], alone["bootstrap high"]) == (beside["bootstrap low"], beside["bootstrap high"])
