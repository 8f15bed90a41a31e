"""qarepro.squad_json: validated reading of SQuAD JSON, repair, schema, round trip, fingerprint."""

from __future__ import annotations

import copy
import json
import logging

import datasets
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qarepro import paths, squad_json
from qarepro.squad_json import DataError
from tests.helpers import squad_doc as _doc, write_file as _write, qa_at as _qa

SQUAD2_SAMPLE = paths.FIXTURES / "squad-v2.0-dev-sample.json"
SQUAD1_DEV_SAMPLE = paths.FIXTURES / "squad-v1.1-dev-sample.json"
SQUAD1_TRAIN_SAMPLE = paths.FIXTURES / "squad-v1.1-train-sample.json"

FIXTURES = [SQUAD2_SAMPLE, SQUAD1_DEV_SAMPLE, SQUAD1_TRAIN_SAMPLE]


# ------------------------------------------------------------------------------------------
# helpers


# ------------------------------------------------------------------------------------------
# bad inputs: each message names the file and the question (id, or its place in the file)


def test_malformed_json_names_line_and_column(tmp_path):
    path = _write(tmp_path, '{\n "data": [\n  {"title": "x",, }\n ]\n}')
    with pytest.raises(DataError) as err:
        squad_json.read_squad_json(path)
    msg = str(err.value)
    assert str(path) in msg and "malformed JSON" in msg and "line 3, column" in msg
    assert isinstance(err.value, ValueError)


def test_missing_top_level_data(tmp_path):
    path = _write(tmp_path, {"version": "v2.0", "articles": []})
    with pytest.raises(DataError, match='missing top-level "data"') as err:
        squad_json.read_squad_json(path)
    assert str(path) in str(err.value)


def _bad(mutate):
    doc = _doc()
    mutate(doc)
    return doc


BAD_CASES = {
    "missing title": (lambda d: d["data"][1].pop("title"), ["data[1]", "'q4'", "'title'"]),
    "missing context": (lambda d: d["data"][0]["paragraphs"][1].pop("context"),
                        ["data[0].paragraphs[1]", "'q3'", "'context'"]),
    "missing qas": (lambda d: d["data"][0]["paragraphs"][1].pop("qas"), ["data[0].paragraphs[1]", "'qas'"]),
    "missing id": (lambda d: _qa(d, 0, 0, 1).pop("id"), ["data[0].paragraphs[0].qas[1] (no id)", "'id'"]),
    "missing question": (lambda d: _qa(d, 0, 0, 1).pop("question"), ["'q2'", "data[0].paragraphs[0].qas[1]", "'question'"]),
    "missing answers": (lambda d: _qa(d, 1, 0, 0).pop("answers"), ["'q4'", "'answers'"]),
    "duplicate id": (lambda d: _qa(d, 1, 0, 0).update(id="q1"),
                     ["'q1'", "duplicate id", "data[1].paragraphs[0].qas[0]", "first at data[0].paragraphs[0].qas[0]"]),
    "empty context": (lambda d: d["data"][0]["paragraphs"][1].update(context="  \n"),
                      ["data[0].paragraphs[1]", "'q3'", "context is empty"]),
    "blank question": (lambda d: _qa(d, 0, 1, 0).update(question=" \t"), ["'q3'", "question is empty"]),
    "misplaced answer": (lambda d: _qa(d, 0, 0, 0)["answers"][0].update(answer_start=5),
                         ["'q1'", "'on the mat'", "answer_start 5", "repair_answers=True"]),
    "start past the end": (lambda d: _qa(d, 1, 0, 0)["answers"][0].update(answer_start=900),
                           ["'q4'", "answer_start 900"]),
    "impossible with answers": (lambda d: _qa(d, 0, 0, 0).update(is_impossible=True),
                                ["'q1'", "is_impossible is true", "1 answer"]),
    "possible without answers": (lambda d: _qa(d, 0, 0, 1).update(is_impossible=False),
                                 ["'q2'", "is_impossible is false", "no answers"]),
    "no flag and no answers": (lambda d: _qa(d, 1, 0, 0).update(answers=[]), ["'q4'", "no is_impossible flag"]),
    "non-integer start": (lambda d: _qa(d, 0, 1, 0)["answers"][0].update(answer_start="0"),
                          ["'q3'", "'answer_start' must be an integer"]),
    "non-boolean flag": (lambda d: _qa(d, 0, 1, 0).update(is_impossible="no"), ["'q3'", "'is_impossible'"]),
    "empty answer text": (lambda d: _qa(d, 0, 1, 0)["answers"][0].update(text=""), ["'q3'", "answer text is empty"]),
    "answer without text": (lambda d: _qa(d, 0, 1, 0)["answers"][0].pop("text"), ["'q3'", "answers[0]"]),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_is_reported_with_file_and_question(tmp_path, case):
    mutate, needles = BAD_CASES[case]
    path = _write(tmp_path, _bad(mutate))
    with pytest.raises(DataError) as err:
        squad_json.read_squad_json(path)
    msg = str(err.value)
    assert str(path) in msg
    for needle in needles:
        assert needle in msg, (case, needle, msg)
    assert err.value.source == str(path) and len(err.value.problems) == 1


def test_every_problem_is_listed_then_summarised(tmp_path):
    doc = _doc()
    qas = doc["data"][0]["paragraphs"][1]["qas"]
    for i in range(30):
        qas.append({"id": f"x{i}", "question": " ", "answers": [{"text": "Paris", "answer_start": 0}]})
    path = _write(tmp_path, doc)
    with pytest.raises(DataError) as err:
        squad_json.read_squad_json(path)
    msg = str(err.value)
    assert len(err.value.problems) == 30 and "30 problems found" in msg
    assert "'x0'" in msg and "'x19'" in msg and "'x20'" not in msg and "... and 10 more" in msg


# ------------------------------------------------------------------------------------------
# repair


def test_repair_moves_answer_to_nearest_occurrence_and_logs(tmp_path, caplog):
    doc = _doc()
    # "cat" occurs at 4 and 28; a wrong start of 25 is nearest the second one
    _qa(doc, 0, 0, 0)["answers"] = [{"text": "cat", "answer_start": 25}, {"text": "on the mat", "answer_start": 12}]
    path = _write(tmp_path, doc)
    with pytest.raises(DataError, match="repair_answers=True"):
        squad_json.read_squad_json(path)
    with caplog.at_level(logging.INFO, logger="qarepro.data"):
        ds = squad_json.read_squad_json(path, repair_answers=True)
    assert ds[0]["answers"] == {"text": ["cat", "on the mat"], "answer_start": [28, 12]}
    repair_logs = [r.getMessage() for r in caplog.records if "repaired answer" in r.getMessage()]
    assert len(repair_logs) == 1 and "'q1'" in repair_logs[0] and "25 -> 28" in repair_logs[0]
    assert any("1 answers repaired" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.WARNING and "relocated" in r.getMessage() for r in caplog.records)


def test_nearest_occurrence_prefers_the_earlier_on_a_tie():
    assert squad_json.nearest_occurrence("ab_ab_ab", "ab", 4) == 3  # 3 and 6: 3 is nearer
    assert squad_json.nearest_occurrence("xx ab ab", "ab", 4) == 3  # 3 and 6 are 1 and 2 away
    assert squad_json.nearest_occurrence("ab..ab", "ab", 2) == 0  # tie between 0 and 4
    assert squad_json.nearest_occurrence("abc", "zz", 0) is None


def test_repair_cannot_invent_an_answer(tmp_path):
    doc = _doc()
    _qa(doc, 0, 0, 0)["answers"] = [{"text": "on the rug", "answer_start": 12}]
    path = _write(tmp_path, doc)
    with pytest.raises(DataError, match="does not occur anywhere") as err:
        squad_json.read_squad_json(path, repair_answers=True)
    assert str(path) in str(err.value) and "'q1'" in str(err.value)


# ------------------------------------------------------------------------------------------
# schema


@pytest.mark.parametrize("path, n, unanswerable", [(SQUAD2_SAMPLE, 204, 88), (SQUAD1_DEV_SAMPLE, 46, 0),
                                                   (SQUAD1_TRAIN_SAMPLE, 266, 0)])
def test_fixture_schema(path, n, unanswerable):
    ds = squad_json.read_squad_json(path)
    assert isinstance(ds, datasets.Dataset) and len(ds) == n
    assert ds.column_names == ["id", "title", "context", "question", "answers"]
    assert ds.features == squad_json.FEATURES
    assert ds.features["answers"]["answer_start"] == datasets.List(datasets.Value("int32"))
    rows = ds.to_list()
    empty = [r for r in rows if not r["answers"]["text"]]
    assert len(empty) == unanswerable
    assert all(r["answers"] == {"text": [], "answer_start": []} for r in empty)
    for r in rows:
        for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"]):
            assert r["context"][s : s + len(t)] == t
    assert len(set(ds["id"][:])) == n
    assert squad_json.describe(ds)["unanswerable"] == unanswerable


def test_all_unanswerable_file_still_types_answers(tmp_path):
    doc = {"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [
        {"id": "a", "question": "q?", "answers": [], "is_impossible": True}]}]}]}
    ds = squad_json.read_squad_json(_write(tmp_path, doc))
    assert ds.features == squad_json.FEATURES and ds[0]["answers"] == {"text": [], "answer_start": []}


def test_describe_counts():
    cols = {"id": ["a", "b", "c"], "title": ["t", "t", "u"], "context": ["x", "x", "y"],
            "question": ["1", "2", "3"],
            "answers": [{"text": [], "answer_start": []}, {"text": ["x"], "answer_start": [0]},
                        {"text": ["y"], "answer_start": [0]}]}
    assert squad_json.describe(cols) == {"questions": 3, "answerable": 2, "unanswerable": 1, "articles": 2, "paragraphs": 2}


# ------------------------------------------------------------------------------------------
# round trip and fingerprint


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_round_trip(tmp_path, path):
    ds = squad_json.read_squad_json(path)
    obj = squad_json.to_squad_json(ds)
    original = json.loads(path.read_text(encoding="utf-8"))
    assert [a["title"] for a in obj["data"]] == [a["title"] for a in original["data"]]
    assert sum(len(a["paragraphs"]) for a in obj["data"]) == sum(len(a["paragraphs"]) for a in original["data"])
    qa = obj["data"][0]["paragraphs"][0]["qas"][0]
    assert set(qa) == {"id", "question", "answers", "is_impossible"}
    back = squad_json.read_squad_json(_write(tmp_path, obj, "round.json"))
    assert back.to_dict() == ds.to_dict()
    assert squad_json.fingerprint(back) == squad_json.fingerprint(ds)


def test_to_squad_json_keeps_order_when_contexts_recur():
    cols = {"id": ["a", "b", "c"], "title": ["t", "t", "t"], "context": ["x", "y", "x"],
            "question": ["1", "2", "3"], "answers": [{"text": [], "answer_start": []}] * 3}
    obj = squad_json.to_squad_json(cols)
    assert [[q["id"] for q in p["qas"]] for p in obj["data"][0]["paragraphs"]] == [["a"], ["b"], ["c"]]
    assert all(q["is_impossible"] for p in obj["data"][0]["paragraphs"] for q in p["qas"])


# A fixed value: the hash must not change across processes, machines or library versions.
SQUAD2_SAMPLE_FINGERPRINT = "5b1bc382cfd3f63a"


def test_fingerprint_is_stable():
    ds = squad_json.read_squad_json(SQUAD2_SAMPLE)
    fp = squad_json.fingerprint(ds)
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fp == SQUAD2_SAMPLE_FINGERPRINT
    assert squad_json.fingerprint(ds.to_dict()) == fp  # same content as plain columns
    assert squad_json.fingerprint(ds.to_list()) == fp  # ... or as rows


def test_fingerprint_is_sensitive_to_content_and_order():
    ds = squad_json.read_squad_json(SQUAD2_SAMPLE)
    base = ds.to_dict()
    fp = squad_json.fingerprint(base)

    def changed(fn):
        cols = copy.deepcopy(base)
        fn(cols)
        return squad_json.fingerprint(cols)

    answered = next(i for i, a in enumerate(base["answers"]) if a["text"])
    variants = {
        "id": changed(lambda c: c["id"].__setitem__(0, c["id"][0] + "x")),
        "question": changed(lambda c: c["question"].__setitem__(0, c["question"][0] + "?")),
        "context": changed(lambda c: c["context"].__setitem__(3, c["context"][3] + " ")),
        "answer start": changed(lambda c: c["answers"][answered]["answer_start"].__setitem__(0, 1)),
        "answer text": changed(lambda c: c["answers"][answered]["text"].__setitem__(0, "x")),
        "order": changed(lambda c: [c[k].reverse() for k in c]),
        "fewer rows": changed(lambda c: [c[k].pop() for k in c]),
    }
    assert all(v != fp for v in variants.values()), variants
    assert len(set(variants.values())) == len(variants)
    assert changed(lambda c: c["title"].__setitem__(0, "other")) == fp  # titles do not count
    assert squad_json.fingerprint(squad_json.read_squad_json(SQUAD2_SAMPLE)) == fp  # a fresh read, same value


# ------------------------------------------------------------------------------------------
# property: any valid example set survives the round trip

_word = st.text(alphabet="abcdé xyz.,", min_size=1, max_size=12).filter(lambda s: s.strip())


@st.composite
def _examples(draw):
    n = draw(st.integers(1, 8))
    cols = {c: [] for c in squad_json.COLUMNS}
    for i in range(n):
        context = draw(_word) + " " + draw(_word)
        start = draw(st.integers(0, len(context) - 1))
        end = draw(st.integers(start + 1, len(context)))
        text = context[start:end]
        answers = ({"text": [], "answer_start": []} if draw(st.booleans()) or not text.strip()
                   else {"text": [text], "answer_start": [start]})
        cols["id"].append(f"id{i}")
        cols["title"].append(draw(st.sampled_from(["A", "B"])))
        cols["context"].append(context)
        cols["question"].append(draw(_word))
        cols["answers"].append(answers)
    return cols


@settings(max_examples=40, deadline=None)
@given(_examples())
def test_round_trip_property(cols):
    parsed, counts = squad_json.parse_squad(json.loads(json.dumps(squad_json.to_squad_json(cols))), "mem", False)
    assert parsed == cols
    assert counts["questions"] == len(cols["id"])
    assert squad_json.fingerprint(parsed) == squad_json.fingerprint(cols)


