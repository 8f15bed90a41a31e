"""The distillation loss of extractive QA: KL between tempered start/end distributions plus
cross-entropy on the gold positions (shared/REFERENCE.md §2), in Haystack's and the Hugging Face
research script's weighting."""

from __future__ import annotations

import torch.nn.functional as F


def distillation_loss(student_start, student_end, teacher_start, teacher_end, start_positions, end_positions,
                      temperature: float, weight: float, variant: str = "haystack"):
    """Prediction-layer distillation loss for extractive QA (REFERENCE §2). Logits: (batch, seq).

    haystack: w * T^2 * (KL_s + KL_e)     + (1 - w) * (CE_s + CE_e) / 2
    hf:       w * T^2 * (KL_s + KL_e) / 2 + (1 - w) * (CE_s + CE_e) / 2

    KL = KL(teacher || student) of the softmaxes over the sequence axis of logits / T, summed
    over positions and averaged over the batch ("batchmean"); no masking. CE = cross-entropy
    of the student's (untempered) logits against the gold positions, mean over the batch.
    The "hf" variant is the Hugging Face research script (run_squad_w_distillation.py), whose
    loss is alpha_ce * T^2 * (KL_s + KL_e) / 2 + alpha_squad * (CE_s + CE_e) / 2, with
    alpha_ce = w and alpha_squad = 1 - w. Teacher logits may be None only when w == 0.
    """
    if variant not in ("haystack", "hf"):
        raise ValueError(f"loss variant must be 'haystack' or 'hf', got {variant!r}")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"distillation weight must be in [0, 1], got {weight}")
    total = 0.0
    if weight > 0:
        if teacher_start is None or teacher_end is None:
            raise ValueError("teacher logits are needed when the distillation weight is > 0")
        kl = 0.0
        for s, t in ((student_start, teacher_start), (student_end, teacher_end)):
            if s.shape != t.shape:
                raise ValueError(f"student logits {tuple(s.shape)} and teacher logits {tuple(t.shape)} differ in shape")
            kl = kl + F.kl_div(F.log_softmax(s / temperature, dim=-1), F.log_softmax(t.to(s.dtype) / temperature, dim=-1),
                               reduction="batchmean", log_target=True)
        if variant == "hf":
            kl = kl / 2
        total = weight * temperature ** 2 * kl
    if weight < 1:
        ce = (F.cross_entropy(student_start, start_positions) + F.cross_entropy(student_end, end_positions)) / 2
        total = total + (1 - weight) * ce
    return total
