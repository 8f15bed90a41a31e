"""Distillation, the stage's one import and its command lines.

    qarepro cache-teacher --config NAME_OR_PATH [key=value ...]
    qarepro distill --config NAME_OR_PATH [--resume] [key=value ...]
    torchrun --nproc_per_node N -m qarepro.distill --config ...     (data parallel; same global batch)

A bare config name resolves to configs/<name>.yaml. The work is done by one module per concern,
whose public names are re-exported here:

    distill_config  DistillConfig (strict YAML), where a run's files go, the run errors
    training_data   training questions, their windows, the same-tokenisation check
    teacher         the teacher-logit cache
    loss            distillation_loss (shared/REFERENCE.md §2)
    student         the student at step 0 (layer cut, embeds dropout, logit divisor)
    trainer         transformers.Trainer with our loss, optimiser, schedule, logging; `train`
    model_card      README.md with model-index YAML beside each model
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import config as qconfig
from .distill_config import (RESUME_FREE_KEYS, DistillConfig, DistillError, NonFiniteLossError, batch_plan,
                             complete_checkpoints, load_distill_config, resolve_config_path, run_dir)
from .loss import distillation_loss
from .model_card import write_model_card
from .models import ModelSourceError, load_qa_model, load_tokenizer
from .student import (LogitDivisor, add_embeds_dropout, build_student, init_student_from_teacher, unwrap_divisor,
                      with_logit_divisor)
from .teacher import TeacherCacheError, TeacherLogits, cache_teacher, load_teacher, open_cache
from .trainer import DistillTrainer, train, training_precision
from .training_data import (check_same_tokenization, load_training_examples, sample_pairs, student_tokenizer_source,
                            training_features, vocabulary_fingerprint, window_config)

__all__ = [
    "RESUME_FREE_KEYS", "DistillConfig", "DistillError", "DistillTrainer", "LogitDivisor", "ModelSourceError",
    "NonFiniteLossError", "TeacherCacheError", "TeacherLogits", "add_embeds_dropout", "batch_plan", "build_student",
    "cache_teacher", "cache_teacher_main", "check_same_tokenization", "complete_checkpoints", "distillation_loss",
    "init_student_from_teacher", "load_distill_config", "load_qa_model", "load_teacher", "load_tokenizer",
    "load_training_examples", "main", "open_cache", "resolve_config_path", "run_dir", "sample_pairs",
    "student_tokenizer_source", "train", "training_features", "training_precision", "unwrap_divisor",
    "vocabulary_fingerprint", "window_config", "with_logit_divisor", "write_model_card",
]


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


def _exit_status(err: Exception) -> int:
    """2: a config that does not fit its schema (nothing was started); 3: the loss diverged; 1: the rest."""
    if isinstance(err, qconfig.ConfigError):
        return 2
    return 3 if isinstance(err, NonFiniteLossError) else 1


def main(argv: list[str] | None = None) -> int:
    """`qarepro distill --config NAME_OR_PATH [--resume] [key=value ...]`."""
    args = _parser("qarepro distill", resume=True).parse_args(argv)
    _console_logging()
    try:
        cfg = load_distill_config(args.config, args.overrides)
        model_dir = train(cfg, resume=args.resume)
    except (qconfig.ConfigError, DistillError, ModelSourceError, TeacherCacheError, NonFiniteLossError) as err:
        print(f"qarepro distill: error: {err}", file=sys.stderr)
        return _exit_status(err)
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
        return _exit_status(err)
    print(logits.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
