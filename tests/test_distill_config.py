"""qarepro.distill_config: the strict run config, the cards' configs, the batch plan."""

from __future__ import annotations

import pytest

from qarepro import config as qconfig
from qarepro.config import ConfigError
from qarepro.distill_config import DistillConfig, DistillError, batch_plan, load_distill_config


CARD = {
    "roberta-base-squad2-distilled": dict(
        teacher="deepset/roberta-large-squad2", student="FacebookAI/roberta-base", batch_size=80, epochs=4,
        temperature=1.5, distillation_loss_weight=0.75),
    "bert-medium-squad2-distilled": dict(
        teacher="deepset/bert-large-uncased-whole-word-masking-squad2", student="prajjwal1/bert-medium",
        batch_size=6, epochs=2, temperature=5.0, distillation_loss_weight=1.0),
}


@pytest.mark.parametrize("card", sorted(CARD))
def test_card_configs_follow_reference(card):
    cfg = load_distill_config(card)  # a bare name resolves to configs/<name>.yaml
    for key, value in CARD[card].items():
        assert getattr(cfg, key) == value, key
    assert cfg.name == card and cfg.student_init == "pretrained" and cfg.train_data == "squad_v2-train"
    assert (cfg.max_seq_len, cfg.doc_stride, cfg.stride_mode, cfg.max_query_length) == (384, 128, "haystack", 64)
    assert (cfg.learning_rate, cfg.warmup_proportion, cfg.weight_decay) == (3e-5, 0.2, 0.01)
    assert (cfg.correct_bias, cfg.max_grad_norm, cfg.seed, cfg.embeds_dropout_prob) == (False, 1.0, 42, 0.1)
    assert cfg.loss_variant == "haystack" and cfg.teacher_logits == "cached" and cfg.teacher_logits_dtype == "float32"
    assert cfg.teacher_precision == "fp32"
    assert cfg.teacher_revision
    # Haystack v1 source (REFERENCE §6): fp32, the learnable logit divisor, its labelling rule
    assert cfg.precision == "fp32" and cfg.tf32 is False
    assert cfg.learnable_logit_divisor is True and cfg.label_mode == "haystack"


def test_config_is_strict_and_overridable(tmp_path):
    cfg = load_distill_config("bert-medium-squad2-distilled", ["epochs=3", "temperature=2", "student_layers=[0, 3]"])
    assert cfg.epochs == 3 and cfg.temperature == 2.0 and isinstance(cfg.temperature, float)
    assert load_distill_config("bert-medium-squad2-distilled", {"precision": "fp32"}).precision == "fp32"
    with pytest.raises(ConfigError, match="unknown key.*'epoch'"):
        load_distill_config("bert-medium-squad2-distilled", ["epoch=3"])
    with pytest.raises(ConfigError, match="'batch_size': expected an integer"):
        load_distill_config("bert-medium-squad2-distilled", ["batch_size=six"])
    with pytest.raises(ConfigError, match="'loss_variant': 'kd' is not one of"):
        load_distill_config("bert-medium-squad2-distilled", ["loss_variant=kd"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstudent: s\nlearning_rat: 1.0e-5\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*unknown key\(s\) 'learning_rat'"):
        load_distill_config(bad)
    with pytest.raises(ConfigError, match="teacher is null"):
        load_distill_config("bert-medium-squad2-distilled", ["teacher=null"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_distill_config("no-such-card")


def test_batch_plan_errors():
    cfg = qconfig.from_mapping(DistillConfig, {"name": "x", "student": "s", "batch_size": 6})
    assert batch_plan(cfg, 1) == (6, 1) and batch_plan(cfg, 2) == (3, 1)
    with pytest.raises(DistillError, match="not a multiple"):
        batch_plan(cfg, 4)
    cfg.per_device_batch_size = 1
    assert batch_plan(cfg, 2) == (1, 3)
