"""Training and evaluation runs: a card's config, a run's identity, train-or-reuse, evaluate-or-reuse.

A training run is identified by the hash of its config without the keys that do not change its
result (`qarepro.distill_config.RESUME_FREE_KEYS`): a finished run of the same identity is reused, an
unfinished one resumed. An evaluation is reused when the same weights were scored on the same
datasets with the same settings, under any label.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .. import config, paths
from .. import evaluate as qevaluate
from .. import io as qio
from ..distill_config import NO_DISTILLATION, RESUME_FREE_KEYS, DistillConfig, load_distill_config, run_dir
from ..models import model_fingerprint
from .layout import PipelineError, resolve_model
from .profile import eval_window
from .stage import Stage, device

# DistillConfig keys this module sets
K_TEACHER, K_STUDENT, K_TRAIN, K_DATA_DIR, K_SEED = "teacher", "student", "train_data", "data_dir", "seed"
K_OUT = "output_dir"
# Plain fine-tuning: no teacher, and the distillation-only keys fixed, so that cards sharing a
# student and training data share their baseline runs.


# evaluation settings older summaries do not record, as they were then
SETTING_DEFAULTS = {"padding": "max_length"}


def config_hash(obj: Any, n: int = 10) -> str:
    """Short stable hash of plain data."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def card_config(stage: Stage, card: str, *, teacher: str | None | bool = False, student: str | None = None,
                overrides: Mapping[str, Any] | None = None, run_name: str | None = None) -> DistillConfig:
    """The card's distillation config with the profile's and the caller's overrides.

    teacher: False keeps the card config's teacher, None trains without a teacher, a string sets it."""
    prof = stage.profile
    plan = prof.plans[card]
    ov: dict[str, Any] = {}
    if prof.train_data:
        ov[K_TRAIN] = prof.train_data
    folder = stage.data_dir
    if folder:
        ov[K_DATA_DIR] = folder
    if plan.student:
        ov[K_STUDENT] = resolve_model(plan.student, prof)
    if student is not None:
        ov[K_STUDENT] = student
    if teacher is not False:
        ov[K_TEACHER] = teacher
    ov.update(plan.overrides)
    ov.update(overrides or {})
    if run_name:
        ov[K_OUT] = str(paths.runs() / prof.name / run_name)
    return load_distill_config(plan.distill_config or card, ov)


def config_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)


def run_identity(cfg_dict: Mapping[str, Any]) -> str:
    """Hash of what changes a run's result (not where it is written or how often it logs)."""
    # the same run in another outputs folder has the same identity
    return config_hash({k: paths.outputs_relative(v) for k, v in cfg_dict.items() if k not in RESUME_FREE_KEYS})


def train_or_reuse(cfg: DistillConfig) -> Path:
    """Train, or reuse a finished run of the same config; returns the run's model folder.

    An unfinished run (killed midway) is resumed from its last complete checkpoint."""
    folder = run_dir(cfg)
    now = {k: v for k, v in config.to_dict(cfg).items() if k not in RESUME_FREE_KEYS}

    def same(saved: Path) -> bool:
        if not saved.is_file():
            return False
        old = config.load_yaml(saved)
        return all(old.get(k) == v for k, v in now.items())

    if (folder / "model" / "train_metrics.json").is_file() and same(folder / "model" / "config.yaml"):
        return folder / "model"
    # deferred: the trainer imports transformers, which reads the hub offline switch at import; the
    # runner sets that switch after `import qarepro.pipeline`
    from ..trainer import train

    if (folder / "config.yaml").is_file() and not same(folder / "config.yaml"):
        return Path(train(dataclasses.replace(cfg, overwrite=True), resume=False))
    return Path(train(cfg, resume=True))


def model_dir(run: str | Path) -> Path:
    """The saved model of a run (the folder itself, or its model/ subfolder)."""
    run = Path(run)
    for cand in (run, run / "model"):
        if (cand / "config.json").is_file():
            return cand
    raise PipelineError(f"{run}: no saved model (config.json) found")


def training_log(model: str | Path) -> pd.DataFrame:
    """Per-step training log of a run (from its train.log) as a data frame."""
    model = Path(model)
    for f in (model.parent / "train.log", model / "train.log"):
        if f.is_file():
            rows = []
            for line in f.read_text(encoding="utf-8").splitlines():
                i = line.find(" train {")
                if i >= 0:
                    with contextlib.suppress(json.JSONDecodeError):
                        rows.append(json.loads(line[i + 7:]))
            return pd.DataFrame(rows)
    return pd.DataFrame()


def train_metrics(model: str | Path) -> dict[str, Any]:
    f = Path(model) / "train_metrics.json"
    return qio.read_json(f) if f.is_file() else {}


def eval_settings(prof, decoder: str) -> dict[str, Any]:
    """The profile's evaluation settings that change a score (recorded with every evaluation)."""
    return {"decoder": decoder, "limit": prof.eval_limit, "sample": prof.eval_sample,
            **({"samples": prof.eval_samples} if prof.eval_samples else {}),
            "batch_size": prof.eval_batch_size,
            "window": dataclasses.asdict(eval_window(prof, decoder)), "padding": prof.eval_padding}


def evaluate_or_reuse(stage: Stage, label: str, model: str, datasets: Sequence[str] | None = None, *,
                      decoder: str | None = None, out_dir: str | Path | None = None, reuse: bool = True) -> dict[str, Any]:
    """evaluate_model into <results>/eval/<label>, reusing a finished evaluation of the same model
    (weights fingerprint), datasets and settings."""
    prof = stage.profile
    datasets = list(datasets or stage.eval_datasets)  # the sets 01_data_prep could not have are not run
    decoder = decoder or prof.decoder
    out_dir = Path(out_dir or stage.results / "eval" / label)
    fp = model_fingerprint(model)
    window = eval_window(prof, decoder)
    settings = eval_settings(prof, decoder)

    def same(summary_file: Path) -> bool:
        old = qio.read_json(summary_file)
        return (old.get("provenance", {}).get("model_fingerprint") == fp
                and all(old.get("settings", {}).get(k, SETTING_DEFAULTS.get(k)) == v for k, v in settings.items())
                and set(datasets) <= set(old.get("results", {}))
                and qevaluate.has_question_scores(summary_file.parent, datasets))

    if reuse:
        if (out_dir / "metrics.json").is_file() and same(out_dir / "metrics.json"):
            return qio.read_json(out_dir / "metrics.json")
        # the same model scored under another label: one teacher shared by two cards (in 04 or in a
        # teacher record), or the no-distillation baseline, one run whose grid cell each card holds
        scored = [*sorted((stage.results / "eval").glob("*/metrics.json")),
                  *sorted((stage.results / "ablations").glob("*/*/metrics.json")),
                  *sorted((stage.results / "teachers").glob("*/headline/metrics.json"))]
        for other in scored:
            if other.parent != out_dir and same(other):
                tmp = out_dir.with_name(f".{out_dir.name}.copy")
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.copytree(other.parent, tmp)
                shutil.rmtree(out_dir, ignore_errors=True)
                os.replace(tmp, out_dir)  # whole or absent, never half-copied
                return qio.read_json(out_dir / "metrics.json")
    return qevaluate.evaluate_model(
        model, datasets, out_dir, data_dir=stage.data_dir, window=window, decoder=decoder,
        batch_size=prof.eval_batch_size,
        limit=prof.eval_limit, sample=prof.eval_sample, samples=prof.eval_samples, profile=prof.name,
        device=device(prof),
        precision=prof.precision, label=label, padding=prof.eval_padding,
        extra_provenance={"model_fingerprint": fp})
