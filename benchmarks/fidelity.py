"""The measured effect of each fidelity default (issue #10), side by side, on the pocket-cpu scale.

    QAREPRO_DATA_DIR=/path/to/squad-files python benchmarks/fidelity.py [--card CARD] [--seed 42] [--skip NAME ...]

Trains the card's pocket-cpu student (configs/profiles/pocket-cpu.yaml: MiniLM-L6 teacher fine-tuned
here, 3-layer MiniLM student, 1,000 SQuAD 1.1 training questions) at one seed with the old defaults
and with each new default changed alone, then all new defaults together; scores every model on the
profile's seven evaluation sets; and writes outputs/bench/fidelity_deltas.json: per-dataset F1 of
each variant and its difference from the old defaults, beside the 3-seed spread of the card setting
from the committed pocket-cpu run (outputs/pocket-cpu/05_ablations.json).

Variants (one factor at a time against "old"):
  old           learnable_logit_divisor off, label_mode hf, precision fp32 (what the configs said before)
  divisor       learnable_logit_divisor on
  labels        label_mode haystack
  bf16          precision bf16 (student training; the teacher cache and the scoring stay fp32)
  new           divisor on + label_mode haystack (fp32): what the card configs now resolve to
Decoding, on the "old" model: the haystack decoder at the old default window (384 / 128 step) and
at FARMReader's (256 / 128 step), and the number of exact no-answer ties (where >= and > differ);
and the same model scored under bf16 autocast (mixed precision at inference only).

Everything goes through the library (qarepro.pipeline.card_config / train, qarepro.evaluate);
finished runs and evaluations are reused, so an interrupted run picks up where it stopped. The JSON
is rewritten after every step (partial results are marked).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import evaluate as qevaluate  # noqa: E402
from qarepro import features as qfeatures  # noqa: E402
from qarepro import io as qio  # noqa: E402
from qarepro import predict as qpredict  # noqa: E402
from qarepro import paths, pipeline, provenance  # noqa: E402
from pocket_bench import PROFILE, pocket_stage  # noqa: E402

OLD = {"learnable_logit_divisor": False, "label_mode": "hf", "precision": "fp32"}
VARIANTS = {
    "old": {},
    "divisor": {"learnable_logit_divisor": True},
    "labels": {"label_mode": "haystack"},
    "new": {"learnable_logit_divisor": True, "label_mode": "haystack"},
    "bf16": {"precision": "bf16"},
}
MEASURED_TEACHER = {"correct_bias": False, "warmup_proportion": 0.2, "max_train_examples": 1000, "checkpoint_every": 50}
OLD_HAYSTACK_WINDOW = dict(max_seq_len=384, max_query_length=64, doc_stride=128, stride_mode="haystack")


def rel(p) -> str:
    """A path relative to the project root (or to the outputs folder), never absolute."""
    p = Path(p).resolve()
    for base, label in ((ROOT, ""), (paths.outputs(), "<outputs>/")):
        try:
            return label + str(p.relative_to(base))
        except ValueError:
            pass
    return p.name


def seed_spread(card: str) -> dict:
    """Per-dataset sd over seeds of the card setting, and of the 7-set mean, from the committed run."""
    f = paths.ROOT / "outputs" / "pocket-cpu" / "05_ablations.json"
    if not f.is_file():
        return {}
    runs = [r for r in qio.read_json(f)["runs"] if r["card"] == card and r["factor"] == "seed" and r["decoder"] == "hf"]
    by_ds: dict[str, dict[int, float]] = {}
    for r in runs:
        by_ds.setdefault(r["dataset"], {})[r["seed"]] = r["f1"]
    seeds = sorted({r["seed"] for r in runs})
    means = [statistics.mean(by_ds[d][s] for d in by_ds) for s in seeds]
    return {"source": "outputs/pocket-cpu/05_ablations.json (factor seed, decoder hf)", "seeds": seeds,
            "f1_sd": {d: statistics.stdev(v.values()) for d, v in by_ds.items()},
            "f1_seed42": {d: v.get(42) for d, v in by_ds.items()},
            "mean_f1_sd": statistics.stdev(means), "mean_f1_by_seed": dict(zip(seeds, means))}


def evaluate(model: str, out: Path, datasets, prof, decoder: str, window, precision: str | None = None) -> dict:
    if (out / "metrics.json").is_file():
        old = qio.read_json(out / "metrics.json")
        if old["settings"]["window"] == dataclasses.asdict(window) and old["settings"]["decoder"] == decoder:
            return old
    return qevaluate.evaluate_model(model, datasets, out, data_dir=pipeline.data_dir(prof), window=window,
                                    decoder=decoder, batch_size=prof.eval_batch_size, limit=prof.eval_limit,
                                    sample=prof.eval_sample, profile=prof.name, device="cpu",
                                    precision=precision or prof.precision, label=out.name)


def f1s(summary: dict) -> dict[str, float]:
    return {d: r["metrics"]["f1"] for d, r in summary["results"].items()}


def ties(summary_dir: Path) -> dict[str, int]:
    """Questions decoded with na_prob at sigmoid(0) (or one ulp above): an exact no-answer tie."""
    import numpy as np

    half, above = 0.5, float(np.nextafter(0.5, 1.0))
    out = {}
    for f in sorted(summary_dir.glob("*/na_prob.json")):
        out[f.parent.name] = sum(1 for v in qio.read_json(f).values() if v in (half, above))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--card", default="roberta-base-squad2-distilled")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--skip", nargs="*", default=[], choices=sorted(VARIANTS), help="variants to leave out")
    ap.add_argument("--out", default=str(paths.ROOT / "outputs" / "bench" / "fidelity_deltas.json"))
    args = ap.parse_args(argv)
    setup = pocket_stage("03_distill", args.card)
    if setup is None:
        return 2
    stage, init = setup
    prof = stage.profile
    card = args.card
    datasets = prof.ablation.datasets or prof.eval_datasets
    root = paths.runs() / prof.name / "fidelity"
    t_start = time.time()
    record: dict = {
        "what": "pocket-cpu student of one card at one seed: each changed default against the old one (issue #10)",
        "card": card, "seed": args.seed, "profile": prof.name, "datasets": datasets,
        "old_defaults": OLD, "variants": VARIANTS, "complete": False,
        "seed_spread": seed_spread(card), "runs": {}, "decoding": {},
    }

    def save():
        record["f1_delta_vs_old"] = {
            name: {d: r["f1"][d] - record["runs"]["old"]["f1"][d] for d in r["f1"]}
            for name, r in record["runs"].items() if name != "old" and "old" in record["runs"]}
        record["mean_f1_delta_vs_old"] = {n: statistics.mean(v.values()) for n, v in record["f1_delta_vs_old"].items()}
        record["seconds"] = round(time.time() - t_start, 1)
        record["provenance"] = provenance.collect(profile=prof.name)
        qio.write_json(args.out, record)

    # the teacher: fine-tuned once with the old defaults, shared by every variant
    # the teacher recipe these measurements were made with (the profile's teacher has since changed)
    t_ov = {**pipeline.NO_DISTILLATION, **prof.teacher_finetune, **OLD, **MEASURED_TEACHER}
    probe = pipeline.card_config(stage, card, student=init, overrides=t_ov)
    t_cfg = pipeline.card_config(stage, card, student=init, overrides=t_ov,
                                 run_name=f"fidelity/teacher-{pipeline.run_identity(pipeline.config_dict(probe))}")
    t0 = time.time()
    teacher = str(pipeline.model_dir(pipeline.train_or_reuse(t_cfg)))
    record["teacher"] = {"model": rel(teacher), "seconds": round(time.time() - t0, 1)}
    print(f"teacher: {rel(teacher)} ({time.time() - t0:.0f} s)", flush=True)

    hf_window = pipeline.eval_window(prof, "hf")
    earlier = qio.read_json(args.out).get("runs", {}) if Path(args.out).is_file() else {}
    for name, change in VARIANTS.items():
        ov = {**OLD, **change, "seed": args.seed}
        probe = pipeline.card_config(stage, card, teacher=teacher, overrides=ov)
        h = pipeline.run_identity(pipeline.config_dict(probe))
        if name in args.skip:
            # a skipped variant keeps its earlier measurement when that was the same run (same hash)
            if earlier.get(name, {}).get("config_hash") == h:
                record["runs"][name] = {**earlier[name], "measured_in_earlier_invocation": True}
            continue
        cfg = pipeline.card_config(stage, card, teacher=teacher, overrides=ov, run_name=f"fidelity/{name}-{h}")
        t0 = time.time()
        model = str(pipeline.model_dir(pipeline.train_or_reuse(cfg)))
        train_s = round(time.time() - t0, 1)
        tm = pipeline.train_metrics(model)
        summary = evaluate(model, root / "eval" / f"{name}-hf", datasets, prof, "hf", hf_window)
        record["runs"][name] = {
            "overrides": {**OLD, **change}, "run": rel(Path(model).parent), "config_hash": h,
            "f1": f1s(summary), "mean_f1": statistics.mean(f1s(summary).values()),
            "exact": {d: r["metrics"]["exact"] for d, r in summary["results"].items()},
            "decoder": "hf", "window": summary["settings"]["window"],
            "train": {k: tm.get(k) for k in ("global_step", "features", "precision", "logit_divisor",
                                             "learnable_logit_divisor", "labels", "train_loss", "seconds")},
            "train_seconds_here": train_s,
        }
        print(f"{name}: mean F1 {record['runs'][name]['mean_f1']:.2f} (train {train_s:.0f} s)", flush=True)
        if name == "old" and "old" in earlier:
            # variants carried over from an earlier invocation are comparable only if "old" reproduced
            record["old_reproduces_earlier_invocation"] = earlier["old"]["f1"] == record["runs"]["old"]["f1"]
        save()
        if name == "old":
            old_model = model
            for label, window in (("haystack-384-128", qfeatures.WindowConfig(**OLD_HAYSTACK_WINDOW)),
                                  ("haystack-256-128", qpredict.default_window("haystack")),
                                  ("haystack-profile", pipeline.eval_window(prof, "haystack"))):
                out = root / "eval" / f"old-{label}"
                s = evaluate(old_model, out, datasets, prof, "haystack", window)
                record["decoding"][label] = {"f1": f1s(s), "mean_f1": statistics.mean(f1s(s).values()),
                                             "window": s["settings"]["window"], "exact_ties": ties(out)}
            record["decoding"]["hf-profile"] = {"f1": record["runs"]["old"]["f1"],
                                                "mean_f1": record["runs"]["old"]["mean_f1"],
                                                "window": record["runs"]["old"]["window"],
                                                "exact_ties": ties(root / "eval" / "old-hf")}
            # mixed precision at inference, on the same fp32-trained model (a cheap bound where
            # training in bf16 is too slow on a CPU without native bf16)
            s = evaluate(old_model, root / "eval" / "old-hf-bf16-inference", datasets, prof, "hf", hf_window, "bf16")
            record["bf16_inference"] = {"f1": f1s(s), "mean_f1": statistics.mean(f1s(s).values()),
                                        "f1_delta_vs_fp32": {k: f1s(s)[k] - record["runs"]["old"]["f1"][k]
                                                             for k in datasets}}
            record["bf16_inference"]["mean_f1_delta_vs_fp32"] = statistics.mean(
                record["bf16_inference"]["f1_delta_vs_fp32"].values())
            d = record["decoding"]
            record["decoding_delta"] = {
                "haystack 256/128 (new default) - haystack 384/128 (old default)":
                    {k: d["haystack-256-128"]["f1"][k] - d["haystack-384-128"]["f1"][k] for k in datasets},
            }
            record["decoding_delta_mean"] = {k: statistics.mean(v.values()) for k, v in record["decoding_delta"].items()}
            save()
    record["complete"] = set(record["runs"]) == set(VARIANTS)
    save()
    print(json.dumps({"mean_f1_delta_vs_old": record["mean_f1_delta_vs_old"],
                      "decoding_delta_mean": record.get("decoding_delta_mean"),
                      "seed_sd_mean_f1": record["seed_spread"].get("mean_f1_sd")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
