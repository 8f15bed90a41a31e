"""Check that qarepro.metrics scores exactly like the official SQuAD 2.0 script, on real data.

    python scripts/check_scorer.py [--data squad-v2.0-dev.json] [--preds predictions.json
                                    [--na-probs na_prob.json]] [--seed 0] [--out FILE]

Runs the official evaluate-v2.0.py (kept unmodified in tests/oracle/) as a subprocess and
``qarepro.metrics.score`` (and the ``qarepro score`` command) on the same inputs, in several
settings: without and with the no-answer probability file, several --na-prob-thresh values,
and with the precision-recall images. Every key is compared (names, order, values); the
command's stdout and the saved images are compared byte for byte.

Predictions: the files given, or else a deterministic synthetic set drawn from the data
(seeded): gold answers, case/punctuation/article variants, partial and over-long spans, empty
answers, texts that normalise to "", wrong spans from the context, and no-answer
probabilities from {0, 0.25, 0.5, 0.75, 1} (many ties, some written as integers) in shuffled
order. The data file defaults to $QAREPRO_DATA_DIR/squad-v2.0-dev.json.

Writes outputs/bench/scorer_equivalence.json (under $QAREPRO_OUTPUTS if set); exit status 0
when every setting agrees within the tolerance, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import metrics, paths  # noqa: E402
from qarepro.io import write_json  # noqa: E402

ORACLE = ROOT / "tests" / "oracle" / "evaluate_v2_official.py"
DATA_NAME = "squad-v2.0-dev.json"
TOLERANCE = 1e-9
# A non-empty answer that matches no gold answer: what a missing prediction is scored as.
SENTINEL = "qareproxnoxprediction"
NA_VALUES = (0, 0.0, 0.25, 0.5, 0.75, 1.0, 1)


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Synthetic predictions


def _variant(text: str, rng: random.Random) -> str:
    """Same answer after normalisation: case, punctuation, articles, whitespace."""
    choice = rng.randrange(6)
    if choice == 0:
        return text.upper()
    if choice == 1:
        return text.lower() + rng.choice([".", ",", "!", "'", '"'])
    if choice == 2:
        return rng.choice(["The ", "the ", "a ", "An "]) + text
    if choice == 3:
        return "  " + text.replace(" ", "   ") + "\t"
    if choice == 4:
        return f"({text})"
    return text.title()


def _partial(text: str, context_words: Sequence[str], rng: random.Random) -> str:
    """Overlapping but different: drop words from an end, or add context words."""
    words = text.split()
    if len(words) > 1 and rng.random() < 0.5:
        cut = rng.randrange(1, len(words))
        return " ".join(words[:cut] if rng.random() < 0.5 else words[cut:])
    extra = " ".join(rng.sample(list(context_words), k=min(2, len(context_words)))) if context_words else "extra"
    return f"{text} {extra}" if rng.random() < 0.5 else f"{extra} {text}"


def _wrong_span(context_words: Sequence[str], rng: random.Random) -> str:
    if not context_words:
        return "nothing"
    n = rng.randint(1, 4)
    start = rng.randrange(max(1, len(context_words) - n))
    return " ".join(context_words[start : start + n])


def synthetic_predictions(
    dataset: Sequence[Mapping[str, Any]], seed: int = 0, drop_fraction: float = 0.0
) -> tuple[dict[str, str], dict[str, float]]:
    """Seeded adversarial (predictions, no-answer probabilities) for every question of ``dataset``.

    ``drop_fraction`` of the questions get no prediction (their probability is kept).
    """
    rng = random.Random(seed)
    preds: dict[str, str] = {}
    na_probs: dict[str, float] = {}
    for article in dataset:
        for paragraph in article["paragraphs"]:
            context_words = paragraph.get("context", "").split()
            for qa in paragraph["qas"]:
                golds = [a["text"] for a in qa["answers"]] or [a["text"] for a in qa.get("plausible_answers", [])]
                gold = rng.choice(golds) if golds else _wrong_span(context_words, rng)
                kind = rng.choices(
                    ["gold", "variant", "partial", "empty", "junk", "wrong"], weights=[3, 2, 2, 3, 1, 2]
                )[0]
                text = {
                    "gold": lambda: gold,
                    "variant": lambda: _variant(gold, rng),
                    "partial": lambda: _partial(gold, context_words, rng),
                    "empty": lambda: "",
                    "junk": lambda: rng.choice([".", " the ", "a", " , ", "An!"]),
                    "wrong": lambda: _wrong_span(context_words, rng),
                }[kind]()
                high = kind == "empty" or not qa["answers"]
                na_probs[qa["id"]] = rng.choice(NA_VALUES[3:] if high and rng.random() < 0.7 else NA_VALUES)
                if rng.random() >= drop_fraction:
                    preds[qa["id"]] = text
    order = list(na_probs)
    rng.shuffle(order)  # tie order decides the official sweep: make it differ from file order
    return preds, {k: na_probs[k] for k in order}


# --------------------------------------------------------------------------------------------
# Running both scorers


def run_oracle(data: Path, preds: Path, args: Sequence[str], cwd: Path) -> tuple[dict, str]:
    cmd = [sys.executable, str(ORACLE), str(data), str(preds), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if out.returncode != 0:
        raise RuntimeError(f"official script failed ({' '.join(cmd)}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout), out.stdout


def run_cli(data: Path, preds: Path, args: Sequence[str], cwd: Path) -> str:
    cmd = [sys.executable, "-m", "qarepro.cli", "score", str(data), str(preds), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"qarepro score failed:\n{out.stderr[-2000:]}")
    return out.stdout


def compare(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> dict[str, Any]:
    """Key names/order and the largest absolute difference of the values."""
    diffs = {k: abs(float(expected[k]) - float(actual[k])) for k in expected if k in actual}
    return {
        "keys": list(expected),
        "keys_match": list(expected) == list(actual),
        "types_match": all(type(expected[k]) is type(actual.get(k)) for k in expected),
        "max_abs_diff": max(diffs.values()) if diffs else None,
        "worst_key": max(diffs, key=diffs.get) if diffs else None,
    }


def settings(has_na: bool) -> list[tuple[str, list[str]]]:
    rows = [("no_na_probs", []), ("no_na_probs_t-0.5", ["-t", "-0.5"])]
    if has_na:
        rows += [
            ("na_probs", ["-n", "{na}"]),
            ("na_probs_t0.5", ["-n", "{na}", "-t", "0.5"]),
            ("na_probs_t0.0", ["-n", "{na}", "-t", "0.0"]),
            ("na_probs_t0.25", ["-n", "{na}", "-t", "0.25"]),
            ("na_probs_images", ["-n", "{na}", "-p", "{img}"]),
        ]
    return rows


def check(data: Path, preds: dict, na_probs: dict | None, work: Path) -> dict[str, Any]:
    """Every setting: oracle vs score() vs the command line."""
    dataset = metrics.load_dataset(data)
    qids = list(metrics.make_qid_to_has_ans(dataset))
    missing = [q for q in qids if q not in preds]
    # the official script crashes on missing predictions: give it what qarepro scores them as
    oracle_preds = {**preds, **{q: SENTINEL for q in missing}}
    pred_file, oracle_pred_file, na_file = work / "preds.json", work / "oracle_preds.json", work / "na.json"
    pred_file.write_text(json.dumps(preds))
    oracle_pred_file.write_text(json.dumps(oracle_preds))
    if na_probs is not None:
        na_file.write_text(json.dumps({**na_probs, **{q: 0.0 for q in missing if q not in na_probs}}))
    results: dict[str, Any] = {}
    for name, template in settings(na_probs is not None):
        args = [a.format(na=na_file, img=work / f"img_oracle_{name}") for a in template]
        mine_args = [a.format(na=na_file, img=work / f"img_qarepro_{name}") for a in template]
        t0 = time.perf_counter()
        expected, oracle_stdout = run_oracle(data, oracle_pred_file, args, work)
        t1 = time.perf_counter()
        thresh = float(args[args.index("-t") + 1]) if "-t" in args else 1.0
        img = work / f"img_api_{name}" if "-p" in args else None
        actual = metrics.score(data, preds, na_probs if "-n" in args else None, thresh, img)
        t2 = time.perf_counter()
        row = compare(expected, actual)
        row.update(args=template, oracle_seconds=round(t1 - t0, 3), qarepro_seconds=round(t2 - t1, 3))
        if not missing:  # with missing ids the oracle saw different files, so stdout differs
            row["cli_stdout_identical"] = run_cli(data, pred_file, mine_args, work) == oracle_stdout
        if "-p" in args:
            oracle_dir = work / f"img_oracle_{name}"
            row["images"] = sorted(p.name for p in oracle_dir.iterdir())
            row["images_identical"] = all(
                (work / f"img_qarepro_{name}" / p).read_bytes() == (oracle_dir / p).read_bytes()
                for p in row["images"]
            ) if not missing else None
        row["oracle"] = expected
        results[name] = row
    return {"missing_predictions": len(missing), "settings": results}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help=f"official SQuAD 2.0 JSON (default: $QAREPRO_DATA_DIR/{DATA_NAME})")
    parser.add_argument("--preds", help="predictions.json (default: synthetic predictions)")
    parser.add_argument("--na-probs", help="na_prob.json for --preds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic predictions")
    parser.add_argument("--out", help="result file (default: outputs/bench/scorer_equivalence.json)")
    opts = parser.parse_args(argv)

    data_dir = paths.data_dir()
    data = Path(opts.data) if opts.data else (data_dir / DATA_NAME if data_dir else None)
    if data is None or not data.is_file():
        parser.error(f"data file not found ({data}); pass --data or set ${paths.DATA_DIR_ENV}")
    if opts.na_probs and not opts.preds:
        parser.error("--na-probs needs --preds")
    if opts.preds:
        preds = metrics.load_predictions(opts.preds)
        na_probs = metrics.load_na_probs(opts.na_probs) if opts.na_probs else None
        source = {"kind": "files", "predictions": str(opts.preds), "predictions_sha256": sha256(opts.preds),
                  "na_probs": str(opts.na_probs) if opts.na_probs else None,
                  "na_probs_sha256": sha256(opts.na_probs) if opts.na_probs else None}
    else:
        preds, na_probs = synthetic_predictions(metrics.load_dataset(data), seed=opts.seed)
        source = {"kind": "synthetic", "seed": opts.seed,
                  "generator": "scripts/check_scorer.py:synthetic_predictions"}

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="check_scorer_") as tmp:
        report = check(data, preds, na_probs, Path(tmp))
    rows = report["settings"].values()
    ok = all(r["keys_match"] and r["types_match"] and (r["max_abs_diff"] or 0.0) <= TOLERANCE
             and r.get("cli_stdout_identical", True) and r.get("images_identical", True) is not False
             for r in rows)
    result = {
        "all_equal": ok,
        "tolerance": TOLERANCE,
        "data_file": str(data),
        "data_sha256": sha256(data),
        "n_questions": len(metrics.make_qid_to_has_ans(metrics.load_dataset(data))),
        "prediction_source": source,
        "oracle": str(ORACLE.relative_to(ROOT)),
        "oracle_sha256": sha256(ORACLE),
        "max_abs_diff": {name: r["max_abs_diff"] for name, r in report["settings"].items()},
        **report,
        "seconds": round(time.perf_counter() - start, 2),
    }
    out = Path(opts.out) if opts.out else paths.bench() / "scorer_equivalence.json"
    write_json(out, result)
    print(json.dumps({k: result[k] for k in ("all_equal", "n_questions", "max_abs_diff", "seconds")}, indent=2))
    print(f"wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
