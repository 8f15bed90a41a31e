"""AdamW with an optional bias correction, and the linear warmup/decay schedule of the cards.

Both cards were trained with the old `transformers.AdamW` and `correct_bias=False`: no bias
correction of the moment estimates, so the first steps are *larger* than torch's AdamW would
take, by (1 - beta1^t) / sqrt(1 - beta2^t) at step t (3.2x at step 1, 6.5x at step 10, still
3.2x at step 100 with the default betas); warmup damps this, but it is part of the recipe.
Neither torch nor transformers offers that switch any more, hence this small class.

Update per parameter p with gradient g at step t (decoupled weight decay, as torch.optim.AdamW):

    p    <- p * (1 - lr * weight_decay)
    m    <- beta1 * m + (1 - beta1) * g
    v    <- beta2 * v + (1 - beta2) * g * g
    correct_bias=False:  p <- p - lr * m / (sqrt(v) + eps)
    correct_bias=True:   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

With correct_bias=True this is exactly torch.optim.AdamW (tested).

The default implementation is torch's fused AdamW kernel (one pass over each tensor; on a CPU
about twice as fast as the per-operation `foreach` form, which the training step felt: see
outputs/bench/throughput.json). The kernel always applies bias correction from the step count it
is given; handing it an infinite step makes both corrections exactly 1 (beta^inf = 0), which is
the uncorrected rule. `foreach=True` or `fused=False` selects the per-operation forms. The old transformers class
applied the decay after the moment update rather than before; the two differ by
lr * weight_decay * (Adam step) per step, about 1e-12 relative at the cards' settings.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Callable, Iterable

import torch
from transformers import get_linear_schedule_with_warmup


class AdamW(torch.optim.Optimizer):
    """AdamW (decoupled weight decay) with `correct_bias` as in the old transformers.AdamW."""

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        correct_bias: bool = True,
        foreach: bool | None = None,
        fused: bool | None = None,
    ):
        if lr < 0.0:
            raise ValueError(f"invalid learning rate {lr} (must be >= 0)")
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"invalid betas {betas} (each must be in [0, 1))")
        if eps < 0.0:
            raise ValueError(f"invalid eps {eps} (must be >= 0)")
        if weight_decay < 0.0:
            raise ValueError(f"invalid weight_decay {weight_decay} (must be >= 0)")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        correct_bias=correct_bias, foreach=foreach, fused=fused)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdamW does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                steps.append(state["step"])
            if not params:
                continue
            implementation(group, params)(params, grads, exp_avgs, exp_avg_sqs, steps, group)
        return loss


def implementation(group: dict, params: list) -> Callable:
    """The update implementation for a group: fused unless asked otherwise or unsupported."""
    if group.get("foreach") is False and not group.get("fused"):
        return _update_single
    if group.get("foreach") or group.get("fused") is False or not _fused_supported(params):
        return _update_foreach
    return _update_fused


def _fused_supported(params: list) -> bool:
    return all(p.dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16)
               and p.device.type in ("cpu", "cuda") for p in params)


def _update_fused(params, grads, exp_avgs, exp_avg_sqs, steps, group) -> None:
    """torch's fused AdamW kernel per (device, dtype); uncorrected = corrections of an infinite step."""
    beta1, beta2 = group["betas"]
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, p in enumerate(params):
        buckets[(p.device, p.dtype)].append(i)
    for (device, _), idx in buckets.items():
        if group["correct_bias"]:
            state_steps = [torch.tensor(float(steps[i]), device=device) for i in idx]
        else:
            state_steps = [torch.tensor(math.inf, device=device)] * len(idx)
        torch._fused_adamw_([params[i] for i in idx], [grads[i] for i in idx], [exp_avgs[i] for i in idx],
                            [exp_avg_sqs[i] for i in idx], [], state_steps, lr=group["lr"], beta1=beta1,
                            beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], amsgrad=False,
                            maximize=False)


def _coefficients(step: int, group: dict) -> tuple[float, float]:
    """(step size, bias correction 2 root): p -= step_size * m / (sqrt(v) / root + eps)."""
    beta1, beta2 = group["betas"]
    if group["correct_bias"]:
        return group["lr"] / (1.0 - beta1 ** step), math.sqrt(1.0 - beta2 ** step)
    return group["lr"], 1.0


def _update_single(params, grads, exp_avgs, exp_avg_sqs, steps, group) -> None:
    beta1, beta2 = group["betas"]
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    for p, g, m, v, step in zip(params, grads, exp_avgs, exp_avg_sqs, steps):
        if wd != 0.0:
            p.mul_(1.0 - lr * wd)
        m.lerp_(g, 1.0 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
        step_size, root = _coefficients(step, group)
        denom = v.sqrt()
        if group["correct_bias"]:
            denom.div_(root)
        p.addcdiv_(m, denom.add_(eps), value=-step_size)


def _update_foreach(params, grads, exp_avgs, exp_avg_sqs, steps, group) -> None:
    """Same arithmetic as `_update_single`, batched with torch._foreach_* per (device, dtype, step)."""
    beta1, beta2 = group["betas"]
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, p in enumerate(params):
        buckets[(p.device, p.dtype, steps[i])].append(i)
    for (_, _, step), idx in buckets.items():
        ps = [params[i] for i in idx]
        gs = [grads[i] for i in idx]
        ms = [exp_avgs[i] for i in idx]
        vs = [exp_avg_sqs[i] for i in idx]
        if wd != 0.0:
            torch._foreach_mul_(ps, 1.0 - lr * wd)
        torch._foreach_lerp_(ms, gs, 1.0 - beta1)
        torch._foreach_mul_(vs, beta2)
        torch._foreach_addcmul_(vs, gs, gs, value=1.0 - beta2)
        step_size, root = _coefficients(step, group)
        denom = torch._foreach_sqrt(vs)
        if group["correct_bias"]:
            torch._foreach_div_(denom, root)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(ps, ms, denom, value=-step_size)


def linear_warmup_schedule(optimizer: torch.optim.Optimizer, num_training_steps: int, warmup_proportion: float):
    """Linear warmup over the first `int(warmup_proportion * steps)` steps, then linear decay to 0.

    `int()` (floor) as in Haystack's LinearWarmup; the schedule itself is transformers'.
    """
    warmup = int(warmup_proportion * num_training_steps)
    return get_linear_schedule_with_warmup(optimizer, num_warmup_steps=warmup, num_training_steps=num_training_steps)
