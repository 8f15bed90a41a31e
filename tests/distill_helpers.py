"""Builders and fixtures shared by the distillation test files (test_distill_config, test_loss,
test_student, test_teacher, test_training_data, test_trainer, test_distill, test_distill_runs).

A tiny teacher/student pair sharing one tokenizer, a small run config over it, and parameter
comparisons. Test files import what they use explicitly, fixtures included:

    from distill_helpers import one_thread, pair  # noqa: F401  (fixtures)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qarepro import config as qconfig
from qarepro import paths
from qarepro import teacher as qteacher
from qarepro import trainer as qtrainer
from qarepro.distill_config import DistillConfig

FIXTURES = paths.FIXTURES
TRAIN_SAMPLE = FIXTURES / "squad-v1.1-train-sample.json"
SQUAD2_SAMPLE = FIXTURES / "squad-v2.0-dev-sample.json"


# --------------------------------------------------------------------------------------------
# Tiny teacher/student pair sharing one tokenizer


def make_pair(root: Path, *, teacher_layers: int = 4, student_layers: int = 2, hidden: int = 32) -> dict[str, Path]:
    """A tiny BERT teacher and a shallower student with the very same tokenizer (random weights)."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qarepro.tiny import build_tiny_qa_model, fixture_texts

    teacher = build_tiny_qa_model("bert", root / "teacher", fixture_texts([SQUAD2_SAMPLE, TRAIN_SAMPLE]),
                                  num_layers=teacher_layers, hidden_size=hidden, intermediate_size=2 * hidden,
                                  seed=0)
    config = AutoModelForQuestionAnswering.from_pretrained(teacher).config
    config.num_hidden_layers = student_layers
    torch.manual_seed(1)
    AutoModelForQuestionAnswering.from_config(config).save_pretrained(root / "student")
    AutoTokenizer.from_pretrained(teacher).save_pretrained(root / "student")
    return {"teacher": teacher, "student": root / "student"}


def tiny_config(pair: dict[str, Path], **overrides) -> DistillConfig:
    base = dict(
        name="tiny", teacher=str(pair["teacher"]), student=str(pair["student"]), train_data=str(TRAIN_SAMPLE),
        max_train_examples=24, max_seq_len=64, max_query_length=16, doc_stride=32, batch_size=4, epochs=2,
        learning_rate=1e-3, temperature=2.0, distillation_loss_weight=0.5, checkpoint_every=0, log_every=2,
        teacher_batch_size=16,
    )
    base.update(overrides)
    return qconfig.from_mapping(DistillConfig, base)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on a shared CPU: one intra-op thread is many times faster (no oversubscription).

    Autouse in every test module that imports it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return make_pair(tmp_path_factory.mktemp("pair"))


def load_params(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


# Two parameters add one constant to every position's start (end) logit: the QA head's bias, and
# the bias of the last encoder layer's output LayerNorm (it reaches the logits as W_qa @ b). Softmax
# is shift-invariant, so with dropout off their true gradient is exactly 0: what they get is
# rounding noise, which Adam turns into lr-sized steps of random sign. They are compared loosely
# (a few learning-rate steps); every other parameter tightly.
def noise_only(keys) -> set[str]:
    layers = [int(k.split("encoder.layer.")[1].split(".")[0]) for k in keys if "encoder.layer." in k]
    last = max(layers)
    return {"qa_outputs.bias"} | {k for k in keys if k.endswith(f"encoder.layer.{last}.output.LayerNorm.bias")}


def assert_same_params(a: dict, b: dict, atol: float, lr: float, steps: int) -> dict[str, float]:
    assert a.keys() == b.keys()
    loose = noise_only(a)
    diffs = {k: (a[k].double() - b[k].double()).abs().max().item() for k in a}
    bad = {k: d for k, d in diffs.items() if d > (2 * lr * steps if k in loose else atol)}
    assert not bad, f"parameters differ beyond {atol}: {bad}"
    return {k: d for k, d in diffs.items() if k not in loose}


# --------------------------------------------------------------------------------------------
# Counting teacher forward passes


class CountingTeacher:
    """Wraps qarepro.teacher.load_teacher to count teacher forward calls.

    Patched where it is looked up: qarepro.teacher (the logit cache) and qarepro.trainer (the
    online teacher and the teacher_layers start)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = qteacher.load_teacher

        def load(cfg):
            model = original(cfg)
            model.register_forward_hook(lambda *a: setattr(self, "calls", self.calls + 1))
            return model

        monkeypatch.setattr(qteacher, "load_teacher", load)
        monkeypatch.setattr(qtrainer, "load_teacher", load)
