"""qarepro.pipeline.runner: preflight, the runner's target written last, failures leave nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import nbformat
import pytest

from qarepro import paths, pipeline
from qarepro.pipeline import runner


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
    monkeypatch.setattr(runner, "notebook_path", lambda stage: nb)
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
    monkeypatch.setattr(runner, "notebook_path", lambda stage: nb)
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


@pytest.mark.parametrize("blocked", ["a file in the way", "read-only"])
def test_a_stage_on_unwritable_outputs_is_one_line_error(tmp_path, blocked):
    (tmp_path / "file").write_text("x")
    outputs = tmp_path / "file" / "outputs"
    env = {paths.OUTPUTS_ENV: str(outputs), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if blocked == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        outputs = tmp_path / "ro"
        outputs.mkdir(mode=0o500)
        env[paths.OUTPUTS_ENV] = str(outputs)
    out = _cli("run", "01_data_prep", "--profile", "smoke", env=env, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.count("\n") == 1 and "01_data_prep: cannot write its outputs" in out.stderr


def test_a_missing_secondary_set_is_not_run_with_its_reason_and_a_missing_primary_set_stops(monkeypatch):
    """squad_adversarial-AddSent has no source (the hub answers that it has no parquet export): a
    secondary set becomes a "not run" row with its reason (recorded by 01, read by every later
    stage); as the primary set it stops 01; and a hub that cannot be asked stops 01 either way."""
    class RevisionNotFoundError(Exception):  # what huggingface_hub raises for a missing refs/convert/parquet
        pass

    import datasets  # the loader the registry's hub splits go through

    real = datasets.load_dataset

    def hub_without_export(path, *args, **kwargs):
        if path == "stanfordnlp/squad_adversarial":
            raise RevisionNotFoundError("404 Client Error. Revision Not Found")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", hub_without_export)
    key = "squad_adversarial-AddSent"
    sets = ["squad_v2-validation", "squad-validation", key]
    prof = pipeline.load_profile("smoke", {"eval_datasets": sets})
    not_run: dict[str, str] = {}
    assert runner.preflight(prof, "01_data_prep", not_run) == []
    assert list(not_run) == [key]
    assert "squad_adversarial-AddSent.json" in not_run[key] and "codalab" in not_run[key]  # the fix, named
    assert "no parquet export" in not_run[key]
    assert runner.preflight(prof, "01_data_prep") == [not_run[key]]  # a caller that keeps no not-run list

    stage = pipeline.start("01_data_prep", prof)
    table, result = pipeline.data_prep(stage)
    assert list(result["not_run"]) == [key] and key not in result["datasets"]
    row = table[table["dataset"] == key].iloc[0]
    assert row["source"].startswith("not run: ") and "squad_adversarial-AddSent.json" in row["source"]
    assert stage.eval_datasets == sets[:2] and f"**Not run: `{key}`**" in stage.summary()
    pipeline.finish(stage, result)
    later = pipeline.start("04_evaluate", prof)
    assert list(later.not_run) == [key] and later.eval_datasets == sets[:2]  # (paths in the reason made portable)
    assert "codalab" in later.not_run[key]
    assert f"**Not run: `{key}`**" in later.summary()

    primary = pipeline.load_profile("smoke", {"eval_datasets": sets, "primary_dataset": key})
    problems = runner.preflight(primary, "01_data_prep", {})
    assert len(problems) == 1 and key in problems[0]
    assert key in pipeline.required_datasets(primary) and key not in pipeline.required_datasets(prof)

    monkeypatch.setattr(datasets, "load_dataset", real)  # offline (this test session): the hub is not asked
    problems = runner.preflight(prof, "01_data_prep", not_run := {})
    assert not_run == {} and len(problems) == 1 and key in problems[0]
