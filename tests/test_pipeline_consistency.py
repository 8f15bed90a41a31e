"""qarepro.pipeline.consistency: 06 and verify refuse a run whose stages ran under different profiles."""

from __future__ import annotations

import copy

import pytest

from qarepro import io as qio
from qarepro import pipeline
from qarepro.pipeline import consistency


def _write_run(prof, change=None):
    """Stage JSONs 01-05 recorded under `prof`; `change(stage, profile_dict)` edits one stage's record."""
    for name in pipeline.STAGES[:5]:
        cards = list(prof.plans) if name == "03_distill" else [None]
        for card in cards:
            recorded = copy.deepcopy(prof.to_dict())
            if change:
                change(name, recorded)
            qio.write_json(pipeline.target(prof.name, name, card),
                           {"stage": name, "profile_fingerprint": pipeline.profile.profile_fingerprint(recorded),
                            "provenance": {"profile": recorded}})


def test_a_run_of_one_profile_passes():
    prof = pipeline.load_profile("smoke")
    _write_run(prof)
    assert consistency.stage_disagreements(prof) == {}
    consistency.check_one_profile(prof)


def test_a_stage_run_under_another_profile_is_refused_naming_stage_and_key():
    prof = pipeline.load_profile("smoke")

    def older_teacher(stage, d):
        if stage == "02_teachers":
            d["teacher_finetune"] = {**d["teacher_finetune"], "epochs": 99}

    _write_run(prof, older_teacher)
    assert consistency.stage_disagreements(prof) == {"02_teachers": ["teacher_finetune"]}
    with pytest.raises(pipeline.PipelineError, match=r"02_teachers: teacher_finetune"):
        consistency.check_one_profile(prof)
    stage = pipeline.Stage("06_report", prof)
    with pytest.raises(pipeline.PipelineError, match="did not all run under this profile"):
        pipeline.gather(stage)


def test_a_change_in_keys_a_stage_does_not_read_is_accepted():
    prof = pipeline.load_profile("smoke")

    def other_grid(stage, d):
        if stage in ("01_data_prep", "02_teachers", "03_distill"):
            d["ablations"] = {**d["ablations"], "seed": [1, 2, 3]}
            d["tolerance"] = 9.0

    _write_run(prof, other_grid)
    assert consistency.stage_disagreements(prof) == {}


def test_a_stage_without_a_recorded_profile_is_refused():
    prof = pipeline.load_profile("smoke")
    _write_run(prof)
    qio.write_json(pipeline.target(prof.name, "04_evaluate"), {"stage": "04_evaluate"})
    assert consistency.stage_disagreements(prof) == {"04_evaluate": ["(no profile recorded)"]}


def test_every_stage_json_records_its_profile_fingerprint(tmp_path):
    prof = pipeline.load_profile("smoke")
    stage = pipeline.Stage("01_data_prep", prof)
    pipeline.finish(stage, {})
    rec = qio.read_json(pipeline.target(prof.name, "01_data_prep"))
    assert rec["profile_fingerprint"] == pipeline.profile.profile_fingerprint(prof)
    assert pipeline.profile.profile_fingerprint(rec["provenance"]["profile"]) == rec["profile_fingerprint"]


def test_the_committed_pocket_cpu_run_ran_under_one_profile(monkeypatch):
    """The shipped pocket-cpu run: every stage JSON records the fingerprint of the current profile."""
    from qarepro import paths

    monkeypatch.setenv(paths.OUTPUTS_ENV, str(paths.ROOT / "outputs"))
    prof = pipeline.load_profile("pocket-cpu")
    assert consistency.stage_disagreements(prof) == {}
    for name in pipeline.STAGES:
        cards = [*prof.plans, None] if name == "03_distill" else [None]  # the per-card records and their index
        for card in cards:
            record = qio.read_json(pipeline.target(prof.name, name, card))
            assert record["profile_fingerprint"] == pipeline.profile_fingerprint(prof), (name, card)
