"""One distillation run's settings: the strictly validated `DistillConfig`, where a run's files go,
and the errors a run can stop with.

A bare config name resolves to configs/<name>.yaml. Light on purpose (no transformers): the
pipeline validates profiles by building each card's config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import config as qconfig
from . import paths
from .runtime import PRECISIONS


class DistillError(ValueError):
    """A distillation run that cannot start: bad combination of settings or inputs."""


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the run stops and keeps its last good checkpoint."""


@dataclass
class DistillConfig:
    """One training run: distillation (teacher set, w > 0) or plain fine-tuning (w = 0)."""

    name: str = qconfig.field(help="run name: outputs/runs/<name>/ (one path segment)")
    # models
    teacher: str | None = qconfig.field(None, help="teacher QA model (hub id or directory); null: no distillation")
    teacher_revision: str | None = qconfig.field(None, help="hub revision of the teacher (branch, tag or commit)")
    student: str | None = qconfig.field(None, help="student start checkpoint (hub id or directory)")
    student_revision: str | None = qconfig.field(None, help="hub revision of the student")
    student_family: str | None = qconfig.field(
        None, choices=[None, "bert", "roberta"],
        help="architecture family of the student checkpoint, used only when its config.json has no model_type "
             "(a legacy conversion, which transformers 5 no longer guesses from the name): the loader builds "
             "that family's config and tokenizer from the repo's files and records that it did")
    student_init: str = qconfig.field("pretrained", choices=["pretrained", "teacher_layers"],
                                      help="start from `student`, or from the teacher's embeddings + chosen layers")
    student_layers: list[int] = qconfig.field([], ge=0, help="encoder layers to keep: of the teacher (student_init: teacher_layers) or of the pretrained student")
    # data and windows
    train_data: str = qconfig.field("squad_v2-train", help="registry key or path to a SQuAD JSON file")
    data_dir: str | None = qconfig.field(None, help="folder of local dataset files (else $QAREPRO_DATA_DIR, hub)")
    max_train_examples: int | None = qconfig.field(None, ge=1, help="keep the first N questions (smoke runs)")
    max_seq_len: int = qconfig.field(384, ge=1, help="tokens per window (question, passage, special tokens)")
    max_query_length: int = qconfig.field(64, ge=1, help="question tokens kept")
    doc_stride: int = qconfig.field(128, ge=0, help="step (haystack) or overlap (hf) between windows; below the "
                                                   "passage room max_seq_len - max_query_length - 4")
    stride_mode: str = qconfig.field("haystack", choices=["haystack", "hf"],
                                     help="haystack: doc_stride is the step between windows; hf: the overlap")
    label_mode: str = qconfig.field(
        "hf", choices=["hf", "haystack"],
        help="training labels: hf (question stripped, answer wholly in the window); haystack: Haystack v1's "
             "SquadProcessor edge cases (end label on the trailing special token for an answer ending on the "
             "context's last token, questions with mismatched answer offsets dropped, question not stripped)")
    # optimisation
    batch_size: int = qconfig.field(32, help="global batch (all processes, all accumulation steps)")
    per_device_batch_size: int | None = qconfig.field(
        None, help="micro-batch per process; batch_size / (processes * this) = gradient accumulation steps")
    epochs: int = 2
    max_steps: int | None = qconfig.field(None, help="stop after this many optimizer steps (overrides epochs)")
    learning_rate: float = qconfig.field(3e-5, gt=0)
    warmup_proportion: float = qconfig.field(0.2, ge=0, le=1)
    weight_decay: float = qconfig.field(0.01, ge=0)
    adam_epsilon: float = qconfig.field(1e-6, gt=0)
    adam_betas: list[float] = qconfig.field([0.9, 0.999], ge=0, lt=1)
    correct_bias: bool = False
    max_grad_norm: float = qconfig.field(1.0, ge=0, help="clip gradients to this norm (0: no clipping)")
    seed: int = qconfig.field(42, ge=0, lt=2**32)
    # distillation
    temperature: float = qconfig.field(1.0, gt=0)
    distillation_loss_weight: float = qconfig.field(0.0, help="w: weight of the KL term; 1 - w on hard labels")
    loss_variant: str = qconfig.field("haystack", choices=["haystack", "hf"],
                                      help="haystack: KL_start + KL_end; hf: their mean (research script)")
    teacher_logits: str = qconfig.field("cached", choices=["cached", "online"],
                                        help="cached: teacher run once before training; online: every step")
    teacher_logits_dtype: str = qconfig.field("float32", choices=["float32", "float16"])
    teacher_batch_size: int = qconfig.field(64, ge=1)
    teacher_precision: str = qconfig.field(
        "fp32", choices=list(PRECISIONS),
        help="teacher forward pass (cache or online); fp32 keeps the logits' full precision, auto: bf16/fp16 on GPU")
    # model details
    learnable_logit_divisor: bool = qconfig.field(
        False, help="Haystack's QA head divides its logits by a learnable temperature_for_confidence (init 1, "
                    "trained with weight decay); both losses see the divided logits. Kept out of the exported "
                    "model (as Haystack's conversion), its final value is recorded in train_metrics.json")
    embeds_dropout_prob: float = qconfig.field(0.1, help="dropout on the encoder output before the QA head")
    model_dropout: float | None = qconfig.field(
        None, help="hidden and attention dropout of the student; null keeps the checkpoint's value")
    # running
    precision: str = qconfig.field("fp32", choices=list(PRECISIONS),
                                   help="student training: fp32 (the cards); bf16 / fp16 autocast; auto: bf16 "
                                        "(fp16 without bf16) on GPU, fp32 on CPU. bf16 also runs on a CPU")
    tf32: bool = qconfig.field(False, help="allow TF32 for fp32 matrix products on GPUs that have it (not the "
                                           "cards' fp32; off unless asked)")
    checkpoint_every: int = qconfig.field(500, ge=0, help="save a resumable checkpoint every N steps (0: none)")
    keep_checkpoints: int | None = qconfig.field(2, ge=1, help="how many recent checkpoints to keep (null: all)")
    log_every: int = qconfig.field(10, ge=1)
    dataloader_workers: int = qconfig.field(0, ge=0)
    output_dir: str | None = qconfig.field(None, help="run folder (default outputs/runs/<name>)")
    overwrite: bool = qconfig.field(False, help="start afresh in a run folder that already has checkpoints/a model")

    def __post_init__(self):
        problems = [*qconfig.range_problems(self), *name_problems(self.name), *window_problems(self),
                    *relation_problems(self)]
        if problems:
            raise qconfig.ConfigError(f"config {self.name!r}: " + "; ".join(problems))

    @property
    def uses_teacher_logits(self) -> bool:
        return bool(self.teacher) and self.distillation_loss_weight > 0


# the distillation keys of a run without a teacher, fixed (neutral without one) so that cards
# that fine-tune the same teacher the same way share one run
NO_DISTILLATION = {"teacher": None, "distillation_loss_weight": 0.0, "temperature": 1.0, "loss_variant": "haystack"}

# RoBERTa's question-passage pair takes 4 special tokens, BERT's 3: a window must leave room for 4
PAIR_SPECIAL_TOKENS = 4


def name_problems(name: str) -> list[str]:
    """A run name is one path segment, so that outputs/runs/<name> stays inside outputs/runs."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        return [f"key 'name': {name!r} must be one path segment (no '/', '\\', '..'; not empty)"]
    return []


def window_problems(cfg: DistillConfig) -> list[str]:
    """Windows that leave no passage room, or whose stride skips context or does not advance."""
    room = cfg.max_seq_len - cfg.max_query_length - PAIR_SPECIAL_TOKENS
    if room < 1:
        return [f"key 'max_seq_len': {cfg.max_seq_len} must exceed max_query_length ({cfg.max_query_length}) + "
                f"{PAIR_SPECIAL_TOKENS} special tokens, to leave room for the passage"]
    if cfg.stride_mode == "haystack" and not 1 <= cfg.doc_stride <= room:
        return [f"key 'doc_stride': {cfg.doc_stride} (the step between windows, stride_mode haystack) must be in "
                f"[1, {room}] (max_seq_len - max_query_length - {PAIR_SPECIAL_TOKENS}): else windows skip context"]
    if cfg.stride_mode == "hf" and not 0 <= cfg.doc_stride < room:
        return [f"key 'doc_stride': {cfg.doc_stride} (the overlap between windows, stride_mode hf) must be < {room} "
                f"(max_seq_len - max_query_length - {PAIR_SPECIAL_TOKENS}): else the windows do not advance"]
    return []


def relation_problems(cfg: DistillConfig) -> list[str]:
    """Rules between keys, and the ranges a bound cannot say."""
    problems = []
    if cfg.batch_size < 1:
        problems.append(f"batch_size must be >= 1, got {cfg.batch_size}")
    if cfg.per_device_batch_size is not None and cfg.per_device_batch_size < 1:
        problems.append(f"per_device_batch_size must be >= 1, got {cfg.per_device_batch_size}")
    if cfg.epochs < 1 and not cfg.max_steps:
        problems.append(f"epochs must be >= 1, got {cfg.epochs}")
    if cfg.max_steps is not None and cfg.max_steps < 1:
        problems.append(f"max_steps must be >= 1 or null, got {cfg.max_steps}")
    if not 0.0 <= cfg.distillation_loss_weight <= 1.0:
        problems.append(f"distillation_loss_weight must be in [0, 1], got {cfg.distillation_loss_weight}")
    if len(cfg.adam_betas) != 2:
        problems.append(f"adam_betas must be two numbers, got {cfg.adam_betas}")
    if cfg.distillation_loss_weight > 0 and not cfg.teacher:
        problems.append(f"distillation_loss_weight is {cfg.distillation_loss_weight} but teacher is null "
                        "(set teacher, or distillation_loss_weight: 0 for plain fine-tuning)")
    if cfg.student_init == "pretrained" and not cfg.student:
        problems.append("student_init is 'pretrained' but student is null")
    if cfg.student_init == "teacher_layers":
        if not cfg.teacher:
            problems.append("student_init 'teacher_layers' needs a teacher")
        if not cfg.student_layers:
            problems.append("student_init 'teacher_layers' needs student_layers (teacher layer indices)")
    for name in ("embeds_dropout_prob", "model_dropout"):
        value = getattr(cfg, name)
        if value is not None and not 0.0 <= value < 1.0:
            problems.append(f"{name} must be in [0, 1), got {value}")
    return problems


# Keys that may change between a run and its resumption (they do not change the maths).
# Keys that do not change a run's result: a run may be resumed or reused across them. `name`
# only labels a run (cards that share a fine-tuned teacher or a baseline differ in it).
# student_family says how legacy files are read, not what is trained: the same weights either way
RESUME_FREE_KEYS = {"dataloader_workers", "log_every", "output_dir", "overwrite", "keep_checkpoints",
                    "teacher_batch_size", "data_dir", "name", "student_family"}


def resolve_config_path(name_or_path: str | os.PathLike) -> Path:
    """A bare name (no slash, no .yaml) means configs/<name>.yaml."""
    text = str(name_or_path)
    if os.sep not in text and "/" not in text and not text.endswith((".yaml", ".yml")):
        return paths.CONFIGS / f"{text}.yaml"
    return Path(text).expanduser()


def load_distill_config(name_or_path: str | os.PathLike,
                        overrides: Sequence[str] | Mapping[str, Any] | None = None) -> DistillConfig:
    """Load a run config strictly (unknown key, wrong type or bad value: ConfigError naming the key)."""
    return qconfig.load(DistillConfig, resolve_config_path(name_or_path), overrides)


def batch_plan(cfg: DistillConfig, world_size: int) -> tuple[int, int]:
    """(per-device micro-batch, gradient accumulation steps) for the global batch."""
    per_device = cfg.per_device_batch_size or cfg.batch_size // world_size
    if per_device < 1 or cfg.batch_size % (per_device * world_size):
        raise DistillError(
            f"batch_size {cfg.batch_size} is not a multiple of {world_size} process(es) x per_device_batch_size "
            f"{per_device}; choose per_device_batch_size so that it divides batch_size / {world_size}"
        )
    return per_device, cfg.batch_size // (per_device * world_size)


def run_dir(cfg: DistillConfig) -> Path:
    return Path(cfg.output_dir).expanduser().resolve() if cfg.output_dir else paths.runs() / cfg.name


def complete_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints (oldest first) that were written to the end: trainer_state.json is saved last."""
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        if p.is_dir() and p.name.startswith("checkpoint-") and p.name[11:].isdigit():
            if (p / "trainer_state.json").is_file():
                found.append(p)
    return sorted(found, key=lambda p: int(p.name[11:]))
