"""qarepro.optim: the cards' AdamW (with and without bias correction) and the warmup schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qarepro import optim


def _np_adamw_no_bias_correction(p, grads, lr, betas, eps, wd):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for g in grads:
        p = p * (1 - lr * wd)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        p = p - lr * m / (np.sqrt(v) + eps)
    return p


IMPLEMENTATIONS = {"fused": dict(fused=True), "foreach": dict(foreach=True), "single": dict(foreach=False)}


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_adamw_without_bias_correction_matches_hand_rule(impl):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(6)]
    param = torch.nn.Parameter(torch.tensor(p0))
    opt = optim.AdamW([param], lr=0.01, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01, correct_bias=False,
                      **IMPLEMENTATIONS[impl])
    for g in grads:
        param.grad = torch.tensor(g)
        opt.step()
    want = _np_adamw_no_bias_correction(p0, grads, 0.01, (0.9, 0.999), 1e-6, 0.01)
    np.testing.assert_allclose(param.detach().numpy(), want, rtol=1e-12, atol=1e-14)
    # the first step without bias correction is (1 - beta1) / sqrt(1 - beta2) ~ 3.2x larger than Adam's lr
    q = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = optim.AdamW([q], lr=1.0, eps=0.0, correct_bias=False, **IMPLEMENTATIONS[impl])
    q.grad = torch.ones(1, dtype=torch.float64)
    opt.step()
    assert q.item() == pytest.approx(-0.1 / math.sqrt(0.001))


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_adamw_with_bias_correction_equals_torch(impl):
    torch.manual_seed(0)
    shapes = [(5, 4), (4,), (3, 2, 2)]
    ours = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    kw = dict(lr=3e-3, betas=(0.85, 0.99), eps=1e-6, weight_decay=0.05)
    groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "weight_decay": 0.0}]
    a = optim.AdamW(groups(ours), correct_bias=True, **IMPLEMENTATIONS[impl], **kw)
    b = torch.optim.AdamW(groups(ref), foreach=False, **kw)
    sched_a = optim.linear_warmup_schedule(a, 10, 0.2)
    sched_b = optim.linear_warmup_schedule(b, 10, 0.2)
    for step in range(8):
        for p, q in zip(ours, ref):
            g = torch.randn(p.shape)
            p.grad, q.grad = g.clone(), g.clone()
        a.step(), b.step(), sched_a.step(), sched_b.step()
        for p, q in zip(ours, ref):
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
    # state survives a round trip (resume)
    c = optim.AdamW(groups([torch.nn.Parameter(p.detach().clone()) for p in ours]), correct_bias=True, **kw)
    c.load_state_dict(a.state_dict())
    assert c.state_dict()["state"][0]["step"] == 8


def test_linear_warmup_schedule_floors_warmup():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = optim.AdamW([p], lr=1.0)
    sched = optim.linear_warmup_schedule(opt, 11, 0.2)  # warmup int(2.2) = 2 steps
    lrs = []
    for _ in range(11):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(), sched.step()
    assert lrs[:4] == pytest.approx([0.0, 0.5, 1.0, 8 / 9])
    assert lrs[-1] == pytest.approx(1 / 9)
