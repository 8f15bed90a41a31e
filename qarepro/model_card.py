"""The model card (README.md with model-index YAML) written beside every trained model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from . import config as qconfig
from . import data as qdata
from . import io as qio
from .distill_config import DistillConfig


def _dataset_block(key: str) -> dict[str, Any]:
    spec = qdata.REGISTRY.get(key)
    if spec is None:
        return {"name": key, "type": key}
    config = spec.hub_config or spec.hub_data_dir
    name = f"{spec.hub_id} {spec.hub_data_dir}" if spec.hub_data_dir else spec.hub_id  # one repo, several sets
    return {"name": name, "type": spec.hub_id, "config": config, "split": spec.split}


def _metric_value(metrics: Mapping[str, Any], *names: str):
    for n in names:
        if metrics.get(n) is not None:
            return round(float(metrics[n]), 4)
    return None


def write_model_card(model_dir: str | os.PathLike, cfg: DistillConfig, results: Mapping[str, Mapping] | None = None) -> Path:
    """Write model_dir/README.md: a model card whose model-index YAML lists exact match and F1.

    `results` maps a dataset registry key (e.g. "squad_v2-validation") to a metrics mapping with
    "exact" (or "exact_match") and "f1" in percent, as qarepro.metrics.score returns them. With
    None, the SQuAD 2.0 dev entry is written with null values for a later evaluation to fill.
    """
    model_dir = Path(model_dir)
    results = dict(results) if results else {"squad_v2-validation": {}}
    entries = []
    for key, metrics in results.items():
        entries.append({
            "task": {"type": "question-answering", "name": "Question Answering"},
            "dataset": _dataset_block(key),
            "metrics": [
                {"type": "exact_match", "value": _metric_value(metrics, "exact", "exact_match"), "name": "Exact Match"},
                {"type": "f1", "value": _metric_value(metrics, "f1"), "name": "F1"},
            ],
        })
    front = {
        "language": "en",
        "library_name": "transformers",
        "pipeline_tag": "question-answering",
        "tags": ["question-answering", "distillation", "qarepro"],
        "datasets": [_dataset_block(cfg.train_data).get("type", cfg.train_data)],
        "base_model": cfg.student if cfg.student_init == "pretrained" else cfg.teacher,
        "model-index": [{"name": cfg.name, "results": entries}],
    }
    distilled = cfg.uses_teacher_logits
    how = (f"distilled from `{cfg.teacher}` (prediction-layer distillation, temperature {cfg.temperature:g}, "
           f"distillation_loss_weight {cfg.distillation_loss_weight:g}, loss variant {cfg.loss_variant})"
           if distilled else "fine-tuned on the hard labels only (no distillation)")
    source = cfg.student if cfg.student_init == "pretrained" else cfg.teacher
    start = f"layers {cfg.student_layers} of `{source}`" if cfg.student_layers else f"`{source}`"
    scores = "\n".join(
        f"| {key} | {e['metrics'][0]['value'] if e['metrics'][0]['value'] is not None else 'not evaluated yet'} | "
        f"{e['metrics'][1]['value'] if e['metrics'][1]['value'] is not None else 'not evaluated yet'} |"
        for key, e in zip(results, entries)
    )
    hyper = yaml.safe_dump({k: v for k, v in qconfig.to_dict(cfg).items()
                            if k not in ("output_dir", "overwrite", "dataloader_workers", "log_every")},
                           sort_keys=False).strip()
    body = f"""# {cfg.name}

Extractive question answering model (SQuAD 2.0 style: spans or no answer), {how}.
Student start: {start}. Trained with qarepro on `{cfg.train_data}`.

## Scores (official SQuAD 2.0 script, percent)

| dataset | exact match | F1 |
|---|---|---|
{scores}

## Training configuration

```yaml
{hyper}
```

Optimiser: AdamW with decoupled weight decay {cfg.weight_decay:g} on all parameters, correct_bias
{str(cfg.correct_bias).lower()}, linear warmup over {cfg.warmup_proportion:.0%} of the steps then linear decay,
gradient clipping at {cfg.max_grad_norm:g}. Windows: max_seq_len {cfg.max_seq_len}, doc_stride {cfg.doc_stride}
({cfg.stride_mode} convention), max_query_length {cfg.max_query_length}.

## Use

```bash
qarepro predict --model PATH_OR_ID --data squad_v2-validation --out predictions/
```

or in Python: `AutoModelForQuestionAnswering.from_pretrained("PATH_OR_ID")` with its tokenizer.
"""
    text = "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n\n" + body
    path = model_dir / "README.md"
    with qio.atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
