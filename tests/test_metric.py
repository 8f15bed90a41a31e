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
ORACLE = paths.TESTS / "oracle" / "evaluate_v2_official.py"
HF_SQUAD_V2 = paths.FIXTURES / "hf_squad_v2" / "squad_v2.py"   # evaluate.load("squad_v2")'s script, unmodified

# probabilities that float32 cannot hold exactly, each also used as a threshold
INEXACT = [0.3, 0.7, 1 / 3, 2 / 3, 0.1, 0.9]
THRESHOLDS = [0.3, 0.7, 1 / 3, 0.5, 1.0]


def _inputs(seed: int = 0, probs=None):
    """Predictions (right, wrong, partly right and empty answers) and no-answer probabilities
    (k/64, exact in float32, unless `probs` gives the values to draw from), for every question of
    the fixture."""
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
                na[qa["id"]] = rng.randrange(65) / 64 if probs is None else rng.choice(probs)
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


def _official(tmp_path, preds, na, thresh) -> dict:
    """The official evaluate-v2.0.py (tests/oracle) on these predictions and probabilities."""
    (tmp_path / "p.json").write_text(json.dumps(preds))
    (tmp_path / "na.json").write_text(json.dumps(na))
    out = subprocess.run([sys.executable, str(ORACLE), str(SQUAD2), str(tmp_path / "p.json"),
                          "-n", str(tmp_path / "na.json"), "-t", repr(thresh)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("thresh", THRESHOLDS, ids=lambda t: f"t={t:.4g}")
def test_the_metric_equals_the_official_script_for_probabilities_float32_cannot_hold(tmp_path, thresh):
    preds, na, predictions, refs = _inputs(seed=2, probs=INEXACT)
    expected = _official(tmp_path, preds, na, thresh)
    got = metric.load().compute(predictions=predictions, references=refs, no_answer_threshold=thresh)
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert math.isclose(got[key], value, rel_tol=0, abs_tol=1e-9), (key, got[key], value)
    assert got["best_f1_thresh"] in INEXACT + [0.0, 1.0]  # a probability as given, not its float32 rounding


def test_the_hub_squad_v2_metric_differs_where_float32_rounds_a_probability(tmp_path):
    """`evaluate.load("squad_v2")` declares no_answer_probability float32: 0.3 reaches its scorer as
    0.30000001192..., above a threshold of 0.3. Measured on the same inputs as the test above
    (the README quotes these numbers)."""
    preds, na, predictions, refs = _inputs(seed=2, probs=INEXACT)
    hub = evaluate.load(str(HF_SQUAD_V2))
    official = _official(tmp_path, preds, na, 0.3)
    theirs = hub.compute(predictions=predictions, references=refs, no_answer_threshold=0.3)
    ours = metric.load().compute(predictions=predictions, references=refs, no_answer_threshold=0.3)
    assert ours["f1"] == pytest.approx(official["f1"], abs=1e-9)
    assert abs(theirs["f1"] - official["f1"]) > 0.5          # float32 moves every 0.3 across the threshold
    assert theirs["best_f1_thresh"] not in INEXACT            # e.g. 0.699999988 for 0.7
    assert (official["total"], len(predictions)) == (theirs["total"], len(refs))


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
