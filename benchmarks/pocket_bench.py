"""What the pocket-cpu benchmarks share: the data-folder check and the stage they run under."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import paths, pipeline  # noqa: E402

PROFILE = "pocket-cpu"


def pocket_stage(stage_name: str, card: str):
    """(stage, the card's teacher initialisation) under the pocket-cpu profile; None (with a message
    on stderr) when no local data folder is set: these benchmarks read the real SQuAD files."""
    if not os.environ.get(paths.DATA_DIR_ENV):
        print(f"set {paths.DATA_DIR_ENV} to a folder of the SQuAD files (see README)", file=sys.stderr)
        return None
    stage = pipeline.start(stage_name, pipeline.load_profile(PROFILE))
    return stage, pipeline.resolve_model(stage.profile.plans[card].teacher, stage.profile)


def train_candidate(stage, init: str, prefix: str, overrides: dict):
    """Train (or reuse) one candidate recipe of the card-free benchmarks: the profile's card run with
    `overrides`, named `<prefix>-<identity>` so that a changed recipe never reuses an old run."""
    card = next(iter(stage.profile.plans))
    probe = pipeline.card_config(stage, card, student=init, overrides=overrides)
    h = pipeline.run_identity(pipeline.config_dict(probe))
    cfg = pipeline.card_config(stage, card, student=init, overrides=overrides, run_name=f"{prefix}-{h}")
    return pipeline.model_dir(pipeline.train_or_reuse(cfg))


def score_sample(model, out: Path, prof, dataset: str, n: int) -> dict:
    """F1 / EM of `model` on `n` questions of `dataset` spread evenly (reused when scored before)."""
    from qarepro import evaluate as qevaluate
    from qarepro import io as qio

    if (out / "metrics.json").is_file():
        summary = qio.read_json(out / "metrics.json")
    else:
        summary = qevaluate.evaluate_model(str(model), [dataset], out, data_dir=pipeline.data_dir(prof),
                                           window=pipeline.eval_window(prof, "hf"), decoder="hf",
                                           batch_size=prof.eval_batch_size, sample=n, profile=prof.name,
                                           device="cpu", precision="fp32", label=out.name)
    m = summary["results"][dataset]["metrics"]
    return {"f1": m["f1"], "exact": m["exact"], "questions": m["total"]}


def merge_record(out_file: Path, update) -> None:
    """Read the JSON record, let `update(record)` change it and write it back, under a lock file, so
    that two benchmark processes (one per core) can fill one record."""
    import fcntl

    from qarepro import io as qio

    out_file.parent.mkdir(parents=True, exist_ok=True)
    with open(out_file.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = qio.read_json(out_file) if out_file.is_file() else {}
        update(record)
        qio.write_json(out_file, paths.portable(record))
