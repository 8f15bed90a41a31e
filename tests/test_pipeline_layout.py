"""qarepro.pipeline.layout: targets, tiny models and the profile's data folder."""

from __future__ import annotations

from qarepro import paths, pipeline
from qarepro.data import REGISTRY, load_examples


def test_smoke_data_files_are_linked_under_registry_names():
    prof = pipeline.load_profile("smoke")
    folder = pipeline.data_dir(prof)
    for key in prof.data_files:
        assert (paths.outputs() / "smoke" / "data" / REGISTRY[key].filename).is_file()
    assert len(load_examples("squad_v2-validation", folder)) == 204


def test_targets_and_tiny_models_live_under_the_outputs_folder():
    prof = pipeline.load_profile("smoke")
    assert pipeline.target("smoke", "03_distill", "c") == paths.results("smoke") / "03_distill-c.json"
    assert pipeline.target("smoke", "01_data_prep") == paths.results("smoke") / "01_data_prep.json"
    assert pipeline.resolve_model("tiny:t", prof) == str(paths.outputs() / "models" / "smoke" / "tiny" / "t")
    assert pipeline.resolve_model("org/model", prof) == "org/model" and pipeline.resolve_model(None, prof) is None
    assert pipeline.short_path(str(paths.ROOT / "configs")) == "configs"
