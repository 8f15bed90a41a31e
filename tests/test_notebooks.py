"""The six notebooks: one per stage, one parameters cell of plain literals, no logic in cells."""

from __future__ import annotations

import ast

import nbformat
import pytest

from qarepro import paths, pipeline, rerender

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
    assert names["profile"] is None  # pipeline.start: $QAREPRO_PROFILE, else smoke; a typed profile wins
    if stage in pipeline.PER_CARD_STAGES:
        assert names["card"] in pipeline.load_profile("smoke").cards and names["overrides"] == {}
    if stage in rerender.FROM_RECORDS:  # qarepro rerender: the report again from the stage's own record
        assert names["rerender"] is False
    extra = {"card", "overrides"} if stage in pipeline.PER_CARD_STAGES else set()
    assert set(names) == {"profile", *extra, *({"rerender"} if stage in rerender.FROM_RECORDS else ())}

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
