"""Scoring: a drop-in for the official SQuAD 2.0 evaluation script (``evaluate-v2.0.py``).

``score(data, preds, na_probs, na_prob_thresh)`` returns the official script's output dict:
the same keys in the same order with the same values, and ``qarepro score DATA PREDS [-n NA]
[-t T] [-o OUT] [-p DIR] [-v]`` takes the official arguments and prints the same JSON. The
rules (shared/REFERENCE.md section 5):

- answers are normalised (lower case, no ``string.punctuation``, no a/an/the, single spaces);
- gold answers that normalise to "" are dropped; a question left with none has gold [""];
- EM and F1 are maxima over the gold answers; F1 is on bags of normalised tokens and, when
  either side is empty, is 1 exactly when both are;
- ``na_prob > na_prob_thresh`` forces the prediction "" (default threshold 1.0);
- with no-answer probabilities, ``best_exact``/``best_f1`` and their thresholds come from a
  sweep over the questions sorted by probability (see ``find_best_thresh``), and with an image
  folder also the average precision of three precision-recall curves (``pr_*_ap``).

Where the official script crashes, this module does something defined instead:

- a question with no prediction (the official script prints "Missing prediction for <id>" and
  then fails with KeyError or ZeroDivisionError) is scored as a wrong, non-empty answer
  (EM = F1 = 0), logged at warning level and listed in ``ScoreResult.missing_ids``; its
  no-answer probability, if the file lacks it, is 0.0 (so the default threshold never turns
  it into "");
- ids in the prediction or probability files that are not in the data are ignored (predicted
  ones are counted in ``ScoreResult.unknown_ids`` and warned about in one line);
- malformed input raises ``ScoreInputError`` naming the file (and the question id).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import math
import os
import re
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from qarepro.io import WriteError, atomic_path, check_folder, os_error_text

log = logging.getLogger(__name__)

Number = int | float
Scores = dict[str, Number]
Source = Mapping[str, Any] | str | os.PathLike

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)


class ScoreInputError(ValueError):
    """A data, prediction or no-answer-probability input that cannot be scored."""


# --------------------------------------------------------------------------------------------
# Text normalisation and per-question scores


def normalize_answer(text: str) -> str:
    """Lower-case, drop ASCII punctuation, drop the words a/an/the, collapse whitespace."""
    text = text.lower().translate(_DROP_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def get_tokens(text: str) -> list[str]:
    """Whitespace tokens of the normalised text ([] for "")."""
    return normalize_answer(text).split()


def compute_exact(a_gold: str, a_pred: str) -> int:
    """1 if the normalised texts are equal, else 0."""
    return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold: str, a_pred: str) -> float:
    """Token-bag F1 of the normalised texts; if either is empty, 1.0 iff both are."""
    gold_toks = get_tokens(a_gold)
    pred_toks = get_tokens(a_pred)
    if not gold_toks or not pred_toks:
        return float(gold_toks == pred_toks)
    num_same = sum((collections.Counter(gold_toks) & collections.Counter(pred_toks)).values())
    if num_same == 0:
        return 0.0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def iter_questions(dataset: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every question (``qa`` dict) of the official ``data`` list, in file order."""
    for article in dataset:
        for paragraph in article["paragraphs"]:
            yield from paragraph["qas"]


def gold_answers(qa: Mapping[str, Any]) -> list[str]:
    """Gold texts that survive normalisation; [""] for a question with none."""
    return [a["text"] for a in qa["answers"] if normalize_answer(a["text"])] or [""]


def make_qid_to_has_ans(dataset: Sequence[Mapping[str, Any]]) -> dict[str, bool]:
    """Question id -> whether its raw ``answers`` list is non-empty (file order)."""
    return {qa["id"]: bool(qa["answers"]) for qa in iter_questions(dataset)}


def get_raw_scores(
    dataset: Sequence[Mapping[str, Any]],
    preds: Mapping[str, str],
    missing_score: float | None = None,
) -> tuple[Scores, Scores]:
    """Per-question EM and F1 (max over gold answers), keyed by id in file order.

    A question without a prediction is left out when ``missing_score`` is None (the official
    behaviour) and gets ``missing_score`` for both EM and F1 otherwise.
    """
    exact_scores: Scores = {}
    f1_scores: Scores = {}
    for qa in iter_questions(dataset):
        qid = qa["id"]
        golds = gold_answers(qa)
        if qid not in preds:
            if missing_score is not None:
                exact_scores[qid] = f1_scores[qid] = missing_score
            continue
        pred = preds[qid]
        exact_scores[qid] = max(compute_exact(g, pred) for g in golds)
        f1_scores[qid] = max(compute_f1(g, pred) for g in golds)
    return exact_scores, f1_scores


def apply_no_ans_threshold(
    scores: Mapping[str, Number],
    na_probs: Mapping[str, Number],
    qid_to_has_ans: Mapping[str, bool],
    na_prob_thresh: float,
) -> Scores:
    """Scores after predicting "" wherever ``na_prob > na_prob_thresh`` ("" scores 1 iff NoAns)."""
    return {
        qid: float(not qid_to_has_ans[qid]) if na_probs[qid] > na_prob_thresh else s
        for qid, s in scores.items()
    }


def make_eval_dict(
    exact_scores: Mapping[str, Number],
    f1_scores: Mapping[str, Number],
    qid_list: Sequence[str] | None = None,
) -> collections.OrderedDict[str, Number]:
    """exact, f1 (percentages) and total over ``qid_list``; over all scores if it is empty/None."""
    qids = list(qid_list) if qid_list else list(exact_scores)
    total = len(qids)
    return collections.OrderedDict(
        [
            ("exact", 100.0 * sum(exact_scores[k] for k in qids) / total),
            ("f1", 100.0 * sum(f1_scores[k] for k in qids) / total),
            ("total", total),
        ]
    )


def merge_eval(main_eval: dict[str, Any], new_eval: Mapping[str, Any], prefix: str) -> None:
    """Copy ``new_eval`` into ``main_eval`` as ``<prefix>_<key>``."""
    for key, value in new_eval.items():
        main_eval[f"{prefix}_{key}"] = value


# --------------------------------------------------------------------------------------------
# Threshold sweep and precision-recall analysis


def sort_by_na_prob(na_probs: Mapping[str, Number]) -> list[str]:
    """Ids by increasing no-answer probability; ties keep the mapping's (file) order."""
    return sorted(na_probs, key=na_probs.__getitem__)


def find_best_thresh(
    preds: Mapping[str, str],
    scores: Mapping[str, Number],
    na_probs: Mapping[str, Number],
    qid_to_has_ans: Mapping[str, bool],
) -> tuple[float, Number]:
    """Best total score (percent) over the official sweep, and the threshold that gives it.

    The sweep starts from "every question predicted as no-answer" (score = number of NoAns
    questions, threshold 0.0), then walks the ids sorted by ``sort_by_na_prob`` and, one
    question at a time, switches it to its prediction: a HasAns question gains its score, a
    NoAns question loses 1 if its prediction is non-empty. The best running total is kept on a
    strict improvement, with the current question's probability as threshold.

    As in the official script the total is checked after *every* question, not only where the
    probability changes, so under tied probabilities the best may be a point inside a tie
    group that no real threshold gives; the result then depends on the order of the ids in
    ``na_probs``. Ids not in ``scores`` are skipped; a scored id with no prediction counts as a
    non-empty (wrong) answer. The denominator is ``len(scores)``.
    """
    cur_score: Number = sum(1 for has_ans in qid_to_has_ans.values() if not has_ans)
    best_score = cur_score
    best_thresh: Number = 0.0
    for qid in sort_by_na_prob(na_probs):
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            cur_score += scores[qid]
        elif preds.get(qid) != "":
            cur_score -= 1
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return 100.0 * best_score / len(scores), best_thresh


@dataclass
class PRCurve:
    """A precision-recall curve of the official analysis (points at probability changes)."""

    precisions: list[float]
    recalls: list[float]
    ap: float  # average precision, percent


def precision_recall_curve(
    scores: Mapping[str, Number],
    na_probs: Mapping[str, Number],
    num_true_pos: int,
    qid_to_has_ans: Mapping[str, bool],
) -> PRCurve:
    """Precision/recall of "answer the k least-likely-unanswerable questions", k = 1..n.

    True positives are the summed scores of HasAns questions answered so far; recall divides
    by ``num_true_pos`` (number of HasAns questions). A point is recorded only where the next
    probability differs (a threshold can be put there); AP is the step-wise area.
    """
    qid_list = sort_by_na_prob(na_probs)
    true_pos = 0.0
    precisions = [1.0]
    recalls = [0.0]
    avg_prec = 0.0
    for i, qid in enumerate(qid_list):
        if qid_to_has_ans[qid]:
            true_pos += scores[qid]
        cur_p = true_pos / float(i + 1)
        cur_r = true_pos / float(num_true_pos)
        if i == len(qid_list) - 1 or na_probs[qid] != na_probs[qid_list[i + 1]]:
            avg_prec += cur_p * (cur_r - recalls[-1])
            precisions.append(cur_p)
            recalls.append(cur_r)
    return PRCurve(precisions, recalls, 100.0 * avg_prec)


_PR_PLOTS = (
    ("pr_exact", "Precision-Recall curve for Exact Match score"),
    ("pr_f1", "Precision-Recall curve for F1 score"),
    ("pr_oracle", "Oracle Precision-Recall curve (binary task of HasAns vs. NoAns)"),
)


def _new_axes():
    """A fresh figure (Agg canvas, default size) and its axes; no global pyplot state."""
    # deferred: matplotlib takes seconds to import; only the official script's plots (-p) need it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def plot_pr_curve(curve: PRCurve, out_image: str | os.PathLike, title: str) -> None:
    """The official step plot of a precision-recall curve, saved to ``out_image``."""
    fig, ax = _new_axes()
    ax.step(curve.recalls, curve.precisions, color="b", alpha=0.2, where="post")
    ax.fill_between(curve.recalls, curve.precisions, step="post", alpha=0.2, color="b")
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_xlim([0.0, 1.05])
    ax.set_ylim([0.0, 1.05])
    ax.set_title(title)
    fig.savefig(out_image)


def histogram_na_prob(
    na_probs: Mapping[str, Number], qid_list: Sequence[str], image_dir: str | os.PathLike, name: str
) -> None:
    """Histogram (20 bins on [0, 1], proportions) of the probabilities of ``qid_list``."""
    if not qid_list:
        return
    x = [na_probs[k] for k in qid_list]
    fig, ax = _new_axes()
    ax.hist(x, weights=np.ones_like(x) / float(len(x)), bins=20, range=(0.0, 1.0))
    ax.set_xlabel("Model probability of no-answer")
    ax.set_ylabel("Proportion of dataset")
    ax.set_title(f"Histogram of no-answer probability: {name}")
    fig.savefig(os.path.join(image_dir, f"na_prob_hist_{name}.png"))


def run_precision_recall_analysis(
    main_eval: dict[str, Any],
    exact_raw: Mapping[str, Number],
    f1_raw: Mapping[str, Number],
    na_probs: Mapping[str, Number],
    qid_to_has_ans: Mapping[str, bool],
    out_image_dir: str | os.PathLike,
) -> None:
    """Add pr_exact_ap, pr_f1_ap, pr_oracle_ap to ``main_eval`` and save the three plots.

    Nothing is added when no question has an answer (the folder is still created).
    """
    os.makedirs(out_image_dir, exist_ok=True)
    num_true_pos = sum(1 for v in qid_to_has_ans.values() if v)
    if num_true_pos == 0:
        return
    oracle_scores = {k: float(v) for k, v in qid_to_has_ans.items()}
    for (prefix, title), scores in zip(_PR_PLOTS, (exact_raw, f1_raw, oracle_scores)):
        curve = precision_recall_curve(scores, na_probs, num_true_pos, qid_to_has_ans)
        plot_pr_curve(curve, os.path.join(out_image_dir, f"{prefix}.png"), title)
        main_eval[f"{prefix}_ap"] = curve.ap


# --------------------------------------------------------------------------------------------
# Inputs


def _read_json_file(path: str | os.PathLike, what: str) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScoreInputError(f"{what} file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScoreInputError(f"{what} file {path}: cannot be read ({err})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ScoreInputError(
            f"{what} file {path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None


def _load(source: Source, what: str) -> tuple[Any, str]:
    """(parsed object, name for messages) of a mapping or a JSON file path."""
    if isinstance(source, (str, os.PathLike)):
        return _read_json_file(source, what), f"{what} file {Path(source)}"
    return source, f"{what} (in memory)"


def load_dataset(data: Source) -> list[Mapping[str, Any]]:
    """The ``data`` list of an official SQuAD JSON (dict or path), checked for scoring."""
    obj, name = _load(data, "data")
    if not isinstance(obj, Mapping) or not isinstance(obj.get("data"), list):
        raise ScoreInputError(f'{name}: expected a JSON object with a "data" list (official SQuAD format)')
    for a_i, article in enumerate(obj["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, Mapping) else None
        if not isinstance(paragraphs, list):
            raise ScoreInputError(f'{name}: data[{a_i}] has no "paragraphs" list')
        for p_i, paragraph in enumerate(paragraphs):
            qas = paragraph.get("qas") if isinstance(paragraph, Mapping) else None
            if not isinstance(qas, list):
                raise ScoreInputError(f'{name}: data[{a_i}].paragraphs[{p_i}] has no "qas" list')
            for q_i, qa in enumerate(qas):
                _check_question(qa, f"{name}: data[{a_i}].paragraphs[{p_i}].qas[{q_i}]")
    return obj["data"]


def _check_question(qa: Any, where: str) -> None:
    if not isinstance(qa, Mapping) or not isinstance(qa.get("id"), str):
        raise ScoreInputError(f'{where}: expected a question with a string "id"')
    answers = qa.get("answers")
    if not isinstance(answers, list) or not all(
        isinstance(a, Mapping) and isinstance(a.get("text"), str) for a in answers
    ):
        raise ScoreInputError(f'{where} (question {qa["id"]}): "answers" must be a list of {{"text": str, ...}}')


def load_predictions(preds: Source) -> dict[str, str]:
    """Question id -> predicted text ("" = no answer), from a dict or a JSON file."""
    obj, name = _load(preds, "predictions")
    if not isinstance(obj, Mapping):
        raise ScoreInputError(f"{name}: expected a JSON object mapping question id to answer text")
    for qid, text in obj.items():
        if not isinstance(text, str):
            raise ScoreInputError(f"{name}: prediction for question {qid} is {text!r}, not a string")
    return dict(obj)


def load_na_probs(na_probs: Source) -> dict[str, Number]:
    """Question id -> no-answer probability, from a dict or a JSON file."""
    obj, name = _load(na_probs, "no-answer probability")
    if not isinstance(obj, Mapping):
        raise ScoreInputError(f"{name}: expected a JSON object mapping question id to a number")
    for qid, p in obj.items():
        # an integer beyond float range is kept as the official script keeps it (compared exactly)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or (isinstance(p, float) and math.isnan(p)):
            raise ScoreInputError(f"{name}: probability for question {qid} is {p!r}, not a number")
    return dict(obj)


# --------------------------------------------------------------------------------------------
# The whole evaluation


@dataclass
class ScoreResult:
    """Official metrics plus what the official output does not show."""

    metrics: collections.OrderedDict[str, Any]
    missing_ids: list[str] = field(default_factory=list)  # data questions with no prediction
    unknown_ids: list[str] = field(default_factory=list)  # predicted ids that are not in the data
    exact_raw: Scores = field(default_factory=dict)  # per question, before the threshold
    f1_raw: Scores = field(default_factory=dict)


def score_detailed(data: Source, preds: Source, na_probs: Source | None = None, na_prob_thresh: float = 1.0,
                   out_image_dir: str | os.PathLike | None = None, strict: bool = False) -> ScoreResult:
    """``score`` with the ids of unanswered questions and the per-question raw scores.

    strict: raise ScoreInputError when a question has no prediction or a predicted id is not a
    question of the data (a SQuAD 2.0 file scored against 1.1 data, the wrong split), instead
    of the official script's scoring of them."""
    dataset = load_dataset(data)
    predictions = load_predictions(preds)
    qid_to_has_ans = make_qid_to_has_ans(dataset)
    if not qid_to_has_ans:
        raise ScoreInputError("data: no questions to score")
    missing = [qid for qid in qid_to_has_ans if qid not in predictions]
    unknown = [qid for qid in predictions if qid not in qid_to_has_ans]
    mismatch = _id_mismatch(missing, unknown, len(qid_to_has_ans))
    if strict and mismatch:
        raise ScoreInputError(f"--strict: {'; '.join(mismatch)}")
    for line in mismatch:
        log.warning("%s", line)
    probs = _resolve_na_probs(na_probs, predictions, qid_to_has_ans, missing)

    exact_raw, f1_raw = get_raw_scores(dataset, predictions, missing_score=0)
    exact_thresh = apply_no_ans_threshold(exact_raw, probs, qid_to_has_ans, na_prob_thresh)
    f1_thresh = apply_no_ans_threshold(f1_raw, probs, qid_to_has_ans, na_prob_thresh)
    out_eval = make_eval_dict(exact_thresh, f1_thresh)
    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
    if has_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, has_ans_qids), "HasAns")
    if no_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, no_ans_qids), "NoAns")
    if na_probs is not None:
        out_eval["best_exact"], out_eval["best_exact_thresh"] = find_best_thresh(
            predictions, exact_raw, probs, qid_to_has_ans
        )
        out_eval["best_f1"], out_eval["best_f1_thresh"] = find_best_thresh(
            predictions, f1_raw, probs, qid_to_has_ans
        )
        if out_image_dir:
            huge = [q for q, p in probs.items() if isinstance(p, int) and abs(p) > sys.float_info.max]
            if huge:
                raise ScoreInputError(f"no-answer probability of question {huge[0]} is too large to plot (-p)")
            in_data = {k: v for k, v in probs.items() if k in qid_to_has_ans}
            run_precision_recall_analysis(out_eval, exact_raw, f1_raw, in_data, qid_to_has_ans, out_image_dir)
            histogram_na_prob(probs, has_ans_qids, out_image_dir, "hasAns")
            histogram_na_prob(probs, no_ans_qids, out_image_dir, "noAns")
    return ScoreResult(out_eval, missing, unknown, exact_raw, f1_raw)


def _id_mismatch(missing: Sequence[str], unknown: Sequence[str], n_questions: int) -> list[str]:
    """One line each for unanswered questions and for predicted ids that are not in the data."""
    return ([f"{len(missing)} of {n_questions} questions have no prediction (first: {', '.join(missing[:3])}); "
             "each is scored as a wrong answer (EM = F1 = 0)"] if missing else []) + \
           ([f"{len(unknown)} predicted id(s) are not questions of the data (first: {', '.join(unknown[:3])}); "
             "they are ignored"] if unknown else [])


def _resolve_na_probs(na_probs: Source | None, predictions: Mapping[str, str], qid_to_has_ans: Mapping[str, bool],
                      missing: Sequence[str]) -> dict[str, Number]:
    """The probabilities the official script would use, completed for unanswered questions.

    Without a file every predicted id gets 0.0 (official). Every predicted question of the
    data must have a probability; unanswered questions that lack one get 0.0, appended after
    the file's ids (this order decides ties in the sweep).
    """
    if na_probs is None:
        probs: dict[str, Number] = {k: 0.0 for k in predictions}
    else:
        probs = load_na_probs(na_probs)
        absent = [q for q in qid_to_has_ans if q in predictions and q not in probs]
        if absent:
            name = f"file {Path(na_probs)}" if isinstance(na_probs, (str, os.PathLike)) else "(in memory)"
            raise ScoreInputError(
                f"no-answer probability {name}: no probability for {len(absent)} predicted "
                f"question(s), e.g. {', '.join(absent[:3])}"
            )
    for qid in missing:
        probs.setdefault(qid, 0.0)
    return probs


def score(data: Source, preds: Source, na_probs: Source | None = None, na_prob_thresh: float = 1.0,
          out_image_dir: str | os.PathLike | None = None) -> collections.OrderedDict[str, Any]:
    """The official SQuAD 2.0 evaluation: same keys, order and values as ``evaluate-v2.0.py``.

    data: the official JSON object (with "data") or its path; preds: id -> answer text ("" for
    no answer) or a path; na_probs: id -> no-answer probability or a path (adds best_* keys);
    na_prob_thresh: predict "" where the probability exceeds it; out_image_dir: with na_probs,
    also save the precision-recall plots and histograms there and add pr_*_ap keys.
    Scores are percentages; ``total`` counts questions.
    """
    return score_detailed(data, preds, na_probs, na_prob_thresh, out_image_dir).metrics


# --------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    """The official script's arguments (``qarepro score`` as program name)."""
    parser = argparse.ArgumentParser(
        prog="qarepro score",
        description="Score predictions like the official evaluation script for SQuAD version 2.0.",
    )
    parser.add_argument("data_file", metavar="data.json", help="Input data JSON file.")
    parser.add_argument("pred_file", metavar="pred.json", help="Model predictions.")
    parser.add_argument("--out-file", "-o", metavar="eval.json",
                        help="Write accuracy metrics to file (default is stdout).")
    parser.add_argument("--na-prob-file", "-n", metavar="na_prob.json",
                        help="Model estimates of probability of no answer.")
    parser.add_argument("--na-prob-thresh", "-t", type=float, default=1.0,
                        help='Predict "" if no-answer probability exceeds this (default = 1.0).')
    parser.add_argument("--out-image-dir", "-p", metavar="out_images", default=None,
                        help="Save precision-recall curves to directory.")
    parser.add_argument("--verbose", "-v", action="store_true", help="Log progress details.")
    parser.add_argument("--strict", action="store_true", help="Fail (exit 2) when a question has no prediction "
                        "or a predicted id is not in the data (default: score as the official script does).")
    parser.add_argument("--official-missing", action="store_true",
                        help='Also print "Missing prediction for <id>" for each unanswered question on stdout, '
                             "before the metrics, as the official script does (default: one summary line on stderr).")
    return parser


def _write_output(opts: argparse.Namespace, result: ScoreResult) -> None:
    """The metrics JSON on stdout, or in -o's file (byte-identical to the official script's)."""
    if opts.official_missing:
        for qid in result.missing_ids:
            print(f"Missing prediction for {qid}")
    if opts.out_file:
        with atomic_path(opts.out_file) as tmp:
            tmp.write_text(json.dumps(result.metrics), encoding="utf-8")
        log.info("wrote %s", opts.out_file)
    else:
        print(json.dumps(result.metrics, indent=2))
    sys.stdout.flush()


def _error_text(err: Exception, opts: argparse.Namespace) -> str:
    """One line for a failed run: the input at fault, or the output (-o, -p) that cannot be written."""
    if isinstance(err, (ScoreInputError, WriteError)):  # each names its file
        return str(err)
    return f"-p {opts.out_image_dir}: cannot write the plots: {os_error_text(err)}"


def main(argv: Sequence[str] | None = None) -> int:
    """``qarepro score``: print the metrics JSON (indent 2), or write it with -o like the official.

    Exit status 0 on success, 1 for no arguments (help is printed, as officially), 2 for bad
    arguments, unusable input, an output that cannot be written, and --strict's mismatches.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 1
    opts = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO if opts.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
    try:
        if opts.out_image_dir:  # checked before the scoring, not after it
            check_folder(opts.out_image_dir, f"-p {opts.out_image_dir}: ")
        # the library's warnings (unanswered questions, unknown ids) are one summary line each
        result = score_detailed(opts.data_file, opts.pred_file, opts.na_prob_file,
                                opts.na_prob_thresh, opts.out_image_dir, strict=opts.strict)
        _write_output(opts, result)
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, and keep Python from reporting the
        # failed flush of stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (ScoreInputError, OSError) as err:
        print(f"qarepro score: error: {_error_text(err, opts)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
