"""Evaluate one model on several datasets; one metrics JSON per dataset plus a summary.

Layout written under `out_dir`:
    <dataset_key>/predictions.json, na_prob.json, nbest.json, metrics.json,
                  questions.csv.gz (per question: id, exact, f1, na_prob)
    metrics.json   (summary: every dataset's scores, settings, speed and provenance)
The summary is written last, so its presence means the evaluation finished.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import data as qdata
from . import decode as qdecode
from . import features as qfeatures
from . import io as qio
from . import models as qmodels
from . import paths
from . import predict as qpredict
from . import provenance

log = logging.getLogger("qarepro.evaluate")


def dataset_label(source: str) -> str:
    """A folder-safe name for a dataset key or file path."""
    return Path(source).stem if source.endswith(".json") else source


def _dataset_source(source: str, data_dir: str | None) -> dict[str, Any]:
    """Where an evaluated dataset came from: the hub (with its resolved commit) or a local file."""
    if source in qdata.REGISTRY and qdata.local_file(source, data_dir) is None:
        return {"kind": "hub", **qdata.hub_source(source)}
    return {"kind": "file"}


def evaluate_model(model: str, datasets: Sequence[str], out_dir: str | Path, *, data_dir: str | None = None,
                   window: qfeatures.WindowConfig | None = None, decoder: str = "hf", batch_size: int = 32,
                   limit: int | None = None, sample: int | None = None,
                   samples: Mapping[str, int] | None = None, profile: str | None = None,
                   allow_no_answer: bool | None = None,
                   null_threshold: float = 0.0, device: str | None = None, precision: str = "auto",
                   revision: str | None = None, label: str | None = None, padding: str = "max_length",
                   extra_provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score `model` on every dataset in `datasets`; returns the summary that is also written.

    `sample`: N questions spread evenly over each dataset; `samples`: per dataset, overriding it."""
    samples = dict(samples or {})
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    qa_model, tokenizer = qpredict.load_model(model, revision)
    n_params = sum(p.numel() for p in qa_model.parameters())
    model_source = qmodels.source(model, revision)
    results: dict[str, Any] = {}
    fingerprints: dict[str, str] = {}
    for source in datasets:
        name = dataset_label(source)
        n_sample = samples.get(source, sample)
        examples = qdata.load_examples(source, data_dir, limit=limit, sample=n_sample)
        fingerprints[name] = qdata.fingerprint(examples)
        preds, facts = qpredict.predict_examples(
            qa_model, tokenizer, examples, window=window, decoder=decoder, batch_size=batch_size,
            null_threshold=null_threshold, allow_no_answer=allow_no_answer, device=device, precision=precision,
            padding=padding)
        metrics = qpredict.score_examples(examples, preds)
        qdecode.write_predictions(preds, out_dir / name)
        write_question_scores(qpredict.question_scores(examples, preds), out_dir / name / QUESTION_SCORES)
        record = {"model": model, "label": label or model, "dataset": source, "metrics": metrics, **facts,
                  "provenance": provenance.collect(profile=profile, datasets={name: fingerprints[name]},
                                                  limit=limit, sample=n_sample, model_source=model_source,
                                                  dataset_source=_dataset_source(source, data_dir))}
        qio.write_json(out_dir / name / "metrics.json", paths.portable(record))
        results[name] = {"metrics": metrics, "speed": facts["speed"], "n_questions": facts["n_questions"],
                         "n_features": facts["n_features"], "allow_no_answer": facts["allow_no_answer"]}
        log.info("%s on %s: EM %.2f F1 %.2f", label or model, name, metrics["exact"], metrics["f1"])
    summary = {
        "model": model, "label": label or model, "revision": revision, "n_parameters": n_params,
        "settings": {"decoder": decoder, "window": asdict(window or qpredict.default_window(decoder)),
                     "padding": padding,
                     "null_threshold": null_threshold, "batch_size": batch_size, "limit": limit,
                     "sample": sample, **({"samples": samples} if samples else {})},
        "results": results,
        "provenance": provenance.collect(profile=profile, datasets=fingerprints,
                                         timings={"total_s": time.perf_counter() - t0}, model_source=model_source,
                                         **(extra_provenance or {})),
    }
    qio.write_json(out_dir / "metrics.json", paths.portable(summary))
    return summary


# Per-question scores of one dataset (id, exact, f1, na_prob), small enough to commit with the metrics.
QUESTION_SCORES = "questions.csv.gz"


def has_question_scores(folder: str | Path, datasets) -> bool:
    """Whether an evaluation folder holds the per-question scores of every one of `datasets` (what a
    reused cell or evaluation must have: the paired analysis reads them)."""
    return all((Path(folder) / ds / QUESTION_SCORES).is_file() for ds in datasets)


def write_question_scores(frame, path: Path) -> Path:
    """Write the per-question scores as gzip CSV with a fixed gzip header (mtime 0): the same scores
    give the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False, float_format="%.6g", compression={"method": "gzip", "mtime": 0})
    os.replace(tmp, path)
    return path


def read_question_scores(path: str | Path):
    """The per-question scores written by `write_question_scores` (id as str)."""
    import pandas as pd  # deferred: only the analyses of committed records read these

    return pd.read_csv(path, dtype={"id": str}, compression="gzip")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qarepro evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="local model directory or hub id")
    p.add_argument("--revision", default=None)
    p.add_argument("--data", nargs="+", required=True, help="dataset keys or SQuAD-format JSON files")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--decoder", choices=["hf", "haystack"], default="hf")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = evaluate_model(args.model, args.data, args.out, data_dir=args.data_dir, decoder=args.decoder,
                                 batch_size=args.batch_size, limit=args.limit, precision=args.precision,
                                 revision=args.revision)
    except (qpredict.ModelSourceError, qdata.DataSourceError, qdata.DataError) as err:
        print(f"qarepro evaluate: {err}", file=sys.stderr)
        return 1
    for name, r in summary["results"].items():
        print(f"{name:<32} EM {r['metrics']['exact']:6.2f}  F1 {r['metrics']['f1']:6.2f}  n={r['n_questions']}")
    return 0
