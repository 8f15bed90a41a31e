"""Pilot: which recipe trains the pocket-cpu student, chosen before the grid by a handful of short runs.

    QAREPRO_DATA_DIR=/path/to/squad-files python benchmarks/student_recipe.py [--questions 2000] [--only NAME ...]

The question the pocket grid asks (does distillation help, and does the gain grow with data) is
only answerable by students that learn. Each candidate below trains the pocket-cpu student (layers
0, 2 and 4 of pretrained MiniLM-L6, or as the candidate says) **without** distillation on the
first `--questions` SQuAD 1.1 training questions (the grid's largest size; the pocket-cpu
windows: 192 tokens, stride 96; batch 32, seed 42) and scores it on the 2,000-question SQuAD 1.1
dev sample the headline uses. Gate: F1 >= 30 there (issue #19).

  plain-long            the project's plain recipe (the pocket teacher's: bias-corrected AdamW, wd 0,
                        eps 1e-8, no extra dropout or divisor), lr 3e-4, warmup 0.1, 3 epochs
  card-optimiser-long   the cards' student optimiser (Haystack v1: AdamW without bias correction,
                        warmup 0.2, weight decay 0.01, eps 1e-6, embeds dropout 0.1, learnable
                        logit divisor), lr 3e-4, 3 epochs

The profile's earlier student recipe (the cards' optimiser at lr 1.5e-4 for 2 epochs: 14-54 steps
at 125-500 questions) left the students near 10 F1; both candidates here give the student 3x the
steps of that recipe at 2,000 questions (297), at twice its learning rate.

Writes outputs/bench/student_recipe.json after every candidate (read and merged under a lock, so
two invocations with different --only can run side by side, one per core); finished candidates
are reused, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import paths, pipeline, provenance  # noqa: E402
from pocket_bench import PROFILE, merge_record, pocket_stage, score_sample, train_candidate  # noqa: E402

CARD = "roberta-base-squad2-distilled"
CARDS_OPTIMISER = {"correct_bias": False, "warmup_proportion": 0.2, "weight_decay": 0.01, "adam_epsilon": 1e-6,
                   "embeds_dropout_prob": 0.1, "learnable_logit_divisor": True}
PLAIN = {"correct_bias": True, "warmup_proportion": 0.0, "weight_decay": 0.0, "adam_epsilon": 1e-8,
         "embeds_dropout_prob": 0.0, "learnable_logit_divisor": False}
CANDIDATES = {
    "plain-long": {**PLAIN, "learning_rate": 3e-4, "warmup_proportion": 0.1, "epochs": 3},
    "card-optimiser-long": {**CARDS_OPTIMISER, "learning_rate": 3e-4, "epochs": 3},
}
GATE_F1 = 30.0
DATASET, QUESTIONS_SCORED = "squad-validation", 2000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=2000, help="training questions (the first N of SQuAD 1.1 train)")
    ap.add_argument("--only", nargs="*", default=None, choices=list(CANDIDATES), help="candidates to run (default: all)")
    ap.add_argument("--out", default=str(paths.ROOT / "outputs" / "bench" / "student_recipe.json"))
    args = ap.parse_args(argv)
    setup = pocket_stage("03_distill", CARD)
    if setup is None:
        return 2
    stage, _teacher_init = setup
    prof = stage.profile
    student = pipeline.resolve_model(prof.plans[CARD].student, prof)
    root = paths.runs() / prof.name / "student-recipe"
    header = {
        "what": "pocket-cpu student recipes side by side, without distillation, at the grid's largest "
                "training size: same initialisation, questions, windows, batch and seed; F1 on the "
                f"{QUESTIONS_SCORED}-question SQuAD 1.1 dev sample (issue #19 pilot)",
        "profile": PROFILE, "student": pipeline.short_path(student), "questions": args.questions,
        "gate": {"f1_at_least": GATE_F1, "dataset": DATASET, "questions": QUESTIONS_SCORED},
        "candidates": CANDIDATES,
    }
    for name in args.only or list(CANDIDATES):
        t0 = time.time()
        ov = {**pipeline.NO_DISTILLATION, "max_train_examples": args.questions, **CANDIDATES[name]}
        model = train_candidate(stage, student, f"student-recipe/{name}", ov)
        tm = pipeline.train_metrics(model)
        scores = score_sample(str(model), root / "eval" / f"{name}-{args.questions}", prof, DATASET, QUESTIONS_SCORED)
        row = {"model": str(model), "scores": scores,
               "passes_gate": scores["f1"] >= GATE_F1,
               "train_seconds": tm.get("seconds"), "train_samples_per_second": tm.get("train_samples_per_second"),
               "global_step": tm.get("global_step"), "train_loss": tm.get("train_loss"),
               "wall_seconds_this_invocation": round(time.time() - t0, 1)}
        print(f"{name}: F1 {scores['f1']:.2f} / EM {scores['exact']:.2f} on {scores['questions']} questions, "
              f"{row['global_step']} steps", flush=True)

        def update(record: dict) -> None:
            if record.get("questions") != args.questions:
                record.clear()
            record.update(header)
            record.setdefault("results", {})[name] = row
            for gone in set(record["results"]) - set(CANDIDATES):  # candidates no longer in the pilot
                record["results"].pop(gone)
            done = record["results"]
            passing = [k for k in done if done[k]["passes_gate"]]
            record["best"] = max(done, key=lambda k: done[k]["scores"]["f1"])
            record["passing"] = passing
            record["complete"] = set(done) >= set(CANDIDATES)
            record["provenance"] = provenance.collect(profile=PROFILE)

        merge_record(Path(args.out), update)
    return 0


if __name__ == "__main__":
    sys.exit(main())
