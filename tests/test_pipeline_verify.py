"""qarepro.pipeline.verify: published checkpoints against their claims."""

from __future__ import annotations

import json

import pytest

from qarepro import paths, pipeline


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
