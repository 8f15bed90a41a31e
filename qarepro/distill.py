"""Distillation engine: config, loss, teacher-logit cache, student start, training, model card.

    qarepro cache-teacher --config NAME_OR_PATH [key=value ...]
    qarepro distill --config NAME_OR_PATH [--resume] [key=value ...]
    torchrun --nproc_per_node N -m qarepro.distill --config ...     (data parallel; same global batch)

A bare config name resolves to configs/<name>.yaml. Training runs on transformers.Trainer with
our loss (`distillation_loss`, shared/REFERENCE.md §2) computed from teacher logits cached once
before training (`qarepro.teacher`), our AdamW without bias correction (`qarepro.optim`) and a
linear warmup/decay schedule. Everything a run writes goes to outputs/runs/<name>/ (or
`output_dir`): checkpoints/, train.log, config.yaml, train_metrics.json and model/ (the final
model in Hugging Face format with its tokenizer, config.yaml and a README.md model card).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import config as qconfig
from . import io as qio
from . import paths
from .models import source as model_source
from .teacher import (  # noqa: F401  (re-exported: the stage's public API lives here)
    DistillError,
    ModelSourceError,
    TeacherCacheError,
    TeacherLogits,
    cache_teacher,
    check_same_tokenization,
    load_qa_model,
    load_teacher,
    load_tokenizer,
    student_tokenizer_source,
)

log = logging.getLogger(__name__)

from .precision import PRECISIONS  # noqa: E402  ("auto", "fp32", "bf16", "fp16")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the run stops and keeps its last good checkpoint."""


# --------------------------------------------------------------------------------------------
# Config


@dataclass
class DistillConfig:
    """One training run: distillation (teacher set, w > 0) or plain fine-tuning (w = 0)."""

    name: str = qconfig.field(help="run name: outputs/runs/<name>/")
    # models
    teacher: str | None = qconfig.field(None, help="teacher QA model (hub id or directory); null: no distillation")
    teacher_revision: str | None = qconfig.field(None, help="hub revision of the teacher (branch, tag or commit)")
    student: str | None = qconfig.field(None, help="student start checkpoint (hub id or directory)")
    student_revision: str | None = qconfig.field(None, help="hub revision of the student")
    student_init: str = qconfig.field("pretrained", choices=["pretrained", "teacher_layers"],
                                      help="start from `student`, or from the teacher's embeddings + chosen layers")
    student_layers: list[int] = qconfig.field([], help="encoder layers to keep: of the teacher (student_init: teacher_layers) or of the pretrained student")
    # data and windows
    train_data: str = qconfig.field("squad_v2-train", help="registry key or path to a SQuAD JSON file")
    data_dir: str | None = qconfig.field(None, help="folder of local dataset files (else $QAREPRO_DATA_DIR, hub)")
    max_train_examples: int | None = qconfig.field(None, help="keep the first N questions (smoke runs)")
    max_seq_len: int = 384
    max_query_length: int = 64
    doc_stride: int = 128
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
    learning_rate: float = 3e-5
    warmup_proportion: float = 0.2
    weight_decay: float = 0.01
    adam_epsilon: float = 1e-6
    adam_betas: list[float] = qconfig.field([0.9, 0.999])
    correct_bias: bool = False
    max_grad_norm: float = 1.0
    seed: int = 42
    # distillation
    temperature: float = 1.0
    distillation_loss_weight: float = qconfig.field(0.0, help="w: weight of the KL term; 1 - w on hard labels")
    loss_variant: str = qconfig.field("haystack", choices=["haystack", "hf"],
                                      help="haystack: KL_start + KL_end; hf: their mean (research script)")
    teacher_logits: str = qconfig.field("cached", choices=["cached", "online"],
                                        help="cached: teacher run once before training; online: every step")
    teacher_logits_dtype: str = qconfig.field("float32", choices=["float32", "float16"])
    teacher_batch_size: int = 64
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
    checkpoint_every: int = qconfig.field(500, help="save a resumable checkpoint every N steps (0: none)")
    keep_checkpoints: int | None = qconfig.field(2, help="how many recent checkpoints to keep (null: all)")
    log_every: int = 10
    dataloader_workers: int = 0
    output_dir: str | None = qconfig.field(None, help="run folder (default outputs/runs/<name>)")
    overwrite: bool = qconfig.field(False, help="start afresh in a run folder that already has checkpoints/a model")

    def __post_init__(self):
        problems = []
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.per_device_batch_size is not None and self.per_device_batch_size < 1:
            problems.append(f"per_device_batch_size must be >= 1, got {self.per_device_batch_size}")
        if self.epochs < 1 and not self.max_steps:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append(f"max_steps must be >= 1 or null, got {self.max_steps}")
        if not 0.0 <= self.distillation_loss_weight <= 1.0:
            problems.append(f"distillation_loss_weight must be in [0, 1], got {self.distillation_loss_weight}")
        if self.temperature <= 0:
            problems.append(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.warmup_proportion <= 1.0:
            problems.append(f"warmup_proportion must be in [0, 1], got {self.warmup_proportion}")
        if len(self.adam_betas) != 2:
            problems.append(f"adam_betas must be two numbers, got {self.adam_betas}")
        if self.distillation_loss_weight > 0 and not self.teacher:
            problems.append(f"distillation_loss_weight is {self.distillation_loss_weight} but teacher is null "
                            "(set teacher, or distillation_loss_weight: 0 for plain fine-tuning)")
        if self.student_init == "pretrained" and not self.student:
            problems.append("student_init is 'pretrained' but student is null")
        if self.student_init == "teacher_layers":
            if not self.teacher:
                problems.append("student_init 'teacher_layers' needs a teacher")
            if not self.student_layers:
                problems.append("student_init 'teacher_layers' needs student_layers (teacher layer indices)")
        for name in ("embeds_dropout_prob", "model_dropout"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                problems.append(f"{name} must be in [0, 1), got {value}")
        if problems:
            raise qconfig.ConfigError(f"config {self.name!r}: " + "; ".join(problems))

    @property
    def uses_teacher_logits(self) -> bool:
        return bool(self.teacher) and self.distillation_loss_weight > 0


# Keys that may change between a run and its resumption (they do not change the maths).
# Keys that do not change a run's result: a run may be resumed or reused across them. `name`
# only labels a run (cards that share a fine-tuned teacher or a baseline differ in it).
RESUME_FREE_KEYS = {"dataloader_workers", "log_every", "output_dir", "overwrite", "keep_checkpoints",
                    "teacher_batch_size", "data_dir", "name"}


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


# --------------------------------------------------------------------------------------------
# Loss


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
    import torch.nn.functional as F

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


# --------------------------------------------------------------------------------------------
# Student


def init_student_from_teacher(teacher, layers: Sequence[int], **config_overrides):
    """A shallower model of the teacher's family: its embeddings, the chosen encoder layers (in
    the given order) and its QA head, copied. Other config values stay the teacher's."""
    import copy

    from transformers import AutoModelForQuestionAnswering

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
        student = load_qa_model(cfg.student, cfg.student_revision, **overrides)
        if cfg.student_layers:
            # a shallower student cut from a pretrained encoder (DistilBERT-style layer choice)
            student = init_student_from_teacher(student, cfg.student_layers, **overrides)
    add_embeds_dropout(student, cfg.embeds_dropout_prob)
    return student


def _logit_divisor_class():
    import torch
    from transformers.modeling_outputs import QuestionAnsweringModelOutput

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

    return LogitDivisor


def with_logit_divisor(model, init: float = 1.0):
    """`model` wrapped so that its logits are divided by a trained `temperature_for_confidence`."""
    return _logit_divisor_class()(model, init)


def unwrap_divisor(model):
    """(the transformers model, the divisor value or None) of a possibly wrapped model."""
    if hasattr(model, "temperature_for_confidence") and hasattr(model, "model"):
        return model.model, float(model.temperature_for_confidence.detach().float().cpu().item())
    return model, None


def add_embeds_dropout(model, p: float):
    """Dropout on the encoder output feeding the QA head, in training mode only (Haystack's
    `embeds_dropout_prob`). A forward pre-hook: weights and saved files are unchanged."""
    import torch.nn.functional as F

    if not p:
        return None
    head = getattr(model, "qa_outputs", None)
    if head is None:
        raise DistillError(f"{type(model).__name__} has no qa_outputs head to put embeds dropout before")
    return head.register_forward_pre_hook(lambda module, args: (F.dropout(args[0], p, module.training),) + args[1:])


# --------------------------------------------------------------------------------------------
# Training


def resolve_precision(precision: str, device=None) -> str:
    """What `precision` means on `device` (a qarepro.precision.DeviceInfo, a device name, or None:
    this machine's). fp16 on a CPU is a DistillError."""
    from . import precision as qprecision

    try:
        return qprecision.resolve(precision, device)
    except qprecision.PrecisionError as err:
        raise DistillError(str(err)) from None


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


def _collate(features: list[dict]) -> dict:
    import torch

    return {k: torch.stack([f[k] for f in features]).long() for k in features[0]}


def _make_trainer_class():
    import torch
    from transformers import Trainer

    class DistillTrainer(Trainer):
        """Trainer whose loss is `distillation_loss` on cached (or online) teacher logits."""

        loss_is_scaled_for_ga = False  # our loss is a per-micro-batch mean: Trainer divides by GA steps

        def __init__(self, *args, run_cfg: DistillConfig, teacher_logits: TeacherLogits | None = None,
                     online_teacher=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.run_cfg = run_cfg
            self.teacher_logits = teacher_logits
            self.online_teacher = online_teacher
            if online_teacher is not None:
                online_teacher.to(self.args.device).eval()

        def create_scheduler(self, num_training_steps: int, optimizer=None):
            if self.lr_scheduler is None:
                from .optim import linear_warmup_schedule

                self.lr_scheduler = linear_warmup_schedule(optimizer or self.optimizer, num_training_steps,
                                                           self.run_cfg.warmup_proportion)
                self._created_lr_scheduler = True
            return self.lr_scheduler

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            cfg = self.run_cfg
            index = inputs.pop("feature_index")
            start_positions = inputs.pop("start_positions")
            end_positions = inputs.pop("end_positions")
            outputs = model(**inputs)
            s, e = outputs.start_logits.float(), outputs.end_logits.float()
            ts = te = None
            if cfg.uses_teacher_logits:
                if self.teacher_logits is not None:
                    t = self.teacher_logits.gather(index).to(s.device, non_blocking=True)
                else:
                    with torch.no_grad(), self._teacher_autocast():
                        out = self.online_teacher(**inputs)
                    t = torch.stack([out.start_logits, out.end_logits], dim=1).float()
                ts, te = t[:, 0], t[:, 1]
            loss = distillation_loss(s, e, ts, te, start_positions, end_positions, cfg.temperature,
                                     cfg.distillation_loss_weight, cfg.loss_variant)
            self._check_finite(loss)
            return (loss, outputs) if return_outputs else loss

        def _teacher_autocast(self):
            from .teacher import autocast

            return autocast(str(self.args.device), self.run_cfg.teacher_precision)

        def _check_finite(self, loss):
            bad = (~torch.isfinite(loss.detach())).float().reshape(1)
            if self.args.world_size > 1:  # every process must stop, or the others hang in all-reduce
                torch.distributed.all_reduce(bad, op=torch.distributed.ReduceOp.MAX)
            if bad.item():
                last = complete_checkpoints(Path(self.args.output_dir))
                raise NonFiniteLossError(
                    f"loss is {loss.item()} at step {self.state.global_step + 1} (epoch {self.state.epoch or 0:.2f}) "
                    f"in some process; training stopped. Last good checkpoint: "
                    f"{last[-1] if last else 'none'}"
                )

    return DistillTrainer


def _callbacks(cfg: DistillConfig, global_batch: int):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """One progress bar (main process) with loss and samples/s; the same figures go to train.log."""

        def __init__(self):
            self.bar = None
            self.t0 = None
            self.first_step = 0
            self.loss = float("nan")

        def on_train_begin(self, args, state, control, **kw):
            from tqdm.auto import tqdm

            self.t0, self.first_step = time.time(), state.global_step
            if state.is_world_process_zero:
                self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=cfg.name, unit="step",
                                dynamic_ncols=True, mininterval=1.0)

        def samples_per_second(self, state) -> float:
            done = state.global_step - self.first_step
            return done * global_batch / max(time.time() - self.t0, 1e-9)

        def on_step_end(self, args, state, control, **kw):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)
                self.bar.set_postfix(loss=f"{self.loss:.4f}", samples_s=f"{self.samples_per_second(state):.1f}",
                                     refresh=False)

        def on_log(self, args, state, control, logs=None, **kw):
            logs = dict(logs or {})
            if "loss" in logs:
                self.loss = logs["loss"]
            if state.is_world_process_zero:
                logs.update(step=state.global_step, samples_per_second=round(self.samples_per_second(state), 2))
                log.info("train %s", json.dumps(logs))

        def on_save(self, args, state, control, **kw):
            if state.is_world_process_zero:
                log.info("checkpoint saved at step %d", state.global_step)

        def on_train_end(self, args, state, control, **kw):
            if self.bar is not None:
                self.bar.close()

    callbacks = [Progress()]
    delay = float(os.environ.get("QAREPRO_TEST_STEP_DELAY", "0") or 0)
    if delay > 0:  # test hook: makes a tiny run slow enough to be killed mid-epoch

        class Delay(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                time.sleep(delay)

        callbacks.append(Delay())
    return callbacks


def _setup_logging(folder: Path, is_main: bool) -> logging.Handler | None:
    if not is_main:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    saved = []
    for name in ("qarepro", "transformers"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, [(h, h.level) for h in logger.handlers]))
        for h in logger.handlers:  # consoles keep their level: the file gets the detail
            if h.level == logging.NOTSET:
                h.setLevel(logger.getEffectiveLevel())
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
    for name in ("transformers.modeling_utils", "transformers.configuration_utils",
                 "transformers.tokenization_utils_base", "transformers.utils.hub"):
        logging.getLogger(name).setLevel(logging.WARNING)
    handler._qarepro_saved = saved
    return handler


def _teardown_logging(handler: logging.Handler | None) -> None:
    if handler is None:
        return
    for logger, level, handlers in getattr(handler, "_qarepro_saved", []):
        logger.removeHandler(handler)
        logger.setLevel(level)
        for h, h_level in handlers:
            h.setLevel(h_level)
    handler.close()


def _check_resume_config(folder: Path, cfg: DistillConfig) -> None:
    saved_path = folder / "config.yaml"
    if not saved_path.is_file():
        return
    saved = qconfig.load_yaml(saved_path)
    now = qconfig.to_dict(cfg)
    diff = sorted(k for k in now if k not in RESUME_FREE_KEYS and saved.get(k) != now[k])
    if diff:
        raise DistillError(
            f"cannot resume {folder}: the config differs from the one it was started with in "
            + ", ".join(f"{k} ({saved.get(k)!r} -> {now[k]!r})" for k in diff)
        )


def train(cfg: DistillConfig, *, resume: bool = False) -> Path:
    """Train the student; returns the final model folder (outputs/runs/<name>/model)."""
    import torch
    from accelerate import PartialState
    from transformers import TrainingArguments, set_seed

    from .optim import AdamW
    from .teacher import _sample_pairs, load_training_examples, model_inputs, training_features

    # joins the process group when started by torchrun / accelerate launch (gloo on CPU-only machines)
    state = PartialState(cpu=not torch.cuda.is_available())
    world, is_main = state.num_processes, state.is_main_process
    per_device, grad_accum = batch_plan(cfg, world)
    precision = resolve_precision(cfg.precision, str(state.device))
    from .precision import set_tf32

    set_tf32(cfg.tf32)  # the cards' fp32 unless asked: no TF32 matrix products
    folder = run_dir(cfg)
    ckpt_dir, model_dir = folder / "checkpoints", folder / "model"

    last_ckpt = None
    if resume:
        _check_resume_config(folder, cfg)
        done = complete_checkpoints(ckpt_dir)
        last_ckpt = done[-1] if done else None
        if is_main and ckpt_dir.is_dir():  # half-written checkpoints of a killed run
            for p in ckpt_dir.iterdir():
                if p.is_dir() and p.name.startswith("checkpoint-") and p not in done:
                    shutil.rmtree(p, ignore_errors=True)
    elif ckpt_dir.is_dir() or model_dir.exists():
        if not cfg.overwrite:
            raise DistillError(f"run folder {folder} already has checkpoints or a model; pass --resume to "
                               "continue it, or overwrite=true to start afresh")
        if is_main:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
            shutil.rmtree(model_dir, ignore_errors=True)
    state.wait_for_everyone()

    handler = _setup_logging(folder, is_main)
    try:
        if is_main:
            qconfig.dump(cfg, folder / "config.yaml")
            log.info("run %s: %d process(es), micro-batch %d, accumulation %d, global batch %d, precision %s%s",
                     cfg.name, world, per_device, grad_accum, cfg.batch_size, precision,
                     f", resuming from {last_ckpt}" if last_ckpt else (" (no checkpoint yet: from the start)"
                                                                      if resume else ""))
        tokenizer = load_tokenizer(*student_tokenizer_source(cfg))
        teacher_model = None
        with state.main_process_first():
            examples = load_training_examples(cfg)
            if cfg.teacher and (cfg.uses_teacher_logits or cfg.student_init == "teacher_layers"):
                if cfg.student_init != "teacher_layers":
                    teacher_tok = load_tokenizer(cfg.teacher, cfg.teacher_revision)
                    check_same_tokenization(tokenizer, teacher_tok, _sample_pairs(examples))
            features, feature_key = training_features(cfg, tokenizer, examples)
            from .features import cached_label_stats

            label_stats = cached_label_stats(feature_key)
            if label_stats and cfg.label_mode == "haystack":
                log.info("labels (haystack mode): %s", json.dumps(label_stats))
            logits = None
            if cfg.uses_teacher_logits and cfg.teacher_logits == "cached":
                logits = cache_teacher(cfg, tokenizer=tokenizer, features=features, feature_key=feature_key,
                                       device=str(state.device))
        if cfg.uses_teacher_logits and cfg.teacher_logits == "online" or cfg.student_init == "teacher_layers":
            teacher_model = load_teacher(cfg)

        set_seed(cfg.seed)
        student = build_student(cfg, teacher=teacher_model)
        if cfg.learnable_logit_divisor:
            student = with_logit_divisor(student)
        if not (cfg.uses_teacher_logits and cfg.teacher_logits == "online"):
            teacher_model = None
        inputs = model_inputs(tokenizer, features)
        columns = inputs + ["start_positions", "end_positions"]
        dataset = features.select_columns(columns).add_column("feature_index", list(range(len(features))))
        dataset = dataset.with_format("torch")

        args = TrainingArguments(
            output_dir=str(ckpt_dir),
            per_device_train_batch_size=per_device,
            gradient_accumulation_steps=grad_accum,
            num_train_epochs=cfg.epochs,
            max_steps=cfg.max_steps or -1,
            learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay,
            max_grad_norm=cfg.max_grad_norm,
            bf16=precision == "bf16",
            fp16=precision == "fp16",
            seed=cfg.seed,
            data_seed=cfg.seed,
            logging_steps=cfg.log_every,
            save_strategy="steps" if cfg.checkpoint_every else "no",
            save_steps=cfg.checkpoint_every or 500,
            save_total_limit=cfg.keep_checkpoints,
            report_to="none",
            disable_tqdm=True,
            remove_unused_columns=False,
            dataloader_num_workers=cfg.dataloader_workers,
            dataloader_pin_memory=torch.cuda.is_available(),
            ddp_find_unused_parameters=False,
            use_cpu=not torch.cuda.is_available(),
        )
        optimizer = AdamW(student.parameters(), lr=cfg.learning_rate, betas=tuple(cfg.adam_betas),
                          eps=cfg.adam_epsilon, weight_decay=cfg.weight_decay, correct_bias=cfg.correct_bias)
        trainer = _make_trainer_class()(
            model=student, args=args, train_dataset=dataset, data_collator=_collate,
            processing_class=tokenizer, optimizers=(optimizer, None),
            callbacks=_callbacks(cfg, cfg.batch_size), run_cfg=cfg, teacher_logits=logits,
            online_teacher=teacher_model,
        )
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
        t0 = time.time()
        result = trainer.train(resume_from_checkpoint=str(last_ckpt) if last_ckpt else None)
        seconds = time.time() - t0

        if is_main:
            tmp = folder / f".model.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            hf_model, divisor = unwrap_divisor(trainer.accelerator.unwrap_model(trainer.model))
            if divisor is None:
                trainer.save_model(str(tmp))
            else:  # the transformers model alone: the divisor is not exported (Haystack's conversion)
                hf_model.save_pretrained(str(tmp))
                torch.save(trainer.args, tmp / "training_args.bin")
            tokenizer.save_pretrained(str(tmp))
            qconfig.dump(cfg, tmp / "config.yaml")
            metrics = {
                **result.metrics, "global_step": result.global_step, "seconds": round(seconds, 3),
                "features": len(features), "examples": len(examples), "processes": world,
                "per_device_batch_size": per_device, "gradient_accumulation_steps": grad_accum,
                "precision": precision, "tf32": cfg.tf32,
                "learnable_logit_divisor": cfg.learnable_logit_divisor, "logit_divisor": divisor,
                "labels": label_stats,
                "teacher_cache": str(logits.path) if logits is not None else None,
                "resumed_from": str(last_ckpt) if last_ckpt else None,
                "provenance": {"student": model_source(cfg.student, cfg.student_revision) if cfg.student else None,
                               "teacher": model_source(cfg.teacher, cfg.teacher_revision) if cfg.teacher else None},
            }
            qio.write_json(tmp / "train_metrics.json", metrics)
            write_model_card(tmp, cfg, None)
            shutil.rmtree(model_dir, ignore_errors=True)
            os.replace(tmp, model_dir)
            qio.write_json(folder / "train_metrics.json", metrics)
            log.info("run %s: done in %.1f s; model in %s%s", cfg.name, seconds, model_dir,
                     f"; logit divisor {divisor:.6g} (not exported)" if divisor is not None else "")
        state.wait_for_everyone()
        return model_dir
    finally:
        _teardown_logging(handler)


# --------------------------------------------------------------------------------------------
# Model card


def _dataset_block(key: str) -> dict[str, Any]:
    from . import data as qdata

    spec = qdata.REGISTRY.get(key)
    if spec is None:
        return {"name": key, "type": key}
    config = spec.hub_config or spec.hub_data_dir
    name = f"{spec.hub_id} {spec.hub_data_dir}" if spec.hub_data_dir else spec.hub_id  # one repo, several sets
    return {"name": name, "type": spec.hub_id, "config": config, "split": spec.split}


def _metric_value(metrics: Mapping[str, Any], *names: str):
    for n in names:
        if metrics.get(n) is not None:
            return round(float(metrics[n]), 4)
    return None


def write_model_card(model_dir: str | os.PathLike, cfg: DistillConfig, results: Mapping[str, Mapping] | None = None) -> Path:
    """Write model_dir/README.md: a model card whose model-index YAML lists exact match and F1.

    `results` maps a dataset registry key (e.g. "squad_v2-validation") to a metrics mapping with
    "exact" (or "exact_match") and "f1" in percent, as qarepro.metrics.score returns them. With
    None, the SQuAD 2.0 dev entry is written with null values for a later evaluation to fill.
    """
    import yaml

    model_dir = Path(model_dir)
    results = dict(results) if results else {"squad_v2-validation": {}}
    entries = []
    for key, metrics in results.items():
        entries.append({
            "task": {"type": "question-answering", "name": "Question Answering"},
            "dataset": _dataset_block(key),
            "metrics": [
                {"type": "exact_match", "value": _metric_value(metrics, "exact", "exact_match"), "name": "Exact Match"},
                {"type": "f1", "value": _metric_value(metrics, "f1"), "name": "F1"},
            ],
        })
    front = {
        "language": "en",
        "library_name": "transformers",
        "pipeline_tag": "question-answering",
        "tags": ["question-answering", "distillation", "qarepro"],
        "datasets": [_dataset_block(cfg.train_data).get("type", cfg.train_data)],
        "base_model": cfg.student if cfg.student_init == "pretrained" else cfg.teacher,
        "model-index": [{"name": cfg.name, "results": entries}],
    }
    distilled = cfg.uses_teacher_logits
    how = (f"distilled from `{cfg.teacher}` (prediction-layer distillation, temperature {cfg.temperature:g}, "
           f"distillation_loss_weight {cfg.distillation_loss_weight:g}, loss variant {cfg.loss_variant})"
           if distilled else "fine-tuned on the hard labels only (no distillation)")
    source = cfg.student if cfg.student_init == "pretrained" else cfg.teacher
    start = f"layers {cfg.student_layers} of `{source}`" if cfg.student_layers else f"`{source}`"
    scores = "\n".join(
        f"| {key} | {e['metrics'][0]['value'] if e['metrics'][0]['value'] is not None else 'not evaluated yet'} | "
        f"{e['metrics'][1]['value'] if e['metrics'][1]['value'] is not None else 'not evaluated yet'} |"
        for key, e in zip(results, entries)
    )
    hyper = yaml.safe_dump({k: v for k, v in qconfig.to_dict(cfg).items()
                            if k not in ("output_dir", "overwrite", "dataloader_workers", "log_every")},
                           sort_keys=False).strip()
    body = f"""# {cfg.name}

Extractive question answering model (SQuAD 2.0 style: spans or no answer), {how}.
Student start: {start}. Trained with qarepro on `{cfg.train_data}`.

## Scores (official SQuAD 2.0 script, percent)

| dataset | exact match | F1 |
|---|---|---|
{scores}

## Training configuration

```yaml
{hyper}
```

Optimiser: AdamW with decoupled weight decay {cfg.weight_decay:g} on all parameters, correct_bias
{str(cfg.correct_bias).lower()}, linear warmup over {cfg.warmup_proportion:.0%} of the steps then linear decay,
gradient clipping at {cfg.max_grad_norm:g}. Windows: max_seq_len {cfg.max_seq_len}, doc_stride {cfg.doc_stride}
({cfg.stride_mode} convention), max_query_length {cfg.max_query_length}.

## Use

```bash
qarepro predict --model PATH_OR_ID --data squad_v2-validation --out predictions/
```

or in Python: `AutoModelForQuestionAnswering.from_pretrained("PATH_OR_ID")` with its tokenizer.
"""
    text = "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n\n" + body
    path = model_dir / "README.md"
    with qio.atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Command line


def _parser(prog: str, resume: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="config name (configs/<name>.yaml) or path to a YAML file")
    if resume:
        p.add_argument("--resume", action="store_true", help="continue from the run's last complete checkpoint")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (values parsed as YAML)")
    return p


def _console_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("qarepro").setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """`qarepro distill --config NAME_OR_PATH [--resume] [key=value ...]`."""
    args = _parser("qarepro distill", resume=True).parse_args(argv)
    _console_logging()
    try:
        cfg = load_distill_config(args.config, args.overrides)
        model_dir = train(cfg, resume=args.resume)
    except (qconfig.ConfigError, DistillError, ModelSourceError, TeacherCacheError, NonFiniteLossError) as err:
        print(f"qarepro distill: error: {err}", file=sys.stderr)
        return 1 if not isinstance(err, NonFiniteLossError) else 3
    print(model_dir)
    return 0


def cache_teacher_main(argv: list[str] | None = None) -> int:
    """`qarepro cache-teacher --config NAME_OR_PATH [key=value ...]`."""
    args = _parser("qarepro cache-teacher", resume=False).parse_args(argv)
    _console_logging()
    try:
        cfg = load_distill_config(args.config, args.overrides)
        logits = cache_teacher(cfg)
    except (qconfig.ConfigError, DistillError, ModelSourceError, TeacherCacheError) as err:
        print(f"qarepro cache-teacher: error: {err}", file=sys.stderr)
        return 1
    print(logits.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
