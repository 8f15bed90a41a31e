"""qarepro.loss: the distillation loss against its formula (shared/REFERENCE.md §2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from qarepro.loss import distillation_loss

from distill_helpers import one_thread, pair  # noqa: F401  (fixtures)


def _np_log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _np_loss(s, e, ts, te, sp, ep, T, w, variant="haystack"):
    """The REFERENCE §2 formula, written out in numpy."""
    def kl(student, teacher):
        log_p_t, log_p_s = _np_log_softmax(teacher / T), _np_log_softmax(student / T)
        return (np.exp(log_p_t) * (log_p_t - log_p_s)).sum() / student.shape[0]

    def ce(logits, pos):
        return -_np_log_softmax(logits)[np.arange(len(pos)), pos].mean()

    k = kl(s, ts) + kl(e, te)
    if variant == "hf":
        k = k / 2
    return w * T ** 2 * k + (1 - w) * (ce(s, sp) + ce(e, ep)) / 2


def _logits(seed, batch=3, seq=7, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    s, e, ts, te = (torch.randn(batch, seq, generator=g, dtype=dtype) * 3 for _ in range(4))
    sp = torch.randint(0, seq, (batch,), generator=g)
    ep = torch.randint(0, seq, (batch,), generator=g)
    return s, e, ts, te, sp, ep


@pytest.mark.parametrize("w, T", [(0.75, 1.5), (1.0, 5.0), (0.3, 1.0)])
@pytest.mark.parametrize("variant", ["haystack", "hf"])
def test_loss_matches_hand_computation(w, T, variant):
    args = _logits(0)
    got = distillation_loss(*args, temperature=T, weight=w, variant=variant)
    want = _np_loss(*(a.numpy() for a in args), T, w, variant)
    assert got.item() == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_loss_card_weights_spelled_out():
    s, e, ts, te, sp, ep = _logits(1)
    kl = lambda a, b: F.kl_div(F.log_softmax(a / 1.5, -1), F.softmax(b / 1.5, -1), reduction="batchmean")
    ce = lambda a, p: F.cross_entropy(a, p)
    roberta = 1.6875 * (kl(s, ts) + kl(e, te)) + 0.125 * (ce(s, sp) + ce(e, ep))
    assert distillation_loss(s, e, ts, te, sp, ep, 1.5, 0.75).item() == pytest.approx(roberta.item(), rel=1e-12)
    kl5 = lambda a, b: F.kl_div(F.log_softmax(a / 5, -1), F.softmax(b / 5, -1), reduction="batchmean")
    bert = 25 * (kl5(s, ts) + kl5(e, te))
    assert distillation_loss(s, e, ts, te, sp, ep, 5.0, 1.0).item() == pytest.approx(bert.item(), rel=1e-12)


def test_loss_at_w0_is_plain_qa_cross_entropy(pair):
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(pair["student"]).eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (3, 16), generator=g)
    sp, ep = torch.tensor([0, 3, 5]), torch.tensor([0, 4, 9])
    with torch.no_grad():
        out = model(input_ids=ids, start_positions=sp, end_positions=ep)
        ours = distillation_loss(out.start_logits, out.end_logits, None, None, sp, ep, 3.0, 0.0)
        with_teacher = distillation_loss(out.start_logits, out.end_logits, out.start_logits * 2, out.end_logits,
                                         sp, ep, 3.0, 0.0)
    assert ours.item() == pytest.approx(out.loss.item(), rel=1e-6)  # HF's (CE_s + CE_e) / 2
    assert with_teacher.item() == pytest.approx(out.loss.item(), rel=1e-6)


def test_loss_gradcheck():
    s, e, ts, te, sp, ep = _logits(2, batch=2, seq=5)
    s.requires_grad_(True)
    e.requires_grad_(True)
    for w, T, variant in [(0.75, 1.5, "haystack"), (1.0, 5.0, "haystack"), (0.5, 2.0, "hf")]:
        assert torch.autograd.gradcheck(
            lambda a, b: distillation_loss(a, b, ts, te, sp, ep, T, w, variant), (s, e))


def test_loss_rejects_bad_input():
    s, e, ts, te, sp, ep = _logits(3)
    with pytest.raises(ValueError, match="teacher logits are needed"):
        distillation_loss(s, e, None, None, sp, ep, 1.0, 0.5)
    with pytest.raises(ValueError, match="differ in shape"):
        distillation_loss(s, e, ts[:, :-1], te, sp, ep, 1.0, 0.5)
    with pytest.raises(ValueError, match="variant"):
        distillation_loss(s, e, ts, te, sp, ep, 1.0, 0.5, variant="mse")
