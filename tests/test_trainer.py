"""qarepro.trainer: training runs on a tiny pair (teacher run once, gradient accumulation, online
teacher, non-finite loss, the learnable logit divisor, Haystack labels).

The multi-process and kill/resume runs are in test_distill_runs.py."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
import yaml

from qarepro import paths, trainer
from qarepro import teacher as qteacher
from qarepro.distill_config import DistillError, NonFiniteLossError, complete_checkpoints, load_distill_config

from distill_helpers import CountingTeacher, assert_same_params, load_params, tiny_config
from distill_helpers import one_thread, pair  # noqa: F401  (fixtures)


def test_training_runs_teacher_once_and_writes_a_model(pair, monkeypatch):
    counter = CountingTeacher(monkeypatch)
    cfg = tiny_config(pair, epochs=3, checkpoint_every=40)
    model_dir = trainer.train(cfg)
    n_features = json.loads((model_dir / "train_metrics.json").read_text())["features"]
    assert counter.calls == math.ceil(n_features / cfg.teacher_batch_size)  # once, not once per epoch

    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(model_dir)
    assert model.config.num_hidden_layers == 2
    assert AutoTokenizer.from_pretrained(model_dir).get_vocab() == AutoTokenizer.from_pretrained(pair["student"]).get_vocab()
    assert load_distill_config(model_dir / "config.yaml") == cfg
    metrics = json.loads((model_dir / "train_metrics.json").read_text())
    assert metrics["global_step"] == 3 * math.ceil(n_features / 4) and metrics["teacher_cache"]
    run = paths.runs() / "tiny"
    log_text = (run / "train.log").read_text()
    assert "samples_per_second" in log_text and '"loss"' in log_text
    card = (model_dir / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["model-index"][0]["results"][0]["metrics"][0]["value"] is None

    # a second run reuses the cache; an existing run folder needs --resume or overwrite
    with pytest.raises(DistillError, match="already has checkpoints"):
        trainer.train(cfg)
    trainer.train(tiny_config(pair, epochs=1, overwrite=True))
    assert counter.calls == math.ceil(n_features / cfg.teacher_batch_size)


def test_plain_fine_tuning_needs_no_teacher(pair, monkeypatch):
    def no_teacher(cfg):
        raise AssertionError("the teacher must not be loaded")

    monkeypatch.setattr(qteacher, "load_teacher", no_teacher)
    monkeypatch.setattr(trainer, "load_teacher", no_teacher)
    cfg = tiny_config(pair, teacher=None, distillation_loss_weight=0.0, max_steps=3, name="base")
    model_dir = trainer.train(cfg)
    assert (model_dir / "model.safetensors").is_file()
    assert "fine-tuned on the hard labels only" in (model_dir / "README.md").read_text()
    assert not paths.teacher_cache().exists() or not any(paths.teacher_cache().iterdir())


def test_gradient_accumulation_matches_full_batch(pair):
    """Global batch 4 as one micro-batch or as 2 x 2 accumulated: same parameters (dropout off)."""
    common = dict(model_dropout=0.0, embeds_dropout_prob=0.0, max_steps=4)
    a = trainer.train(tiny_config(pair, name="full", **common))
    b = trainer.train(tiny_config(pair, name="accum", per_device_batch_size=2, **common))
    assert json.loads((b / "train_metrics.json").read_text())["gradient_accumulation_steps"] == 2
    diffs = assert_same_params(load_params(a), load_params(b), atol=1e-6, lr=1e-3, steps=4)
    print("max |diff|", max(diffs.values()))


def test_student_from_teacher_layers_trains(pair):
    cfg = tiny_config(pair, name="layers", student=None, student_init="teacher_layers", student_layers=[1, 3],
                      max_steps=2)
    model_dir = trainer.train(cfg)
    from transformers import AutoModelForQuestionAnswering

    assert AutoModelForQuestionAnswering.from_pretrained(model_dir).config.num_hidden_layers == 2


def test_online_teacher_gives_same_result_as_cache(pair):
    common = dict(model_dropout=0.0, embeds_dropout_prob=0.0, max_steps=3)
    a = load_params(trainer.train(tiny_config(pair, name="cached", **common)))
    b = load_params(trainer.train(tiny_config(pair, name="online", teacher_logits="online", **common)))
    assert_same_params(a, b, atol=1e-6, lr=1e-3, steps=3)


def test_non_finite_loss_stops_with_step_and_keeps_last_checkpoint(pair, monkeypatch):
    calls = {"n": 0}
    real = trainer.distillation_loss

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(trainer, "distillation_loss", poisoned)
    cfg = tiny_config(pair, name="nan", checkpoint_every=2, max_steps=8)
    with pytest.raises(NonFiniteLossError, match="at step 5 .*checkpoint-4"):
        trainer.train(cfg)
    run = paths.runs() / "nan"
    assert [p.name for p in complete_checkpoints(run / "checkpoints")] == ["checkpoint-2", "checkpoint-4"]
    assert not (run / "model").exists()


def test_logit_divisor_is_trained_recorded_and_not_exported(pair):
    from safetensors.torch import load_file

    cfg = tiny_config(pair, name="divisor", learnable_logit_divisor=True, max_steps=4, checkpoint_every=2)
    model_dir = trainer.train(cfg)
    metrics = json.loads((model_dir / "train_metrics.json").read_text())
    assert metrics["learnable_logit_divisor"] is True
    assert isinstance(metrics["logit_divisor"], float) and metrics["logit_divisor"] != 1.0  # it was trained
    exported = load_params(model_dir)
    assert not [k for k in exported if "temperature" in k]  # Haystack's conversion drops it as well
    from transformers import AutoModelForQuestionAnswering

    AutoModelForQuestionAnswering.from_pretrained(model_dir)  # a plain transformers checkpoint
    ckpt = complete_checkpoints(model_dir.parent / "checkpoints")[-1]
    saved = load_file(str(ckpt / "model.safetensors"))
    assert saved["temperature_for_confidence"].item() == pytest.approx(metrics["logit_divisor"], abs=0)
    # without the option nothing changes: no divisor anywhere
    plain = trainer.train(tiny_config(pair, name="no-divisor", max_steps=2))
    assert json.loads((plain / "train_metrics.json").read_text())["logit_divisor"] is None


def test_resume_with_logit_divisor_is_exact(pair):
    """The divisor lives in the Trainer checkpoint, so a resumed run ends where an uninterrupted one does."""
    common = dict(learnable_logit_divisor=True, max_steps=6, checkpoint_every=3, keep_checkpoints=None,
                  model_dropout=0.0, embeds_dropout_prob=0.0)
    ref = trainer.train(tiny_config(pair, name="div-ref", **common))
    cut = trainer.train(tiny_config(pair, name="div-cut", **common))
    run = cut.parent
    shutil.rmtree(run / "checkpoints" / "checkpoint-6")
    shutil.rmtree(cut)
    resumed = trainer.train(tiny_config(pair, name="div-cut", **common), resume=True)
    m_ref = json.loads((ref / "train_metrics.json").read_text())
    m_res = json.loads((resumed / "train_metrics.json").read_text())
    assert m_res["resumed_from"].endswith("checkpoint-3")
    assert m_res["logit_divisor"] == m_ref["logit_divisor"] != 1.0
    a, b = load_params(ref), load_params(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_haystack_label_mode_trains_and_records_its_counts(pair):
    model_dir = trainer.train(tiny_config(pair, name="hs-labels", label_mode="haystack", max_steps=2))
    labels = json.loads((model_dir / "train_metrics.json").read_text())["labels"]
    assert labels["label_mode"] == "haystack" and labels["questions"] == 24
    assert {"features_end_on_special_token", "questions_dropped", "features_relabelled"} <= set(labels)


def test_progress_bar_shows_no_loss_until_one_is_logged():
    from types import SimpleNamespace  # a stand-in for the Trainer's state, only here)

    progress = trainer.Progress("run", global_batch=4)
    state = SimpleNamespace(global_step=0, max_steps=10, is_world_process_zero=True, epoch=0.0)
    progress.on_train_begin(None, state, None)
    try:
        state.global_step = 1
        progress.on_step_end(None, state, None)
        assert "loss" not in progress.bar.postfix and "nan" not in progress.bar.postfix
        progress.on_log(None, state, None, logs={"loss": 1.25})
        state.global_step = 2
        progress.on_step_end(None, state, None)
        assert "loss=1.2500" in progress.bar.postfix
    finally:
        progress.on_train_end(None, state, None)
