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
import torch

from . import io as qio
from . import paths
from .distill_config import DistillConfig, DistillError
from .models import is_local, load_qa_model, load_tokenizer, model_fingerprint
from .runtime import forward_logits, model_columns, resolve_device, resolve_precision
from .training_data import (check_same_tokenization, load_training_examples, sample_pairs, student_tokenizer_source,
                            training_features)

log = logging.getLogger(__name__)

CACHE_FORMAT = "qarepro-teacher-logits-v1"


class TeacherCacheError(RuntimeError):
    """A teacher-logit cache that does not belong to this run (key, rows, shape or dtype differ)."""


def load_teacher(cfg: DistillConfig):
    """The teacher QA model, in eval mode (no dropout)."""
    model = load_qa_model(cfg.teacher, cfg.teacher_revision)
    model.eval()
    return model


def _slug(name: str) -> str:
    base = Path(name).name if is_local(name) else name.replace("/", "--")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:60] or "teacher"


def cache_fields(cfg, feature_key: str, device: str | None = None) -> dict[str, Any]:
    fields = {
        "format": CACHE_FORMAT,
        "teacher": paths.outputs_relative(cfg.teacher),  # a teacher trained by the run: keyed where it lies in outputs
        "teacher_revision": cfg.teacher_revision,
        "teacher_fingerprint": model_fingerprint(cfg.teacher, cfg.teacher_revision),
        "feature_key": feature_key,
        "dtype": cfg.teacher_logits_dtype,
        "precision": resolve_precision(cfg.teacher_precision, device),
    }
    if cfg.tf32:  # only when asked: older caches (TF32 never enabled) keep their key
        fields["tf32"] = True
    return fields


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

    def gather(self, indices) -> torch.Tensor:
        """float32 torch tensor [len(indices), 2, seq] of the given feature rows."""
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


def cache_teacher(cfg, *, tokenizer=None, features=None, feature_key: str | None = None,
                  device: str | None = None) -> TeacherLogits:
    """Teacher logits of the run's training features: from the cache, or computed once and cached.

    `tokenizer`, `features`, `feature_key` may be passed by a caller that has them (training);
    otherwise they are built from the config (the student's tokenizer, as training does).
    """
    if not cfg.teacher:
        raise DistillError(f"{cfg.name}: no teacher configured (teacher: null), nothing to cache")
    if features is None or feature_key is None:
        if tokenizer is None:
            tokenizer = load_tokenizer(*student_tokenizer_source(cfg))
        teacher_tok = load_tokenizer(cfg.teacher, cfg.teacher_revision)
        examples = load_training_examples(cfg)
        check_same_tokenization(tokenizer, teacher_tok, sample_pairs(examples))
        features, feature_key = training_features(cfg, tokenizer, examples)
    device = resolve_device(device)
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
    columns = model_columns(teacher, features.column_names)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        out = np.lib.format.open_memmap(tmp / "logits.npy", mode="w+", dtype=np.dtype(cfg.teacher_logits_dtype),
                                        shape=(rows, 2, seq_len))
        log.info("teacher logits: running %s over %d features (batch %d, %s)", cfg.teacher, rows,
                 cfg.teacher_batch_size, device)
        forward_logits(teacher, features, batch_size=cfg.teacher_batch_size, device=device,
                       precision=cfg.teacher_precision, allow_tf32=cfg.tf32, out=out, desc="teacher logits",
                       leave=True)
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
