"""Which recipe fine-tunes the pocket teacher: candidates side by side on the same data and questions.

    QAREPRO_DATA_DIR=/path/to/squad-files python benchmarks/teacher_recipe.py [--questions 1000] [--only NAME ...]

The pocket profiles fine-tune MiniLM-L6 into the teacher before distilling. The distillation
cards' optimiser (AdamW without bias correction) is the cards' *student* recipe; a teacher should
be trained the way readers are trained. Each candidate below fine-tunes the same initialisation
on the same first `--questions` SQuAD 1.1 training questions (the pocket-cpu windows: 192 tokens,
stride 96; batch 32, lr 1.5e-4, 2 epochs, seed 42) and is scored on the same questions:
the pocket-cpu 150-question SQuAD 1.1 dev sample and the 2,000-question sample the headline uses.

  card-optimiser      the project's fine-tune as the profile had it: correct_bias false, warmup 0.2
  corrected           correct_bias true, warmup 0.2
  corrected-nowarmup  correct_bias true, no warmup
  plain-settings      the project's fine-tune with the plain Trainer's settings: correct_bias true,
                      no warmup, weight decay 0, eps 1e-8, no embeds dropout, no logit divisor
  plain-trainer       transformers.Trainer defaults (torch AdamW, no warmup, wd 0), the
                      examples-style recipe, on the same features; scored by the same decoder

Writes outputs/bench/teacher_recipe.json after every candidate (finished ones are reused, so an
interrupted run resumes); each row has its F1/EM, train and wall seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import io as qio  # noqa: E402
from qarepro import paths, pipeline, provenance  # noqa: E402
from pocket_bench import PROFILE, pocket_stage, score_sample, train_candidate  # noqa: E402
from qarepro.training_data import training_features  # noqa: E402
from qarepro.models import load_tokenizer  # noqa: E402

CARD = "roberta-base-squad2-distilled"
PROJECT_CANDIDATES = {
    "card-optimiser": {"correct_bias": False, "warmup_proportion": 0.2},
    "corrected": {"correct_bias": True, "warmup_proportion": 0.2},
    "corrected-nowarmup": {"correct_bias": True, "warmup_proportion": 0.0},
    # what separates corrected-nowarmup from plain-trainer: Haystack's weight decay, epsilon, extra
    # dropout and logit divisor
    "plain-settings": {"correct_bias": True, "warmup_proportion": 0.0, "weight_decay": 0.0,
                       "adam_epsilon": 1e-8, "embeds_dropout_prob": 0.0, "learnable_logit_divisor": False},
}
PLAIN = "plain-trainer"
# the keys a candidate sets; the profile's values for them are left out, so the project candidates
# that do not name one take DistillConfig's default (Haystack's settings)
RECIPE_KEYS = {"correct_bias", "warmup_proportion", "weight_decay", "adam_epsilon", "embeds_dropout_prob",
               "learnable_logit_divisor"}
SAMPLES = {"sample-150": 150, "sample-2000": 2000}  # SQuAD 1.1 dev questions, spread evenly
DATASET = "squad-validation"


def common_settings(prof) -> dict:
    """The profile's teacher fine-tune less its recipe keys: what every candidate shares."""
    return {k: v for k, v in prof.teacher_finetune.items() if k not in RECIPE_KEYS}


def project_teacher(stage, init: str, name: str, change: dict, questions: int) -> tuple[str, float]:
    ov = {**pipeline.NO_DISTILLATION, **common_settings(stage.profile), "max_train_examples": questions, **change}
    t0 = time.time()
    model = train_candidate(stage, init, f"teacher-recipe/{name}", ov)
    return str(model), time.time() - t0


def plain_teacher(stage, init: str, questions: int, folder: Path) -> tuple[str, float, dict]:
    """transformers.Trainer with its defaults on the same features; saved like any model."""
    from transformers import Trainer, TrainingArguments, default_data_collator

    from qarepro.models import load_qa_model

    model_dir = folder / "model"
    if (model_dir / "train_metrics.json").is_file():
        return str(model_dir), 0.0, qio.read_json(model_dir / "train_metrics.json")
    prof = stage.profile
    cfg = pipeline.card_config(stage, CARD, student=init,
                               overrides={**pipeline.NO_DISTILLATION, **common_settings(prof),
                                          "max_train_examples": questions})
    tokenizer = load_tokenizer(init)
    features, _ = training_features(cfg, tokenizer)
    data = features.select_columns(["input_ids", "token_type_ids", "attention_mask", "start_positions",
                                    "end_positions"])
    import transformers

    transformers.set_seed(cfg.seed)
    model = load_qa_model(init)
    args = TrainingArguments(output_dir=str(folder / "checkpoints"), per_device_train_batch_size=cfg.batch_size,
                             num_train_epochs=cfg.epochs, learning_rate=cfg.learning_rate, seed=cfg.seed,
                             logging_steps=10, save_strategy="no", report_to="none", disable_tqdm=True,
                             use_cpu=True)
    t0 = time.time()
    result = Trainer(model=model, args=args, train_dataset=data, data_collator=default_data_collator).train()
    seconds = time.time() - t0
    tmp = folder / "model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    metrics = {**result.metrics, "global_step": result.global_step, "seconds": round(seconds, 1),
               "features": len(features)}
    qio.write_json(tmp / "train_metrics.json", metrics)
    shutil.rmtree(model_dir, ignore_errors=True)
    os.replace(tmp, model_dir)
    return str(model_dir), seconds, metrics


def score(model: str, out: Path, prof) -> dict:
    return {label: score_sample(model, out / label, prof, DATASET, n) for label, n in SAMPLES.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=1000, help="training questions (the first N of SQuAD 1.1 train)")
    ap.add_argument("--only", nargs="*", default=None, choices=[*PROJECT_CANDIDATES, PLAIN],
                    help="candidates to run (default: all)")
    ap.add_argument("--out", default=str(paths.ROOT / "outputs" / "bench" / "teacher_recipe.json"))
    args = ap.parse_args(argv)
    setup = pocket_stage("02_teachers", CARD)
    if setup is None:
        return 2
    stage, init = setup
    prof = stage.profile
    root = paths.runs() / prof.name / "teacher-recipe"
    names = args.only or [*PROJECT_CANDIDATES, PLAIN]
    out_file = Path(args.out)
    record = qio.read_json(out_file) if out_file.is_file() else {}
    if record.get("questions") != args.questions:
        record = {}
    record.update({
        "what": "pocket teacher fine-tune recipes side by side: same initialisation, training questions, "
                "windows, batch, lr, epochs and seed; F1 on the same SQuAD 1.1 dev samples (issue #13)",
        "profile": PROFILE, "init": pipeline.short_path(init), "questions": args.questions,
        "common": {k: v for k, v in common_settings(prof).items() if k not in ("student_layers", "max_train_examples")},
        "candidates": {**{k: v for k, v in PROJECT_CANDIDATES.items()},
                       PLAIN: "transformers.Trainer defaults: torch AdamW (bias-corrected), no warmup, "
                              "weight decay 0, linear decay"},
    })
    record.setdefault("results", {})
    for name in names:
        t0 = time.time()
        if name == PLAIN:
            model, train_s, tm = plain_teacher(stage, init, args.questions, root / f"{PLAIN}-{args.questions}")
        else:
            model, train_s = project_teacher(stage, init, name, PROJECT_CANDIDATES[name], args.questions)
            tm = pipeline.train_metrics(model)
        scores = score(model, root / "eval" / f"{name}-{args.questions}", prof)
        prev = record["results"].get(name, {})
        record["results"][name] = {
            "model": pipeline.short_path(model), "scores": scores,
            "train_seconds": tm.get("seconds") or prev.get("train_seconds") or round(train_s, 1),
            "train_samples_per_second": tm.get("train_samples_per_second"),
            "global_step": tm.get("global_step"), "train_loss": tm.get("train_loss"),
            "wall_seconds_this_invocation": round(time.time() - t0, 1),
        }
        print(f"{name}: F1 {scores['sample-150']['f1']:.2f} (150) / {scores['sample-2000']['f1']:.2f} (2000)",
              flush=True)
        done = record["results"]
        best = max(done, key=lambda k: done[k]["scores"]["sample-2000"]["f1"])
        record["best_on_sample_2000"] = best
        record["complete"] = set(done) >= {*PROJECT_CANDIDATES, PLAIN}
        record["provenance"] = provenance.collect(profile=PROFILE)
        qio.write_json(out_file, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
