"""qarepro.data: the registry, the loading order (file, folder, hub), limits, subsets and samples."""

from __future__ import annotations

import json
import logging

import datasets
import pytest

from qarepro import data, paths
from qarepro.data import DataError, DataSourceError
from tests.helpers import squad_doc as _doc, write_file as _write, qa_at as _qa

SQUAD2_SAMPLE = paths.FIXTURES / "squad-v2.0-dev-sample.json"
SQUAD1_DEV_SAMPLE = paths.FIXTURES / "squad-v1.1-dev-sample.json"
SQUAD1_TRAIN_SAMPLE = paths.FIXTURES / "squad-v1.1-train-sample.json"

FIXTURES = [SQUAD2_SAMPLE, SQUAD1_DEV_SAMPLE, SQUAD1_TRAIN_SAMPLE]


# ------------------------------------------------------------------------------------------
# helpers


def _hub_like(rows: list[dict]) -> datasets.Dataset:
    """A dataset shaped like the hub's squad splits (Sequence answers, an extra column)."""
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "title": datasets.Value("string"),
            "context": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answers": datasets.Sequence({"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}),
            "metadata": {"split": datasets.Value("string")},
        }
    )
    cols = {k: [r[k] for r in rows] for k in features}
    return datasets.Dataset.from_dict(cols, features=features)


def _hub_rows():
    return [
        {"id": "h1", "title": "T", "context": "abc def", "question": "what?",
         "answers": {"text": ["def"], "answer_start": [4]}, "metadata": {"split": "x"}},
        {"id": "h2", "title": "T", "context": "abc def", "question": "none?",
         "answers": {"text": [], "answer_start": []}, "metadata": {"split": "x"}},
    ]


@pytest.fixture
def no_hub(monkeypatch):
    """The hub is unreachable; record what was asked of it."""
    calls = []

    def fail(spec):
        calls.append(spec.key)
        raise ConnectionError("Couldn't reach the hub (test)")

    monkeypatch.setattr(data, "_load_from_hub", fail)
    return calls


# ------------------------------------------------------------------------------------------
# registry

EXPECTED_FILES = {  # names of the real files as distributed; must match exactly
    "squad-train": "squad-v1.1-train.json",
    "squad-validation": "squad-v1.1-dev.json",
    "squad_v2-validation": "squad-v2.0-dev.json",
    "squad_v2-validation-answerable": "squad-v2.0-dev.json",  # a subset of the same file
    "squad_adversarial-AddOneSent": "squad_adversarial-AddOneSent.json",
    "squad_adversarial-AddSent": "squad_adversarial-AddSent.json",
    "squadshifts-amazon": "squadshifts-amazon.json",
    "squadshifts-new_wiki": "squadshifts-new_wiki.json",
    "squadshifts-reddit": "squadshifts-reddit.json",
    # not distributed offline; names chosen to be consistent
    "squad_v2-train": "squad-v2.0-train.json",
    "squadshifts-nyt": "squadshifts-nyt.json",
    "adversarial_qa-validation": "adversarial_qa-adversarialQA-validation.json",
}

# (hub id, config, split, revision, folder): canonical namespaced ids (REFERENCE §7); the two
# loading-script repos are read from the hub's parquet export, one folder per config
EXPORT = "refs/convert/parquet"
EXPECTED_HUB = {
    "squad_v2-train": ("rajpurkar/squad_v2", "squad_v2", "train", "main", None),
    "squad_v2-validation": ("rajpurkar/squad_v2", "squad_v2", "validation", "main", None),
    "squad_v2-validation-answerable": ("rajpurkar/squad_v2", "squad_v2", "validation", "main", None),
    "squad-train": ("rajpurkar/squad", "plain_text", "train", "main", None),
    "squad-validation": ("rajpurkar/squad", "plain_text", "validation", "main", None),
    "adversarial_qa-validation": ("UCLNLP/adversarial_qa", "adversarialQA", "validation", "main", None),
    "squad_adversarial-AddOneSent": ("stanfordnlp/squad_adversarial", None, "validation", EXPORT, "AddOneSent"),
    "squad_adversarial-AddSent": ("stanfordnlp/squad_adversarial", None, "validation", EXPORT, "AddSent"),
    "squadshifts-amazon": ("ludwigschmidt/squadshifts", None, "test", EXPORT, "amazon"),
    "squadshifts-new_wiki": ("ludwigschmidt/squadshifts", None, "test", EXPORT, "new_wiki"),
    "squadshifts-nyt": ("ludwigschmidt/squadshifts", None, "test", EXPORT, "nyt"),
    "squadshifts-reddit": ("ludwigschmidt/squadshifts", None, "test", EXPORT, "reddit"),
}


def test_registry_is_complete_and_consistent():
    assert set(data.REGISTRY) == set(EXPECTED_HUB)
    for key, spec in data.REGISTRY.items():
        assert spec.key == key
        assert (spec.hub_id, spec.hub_config, spec.split, spec.hub_revision, spec.hub_data_dir) == EXPECTED_HUB[key]
        assert spec.filename == EXPECTED_FILES[key]
        assert spec.description
        assert spec.has_unanswerable == (key.startswith("squad_v2") and spec.subset != "answerable")
    whole_files = [s.filename for s in data.REGISTRY.values() if s.subset is None]
    assert len(set(whole_files)) == len(whole_files)
    with pytest.raises(Exception):
        data.REGISTRY["squad-train"].split = "x"  # frozen


def test_hub_loader_calls_load_dataset_with_the_spec(monkeypatch):
    seen = {}

    def fake_load_dataset(*args, **kwargs):
        seen["args"], seen["kwargs"] = args, kwargs
        return _hub_like(_hub_rows())

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds = data.load_examples("squadshifts-nyt")
    assert seen == {"args": ("ludwigschmidt/squadshifts", None),
                    "kwargs": {"revision": "refs/convert/parquet", "data_dir": "nyt", "split": "test"}}
    assert ds.features == data.FEATURES and ds.column_names == list(data.COLUMNS)
    assert ds["id"][:] == ["h1", "h2"] and ds[1]["answers"] == {"text": [], "answer_start": []}


# ------------------------------------------------------------------------------------------
# loading order, limit, source errors


def _variant(folder, n_questions):
    """A squad-v2.0-dev.json in `folder` holding the first n questions of the fixture."""
    folder.mkdir(parents=True, exist_ok=True)
    obj = data.to_squad_json(data.read_squad_json(SQUAD2_SAMPLE).select(range(n_questions)))
    return _write(folder, obj, "squad-v2.0-dev.json")


def test_local_folder_from_env_and_explicit_argument(tmp_path, monkeypatch, no_hub):
    env_dir, arg_dir = tmp_path / "env", tmp_path / "arg"
    _variant(env_dir, 5)
    _variant(arg_dir, 7)
    monkeypatch.setenv("QAREPRO_DATA_DIR", str(env_dir))
    assert len(data.load_examples("squad_v2-validation")) == 5
    assert len(data.load_examples("squad_v2-validation", arg_dir)) == 7  # the argument wins
    assert len(data.load_examples("squad_v2-validation", str(arg_dir))) == 7
    monkeypatch.delenv("QAREPRO_DATA_DIR")
    assert len(data.load_examples("squad_v2-validation", arg_dir)) == 7
    assert data.local_file("squad_v2-validation", arg_dir) == (arg_dir / "squad-v2.0-dev.json").resolve()
    assert data.local_file("squad_v2-validation") is None and data.local_file("squad_v2-train", arg_dir) is None
    assert no_hub == []


def test_explicit_path_wins_over_folders(tmp_path, monkeypatch, no_hub):
    monkeypatch.setenv("QAREPRO_DATA_DIR", str(tmp_path / "env"))
    _variant(tmp_path / "env", 5)
    assert len(data.load_examples(SQUAD1_DEV_SAMPLE, tmp_path / "env")) == 46
    assert len(data.load_examples(str(SQUAD1_DEV_SAMPLE))) == 46
    assert no_hub == []


def test_missing_local_file_falls_back_to_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_load_from_hub", lambda spec: _hub_like(_hub_rows()))
    ds = data.load_examples("squad_v2-train", tmp_path)  # folder exists, file does not
    assert ds.to_dict()["id"] == ["h1", "h2"] and ds.features == data.FEATURES


def test_hub_unreachable_message(tmp_path, monkeypatch, no_hub):
    with pytest.raises(DataSourceError) as err:
        data.load_examples("squadshifts-nyt", tmp_path)
    msg = str(err.value)
    for needle in ["'squadshifts-nyt'", "'squadshifts-nyt.json'", str(tmp_path), "data_dir", "QAREPRO_DATA_DIR",
                   "Couldn't reach the hub (test)", "the hub could not be reached", "run where the hub is reachable",
                   data.SQUADSHIFTS_ORIGINAL]:
        assert needle in msg, (needle, msg)
    assert "\n" not in msg and no_hub == ["squadshifts-nyt"]

    monkeypatch.setenv("QAREPRO_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataSourceError) as err:
        data.load_examples("adversarial_qa-validation")
    msg = str(err.value)
    assert str(tmp_path / "nowhere") in msg and "$QAREPRO_DATA_DIR" in msg and "does not exist" in msg
    assert "'adversarial_qa-adversarialQA-validation.json'" in msg

    monkeypatch.delenv("QAREPRO_DATA_DIR")
    with pytest.raises(DataSourceError, match="no local data folder is set"):
        data.load_examples("squad_v2-train")


def test_unknown_key_and_missing_file(tmp_path, no_hub):
    with pytest.raises(DataSourceError, match="Did you mean 'squad-train'") as err:
        data.load_examples("squad-trian")
    assert "squadshifts-reddit" in str(err.value)  # lists the known keys
    with pytest.raises(DataSourceError, match="does not exist"):
        data.load_examples(str(tmp_path / "nope.json"))
    assert no_hub == []


def test_hub_data_is_validated_like_files(monkeypatch):
    rows = _hub_rows()
    rows[0]["answers"] = {"text": ["def"], "answer_start": [1]}
    monkeypatch.setattr(data, "_load_from_hub", lambda spec: _hub_like(rows))
    with pytest.raises(DataError) as err:
        data.load_examples("squad-validation")
    msg = str(err.value)
    assert "hub dataset rajpurkar/squad@main (config plain_text" in msg and "'h1'" in msg and "row 0" in msg
    ds = data.load_examples("squad-validation", repair_answers=True)
    assert ds[0]["answers"] == {"text": ["def"], "answer_start": [4]}


def test_limit_takes_the_first_questions(caplog):
    full = data.load_examples(SQUAD2_SAMPLE)
    with caplog.at_level(logging.INFO, logger="qarepro.data"):
        ten = data.load_examples(SQUAD2_SAMPLE, limit=10)
    assert ten.to_dict() == full.select(range(10)).to_dict()
    assert data.fingerprint(data.load_examples(SQUAD2_SAMPLE, limit=10)) == data.fingerprint(ten)
    assert any("204 questions (88 unanswerable)" in r.getMessage() and "kept the first 10" in r.getMessage()
               for r in caplog.records)
    assert len(data.load_examples(SQUAD2_SAMPLE, limit=0)) == 0
    assert len(data.load_examples(SQUAD2_SAMPLE, limit=10_000)) == 204
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="limit"):
            data.load_examples(SQUAD2_SAMPLE, limit=bad)


def test_load_logs_counts(caplog):
    with caplog.at_level(logging.INFO, logger="qarepro.data"):
        data.load_examples(SQUAD2_SAMPLE)
    assert any("2 articles, 12 paragraphs, 204 questions (88 unanswerable), 0 answers repaired" in r.getMessage()
               for r in caplog.records)


# ------------------------------------------------------------------------------------------
# subsets and samples


def test_answerable_subset_and_even_sample(tmp_path):
    import shutil

    from qarepro import paths as qpaths

    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(qpaths.FIXTURES / "squad-v2.0-dev-sample.json", folder / "squad-v2.0-dev.json")
    load_examples = data.load_examples
    full = load_examples("squad_v2-validation", folder)
    answerable = load_examples("squad_v2-validation-answerable", folder)
    assert 0 < len(answerable) < len(full)
    assert all(a["text"] for a in answerable["answers"])
    assert answerable["id"] == [i for i, a in zip(full["id"], full["answers"]) if a["text"]]
    spread = load_examples("squad_v2-validation", folder, sample=10)
    assert len(spread) == 10 and spread["id"][0] == full["id"][0]
    assert len(set(spread["title"])) == len(set(full["title"]))  # every article represented
    assert load_examples("squad_v2-validation", folder, sample=10)["id"] == spread["id"]
    with pytest.raises(ValueError, match="sample"):
        load_examples("squad_v2-validation", folder, sample=-1)
