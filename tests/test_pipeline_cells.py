"""qarepro.pipeline.cells: a committed grid cell is reused exactly when its identity matches, and
trained again when any part of it changes; the teacher's target entropy."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from qarepro import io as qio
from qarepro import paths, pipeline, provenance
from qarepro.evaluate import QUESTION_SCORES
from qarepro.pipeline import cells, steps

CARD = "roberta-base-squad2-distilled"


@pytest.fixture
def grid(monkeypatch):
    """A smoke-profile stage with recorded 01-03 results, and a trainer / scorer that only count calls."""
    prof = pipeline.load_profile("smoke")
    stage = pipeline.Stage("05_ablations", prof)
    datasets = prof.ablation.datasets or [prof.primary_dataset]
    prep = {"datasets": {k: {"fingerprint": f"fp-{k}"} for k in {*prof.datasets(), *datasets}}}
    qio.write_json(pipeline.target(prof.name, "01_data_prep"), prep)
    qio.write_json(pipeline.target(prof.name, "02_teachers"),
                   {"teachers": {c: {"teacher": "outputs/runs/smoke/teacher-x/model", "teacher_fingerprint": "t1"}
                                 for c in prof.plans}})
    for c in prof.plans:
        qio.write_json(pipeline.target(prof.name, "03_distill", c), {"config_hash": "none", "model": "nowhere"})
    calls = {"train": 0, "evaluate": 0}
    teacher_fp = {"value": "t1"}

    def fake_train(cfg):
        calls["train"] += 1
        return paths.outputs() / "runs" / "fake" / "model"

    def fake_evaluate(stage, label, model, datasets, *, decoder=None, out_dir=None, reuse=True):
        calls["evaluate"] += 1
        summary = {"results": {ds: {"metrics": {"exact": 1.0, "f1": 2.0}} for ds in datasets}}
        qio.write_json(out_dir / "metrics.json", summary)
        for ds in datasets:  # the per-question scores a real scoring writes beside its metrics
            (out_dir / ds).mkdir(parents=True, exist_ok=True)
            (out_dir / ds / QUESTION_SCORES).write_bytes(b"scores")
        return summary

    monkeypatch.setattr(steps, "train_or_reuse", fake_train)
    monkeypatch.setattr(steps, "evaluate_or_reuse", fake_evaluate)
    monkeypatch.setattr(steps, "train_metrics", lambda model: {"global_step": 3})
    monkeypatch.setattr(cells, "teacher_record", lambda *a: {"fingerprint": teacher_fp["value"]})
    monkeypatch.setattr(cells, "ensure_teacher", lambda *a: "teacher")
    monkeypatch.setattr(cells, "cell_target_entropy", lambda cfg: 1.5)
    monkeypatch.setattr(cells, "teacher_train_f1", lambda *a: 60.0)
    return stage, datasets, calls, teacher_fp


def _row(arm: str, seed: int = 42):
    over = {"seed": seed, **(pipeline.NO_DISTILLATION if arm == "baseline" else {})}
    return {"card": CARD, "factor": "train_size", "value": 40, "seed": seed, "arm": arm, "decoder": "hf",
            "center": False, "overrides": over, "teacher_variant": "finetuned"}


def test_a_cell_with_the_same_identity_is_reused_without_training(grid):
    stage, datasets, calls, _ = grid
    first = steps.run_cell(stage, _row("distilled"), datasets)
    assert calls == {"train": 1, "evaluate": 1} and not first["reused"]
    assert first["teacher_facts"] == {"teacher_entropy": 1.5, "teacher_train_f1": 60.0}
    again = steps.run_cell(stage, _row("distilled"), datasets)
    assert calls == {"train": 1, "evaluate": 1} and again["reused"]
    assert again["summary"] == first["summary"] and again["teacher_facts"] == first["teacher_facts"]


@pytest.mark.parametrize("change", ["train_data", "eval_data", "eval_settings", "teacher", "packages", "run"])
def test_a_cell_is_trained_again_when_any_part_of_its_identity_changes(grid, monkeypatch, change):
    stage, datasets, calls, teacher_fp = grid
    steps.run_cell(stage, _row("distilled"), datasets)
    assert calls["train"] == 1
    prof = stage.profile
    if change in ("train_data", "eval_data"):
        key = prof.train_datasets()[0] if change == "train_data" else datasets[0]
        prep_file = pipeline.target(prof.name, "01_data_prep")
        prep = qio.read_json(prep_file)
        prep["datasets"][key]["fingerprint"] = "changed"
        qio.write_json(prep_file, prep)
    elif change == "eval_settings":
        stage = dataclasses.replace(stage, profile=dataclasses.replace(prof, eval_batch_size=prof.eval_batch_size + 1))
    elif change == "teacher":
        teacher_fp["value"] = "t2"
    elif change == "packages":
        real = provenance.package_versions()
        monkeypatch.setattr(provenance, "package_versions", lambda: {**real, "torch": "0.0-other"})
    else:  # the run's config: a new folder, so nothing to reuse
        stage = dataclasses.replace(stage, profile=dataclasses.replace(
            prof, cards={**prof.cards, CARD: dataclasses.replace(prof.plans[CARD], overrides={
                **prof.plans[CARD].overrides, "learning_rate": 1e-3})}))
    result = steps.run_cell(stage, _row("distilled"), datasets)
    assert calls["train"] == 2 and not result["reused"]


def test_a_baseline_cell_does_not_depend_on_the_teacher(grid):
    stage, datasets, calls, teacher_fp = grid
    steps.run_cell(stage, _row("baseline"), datasets)
    teacher_fp["value"] = "t2"
    assert steps.run_cell(stage, _row("baseline"), datasets)["reused"] and calls["train"] == 1


def test_a_cell_without_its_per_question_scores_is_built_again(grid):
    # a committed cell whose questions file was lost serves no paired analysis: it is not reused
    stage, datasets, calls, _ = grid
    first = steps.run_cell(stage, _row("baseline"), datasets)
    (Path(first["eval_dir"]) / datasets[0] / QUESTION_SCORES).unlink()
    again = steps.run_cell(stage, _row("baseline"), datasets)
    assert not again["reused"] and calls == {"train": 2, "evaluate": 2}
    assert steps.run_cell(stage, _row("baseline"), datasets)["reused"]


def test_identity_diff_names_what_changed():
    a = {"run": "1", "packages": {"torch": "2"}, "teacher_fingerprint": "x"}
    assert cells.identity_diff(a, {**a, "packages": {"torch": "3"}}) == ["packages"]
    assert cells.identity_diff(a, a) == []


def test_target_entropy_is_that_of_the_tempered_softmax():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 2, 7)).astype(np.float32)
    t = 1.5
    p = np.exp(logits / t) / np.exp(logits / t).sum(axis=-1, keepdims=True)
    want = float((-(p * np.log(p)).sum(axis=-1)).mean())
    assert cells.target_entropy(logits, t, chunk=2) == pytest.approx(want, rel=1e-6)
    # a uniform target has the largest entropy, log(seq); a sharp one almost none
    assert cells.target_entropy(np.zeros((2, 2, 7)), 1.0) == pytest.approx(math.log(7))
    sharp = np.zeros((1, 2, 7))
    sharp[..., 3] = 100.0
    assert cells.target_entropy(sharp, 1.0) < 1e-6


def test_every_committed_cell_holds_its_per_question_scores():
    # what the repo ships: a cell is committed with the scores of every set it was scored on
    committed = sorted((paths.ROOT / "outputs").glob("*/ablations/*/*/" + cells.CELL_FILE))
    missing = [f"{f.parent.relative_to(paths.ROOT)}/{ds}" for f in committed
               for ds in qio.read_json(f)["identity"]["eval_data"]
               if not (f.parent / ds / QUESTION_SCORES).is_file()]
    assert committed and missing == []


def test_the_teachers_of_the_teacher_factor_are_scored_once_on_the_headline_sets(grid, monkeypatch):
    stage, datasets, calls, _ = grid
    prof = stage.profile
    ablation = dataclasses.replace(prof.ablation, teacher=["finetuned", "card-optimiser"], paired_cards=[CARD])
    stage = dataclasses.replace(stage, profile=dataclasses.replace(prof, ablations=ablation))
    scored = []

    def fake_evaluate(stage, label, model, sets, *, out_dir=None, **kw):
        scored.append((label, tuple(sets)))
        summary = {"results": {ds: {"metrics": {"f1": 40.0 if "card" in label else 50.0}} for ds in sets}}
        qio.write_json(out_dir / "metrics.json", summary)
        return summary

    assert cells.teacher_scores(stage, score=False) == []  # nothing recorded yet: nothing scored either
    monkeypatch.setattr(cells, "evaluate_or_reuse", fake_evaluate)
    got = cells.teacher_scores(stage)
    assert scored == [("teacher-finetuned", tuple(datasets)), ("teacher-card-optimiser", tuple(datasets))]
    assert {(r["teacher"], r["dataset"], r["f1"]) for r in got} == (
        {("finetuned", ds, 50.0) for ds in datasets} | {("card-optimiser", ds, 40.0) for ds in datasets})
    assert (cells.teacher_folder(stage, CARD, "card-optimiser") / cells.HEADLINE / "metrics.json").is_file()
    assert cells.teacher_scores(stage, score=False) == got  # read back from the teachers' records
