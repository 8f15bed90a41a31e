"""qarepro.model_card: README.md with model-index YAML beside a trained model."""

from __future__ import annotations

import yaml

from qarepro.distill_config import load_distill_config
from qarepro.model_card import write_model_card


def test_model_card_with_results(tmp_path):
    cfg = load_distill_config("roberta-base-squad2-distilled")
    path = write_model_card(tmp_path, cfg, {"squad_v2-validation": {"exact": 80.86, "f1": 84.01},
                                                    "squadshifts-amazon": {"exact_match": 60.0, "f1": 70.123456}})
    text = path.read_text()
    front = yaml.safe_load(text.split("---")[1])
    results = front["model-index"][0]["results"]
    assert front["model-index"][0]["name"] == "roberta-base-squad2-distilled"
    assert results[0]["dataset"] == {"name": "rajpurkar/squad_v2", "type": "rajpurkar/squad_v2", "config": "squad_v2",
                                     "split": "validation"}
    assert [m["value"] for m in results[0]["metrics"]] == [80.86, 84.01]
    assert results[1]["dataset"]["name"] == "ludwigschmidt/squadshifts amazon" and results[1]["metrics"][1]["value"] == 70.1235
    assert "deepset/roberta-large-squad2" in text and "temperature 1.5" in text
