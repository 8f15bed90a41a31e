"""Runtime: device and precision resolution (what the card configs and the full profile resolve to on
any device, and the knobs), and the one batched forward loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qarepro import paths, pipeline, runtime
from qarepro.config import ConfigError
from qarepro.distill_config import DistillError, load_distill_config
from qarepro.runtime import DeviceInfo, PrecisionError
from qarepro.trainer import training_precision

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
    assert training_precision(cfg.precision, info) == "fp32"  # student training
    assert runtime.resolve_precision(cfg.teacher_precision, info) == "fp32"  # teacher-logit cache
    assert cfg.tf32 is False and cfg.teacher_logits_dtype == "float32"


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_full_profile_scores_in_fp32_and_ablates_bf16(device):
    prof = pipeline.load_profile("full")
    assert runtime.resolve_precision(prof.precision, DEVICES[device]) == "fp32"
    assert prof.ablation.precision == ["fp32", "bf16"]


def test_auto_and_named_precisions():
    """The knob still works (so the fp32 tests above can fail): auto is mixed precision on a GPU."""
    assert runtime.resolve_precision("auto", DEVICES["A100 (bf16)"]) == "bf16"
    assert runtime.resolve_precision("auto", DEVICES["V100 (no bf16)"]) == "fp16"
    assert runtime.resolve_precision("auto", DEVICES["cpu"]) == "fp32"
    assert runtime.resolve_precision("bf16", DEVICES["cpu"]) == "bf16"  # CPU autocast
    with pytest.raises(PrecisionError, match="needs a GPU"):
        runtime.resolve_precision("fp16", DEVICES["cpu"])
    with pytest.raises(DistillError, match="needs a GPU"):
        training_precision("fp16", DEVICES["cpu"])
    with pytest.raises(PrecisionError):
        runtime.resolve_precision("fp8", DEVICES["cpu"])
    # a card config asked for bf16 gets bf16
    assert training_precision(load_distill_config(CARDS[0], ["precision=bf16"]).precision, DEVICES["A100 (bf16)"]) == "bf16"


def test_bf16_autocast_on_cpu_and_fp32_is_a_no_op():
    x, w = torch.randn(4, 8), torch.randn(8, 3)
    with runtime.autocast("cpu", "bf16"):
        assert (x @ w).dtype == torch.bfloat16
    with runtime.autocast("cpu", "fp32"):
        assert (x @ w).dtype == torch.float32


def test_fp32_matmul_switches_tf32_off_and_restores():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        runtime.set_tf32(True)
        with runtime.fp32_matmul():
            assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False
        assert torch.backends.cuda.matmul.allow_tf32 is True
        with runtime.fp32_matmul(allow_tf32=True):
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



def _model_and_features(model_dir, fixture_files, questions: int = 6):
    from qarepro import data, features, models

    model, tok = models.load_qa_model(str(model_dir)), models.load_tokenizer(str(model_dir))
    examples = data.load_examples(str(fixture_files["squad_v2_dev"]), limit=questions)
    window = features.WindowConfig(max_seq_len=64, max_query_length=16, doc_stride=32)
    return model, features.build_features(examples, tok, window, use_cache=False)


def test_forward_logits_equals_the_model_batch_by_batch(tiny_model, fixture_files):
    """One forward loop for teacher caching and prediction: its rows are the model's own logits, in
    feature order, whatever the batch size."""
    model, feats = _model_and_features(tiny_model, fixture_files)
    columns = runtime.model_columns(model, feats.column_names)
    got = runtime.forward_logits(model, feats, batch_size=4, device="cpu")
    assert got.shape == (len(feats), 2, len(feats[0]["input_ids"])) and got.dtype == np.float32
    rows = feats.with_format("torch", columns=columns)
    with torch.inference_mode():
        for i in range(len(feats)):
            out = model(**{k: v.unsqueeze(0) for k, v in rows[i].items()})
            np.testing.assert_allclose(got[i, 0], out.start_logits[0].numpy(), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(got[i, 1], out.end_logits[0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got, runtime.forward_logits(model, feats, batch_size=len(feats), device="cpu"))


def test_forward_logits_fills_a_float16_memmap_in_place(tiny_bert, fixture_files, tmp_path):
    """The teacher cache's path: a float16 .npy memmap filled in place, the same values rounded."""
    model, feats = _model_and_features(tiny_bert, fixture_files)
    seq = len(feats[0]["input_ids"])
    out = np.lib.format.open_memmap(tmp_path / "logits.npy", mode="w+", dtype=np.float16, shape=(len(feats), 2, seq))
    returned = runtime.forward_logits(model, feats, batch_size=3, device="cpu", out=out)
    assert returned is out
    out.flush()
    full = runtime.forward_logits(model, feats, batch_size=3, device="cpu")
    np.testing.assert_array_equal(np.load(tmp_path / "logits.npy"), full.astype(np.float16))


def test_dynamic_padding_gives_every_real_position_the_full_length_logits(tiny_model, fixture_files):
    """Length-sorted batches cut to their longest window: the real tokens' logits are the full-length
    pass's (attention never sees padding), in feature order; the positions not computed read
    UNCOMPUTED_LOGIT."""
    model, feats = _model_and_features(tiny_model, fixture_files, questions=10)
    full = runtime.forward_logits(model, feats, batch_size=4, device="cpu")
    dyn = runtime.forward_logits(model, feats, batch_size=4, device="cpu", padding="dynamic")
    lengths = np.asarray(feats["attention_mask"]).sum(axis=1)
    assert len(set(lengths.tolist())) > 1  # the fixture has windows of several lengths
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(dyn[i, :, :n], full[i, :, :n], rtol=1e-4, atol=1e-4)
    order = np.argsort(lengths, kind="stable")
    for lo in range(0, len(order), 4):  # beyond each batch's longest window: not computed
        rows = order[lo:lo + 4]
        assert (dyn[rows, :, lengths[rows].max():] == runtime.UNCOMPUTED_LOGIT).all()


def test_dynamic_padding_refuses_left_padded_windows(tiny_bert, fixture_files):
    model, feats = _model_and_features(tiny_bert, fixture_files, questions=2)
    flipped = feats.map(lambda r: {"attention_mask": r["attention_mask"][::-1]})
    with pytest.raises(ValueError, match="right-padded"):
        runtime.forward_logits(model, flipped, batch_size=2, device="cpu", padding="dynamic")
    with pytest.raises(ValueError, match="padding must be one of"):
        runtime.forward_logits(model, feats, batch_size=2, device="cpu", padding="longest")


def test_model_columns_follow_what_the_forward_takes(tiny_bert, tiny_roberta):
    from qarepro import models

    names = ["input_ids", "attention_mask", "token_type_ids", "offset_mapping", "example_index"]
    bert = models.load_qa_model(str(tiny_bert))
    assert runtime.model_columns(bert, names) == ["input_ids", "attention_mask", "token_type_ids"]
    assert runtime.model_columns(bert, ["attention_mask", "input_ids"]) == ["input_ids", "attention_mask"]

    class NoTypes(torch.nn.Module):
        def forward(self, input_ids=None, attention_mask=None):
            return None

    class PassesOn(torch.nn.Module):
        def forward(self, **inputs):
            return None

    assert runtime.model_columns(NoTypes(), names) == ["input_ids", "attention_mask"]
    assert runtime.model_columns(PassesOn(), names) == ["input_ids", "attention_mask", "token_type_ids"]


def test_resolve_device():
    assert runtime.resolve_device("cpu") == "cpu"
    assert runtime.resolve_device("cuda:1") == "cuda:1"
    assert runtime.resolve_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")
