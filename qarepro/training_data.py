"""A run's training data: its questions, their windows (features) and labels, and the check that
teacher and student tokenise them identically (else teacher logits cannot be matched to student
positions)."""

from __future__ import annotations

import hashlib
import json

from . import data as qdata
from . import features as qfeatures
from .distill_config import DistillConfig, DistillError
from .features import WindowConfig


def vocabulary_fingerprint(tokenizer) -> str:
    """Hash of the vocabulary (token -> id), the special tokens and the model input names."""
    payload = {
        "vocab": sorted(tokenizer.get_vocab().items()),
        "special": {k: str(v) for k, v in sorted(tokenizer.special_tokens_map.items())},
        "inputs": list(tokenizer.model_input_names),
    }
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


PROBES = [
    ("Who wrote the Déjà Vu report in 1998?",
     "The  Déjà Vu report (1998) was written by Dr. Anna-Maria O'Neil & co.; it cost $3,500.75 — "
     "naïve estimates said ＡＢＣ. Über-complicated words: unaffordable, tokenisation, 東京, emoji 🙂."),
    ("what is THE capital of France?", "Paris is the capital and most populous city of France."),
]


def check_same_tokenization(student_tok, teacher_tok, texts: list[tuple[str, str]] = ()) -> None:
    """Raise DistillError unless the two tokenizers turn (question, context) pairs into the same ids.

    Compares vocabularies and special tokens (fingerprints), then encodes probe pairs and the
    given training pairs with both and compares input ids (and token type ids where used).
    """
    problems = []
    s_vocab, t_vocab = student_tok.get_vocab(), teacher_tok.get_vocab()
    if s_vocab != t_vocab:
        only_s = len(set(s_vocab) - set(t_vocab))
        only_t = len(set(t_vocab) - set(s_vocab))
        moved = sum(1 for k in set(s_vocab) & set(t_vocab) if s_vocab[k] != t_vocab[k])
        problems.append(f"vocabularies differ (student {len(s_vocab)} tokens, teacher {len(t_vocab)}; "
                        f"{only_s} only in the student, {only_t} only in the teacher, {moved} with other ids)")
    pairs = list(PROBES) + list(texts)
    for q, c in pairs:
        a = student_tok(q, c, truncation=False)
        b = teacher_tok(q, c, truncation=False)
        if a["input_ids"] != b["input_ids"]:
            problems.append(f"they encode {q[:40]!r} + context differently "
                            f"({len(a['input_ids'])} vs {len(b['input_ids'])} tokens)")
            break
        if a.get("token_type_ids") is not None and b.get("token_type_ids") is not None \
                and a["token_type_ids"] != b["token_type_ids"]:
            problems.append("token type ids differ")
            break
    if problems:
        raise DistillError(
            "teacher and student do not tokenise identically, so teacher logits cannot be matched to student "
            "positions: " + "; ".join(problems) + f". Student tokenizer {vocabulary_fingerprint(student_tok)}, "
            f"teacher tokenizer {vocabulary_fingerprint(teacher_tok)}."
        )


def window_config(cfg: DistillConfig) -> WindowConfig:
    """The training windows a run's config asks for."""
    return WindowConfig(max_seq_len=cfg.max_seq_len, max_query_length=cfg.max_query_length,
                        doc_stride=cfg.doc_stride, stride_mode=cfg.stride_mode,
                        label_mode=cfg.label_mode)


def load_training_examples(cfg: DistillConfig):
    """The run's training questions (the first max_train_examples); DistillError when there are none."""
    examples = qdata.load_examples(cfg.train_data, cfg.data_dir, limit=cfg.max_train_examples)
    if len(examples) == 0:
        raise DistillError(f"training set is empty: {cfg.train_data!r} (max_train_examples="
                           f"{cfg.max_train_examples}) has no questions")
    return examples


def training_features(cfg: DistillConfig, tokenizer, examples=None):
    """(features, feature cache key) of the run's training data, windowed per the config."""
    examples = load_training_examples(cfg) if examples is None else examples
    wcfg = window_config(cfg)
    fingerprint = qdata.fingerprint(examples)
    features = qfeatures.build_features(examples, tokenizer, wcfg, data_fingerprint=fingerprint)
    if len(features) == 0:
        raise DistillError(f"training set is empty: {cfg.train_data!r} gave no features")
    key = qfeatures.feature_cache_key(tokenizer, wcfg, fingerprint)
    return features, key


def sample_pairs(examples, n: int = 32) -> list[tuple[str, str]]:
    """The first n (question, context) pairs: training text for the same-tokenisation check."""
    n = min(n, len(examples))
    rows = examples.select(range(n))
    return list(zip(rows["question"], rows["context"]))


def student_tokenizer_source(cfg) -> tuple[str, str | None, str | None]:
    """Where the student's tokenizer comes from: (checkpoint, revision, family for a legacy config),
    the student checkpoint's or the teacher's."""
    if cfg.student_init == "teacher_layers":
        return cfg.teacher, cfg.teacher_revision, None
    return cfg.student, cfg.student_revision, cfg.student_family
