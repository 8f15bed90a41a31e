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


# Each value of the issue that passed the strict check and failed later (or ran silently),
# with a fragment of the one-line error it now gets at load time.
BAD_VALUES = [
    ("learning_rate=-1", "'learning_rate': -1.0 must be > 0"),
    ("learning_rate=.nan", "'learning_rate': expected a finite number, got nan"),
    ("weight_decay=-0.1", "'weight_decay': -0.1 must be >= 0"),
    ("adam_betas=[2, 3]", "'adam_betas': [2.0, 3.0] must be < 1 (each item)"),
    ("adam_epsilon=0", "'adam_epsilon': 0.0 must be > 0"),
    ("doc_stride=0", "'doc_stride': 0 (the step between windows, stride_mode haystack) must be in [1, 316]"),
    ("doc_stride=400", "'doc_stride': 400"),
    ("max_seq_len=8", "'max_seq_len': 8 must exceed max_query_length (64) + 4 special tokens"),
    ("max_query_length=0", "'max_query_length': 0 must be >= 1"),
    ("temperature=.nan", "'temperature': expected a finite number, got nan"),
    ("temperature=.inf", "'temperature': expected a finite number, got inf"),
    ("max_grad_norm=-1", "'max_grad_norm': -1.0 must be >= 0"),
    ("checkpoint_every=-1", "'checkpoint_every': -1 must be >= 0"),
    ("log_every=0", "'log_every': 0 must be >= 1"),
    ("seed=-1", "'seed': -1 must be >= 0"),
    ("name=../../../x", "'name': '../../../x' must be one path segment"),
    ("name=..", "'name': '..' must be one path segment"),
    ("name=a/b", "'name': 'a/b' must be one path segment"),
    ("name=''", "'name': '' must be one path segment"),
]


@pytest.mark.parametrize("override, message", BAD_VALUES)
def test_bad_values_are_one_line_errors_at_load_time(override, message):
    with pytest.raises(ConfigError) as err:
        load_distill_config("roberta-base-squad2-distilled", [override])
    text = str(err.value)
    assert message in text and "\n" not in text and "roberta-base-squad2-distilled.yaml" in text, text


def test_hf_overlap_must_leave_the_windows_a_step():
    load_distill_config("roberta-base-squad2-distilled", ["stride_mode=hf", "doc_stride=0"])  # no overlap: fine
    with pytest.raises(ConfigError, match=r"'doc_stride': 316 \(the overlap between windows, stride_mode hf\) must be < 316"):
        load_distill_config("roberta-base-squad2-distilled", ["stride_mode=hf", "doc_stride=316"])


def test_direct_construction_is_checked_too():
    with pytest.raises(ConfigError, match="'learning_rate': -1 must be > 0"):
        DistillConfig(name="x", student="s", learning_rate=-1)
    with pytest.raises(ConfigError, match="must be one path segment"):
        DistillConfig(name="../x", student="s")


def test_distill_command_stops_on_a_bad_value_before_any_folder(tmp_path, capsys, monkeypatch):
    from qarepro import distill, paths  # noqa: E401  (distill imports the training stack; only this test runs it)

    monkeypatch.setenv(paths.OUTPUTS_ENV, str(tmp_path / "outputs"))
    assert distill.main(["--config", "roberta-base-squad2-distilled", "name=../../../escaped"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be one path segment" in err and "Traceback" not in err
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "escaped").exists()
