"""Turn start/end logits of windowed features into answer texts (shared/REFERENCE.md §4).

Two decoders, because the two model cards were probably scored with different ones:

``method="hf"`` -- the Hugging Face example's ``postprocess_qa_predictions`` (utils_qa.py,
``version_2_with_negative=True``):

* per window, the ``n_best`` highest start logits and the ``n_best`` highest end logits are
  taken over the **whole** sequence (question, special and padding tokens included); pairs are
  then dropped when a token is off-context, when end < start, or when
  ``end - start + 1 > max_answer_length`` (default 30). score = start_logit + end_logit;
* the null score is the **minimum** over the question's windows of ``start[0] + end[0]``;
* the answer is "" when ``null - best_span > null_threshold``, else the best span's text
  ``context[offsets[s][0]:offsets[e][1]]``;
* nbest: spans of all windows sorted by score (no de-duplication, like utils_qa), cut to
  ``n_best``, with the null entry ranked among them and appended when it fell off the list.

``method="haystack"`` -- Haystack v1 ``QuestionAnsweringHead`` (``logits_to_preds`` +
``reduce_preds``):

* per window, **all** valid (start, end) pairs are candidates (no top-k pre-selection),
  ``max_answer_length`` defaults to 1000 (effectively unbounded);
* per window a no-answer score ``na = start[0] + end[0] + no_answer_boost`` and the window's
  best span score ``best``; a window with no valid span has ``best = -inf``;
* margin = ``min over windows of (na - best)`` (Haystack's ``no_ans_gap`` is ``-margin``); the
  answer is "" when margin >= null_threshold (0 = Haystack: no-answer is at least as good as the
  best span in every window; on an exact tie Haystack's stable sort keeps its no-answer first,
  prediction_head.py l.752-765),
  else the best span over all windows (Haystack flattens the candidates of all windows and
  sorts them by score, so the best span is the maximum across windows);
* nbest: the ``n_best`` best pairs of each window (Haystack's ``n_best_per_sample``, which
  defaults to ``n_best``), de-duplicated across windows by character span (Haystack
  de-duplicates by document token span, keeping the higher score), sorted by score, cut to
  ``n_best``, plus a no-answer entry scored ``best_overall + margin`` as in ``reduce_preds``
  (ranked among the spans, appended when it fell off the list; Haystack drops it then).
* The search over all pairs is exact but not quadratic: see ``_haystack_window_candidates``.

Judgement calls and where they differ from the originals (all measure-zero for real logits or
deliberate):

* Ties. utils_qa uses ``np.argsort`` (unspecified order among equal logits) and Haystack
  ``torch.sort`` (not stable). Here every order is total and deterministic:
  top-k start/end tokens: logit descending, then token index ascending;
  hf candidates: score descending, then window (feature order), then start rank, then end
  rank (what utils_qa's stable ``sorted`` gives with that top-k order); the null entry ranks
  after spans of equal score (utils_qa appends it last before its stable sort);
  haystack candidates: score descending, then window, then start token, then end token.
* The no-answer decision is strict (``margin > null_threshold``) for hf (utils_qa) and
  inclusive (``margin >= null_threshold``) for haystack: Haystack builds its no-answer candidate
  with score ``best_overall - no_ans_gap`` and puts it first in the list it sorts (a stable sort),
  so on an exact tie (``na == best`` in the deciding window) no-answer wins. In the haystack
  nbest the null entry likewise ranks before spans of equal score.
* Spans whose character slice is empty (``char_end <= char_start``, e.g. zero-width tokens) are
  not candidates. utils_qa keeps them in its nbest but skips them when it picks the answer.
* A question with no valid span at all is answered "" with na_prob 1.0 (utils_qa would answer
  "empty"; Haystack would fail on ``max()`` of an empty list). So is a question with no window.
* ``no_answer_boost`` is added to the null score in both decoders (for hf it is the same as
  lowering ``null_threshold`` by the boost).
* Scores are computed in float64 (the sum of two float32 logits is then exact).
* Ranking is by raw score (start + end logits), the REFERENCE rule. Later Haystack v1.x code
  can also rank candidates, no-answer included, by "confidence" (the mean of the start and end
  softmax probabilities for spans, expit(score / 8) for no-answer), through
  ``Evaluator.eval(use_confidence_scores_for_ranking=...)`` and
  ``FARMReader(use_confidence_scores=...)``; that can change the no-answer decision. Whether
  v1.0.0's evaluation of the cards ranked by confidence was not checked (only a later version
  of that code was available); it is not implemented here.
* Haystack builds its answer text from its own word/sub-token offsets and strips whitespace;
  here both decoders use the features' offset mapping, so the texts of the two decoders for
  the same span are identical.

``na_prob`` is ``sigmoid(margin)`` with margin = null (+ boost) - best span (hf) or
min over windows of (na - best) (haystack), so "" is predicted exactly when
``na_prob > sigmoid(null_threshold)`` -- the official scorer's ``--na-prob-thresh`` and its
best-threshold sweep work on it directly. Where float64 rounding makes
``sigmoid(margin) == sigmoid(null_threshold)`` although "" is predicted (margin > null_threshold,
or margin == null_threshold for haystack), the stored value is raised by one ulp to keep that
equivalence (impossible only for thresholds above ~36,
where the sigmoid is 1.0). With ``allow_no_answer=False`` "" is never predicted for a question
that has a valid span and na_prob is 0.0 (1.0 for one without).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from qarepro.io import write_json

logger = logging.getLogger(__name__)

Method = Literal["hf", "haystack"]
METHODS = ("hf", "haystack")
DEFAULT_MAX_ANSWER_LENGTH = {"hf": 30, "haystack": 1000}

FILES = {"predictions": "predictions.json", "na_prob": "na_prob.json", "nbest": "nbest.json"}


@dataclass
class Predictions:
    """Decoder output, keyed by question id, in the order of the examples."""

    answers: dict[str, str] = field(default_factory=dict)
    na_prob: dict[str, float] = field(default_factory=dict)
    nbest: dict[str, list[dict]] = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers


def sigmoid(x: Any) -> np.ndarray:
    """Numerically stable logistic function in float64 (+inf -> 1.0, -inf -> 0.0)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def topk_desc(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of each row, ordered by value descending, then index.

    Exact with ties, also at the k-th place (argpartition alone picks an arbitrary one there).
    """
    n, length = values.shape
    k = min(k, length)
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int64)
    if k == length:
        return np.argsort(-values, axis=1, kind="stable")
    kth = np.partition(values, length - k, axis=1)[:, length - k : length - k + 1]  # k-th largest per row
    take = values >= kth
    crowded = np.flatnonzero(take.sum(axis=1) > k)  # rows with ties at the k-th place
    if len(crowded):
        v, t = values[crowded], kth[crowded]
        above, at = v > t, v == t
        room = k - above.sum(axis=1, keepdims=True)  # how many of the tied ones still fit
        take[crowded] = above | (at & (np.cumsum(at, axis=1) <= room))
    idx = np.nonzero(take)[1].reshape(n, k)  # row-major: index ascending within a row
    order = np.argsort(-np.take_along_axis(values, idx, axis=1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)


def _column(examples: Any, name: str) -> list:
    try:
        col = examples[name]
    except (KeyError, TypeError, IndexError) as err:
        raise ValueError(f"decode: examples have no column {name!r}") from err
    return list(col)


def _group_starts(sorted_keys: np.ndarray, n_groups: int) -> np.ndarray:
    """For keys sorted ascending in [0, n_groups): start offset of every group (len n_groups+1)."""
    return np.searchsorted(sorted_keys, np.arange(n_groups + 1), side="left")


# ---------------------------------------------------------------------------- per window


@dataclass
class _WindowCandidates:
    """Per-window candidate spans, each row ordered by the decoder's within-window order."""

    start: np.ndarray  # int64 [n_feat, c] token index
    end: np.ndarray  # int64 [n_feat, c]
    score: np.ndarray  # float64 [n_feat, c]
    ok: np.ndarray  # bool [n_feat, c] (a real, valid candidate)


def _pair_grid(start, end, offsets, valid, s_idx, e_idx, max_len):
    """Scores and validity of all pairs s_idx[:, i] x e_idx[:, j] -> arrays [n, ks, ke]."""
    s_ok = np.take_along_axis(valid, s_idx, axis=1)
    e_ok = np.take_along_axis(valid, e_idx, axis=1)
    s = s_idx[:, :, None]
    e = e_idx[:, None, :]
    char_s = np.take_along_axis(offsets[:, :, 0], s_idx, axis=1)[:, :, None]
    char_e = np.take_along_axis(offsets[:, :, 1], e_idx, axis=1)[:, None, :]
    ok = s_ok[:, :, None] & e_ok[:, None, :] & (e >= s) & (e - s < max_len) & (char_e > char_s)
    s_val = np.take_along_axis(start, s_idx, axis=1).astype(np.float64)
    e_val = np.take_along_axis(end, e_idx, axis=1).astype(np.float64)
    return s_val[:, :, None] + e_val[:, None, :], ok


def _hf_window_candidates(start, end, offsets, valid, n_best, max_len) -> _WindowCandidates:
    n = start.shape[0]
    s_idx = topk_desc(start, n_best)  # over the whole sequence, like utils_qa
    e_idx = topk_desc(end, n_best)
    k_s, k_e = s_idx.shape[1], e_idx.shape[1]
    score, ok = _pair_grid(start, end, offsets, valid, s_idx, e_idx, max_len)
    flat = np.where(ok, score, -np.inf).reshape(n, k_s * k_e)  # flat order = (start rank, end rank)
    pick = topk_desc(flat, n_best)
    return _WindowCandidates(
        start=s_idx[np.arange(n)[:, None], pick // k_e],
        end=e_idx[np.arange(n)[:, None], pick % k_e],
        score=np.take_along_axis(flat, pick, axis=1),
        ok=np.take_along_axis(ok.reshape(n, -1), pick, axis=1),
    )


def _band_max(x: np.ndarray, width: int, forward: bool) -> np.ndarray:
    """Row-wise max of x over [i, i + width) (forward) or (i - width, i] (backward), clipped."""
    n, length = x.shape
    if not forward:
        return _band_max(x[:, ::-1], width, True)[:, ::-1]
    if width >= length:
        return np.maximum.accumulate(x[:, ::-1], axis=1)[:, ::-1]
    pad = np.concatenate([x, np.full((n, width), -np.inf)], axis=1)
    span, t = 1, pad
    while span * 2 <= width:  # t[i] = max over [i, i + span)
        t = np.maximum(t[:, :-span], t[:, span:]) if span < t.shape[1] else t
        t = np.concatenate([t, np.full((n, pad.shape[1] - t.shape[1]), -np.inf)], axis=1)
        span *= 2
    return np.maximum(t[:, :length], t[:, width - span : width - span + length])


def _haystack_window_candidates(start, end, offsets, valid, n_best, max_len) -> _WindowCandidates:
    """Exact top-n_best valid pairs of every window, by (score desc, start, end).

    With row[s] = start[s] + the best valid end in [s, s + max_len) and col[e] = end[e] + the
    best valid start in (e - max_len, e] (band maxima, O(seq)), a pair whose start is not among
    the n_best best rows has n_best pairs in other rows scoring strictly more, and likewise for
    columns; so the top n_best pairs lie in the grid (n_best best rows) x (n_best best columns).
    Windows where that argument does not hold -- ties at the n_best-th row or column value, or
    a pair with an empty character span that could be some row's or column's best -- are
    searched over all their valid pairs (rare with real logits and tokenizers).
    """
    n, length = start.shape
    c = min(n_best, length * length)
    cand = _WindowCandidates(start=np.full((n, c), -1, dtype=np.int64), end=np.full((n, c), -1, dtype=np.int64),
                             score=np.full((n, c), -np.inf), ok=np.zeros((n, c), dtype=bool))
    s_masked = np.where(valid, start, -np.inf)
    e_masked = np.where(valid, end, -np.inf)
    f64 = np.float64
    row = s_masked.astype(f64) + _band_max(e_masked, max_len, forward=True).astype(f64)
    col = e_masked.astype(f64) + _band_max(s_masked, max_len, forward=False).astype(f64)
    k = min(n_best, length)
    s_top = topk_desc(row, k)
    e_top = topk_desc(col, k)
    r_k = np.take_along_axis(row, s_top[:, -1:], axis=1)
    c_k = np.take_along_axis(col, e_top[:, -1:], axis=1)
    tied = ((r_k[:, 0] > -np.inf) & ((row >= r_k).sum(axis=1) > k)) | (
        (c_k[:, 0] > -np.inf) & ((col >= c_k).sum(axis=1) > k))
    # Could a pair (s <= e) have an empty character span? (off[e][1] <= off[s][0] for some s <= e)
    first_char = np.where(valid, offsets[:, :, 0], np.iinfo(np.int64).min)
    maybe_empty = (valid & (offsets[:, :, 1] <= np.maximum.accumulate(first_char, axis=1))).any(axis=1)
    # Grid tokens sorted by index, so that the flattened pair order is (start, end) ascending.
    s_idx = np.sort(s_top, axis=1)
    e_idx = np.sort(e_top, axis=1)
    score, ok = _pair_grid(start, end, offsets, valid, s_idx, e_idx, max_len)
    flat = np.where(ok, score, -np.inf).reshape(n, k * k)
    pick = topk_desc(flat, c)
    got = pick.shape[1]
    rows = np.arange(n)[:, None]
    cand.start[:, :got] = s_idx[rows, pick // k]
    cand.end[:, :got] = e_idx[rows, pick % k]
    cand.score[:, :got] = np.take_along_axis(flat, pick, axis=1)
    cand.ok[:, :got] = np.take_along_axis(ok.reshape(n, -1), pick, axis=1)
    for w in np.flatnonzero(tied | maybe_empty):  # search every valid pair of the window
        haystack_full_window(cand, w, start[w], end[w], offsets[w], valid[w], max_len)
    return cand


def haystack_full_window(cand, w, start, end, offsets, valid, max_len):
    idx = np.flatnonzero(valid)
    s = idx[:, None]
    e = idx[None, :]
    ok = (e >= s) & (e - s < max_len) & (offsets[idx, 1][None, :] > offsets[idx, 0][:, None])
    a, b = start[idx].astype(np.float64), end[idx].astype(np.float64)
    flat = np.where(ok, a[:, None] + b[None, :], -np.inf).reshape(1, -1)  # (start, end) order
    c = cand.score.shape[1]
    pick = topk_desc(flat, c)[0]
    m = len(idx)
    cand.start[w] = -1
    cand.end[w] = -1
    cand.score[w] = -np.inf
    cand.ok[w] = False
    cand.start[w, : len(pick)] = idx[pick // m]
    cand.end[w, : len(pick)] = idx[pick % m]
    cand.score[w, : len(pick)] = flat[0, pick]
    cand.ok[w, : len(pick)] = ok.reshape(-1)[pick]


# ------------------------------------------------------------------------------- decode


def decode(
    examples: Any,
    example_index: Any,
    offsets: Any,
    start_logits: Any,
    end_logits: Any,
    *,
    method: Method = "hf",
    n_best: int = 20,
    max_answer_length: int | None = None,
    null_threshold: float = 0.0,
    no_answer_boost: float = 0.0,
    allow_no_answer: bool = True,
) -> Predictions:
    """Decode windowed logits into one answer per question (see the module docstring).

    examples: anything with columns "id" and "context" (a datasets.Dataset, a dict of lists).
    example_index: int[n_feat], the example row of each feature (window); a question's windows
        are its features in feature order ("window" in nbest is that 0-based position).
    offsets: int[n_feat, seq, 2] character offsets into the context, -1 for off-context tokens.
    start_logits, end_logits: float[n_feat, seq]; position 0 is [CLS] / <s> (the null token).
    """
    if method not in METHODS:
        raise ValueError(f"decode: method must be one of {METHODS}, not {method!r}")
    if int(n_best) < 1:
        raise ValueError(f"decode: n_best must be >= 1, not {n_best}")
    n_best = int(n_best)
    max_len = DEFAULT_MAX_ANSWER_LENGTH[method] if max_answer_length is None else int(max_answer_length)
    if max_len < 1:
        raise ValueError(f"decode: max_answer_length must be >= 1, not {max_answer_length}")

    ids = [str(i) for i in _column(examples, "id")]
    contexts = _column(examples, "context")
    if len(ids) != len(contexts):
        raise ValueError("decode: examples have different numbers of ids and contexts")
    if len(set(ids)) != len(ids):
        raise ValueError("decode: question ids are not unique")
    n_ex = len(ids)

    ex_idx = np.asarray(example_index, dtype=np.int64).reshape(-1)
    # Logits keep their float dtype (selection is the same in float32); scores are float64.
    start, end = (np.asarray(x) for x in (start_logits, end_logits))
    if start.dtype not in (np.float32, np.float64) or end.dtype != start.dtype:
        start, end = start.astype(np.float64), end.astype(np.float64)
    offs = np.asarray(offsets, dtype=np.int64)
    n_feat = ex_idx.shape[0]
    if start.ndim != 2 or start.shape[0] != n_feat or end.shape != start.shape:
        raise ValueError(f"decode: logits must be [n_feat={n_feat}, seq]; got {start.shape} and {end.shape}")
    seq = start.shape[1]
    if offs.shape != (n_feat, seq, 2):
        raise ValueError(f"decode: offsets must be [{n_feat}, {seq}, 2]; got {offs.shape}")
    if n_feat and (ex_idx.min() < 0 or ex_idx.max() >= n_ex):
        raise ValueError(f"decode: example_index out of range [0, {n_ex})")
    if not (np.isfinite(start).all() and np.isfinite(end).all()):
        raise ValueError("decode: logits must be finite")
    if seq == 0:
        raise ValueError("decode: empty sequences")

    valid = (offs[:, :, 0] >= 0) & (offs[:, :, 1] >= 0)
    if method == "hf":
        cand = _hf_window_candidates(start, end, offs, valid, n_best, max_len)
    else:
        cand = _haystack_window_candidates(start, end, offs, valid, n_best, max_len)

    # Windows grouped by question, in feature order; wpos = position among the question's windows.
    feat_order = np.argsort(ex_idx, kind="stable")
    feat_ptr = _group_starts(ex_idx[feat_order], n_ex)
    wpos = np.empty(n_feat, dtype=np.int64)
    wpos[feat_order] = np.arange(n_feat) - np.repeat(feat_ptr[:-1], np.diff(feat_ptr))

    # All candidates of all windows, sorted by (question, -score, window, rank in window).
    n_c = cand.score.shape[1]
    f_of, r_of = np.nonzero(cand.ok)
    c_score = cand.score[f_of, r_of]
    c_q = ex_idx[f_of]
    order = np.lexsort((r_of, wpos[f_of], -c_score, c_q))
    f_of, r_of, c_score, c_q = f_of[order], r_of[order], c_score[order], c_q[order]
    c_s = cand.start[f_of, r_of]
    c_e = cand.end[f_of, r_of]
    c_cs = offs[f_of, c_s, 0]
    c_ce = offs[f_of, c_e, 1]
    if method == "haystack":  # de-duplicate by character span: keep the first (best) occurrence
        dup_order = np.lexsort((np.arange(len(c_q)), c_ce, c_cs, c_q))
        k1, k2, k3 = c_q[dup_order], c_cs[dup_order], c_ce[dup_order]
        first = np.ones(len(dup_order), dtype=bool)
        first[1:] = (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1]) | (k3[1:] != k3[:-1])
        keep = np.sort(dup_order[first])
        f_of, r_of, c_score, c_q, c_s, c_e, c_cs, c_ce = (
            a[keep] for a in (f_of, r_of, c_score, c_q, c_s, c_e, c_cs, c_ce)
        )
    c_ptr = _group_starts(c_q, n_ex)
    has_span = np.diff(c_ptr) > 0
    best = np.full(n_ex, -np.inf)
    best[has_span] = c_score[c_ptr[:-1][has_span]]

    # No-answer score and margin per question, and the window it comes from.
    na_feat = start[:, 0].astype(np.float64) + end[:, 0].astype(np.float64) + float(no_answer_boost)
    if method == "hf":
        key = na_feat  # min null score; first window on ties
    else:
        best_feat = np.where(cand.ok[:, 0], cand.score[:, 0], -np.inf) if n_c else np.full(n_feat, -np.inf)
        with np.errstate(invalid="ignore"):
            key = np.where(np.isfinite(best_feat), na_feat - best_feat, np.inf)  # min margin; first window on ties
    null_order = np.lexsort((wpos, key, ex_idx))
    null_feat = np.full(n_ex, -1, dtype=np.int64)
    has_window = np.diff(feat_ptr) > 0
    null_feat[has_window] = null_order[feat_ptr[:-1][has_window]]
    if n_ex and not has_window.all():
        logger.warning("decode: %d question(s) have no window; answered \"\" with na_prob 1", int((~has_window).sum()))

    margin = np.full(n_ex, np.inf)
    nf = null_feat[has_window]
    if method == "hf":
        with np.errstate(invalid="ignore"):
            margin[has_window] = np.where(has_span[has_window], na_feat[nf] - best[has_window], np.inf)
    else:
        margin[has_window] = key[nf]

    if allow_no_answer:
        # Haystack: ties go to no-answer (see the module docstring); utils_qa: strictly greater
        is_null = margin >= null_threshold if method == "haystack" else margin > null_threshold
        na_prob = sigmoid(margin)
        s_t = float(sigmoid(null_threshold))
        above = np.nextafter(s_t, np.inf)
        na_prob = np.where(is_null, np.maximum(na_prob, min(above, 1.0)), np.minimum(na_prob, s_t))
    else:
        is_null = ~has_span
        na_prob = np.where(has_span, 0.0, 1.0)

    # ----- Python assembly, one question at a time (no pair loops here).
    fl, scl = f_of.tolist(), c_score.tolist()
    s_logit, e_logit = start[f_of, c_s].tolist(), end[f_of, c_e].tolist()
    csl, cel = c_cs.tolist(), c_ce.tolist()
    wl = wpos.tolist()
    c_ptr_l = c_ptr.tolist()
    answers: dict[str, str] = {}
    probs: dict[str, float] = {}
    nbest: dict[str, list[dict]] = {}
    na_feat_l = na_feat.tolist()
    for q in range(n_ex):
        qid, ctx = ids[q], contexts[q]
        lo = c_ptr_l[q]
        hi = min(c_ptr_l[q + 1], lo + n_best)
        entries = [
            {
                "text": ctx[csl[i] : cel[i]],
                "score": scl[i],
                "start_logit": s_logit[i],
                "end_logit": e_logit[i],
                "window": wl[fl[i]],
                "char_start": csl[i],
                "char_end": cel[i],
            }
            for i in range(lo, hi)
        ]
        if allow_no_answer and has_window[q]:
            f = int(null_feat[q])
            if method == "hf" or not has_span[q]:
                null_score = na_feat_l[f]
            else:
                null_score = float(best[q] + margin[q])  # Haystack: best_overall - no_ans_gap
            null_entry = {
                "text": "",
                "score": null_score,
                "start_logit": float(start[f, 0]),
                "end_logit": float(end[f, 0]),
                "window": wl[f],
                "char_start": None,
                "char_end": None,
            }
            if method == "haystack":  # before spans of equal score (Haystack's stable sort)
                pos = sum(1 for e in entries if e["score"] > null_score)
            else:  # after spans of equal score (utils_qa appends the null entry last)
                pos = sum(1 for e in entries if e["score"] >= null_score)
            entries.insert(pos, null_entry)
            if len(entries) > n_best and pos < n_best:
                entries.pop()  # the null entry made it into the top n_best; drop the last span
        # the best span's text (from the candidates: with n_best 1 a tied null entry can push it off the nbest list)
        answers[qid] = "" if is_null[q] or lo == c_ptr_l[q + 1] else ctx[csl[lo]:cel[lo]]
        probs[qid] = float(na_prob[q])
        nbest[qid] = entries
    return Predictions(answers=answers, na_prob=probs, nbest=nbest)


def write_predictions(preds: Predictions, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write predictions.json ({id: text}, the official format), na_prob.json ({id: p}) and
    nbest.json ({id: [entries]}) atomically into out_dir; return their paths by kind."""
    out = Path(out_dir)
    return {
        "predictions": write_json(out / FILES["predictions"], dict(preds.answers)),
        "na_prob": write_json(out / FILES["na_prob"], dict(preds.na_prob)),
        "nbest": write_json(out / FILES["nbest"], dict(preds.nbest), indent=None),
    }
