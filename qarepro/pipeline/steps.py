"""The steps the six notebooks call, stage by stage (01 data … 06 report).

Each takes the notebook's `Stage` and returns plain data or a data frame for the notebook to
show; what a step trains or scores goes through `runs` (train-or-reuse, evaluate-or-reuse).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import data as qdata
from .. import paths, report
from .. import features as qfeatures
from .. import io as qio
from .. import predict as qpredict
from ..report import threshold_curve
from ..runtime import forward_logits
from tqdm.auto import tqdm

from ..models import model_fingerprint
from ..tiny import build_tiny_qa_model, fixture_texts
from . import cells
from .consistency import check_one_profile
from .layout import PipelineError, resolve_model, short_path
from .profile import (ABLATION_FACTORS, PROFILE_TEACHER, TEACHER_FACTOR, TINY_PREFIX, eval_window, required_datasets,
                      seeds_for)
from .runs import (K_SEED, NO_DISTILLATION, card_config, config_dict, eval_settings, evaluate_or_reuse,
                   model_dir, run_identity, train_metrics, train_or_reuse)
from .stage import Stage, device

# --------------------------------------------------------------------------------------------
# 01 data preparation


def data_prep(stage: Stage):
    """Load and validate every dataset of the profile; counts, fingerprints, where each came from.

    A secondary evaluation set that no source gives (no hub export, no local file) is "not run":
    recorded with its reason (`not_run`), which every later stage and report reads; a training set,
    the primary set or a set the grid is scored on stops the stage (`required_datasets`)."""
    if stage.rerender:  # the table from the record: nothing loaded
        rec = stage.record()
        stage.fingerprints.update({k: v["fingerprint"] for k, v in rec["datasets"].items()})
        stage.not_run = dict(rec.get("not_run") or {})
        rows = [{"dataset": k, **{c: v.get(c) for c in ("role", "questions", "answerable", "unanswerable", "articles",
                                                        "paragraphs", "fingerprint")}, "source": short_path(v["source"])}
                for k, v in rec["datasets"].items()] + _not_run_rows(stage.not_run)
        return pd.DataFrame(rows), {"datasets": rec["datasets"], "not_run": stage.not_run,
                                    "fingerprints_file": rec.get("fingerprints_file")}
    folder = stage.data_dir
    required = required_datasets(stage.profile)
    rows, info = [], {}
    for key in stage.profile.datasets():
        with stage.timed(f"load:{key}"):
            try:
                examples = qdata.load_examples(key, folder)
            except qdata.DataSourceError as err:
                if key in required or not qdata.absent(err):  # a hub that did not answer: run again
                    raise
                stage.not_run[key] = str(err)
                continue
        spec = qdata.REGISTRY[key]
        local = Path(folder) / spec.filename if folder else None
        from_hub = local is None or not local.is_file()
        origin = f"hub {spec.hub_ref}" if from_hub else str(local)
        counts = qdata.describe(examples)
        fp = qdata.fingerprint(examples)
        stage.fingerprints[key] = fp
        role = "train" if key in stage.profile.train_datasets() else "eval"
        info[key] = {"role": role, **counts, "fingerprint": fp, "source": origin,
                     **({"hub": qdata.hub_source(key)} if from_hub else {})}
        rows.append({"dataset": key, "role": role, **counts, "fingerprint": fp, "source": short_path(origin)})
    fp_file = qio.write_json(stage.results / "fingerprints.json", {"profile": stage.profile.name, "datasets": stage.fingerprints})
    return (pd.DataFrame(rows + _not_run_rows(stage.not_run)),
            {"datasets": info, "not_run": stage.not_run, "fingerprints_file": short_path(str(fp_file))})


def _not_run_rows(not_run: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"dataset": k, "role": "eval", "questions": 0, "answerable": 0, "unanswerable": 0, "articles": 0,
             "paragraphs": 0, "fingerprint": "", "source": f"not run: {why}"} for k, why in not_run.items()]


# --------------------------------------------------------------------------------------------
# 02 teachers


def build_tiny_models(stage: Stage):
    """Build the profile's tiny models (once; an existing complete one is kept). A model with
    `tokenizer_from` gets that model's tokenizer, so that a teacher and its student tokenise alike."""
    prof = stage.profile
    if not prof.tiny_models:
        return pd.DataFrame()
    texts = fixture_texts([paths.ROOT / t for t in prof.tiny_texts]) if prof.tiny_texts else None
    order = sorted(prof.tiny_models, key=lambda n: prof.tiny_models[n].tokenizer_from is not None)
    rows = []
    for name in order:
        spec = prof.tiny_models[name]
        out = Path(resolve_model(TINY_PREFIX + name, prof))
        if not (out / "qarepro_tiny.json").is_file():
            if not texts:
                raise PipelineError(f"profile {prof.name}: tiny_models need tiny_texts (files to train tokenizers on)")
            tmp = out.with_name(f".{out.name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            with stage.timed("build_tiny_models"):
                build_tiny_qa_model(spec.family, tmp, texts, vocab_size=spec.vocab_size, hidden_size=spec.hidden_size,
                                    num_layers=spec.num_layers, num_heads=spec.num_heads,
                                    intermediate_size=spec.intermediate_size, seed=spec.seed)
                if spec.tokenizer_from:
                    _share_tokenizer(Path(resolve_model(TINY_PREFIX + spec.tokenizer_from, prof)), tmp)
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
        rows.append({"model": TINY_PREFIX + name, **dataclasses.asdict(spec), "path": short_path(str(out))})
    return pd.DataFrame(rows)


def _share_tokenizer(source: Path, model: Path) -> None:
    """Replace `model`'s tokenizer files by `source`'s, resizing the (random) embeddings to match."""
    # deferred: transformers takes seconds to import, and only profiles with tiny models get here
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    keep = {"config.json", "qarepro_tiny.json", "model.safetensors", "pytorch_model.bin", "generation_config.json"}
    for f in model.iterdir():
        if f.is_file() and f.name not in keep:
            f.unlink()
    for f in source.iterdir():
        if f.is_file() and f.name not in keep:
            shutil.copyfile(f, model / f.name)
    tok = AutoTokenizer.from_pretrained(str(model))
    qa = AutoModelForQuestionAnswering.from_pretrained(str(model))
    if qa.config.vocab_size != len(tok):
        qa.resize_token_embeddings(len(tok))
        qa.save_pretrained(str(model))


def prepare_teachers(stage: Stage) -> dict[str, Any]:
    """Per card: the teacher (fine-tuned first where the profile says so), scored on every
    evaluation dataset, and its logits cached over the card's training features."""
    prof = stage.profile
    if stage.rerender:
        return stage.record()["teachers"]
    out: dict[str, Any] = {}
    for card, plan in prof.plans.items():
        init = resolve_model(plan.teacher, prof)
        entry: dict[str, Any] = {"teacher_source": plan.teacher, "finetuned": plan.finetune_teacher}
        if plan.finetune_teacher:
            # distillation-only keys are neutral without a teacher; fixing them lets cards that
            # fine-tune the same teacher the same way share one run (named by its identity)
            ov = {**NO_DISTILLATION, **prof.teacher_finetune}
            probe = card_config(stage, card, student=init, overrides=ov)
            cfg = card_config(stage, card, student=init, overrides=ov,
                              run_name=f"teacher-{run_identity(config_dict(probe))}")
            stage.configs[f"teacher-finetune:{card}"] = config_dict(cfg)
            with stage.timed(f"finetune_teacher:{card}"):
                run = train_or_reuse(cfg)
            teacher = str(model_dir(run))
            entry["finetune_run"] = str(run)
        else:
            teacher = init
        entry["teacher"] = teacher
        entry["teacher_fingerprint"] = model_fingerprint(teacher)
        with stage.timed(f"evaluate_teacher:{card}"):
            summary = evaluate_or_reuse(stage, f"teacher-{card}", teacher)
        entry["metrics"] = {k: v["metrics"] for k, v in summary["results"].items()}
        cfg = card_config(stage, card, teacher=teacher)
        stage.configs[f"cache:{card}"] = config_dict(cfg)
        with stage.timed(f"cache_teacher:{card}"):
            # deferred: the cache imports transformers through the training data (see runs.train_or_reuse)
            from ..teacher import cache_teacher

            cache = cache_teacher(cfg)
        entry["teacher_cache"] = str(getattr(cache, "path", cache))
        out[card] = entry
    return out


def teacher_table(teachers: Mapping[str, Any]):
    """One row per teacher and dataset (a teacher two cards share is listed once)."""
    return report.teacher_rows({c: {**t, "teacher": short_path(t["teacher"])} for c, t in teachers.items()})


def cache_table(teachers: Mapping[str, Any]):
    rows = []
    for card, t in teachers.items():
        meta_file = Path(t["teacher_cache"]) / "meta.json"
        meta = qio.read_json(meta_file) if meta_file.is_file() else {}
        rows.append({"card": card, "cache": short_path(t["teacher_cache"]), "rows (features)": meta.get("rows"),
                     "shape": " × ".join(map(str, meta["shape"])) if meta.get("shape") else None,
                     "dtype": meta.get("dtype"), "seconds": meta.get("seconds")})
    # a cache two cards share is one row; "–" where its meta is not on disk (a re-rendered report)
    return pd.DataFrame(rows).groupby(["cache"], sort=False, as_index=False).agg(
        lambda v: ", ".join(dict.fromkeys(map(str, v))) if v.name == "card" else v.iloc[0]) if rows else pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# 03 distillation


def distill_card(stage: Stage, card: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train the card's student with its teacher from 02_teachers (logits from the cache)."""
    if stage.rerender:
        rec = stage.record()
        return {k: rec[k] for k in ("card", "model", "run_dir", "config", "config_hash", "train")}
    teachers = stage.previous("02_teachers")["teachers"]
    cfg = card_config(stage, card, teacher=teachers[card]["teacher"], overrides=overrides,
                      run_name=f"distilled-{card}")
    cd = config_dict(cfg)
    stage.configs[card] = cd
    stage.seeds["train"] = cd.get(K_SEED)
    with stage.timed("train"):
        model = train_or_reuse(cfg)
    return {"card": card, "model": str(model), "run_dir": str(Path(model).parent), "config": cd,
            "config_hash": run_identity(cd), "train": train_metrics(model)}


# --------------------------------------------------------------------------------------------
# 04 evaluation


def models_to_evaluate(stage: Stage) -> list[dict[str, Any]]:
    """Every model 04_evaluate scores: per card the teacher, the distilled student we trained, and
    the published checkpoint where the profile names one."""
    prof = stage.profile
    teachers = stage.previous("02_teachers")["teachers"]
    rows = []
    for card, plan in prof.plans.items():
        distilled = stage.previous("03_distill", card)
        rows.append({"card": card, "role": "teacher", "label": f"teacher-{card}", "model": teachers[card]["teacher"]})
        rows.append({"card": card, "role": "distilled", "label": f"distilled-{card}", "model": distilled["model"]})
        if plan.published:
            rows.append({"card": card, "role": "published", "label": f"published-{card}",
                         "model": resolve_model(plan.published, prof)})
    return rows


def evaluate_all(stage: Stage) -> dict[str, Any]:
    if stage.rerender:
        return stage.record()["models"]
    models = models_to_evaluate(stage)
    out = {}
    for m in models:
        with stage.timed(f"evaluate:{m['label']}"):
            summary = evaluate_or_reuse(stage, m["label"], m["model"])
        out[m["label"]] = {**m, "n_parameters": summary.get("n_parameters"),
                           "metrics": {k: v["metrics"] for k, v in summary["results"].items()},
                           "eval_dir": str(stage.results / "eval" / m["label"])}
    return out


def metrics_table(evaluated: Mapping[str, Any], keys: Sequence[str] = ("exact", "f1", "HasAns_f1", "NoAns_f1")):
    rows = []
    for label, m in evaluated.items():
        for ds, met in m["metrics"].items():
            rows.append({"model": label, "card": m.get("card"), "role": m.get("role"), "dataset": ds,
                         **{k: met.get(k) for k in keys}, "total": met.get("total")})
    return pd.DataFrame(rows).round(2)


def reproduced_by_card(evaluated: Mapping[str, Any], ablation_runs: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """{card: {published|distilled|teacher|base: {dataset: metrics}}} for report.compare."""
    out: dict[str, dict[str, Any]] = {}
    for m in evaluated.values():
        out.setdefault(m["card"], {})[m["role"]] = m["metrics"]
    for r in ablation_runs:
        if r.get("is_base") and r.get("metrics"):  # the first baseline run: the card's own seed
            out.setdefault(r["card"], {}).setdefault("base", {}).setdefault(r["dataset"], r["metrics"])
    return out


def measure_speed(model: str, examples, *, batch_size: int = 32, latency_examples: int = 16,
                  device_name: str = "cpu", precision: str = "auto", window=None, repeats: int = 1) -> dict[str, Any]:
    """Questions per second over `examples` (batched, model time only) and median latency of one
    question at batch size 1 (all its windows in one batch), each timed `repeats` times: the
    median over repeats, and every repeat in `*_runs`."""
    runs = [_time_once(model, examples, batch_size=batch_size, latency_examples=latency_examples,
                       device_name=device_name, precision=precision, window=window) for _ in range(max(1, repeats))]
    rates = [r["samples_per_s"] for r in runs]
    lat = [r["latency_ms"] for r in runs if r["latency_ms"] is not None]
    return {**runs[0], "samples_per_s": statistics.median(rates), "latency_ms": statistics.median(lat) if lat else None,
            "samples_per_s_runs": rates, "latency_ms_runs": lat, "repeats": len(runs)}


def _time_once(model: str, examples, *, batch_size: int, latency_examples: int, device_name: str,
               precision: str, window) -> dict[str, Any]:
    qa_model, tok = qpredict.load_model(model)
    feats = qfeatures.build_features(examples, tok, window or qpredict.default_window("hf"), use_cache=False)
    forward_logits(qa_model, feats.select(range(min(len(feats), batch_size))), batch_size=batch_size,
                   device=device_name, precision=precision)  # warm-up
    t = time.perf_counter()
    forward_logits(qa_model, feats, batch_size=batch_size, device=device_name, precision=precision)
    batched = time.perf_counter() - t
    index = np.asarray(feats["example_index"])
    lat = []
    for i in range(min(latency_examples, len(examples))):
        rows = np.flatnonzero(index == i).tolist()
        if not rows:
            continue
        sub = feats.select(rows)
        t = time.perf_counter()
        forward_logits(qa_model, sub, batch_size=len(rows), device=device_name, precision=precision)
        lat.append(time.perf_counter() - t)
    return {"samples_per_s": len(examples) / max(batched, 1e-9), "latency_ms": 1000 * statistics.median(lat) if lat else None,
            "n_questions": len(examples), "n_features": len(feats), "batch_size": batch_size,
            "n_parameters": sum(p.numel() for p in qa_model.parameters())}


def speed_table(stage: Stage, evaluated: Mapping[str, Any]):
    if stage.rerender:
        return pd.DataFrame(stage.record().get("speed", []))
    prof = stage.profile
    examples = qdata.load_examples(prof.primary_dataset, stage.data_dir, limit=prof.speed_cfg.examples)
    rows, done = [], {}
    for label, m in evaluated.items():
        if m["model"] in done:  # a model two cards share (the teacher) is timed once
            rows.append({**done[m["model"]], "model": label, "card": m["card"]})
            continue
        with stage.timed(f"speed:{label}"):
            s = measure_speed(m["model"], examples, batch_size=prof.speed_cfg.batch_size,
                              latency_examples=prof.speed_cfg.latency_examples, device_name=device(prof),
                              precision=prof.precision, window=eval_window(prof, prof.decoder),
                              repeats=prof.speed_cfg.repeats)
        rows.append({"model": label, "role": m["role"], "card": m["card"], **s})
        done[m["model"]] = {**rows[-1], "same_timing_as": label}
    return pd.DataFrame(rows).round(2)


def threshold_curves(evaluated: Mapping[str, Any], stage: Stage, dataset: str | None = None):
    """F1/EM against the no-answer threshold per model on `dataset` (default: the primary one)."""
    dataset = dataset or stage.profile.primary_dataset
    if not any((Path(m["eval_dir"]) / dataset / "na_prob.json").is_file() for m in evaluated.values()):
        return {}  # no predictions on disk (a re-rendered report)
    gold = qdata.to_squad_json(qdata.load_examples(dataset, stage.data_dir, limit=stage.profile.eval_limit,
                                                   sample=stage.profile.sample_of(dataset)))
    curves = {}
    for label, m in evaluated.items():
        d = Path(m["eval_dir"]) / dataset
        if (d / "predictions.json").is_file() and (d / "na_prob.json").is_file():
            nbest = qio.read_json(d / "nbest.json") if (d / "nbest.json").is_file() else None
            curves[label] = threshold_curve(gold, qio.read_json(d / "predictions.json"),
                                            qio.read_json(d / "na_prob.json"), nbest)
    return curves


# --------------------------------------------------------------------------------------------
# 05 ablations


BASELINE_SEED = "baseline_seed"  # ablation rows: the no-distillation baseline (weight 0) at each seed


def ablation_plan(stage: Stage) -> list[dict[str, Any]]:
    """One factor at a time around each card: rows (card, factor, value, seed, overrides, decoder)."""
    prof = stage.profile
    ab = prof.ablation
    rows = []
    for card in ab.cards:
        centre = config_dict(card_config(stage, card))
        seed0 = centre.get(K_SEED, 42)
        base = {"card": card, "seed": seed0, "decoder": prof.decoder}
        for factor, key in ABLATION_FACTORS.items():
            if factor in ab.paired:
                continue
            for value in getattr(ab, factor):
                ov = {key: value}
                if factor == "weight" and float(value) == 0.0:
                    # w = 0 ignores the teacher and the temperature: it is the no-distillation
                    # baseline at this seed, so it is that run (trained once, shared by the cards)
                    ov = {K_SEED: seed0, **NO_DISTILLATION}
                rows.append({**base, "factor": factor, "value": value, "overrides": ov,
                             "seed": value if factor == "seed" else seed0,
                             "center": _same_value(centre.get(key), value)})
        # The claim is "distilled beats not distilled": the baseline needs its seed spread too.
        for value in ab.seed:
            rows.append({**base, "factor": BASELINE_SEED, "value": value, "seed": value, "center": False,
                         "overrides": {K_SEED: value, **NO_DISTILLATION}})
        for dec in ab.decoder:
            rows.append({**base, "factor": "decoder", "value": dec, "overrides": {}, "decoder": dec,
                         "center": dec == prof.decoder})
        if card in (ab.paired_cards or ab.cards):
            rows += paired_rows(ab, centre, base)
    return rows


def paired_rows(ab, centre: Mapping[str, Any], base: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The crossed part of the grid: each value of a paired factor with and without distillation
    at every seed of that value (ablations.seeds_by_value, else ablations.seed), so that each value
    has its own paired gain (arm: "distilled" or "baseline"). The teacher factor changes which
    teacher the distilled arm learns from (its baseline has none)."""
    rows = []
    for factor in ab.paired:
        for value in getattr(ab, factor):
            for seed in seeds_for(ab, factor, value):
                for arm, extra in (("distilled", {}), ("baseline", NO_DISTILLATION)):
                    if factor == TEACHER_FACTOR:
                        ov, variant = {K_SEED: seed, **extra}, value
                        at_centre = value == PROFILE_TEACHER
                    else:
                        key = ABLATION_FACTORS[factor]
                        ov, variant = {key: value, K_SEED: seed, **extra}, PROFILE_TEACHER
                        at_centre = _same_value(centre.get(key), value)
                    rows.append({**base, "factor": factor, "value": value, "seed": seed, "arm": arm,
                                 "overrides": ov, "teacher_variant": variant,
                                 "center": arm == "distilled" and at_centre})
    return rows


def is_baseline(row: Mapping[str, Any]) -> bool:
    """A no-distillation row: trained without a teacher, so one run serves every card."""
    return all(row["overrides"].get(k) == v for k, v in NO_DISTILLATION.items())


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) < 1e-12
    return a == b


def run_ablations(stage: Stage, plan: Sequence[Mapping[str, Any]] | None = None):
    """Train each distinct configuration once (runs named by config hash, so a rerun or a shared
    centre point reuses it), then score it on the ablation datasets; a cell whose committed record
    has the same identity is reused without training (qarepro.pipeline.cells)."""
    prof = stage.profile
    plan = list(plan if plan is not None else ablation_plan(stage))
    datasets = prof.ablation.datasets or [prof.primary_dataset]
    rows = []
    for r in tqdm(plan, desc="ablation cells", unit="cell", mininterval=5):
        cell = run_cell(stage, r, datasets)
        is_base = is_baseline(r) and r["decoder"] == prof.decoder
        for ds in datasets:  # a reused evaluation may hold more datasets than this grid asks for
            m = cell["summary"]["results"][ds]["metrics"]
            rows.append({"card": r["card"], "factor": r["factor"], "value": r["value"], "seed": r["seed"],
                         "arm": r.get("arm"), "decoder": r["decoder"], "center": r["center"], "run": cell["hash"],
                         "dataset": ds, "exact": m["exact"], "f1": m["f1"], "HasAns_f1": m.get("HasAns_f1"),
                         "NoAns_f1": m.get("NoAns_f1"), "is_base": is_base, "metrics": m, "run_dir": cell["run_dir"],
                         "eval_dir": cell["eval_dir"], "teacher_variant": r.get("teacher_variant"),
                         "reused_cell": cell["reused"], **cell["teacher_facts"]})
    return pd.DataFrame(rows)


def run_cell(stage: Stage, r: Mapping[str, Any], datasets: Sequence[str], *, wait: bool = True,
             build: bool = True) -> dict[str, Any] | None:
    """One row of the plan: its committed cell when the identity matches, else trained and scored
    (under the cell's lock; with wait off, None when another worker holds it; with build off, None
    when the cell is not there)."""
    card, variant = r["card"], r.get("teacher_variant") or PROFILE_TEACHER
    distilled_row = not is_baseline(r)
    teacher = cells.teacher_path(stage, card, variant) if distilled_row else None
    cfg = card_config(stage, card, teacher=teacher if distilled_row else False, overrides=r["overrides"])
    h = run_identity(config_dict(cfg))
    out_dir = stage.results / "ablations" / card / f"{h}-{r['decoder']}"
    teacher_fp = None
    if distilled_row and build:
        teacher_fp = cells.teacher_record(stage, card, variant, cells.largest_train_size(stage))["fingerprint"]
    elif distilled_row:  # only look: a teacher never recorded has no cells yet
        teacher_fp = cells.recorded_teacher(stage, card, variant).get("fingerprint")
        if teacher_fp is None:
            return None
    identity = cells.cell_identity(stage, cfg, datasets, eval_settings(stage.profile, r["decoder"]), teacher_fp)
    base = {"hash": h, "eval_dir": str(out_dir)}
    with cells.cell_lock(out_dir, wait=wait) as locked:
        if not locked:
            return None
        summary = cells.reusable(out_dir, identity, datasets)
        if summary is not None:
            facts = qio.read_json(out_dir / cells.CELL_FILE)
            return {**base, "summary": summary, "run_dir": facts.get("run_dir"), "reused": True,
                    "teacher_facts": facts.get("teacher_facts", {})}
        if not build:
            return None
        return {**base, **_build_cell(stage, r, cfg, teacher, out_dir, identity)}


def _build_cell(stage: Stage, r: Mapping[str, Any], cfg, teacher: str | None, out_dir: Path,
                identity: Mapping[str, Any]) -> dict[str, Any]:
    card, variant = r["card"], r.get("teacher_variant") or PROFILE_TEACHER
    h = run_identity(config_dict(cfg))
    model = run = None
    with contextlib.suppress(PipelineError):  # no 03 record (a grid worker started before it): train here
        distilled = stage.previous("03_distill", card)
        if h == distilled.get("config_hash") and Path(distilled["model"]).exists():
            model, run = distilled["model"], distilled["run_dir"]  # the card's own run (03_distill)
    if model is None:
        if teacher:
            cells.ensure_teacher(stage, card, variant)
        # named by config alone: a configuration two cards share (the no-distillation baseline,
        # or e.g. T 5 / w 0.75 when both cards distil the same teacher) is trained once
        prefix = "baseline" if is_baseline(r) else "ablation"
        cfg = card_config(stage, card, teacher=teacher if teacher else False, overrides=r["overrides"],
                          run_name=f"{prefix}-{h}")
        stage.configs[f"ablation:{card}:{h}"] = config_dict(cfg)
        with stage.timed(f"train:{card}:{h}"):
            model = str(train_or_reuse(cfg))
        run = str(Path(model).parent)
    with stage.timed(f"evaluate:{card}:{h}:{r['decoder']}"):
        summary = evaluate_or_reuse(stage, f"ablation-{card}-{h}-{r['decoder']}", model, list(identity["eval_data"]),
                                    decoder=r["decoder"], out_dir=out_dir)
    teacher_facts = {}
    if teacher:
        questions = config_dict(cfg).get("max_train_examples")
        teacher_facts = {"teacher_entropy": cells.cell_target_entropy(cfg),
                         "teacher_train_f1": cells.teacher_train_f1(stage, card, variant, questions)}
    cells.record_cell(out_dir, identity, {"card": card, "row": {k: r[k] for k in ("factor", "value", "seed")},
                                          "arm": r.get("arm"), "teacher_variant": variant, "run_dir": run,
                                          "train": train_metrics(model), "teacher_facts": teacher_facts})
    return {"summary": summary, "run_dir": run, "reused": False, "teacher_facts": teacher_facts}


def distillation_gain(runs) -> list[dict[str, Any]]:
    """Per card and dataset: mean F1 of the card's setting over seeds minus mean F1 of the same
    student without distillation (weight 0) over the same seeds, with both seed spreads and the
    per-seed paired differences (one seed only: the two single runs)."""
    out = []
    if not len(runs):
        return out
    for (card, ds), g in runs.groupby(["card", "dataset"]):
        seeded = g[g["factor"] == "seed"]
        centre = seeded if len(seeded) else g[(g["factor"] == "weight") & g["center"]]
        seeded_base = g[g["factor"] == BASELINE_SEED]
        base = seeded_base if len(seeded_base) else g[g["is_base"]]
        if not (len(centre) and len(base)):
            continue
        d, b = centre.groupby("seed")["f1"].mean(), base.groupby("seed")["f1"].mean()
        paired = (d - b).dropna()
        out.append({"card": card, "dataset": ds,
                    "distilled_f1": float(d.mean()), "base_f1": float(b.mean()),
                    "gain": float(d.mean() - b.mean()),
                    "seed_sd": float(d.std()) if len(d) > 1 else None,
                    "base_seed_sd": float(b.std()) if len(b) > 1 else None,
                    "paired_gains": {int(k): float(v) for k, v in paired.items()},
                    "n_seeds": int(len(d))})
    return out


# --------------------------------------------------------------------------------------------
# 06 report


def gather(stage: Stage) -> dict[str, Any]:
    """Everything the report compares: evaluations (04), ablation runs (05), configs (03); only when
    every stage ran under this profile (pipeline.consistency)."""
    check_one_profile(stage.profile, upto="05_ablations")
    ev = stage.previous("04_evaluate")
    ab = stage.previous("05_ablations")
    configs = {card: stage.previous("03_distill", card).get("config", {}) for card in stage.profile.cards}
    return {"evaluated": ev["models"], "ablation_runs": ab.get("runs", []), "configs": configs,
            "speed": ev.get("speed", []), "gains": ab.get("gains", []), "teacher_scores": ab.get("teacher_scores", [])}


def write_markdown(stage: Stage, table, counts: Mapping[str, int]) -> Path:
    """outputs/<profile>/claims_vs_reproduced.md: the verdict table for the README."""
    head = [f"# Claims vs reproduced ({stage.profile.name})", ""]
    if stage.profile.caveat:
        head += [f"**{stage.profile.caveat}.**", ""]
    head += [", ".join(f"{k}: {v}" for k, v in counts.items()), ""]
    head += [line for ln in stage.not_run_lines() for line in (ln, "")]
    dest = stage.results / "claims_vs_reproduced.md"
    with qio.atomic_path(dest) as tmp:
        tmp.write_text("\n".join(head) + report.claims_markdown(table, stage.profile.purpose), encoding="utf-8")
    return dest
