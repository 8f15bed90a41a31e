"""Tokenizer plumbing for the feature stage (qarepro.features).

- `plain_backend`: a copy of a fast tokenizer's `tokenizers` backend with truncation and padding off,
  so that our tokenisation never depends on what the last call on the wrapper left set.
- `PairLayout` / `pair_layout`: the special tokens (and token types) a tokenizer puts around a
  (question, passage) pair, read off its own post-processor.
- `tokenizer_fingerprint`: the identity of a tokenizer in the feature cache key.
- `encode_texts` / `tokenize_examples`: batch tokenisation without specials into flat numpy arrays
  (each distinct context once, questions cut to a length).
- `progress_bar`: the tqdm bar the feature stage shows (None: only on a terminal).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from tokenizers import Tokenizer
from tqdm.auto import tqdm

_TOKENIZE_BATCH = 4096  # texts per fast-tokenizer batch call


def plain_backend(tokenizer) -> Tokenizer:
    """A private copy of the fast tokenizer's backend with truncation and padding switched off.

    The wrapper's backend carries whatever truncation/padding the last call (or tokenizer.json)
    set; the copy makes our own tokenisation independent of it.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        raise TypeError(f"{type(tokenizer).__name__} is not a fast tokenizer (no backend_tokenizer): "
                        "features need a `tokenizers`-backed tokenizer for offsets")
    copy = Tokenizer.from_str(backend.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


@dataclass(frozen=True)
class PairLayout:
    """Where a tokenizer puts its special tokens around a (question, passage) pair."""

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    prefix_types: tuple[int, ...]
    middle_types: tuple[int, ...]
    suffix_types: tuple[int, ...]
    type_a: int
    type_b: int
    pad_id: int
    pad_type_id: int
    with_token_type_ids: bool

    @property
    def n_special(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)


def pair_layout(tokenizer, backend=None) -> PairLayout:
    """Read the pair template off the tokenizer's own post-processor (checked on two pair shapes)."""
    backend = backend or plain_backend(tokenizer)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        raise ValueError(f"tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no pad token")
    layouts = []
    for a_text, b_text in (("a b", "c d e"), ("a b c d", "e")):
        a = backend.encode(a_text, add_special_tokens=False)
        b = backend.encode(b_text, add_special_tokens=False)
        pair = backend.post_process(a, b, add_special_tokens=True)
        mask, ids, types = pair.special_tokens_mask, pair.ids, pair.type_ids
        n_prefix = 0
        while n_prefix < len(mask) and mask[n_prefix]:
            n_prefix += 1
        n_suffix = 0
        while n_suffix < len(mask) - n_prefix and mask[len(mask) - 1 - n_suffix]:
            n_suffix += 1
        n_middle = len(ids) - n_prefix - n_suffix - len(a.ids) - len(b.ids)
        mid0 = n_prefix + len(a.ids)
        b0 = mid0 + n_middle
        if (n_middle < 0 or ids[n_prefix:mid0] != a.ids or ids[b0:b0 + len(b.ids)] != b.ids
                or not all(mask[mid0:b0])):
            raise ValueError(f"cannot read the pair layout of tokenizer {type(tokenizer).__name__}: {pair.tokens}")
        layouts.append(PairLayout(
            prefix=tuple(ids[:n_prefix]), middle=tuple(ids[mid0:b0]), suffix=tuple(ids[len(ids) - n_suffix:]),
            prefix_types=tuple(types[:n_prefix]), middle_types=tuple(types[mid0:b0]),
            suffix_types=tuple(types[len(ids) - n_suffix:]),
            type_a=types[n_prefix] if a.ids else 0, type_b=types[b0] if b.ids else 0,
            pad_id=int(pad_id), pad_type_id=int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
            with_token_type_ids="token_type_ids" in getattr(tokenizer, "model_input_names", ()),
        ))
    if layouts[0] != layouts[1]:
        raise ValueError(f"the pair layout of {type(tokenizer).__name__} depends on the sequence lengths")
    layout = layouts[0]
    expected = tokenizer.num_special_tokens_to_add(pair=True)
    if layout.n_special != expected:
        raise ValueError(f"pair layout has {layout.n_special} special tokens, the tokenizer says {expected}")
    return layout


def tokenizer_fingerprint(tokenizer) -> dict[str, str]:
    """Identity of a tokenizer: hash of its serialized backend (truncation/padding off), class, specials."""
    backend = plain_backend(tokenizer)
    specials = sorted(zip(tokenizer.all_special_tokens, tokenizer.all_special_ids))
    return {
        "class": type(tokenizer).__name__,
        "backend_sha256": hashlib.sha256(backend.to_str().encode("utf-8")).hexdigest(),
        "special_tokens": json.dumps(specials, ensure_ascii=False),
        "pad_token_id": str(tokenizer.pad_token_id),
        "model_input_names": ",".join(getattr(tokenizer, "model_input_names", ())),
    }


def progress_bar(total: int, desc: str, progress: bool | None):
    """A transient tqdm bar; progress None shows it only on a terminal, False never."""
    return tqdm(total=total, desc=desc, unit="", disable=(None if progress is None else not progress),
                leave=False, dynamic_ncols=True)


def encode_texts(backend, texts: Sequence[str], desc: str, progress: bool | None, max_tokens: int | None = None,
                 with_offsets: bool = True):
    """Batch-encode texts without specials -> (ptr[n+1], ids[T], starts[T], ends[T]) flat numpy arrays
    (starts/ends None without offsets); each text's tokens cut to max_tokens."""
    lengths = np.zeros(len(texts), dtype=np.int64)
    flat_ids: list[int] = []
    flat_offsets: list[tuple[int, int]] = []
    with progress_bar(len(texts), desc, progress) as bar:
        for b0 in range(0, len(texts), _TOKENIZE_BATCH):
            batch = list(texts[b0:b0 + _TOKENIZE_BATCH])
            for j, enc in enumerate(backend.encode_batch(batch, add_special_tokens=False)):
                ids = enc.ids
                if max_tokens is not None and len(ids) > max_tokens:
                    ids = ids[:max_tokens]
                lengths[b0 + j] = len(ids)
                flat_ids.extend(ids)
                if with_offsets:
                    flat_offsets.extend(enc.offsets[:len(ids)])
            bar.update(len(batch))
    ptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    ids_arr = np.asarray(flat_ids, dtype=np.int64)
    if not with_offsets:
        return ptr, ids_arr, None, None
    off = np.asarray(flat_offsets, dtype=np.int64).reshape(-1, 2)
    return ptr, ids_arr, off[:, 0].copy(), off[:, 1].copy()


def tokenize_examples(examples_cols: dict[str, list], backend, *, max_query_length: int, strip_questions: bool,
                      progress: bool | None) -> dict[str, Any]:
    """Tokenise each distinct context once and every question (cut to max_query_length tokens,
    leading whitespace stripped if strip_questions); returns flat arrays:
    ctx_idx (example -> distinct context), c_ptr/c_ids/c_start/c_end, q_ptr/q_ids."""
    contexts = examples_cols["context"]
    index: dict[str, int] = {}
    ctx_idx = np.fromiter((index.setdefault(c, len(index)) for c in contexts), dtype=np.int64, count=len(contexts))
    unique = list(index)
    c_ptr, c_ids, c_start, c_end = encode_texts(backend, unique, "tokenising contexts", progress)
    questions = ([q.lstrip() for q in examples_cols["question"]] if strip_questions
                 else list(examples_cols["question"]))
    q_ptr, q_ids, _, _ = encode_texts(backend, questions, "tokenising questions", progress,
                                      max_tokens=max_query_length, with_offsets=False)
    return dict(ctx_idx=ctx_idx, c_ptr=c_ptr, c_ids=c_ids, c_start=c_start, c_end=c_end,
                q_ptr=q_ptr, q_ids=q_ids)
