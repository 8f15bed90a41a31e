"""Windows and labels: SQuAD examples -> fixed-length model features (shared/REFERENCE.md §3).

One feature is one window of a context, laid out as the tokenizer lays out a pair:
``<prefix specials> question <middle specials> passage-window <suffix specials> <pad>...``.

- The question is stripped of leading whitespace and truncated to ``max_query_length`` tokens.
- Passage room = ``max_seq_len`` - question tokens - special tokens of a pair.
- ``stride_mode="haystack"``: ``doc_stride`` is the **step** between window starts (Haystack v1).
  ``stride_mode="hf"``: ``doc_stride`` is the **overlap** between windows, exactly the windows of
  ``tokenizer(q, c, truncation="only_second", stride=doc_stride, return_overflowing_tokens=True)``.
  Windows start at token 0 and go on until the context's last token is covered.
- Labels come from the first gold answer: the start/end token positions of its character span if
  the span lies wholly inside the window, else (0, 0); impossible questions are (0, 0). Every
  window is kept.
- ``label_mode="haystack"`` reproduces Haystack v1.0's SquadProcessor instead (processor.py
  ``_convert_answers`` l.589-652, samples.py ``offset_to_token_idx_vecorized`` l.172-185,
  tokenization.py ``tokenize_batch_question_answering`` l.112): the question is tokenised as
  given (not stripped); a character maps to the last token starting at or before it, except that
  a character at or after the start of the context's last token maps one *past* it, so an answer
  ending on the context's last token gets its end label on the trailing special token (the
  in-window test is ``passage_len_t >= answer_end_t``); and a question whose answer text does
  not match its offset (``context[s:e+1].strip() != text.strip()``, or the text is not in the
  context), in a window that holds it, is dropped with all its windows. What differs from the
  default rule is counted (`label_stats`) and logged.

Character -> token mapping: the answer starts at the first context token whose character end is
past the answer's start, and ends at the last context token that starts before the answer's end.
Whitespace is never part of a token's offsets (WordPiece drops it; byte-level BPE with trimmed
offsets reports "Ġword" from the word's first character), so an answer that starts after a space
maps to the word's token, not the space.

Columns (every row padded on the right to max_seq_len): input_ids int32, attention_mask int8,
token_type_ids int8 (only if the tokenizer's model_input_names has it), start_positions /
end_positions / example_index int64, example_id string, offset_mapping
``datasets.Array2D((max_seq_len, 2), "int32")`` with [-1, -1] off the context. numpy and torch
formatting give int64. Read offsets in bulk with ``feats.with_format("numpy")[:]["offset_mapping"]``
(fast); ``feats.with_format("numpy")["offset_mapping"]`` (a lazy column) goes row by row and is
about 100x slower.

Contexts are tokenised once each (SQuAD has ~4.6 questions per context), questions and contexts
in fast-tokenizer batch calls (``qarepro.tokenization``), and windows and labels are laid out with
numpy. Results are cached on disk under ``paths.feature_cache()/<feature_cache_key(...)>``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import datasets
import numpy as np
import pyarrow as pa
from datasets import Array2D, Features, List, Value
from datasets.table import InMemoryTable

from . import paths
from .data import fingerprint
from .tokenization import PairLayout, pair_layout, plain_backend, progress_bar, tokenize_examples, tokenizer_fingerprint

log = logging.getLogger(__name__)

# Bump when the layout, the columns or the labelling rule change: old cache entries are then ignored.
FEATURES_FORMAT_VERSION = 1
STRIDE_MODES = ("haystack", "hf")
LABEL_MODES = ("hf", "haystack")
CACHE_META = "qarepro_features.json"

_ASSEMBLE_CHUNK = 4096  # features laid out per numpy pass


@dataclass(frozen=True)
class WindowConfig:
    """How contexts are cut into windows.

    doc_stride means the step between window starts for stride_mode "haystack" and the overlap
    between consecutive windows for stride_mode "hf" (see the module docstring).
    """

    max_seq_len: int = 384
    max_query_length: int = 64
    doc_stride: int = 128
    stride_mode: str = "haystack"
    label_mode: str = "hf"

    def __post_init__(self) -> None:
        for name in ("max_seq_len", "max_query_length", "doc_stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"WindowConfig.{name} must be an int, got {value!r}")
        if self.stride_mode not in STRIDE_MODES:
            raise ValueError(f"WindowConfig.stride_mode must be one of {STRIDE_MODES}, got {self.stride_mode!r}")
        if self.label_mode not in LABEL_MODES:
            raise ValueError(f"WindowConfig.label_mode must be one of {LABEL_MODES}, got {self.label_mode!r}")
        if self.max_query_length < 1:
            raise ValueError(f"WindowConfig.max_query_length must be >= 1, got {self.max_query_length}")
        if self.max_seq_len <= self.max_query_length:
            raise ValueError(
                f"WindowConfig.max_seq_len ({self.max_seq_len}) must exceed max_query_length "
                f"({self.max_query_length}): no room would be left for the passage")
        room = self.max_seq_len - self.max_query_length  # an upper bound; specials are checked later
        if self.stride_mode == "haystack":
            if self.doc_stride < 1:
                raise ValueError(f"WindowConfig.doc_stride is the step between windows in haystack mode "
                                 f"and must be >= 1, got {self.doc_stride}")
            if self.doc_stride > room:
                raise ValueError(f"WindowConfig.doc_stride (step {self.doc_stride}) exceeds the passage room "
                                 f"max_seq_len - max_query_length = {room}: windows would skip context tokens")
        else:
            if self.doc_stride < 0:
                raise ValueError(f"WindowConfig.doc_stride is the overlap between windows in hf mode "
                                 f"and must be >= 0, got {self.doc_stride}")
            if self.doc_stride >= room:
                raise ValueError(f"WindowConfig.doc_stride (overlap {self.doc_stride}) must be smaller than the "
                                 f"passage room max_seq_len - max_query_length = {room}: the step would not be positive")

    def check_room(self, n_special: int) -> int:
        """Smallest passage room (longest question) once the pair's special tokens are known."""
        room = self.max_seq_len - self.max_query_length - n_special
        if room < 1:
            raise ValueError(f"max_seq_len {self.max_seq_len} leaves no passage room after a question of "
                             f"{self.max_query_length} tokens and {n_special} special tokens")
        if self.stride_mode == "haystack" and self.doc_stride > room:
            raise ValueError(f"doc_stride (step {self.doc_stride}) exceeds the passage room {room} "
                             f"(= {self.max_seq_len} - {self.max_query_length} - {n_special} special tokens): "
                             "windows would skip context tokens")
        if self.stride_mode == "hf" and self.doc_stride >= room:
            raise ValueError(f"doc_stride (overlap {self.doc_stride}) must be smaller than the passage room {room} "
                             f"(= {self.max_seq_len} - {self.max_query_length} - {n_special} special tokens)")
        return room

    def to_dict(self) -> dict[str, Any]:
        d = {k: (int(v) if isinstance(v, np.integer) else v) for k, v in dataclasses.asdict(self).items()}
        if d["label_mode"] == "hf":  # the default rule keeps the cache keys it had before the option existed
            d.pop("label_mode")
        return d


# --------------------------------------------------------------------------------------------
# Data fingerprint and the cache key


def examples_fingerprint(examples) -> str:
    """Stable content hash of an examples Dataset (order-sensitive): ``qarepro.data.fingerprint``,
    so that the feature cache and the teacher cache key on the same value."""
    return str(fingerprint(examples))


def feature_cache_key(tokenizer, cfg: WindowConfig, data_fingerprint: str) -> str:
    """Cache key: tokenizer identity + every WindowConfig field + data fingerprint + format version."""
    payload = {
        "format_version": FEATURES_FORMAT_VERSION,
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "window": cfg.to_dict(),
        "data": str(data_fingerprint),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# Building features


def example_columns(examples) -> dict[str, list]:
    """id / context / question / answers of examples as Python lists (indices mapping respected)."""
    if isinstance(examples, datasets.Dataset):
        missing = {"id", "context", "question", "answers"} - set(examples.column_names)
        if missing:
            raise ValueError(f"examples lack the column(s) {sorted(missing)}; expected the SQuAD schema")
        cols = examples.select_columns(["id", "context", "question", "answers"]).with_format(None)[:]
        return {k: list(v) for k, v in cols.items()}
    if isinstance(examples, Mapping):
        return {k: list(examples[k]) for k in ("id", "context", "question", "answers")}
    rows = list(examples)
    return {k: [r[k] for r in rows] for k in ("id", "context", "question", "answers")}


def char_span_to_token_span(c_ptr, c_start, c_end, ctx_of, s, e):
    """Map character spans [s, e) in contexts to inclusive context-token spans, vectorised.

    c_ptr/c_start/c_end: flat token offsets of all contexts (context k = tokens c_ptr[k]:c_ptr[k+1]);
    ctx_of, s, e: per-span context index, start char, end char (s < 0 means no span).
    Returns (ts, te): token indices within the context, -1 where the span maps to no token.
    The start token is the first token ending after s; the end token the last token starting before e.
    """
    ctx_of = np.asarray(ctx_of, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    e = np.asarray(e, dtype=np.int64)
    ts = np.full(len(s), -1, dtype=np.int64)
    te = np.full(len(s), -1, dtype=np.int64)
    if len(s) == 0 or len(c_start) == 0:
        return ts, te
    n_ctx = len(c_ptr) - 1
    tok_ctx = np.repeat(np.arange(n_ctx, dtype=np.int64), np.diff(c_ptr))
    big = int(max(c_end.max(initial=0), e.max(initial=0), s.max(initial=0))) + 2
    base = tok_ctx * big
    # Offsets are non-decreasing in practice; running max/min make the searches exact regardless.
    ends_key = np.maximum.accumulate(c_end + base)
    starts_key = np.minimum.accumulate((c_start + base)[::-1])[::-1]
    valid = s >= 0
    lo, hi = c_ptr[ctx_of], c_ptr[ctx_of + 1]
    first = np.searchsorted(ends_key, s + ctx_of * big, side="right")  # first token with end > s
    last = np.searchsorted(starts_key, e + ctx_of * big, side="left") - 1  # last token with start < e
    ok = valid & (first < hi) & (last >= lo) & (first <= last) & (e > s)
    ts[ok] = first[ok] - lo[ok]
    te[ok] = last[ok] - lo[ok]
    return ts, te


def haystack_token_index(c_ptr, c_start, ctx_of, ch):
    """Haystack v1's ``offset_to_token_idx_vecorized`` (samples.py l.172), vectorised.

    For each character index ``ch`` in context ``ctx_of``: if ``ch`` is at or after the start of
    the context's last token, one past the first token holding that largest start offset;
    otherwise the last token whose start offset is <= ``ch`` (-1 before the first token).
    Returns token indices within the context; -1 where ``ch < 0`` (no answer) or the context has
    no tokens.
    """
    ctx_of = np.asarray(ctx_of, dtype=np.int64)
    ch = np.asarray(ch, dtype=np.int64)
    out = np.full(len(ch), -1, dtype=np.int64)
    lens = np.diff(c_ptr)
    if len(ch) == 0 or len(c_start) == 0:
        return out
    n_ctx = len(lens)
    tok_ctx = np.repeat(np.arange(n_ctx, dtype=np.int64), lens)
    big = int(max(c_start.max(initial=0), ch.max(initial=0))) + 2
    run = np.maximum.accumulate(c_start + tok_ctx * big)  # non-decreasing over all contexts
    nonempty = lens > 0
    ctx_max = np.full(n_ctx, -1, dtype=np.int64)
    ctx_max[nonempty] = np.maximum.reduceat(c_start, c_ptr[:-1][nonempty])
    lo, m, base = c_ptr[ctx_of], ctx_max[ctx_of], ctx_of * big
    first_max = np.searchsorted(run, m + base, side="left") - lo  # argmax: first token at the largest start
    first_gt = np.searchsorted(run, ch + base, side="right") - lo  # argmax(offsets > ch)
    idx = np.where(ch >= m, first_max + 1, first_gt - 1)
    ok = (ch >= 0) & nonempty[ctx_of]
    out[ok] = idx[ok]
    return out


def _haystack_mismatched(cols: dict[str, list]) -> list[tuple[int, int, int]]:
    """(example, answer start, answer end char inclusive) of every answer Haystack's check fails:
    its text is not in the context, or the context at its offset differs (whitespace-stripped)."""
    bad = []
    for i, (ctx, a) in enumerate(zip(cols["context"], cols["answers"])):
        for text, start in zip((a or {}).get("text", []), (a or {}).get("answer_start", [])):
            start = int(start)
            if text not in ctx or ctx[start:start + len(text)].strip() != text.strip():
                bad.append((i, start, start + len(text) - 1))
    return bad


def first_answers(answers: list) -> tuple[np.ndarray, np.ndarray]:
    s = np.full(len(answers), -1, dtype=np.int64)
    e = np.full(len(answers), -1, dtype=np.int64)
    for i, a in enumerate(answers):
        if a and a.get("text"):
            text, start = a["text"][0], int(a["answer_start"][0])
            if text:
                s[i], e[i] = start, start + len(text)
    return s, e


def window_plan(n_ctx_tokens, q_len, n_special: int, cfg: WindowConfig):
    """Per example: passage room, step and number of windows (numpy, vectorised)."""
    n = np.asarray(n_ctx_tokens, dtype=np.int64)
    room = cfg.max_seq_len - np.asarray(q_len, dtype=np.int64) - n_special
    step = np.full_like(room, cfg.doc_stride) if cfg.stride_mode == "haystack" else room - cfg.doc_stride
    if np.any(room < 1) or np.any(step < 1):
        raise ValueError("window plan: passage room or step not positive (check WindowConfig)")
    n_win = 1 + np.maximum(0, -(-(n - room) // step))
    return room, step, n_win


def _features_schema(cfg: WindowConfig, with_types: bool):
    L = cfg.max_seq_len
    cols = {
        "input_ids": List(Value("int32"), length=L),
        "attention_mask": List(Value("int8"), length=L),
    }
    if with_types:
        cols["token_type_ids"] = List(Value("int8"), length=L)
    cols.update({
        "start_positions": Value("int64"),
        "end_positions": Value("int64"),
        "example_index": Value("int64"),
        "example_id": Value("string"),
        # Array2D: numpy/torch formatting of it is fast (nested lists go row by row in Python).
        "offset_mapping": Array2D((L, 2), "int32"),
    })
    return Features(cols)


def _array2d(values: np.ndarray, feature):
    """numpy [n, L, 2] -> the Arrow extension array of a datasets.Array2D feature."""
    n, rows, cols = values.shape
    inner = pa.ListArray.from_arrays(pa.array(np.arange(0, n * rows * cols + 1, cols, dtype=np.int32)),
                                     pa.array(values.ravel()))
    outer = pa.ListArray.from_arrays(pa.array(np.arange(0, n * rows + 1, rows, dtype=np.int32)), inner)
    return pa.ExtensionArray.from_storage(feature(), outer)  # feature() is its Arrow extension type


def _build(examples, tokenizer, cfg: WindowConfig, layout: PairLayout, backend, progress: bool | None):
    cols = example_columns(examples)
    n_ex = len(cols["id"])
    features = _features_schema(cfg, layout.with_token_type_ids)
    # HF run_qa strips the question; Haystack v1 tokenises it as given
    tok = tokenize_examples(cols, backend, max_query_length=cfg.max_query_length,
                            strip_questions=cfg.label_mode == "hf", progress=progress)
    ctx_idx, c_ptr = tok["ctx_idx"], tok["c_ptr"]
    q_len = np.diff(tok["q_ptr"])
    n_ctx_tok = np.diff(c_ptr)[ctx_idx]

    # Labels of each example in context-token space.
    s_char, e_char = first_answers(cols["answers"])
    ts, te = char_span_to_token_span(c_ptr, tok["c_start"], tok["c_end"], ctx_idx, s_char, e_char)

    room, step, n_win = window_plan(n_ctx_tok, q_len, layout.n_special, cfg)
    F = int(n_win.sum())
    f_ex = np.repeat(np.arange(n_ex, dtype=np.int64), n_win)
    first_f = np.concatenate([[0], np.cumsum(n_win)[:-1]]).astype(np.int64)
    k = np.arange(F, dtype=np.int64) - first_f[f_ex]
    ws = k * step[f_ex]  # window start (context token)
    wlen = np.minimum(room[f_ex], n_ctx_tok[f_ex] - ws)
    P, M, S = len(layout.prefix), len(layout.middle), len(layout.suffix)
    p0 = P + q_len[f_ex] + M  # sequence position of the window's first passage token

    ts_f, te_f = ts[f_ex], te[f_ex]
    inside = (ts_f >= 0) & (ts_f >= ws) & (te_f < ws + wlen)
    start_pos = np.where(inside, p0 + ts_f - ws, 0)
    end_pos = np.where(inside, p0 + te_f - ws, 0)
    stats: dict[str, Any] = {"label_mode": cfg.label_mode, "questions": n_ex, "features": F}
    if cfg.label_mode == "haystack":
        n_tok = np.diff(c_ptr)[ctx_idx]
        hs = haystack_token_index(c_ptr, tok["c_start"], ctx_idx, s_char)
        he = haystack_token_index(c_ptr, tok["c_start"], ctx_idx, np.where(s_char >= 0, e_char - 1, -1))
        s_rel, e_rel = hs[f_ex] - ws, he[f_ex] - ws
        h_in = (s_char[f_ex] >= 0) & (s_rel >= 0) & (s_rel < wlen) & (e_rel >= 0) & (e_rel <= wlen)
        h_start = np.where(h_in, p0 + s_rel, 0)
        h_end = np.where(h_in, p0 + e_rel, 0)
        on_special = h_in & (e_rel == wlen)
        drop = np.zeros(n_ex, dtype=bool)
        bad = _haystack_mismatched(cols)
        if bad:
            b_ex = np.asarray([b[0] for b in bad], dtype=np.int64)
            b_s = haystack_token_index(c_ptr, tok["c_start"], ctx_idx[b_ex], [b[1] for b in bad])
            b_e = haystack_token_index(c_ptr, tok["c_start"], ctx_idx[b_ex], [b[2] for b in bad])
            for x, s_t, e_t in zip(b_ex.tolist(), b_s.tolist(), b_e.tolist()):
                w = np.arange(first_f[x], first_f[x] + n_win[x])
                # processor.py l.633: checked only in a window that holds the whole answer
                if np.any((s_t - ws[w] >= 0) & (e_t - ws[w] < wlen[w])):
                    drop[x] = True
        keep = ~drop[f_ex]
        changed = (h_start != start_pos) | (h_end != end_pos)
        answered = s_char >= 0
        stats.update({
            "features_relabelled": int((changed & keep).sum()),
            "questions_relabelled": int(np.unique(f_ex[changed & keep]).size),
            "features_end_on_special_token": int((on_special & keep).sum()),
            "questions_end_on_special_token": int(np.unique(f_ex[on_special & keep]).size),
            "answers_ending_on_last_context_token": int((answered & (he == n_tok)).sum()),
            "answers_starting_on_last_context_token": int((answered & (hs == n_tok)).sum()),
            "answers_mismatched": len(bad),
            "questions_dropped": int(drop.sum()),
            "features_dropped": int((~keep).sum()),
            "questions_unstripped": int(sum(1 for q in cols["question"] if q != q.lstrip())),
        })
        start_pos, end_pos = h_start, h_end
        if not keep.all():
            f_ex, ws, wlen, p0, start_pos, end_pos = (a[keep] for a in (f_ex, ws, wlen, p0, start_pos, end_pos))
            F = int(keep.sum())
        stats["features"] = F
        log.info("label_mode haystack: %s", json.dumps(stats))

    # Sources for the gather: specials, pad, question tokens, context tokens (ids and offsets).
    specials = np.asarray(layout.prefix + layout.middle + layout.suffix, dtype=np.int64)
    special_types = np.asarray(layout.prefix_types + layout.middle_types + layout.suffix_types, dtype=np.int64)
    PAD = len(specials)
    Q0 = PAD + 1
    C0 = Q0 + len(tok["q_ids"])
    src_ids = np.concatenate([specials, [layout.pad_id], tok["q_ids"], tok["c_ids"]]).astype(np.int32)
    src_types = np.concatenate([special_types, [layout.pad_type_id],
                                np.full(len(tok["q_ids"]), layout.type_a),
                                np.full(len(tok["c_ids"]), layout.type_b)]).astype(np.int8)
    src_off = np.full((len(src_ids), 2), -1, dtype=np.int32)
    src_off[C0:, 0] = tok["c_start"]
    src_off[C0:, 1] = tok["c_end"]

    L = cfg.max_seq_len
    pos = np.arange(L, dtype=np.int64)[None, :]
    ids_all = np.asarray(cols["id"], dtype=object)
    tables = []
    with progress_bar(F, "laying out windows", progress) as bar:
        for f0 in range(0, max(F, 1), _ASSEMBLE_CHUNK):
            f1 = min(F, f0 + _ASSEMBLE_CHUNK)
            if f1 <= f0:
                break
            ex = f_ex[f0:f1]
            ql = q_len[ex][:, None]
            ps = p0[f0:f1][:, None]
            pe = ps + wlen[f0:f1][:, None]
            se = pe + S
            qsrc = Q0 + tok["q_ptr"][ex][:, None] + (pos - P)
            csrc = C0 + c_ptr[ctx_idx[ex]][:, None] + ws[f0:f1][:, None] + (pos - ps)
            idx = np.select(
                [pos < P, pos < P + ql, pos < ps, pos < pe, pos < se],
                [np.broadcast_to(pos, qsrc.shape), qsrc, pos - ql, csrc, P + M + (pos - pe)],
                default=PAD,
            )
            n = f1 - f0
            arrays = {
                "input_ids": pa.FixedSizeListArray.from_arrays(pa.array(src_ids[idx].ravel()), L),
                "attention_mask": pa.FixedSizeListArray.from_arrays(
                    pa.array((pos < se).astype(np.int8).ravel()), L),
            }
            if layout.with_token_type_ids:
                arrays["token_type_ids"] = pa.FixedSizeListArray.from_arrays(pa.array(src_types[idx].ravel()), L)
            arrays.update({
                "start_positions": pa.array(start_pos[f0:f1]),
                "end_positions": pa.array(end_pos[f0:f1]),
                "example_index": pa.array(ex),
                "example_id": pa.array(ids_all[ex].tolist(), type=pa.string()),
                "offset_mapping": _array2d(src_off[idx], features["offset_mapping"]),
            })
            tables.append(pa.Table.from_arrays([arrays[c] for c in features], schema=features.arrow_schema))
            bar.update(n)
    table = pa.concat_tables(tables) if tables else features.arrow_schema.empty_table()
    # An explicit fingerprint spares datasets from hashing the whole table (seconds on SQuAD train).
    fp = hashlib.sha256(f"{time.time_ns()}-{os.getpid()}-{F}".encode()).hexdigest()[:16]
    ds = datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features), fingerprint=fp)
    return ds, stats


def build_features(examples, tokenizer, cfg: WindowConfig | None = None, *, use_cache: bool = True,
                   progress: bool | None = None, data_fingerprint: str | None = None):
    """Examples (SQuAD schema) -> features Dataset (columns in the module docstring / architecture.md).

    With use_cache, the result is stored under paths.feature_cache()/<key> (atomically) and a later
    call with the same tokenizer, config and data loads it instead of tokenising again.
    progress: tqdm bars (None: only on a terminal). data_fingerprint: skip hashing the examples.
    """
    cfg = cfg or WindowConfig()
    backend = plain_backend(tokenizer)
    layout = pair_layout(tokenizer, backend)
    cfg.check_room(layout.n_special)
    if not use_cache:
        return _build(examples, tokenizer, cfg, layout, backend, progress)[0]
    key = feature_cache_key(tokenizer, cfg, data_fingerprint or examples_fingerprint(examples))
    final = paths.feature_cache() / key
    if (final / CACHE_META).exists():
        return datasets.load_from_disk(str(final))
    t0 = time.perf_counter()
    ds, stats = _build(examples, tokenizer, cfg, layout, backend, progress)
    meta = {
        "key": key,
        "format_version": FEATURES_FORMAT_VERSION,
        "window": cfg.to_dict(),
        "tokenizer": {"name_or_path": str(getattr(tokenizer, "name_or_path", "")), **tokenizer_fingerprint(tokenizer)},
        "examples": len(examples),
        "features": len(ds),
        "labels": stats,
        "build_seconds": round(time.perf_counter() - t0, 3),
    }
    _save_atomically(ds, final, meta, progress)
    return datasets.load_from_disk(str(final))


def label_stats(examples, tokenizer, cfg: WindowConfig) -> dict[str, Any]:
    """What the labelling rule of `cfg` did to `examples` (counts; see the module docstring).
    With label_mode "haystack": how many features and questions differ from the default rule,
    end labels on the trailing special token, dropped questions and unstripped questions."""
    backend = plain_backend(tokenizer)
    layout = pair_layout(tokenizer, backend)
    cfg.check_room(layout.n_special)
    return _build(examples, tokenizer, cfg, layout, backend, False)[1]


def cached_label_stats(key: str) -> dict[str, Any] | None:
    """The label counts stored with a feature cache entry (None: no entry, or an older one)."""
    meta = paths.feature_cache() / key / CACHE_META
    if not meta.is_file():
        return None
    return json.loads(meta.read_text(encoding="utf-8")).get("labels")


def _save_atomically(ds, final: Path, meta: dict, progress: bool | None = None) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    quiet = progress is False or (progress is None and not sys.stderr.isatty())
    bars_were_off = datasets.are_progress_bars_disabled()
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache entry is an ordinary folder
        if quiet:
            datasets.disable_progress_bars()
        try:
            ds.save_to_disk(str(tmp))
        finally:
            if quiet and not bars_were_off:
                datasets.enable_progress_bars()
        (tmp / CACHE_META).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / CACHE_META).exists():  # not a concurrent writer's complete result
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Reading labels back


def recover_answer(features_row: Mapping[str, Any], context: str) -> str:
    """Text of a feature's label span (label -> offsets -> context); "" for a (0, 0) label."""
    start, end = int(features_row["start_positions"]), int(features_row["end_positions"])
    if start == 0 and end == 0:
        return ""
    offsets = features_row["offset_mapping"]
    c0, c1 = int(offsets[start][0]), int(offsets[end][1])
    if c0 < 0 or c1 < 0 or end < start:
        raise ValueError(f"label ({start}, {end}) does not point at context tokens")
    return context[c0:c1]
