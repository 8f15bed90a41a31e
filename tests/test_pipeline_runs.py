"""qarepro.pipeline.runs: run identity, train-or-reuse."""

from __future__ import annotations

import dataclasses

from qarepro import config as qconfig
from qarepro import distill_config, pipeline, trainer


def test_baseline_runs_are_shared_by_cards_with_the_same_student():
    prof = pipeline.load_profile("pocket-cpu")
    stage = pipeline.Stage("05_ablations", prof)
    ids = {}
    for r in pipeline.ablation_plan(stage):
        # weight 0 is no distillation: the same run as the baseline at that seed, whatever T is
        if r["factor"] == pipeline.BASELINE_SEED or (r["factor"] == "weight" and r["value"] == 0):
            cfg = pipeline.card_config(stage, r["card"], teacher="some/teacher", overrides=r["overrides"])
            ids.setdefault(r["seed"], set()).add(pipeline.run_identity(pipeline.config_dict(cfg)))
    assert sorted(ids) == sorted(prof.ablation.seed) and all(len(v) == 1 for v in ids.values())

def test_a_finished_run_is_reused_by_a_config_that_differs_only_in_name(tmp_path, monkeypatch):
    def cfg(name):
        return qconfig.from_mapping(distill_config.DistillConfig, dict(
            name=name, teacher=None, distillation_loss_weight=0.0, student="s", batch_size=2, epochs=1,
            learning_rate=1e-3, temperature=1.0, output_dir=str(tmp_path / "run")))

    model = tmp_path / "run" / "model"
    model.mkdir(parents=True)
    (model / "train_metrics.json").write_text("{}")
    qconfig.dump(cfg("teacher-for-card-a"), model / "config.yaml")
    calls = []
    monkeypatch.setattr(trainer, "train", lambda *a, **k: calls.append(a) or model)
    assert pipeline.train_or_reuse(cfg("teacher-for-card-b")) == model and calls == []
    pipeline.train_or_reuse(dataclasses.replace(cfg("x"), learning_rate=2e-3))  # a real difference: trains
    assert len(calls) == 1


def test_run_identity_ignores_the_keys_that_do_not_change_a_run(tmp_path, monkeypatch):
    stage = pipeline.Stage("03_distill", pipeline.load_profile("smoke"))
    card = next(iter(stage.profile.cards))
    cd = pipeline.config_dict(pipeline.card_config(stage, card, run_name="a"))
    same = {**cd, "name": "other", "log_every": 1, "output_dir": "/elsewhere"}
    assert pipeline.run_identity(cd) == pipeline.run_identity(same)
    assert pipeline.run_identity(cd) != pipeline.run_identity({**cd, "learning_rate": 1.0})


def test_a_baseline_scored_in_one_cards_cell_is_copied_into_the_others(tmp_path, monkeypatch):
    # the no-distillation run is one model for both cards: its second cell is a copy, not a rescoring
    from qarepro import io as qio
    from qarepro.pipeline import runs

    stage = pipeline.Stage("05_ablations", pipeline.load_profile("smoke"), scratch=tmp_path / "results")
    monkeypatch.setattr(runs, "model_fingerprint", lambda model: "dir-sha256:same-weights")
    settings = runs.eval_settings(stage.profile, "hf")
    scored = stage.results / "ablations" / "card-a" / "abc-hf"
    qio.write_json(scored / "metrics.json", {"label": "ablation-card-a-abc-hf", "settings": settings,
                                             "provenance": {"model_fingerprint": "dir-sha256:same-weights"},
                                             "results": {"squad-validation": {"metrics": {"f1": 12.5}}}})
    (scored / "squad-validation").mkdir()
    (scored / "squad-validation" / "questions.csv.gz").write_bytes(b"per-question scores")
    calls = []
    monkeypatch.setattr(runs.qevaluate, "evaluate_model", lambda *a, **k: calls.append(a) or {})
    other = stage.results / "ablations" / "card-b" / "abc-hf"
    out = runs.evaluate_or_reuse(stage, "ablation-card-b-abc-hf", "baseline/model", ["squad-validation"],
                                 decoder="hf", out_dir=other)
    assert calls == [] and out["results"]["squad-validation"]["metrics"]["f1"] == 12.5
    assert (other / "squad-validation" / "questions.csv.gz").read_bytes() == b"per-question scores"
    # other weights are scored, not copied
    monkeypatch.setattr(runs, "model_fingerprint", lambda model: "dir-sha256:other-weights")
    runs.evaluate_or_reuse(stage, "ablation-card-b-def-hf", "distilled/model", ["squad-validation"],
                           decoder="hf", out_dir=stage.results / "ablations" / "card-b" / "def-hf")
    assert len(calls) == 1
