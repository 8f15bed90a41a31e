"""scripts/grid_cells.py: the worker builds the plan's cells; --status only looks."""

from __future__ import annotations

import importlib.util
import types

import pytest

from qarepro import paths

SCRIPT = paths.ROOT / "scripts" / "grid_cells.py"


def _script():
    spec = importlib.util.spec_from_file_location("grid_cells", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_run(monkeypatch, tmp_path, module):
    """A two-row plan, 02_teachers present, and run_cell recording how it is called (no cell is done)."""
    teachers = tmp_path / "02_teachers.json"
    teachers.write_text("{}")
    plan = [{"card": "c", "factor": "train_size", "value": v, "seed": 42, "arm": "distilled", "overrides": {}}
            for v in (500, 1000)]
    stage = types.SimpleNamespace(profile=types.SimpleNamespace(name="smoke"), results=tmp_path)
    calls = []
    monkeypatch.setattr(module.pipeline, "target", lambda *a: teachers)
    monkeypatch.setattr(module.pipeline, "start", lambda *a, **k: stage)
    monkeypatch.setattr(module.pipeline, "ablation_plan", lambda s: [dict(r) for r in plan])
    monkeypatch.setattr(module.pipeline, "card_config", lambda *a, **k: None)
    monkeypatch.setattr(module.pipeline, "config_dict", lambda cfg: {})
    monkeypatch.setattr(module.pipeline, "teacher_scores", lambda *a, **k: [])
    monkeypatch.setattr(module.steps, "run_cell",
                        lambda stage, row, datasets, **kw: calls.append(kw.get("build", True)) or None)
    return calls


def test_status_builds_nothing_and_lists_the_rows_left(monkeypatch, tmp_path, capsys):
    module = _script()
    calls = _fake_run(monkeypatch, tmp_path, module)
    assert module.main(["--profile", "smoke", "--status"]) == 0
    assert calls == [False, False]  # every row looked at, none built
    status = (tmp_path / "grid_status.md").read_text()
    assert "0 of 2 planned rows have a committed cell" in status
    assert "Rows left" in status


def test_the_worker_builds_every_row(monkeypatch, tmp_path):
    module = _script()
    calls = _fake_run(monkeypatch, tmp_path, module)
    assert module.main(["--profile", "smoke"]) == 0
    assert calls == [True, True]


def test_baselines_start_without_the_teachers_and_build_only_rows_without_distillation(monkeypatch, tmp_path):
    module = _script()
    calls = _fake_run(monkeypatch, tmp_path, module)
    (tmp_path / "02_teachers.json").unlink()  # the teachers are still being trained
    plan = [{"card": "c", "factor": "train_size", "value": 500, "seed": 42, "arm": arm,
             "overrides": {"distillation_loss_weight": 0.0} if arm == "baseline" else {}}
            for arm in ("baseline", "distilled")]
    monkeypatch.setattr(module.pipeline, "ablation_plan", lambda s: [dict(r) for r in plan])
    monkeypatch.setattr(module.steps, "is_baseline", lambda r: r["arm"] == "baseline")
    monkeypatch.setattr(module.time, "sleep", lambda s: pytest.fail("waited for 02_teachers"))
    assert module.main(["--profile", "smoke", "--baselines"]) == 0
    assert calls == [True]  # the baseline row only
