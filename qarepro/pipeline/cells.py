"""Cells of the ablation grid that outlive the machine they ran on.

A cell is one training configuration scored on the grid's datasets (its folder: <results>/ablations/
<card>/<run hash>-<decoder>/). Its metrics and per-question scores are small, so they are
committed; its trained weights are not. A cell is reused without training when its *identity*
matches the one recorded in its cell.json: the resolved run config (which names the teacher by
its fine-tune run), the fingerprints of the training and evaluation data, the teacher's weights
fingerprint, the evaluation settings and the library versions that compute a number. Anything
else changed, and the cell is trained and scored again. So a grid grows across sessions: adding
seeds or sizes trains only the new cells.

Teacher variants: the profile's `teacher_variants` (name -> teacher_finetune overrides) are
teachers fine-tuned from the same initialisation on the same questions with another recipe, for
the paired `teacher` factor (which teacher a student learns from). "finetuned" is the profile's
own teacher from 02_teachers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .. import io as qio
from .. import paths, provenance
from ..models import model_fingerprint
from .layout import PipelineError, resolve_model
from .profile import PROFILE_TEACHER, eval_window, headline_datasets
from .runs import (NO_DISTILLATION, card_config, config_dict, evaluate_or_reuse, model_dir, run_identity, train_metrics,
                   train_or_reuse)
from .stage import Stage

CELL_FILE = "cell.json"
# packages whose version can change a cell's numbers
NUMERIC_PACKAGES = ("torch", "transformers", "tokenizers", "datasets", "numpy")


def identity_hash(identity: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cell_identity(stage: Stage, cfg: Any, datasets: Sequence[str], eval_settings: Mapping[str, Any],
                  teacher_fingerprint: str | None) -> dict[str, Any]:
    """What a cell's numbers depend on (see the module docstring)."""
    prep = stage.previous("01_data_prep").get("datasets", {})
    cd = config_dict(cfg)
    packages = provenance.package_versions()
    return {
        "run": run_identity(cd),
        "train_data": {cd.get("train_data"): prep.get(cd.get("train_data"), {}).get("fingerprint")},
        "eval_data": {ds: prep.get(_base_key(ds), {}).get("fingerprint") for ds in datasets},
        "eval_settings": dict(eval_settings),
        "teacher_fingerprint": teacher_fingerprint if cd.get("teacher") else None,
        "packages": {k: packages.get(k) for k in NUMERIC_PACKAGES},
    }


def _base_key(dataset: str) -> str:
    """Registry keys derived from another (squad_v2-validation-answerable) share its file's fingerprint."""
    return dataset.removesuffix("-answerable")


def reusable(folder: Path, identity: Mapping[str, Any], datasets: Sequence[str]) -> dict[str, Any] | None:
    """The cell's evaluation summary when its recorded identity is `identity` and it holds every dataset
    with its per-question scores (the paired analysis reads them; a cell without them is built again)."""
    from ..evaluate import has_question_scores  # deferred: loads transformers

    cell, summary = folder / CELL_FILE, folder / "metrics.json"
    if not (cell.is_file() and summary.is_file()):
        return None
    if not has_question_scores(folder, datasets):
        return None
    if qio.read_json(cell).get("identity") != dict(identity):
        return None
    out = qio.read_json(summary)
    return out if set(datasets) <= set(out.get("results", {})) else None


def record_cell(folder: Path, identity: Mapping[str, Any], facts: Mapping[str, Any]) -> Path:
    """Write cell.json last: its presence says the cell's metrics and per-question files are whole."""
    return qio.write_json(folder / CELL_FILE, paths.portable({"identity": dict(identity),
                                                              "identity_hash": identity_hash(identity), **facts}))


@contextlib.contextmanager
def cell_lock(folder: Path, wait: bool = True):
    """Hold the cell's lock while it is trained and scored, so that two workers (one per core) never
    build the same cell; yields False (lock not taken) when `wait` is off and another holds it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def identity_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The top-level identity keys that differ (what made a cell train again)."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


# --------------------------------------------------------------------------------------------
# teachers


def teacher_config(stage: Stage, card: str, variant: str = PROFILE_TEACHER):
    """The fine-tune config of the card's teacher: the profile's teacher_finetune, with a variant's
    overrides on top; named by its identity, so equal recipes share one run."""
    prof = stage.profile
    if variant != PROFILE_TEACHER and variant not in prof.teacher_variants:
        raise PipelineError(f"teacher variant {variant!r} is not in the profile's teacher_variants "
                            f"({', '.join(prof.teacher_variants) or 'none'})")
    init = resolve_model(prof.plans[card].teacher, prof)
    ov = {**NO_DISTILLATION, **prof.teacher_finetune, **(prof.teacher_variants.get(variant) or {})}
    probe = card_config(stage, card, student=init, overrides=ov)
    return card_config(stage, card, student=init, overrides=ov, run_name=f"teacher-{run_identity(config_dict(probe))}")


def teacher_path(stage: Stage, card: str, variant: str = PROFILE_TEACHER) -> str:
    """Where the teacher of `variant` is (or will be): known before it is trained, since a run's
    folder is named by its config."""
    if variant == PROFILE_TEACHER:
        return stage.previous("02_teachers")["teachers"][card]["teacher"]
    return str(Path(teacher_config(stage, card, variant).output_dir) / "model")


def teacher_folder(stage: Stage, card: str, variant: str) -> Path:
    """The committed record of a teacher: its fingerprint and its scores on the training questions."""
    return stage.results / "teachers" / f"{card}-{variant}"


def ensure_teacher(stage: Stage, card: str, variant: str = PROFILE_TEACHER) -> str:
    """The teacher's model folder, fine-tuned (again) when it is not there: a variant the first time,
    the profile's own after a fresh clone of a committed run, which must come out with the weights
    fingerprint recorded before."""
    prof = stage.profile
    path = teacher_path(stage, card, variant)
    if Path(path).exists() or (variant == PROFILE_TEACHER and not prof.plans[card].finetune_teacher):
        return path
    model = str(model_dir(train_or_reuse(teacher_config(stage, card, variant))))
    recorded = recorded_teacher(stage, card, variant).get("fingerprint")
    if recorded and model_fingerprint(model) != recorded:
        raise PipelineError(f"the teacher retrained for {card} ({variant}, {model}) differs from the one recorded "
                            f"(fingerprint {recorded}); its cells cannot be reused: run the profile again from "
                            f"02_teachers (make clean-results)")
    return model


def recorded_teacher(stage: Stage, card: str, variant: str) -> dict[str, Any]:
    f = teacher_folder(stage, card, variant) / "teacher.json"
    return qio.read_json(f) if f.is_file() else {}


def teacher_record(stage: Stage, card: str, variant: str, questions: int) -> dict[str, Any]:
    """The teacher's fingerprint and per-question scores on the first `questions` training questions
    (the training-set F1 of any cell is read off their prefix), recorded once per teacher."""
    rec = recorded_teacher(stage, card, variant)
    if rec.get("train_questions", 0) >= questions:
        return rec
    from .. import evaluate as qevaluate  # deferred: loads transformers; only a new teacher is scored

    prof = stage.profile
    model = ensure_teacher(stage, card, variant)
    folder = teacher_folder(stage, card, variant)
    train_key = prof.train_data or config_dict(card_config(stage, card))["train_data"]
    summary = qevaluate.evaluate_model(model, [train_key], folder, data_dir=stage.data_dir,
                                       window=eval_window(prof, prof.decoder), decoder=prof.decoder,
                                       batch_size=prof.eval_batch_size, limit=questions, profile=prof.name,
                                       precision=prof.precision, label=f"teacher-{variant}-train",
                                       padding=prof.eval_padding)
    rec = {"card": card, "variant": variant, "model": model, "fingerprint": model_fingerprint(model),
           "train_data": train_key, "train_questions": questions,
           "train_f1": summary["results"][train_key]["metrics"]["f1"], "train": train_metrics(model)}
    qio.write_json(folder / "teacher.json", paths.portable(rec))
    return rec


HEADLINE = "headline"  # a teacher record's subfolder: the teacher scored on the headline sets


def teacher_scores(stage: Stage, score: bool = True) -> list[dict[str, Any]]:
    """Each teacher of the teacher factor on the headline sets, the same samples every cell is scored
    on (how strong each teacher is where its students are measured): one record per card, teacher
    and set. `score=False` reads only what is recorded (teachers/<card>-<teacher>/headline/)."""
    prof = stage.profile
    variants = [str(v) for v in (prof.ablation.teacher or [])]
    sets = headline_datasets(prof)
    out = []
    for card in (prof.ablation.paired_cards or prof.ablation.cards or list(prof.plans)) if variants else []:
        for variant in variants:
            folder = teacher_folder(stage, card, variant) / HEADLINE
            if score:
                summary = evaluate_or_reuse(stage, f"teacher-{variant}", ensure_teacher(stage, card, variant), sets,
                                            out_dir=folder)
            elif (folder / "metrics.json").is_file():
                summary = qio.read_json(folder / "metrics.json")
            else:
                continue
            out += [{"card": card, "teacher": variant, "dataset": ds, "f1": summary["results"][ds]["metrics"]["f1"]}
                    for ds in sets if ds in summary.get("results", {})]
    return out


def teacher_train_f1(stage: Stage, card: str, variant: str, questions: int | None) -> float:
    """The teacher's F1 on the first `questions` training questions (a cell's own training set)."""
    from ..evaluate import QUESTION_SCORES, read_question_scores  # deferred: pandas, for one read

    questions = train_questions(stage, card, questions)
    rec = teacher_record(stage, card, variant, max(questions, largest_train_size(stage)))
    scores = read_question_scores(teacher_folder(stage, card, variant) / rec["train_data"] / QUESTION_SCORES)
    return 100.0 * float(scores["f1"].iloc[:questions].mean())


def train_questions(stage: Stage, card: str, n: int | None) -> int:
    """How many training questions a run with max_train_examples `n` sees (None: the whole set)."""
    if n is not None:
        return int(n)
    from ..data import load_examples  # deferred: reads the training set, only for runs on all of it

    cd = config_dict(card_config(stage, card))
    return len(load_examples(stage.profile.train_data or cd["train_data"], stage.data_dir))


def largest_train_size(stage: Stage) -> int:
    """The most training questions any cell of the profile uses: the teachers are scored on these."""
    prof = stage.profile
    sizes = [int(v) for v in prof.ablation.train_size]
    for card in prof.plans:
        sizes.append(train_questions(stage, card, config_dict(card_config(stage, card)).get("max_train_examples")))
    return max(sizes)


def cell_target_entropy(cfg) -> float:
    """`target_entropy` of the teacher cache a distilled cell trained on, at its temperature."""
    from ..teacher import cache_teacher  # deferred: imports transformers through the training data

    return target_entropy(cache_teacher(cfg).array, float(cfg.temperature))


def target_entropy(logits: np.ndarray, temperature: float, chunk: int = 512) -> float:
    """Mean entropy (nats) of the teacher's tempered start and end distributions over every position of
    every training window: the soft targets the KL term of the loss reads (it masks nothing)."""
    arr = np.asarray(logits)
    total, n = 0.0, 0
    for lo in range(0, arr.shape[0], chunk):
        z = np.asarray(arr[lo:lo + chunk], dtype=np.float64) / temperature  # [b, 2, seq]
        z -= z.max(axis=-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=-1, keepdims=True)
        total += float(-(p * np.log(np.clip(p, 1e-300, None))).sum())
        n += z.shape[0] * z.shape[1]
    return total / max(n, 1)
