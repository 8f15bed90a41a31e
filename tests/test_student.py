"""qarepro.student: the student at step 0 (layers cut from the teacher, embeds dropout, the
learnable logit divisor)."""

from __future__ import annotations

import pytest
import torch

from qarepro import optim
from qarepro.distill_config import DistillError
from qarepro.loss import distillation_loss
from qarepro.student import add_embeds_dropout, init_student_from_teacher, unwrap_divisor, with_logit_divisor

from distill_helpers import one_thread, pair  # noqa: F401  (fixtures)


def test_student_from_teacher_layers(pair):
    from transformers import AutoModelForQuestionAnswering

    teacher = AutoModelForQuestionAnswering.from_pretrained(pair["teacher"])
    student = init_student_from_teacher(teacher, [0, 3])
    assert student.config.num_hidden_layers == 2 and type(student) is type(teacher)
    t, s = teacher.state_dict(), student.state_dict()
    for name, value in s.items():
        src = name.replace("encoder.layer.1.", "encoder.layer.3.")
        assert torch.equal(value, t[src]), name
    assert torch.equal(s["qa_outputs.weight"], t["qa_outputs.weight"])
    assert torch.equal(s["bert.embeddings.word_embeddings.weight"], t["bert.embeddings.word_embeddings.weight"])
    with pytest.raises(DistillError, match="layers 0..3"):
        init_student_from_teacher(teacher, [0, 4])


def test_embeds_dropout_only_in_training(pair):
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(pair["student"], hidden_dropout_prob=0.0,
                                                          attention_probs_dropout_prob=0.0)
    ids = torch.randint(5, 100, (2, 12))
    model.eval()
    before = model(input_ids=ids).start_logits
    add_embeds_dropout(model, 0.5)
    assert torch.equal(model(input_ids=ids).start_logits, before)  # eval: no dropout
    model.train()
    assert not torch.equal(model(input_ids=ids).start_logits, before)
    assert set(model.state_dict()) == set(AutoModelForQuestionAnswering.from_pretrained(pair["student"]).state_dict())


def test_logit_divisor_divides_both_losses_inputs_and_gets_gradient(pair):
    from transformers import AutoModelForQuestionAnswering

    torch.manual_seed(0)
    inner = AutoModelForQuestionAnswering.from_pretrained(pair["student"]).eval()
    model = with_logit_divisor(inner)
    ids = torch.randint(5, 100, (2, 16))
    with torch.no_grad():
        model.temperature_for_confidence.fill_(2.0)
        raw, div = inner(input_ids=ids), model(input_ids=ids)
    assert torch.allclose(div.start_logits, raw.start_logits / 2) and torch.allclose(div.end_logits, raw.end_logits / 2)
    # the loss is computed on the divided logits, so the divisor receives a gradient from both terms
    model.temperature_for_confidence.data.fill_(1.0)
    teacher = torch.randn(2, 2, 16)
    pos = torch.tensor([3, 5])
    for w in (0.0, 1.0):  # CE alone, KL alone
        model.zero_grad()
        out = model(input_ids=ids)
        distillation_loss(out.start_logits, out.end_logits, teacher[:, 0], teacher[:, 1], pos, pos,
                          temperature=1.5, weight=w).backward()
        assert model.temperature_for_confidence.grad.abs().item() > 0, w
    # it is a parameter of the trained module: AdamW (built over model.parameters()) decays it too
    names = [n for n, _ in model.named_parameters()]
    assert "temperature_for_confidence" in names and len(names) == len(list(inner.parameters())) + 1
    opt = optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.01, correct_bias=False)
    model.zero_grad()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()  # zero gradient: only the decoupled decay moves it
    assert model.temperature_for_confidence.item() == pytest.approx(1.0 * (1 - 0.1 * 0.01), abs=1e-7)
    assert unwrap_divisor(model)[0] is inner and unwrap_divisor(inner) == (inner, None)
