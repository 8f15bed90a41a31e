"""qarepro.distill: the command lines (`qarepro cache-teacher`, `qarepro distill`) and the facade.

Each concern's own tests are in its module's test file (test_distill_config, test_loss, test_optim,
test_student, test_teacher, test_training_data, test_trainer, test_model_card); the multi-process
and kill/resume runs of the command line are in test_distill_runs.py.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import yaml

from qarepro import config as qconfig
from qarepro import distill

from distill_helpers import tiny_config
from distill_helpers import one_thread, pair  # noqa: F401  (fixtures)


def test_cache_teacher_cli(pair, tmp_path, capsys):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(qconfig.to_dict(tiny_config(pair))))
    assert distill.cache_teacher_main(["--config", str(cfg_path), "teacher_logits_dtype=float16"]) == 0
    folder = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert np.load(folder / "logits.npy", mmap_mode="r").dtype == np.float16
    assert distill.cache_teacher_main(["--config", str(cfg_path), "teacher=null",
                                       "distillation_loss_weight=0"]) == 1
    assert "no teacher" in capsys.readouterr().err


def test_facade_reexports_each_public_name_from_its_module():
    """`qarepro.distill` is the stage's one import: every name in __all__ is the owning module's object."""
    owners = ["distill_config", "training_data", "teacher", "loss", "student", "trainer", "model_card", "models"]
    for name in distill.__all__:
        obj = getattr(distill, name)
        if name in ("main", "cache_teacher_main"):
            assert obj.__module__ == "qarepro.distill"
            continue
        homes = [m for m in owners if getattr(importlib.import_module(f"qarepro.{m}"), name, None) is obj]
        assert homes, f"qarepro.distill.{name} is not any module's {name}"
