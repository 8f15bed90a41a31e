"""The student at step 0: a pretrained checkpoint or layers cut from one (or from the teacher),
with Haystack's QA-head details (embeds dropout, the learnable logit divisor)."""

from __future__ import annotations

import copy
import logging
from typing import Sequence

import torch
import torch.nn.functional as F
from transformers import AutoModelForQuestionAnswering
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from .distill_config import DistillConfig, DistillError
from .models import load_qa_model

log = logging.getLogger(__name__)


def init_student_from_teacher(teacher, layers: Sequence[int], **config_overrides):
    """A shallower model of the teacher's family: its embeddings, the chosen encoder layers (in
    the given order) and its QA head, copied. Other config values stay the teacher's."""
    n = teacher.config.num_hidden_layers
    bad = [i for i in layers if not 0 <= i < n]
    if bad or not layers:
        raise DistillError(f"student_layers {list(layers)}: the source model has layers 0..{n - 1}")
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(layers)
    for key, value in config_overrides.items():
        setattr(config, key, value)
    student = AutoModelForQuestionAnswering.from_config(config)
    source = teacher.state_dict()
    mapped = {}
    for name in student.state_dict():
        parts = name.split(".")
        src = name
        if "layer" in parts:
            pos = parts.index("layer")
            if pos > 0 and parts[pos - 1] == "encoder" and parts[pos + 1].isdigit():
                src = ".".join(parts[:pos + 1] + [str(layers[int(parts[pos + 1])])] + parts[pos + 2:])
        if src not in source:
            raise DistillError(f"cannot initialise student weight {name!r}: teacher has no {src!r}")
        mapped[name] = source[src].detach().clone()
    student.load_state_dict(mapped, strict=True)
    return student


def build_student(cfg: DistillConfig, teacher=None):
    """The student model at step 0 (seed the RNG before: a new QA head is random)."""
    overrides = {}
    if cfg.model_dropout is not None:
        overrides = {"hidden_dropout_prob": cfg.model_dropout, "attention_probs_dropout_prob": cfg.model_dropout}
    if cfg.student_init == "teacher_layers":
        if cfg.student:
            log.warning("student_init is 'teacher_layers': student %r is not used", cfg.student)
        teacher = teacher if teacher is not None else load_qa_model(cfg.teacher, cfg.teacher_revision)
        student = init_student_from_teacher(teacher, cfg.student_layers, **overrides)
    else:
        student = load_qa_model(cfg.student, cfg.student_revision, cfg.student_family, **overrides)
        if cfg.student_layers:
            # a shallower student cut from a pretrained encoder (DistilBERT-style layer choice)
            student = init_student_from_teacher(student, cfg.student_layers, **overrides)
    add_embeds_dropout(student, cfg.embeds_dropout_prob)
    return student


class LogitDivisor(torch.nn.Module):
    """A QA model whose start and end logits are divided by a learnable scalar, as Haystack v1's
    QuestionAnsweringHead.temperature_for_confidence (prediction_head.py l.274, 315-318, 359-360).

    A wrapper, not a weight of the transformers model, so that `save_pretrained` of `.model`
    never exports it (Haystack's convert_to_transformers copies only qa_outputs), while the
    Trainer's checkpoints (the wrapper's state dict) keep it for an exact resume."""

    def __init__(self, model, init: float = 1.0):
        super().__init__()
        self.model = model
        self.temperature_for_confidence = torch.nn.Parameter(torch.ones(1) * init)

    def forward(self, **inputs):
        out = self.model(**inputs)
        t = self.temperature_for_confidence
        return QuestionAnsweringModelOutput(start_logits=out.start_logits / t, end_logits=out.end_logits / t)


def with_logit_divisor(model, init: float = 1.0) -> LogitDivisor:
    """`model` wrapped so that its logits are divided by a trained `temperature_for_confidence`."""
    return LogitDivisor(model, init)


def unwrap_divisor(model):
    """(the transformers model, the divisor value or None) of a possibly wrapped model."""
    if hasattr(model, "temperature_for_confidence") and hasattr(model, "model"):
        return model.model, float(model.temperature_for_confidence.detach().float().cpu().item())
    return model, None


def add_embeds_dropout(model, p: float):
    """Dropout on the encoder output feeding the QA head, in training mode only (Haystack's
    `embeds_dropout_prob`). A forward pre-hook: weights and saved files are unchanged."""
    if not p:
        return None
    head = getattr(model, "qa_outputs", None)
    if head is None:
        raise DistillError(f"{type(model).__name__} has no qa_outputs head to put embeds dropout before")
    return head.register_forward_pre_hook(lambda module, args: (F.dropout(args[0], p, module.training),) + args[1:])
