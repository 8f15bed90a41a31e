"""Precision: what the card configs and the full profile resolve to on any device, and the knobs."""

from __future__ import annotations

import pytest
import torch

from qarepro import paths, pipeline, precision
from qarepro.config import ConfigError
from qarepro.distill import DistillError, load_distill_config, resolve_precision
from qarepro.precision import DeviceInfo, PrecisionError

CARDS = ["roberta-base-squad2-distilled", "bert-medium-squad2-distilled"]
DEVICES = {
    "cpu": DeviceInfo("cpu"),
    "cpu-with-bf16": DeviceInfo("cpu", bf16=True),
    "V100 (no bf16)": DeviceInfo("cuda", bf16=False, name="Tesla V100"),
    "A100 (bf16)": DeviceInfo("cuda", bf16=True, name="NVIDIA A100"),
}


@pytest.mark.parametrize("device", sorted(DEVICES))
@pytest.mark.parametrize("card", CARDS)
def test_card_configs_train_and_cache_in_fp32_on_every_device(card, device):
    cfg = load_distill_config(card)
    info = DEVICES[device]
    assert resolve_precision(cfg.precision, info) == "fp32"  # student training
    assert precision.resolve(cfg.teacher_precision, info) == "fp32"  # teacher-logit cache
    assert cfg.tf32 is False and cfg.teacher_logits_dtype == "float32"


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_full_profile_scores_in_fp32_and_ablates_bf16(device):
    prof = pipeline.load_profile("full")
    assert precision.resolve(prof.precision, DEVICES[device]) == "fp32"
    assert prof.ablation.precision == ["fp32", "bf16"]


def test_auto_and_named_precisions():
    """The knob still works (so the fp32 tests above can fail): auto is mixed precision on a GPU."""
    assert precision.resolve("auto", DEVICES["A100 (bf16)"]) == "bf16"
    assert precision.resolve("auto", DEVICES["V100 (no bf16)"]) == "fp16"
    assert precision.resolve("auto", DEVICES["cpu"]) == "fp32"
    assert precision.resolve("bf16", DEVICES["cpu"]) == "bf16"  # CPU autocast
    with pytest.raises(PrecisionError, match="needs a GPU"):
        precision.resolve("fp16", DEVICES["cpu"])
    with pytest.raises(DistillError, match="needs a GPU"):
        resolve_precision("fp16", DEVICES["cpu"])
    with pytest.raises(PrecisionError):
        precision.resolve("fp8", DEVICES["cpu"])
    # a card config asked for bf16 gets bf16
    assert resolve_precision(load_distill_config(CARDS[0], ["precision=bf16"]).precision, DEVICES["A100 (bf16)"]) == "bf16"


def test_bf16_autocast_on_cpu_and_fp32_is_a_no_op():
    x, w = torch.randn(4, 8), torch.randn(8, 3)
    with precision.autocast("cpu", "bf16"):
        assert (x @ w).dtype == torch.bfloat16
    with precision.autocast("cpu", "fp32"):
        assert (x @ w).dtype == torch.float32


def test_fp32_matmul_switches_tf32_off_and_restores():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        precision.set_tf32(True)
        with precision.fp32_matmul():
            assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False
        assert torch.backends.cuda.matmul.allow_tf32 is True
        with precision.fp32_matmul(allow_tf32=True):
            assert torch.backends.cuda.matmul.allow_tf32 is True
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_precision_ablation_values_are_validated(tmp_path):
    import yaml

    raw = yaml.safe_load((paths.PROFILES / "smoke.yaml").read_text())
    raw["ablations"]["precision"] = ["fp32", "tf32"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="ablations.precision"):
        pipeline.load_profile(bad)
