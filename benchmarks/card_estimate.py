"""Estimated compute of the two full card runs (teacher-logit cache + all training epochs).

No GPU measurement backs this file: it counts model FLOPs from the exact architectures
(parameter counts from the real configs, built on the meta device) and converts them to hours
under stated throughput assumptions. `benchmarks/distill.py --card` measures the real thing on
a GPU. Written to outputs/bench/card_estimate.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qarepro import io as qio  # noqa: E402
from qarepro import paths, provenance  # noqa: E402

SQUAD2_TRAIN_QUESTIONS = 130_319      # squad_v2 train split size
FEATURES_PER_QUESTION = 88_641 / 87_599  # measured: SQuAD 1.1 train, 384/128 step (outputs/bench/windowing.json)
SEQ = 384

ARCHS = {  # transformers config kwargs of each architecture in the cards
    "roberta-large": ("roberta", dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                      intermediate_size=4096, vocab_size=50265, max_position_embeddings=514)),
    "roberta-base": ("roberta", dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                     intermediate_size=3072, vocab_size=50265, max_position_embeddings=514)),
    "bert-large-uncased-wwm": ("bert", dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                            intermediate_size=4096, vocab_size=30522)),
    "bert-medium (L-8 H-512)": ("bert", dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8,
                                             intermediate_size=2048, vocab_size=30522)),
}
CARDS = {
    "roberta-base-squad2-distilled": {"teacher": "roberta-large", "student": "roberta-base", "epochs": 4},
    "bert-medium-squad2-distilled": {"teacher": "bert-large-uncased-wwm", "student": "bert-medium (L-8 H-512)", "epochs": 2},
}
# Sustained training throughput assumed per device (model FLOPs actually achieved).
DEVICES = {
    "V100 fp32 (as the cards were trained)": 15.7e12 * 0.45,
    "A100 bf16": 312e12 * 0.35,
    "H100 bf16": 989e12 * 0.30,
}


def param_counts(family: str, kwargs: dict) -> dict[str, int]:
    import torch
    from transformers import AutoModelForQuestionAnswering, BertConfig, RobertaConfig

    cfg = (BertConfig if family == "bert" else RobertaConfig)(**kwargs)
    with torch.device("meta"):
        model = AutoModelForQuestionAnswering.from_config(cfg)
    total = sum(p.numel() for p in model.parameters())
    embed = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    return {"total": total, "non_embedding": total - embed,
            "layers": kwargs["num_hidden_layers"], "hidden": kwargs["hidden_size"]}


def forward_flops_per_token(p: dict[str, int]) -> float:
    """2 x non-embedding params (matmuls) + attention scores and mixing (4 x seq x hidden per layer)."""
    return 2 * p["non_embedding"] + 4 * SEQ * p["hidden"] * p["layers"]


def main() -> int:
    params = {name: param_counts(*spec) for name, spec in ARCHS.items()}
    tokens = SQUAD2_TRAIN_QUESTIONS * FEATURES_PER_QUESTION * SEQ
    cards = {}
    for card, c in CARDS.items():
        teacher_flops = forward_flops_per_token(params[c["teacher"]]) * tokens           # cache: one pass
        student_flops = 3 * forward_flops_per_token(params[c["student"]]) * tokens * c["epochs"]  # fwd + bwd
        total = teacher_flops + student_flops
        cards[card] = {
            "teacher": c["teacher"], "student": c["student"], "epochs": c["epochs"],
            "teacher_cache_flops": teacher_flops, "student_training_flops": student_flops, "total_flops": total,
            "estimated_hours": {dev: total / rate / 3600 for dev, rate in DEVICES.items()},
        }
    result = {
        "kind": "estimate (FLOP count), not a measurement",
        "assumptions": {
            "squad2_train_questions": SQUAD2_TRAIN_QUESTIONS,
            "features_per_question": FEATURES_PER_QUESTION,
            "seq_len": SEQ,
            "training_flops": "3 x forward (forward + backward), padding tokens counted (all windows are padded)",
            "sustained_flops_per_s": DEVICES,
            "not_counted": "evaluation passes (minutes), data preparation, checkpoint I/O",
        },
        "architectures": params,
        "cards": cards,
        "machine": provenance.device_info(),
    }
    qio.write_json(paths.bench() / "card_estimate.json", result)
    for card, c in cards.items():
        print(card, {k: round(v, 2) for k, v in c["estimated_hours"].items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
