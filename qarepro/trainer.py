"""Training a student: transformers.Trainer with the distillation loss on cached (or online) teacher
logits, the cards' AdamW (qarepro.optim), a linear warmup/decay schedule, resumable checkpoints,
one progress bar and a train.log per run.

Everything a run writes goes to outputs/runs/<name>/ (or `output_dir`): checkpoints/, train.log,
config.yaml, train_metrics.json and model/ (the final model in Hugging Face format with its
tokenizer, config.yaml and a README.md model card).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import torch
from accelerate import PartialState
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_callback import PrinterCallback
from tqdm.auto import tqdm

from . import config as qconfig
from . import io as qio
from .distill_config import (RESUME_FREE_KEYS, DistillConfig, DistillError, NonFiniteLossError, batch_plan,
                             complete_checkpoints, run_dir)
from .features import cached_label_stats
from .loss import distillation_loss
from .model_card import write_model_card
from .models import load_tokenizer
from .models import source as model_source
from .optim import AdamW, linear_warmup_schedule
from .runtime import PrecisionError, autocast, model_columns, resolve_precision, set_tf32
from .student import build_student, unwrap_divisor, with_logit_divisor
from .teacher import TeacherLogits, cache_teacher, load_teacher
from .training_data import (check_same_tokenization, load_training_examples, sample_pairs, student_tokenizer_source,
                            training_features)

log = logging.getLogger("qarepro.distill")  # one logger name for a run's train.log, whichever module writes


def training_precision(precision: str, device=None) -> str:
    """What `precision` means for training on `device` (qarepro.runtime.resolve_precision); fp16 on a
    CPU is a DistillError, so the command line reports it like any bad setting."""
    try:
        return resolve_precision(precision, device)
    except PrecisionError as err:
        raise DistillError(str(err)) from None


def collate(features: list[dict]) -> dict:
    return {k: torch.stack([f[k] for f in features]).long() for k in features[0]}


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


class Progress(TrainerCallback):
    """One progress bar (main process) with loss and samples/s; the same figures go to train.log."""

    def __init__(self, name: str, global_batch: int):
        self.name, self.global_batch = name, global_batch
        self.bar = None
        self.t0 = None
        self.first_step = 0
        self.loss: float | None = None  # the last logged loss; none before the first log_every step

    def on_train_begin(self, args, state, control, **kw):
        self.t0, self.first_step = time.time(), state.global_step
        if state.is_world_process_zero:
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.name, unit="step",
                            dynamic_ncols=True, mininterval=1.0)

    def samples_per_second(self, state) -> float:
        done = state.global_step - self.first_step
        return done * self.global_batch / max(time.time() - self.t0, 1e-9)

    def on_step_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)
            self.bar.set_postfix(self.postfix(state), refresh=False)

    def postfix(self, state) -> dict[str, str]:
        """The bar's figures: samples/s, and the loss once one has been logged (never a NaN stand-in)."""
        shown = {} if self.loss is None else {"loss": f"{self.loss:.4f}"}
        return {**shown, "samples_s": f"{self.samples_per_second(state):.1f}"}

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


class StepDelay(TrainerCallback):
    """Test hook ($QAREPRO_TEST_STEP_DELAY seconds after each step): makes a tiny run slow enough to
    be killed mid-epoch."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_step_end(self, args, state, control, **kw):
        time.sleep(self.seconds)


def callbacks(cfg: DistillConfig) -> list[TrainerCallback]:
    found = [Progress(cfg.name, cfg.batch_size)]
    delay = float(os.environ.get("QAREPRO_TEST_STEP_DELAY", "0") or 0)
    if delay > 0:
        found.append(StepDelay(delay))
    return found


class RunLog:
    """train.log of a run (main process): qarepro's and transformers' INFO records go to the file
    while consoles keep their levels; `close` puts every logger back as it was."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.handler = logging.FileHandler(folder / "train.log", encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.handler.setLevel(logging.INFO)
        self.saved = []
        for name in ("qarepro", "transformers"):
            logger = logging.getLogger(name)
            self.saved.append((logger, logger.level, [(h, h.level) for h in logger.handlers]))
            for h in logger.handlers:  # consoles keep their level: the file gets the detail
                if h.level == logging.NOTSET:
                    h.setLevel(logger.getEffectiveLevel())
            logger.addHandler(self.handler)
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
        for name in ("transformers.modeling_utils", "transformers.configuration_utils",
                     "transformers.tokenization_utils_base", "transformers.utils.hub"):
            logging.getLogger(name).setLevel(logging.WARNING)

    def close(self) -> None:
        for logger, level, handlers in self.saved:
            logger.removeHandler(self.handler)
            logger.setLevel(level)
            for h, h_level in handlers:
                h.setLevel(h_level)
        self.handler.close()


def check_resume_config(folder: Path, cfg: DistillConfig) -> None:
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
    # joins the process group when started by torchrun / accelerate launch (gloo on CPU-only machines)
    state = PartialState(cpu=not torch.cuda.is_available())
    world, is_main = state.num_processes, state.is_main_process
    per_device, grad_accum = batch_plan(cfg, world)
    precision = training_precision(cfg.precision, str(state.device))
    set_tf32(cfg.tf32)  # the cards' fp32 unless asked: no TF32 matrix products
    folder = run_dir(cfg)
    ckpt_dir, model_dir = folder / "checkpoints", folder / "model"

    last_ckpt = None
    if resume:
        check_resume_config(folder, cfg)
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

    run_log = RunLog(folder) if is_main else None
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
                    check_same_tokenization(tokenizer, teacher_tok, sample_pairs(examples))
            features, feature_key = training_features(cfg, tokenizer, examples)
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
        columns = model_columns(student, features.column_names) + ["start_positions", "end_positions"]
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
        trainer = DistillTrainer(
            model=student, args=args, train_dataset=dataset, data_collator=collate,
            processing_class=tokenizer, optimizers=(optimizer, None),
            callbacks=callbacks(cfg), run_cfg=cfg, teacher_logits=logits,
            online_teacher=teacher_model,
        )
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
                "provenance": {"student": model_source(cfg.student, cfg.student_revision, cfg.student_family)
                               if cfg.student else None,
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
        if run_log is not None:
            run_log.close()
