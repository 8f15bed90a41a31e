"""End-to-end distillation runs in subprocesses: SIGKILL + --resume, and 2-process data parallel.

Both compare final parameters with an uninterrupted single-process run of the same config.
Subprocesses get OMP_NUM_THREADS=1 (tiny models on a shared CPU; the in-process reference runs
use one thread too, see distill_helpers.one_thread).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from qarepro import config as qconfig
from qarepro import paths, trainer
from qarepro.distill_config import DistillError, complete_checkpoints

from distill_helpers import assert_same_params, load_params, make_pair, tiny_config
from distill_helpers import one_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return make_pair(tmp_path_factory.mktemp("pair-runs"))


def _env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env.update(extra)
    return env


def _write_config(cfg, path: Path) -> Path:
    path.write_text(yaml.safe_dump(qconfig.to_dict(cfg), sort_keys=False))
    return path


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(pair, tmp_path):
    common = dict(epochs=2, checkpoint_every=4, keep_checkpoints=None, max_train_examples=12)
    # reference: the same run, uninterrupted, in this process (also fills the feature and teacher caches)
    ref_dir = trainer.train(tiny_config(pair, name="reference", **common))
    ref_metrics = json.loads((ref_dir / "train_metrics.json").read_text())
    steps_per_epoch = ref_metrics["global_step"] // 2
    assert steps_per_epoch > 4, "the kill must fall inside the first epoch"

    cfg_path = _write_config(tiny_config(pair, name="killed", **common), tmp_path / "killed.yaml")
    run = paths.runs() / "killed"
    log_path = tmp_path / "killed.out"
    with open(log_path, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "qarepro.distill", "--config", str(cfg_path)],
                                stdout=out, stderr=subprocess.STDOUT, env=_env(QAREPRO_TEST_STEP_DELAY="0.25"))
    try:
        deadline = time.time() + 120
        while not complete_checkpoints(run / "checkpoints"):
            assert proc.poll() is None, f"run ended before its first checkpoint:\n{log_path.read_text()[-3000:]}"
            assert time.time() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    done = complete_checkpoints(run / "checkpoints")
    assert done[-1].name == "checkpoint-4" and not (run / "model").exists()

    resumed = subprocess.run([sys.executable, "-m", "qarepro.cli", "distill", "--config", str(cfg_path), "--resume"],
                             capture_output=True, text=True, env=_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = json.loads((run / "model" / "train_metrics.json").read_text())
    assert metrics["resumed_from"].endswith("checkpoint-4") and metrics["global_step"] == ref_metrics["global_step"]
    diffs = assert_same_params(load_params(ref_dir), load_params(run / "model"), atol=1e-6, lr=1e-3,
                               steps=ref_metrics["global_step"])
    print("kill/resume: max |diff|", max(diffs.values()))
    assert "resuming from" in (run / "train.log").read_text()


def test_resume_refuses_a_changed_config(pair, tmp_path):
    cfg = tiny_config(pair, name="changed", max_steps=2, checkpoint_every=1)
    trainer.train(cfg)
    with pytest.raises(DistillError, match=r"config differs .*learning_rate"):
        trainer.train(tiny_config(pair, name="changed", max_steps=2, checkpoint_every=1, learning_rate=0.5),
                      resume=True)


def test_two_process_data_parallel_matches_one_process(pair, tmp_path):
    """torchrun --nproc_per_node 2 (gloo, CPU), global batch 4 = 2 x 2, vs one process with batch 4.

    Dropout is off (model_dropout 0, embeds_dropout_prob 0): with it on, each process would draw
    its own masks and the runs could only agree in distribution. The training set is chosen so
    that its features fill whole global batches: an epoch's last, partial batch is split
    differently by the sharded sampler (it pads by repeating samples) than by one process.
    """
    from transformers import AutoTokenizer

    from qarepro.training_data import training_features

    tok = AutoTokenizer.from_pretrained(pair["student"])
    common = dict(model_dropout=0.0, embeds_dropout_prob=0.0, batch_size=4, epochs=2, checkpoint_every=0)
    for limit in range(12, 40):  # a training set whose features fill whole global batches
        n_features = len(training_features(tiny_config(pair, max_train_examples=limit, **common), tok)[0])
        if n_features % 4 == 0:
            break
    common["max_train_examples"] = limit
    full_steps = n_features // 4 * 2
    one = trainer.train(tiny_config(pair, name="one-process", **common))

    cfg_path = _write_config(tiny_config(pair, name="two-process", **common),
                             tmp_path / "ddp.yaml")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "qarepro.distill", "--config", str(cfg_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    two = paths.runs() / "two-process" / "model"
    metrics = json.loads((two / "train_metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["per_device_batch_size"] == 2 and metrics["global_step"] == full_steps
    diffs = assert_same_params(load_params(one), load_params(two), atol=1e-5, lr=1e-3, steps=full_steps)
    print("ddp: max |diff|", max(diffs.values()))
