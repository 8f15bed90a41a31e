"""The six notebooks, the profiles and the notebook runner (qarepro.pipeline)."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
import time

import nbformat
import pytest

from qarepro import paths, pipeline
from qarepro.config import ConfigError

STAGES = pipeline.STAGES


def _read(stage):
    return nbformat.read(paths.NOTEBOOKS / f"{stage}.ipynb", as_version=4)


def test_there_are_six_notebooks_one_per_stage():
    assert sorted(p.stem for p in paths.NOTEBOOKS.glob("*.ipynb")) == sorted(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_exactly_one_parameters_cell_of_plain_literals(stage):
    nb = _read(stage)
    nbformat.validate(nb)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    names = {}
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name), \
            f"{stage}: the parameters cell may only assign names"
        names[node.targets[0].id] = ast.literal_eval(node.value)  # raises unless a plain literal
    assert names["profile"] == "smoke"
    if stage in pipeline.PER_CARD_STAGES:
        assert names["card"] in pipeline.load_profile("smoke").cards and names["overrides"] == {}
    else:
        assert set(names) == {"profile"}


@pytest.mark.parametrize("stage", STAGES)
def test_committed_without_outputs_and_calls_the_library(stage):
    nb = _read(stage)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        assert c.outputs == [] and c.execution_count is None
    source = "\n".join(c.source for c in code)
    assert f"pipeline.start({stage!r}" in source and "pipeline.finish(stage" in source
    # logic lives in qarepro: no function or class definitions, no loops over models in cells
    tree = ast.parse(source)
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While))]


# --------------------------------------------------------------------------------------------
# Profiles


def test_profiles_load_strictly():
    smoke, full = pipeline.load_profile("smoke"), pipeline.load_profile("full")
    assert smoke.is_check and smoke.device == "cpu" and smoke.data_files and smoke.tiny_models
    assert not full.is_check and full.device == "cuda" and not full.tiny_models
    for card, plan in full.plans.items():
        assert plan.overrides == {} and plan.published == f"deepset/{card}" and "/" in plan.teacher
    # full: every dataset any card names is evaluated
    from qarepro import claims

    named = {s.dataset for c in claims.load_all().values() for s in c.scores}
    assert named <= set(full.eval_datasets)
    # the full ablation grid of the issue
    ab = full.ablation
    assert ab.temperature == [1, 1.5, 2, 3, 5] and ab.weight == [0, 0.25, 0.5, 0.75, 1]
    assert set(ab.loss) == {"haystack", "hf"} and set(ab.decoder) == {"hf", "haystack"} and ab.seed == [42, 43, 44]


@pytest.mark.parametrize("text, message", [
    ("colour: red\n", "unknown key(s) 'colour'"),
    ("cards: {roberta-base-squad2-distilled: {teacher: t, finetune: true}}\n", "cards.roberta-base-squad2-distilled: unknown key(s) 'finetune'"),
    ("cards: {nope: {teacher: t}}\n", "no claims file"),
    ("eval_datasets: [squad_v3]\n", "'squad_v3' is not a registry key"),
    ("ablations: {weight: [2]}\n", "outside [0, 1]"),
    ("ablations: {seeds: [1]}\n", "ablations: unknown key(s) 'seeds'"),
    ("device: tpu\n", "'tpu' is not one of"),
    ("eval_window: {max_seq_len: 32}\n", "eval_window"),
])
def test_bad_profiles_are_rejected_naming_the_key(tmp_path, text, message):
    base = pipeline.profile_path("smoke").read_text()
    p = tmp_path / "bad.yaml"
    p.write_text(base + text)
    with pytest.raises(ConfigError) as err:
        pipeline.load_profile(p)
    assert message in str(err.value) and "bad.yaml" in str(err.value)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known profiles: full, pocket, pocket-cpu, smoke"):
        pipeline.load_profile("nope")


def test_smoke_data_files_are_linked_under_registry_names():
    from qarepro.data import REGISTRY, load_examples

    prof = pipeline.load_profile("smoke")
    folder = pipeline.data_dir(prof)
    for key in prof.data_files:
        assert (paths.outputs() / "smoke" / "data" / REGISTRY[key].filename).is_file()
    assert len(load_examples("squad_v2-validation", folder)) == 204


def test_ablation_plan_is_one_factor_at_a_time(monkeypatch):
    prof = pipeline.load_profile("full")
    stage = pipeline.Stage("05_ablations", prof)
    plan = pipeline.ablation_plan(stage)
    bert = [r for r in plan if r["card"] == "bert-medium-squad2-distilled"]
    baseline = [r for r in bert if r["factor"] == pipeline.BASELINE_SEED]
    bert = [r for r in bert if r["factor"] != pipeline.BASELINE_SEED]
    assert len(bert) == 5 + 5 + 2 + 2 + 3 + 2  # T, w, loss, precision, seed, decoder
    for r in bert:
        if (r["factor"], r["value"]) == ("weight", 0.0):  # the no-distillation run at the centre seed
            assert r["overrides"] == {"seed": 42, **pipeline.NO_DISTILLATION}
        else:
            assert len(r["overrides"]) <= 1
    # the no-distillation baseline is trained at every seed too: the claim's spread needs both sides
    assert [r["seed"] for r in baseline] == [42, 43, 44]
    assert all(r["overrides"]["distillation_loss_weight"] == 0.0 and r["overrides"]["teacher"] is None
               for r in baseline)
    centres = {(r["factor"], r["value"]) for r in bert if r["center"]}
    assert centres == {("temperature", 5.0), ("weight", 1.0), ("loss", "haystack"), ("precision", "fp32"),
                       ("seed", 42), ("decoder", "hf")}
    assert [r["overrides"] for r in bert if r["factor"] == "precision"] == [{"precision": "fp32"},
                                                                             {"precision": "bf16"}]


def test_distillation_gain_is_a_mean_over_seeds_on_both_sides():
    import pandas as pd

    rows = []
    for seed, distilled, base in [(42, 60.0, 55.0), (43, 62.0, 58.0), (44, 61.0, 54.0)]:
        rows.append({"card": "c", "dataset": "d", "factor": "seed", "value": seed, "seed": seed,
                     "center": seed == 42, "is_base": False, "f1": distilled})
        rows.append({"card": "c", "dataset": "d", "factor": pipeline.BASELINE_SEED, "value": seed, "seed": seed,
                     "center": False, "is_base": True, "f1": base})
    (gain,) = pipeline.distillation_gain(pd.DataFrame(rows))
    assert gain["distilled_f1"] == 61.0 and gain["base_f1"] == 55.666666666666664
    assert gain["gain"] == 61.0 - 55.666666666666664
    assert gain["paired_gains"] == {42: 5.0, 43: 4.0, 44: 7.0} and gain["n_seeds"] == 3
    assert gain["seed_sd"] == 1.0 and gain["base_seed_sd"] > 2


def test_baseline_runs_are_shared_by_cards_with_the_same_student():
    prof = pipeline.load_profile("pocket-cpu")
    stage = pipeline.Stage("05_ablations", prof)
    ids = {}
    for r in pipeline.ablation_plan(stage):
        # weight 0 is no distillation: the same run as the baseline at that seed, whatever T is
        if r["factor"] == pipeline.BASELINE_SEED or (r["factor"] == "weight" and r["value"] == 0):
            cfg = pipeline.card_config(stage, r["card"], teacher="some/teacher", overrides=r["overrides"])
            ids.setdefault(r["seed"], set()).add(pipeline.run_identity(pipeline.config_dict(cfg)))
    assert sorted(ids) == sorted(prof.ablation.seed) and all(len(v) == 1 for v in ids.values())


# --------------------------------------------------------------------------------------------
# Runner


def _cli(*args, env=None, timeout=120):
    env = {**os.environ, **(env or {})}
    env.pop(paths.DATA_DIR_ENV, None)
    return subprocess.run([sys.executable, "-m", "qarepro.pipeline", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=paths.ROOT)


def test_full_profile_without_network_fails_fast_naming_what_is_missing():
    t = time.perf_counter()
    out = _cli("run", "01_data_prep", "--profile", "full",
               env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert out.returncode == 2, out.stderr
    assert time.perf_counter() - t < 60
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    assert "cannot run 01_data_prep for profile 'full'" in out.stderr
    assert "squad_v2-validation" in out.stderr and paths.DATA_DIR_ENV in out.stderr
    assert not pipeline.target("full", "01_data_prep").exists()


def test_compare_runs_ignores_timings_and_provenance(tmp_path):
    from qarepro.io import write_json

    for name, seconds in (("a", 1.0), ("b", 2.0)):
        write_json(tmp_path / name / "smoke" / "04_evaluate.json",
                   {"models": {"m": {"metrics": {"d": {"exact": 50.0, "f1": 60.0}}, "model": f"/{name}/x"}},
                    "speed": [{"samples_per_s": seconds}], "provenance": {"timings": {"s": seconds}}})
    assert pipeline.compare_runs(tmp_path / "a", tmp_path / "b", "smoke") == []
    write_json(tmp_path / "b" / "smoke" / "04_evaluate.json", {"models": {"m": {"metrics": {"d": {"f1": 61.0}}}}})
    assert pipeline.compare_runs(tmp_path / "a", tmp_path / "b", "smoke") == ["differs: 04_evaluate.json"]


def test_compare_shared_only_checks_what_both_runs_hold_outside_the_grid_tables(tmp_path):
    from qarepro.io import read_json, write_json

    scores = {"a": {"run1": 60.0, "run2": 50.0}, "b": {"run1": 60.0, "run2": 50.0, "run3": 40.0}}
    for name, runs in scores.items():  # b ran a bigger grid, and its stage JSON differs
        write_json(tmp_path / name / "smoke" / "05_ablations.json", {"gains": [{"gain": len(runs)}]})
        for run, f1 in runs.items():
            write_json(tmp_path / name / "smoke" / "ablations" / "card" / f"{run}-hf" / "d" / "metrics.json",
                       {"exact": f1 - 5, "f1": f1, "provenance": {"created_utc": name}})
    a, b = tmp_path / "a", tmp_path / "b"
    assert "differs: 05_ablations.json" in pipeline.compare_runs(a, b, "smoke")
    assert pipeline.compare_runs(a, b, "smoke", shared_only=True) == []
    write_json(b / "smoke" / "ablations" / "card" / "run2-hf" / "d" / "metrics.json", {"exact": 45.0, "f1": 50.5})
    assert pipeline.compare_runs(a, b, "smoke", shared_only=True) == ["differs: ablations/card/run2-hf/d/metrics.json"]
    assert pipeline.main(["compare", str(a), str(b), "--profile", "smoke", "--shared-only",
                          "--out", str(tmp_path / "rerun.json")]) == 1
    record = read_json(tmp_path / "rerun.json")
    assert (record["compared"], record["identical"]) == (2, 1)  # the grid table is left out
    assert record["only_in_b"] == ["ablations/card/run3-hf/d/metrics.json"] and record["only_in_a"] == []


def _notebook(tmp_path, body: str):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from qarepro import pipeline\nstage = pipeline.start('01_data_prep', profile)"),
        nbformat.v4.new_code_cell(body),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_runner_writes_target_last_and_renders_reports(tmp_path, monkeypatch):
    nb = _notebook(tmp_path, "pipeline.finish(stage, {'answer': 42})")
    monkeypatch.setattr(pipeline, "notebook_path", lambda stage: nb)
    pipeline.ensure_kernel()
    prof = pipeline.load_profile("smoke")
    target = pipeline.run_notebook("01_data_prep", prof)
    assert target == pipeline.target("smoke", "01_data_prep")
    result = json.loads(target.read_text())
    assert result["answer"] == 42 and result["purpose"] == "pipeline_check"
    assert "git" in result["provenance"] and "packages" in result["provenance"]
    assert (paths.executed("smoke") / "01_data_prep.ipynb").is_file()
    assert (paths.reports("smoke") / "01_data_prep.html").is_file()
    assert (paths.reports("smoke") / "01_data_prep.full.html").is_file()
    assert not list((paths.results("smoke") / ".staging").glob("*.json"))


@pytest.mark.slow
def test_a_failing_notebook_leaves_no_target(tmp_path, monkeypatch):
    nb = _notebook(tmp_path, "pipeline.finish(stage, {'half': 1})\nraise RuntimeError('boom')")
    monkeypatch.setattr(pipeline, "notebook_path", lambda stage: nb)
    pipeline.ensure_kernel()
    prof = pipeline.load_profile("smoke")
    old = pipeline.target("smoke", "01_data_prep")
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text("{}")  # a stale target from an earlier run must not survive a failure
    with pytest.raises(pipeline.PipelineError, match="RuntimeError: boom"):
        pipeline.run_notebook("01_data_prep", prof)
    assert not old.exists()
    assert not (paths.executed("smoke") / "01_data_prep.ipynb").exists()
    assert (paths.executed("smoke") / "failed" / "01_data_prep.ipynb").is_file()
    assert not list((paths.results("smoke") / ".staging").glob("*.json"))


@pytest.mark.slow
def test_verify_scores_published_checkpoints_and_skips_missing_data(tmp_path, tiny_roberta):
    p = tmp_path / "vtest.yaml"
    p.write_text(f"""name: vtest
description: verify with a tiny stand-in for the published checkpoint
purpose: pipeline_check
device: cpu
data_files: {{squad_v2-validation: tests/fixtures/squad-v2.0-dev-sample.json}}
eval_datasets: [squad_v2-validation, squad-validation]
eval_window: {{max_seq_len: 128, doc_stride: 32}}
cards:
  roberta-base-squad2-distilled: {{teacher: t, published: {tiny_roberta}}}
""")
    prof = pipeline.load_profile(p)
    assert pipeline.verify(prof) == 0
    out = json.loads((paths.results("vtest") / "verify.json").read_text())
    assert set(out["skipped"]) == {"squad-validation"}  # not in data_files, no hub in tests
    rows = {(r["claim"], r["metric"]): r for r in out["table"]}
    assert rows[("model-index/squad_v2", "f1")]["reproduced"] is not None
    assert rows[("model-index/squad", "f1")]["verdict"] == "not run"
    assert {r["model"] for r in out["table"]} == {"published"}
    assert "git" in out["provenance"]
    html = (paths.reports("vtest") / "verify.html").read_text()
    assert 'src="data:image/png;base64,' in html and "<table" in html


def test_a_finished_run_is_reused_by_a_config_that_differs_only_in_name(tmp_path, monkeypatch):
    from qarepro import config as qconfig, distill

    def cfg(name):
        return qconfig.from_mapping(distill.DistillConfig, dict(
            name=name, teacher=None, distillation_loss_weight=0.0, student="s", batch_size=2, epochs=1,
            learning_rate=1e-3, temperature=1.0, output_dir=str(tmp_path / "run")))

    model = tmp_path / "run" / "model"
    model.mkdir(parents=True)
    (model / "train_metrics.json").write_text("{}")
    qconfig.dump(cfg("teacher-for-card-a"), model / "config.yaml")
    calls = []
    monkeypatch.setattr(distill, "train", lambda *a, **k: calls.append(a) or model)
    assert pipeline.train(cfg("teacher-for-card-b")) == model and calls == []
    pipeline.train(dataclasses.replace(cfg("x"), learning_rate=2e-3))  # a real difference: trains
    assert len(calls) == 1
