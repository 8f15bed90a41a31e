"""predict and evaluate stages end to end on tiny offline models and the real fixture sample."""

from __future__ import annotations

import dataclasses
import json

import pytest

from qarepro import cli, evaluate, predict
from qarepro.provenance import strip_volatile

OFFICIAL_KEYS = ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
                 "NoAns_exact", "NoAns_f1", "NoAns_total", "best_exact", "best_exact_thresh",
                 "best_f1", "best_f1_thresh"]


def test_predict_cli_writes_official_files(tiny_model, fixture_files, tmp_path):
    out = tmp_path / "pred"
    rc = cli.main(["predict", "--model", str(tiny_model), "--data", str(fixture_files["squad_v2_dev"]),
                   "--out", str(out), "--max-seq-len", "128", "--doc-stride", "32", "--batch-size", "16"])
    assert rc == 0
    data = json.loads(fixture_files["squad_v2_dev"].read_text())
    ids = {qa["id"] for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]}
    preds = json.loads((out / "predictions.json").read_text())
    na_prob = json.loads((out / "na_prob.json").read_text())
    nbest = json.loads((out / "nbest.json").read_text())
    assert set(preds) == ids == set(na_prob) == set(nbest)
    assert all(isinstance(v, str) for v in preds.values())
    assert all(0.0 <= v <= 1.0 for v in na_prob.values())
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["metrics"]) == OFFICIAL_KEYS
    assert metrics["metrics"]["total"] == len(ids)
    assert metrics["allow_no_answer"] is True  # the sample has unanswerable questions
    assert metrics["provenance"]["git"]["commit"] is not None


def test_squad11_style_data_never_predicts_empty_by_default(tiny_bert, fixture_files, tmp_path):
    result = predict.run_predict(str(tiny_bert), str(fixture_files["squad_dev"]), tmp_path / "p",
                                 window=predict.default_window("hf"), batch_size=16)
    preds = json.loads((tmp_path / "p" / "predictions.json").read_text())
    assert result["allow_no_answer"] is False
    assert all(text != "" for text in preds.values())
    assert "NoAns_total" not in result["metrics"]


def test_missing_model_is_one_clear_error(tmp_path, capsys):
    rc = cli.main(["predict", "--model", "no-such-org/no-such-model", "--data", "squad_v2-validation",
                   "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert "squad_v2" in err or "no-such-model" in err


def test_evaluate_two_datasets_is_deterministic(tiny_roberta, fixture_files, tmp_path):
    sources = [str(fixture_files["squad_v2_dev"]), str(fixture_files["squad_dev"])]
    kwargs = dict(decoder="haystack", batch_size=16, limit=40, profile="test")
    first = evaluate.evaluate_model(str(tiny_roberta), sources, tmp_path / "a", **kwargs)
    second = evaluate.evaluate_model(str(tiny_roberta), sources, tmp_path / "b", **kwargs)
    assert set(first["results"]) == {"squad-v2.0-dev-sample", "squad-v1.1-dev-sample"}
    assert strip_volatile(first["results"]) == strip_volatile(second["results"])
    for name in first["results"]:
        assert (tmp_path / "a" / name / "predictions.json").read_text() == (tmp_path / "b" / name / "predictions.json").read_text()
    on_disk = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert on_disk["provenance"]["profile"] == "test" and on_disk["results"]["squad-v1.1-dev-sample"]["n_questions"] == 40


def test_each_decoder_has_its_own_window_and_every_metrics_file_records_it(tiny_bert, fixture_files, tmp_path):
    """haystack: FARMReader's inference window (max_seq_len 256, doc_stride 128 as the step,
    haystack/nodes/reader/farm.py l.54-55); hf: the HF example's 384 / 128 overlap."""
    assert dataclasses.asdict(predict.default_window("haystack")) == dict(
        max_seq_len=256, max_query_length=64, doc_stride=128, stride_mode="haystack", label_mode="hf")
    assert dataclasses.asdict(predict.default_window("hf")) == dict(
        max_seq_len=384, max_query_length=64, doc_stride=128, stride_mode="hf", label_mode="hf")
    src = str(fixture_files["squad_v2_dev"])
    for decoder, seq in (("haystack", 256), ("hf", 384)):
        out = tmp_path / decoder
        evaluate.evaluate_model(str(tiny_bert), [src], out, decoder=decoder, batch_size=16, limit=8)
        summary = json.loads((out / "metrics.json").read_text())
        per_set = json.loads((out / "squad-v2.0-dev-sample" / "metrics.json").read_text())
        assert summary["settings"]["window"]["max_seq_len"] == per_set["window"]["max_seq_len"] == seq
        assert per_set["window"]["stride_mode"] == ("haystack" if decoder == "haystack" else "hf")
    rc = cli.main(["predict", "--model", str(tiny_bert), "--data", src, "--out", str(tmp_path / "cli"),
                   "--decoder", "haystack", "--limit", "4"])
    assert rc == 0 and json.loads((tmp_path / "cli" / "metrics.json").read_text())["window"]["max_seq_len"] == 256


def test_bad_window_is_one_clear_error(tiny_bert, fixture_files, tmp_path, capsys):
    rc = cli.main(["predict", "--model", str(tiny_bert), "--data", str(fixture_files["squad_dev"]),
                   "--out", str(tmp_path / "o"), "--max-seq-len", "96", "--doc-stride", "32"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err and "doc_stride" in err


def test_a_per_dataset_sample_overrides_the_common_one(tiny_roberta, fixture_files, tmp_path):
    v2, v1 = str(fixture_files["squad_v2_dev"]), str(fixture_files["squad_dev"])
    summary = evaluate.evaluate_model(str(tiny_roberta), [v2, v1], tmp_path / "s", decoder="hf", batch_size=16,
                                      sample=10, samples={v1: 25})
    assert summary["results"]["squad-v2.0-dev-sample"]["n_questions"] == 10
    assert summary["results"]["squad-v1.1-dev-sample"]["n_questions"] == 25
    assert summary["settings"]["samples"] == {v1: 25}
    per_set = json.loads((tmp_path / "s" / "squad-v1.1-dev-sample" / "metrics.json").read_text())
    assert per_set["provenance"]["sample"] == 25


def test_every_evaluation_writes_per_question_scores_that_give_its_metrics(tiny_bert, fixture_files, tmp_path):
    """questions.csv.gz: one row per question, the official scorer's per-question EM and F1; their
    means are the dataset's EM and F1 (no threshold on a set scored without one)."""
    src = str(fixture_files["squad_v2_dev"])
    summary = evaluate.evaluate_model(str(tiny_bert), [src], tmp_path / "ev", limit=12, precision="fp32")
    (name,) = summary["results"]
    m = summary["results"][name]["metrics"]
    scores = evaluate.read_question_scores(tmp_path / "ev" / name / evaluate.QUESTION_SCORES)
    assert list(scores.columns) == list(predict.QUESTION_SCORE_COLUMNS) and len(scores) == m["total"] == 12
    assert scores["id"].is_unique
    assert 100 * scores["exact"].mean() == pytest.approx(m["exact"])
    assert 100 * scores["f1"].mean() == pytest.approx(m["f1"], abs=1e-3)


def test_dynamic_padding_is_recorded_and_scores_the_same_questions(tiny_bert, fixture_files, tmp_path):
    src = str(fixture_files["squad_v2_dev"])
    full = evaluate.evaluate_model(str(tiny_bert), [src], tmp_path / "a", limit=12, precision="fp32")
    dyn = evaluate.evaluate_model(str(tiny_bert), [src], tmp_path / "b", limit=12, precision="fp32", padding="dynamic")
    assert full["settings"]["padding"] == "max_length" and dyn["settings"]["padding"] == "dynamic"
    (name,) = dyn["results"]
    assert dyn["results"][name]["metrics"]["total"] == full["results"][name]["metrics"]["total"]
    with pytest.raises(SystemExit):
        predict.build_parser().parse_args(["--model", "m", "--data", "d", "--out", "o", "--padding", "longest"])
