"""distill -> predict -> score through the command line, offline, on tiny models.

The chain a user runs: cache the teacher's logits, distil a student, predict on a SQuAD 2.0
sample, and score it; the project's scorer must print exactly what the official script prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import SQUAD1_TRAIN_SAMPLE, SQUAD2_SAMPLE
from qarepro import paths

ORACLE = paths.TESTS / "oracle" / "evaluate_v2_official.py"


def qarepro(*args: str, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "qarepro.cli", *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"qarepro {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_distill_predict_score_chain(tiny_bert, tmp_path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    # a shallower student sharing the teacher's tokenizer, as bert-medium shares bert-large's
    config = AutoModelForQuestionAnswering.from_pretrained(tiny_bert).config
    config.num_hidden_layers = 1
    student = tmp_path / "student"
    AutoModelForQuestionAnswering.from_config(config).save_pretrained(student)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(student)

    cfg = tmp_path / "tiny-card.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "e2e", "teacher": str(tiny_bert), "student": str(student), "train_data": str(SQUAD1_TRAIN_SAMPLE),
        "max_train_examples": 32, "batch_size": 8, "epochs": 1, "learning_rate": 1e-3, "temperature": 5.0,
        "distillation_loss_weight": 1.0, "max_seq_len": 96, "max_query_length": 24, "doc_stride": 48,
        "checkpoint_every": 0,
    }))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QAREPRO_OUTPUTS": str(tmp_path / "outputs")}

    qarepro("cache-teacher", "--config", str(cfg), env=env)
    qarepro("distill", "--config", str(cfg), env=env)
    model_dir = tmp_path / "outputs" / "runs" / "e2e" / "model"
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "README.md").is_file()

    out = tmp_path / "pred"
    qarepro("predict", "--model", str(model_dir), "--data", str(SQUAD2_SAMPLE), "--out", str(out),
            "--max-seq-len", "96", "--max-query-length", "24", "--doc-stride", "32", env=env)
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]

    files = [str(SQUAD2_SAMPLE), str(out / "predictions.json"), "-n", str(out / "na_prob.json")]
    ours = json.loads(qarepro("score", *files, env=env).stdout)
    official = json.loads(subprocess.run([sys.executable, str(ORACLE), *files], capture_output=True,
                                         text=True, check=True).stdout)
    assert ours == official
    assert metrics == pytest.approx(official, abs=1e-9)
