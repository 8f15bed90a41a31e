"""Training throughput of the project's fine-tune against a plain Hugging Face Trainer recipe, side by side.

    QAREPRO_DATA_DIR=/path/to/squad-files python benchmarks/throughput.py [--steps 30] [--rounds 3]

Both recipes train the same model (the pocket-cpu teacher's initialisation: MiniLM-L6, pretrained,
new QA head) on the same training features (the pocket-cpu profile's: SQuAD 1.1 questions in
192-token windows), batch 32, fp32, on this machine, in this one process:

  plain    transformers.Trainer with its defaults (torch AdamW, default_data_collator), the
           examples-style recipe (run_qa.py): lr 1.5e-4, warmup 0.2, no checkpoints
  project  qarepro.distill.train with the profile's teacher fine-tune settings (its own AdamW,
           Haystack loss, collate, callbacks), no checkpoints either (they are a resume feature,
           timed separately below)

Rounds alternate plain, project, plain, project, ... so that load on the machine falls on both
alike; each round trains `--steps` optimizer steps and reports Trainer's own train_samples_per_second
(the same definition for both). The ratio project / plain is the median over rounds. Then one short
torch.profiler pass of each recipe lists where a step's time goes (top operators by self CPU time).

Writes outputs/bench/throughput.json and outputs/bench/throughput_profile.txt.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import io as qio  # noqa: E402
from qarepro import paths, pipeline, provenance  # noqa: E402
from pocket_bench import PROFILE, pocket_stage  # noqa: E402
from qarepro.training_data import training_features  # noqa: E402
from qarepro.models import load_qa_model, load_tokenizer  # noqa: E402

CARD = "roberta-base-squad2-distilled"
PLAIN_COLUMNS = ["input_ids", "token_type_ids", "attention_mask", "start_positions", "end_positions"]


def project_config(stage, init: str, steps: int, folder: str):
    prof = stage.profile
    ov = {**pipeline.NO_DISTILLATION, **prof.teacher_finetune, "max_steps": steps, "checkpoint_every": 0,
          "overwrite": True}
    return pipeline.card_config(stage, CARD, student=init, overrides=ov, run_name=folder)


def run_project(cfg) -> dict:
    from qarepro import distill

    t0 = time.time()
    model = distill.train(cfg)
    wall = time.time() - t0
    m = qio.read_json(Path(model) / "train_metrics.json")
    return {"samples_per_second": m["train_samples_per_second"], "train_runtime": m["train_runtime"],
            "wall_seconds": round(wall, 2), "global_step": m["global_step"]}


def plain_trainer(init: str, dataset, cfg, steps: int, out: Path):
    from transformers import Trainer, TrainingArguments, default_data_collator

    model = load_qa_model(init)
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=cfg.batch_size, max_steps=steps,
                             learning_rate=cfg.learning_rate, warmup_steps=0.2, seed=cfg.seed, logging_steps=10,
                             save_strategy="no", report_to="none", disable_tqdm=True, use_cpu=True)
    return Trainer(model=model, args=args, train_dataset=dataset, data_collator=default_data_collator)


def run_plain(init: str, dataset, cfg, steps: int, out: Path) -> dict:
    t0 = time.time()
    trainer = plain_trainer(init, dataset, cfg, steps, out)
    result = trainer.train()
    wall = time.time() - t0
    return {"samples_per_second": result.metrics["train_samples_per_second"],
            "train_runtime": result.metrics["train_runtime"], "wall_seconds": round(wall, 2),
            "global_step": result.global_step}


def top_ops(prof, n: int = 25) -> str:
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=n)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each recipe, alternating")
    ap.add_argument("--profile-steps", type=int, default=4, help="steps under torch.profiler (0: no profile)")
    ap.add_argument("--out", default=str(paths.ROOT / "outputs" / "bench" / "throughput.json"))
    args = ap.parse_args(argv)
    setup = pocket_stage("02_teachers", CARD)
    if setup is None:
        return 2
    import torch

    stage, init = setup
    work = paths.runs() / PROFILE / "bench-throughput"
    cfg = project_config(stage, init, args.steps, "bench-throughput/project")
    tokenizer = load_tokenizer(init)
    features, _ = training_features(cfg, tokenizer)
    plain_data = features.select_columns(PLAIN_COLUMNS)

    rounds = []
    for r in range(args.rounds):
        row = {}
        for name in ("plain", "project"):
            if name == "plain":
                row[name] = run_plain(init, plain_data, cfg, args.steps, work / "plain")
            else:
                row[name] = run_project(cfg)
            print(f"round {r + 1} {name}: {row[name]['samples_per_second']:.2f} samples/s", flush=True)
        row["ratio"] = row["project"]["samples_per_second"] / row["plain"]["samples_per_second"]
        rounds.append(row)

    profile_text = ""
    if args.profile_steps:
        from torch.profiler import ProfilerActivity, profile

        pcfg = project_config(stage, init, args.profile_steps, "bench-throughput/project-profile")
        trainer = plain_trainer(init, plain_data, cfg, args.profile_steps, work / "plain-profile")
        with profile(activities=[ProfilerActivity.CPU]) as p_plain:
            trainer.train()
        from qarepro import distill

        with profile(activities=[ProfilerActivity.CPU]) as p_project:
            distill.train(pcfg)
        profile_text = (f"# plain Trainer recipe, {args.profile_steps} steps\n{top_ops(p_plain)}\n\n"
                        f"# project fine-tune, {args.profile_steps} steps (includes loading the model and "
                        f"the cached features)\n{top_ops(p_project)}\n")
        Path(args.out).with_name("throughput_profile.txt").write_text(profile_text, encoding="utf-8")

    ratios = [r["ratio"] for r in rounds]
    record = {
        "what": "training samples/s of the project's fine-tune vs a plain transformers.Trainer recipe, "
                "same model, features, batch and machine, rounds alternating (issue #13)",
        "profile": PROFILE, "model": pipeline.short_path(init), "features": len(features),
        "batch_size": cfg.batch_size, "max_seq_len": cfg.max_seq_len, "steps_per_round": args.steps,
        "torch_threads": torch.get_num_threads(),
        "rounds": rounds,
        "median_samples_per_second": {k: statistics.median(r[k]["samples_per_second"] for r in rounds)
                                      for k in ("plain", "project")},
        "ratio_project_over_plain": statistics.median(ratios),
        "ratio_min_max": [min(ratios), max(ratios)],
        "profile_file": "outputs/bench/throughput_profile.txt" if profile_text else None,
        "provenance": provenance.collect(profile=PROFILE),
    }
    qio.write_json(args.out, record)
    shutil.rmtree(work, ignore_errors=True)
    print(f"project / plain: {record['ratio_project_over_plain']:.3f} (rounds {', '.join(f'{x:.3f}' for x in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
