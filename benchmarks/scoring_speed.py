"""Scoring at the speed of the model: `qarepro predict`'s windows/s against a bare batched forward pass.

    QAREPRO_DATA_DIR=/path/to/squad-files python benchmarks/scoring_speed.py [--model DIR] [--rounds 3]

Same model, same windows (the pocket-cpu headline: 2,000 SQuAD 1.1 dev questions, 192-token
windows with a 64-token overlap, batch 64, fp32), same process, rounds alternating so that load on
the machine falls on all alike:

  bare       the model's forward over pre-built full-length input tensors, nothing else: the
             ceiling a scorer can approach (no tokenising, no decoding)
  max_length predict_examples as `qarepro predict` runs it, every window at its full length
  dynamic    the same with padding "dynamic": length-sorted batches cut to their longest window

The project's figure counts tokenising (measured once, cold, without the feature cache) plus the
forward loop and decoding of each round: windows / (tokenise + forward + decode). The ratio against
bare is the median over rounds, with the range. The two paddings' answers are compared question by
question (the positions a dynamic batch does not compute can only change answers where a padding
token's logit ranked among a window's 20 best).

Writes outputs/bench/scoring_speed.json and outputs/bench/scoring_speed.png.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from qarepro import data as qdata  # noqa: E402
from qarepro import features as qfeatures  # noqa: E402
from qarepro import io as qio  # noqa: E402
from qarepro import paths, pipeline, provenance  # noqa: E402
from qarepro import predict as qpredict  # noqa: E402
from qarepro.models import load_qa_model, load_tokenizer  # noqa: E402
from qarepro.runtime import model_columns  # noqa: E402
from qarepro.student import init_student_from_teacher  # noqa: E402
from pocket_bench import PROFILE  # noqa: E402

DATASET, QUESTIONS, BATCH = "squad-validation", 2000, 64


def pocket_student(init: str, layers):
    """The pocket student's architecture (speed does not depend on the weights)."""
    model = load_qa_model(init)
    return init_student_from_teacher(model, layers) if layers else model


def bare_round(model, tensors, batch: int) -> float:
    n = len(next(iter(tensors.values())))
    t0 = time.perf_counter()
    with torch.inference_mode():
        for lo in range(0, n, batch):
            model(**{k: v[lo:lo + batch] for k, v in tensors.items()})
    return n / (time.perf_counter() - t0)


def project_round(model, tokenizer, examples, window, padding: str, tokenise_s: float):
    preds, facts = qpredict.predict_examples(model, tokenizer, examples, window=window, batch_size=BATCH,
                                             device="cpu", precision="fp32", padding=padding)
    t = facts["timings"]
    return facts["n_features"] / (tokenise_s + t["model_s"] + t["decode_s"]), preds


def summary(rates):
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "rounds": rates}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="a trained QA model folder (default: the pocket student's "
                                                   "architecture from its pretrained encoder)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(paths.ROOT / "outputs" / "bench" / "scoring_speed.json"))
    args = ap.parse_args(argv)
    prof = pipeline.load_profile(PROFILE)
    data_dir = pipeline.data_dir(prof)
    examples = qdata.load_examples(DATASET, data_dir, sample=QUESTIONS)
    window = pipeline.eval_window(prof, "hf")
    plan = next(iter(prof.plans.values()))
    init = pipeline.resolve_model(plan.student, prof)
    if args.model:
        model, tokenizer = load_qa_model(args.model), load_tokenizer(args.model)
    else:
        model, tokenizer = pocket_student(init, plan.overrides.get("student_layers")), load_tokenizer(init)
    model.eval()
    t0 = time.perf_counter()
    feats = qfeatures.build_features(examples, tokenizer, window, use_cache=False)
    tokenise_s = time.perf_counter() - t0
    qfeatures.build_features(examples, tokenizer, window)  # the feature cache the project's rounds read
    columns = model_columns(model, feats.column_names)
    arrays = feats.with_format("numpy", columns=columns)[:]
    tensors = {k: torch.as_tensor(np.asarray(arrays[k]), dtype=torch.long) for k in columns}
    lengths = tensors["attention_mask"].sum(dim=1).numpy()
    rates = {"bare": [], "max_length": [], "dynamic": []}
    preds = {}
    for r in range(args.rounds):
        rates["bare"].append(bare_round(model, tensors, BATCH))
        for padding in ("max_length", "dynamic"):
            rate, preds[padding] = project_round(model, tokenizer, examples, window, padding, tokenise_s)
            rates[padding].append(rate)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in rates.items()) + " windows/s", flush=True)
    ids = list(examples["id"])
    same = sum(preds["max_length"].answers[q] == preds["dynamic"].answers[q] for q in ids)
    scores = {p: qpredict.score_examples(examples, preds[p]) for p in preds}
    ratios = {p: [a / b for a, b in zip(rates[p], rates["bare"])] for p in ("max_length", "dynamic")}
    record = {
        "what": "qarepro predict's windows/s (tokenising cold + forward + decoding) against a bare batched "
                "forward pass of the same model on the same windows, rounds alternating in one process (issue #19)",
        "profile": PROFILE, "dataset": DATASET, "questions": len(examples), "windows": len(feats),
        "model": pipeline.short_path(args.model) if args.model else f"{plan.student} layers "
                                                                     f"{plan.overrides.get('student_layers')}",
        "batch_size": BATCH, "window": pipeline.config_dict(window), "torch_threads": torch.get_num_threads(),
        "mean_window_tokens": float(lengths.mean()), "window_tokens_padded": int(tensors["input_ids"].shape[1]),
        "tokenise_cold_s": tokenise_s,
        "windows_per_s": {k: summary(v) for k, v in rates.items()},
        "ratio_to_bare": {p: summary(v) for p, v in ratios.items()},
        "gate": {"ratio_at_least": 0.8, "passes": {p: min(v) >= 0.8 for p, v in ratios.items()}},
        "answers_identical": {"questions": len(ids), "same": same},
        "f1": {p: s["f1"] for p, s in scores.items()}, "exact": {p: s["exact"] for p, s in scores.items()},
        "provenance": provenance.collect(profile=PROFILE),
    }
    out = Path(args.out)
    qio.write_json(out, record)
    plot(record, out.with_suffix(".png"))
    print(f"ratio to bare (median of {args.rounds}): max_length {record['ratio_to_bare']['max_length']['median']:.2f}, "
          f"dynamic {record['ratio_to_bare']['dynamic']['median']:.2f}; answers identical {same}/{len(ids)}")
    return 0


def plot(record: dict, path: Path) -> None:
    import matplotlib  # deferred: only the figure needs it

    matplotlib.use("Agg")  # a file, no display
    import matplotlib.pyplot as plt  # deferred with matplotlib

    names = ["bare", "max_length", "dynamic"]
    labels = ["bare forward\n(model only)", "qarepro predict\nmax_length", "qarepro predict\ndynamic"]
    w = record["windows_per_s"]
    med = [w[n]["median"] for n in names]
    err = [[m - w[n]["min"] for m, n in zip(med, names)], [w[n]["max"] - m for m, n in zip(med, names)]]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.bar(labels, med, yerr=err, capsize=4, color=["#999999", "#4c72b0", "#55a868"])
    for i, n in enumerate(names[1:], start=1):
        ax.annotate(f"{record['ratio_to_bare'][n]['median']:.2f}x bare", (i, w[n]["max"]), ha="center",
                    va="bottom", xytext=(0, 6), textcoords="offset points")
    ax.set_ylabel("windows per second")
    ax.set_title(f"Scoring {record['questions']:,} questions ({record['windows']:,} windows), "
                 f"{record['torch_threads']} thread(s)", fontsize=10)
    ax.text(0.0, -0.28, "bars: median of the rounds; error bars: min to max over rounds", transform=ax.transAxes,
            fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
