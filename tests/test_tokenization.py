"""Tokenizer plumbing (qarepro.tokenization): the plain backend copy, the pair layout, the tokenizer
fingerprint of the feature cache, and batch tokenisation into flat arrays, for WordPiece and
byte-level BPE tokenizers."""

from __future__ import annotations

import numpy as np
import pytest

from qarepro.tokenization import (PairLayout, encode_texts, pair_layout, plain_backend, tokenize_examples,
                                  tokenizer_fingerprint)


CONTEXTS = ["The cat sat on the mat in Paris, France.", "Water boils at 100 degrees.", ""]


# ------------------------------------------------------------------------------------------
# plain_backend


def test_plain_backend_ignores_the_wrappers_truncation_and_padding(tok):
    tok("a b", "c", truncation=True, max_length=8, padding="max_length")  # leaves state on the wrapper
    backend = plain_backend(tok)
    assert backend.truncation is None and backend.padding is None
    long = " ".join(["cat"] * 50)
    assert backend.encode(long, add_special_tokens=False).ids == tok(long, add_special_tokens=False)["input_ids"]
    assert backend is not tok.backend_tokenizer  # a copy: our settings never leak into the wrapper


def test_plain_backend_needs_a_fast_tokenizer():
    with pytest.raises(TypeError, match="not a fast tokenizer"):
        plain_backend(object())


# ------------------------------------------------------------------------------------------
# pair_layout


def test_pair_layout_matches_the_tokenizers_pair_encoding(tok):
    layout = pair_layout(tok)
    assert isinstance(layout, PairLayout)
    assert layout.n_special == tok.num_special_tokens_to_add(pair=True)
    q = tok("Where?", add_special_tokens=False)["input_ids"]
    c = tok("In Paris.", add_special_tokens=False)["input_ids"]
    pair = tok("Where?", "In Paris.")
    assert pair["input_ids"] == [*layout.prefix, *q, *layout.middle, *c, *layout.suffix]
    assert layout.pad_id == tok.pad_token_id
    assert layout.with_token_type_ids == ("token_type_ids" in tok.model_input_names)
    if layout.with_token_type_ids:
        types = [*layout.prefix_types, *[layout.type_a] * len(q), *layout.middle_types, *[layout.type_b] * len(c),
                 *layout.suffix_types]
        assert pair["token_type_ids"] == types


def test_pair_layout_wordpiece_and_byte_level_bpe(bert_tok, roberta_tok):
    bert = pair_layout(bert_tok)
    assert (bert.prefix, bert.middle, bert.suffix) == ((bert_tok.cls_token_id,), (bert_tok.sep_token_id,),
                                                       (bert_tok.sep_token_id,))
    roberta = pair_layout(roberta_tok)
    assert (roberta.prefix, roberta.middle, roberta.suffix) == (
        (roberta_tok.bos_token_id,), (roberta_tok.eos_token_id,) * 2, (roberta_tok.eos_token_id,))


# ------------------------------------------------------------------------------------------
# tokenizer_fingerprint


def test_tokenizer_fingerprint_is_the_tokenizers_identity_only(bert_tok, roberta_tok):
    fp = tokenizer_fingerprint(bert_tok)
    assert set(fp) == {"class", "backend_sha256", "special_tokens", "pad_token_id", "model_input_names"}
    assert all(isinstance(v, str) for v in fp.values())
    bert_tok("a b", "c", truncation=True, max_length=8, padding="max_length")  # wrapper state does not count
    assert tokenizer_fingerprint(bert_tok) == fp
    assert tokenizer_fingerprint(roberta_tok)["backend_sha256"] != fp["backend_sha256"]


# ------------------------------------------------------------------------------------------
# encode_texts / tokenize_examples


def test_encode_texts_flat_arrays_equal_per_text_calls(tok):
    ptr, ids, starts, ends = encode_texts(plain_backend(tok), CONTEXTS, "t", False)
    assert ptr.tolist()[0] == 0 and len(ptr) == len(CONTEXTS) + 1
    for k, text in enumerate(CONTEXTS):
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        assert ids[ptr[k]:ptr[k + 1]].tolist() == enc["input_ids"]
        assert np.stack([starts, ends], 1)[ptr[k]:ptr[k + 1]].tolist() == [list(o) for o in enc["offset_mapping"]]
    assert ptr[-1] == ptr[-2]  # the empty text has no tokens


def test_encode_texts_cuts_to_max_tokens_and_skips_offsets(tok):
    backend = plain_backend(tok)
    ptr, ids, starts, ends = encode_texts(backend, CONTEXTS, "t", False, max_tokens=3, with_offsets=False)
    assert starts is None and ends is None
    assert np.diff(ptr).tolist() == [3, 3, 0]
    assert ids[:3].tolist() == tok(CONTEXTS[0], add_special_tokens=False)["input_ids"][:3]
    ptr, ids, starts, ends = encode_texts(backend, [], "t", False)
    assert ptr.tolist() == [0] and len(ids) == len(starts) == len(ends) == 0


def test_tokenize_examples_once_per_distinct_context(tok):
    cols = {"context": [CONTEXTS[0], CONTEXTS[1], CONTEXTS[0]], "question": ["  Who sat?", "What?", "Where?"]}
    backend = plain_backend(tok)
    out = tokenize_examples(cols, backend, max_query_length=2, strip_questions=True, progress=False)
    assert out["ctx_idx"].tolist() == [0, 1, 0]
    assert len(out["c_ptr"]) == 3  # two distinct contexts
    assert np.diff(out["q_ptr"]).tolist() == [min(2, len(tok(q.lstrip(), add_special_tokens=False)["input_ids"]))
                                              for q in cols["question"]]
    assert out["q_ids"][:2].tolist() == tok("Who sat?", add_special_tokens=False)["input_ids"][:2]
    kept = tokenize_examples(cols, backend, max_query_length=64, strip_questions=False, progress=False)
    raw = tok("  Who sat?", add_special_tokens=False)["input_ids"]
    assert kept["q_ids"][:kept["q_ptr"][1]].tolist() == raw  # the question as given
