"""qarepro.pipeline.stage: the notebook contract (start, finish, Stage)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qarepro import pipeline


def test_start_checks_the_stage_and_the_card():
    with pytest.raises(pipeline.PipelineError, match="unknown stage '07_more'"):
        pipeline.start("07_more", "smoke")
    with pytest.raises(pipeline.PipelineError, match="card 'nope' is not in profile smoke"):
        pipeline.start("03_distill", "smoke", "nope")


def test_finish_writes_the_result_with_provenance_where_the_runner_says(tmp_path, monkeypatch):
    monkeypatch.setenv(pipeline.STAGE_OUTPUT_ENV, str(tmp_path / "staged.json"))
    stage = pipeline.start("01_data_prep", "smoke")
    with stage.timed("step"):
        pass
    pipeline.finish(stage, {"answer": 42, "nan": math.nan, "path": Path("x")})
    out = json.loads((tmp_path / "staged.json").read_text())
    assert out["answer"] == 42 and out["nan"] is None and out["path"] == "x"
    assert out["purpose"] == "pipeline_check" and out["label"] == stage.profile.caveat
    assert {"stage_s", "step"} <= set(out["provenance"]["timings"]) and "git" in out["provenance"]


def test_figures_and_titles_name_the_stage_and_the_kind_of_run():
    stage = pipeline.Stage("03_distill", pipeline.load_profile("smoke"), "c")
    assert stage.figure("curve").name == "03_distill-c-curve.png"
    assert stage.title("F1") == "F1 (pipeline check, not a reproduction)"
    with pytest.raises(pipeline.PipelineError, match="run 02_teachers first"):
        pipeline.Stage("03_distill", pipeline.load_profile("full")).previous("02_teachers")
