"""The scorer as an `evaluate` metric (qarepro.metric): loadable offline with `evaluate.load`,
the `squad_v2` metric's inputs, the numbers of `qarepro score`."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys

import pytest

from qarepro import metric, paths

import evaluate  # noqa: E402  (a dependency: pyproject.toml)

SQUAD2 = paths.FIXTURES / "squad-v2.0-dev-sample.json"


def _inputs(seed: int = 0):
    """Predictions (right, wrong, partly right and empty answers) and no-answer probabilities
    exact in float32 (the metric's feature type), for every question of the fixture."""
    rng = random.Random(seed)
    data = json.loads(SQUAD2.read_text())
    preds, na, refs = {}, {}, []
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                golds = [a["text"] for a in qa["answers"]]
                pick = rng.random()
                if golds and pick < 0.4:
                    preds[qa["id"]] = golds[0]
                elif golds and pick < 0.6:
                    preds[qa["id"]] = golds[0].split()[0] + " extra words"
                elif pick < 0.8:
                    preds[qa["id"]] = ""
                else:
                    preds[qa["id"]] = para["context"][:12]
                na[qa["id"]] = rng.randrange(65) / 64
                refs.append({"id": qa["id"], "answers": {"text": golds,
                                                         "answer_start": [a["answer_start"] for a in qa["answers"]]}})
    predictions = [{"id": q, "prediction_text": t, "no_answer_probability": na[q]} for q, t in preds.items()]
    return preds, na, predictions, refs


@pytest.mark.parametrize("thresh", [1.0, 0.5])
def test_evaluate_load_of_the_local_module_gives_the_numbers_of_qarepro_score(tmp_path, thresh):
    preds, na, predictions, refs = _inputs()
    (tmp_path / "p.json").write_text(json.dumps(preds))
    (tmp_path / "na.json").write_text(json.dumps(na))
    cli = subprocess.run([sys.executable, "-m", "qarepro.cli", "score", str(SQUAD2), str(tmp_path / "p.json"),
                          "-n", str(tmp_path / "na.json"), "-t", str(thresh)],
                         capture_output=True, text=True, cwd=paths.ROOT, check=True)
    expected = json.loads(cli.stdout)
    loaded = evaluate.load(metric.PATH)  # offline: the conftest sets HF_HUB_OFFLINE
    got = loaded.compute(predictions=predictions, references=refs, no_answer_threshold=thresh)
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert math.isclose(got[key], value, rel_tol=0, abs_tol=1e-9), key
    assert 0 < expected["f1"] < 100 and expected["exact"] < expected["f1"]  # a case that tests something


def test_the_metric_takes_the_squad_v2_metric_inputs():
    loaded = metric.load()
    features = loaded.features
    assert set(features["predictions"]) == {"id", "prediction_text", "no_answer_probability"}
    assert set(features["references"]) == {"id", "answers"}
    out = loaded.compute(predictions=[{"id": "a", "prediction_text": "", "no_answer_probability": 1.0}],
                         references=[{"id": "a", "answers": {"text": [], "answer_start": []}}])
    assert out["exact"] == 100.0 and out["NoAns_total"] == 1 and "HasAns_total" not in out


def test_same_numbers_as_the_hub_squad_v2_metric():
    if os.environ.get("HF_HUB_OFFLINE", "0") == "1":
        pytest.skip("offline (HF_HUB_OFFLINE=1, the test suite's default): evaluate.load('squad_v2') fetches "
                    "its script from the Hugging Face hub; run with HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 "
                    "where the hub is reachable")
    from qarepro.pipeline import hub_reachable

    if not hub_reachable():
        pytest.skip("the Hugging Face hub cannot be reached: evaluate.load('squad_v2') fetches its script from there")
    _, _, predictions, refs = _inputs(seed=1)
    hub = evaluate.load("squad_v2").compute(predictions=predictions, references=refs)
    ours = metric.load().compute(predictions=predictions, references=refs)
    assert set(hub) == set(ours)
    for key in hub:
        assert math.isclose(hub[key], ours[key], abs_tol=1e-9), key
