"""qarepro.decode: vectorised decoders against plain references, the transformers span decoder,
and the output contract (na_prob, files).

Tie order used everywhere (qarepro.decode documents it): top-k start/end tokens by logit
descending then token index ascending; hf candidates by (score desc, window, start rank, end
rank), the null entry after spans of equal score; haystack candidates by (score desc, window,
start token, end token), de-duplicated by character span keeping the first.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qarepro import decode as decode_mod
from qarepro.decode import Predictions, decode, sigmoid, topk_desc, write_predictions

from qarepro.paths import FIXTURES

SQUAD1_DEV_SAMPLE = FIXTURES / "squad-v1.1-dev-sample.json"
SQUAD2_SAMPLE = FIXTURES / "squad-v2.0-dev-sample.json"

ORACLE = Path(__file__).parent / "oracle" / "evaluate_v2_official.py"


# ------------------------------------------------------------------ plain references (§4)


def _sig(x: float) -> float:
    if x == math.inf:
        return 1.0
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _windows(ex_idx, q):
    return [f for f in range(len(ex_idx)) if ex_idx[f] == q]


def _ok_token(off, t):
    return off[t][0] >= 0 and off[t][1] >= 0


def ref_hf(ids, contexts, ex_idx, offsets, start, end, n_best=20, max_len=30, thr=0.0, boost=0.0, allow=True):
    """utils_qa.postprocess_qa_predictions (version_2_with_negative) with plain loops."""
    out = {}
    for q, qid in enumerate(ids):
        cands, null = [], None
        for w, f in enumerate(_windows(ex_idx, q)):
            s_log, e_log, off = start[f], end[f], offsets[f]
            ns = float(s_log[0]) + float(e_log[0]) + boost
            if null is None or ns < null[0]:
                null = (ns, w, f)
            L = len(s_log)
            s_top = sorted(range(L), key=lambda i: (-float(s_log[i]), i))[:n_best]
            e_top = sorted(range(L), key=lambda i: (-float(e_log[i]), i))[:n_best]
            for a, s in enumerate(s_top):
                for b, e in enumerate(e_top):
                    if not (_ok_token(off, s) and _ok_token(off, e)):
                        continue
                    if e < s or e - s + 1 > max_len:
                        continue
                    cs, ce = int(off[s][0]), int(off[e][1])
                    if ce <= cs:
                        continue
                    score = float(s_log[s]) + float(e_log[e])
                    cands.append(((-score, w, a, b), dict(
                        text=contexts[q][cs:ce], score=score, start_logit=float(s_log[s]),
                        end_logit=float(e_log[e]), window=w, char_start=cs, char_end=ce)))
        cands.sort(key=lambda c: c[0])
        nbest = [c[1] for c in cands[:n_best]]
        if allow and null is not None:
            f = null[2]
            entry = dict(text="", score=null[0], start_logit=float(start[f][0]), end_logit=float(end[f][0]),
                         window=null[1], char_start=None, char_end=None)
            pos = len([e for e in nbest if e["score"] >= null[0]])
            nbest.insert(pos, entry)
            if len(nbest) > n_best and pos < n_best:
                nbest.pop()
        margin = math.inf if not cands or null is None else null[0] - cands[0][1]["score"]
        if allow:
            answer = "" if margin > thr else cands[0][1]["text"]
        else:
            answer = cands[0][1]["text"] if cands else ""
        out[qid] = (answer, margin, nbest)
    return out


def ref_haystack(ids, contexts, ex_idx, offsets, start, end, n_best=20, max_len=1000, thr=0.0, boost=0.0, allow=True):
    """Haystack v1 QuestionAnsweringHead: every valid pair of every window, plain loops."""
    out = {}
    for q, qid in enumerate(ids):
        cands, margin, m_win, na0 = [], math.inf, None, None
        for w, f in enumerate(_windows(ex_idx, q)):
            s_log, e_log, off = start[f], end[f], offsets[f]
            na = float(s_log[0]) + float(e_log[0]) + boost
            if na0 is None:
                na0 = (na, w, f)
            L = len(s_log)
            best, window_cands = -math.inf, []
            for s in range(L):
                for e in range(L):
                    if not (_ok_token(off, s) and _ok_token(off, e)):
                        continue
                    if e < s or e - s + 1 > max_len:
                        continue
                    cs, ce = int(off[s][0]), int(off[e][1])
                    if ce <= cs:
                        continue
                    score = float(s_log[s]) + float(e_log[e])
                    best = max(best, score)
                    window_cands.append(((-score, w, s, e), dict(
                        text=contexts[q][cs:ce], score=score, start_logit=float(s_log[s]),
                        end_logit=float(e_log[e]), window=w, char_start=cs, char_end=ce)))
            # Haystack keeps the n_best best pairs of each window (n_best_per_sample), then
            # de-duplicates across windows: with tokens sharing character boundaries that can
            # leave fewer than n_best distinct spans.
            cands.extend(sorted(window_cands, key=lambda c: c[0])[:n_best])
            if best > -math.inf and na - best < margin:
                margin, m_win = na - best, (w, f)
        cands.sort(key=lambda c: c[0])
        seen, nbest = set(), []
        for _, c in cands:
            if (c["char_start"], c["char_end"]) not in seen:
                seen.add((c["char_start"], c["char_end"]))
                nbest.append(c)
        nbest = nbest[:n_best]
        if allow and na0 is not None:
            if nbest:
                w, f = m_win
                score = cands[0][1]["score"] + margin
            else:
                score, w, f = na0
            entry = dict(text="", score=score, start_logit=float(start[f][0]), end_logit=float(end[f][0]),
                         window=w, char_start=None, char_end=None)
            pos = len([e for e in nbest if e["score"] > score])  # stable sort, no-answer listed first
            nbest.insert(pos, entry)
            if len(nbest) > n_best and pos < n_best:
                nbest.pop()
        if allow:
            answer = "" if margin >= thr else cands[0][1]["text"]  # ties go to no-answer
        else:
            answer = cands[0][1]["text"] if cands else ""
        out[qid] = (answer, margin, nbest)
    return out


REFS = {"hf": ref_hf, "haystack": ref_haystack}


# ------------------------------------------------------------------- random inputs


@st.composite
def windowed_inputs(draw):
    """Questions with 0-3 windows over a tokenised context; ties are frequent (integer logits)."""
    seq = draw(st.integers(5, 16))
    n_q = draw(st.integers(1, 3))
    ids, contexts, ex_idx, offsets = [], [], [], []
    for q in range(n_q):
        n_tok = draw(st.integers(0, 10))
        toks, pos, text = [], 0, ""
        for _ in range(n_tok):
            gap = draw(st.integers(0, 1))
            width = draw(st.integers(0, 9)) % 4  # 0: zero-width token (empty text)
            text += " " * gap
            pos += gap
            toks.append((pos, pos + width))
            text += "abcdefgh"[len(toks) % 8] * width
            pos += width
        ids.append(f"q{q}")
        contexts.append(text)
        n_win = draw(st.integers(0 if q else 1, 3))
        for _ in range(n_win):
            qlen = draw(st.integers(1, 3))
            room = seq - qlen - 3  # [CLS] question [SEP] context [SEP]
            first = draw(st.integers(0, max(n_tok - 1, 0)))
            take = min(draw(st.integers(0, max(room, 0))), n_tok - first)
            off = [[-1, -1]] * (1 + qlen + 1) + [list(t) for t in toks[first : first + take]]
            off = off + [[-1, -1]] * (seq - len(off))
            ex_idx.append(q)
            offsets.append(off[:seq])
    n_feat = len(ex_idx)
    if draw(st.booleans()):  # shuffle feature order: windows of a question need not be adjacent
        perm = draw(st.permutations(range(n_feat)))
        ex_idx = [ex_idx[i] for i in perm]
        offsets = [offsets[i] for i in perm]
    logit = st.integers(-3, 3).map(float) | st.floats(-4, 4, width=32)
    start = np.array(draw(st.lists(logit, min_size=n_feat * seq, max_size=n_feat * seq)), dtype=np.float32)
    end = np.array(draw(st.lists(logit, min_size=n_feat * seq, max_size=n_feat * seq)), dtype=np.float32)
    return dict(
        examples={"id": ids, "context": contexts},
        example_index=np.array(ex_idx, dtype=np.int64),
        offsets=np.array(offsets, dtype=np.int64).reshape(n_feat, seq, 2),
        start_logits=start.reshape(n_feat, seq),
        end_logits=end.reshape(n_feat, seq),
    )


def _check_against_ref(method, inp, n_best, max_len, thr, boost, allow):
    preds = decode(**inp, method=method, n_best=n_best, max_answer_length=max_len,
                   null_threshold=thr, no_answer_boost=boost, allow_no_answer=allow)
    kw = dict(n_best=n_best, thr=thr, boost=boost, allow=allow)
    if max_len is not None:
        kw["max_len"] = max_len
    ex = inp["examples"]
    ref = REFS[method](ex["id"], ex["context"], inp["example_index"].tolist(), inp["offsets"].tolist(),
                       inp["start_logits"].astype(np.float64).tolist(),
                       inp["end_logits"].astype(np.float64).tolist(), **kw)
    assert list(preds.answers) == ex["id"]
    for qid, (answer, margin, nbest) in ref.items():
        assert preds.answers[qid] == answer, qid
        assert preds.nbest[qid] == nbest, qid
        p = preds.na_prob[qid]
        if allow:
            assert p == pytest.approx(_sig(margin), rel=1e-12, abs=1e-300)
            assert (answer == "") == (p > float(sigmoid(thr)))
        else:
            assert p == (0.0 if nbest else 1.0)  # 1.0 only for a question without any valid span


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OPTIONS = dict(
    n_best=st.integers(1, 6),
    max_len=st.none() | st.integers(1, 6),
    thr=st.sampled_from([0.0, 0.0, -1.0, 0.5, 2.0]),
    boost=st.sampled_from([0.0, 0.0, 1.0, -1.5]),
    allow=st.booleans(),
)


@SETTINGS
@given(inp=windowed_inputs(), **OPTIONS)
def test_hf_equals_plain_reference(inp, n_best, max_len, thr, boost, allow):
    _check_against_ref("hf", inp, n_best, max_len, thr, boost, allow)


@SETTINGS
@given(inp=windowed_inputs(), **OPTIONS)
def test_haystack_equals_plain_reference(inp, n_best, max_len, thr, boost, allow):
    _check_against_ref("haystack", inp, n_best, max_len, thr, boost, allow)


@pytest.mark.parametrize("method", ["hf", "haystack"])
def test_continuous_logits_long_windows(method, monkeypatch):
    """Longer windows, continuous logits (no ties): the haystack grid path, not the full search."""
    rng = np.random.default_rng(7)
    seq, n_q = 48, 12
    ids, contexts, ex_idx, offsets = [], [], [], []
    for q in range(n_q):
        words = rng.integers(1, 6, size=100)
        starts = np.concatenate([[0], np.cumsum(words + 1)[:-1]])
        ids.append(f"q{q}")
        contexts.append(" ".join("x" * int(w) for w in words))
        for w in range(int(rng.integers(1, 4))):
            off = np.full((seq, 2), -1)
            take = int(rng.integers(10, seq - 6))
            first = 20 * w
            off[5 : 5 + take, 0] = starts[first : first + take]
            off[5 : 5 + take, 1] = starts[first : first + take] + words[first : first + take]
            ex_idx.append(q)
            offsets.append(off)
    n_feat = len(ex_idx)
    inp = dict(examples={"id": ids, "context": contexts}, example_index=np.array(ex_idx),
               offsets=np.array(offsets), start_logits=rng.normal(0, 3, (n_feat, seq)).astype(np.float32),
               end_logits=rng.normal(0, 3, (n_feat, seq)).astype(np.float32))
    full = []
    orig = decode_mod.haystack_full_window
    monkeypatch.setattr(decode_mod, "haystack_full_window", lambda cand, w, *a: full.append(w) or orig(cand, w, *a))
    for n_best, max_len in [(1, None), (5, 3), (20, None), (20, 12)]:
        _check_against_ref(method, inp, n_best, max_len, 0.0, 0.0, True)
    assert full == []


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(st.integers(-2, 2), min_size=1, max_size=12), min_size=1, max_size=4),
       k=st.integers(1, 14))
def test_topk_desc_total_order(rows, k):
    width = min(len(r) for r in rows)
    x = np.array([r[:width] for r in rows], dtype=np.float64)
    got = topk_desc(x, k)
    for r, row in enumerate(x.tolist()):
        assert got[r].tolist() == sorted(range(width), key=lambda i: (-row[i], i))[:k]


# ------------------------------------------------------------ hand-made cases


def _one_window(context, spans, start, end):
    """One question, one window: [CLS] q [SEP] <context tokens at `spans`> [SEP]."""
    off = [[-1, -1]] * 3 + [list(s) for s in spans] + [[-1, -1]]
    return dict(examples={"id": ["a"], "context": [context]}, example_index=np.array([0]),
                offsets=np.array([off]), start_logits=np.array([start], dtype=np.float32),
                end_logits=np.array([end], dtype=np.float32))


CTX = "alpha beta gamma"
SPANS = [(0, 5), (6, 10), (11, 16)]


@pytest.mark.parametrize("method", ["hf", "haystack"])
def test_best_span_and_null(method):
    inp = _one_window(CTX, SPANS, [1, 0, 0, 0, 5, 1, 0], [1, 0, 0, 0, 1, 4, 0])
    p = decode(**inp, method=method)
    assert p.answers == {"a": "beta gamma"}  # start "beta" 5 + end "gamma" 4 = 9 > null 2
    assert p.na_prob["a"] == pytest.approx(_sig(2 - 9))
    assert p.nbest["a"][0] == dict(text="beta gamma", score=9.0, start_logit=5.0, end_logit=4.0,
                                   window=0, char_start=6, char_end=16)
    scores = [e["score"] for e in p.nbest["a"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 7  # 6 spans + the null entry
    assert [e for e in p.nbest["a"] if e["text"] == ""] == [dict(
        text="", score=2.0, start_logit=1.0, end_logit=1.0, window=0, char_start=None, char_end=None)]
    # Raise the null score above the best span: "" (and na_prob > 1/2).
    inp["start_logits"][0, 0] = 9.5
    p = decode(**inp, method=method)
    assert p.answers == {"a": ""} and p.na_prob["a"] > 0.5
    assert p.nbest["a"][0]["text"] == "" and p.nbest["a"][0]["char_start"] is None
    # ... unless no-answer is not allowed, or the threshold is higher than the margin (1.5).
    assert decode(**inp, method=method, allow_no_answer=False).answers == {"a": "beta gamma"}
    assert decode(**inp, method=method, allow_no_answer=False).na_prob == {"a": 0.0}
    assert decode(**inp, method=method, null_threshold=1.6).answers == {"a": "beta gamma"}
    assert decode(**inp, method=method, null_threshold=1.4).answers == {"a": ""}
    assert decode(**inp, method=method, no_answer_boost=-2.0).answers == {"a": "beta gamma"}


def test_max_answer_length_and_defaults():
    # Best pair spans 3 tokens: allowed by default (hf 30, haystack 1000), not with max length 2.
    inp = _one_window(CTX, SPANS, [0, 0, 0, 0, 5, 0, 0], [0, 0, 0, 0, 0, 0, 0])
    inp["start_logits"][0] = [0, 0, 0, 5, 1, 0, 0]
    inp["end_logits"][0] = [0, 0, 0, 0, 0, 5, 0]
    for method in ("hf", "haystack"):
        assert decode(**inp, method=method).answers == {"a": CTX}
        assert decode(**inp, method=method, max_answer_length=2).answers == {"a": "beta gamma"}
        # single tokens: "alpha" 5 + 0 ties with "gamma" 0 + 5; ties go to the earlier start
        assert decode(**inp, method=method, max_answer_length=1).answers == {"a": "alpha"}


def test_hf_topk_preselection_over_whole_sequence():
    """utils_qa takes the top-n_best starts over ALL tokens: question tokens can crowd out context."""
    inp = _one_window(CTX, SPANS, [0, 9, 8, 0, 1, 0, 0], [0, 9, 8, 0, 0, 1, 0])
    assert decode(**inp, method="hf", n_best=2).answers == {"a": ""}  # no valid span among top-2 x top-2
    assert decode(**inp, method="hf", n_best=2).na_prob == {"a": 1.0}
    assert decode(**inp, method="hf", n_best=3).answers == {"a": "beta gamma"}  # starts 1, 2, 4 x ends 1, 2, 5
    assert decode(**inp, method="haystack", n_best=1).answers == {"a": "beta gamma"}  # no pre-selection


def test_multi_window_rules():
    """hf: min null over windows vs best span anywhere. haystack: "" only if every window prefers it."""
    off_a = [[-1, -1], [-1, -1], [0, 5], [6, 10], [-1, -1]]
    off_b = [[-1, -1], [-1, -1], [6, 10], [11, 16], [-1, -1]]
    inp = dict(examples={"id": ["a"], "context": [CTX]}, example_index=np.array([0, 0]),
               offsets=np.array([off_a, off_b]),
               start_logits=np.array([[3, 0, 2, 0, 0], [9, 0, 0, 2, 0]], dtype=np.float32),
               end_logits=np.array([[3, 0, 2, 0, 0], [0, 0, 0, 2, 0]], dtype=np.float32))
    # window 0: null 6, best 4 ("alpha"); window 1: null 9, best 4 ("gamma").
    hf = decode(**inp, method="hf")
    assert hf.answers == {"a": ""}  # min null 6 > best 4
    assert hf.na_prob["a"] == pytest.approx(_sig(2.0))
    hs = decode(**inp, method="haystack")
    assert hs.answers == {"a": ""}  # both windows prefer no answer: margin min(2, 5) = 2
    assert hs.na_prob["a"] == pytest.approx(_sig(2.0))
    inp["start_logits"][1, 3] = 5.0  # window 1 best 7 ("gamma") < its na 9, window 0 unchanged
    inp["end_logits"][0, 0] = 0.0  # window 0: na 3 < best 4 -> prefers the answer
    hf = decode(**inp, method="hf")
    assert hf.answers == {"a": "gamma"}  # null = min(3, 9) = 3 < 7
    hs = decode(**inp, method="haystack")
    assert hs.answers == {"a": "gamma"}  # window 0 wants an answer; best across windows is "gamma" (7)
    assert hs.na_prob["a"] == pytest.approx(_sig(-1.0))  # min(3 - 4, 9 - 7)
    assert hs.nbest["a"][0]["window"] == 1 and hs.nbest["a"][0]["char_start"] == 11


def test_haystack_dedups_overlapping_windows_hf_does_not():
    off = [[-1, -1], [0, 5], [6, 10], [-1, -1]]
    inp = dict(examples={"id": ["a"], "context": [CTX]}, example_index=np.array([0, 0]),
               offsets=np.array([off, off]),
               start_logits=np.array([[0, 0, 3, 0], [0, 0, 4, 0]], dtype=np.float32),
               end_logits=np.array([[0, 0, 3, 0], [0, 0, 4, 0]], dtype=np.float32))
    hs = [e for e in decode(**inp, method="haystack").nbest["a"] if e["text"] == "beta"]
    hf = [e for e in decode(**inp, method="hf").nbest["a"] if e["text"] == "beta"]
    assert [(e["score"], e["window"]) for e in hs] == [(8.0, 1)]
    assert [(e["score"], e["window"]) for e in hf] == [(8.0, 1), (6.0, 0)]


@pytest.mark.parametrize("method", ["hf", "haystack"])
def test_no_valid_span_and_no_window(method):
    off = [[-1, -1]] * 4  # a window with no context token at all
    inp = dict(examples={"id": ["a", "b"], "context": ["xyz", "uvw"]}, example_index=np.array([0]),
               offsets=np.array([off]), start_logits=np.zeros((1, 4)), end_logits=np.zeros((1, 4)))
    for allow in (True, False):
        p = decode(**inp, method=method, allow_no_answer=allow)
        assert p.answers == {"a": "", "b": ""}
        assert p.na_prob == {"a": 1.0, "b": 1.0}
        assert p.nbest["b"] == []
        assert [e["text"] for e in p.nbest["a"]] == ([""] if allow else [])


def test_haystack_picks_no_answer_on_an_exact_tie_hf_does_not():
    """Haystack v1 reduce_preds: the no-answer candidate (score best - no_ans_gap) is listed first
    and the sort is stable, so na == best answers "" (prediction_head.py l.752-765); utils_qa
    needs null > best."""
    inp = _one_window(CTX, SPANS, [3, 0, 0, 0, 5, 1, 0], [2, 0, 0, 0, 0, -1, 0])  # na 3 + 2 = best 5 + 0
    hs, hf = decode(**inp, method="haystack"), decode(**inp, method="hf")
    assert hs.answers == {"a": ""} and hf.answers == {"a": "beta"}
    assert hs.na_prob["a"] > 0.5 >= hf.na_prob["a"]  # the scorer's na_prob contract holds for both
    assert hs.nbest["a"][0]["text"] == "" and hs.nbest["a"][0]["score"] == 5.0
    assert hf.nbest["a"][0]["text"] == "beta"
    # a hair below the tie, haystack answers the span too
    inp["start_logits"][0, 0] = np.nextafter(np.float32(3), np.float32(0))
    assert decode(**inp, method="haystack").answers == {"a": "beta"}


def test_zero_width_tokens_are_not_answers():
    inp = _one_window("ab", [(0, 0), (0, 2), (2, 2)], [0, 0, 0, 9, 1, 9, 0], [0, 0, 0, 9, 1, 9, 0])
    for method in ("hf", "haystack"):
        p = decode(**inp, method=method, allow_no_answer=False)
        assert p.answers == {"a": "ab"}
        assert all(e["text"] for e in p.nbest["a"])


def test_na_prob_contract_at_float_limits():
    """"" exactly when na_prob > sigmoid(threshold), also where float64 sigmoid cannot tell apart."""
    inp = _one_window(CTX, SPANS, [0, 0, 0, 0, 1e-17, 0, 0], [0, 0, 0, 0, 0, 0, 0])
    inp["start_logits"] = inp["start_logits"].astype(np.float64)
    inp["start_logits"][0, 0] = 2e-17  # margin 1e-17 > 0, yet sigmoid(1e-17) == sigmoid(0) == 0.5
    p = decode(**inp, method="hf")
    assert p.answers == {"a": ""} and p.na_prob["a"] > 0.5
    inp["start_logits"][0, 0] = 50.0  # sigmoid saturates at 1.0 for both margin and threshold
    p = decode(**inp, method="hf", null_threshold=40.0)
    assert p.answers == {"a": ""} and p.na_prob["a"] == 1.0  # cannot exceed 1.0: documented limit
    p = decode(**inp, method="hf", null_threshold=30.0)
    assert p.answers == {"a": ""} and p.na_prob["a"] > float(sigmoid(30.0))


def test_accepts_a_dataset_and_validates():
    from datasets import Dataset

    inp = _one_window(CTX, SPANS, [0, 0, 0, 0, 5, 1, 0], [0, 0, 0, 0, 1, 4, 0])
    inp["examples"] = Dataset.from_dict({"id": ["a"], "context": [CTX], "question": ["?"]})
    assert decode(**inp).answers == {"a": "beta gamma"}
    with pytest.raises(ValueError, match="method"):
        decode(**inp, method="squad")
    with pytest.raises(ValueError, match="finite"):
        bad = dict(inp, start_logits=np.full((1, 7), np.nan))
        decode(**bad)
    with pytest.raises(ValueError, match="offsets"):
        decode(**dict(inp, offsets=np.zeros((1, 6, 2))))
    with pytest.raises(ValueError, match="example_index"):
        decode(**dict(inp, example_index=np.array([1])))
    with pytest.raises(ValueError, match="column"):
        decode(**dict(inp, examples={"id": ["a"]}))


def test_write_predictions(tmp_path):
    preds = Predictions(answers={"a": "x é", "b": ""}, na_prob={"a": 0.25, "b": 0.875},
                        nbest={"a": [dict(text="x é", score=1.0, start_logit=0.5, end_logit=0.5, window=0,
                                          char_start=0, char_end=3)], "b": []})
    paths = write_predictions(preds, tmp_path / "run")
    assert {k: p.name for k, p in paths.items()} == {
        "predictions": "predictions.json", "na_prob": "na_prob.json", "nbest": "nbest.json"}
    assert json.loads(paths["predictions"].read_text(encoding="utf-8")) == {"a": "x é", "b": ""}
    assert json.loads(paths["na_prob"].read_text(encoding="utf-8")) == {"a": 0.25, "b": 0.875}
    assert json.loads(paths["nbest"].read_text(encoding="utf-8")) == preds.nbest
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["na_prob.json", "nbest.json", "predictions.json"]


# ----------------------------------------- real tokenizers, tiny models, official scorer


def _squad_examples(path):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [(qa["id"], qa["question"], p["context"], qa.get("is_impossible", False))
            for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]]


@functools.lru_cache(maxsize=None)
def _single_window_logits(model_dir, path, max_length=512, limit=None):
    """(id, context, offsets[-1 off-context], start, end, input_ids, attention) per question that
    fits one window (the first `limit` questions); logits of the tiny model in float32."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir).eval()
    rows = []
    for qid, question, context, _ in _squad_examples(path)[:limit]:
        enc = tok(question, context, return_offsets_mapping=True, verbose=False)
        if len(enc["input_ids"]) > max_length:
            continue
        seq_ids = enc.sequence_ids()
        off = [list(o) if s == 1 else [-1, -1] for o, s in zip(enc["offset_mapping"], seq_ids)]
        rows.append(dict(id=qid, context=context, offsets=off, seq_ids=seq_ids, enc=enc,
                         input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], cls_id=tok.cls_token_id))
    # One padded batch (attention-masked): each row's logits are then cut back to its length.
    batch = tok.pad([{k: v for k, v in r.pop("enc").items() if k != "offset_mapping"} for r in rows],
                    return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        r["start"], r["end"] = out.start_logits[i, :n].numpy(), out.end_logits[i, :n].numpy()
    return rows


def _pipeline_answer(row, max_answer_len):
    """The span decoder of transformers' QuestionAnsweringPipeline, as its postprocess ran it.

    p_mask: 1 on every token outside the context, except [CLS]/<s> (the pipeline keeps it
    unmasked); select_starts_ends then masks non-context logits to -10000, softmaxes, zeroes the
    [CLS] probabilities and takes the best (start, end) by p_start * p_end over pairs with
    end >= start and end - start + 1 <= max_answer_len; the text is the offsets' slice
    (align_to_words=False).
    """
    from transformers.pipelines.document_question_answering import select_starts_ends

    p_mask = np.array([0 if s == 1 else 1 for s in row["seq_ids"]])
    p_mask[np.array(row["input_ids"]) == row["cls_id"]] = 0
    starts, ends, _, _ = select_starts_ends(
        row["start"][None], row["end"][None], p_mask[None], np.array([row["attention_mask"]]),
        top_k=1, handle_impossible_answer=False, max_answer_len=max_answer_len)
    s, e = int(starts[0]), int(ends[0])
    return row["context"][row["offsets"][s][0] : row["offsets"][e][1]]


def test_hf_matches_transformers_pipeline_decoder(tiny_model):
    """decode(method="hf", allow_no_answer=False) gives the pipeline's top answer.

    transformers 5 removed the "question-answering" pipeline task (pipelines.REMOVED_TASKS), so
    the pipeline's own span decoder is driven directly: `select_starts_ends` (with
    `decode_spans`), which the 4.x QuestionAnsweringPipeline called in its postprocess and which
    now lives in transformers.pipelines.document_question_answering, with the pipeline's p_mask
    and character mapping (see _pipeline_answer). Settings that make the two equal:

    * pipeline: top_k=1, handle_impossible_answer=False, max_answer_len=30 (its default is 15;
      utils_qa's is 30), align_to_words=False (its default True widens the span to whole
      words), one window (max_seq_len large enough; doc_stride then plays no part);
    * decode: allow_no_answer=False, max_answer_length=30, n_best >= sequence length. By design
      utils_qa pre-selects the n_best (20) highest start and end logits over the whole sequence,
      question and special tokens included, before dropping off-context pairs, while the
      pipeline masks first and then searches every pair; with a random tiny model the top 20 are
      often question tokens, so n_best=20 can disagree.
    * The pipeline ranks by p_start * p_end after a masked softmax, decode by start + end
      logits: the same order (exp is monotone) up to float rounding of near-ties.
    """
    rows = _single_window_logits(tiny_model, SQUAD1_DEV_SAMPLE)
    assert len(rows) >= 30
    seq = max(len(r["offsets"]) for r in rows)
    mismatched_at_20 = 0
    for r in rows:
        inp = dict(examples={"id": [r["id"]], "context": [r["context"]]}, example_index=np.array([0]),
                   offsets=np.array([r["offsets"]]), start_logits=r["start"][None], end_logits=r["end"][None])
        expected = _pipeline_answer(r, max_answer_len=30)
        got = decode(**inp, method="hf", allow_no_answer=False, max_answer_length=30, n_best=seq)
        assert got.answers[r["id"]] == expected, r["id"]
        assert got.answers[r["id"]] != ""
        mismatched_at_20 += decode(**inp, method="hf", allow_no_answer=False).answers[r["id"]] != expected
    # Not an assertion of correctness, just evidence that the n_best pre-selection matters.
    print(f"{tiny_model.name}: {mismatched_at_20}/{len(rows)} differ with n_best=20")


def test_real_pipeline_when_available(tiny_bert):
    """Where the installed transformers still has the "question-answering" task, compare with it."""
    import transformers

    try:
        qa = transformers.pipeline("question-answering", model=str(tiny_bert), tokenizer=str(tiny_bert))
    except Exception as err:  # transformers >= 5: the task was removed
        pytest.skip(f"question-answering pipeline unavailable in transformers {transformers.__version__}: {err}")
    rows = _single_window_logits(tiny_bert, SQUAD1_DEV_SAMPLE, max_length=384)
    for r in rows:
        out = qa(question=next(q for i, q, _, _ in _squad_examples(SQUAD1_DEV_SAMPLE) if i == r["id"]),
                 context=r["context"], max_answer_len=30, align_to_words=False, max_seq_len=384,
                 handle_impossible_answer=False, top_k=1)
        got = decode(examples={"id": [r["id"]], "context": [r["context"]]}, example_index=np.array([0]),
                     offsets=np.array([r["offsets"]]), start_logits=r["start"][None], end_logits=r["end"][None],
                     method="hf", allow_no_answer=False, n_best=len(r["offsets"]))
        assert got.answers[r["id"]] == out["answer"]


def test_files_work_with_official_scorer(tiny_bert, tmp_path):
    """predictions.json + na_prob.json from both decoders feed evaluate-v2.0.py (threshold sweep)."""
    rows = _single_window_logits(tiny_bert, SQUAD2_SAMPLE, limit=60)
    assert len(rows) > 20
    seq = max(len(r["offsets"]) for r in rows)
    pad = lambda a, fill: np.array([list(x) + [fill] * (seq - len(x)) for x in a])  # noqa: E731
    inp = dict(examples={"id": [r["id"] for r in rows], "context": [r["context"] for r in rows]},
               example_index=np.arange(len(rows)),
               offsets=pad([r["offsets"] for r in rows], [-1, -1]),
               start_logits=pad([r["start"] for r in rows], 0.0), end_logits=pad([r["end"] for r in rows], 0.0))
    data = json.loads(SQUAD2_SAMPLE.read_text(encoding="utf-8"))
    keep = {r["id"] for r in rows}
    for a in data["data"]:
        for p in a["paragraphs"]:
            p["qas"] = [qa for qa in p["qas"] if qa["id"] in keep]
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps(data), encoding="utf-8")
    for method in ("hf", "haystack"):
        # Threshold chosen near the median margin so that both answers and "" occur.
        margins = np.log(np.array(list(decode(**inp, method=method).na_prob.values())))
        thr = float(np.median(margins - np.log1p(-np.exp(margins))))
        preds = decode(**inp, method=method, null_threshold=thr)
        assert 0 < sum(a == "" for a in preds.answers.values()) < len(rows)
        paths = write_predictions(preds, tmp_path / method)
        res = subprocess.run([sys.executable, str(ORACLE), str(gold), str(paths["predictions"]),
                              "-n", str(paths["na_prob"]), "-t", repr(float(sigmoid(thr)))],
                             capture_output=True, text=True, check=True)
        scores = json.loads(res.stdout)
        # With -t sigmoid(thr) the scorer's own "" rule changes nothing: same as without it.
        plain = json.loads(subprocess.run([sys.executable, str(ORACLE), str(gold), str(paths["predictions"])],
                                          capture_output=True, text=True, check=True).stdout)
        assert scores["exact"] == plain["exact"] and scores["f1"] == plain["f1"]
        assert {"best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"} <= set(scores)
