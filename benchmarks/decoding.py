"""Benchmark: vectorised decoding (qarepro.decode) against plain per-question Python loops.

Synthetic data of realistic shape: 12,000 questions, 1-3 windows each, max_seq_len 384, about
250 context tokens per window ([CLS] question [SEP] context [SEP] padding), windows stepping
128 tokens through the passage; logits shaped like a trained model's (question, special and
padding tokens low, an answer peak in context for most questions, a [CLS] score that decides
no-answer for some). Float32 logits, as the model writes them.

Baselines, same process, same data:
* ``loop_all_pairs``: for every window, loop in Python over ALL start x end pairs (what the
  decoder would be without vectorisation; the Haystack rule). Too slow for 12k questions: it
  runs on the first ``--subset-all-pairs`` questions and is extrapolated linearly in the number
  of questions (the JSON says so).
* ``loop_topk_pairs``: utils_qa's own per-example loop (Python ``sorted`` top-20 starts and
  ends, loop over the 20 x 20 pairs); runs on all questions by default (``--subset-topk``
  makes it a subset, extrapolated the same way).
Both baselines' answers are checked against the vectorised decoders on their subsets.

Usage: python benchmarks/decoding.py [--questions 12000] [--out outputs/bench/decoding.json]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qarepro import paths  # noqa: E402
from qarepro.decode import decode  # noqa: E402
from qarepro.io import write_json  # noqa: E402

SEQ = 384
STEP = 128
CONTEXT_TOKENS = 250


def synthetic(n_questions: int, seed: int = 0):
    """Examples, example_index, offsets, start and end logits of realistic shape."""
    rng = np.random.default_rng(seed)
    n_win = rng.integers(1, 4, size=n_questions)
    q_len = rng.integers(8, 25, size=n_questions)
    n_feat = int(n_win.sum())
    ex_idx = np.repeat(np.arange(n_questions), n_win)
    offsets = np.full((n_feat, SEQ, 2), -1, dtype=np.int64)
    start = rng.normal(-8.0, 1.0, size=(n_feat, SEQ)).astype(np.float32)  # question/special/padding
    end = rng.normal(-8.0, 1.0, size=(n_feat, SEQ)).astype(np.float32)
    ids, contexts = [], []
    word_len = rng.integers(2, 9, size=(n_questions, SEQ + STEP * 2))
    f = 0
    for q in range(n_questions):
        room = min(CONTEXT_TOKENS + int(rng.integers(-20, 21)), SEQ - int(q_len[q]) - 3)
        doc_tokens = room + STEP * (int(n_win[q]) - 1)
        lens = word_len[q, :doc_tokens]
        starts = np.concatenate([[0], np.cumsum(lens + 1)[:-1]])  # one space between words
        ids.append(f"q{q:05d}")
        contexts.append(" ".join("w" * int(n) for n in lens))
        answerable = rng.random() < 0.67
        a_start = int(rng.integers(0, doc_tokens))
        a_end = min(doc_tokens - 1, a_start + int(rng.integers(0, 6)))
        for w in range(int(n_win[q])):
            first = w * STEP
            take = min(room, doc_tokens - first)
            lo = 2 + int(q_len[q])  # [CLS] question [SEP]
            toks = np.arange(first, first + take)
            offsets[f, lo : lo + take, 0] = starts[toks]
            offsets[f, lo : lo + take, 1] = starts[toks] + lens[toks]
            start[f, lo : lo + take] = rng.normal(-2.0, 2.0, size=take)
            end[f, lo : lo + take] = rng.normal(-2.0, 2.0, size=take)
            if answerable and first <= a_start < first + take:
                start[f, lo + a_start - first] += rng.normal(9.0, 2.0)
            if answerable and first <= a_end < first + take:
                end[f, lo + a_end - first] += rng.normal(9.0, 2.0)
            start[f, 0] = rng.normal(0.0 if answerable else 6.0, 2.0)
            end[f, 0] = rng.normal(0.0 if answerable else 6.0, 2.0)
            f += 1
    examples = {"id": ids, "context": contexts}
    return examples, ex_idx, offsets, start, end


def _windows_by_question(ex_idx, n_questions):
    out = [[] for _ in range(n_questions)]
    for f, q in enumerate(ex_idx.tolist()):
        out[q].append(f)
    return out


def loop_all_pairs(examples, ex_idx, offsets, start, end, n_questions, max_len=1000, boost=0.0):
    """Plain Python: every start x end pair of every window (the Haystack rule)."""
    wins = _windows_by_question(ex_idx, len(examples["id"]))
    answers = {}
    for q in range(n_questions):
        best, best_text, margin = -math.inf, "", math.inf
        for f in wins[q]:
            s_log, e_log, off = start[f].tolist(), end[f].tolist(), offsets[f].tolist()
            na = s_log[0] + e_log[0] + boost
            w_best, w_text = -math.inf, ""
            for s in range(SEQ):
                for e in range(SEQ):
                    if off[s][0] < 0 or off[e][0] < 0 or e < s or e - s + 1 > max_len:
                        continue
                    if off[e][1] <= off[s][0]:
                        continue
                    score = s_log[s] + e_log[e]
                    if score > w_best:
                        w_best, w_text = score, examples["context"][q][off[s][0] : off[e][1]]
            if w_best > best:
                best, best_text = w_best, w_text
            if w_best > -math.inf:
                margin = min(margin, na - w_best)
        answers[examples["id"][q]] = "" if margin > 0 else best_text
    return answers


def loop_topk_pairs(examples, ex_idx, offsets, start, end, n_questions, n_best=20, max_len=30):
    """Plain Python, utils_qa style: top-n_best starts x top-n_best ends per window."""
    wins = _windows_by_question(ex_idx, len(examples["id"]))
    answers = {}
    for q in range(n_questions):
        best, best_text, null = -math.inf, "", math.inf
        for f in wins[q]:
            s_log, e_log, off = start[f].tolist(), end[f].tolist(), offsets[f].tolist()
            null = min(null, s_log[0] + e_log[0])
            s_top = sorted(range(SEQ), key=lambda i: (-s_log[i], i))[:n_best]
            e_top = sorted(range(SEQ), key=lambda i: (-e_log[i], i))[:n_best]
            for s in s_top:
                for e in e_top:
                    if off[s][0] < 0 or off[e][0] < 0 or e < s or e - s + 1 > max_len:
                        continue
                    if off[e][1] <= off[s][0]:
                        continue
                    score = s_log[s] + e_log[e]
                    if score > best:
                        best, best_text = score, examples["context"][q][off[s][0] : off[e][1]]
        answers[examples["id"][q]] = "" if best == -math.inf or null - best > 0 else best_text
    return answers


def _timed(fn, repeat=1):
    """Best wall-clock and CPU (process) seconds over `repeat` runs, and the last result.

    CPU time is reported too because the machine may be shared: wall time then includes
    waiting for a core, CPU time does not (all code here is single-threaded numpy/Python)."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), walls, result


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=12000)
    ap.add_argument("--subset-all-pairs", type=int, default=200)
    ap.add_argument("--subset-topk", type=int, default=12000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    n = args.questions

    t0 = time.perf_counter()
    examples, ex_idx, offsets, start, end = synthetic(n)
    gen_s = time.perf_counter() - t0
    valid = offsets[:, :, 0] >= 0
    print(f"{n} questions, {len(ex_idx)} windows, seq {SEQ}, "
          f"{valid.sum(1).mean():.0f} context tokens/window (generated in {gen_s:.1f} s)", flush=True)

    results = {}
    for method in ("hf", "haystack"):
        wall, cpu, walls, preds = _timed(
            lambda: decode(examples, ex_idx, offsets, start, end, method=method), args.repeat)
        results[method] = dict(seconds=wall, cpu_seconds=cpu, seconds_all_runs=walls, questions_per_s=n / wall,
                               questions_per_cpu_s=n / cpu,
                               no_answer_rate=sum(a == "" for a in preds.answers.values()) / n, preds=preds)
        print(f"decode {method}: {wall:.2f} s wall, {cpu:.2f} s CPU ({n / wall:,.0f} questions/s wall)", flush=True)

    baselines = {}
    for name, fn, subset, method in (
        ("loop_all_pairs", loop_all_pairs, args.subset_all_pairs, "haystack"),
        ("loop_topk_pairs", loop_topk_pairs, args.subset_topk, "hf"),
    ):
        k = min(subset, n)
        wall, cpu, _, answers = _timed(lambda: fn(examples, ex_idx, offsets, start, end, k))
        ref = results[method]["preds"].answers
        agree = sum(answers[i] == ref[i] for i in answers)
        baselines[name] = dict(
            questions_run=k, seconds_measured=wall, cpu_seconds_measured=cpu,
            seconds_for_all=wall * n / k, cpu_seconds_for_all=cpu * n / k,
            extrapolated=k < n, questions_per_s=k / wall, compared_with=f"decode(method={method!r})",
            same_answers=f"{agree}/{k}",
        )
        print(f"{name}: {wall:.2f} s wall, {cpu:.2f} s CPU on {k} questions -> {wall * n / k:.1f} s wall, "
              f"{cpu * n / k:.1f} s CPU for {n}{' (extrapolated linearly)' if k < n else ''}; "
              f"answers equal to decode {method}: {agree}/{k}", flush=True)

    ratios = {}
    for base, method in (("loop_all_pairs", "hf"), ("loop_all_pairs", "haystack"), ("loop_topk_pairs", "hf")):
        ratios[f"{base} / decode_{method}"] = dict(
            wall=baselines[base]["seconds_for_all"] / results[method]["seconds"],
            cpu=baselines[base]["cpu_seconds_for_all"] / results[method]["cpu_seconds"],
        )
        print(f"speed-up {base} / decode {method}: {ratios[f'{base} / decode_{method}']['wall']:,.0f}x wall, "
              f"{ratios[f'{base} / decode_{method}']['cpu']:,.0f}x CPU")
    report = {
        "benchmark": "decoding",
        "data": dict(questions=n, windows=int(len(ex_idx)), seq_len=SEQ, window_step=STEP,
                     context_tokens_per_window=float(valid.sum(1).mean()), logits_dtype=str(start.dtype),
                     seed=0, generated_seconds=gen_s),
        "decode": {m: {k: v for k, v in r.items() if k != "preds"} for m, r in results.items()},
        "baselines": baselines,
        "ratios": ratios,
        "note": "baselines run on the first questions_run questions and are extrapolated linearly "
                "to all questions where extrapolated is true; same process, same data",
        "machine": dict(cpu_count=os.cpu_count(), platform=platform.platform(), processor=platform.processor(),
                        python=platform.python_version(), numpy=np.__version__,
                        load_average=os.getloadavg() if hasattr(os, "getloadavg") else None),
    }
    out = args.out or paths.bench() / "decoding.json"
    write_json(out, report)
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
