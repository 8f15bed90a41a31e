"""Small builders shared by several test files (SQuAD documents, run records, scoring cases)."""

from __future__ import annotations

import json


def squad_doc() -> dict:
    """A small valid SQuAD 2.0 document: two articles, one unanswerable question."""
    return {
        "version": "v2.0",
        "data": [
            {
                "title": "Alpha",
                "paragraphs": [
                    {
                        "context": "The cat sat on the mat. The cat was black.",
                        "qas": [
                            {"id": "q1", "question": "Where did the cat sit?",
                             "answers": [{"text": "on the mat", "answer_start": 12}], "is_impossible": False},
                            {"id": "q2", "question": "What colour was the dog?", "answers": [], "is_impossible": True},
                        ],
                    },
                    {
                        "context": "Paris is the capital of France.",
                        "qas": [{"id": "q3", "question": "What is the capital of France?",
                                 "answers": [{"text": "Paris", "answer_start": 0}], "is_impossible": False}],
                    },
                ],
            },
            {
                "title": "Beta",
                "paragraphs": [
                    {
                        "context": "Water boils at 100 degrees.",
                        "qas": [{"id": "q4", "question": "At what temperature does water boil?",
                                 "answers": [{"text": "100 degrees", "answer_start": 15}]}],
                    }
                ],
            },
        ],
    }


def write_file(tmp_path, obj, name="bad.json"):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj, indent=1), encoding="utf-8")
    return path


def qa_at(doc, a, p, q):
    return doc["data"][a]["paragraphs"][p]["qas"][q]


def seed_runs(card="bert-medium-squad2-distilled", gains=((42, 60.0, 55.0), (43, 62.0, 56.0), (44, 61.0, 57.0))):
    runs = []
    for ds, shift in (("d1", 0.0), ("d2", 10.0)):
        for seed, distilled, base in gains:
            runs.append({"card": card, "dataset": ds, "factor": "seed", "value": seed, "seed": seed,
                         "decoder": "hf", "f1": distilled + shift, "center": False, "is_base": False})
            runs.append({"card": card, "dataset": ds, "factor": "baseline_seed", "value": seed, "seed": seed,
                         "decoder": "hf", "f1": base + shift, "center": False, "is_base": seed == 42})
    return runs


def reproduced_metrics():
    return {
        "published": {"squad_v2-validation": {"exact": 69.9, "f1": 72.9}},
        "distilled": {"squad_v2-validation": {"metrics": {"exact": 67.0, "f1": 71.0}}},
        "base": {"squad_v2-validation": {"exact": 66.0, "f1": 69.0}},
    }


def toy_scoring_case():
    gold = {"data": [{"title": "t", "paragraphs": [{"context": "a b c d", "qas": [
        {"id": "1", "question": "?", "answers": [{"text": "b c", "answer_start": 2}]},
        {"id": "2", "question": "?", "answers": []},
        {"id": "3", "question": "?", "answers": [{"text": "d", "answer_start": 6}]},
        {"id": "4", "question": "?", "answers": []},
    ]}]}]}
    preds = {"1": "b c", "2": "a", "3": "c d", "4": "d"}
    na = {"1": 0.2, "2": 0.9, "3": 0.4, "4": 0.1}
    return gold, preds, na


def paired_runs(card="roberta-base-squad2-distilled", factor="train_size",
                cells=((1000, 42, 30.0, 27.0), (1000, 43, 31.0, 26.0), (4000, 42, 45.0, 44.0),
                       (4000, 43, 46.0, 44.9))):
    """Crossed grid rows of a paired factor: (value, seed, distilled F1, baseline F1) on one dataset."""
    runs = []
    for value, seed, distilled, base in cells:
        for arm, f1 in (("distilled", distilled), ("baseline", base)):
            runs.append({"card": card, "dataset": "d1", "factor": factor, "value": value, "seed": seed,
                         "arm": arm, "decoder": "hf", "f1": f1, "center": False, "is_base": arm == "baseline"})
    return runs
