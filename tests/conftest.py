"""Shared fixtures: the real fixture sample and tiny offline models (built once per session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qarepro import paths

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

FIXTURES = paths.FIXTURES
SQUAD2_SAMPLE = FIXTURES / "squad-v2.0-dev-sample.json"
SQUAD1_DEV_SAMPLE = FIXTURES / "squad-v1.1-dev-sample.json"
SQUAD1_TRAIN_SAMPLE = FIXTURES / "squad-v1.1-train-sample.json"


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path, monkeypatch):
    """Every test writes into its own outputs folder, never into the repo's."""
    monkeypatch.setenv(paths.OUTPUTS_ENV, str(tmp_path / "outputs"))
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)


@pytest.fixture(scope="session")
def fixture_files() -> dict[str, Path]:
    return {"squad_v2_dev": SQUAD2_SAMPLE, "squad_dev": SQUAD1_DEV_SAMPLE, "squad_train": SQUAD1_TRAIN_SAMPLE}


def _tiny(family: str, tmp_path_factory) -> Path:
    from qarepro.tiny import build_tiny_qa_model, fixture_texts

    out = tmp_path_factory.mktemp(f"tiny-{family}")
    return build_tiny_qa_model(family, out, fixture_texts([SQUAD2_SAMPLE, SQUAD1_DEV_SAMPLE, SQUAD1_TRAIN_SAMPLE]))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """Directory of a tiny random BERT QA model with a locally trained uncased WordPiece."""
    return _tiny("bert", tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_roberta(tmp_path_factory) -> Path:
    """Directory of a tiny random RoBERTa QA model with a locally trained byte-level BPE."""
    return _tiny("roberta", tmp_path_factory)


@pytest.fixture(scope="session", params=["bert", "roberta"])
def tiny_model(request, tiny_bert, tiny_roberta) -> Path:
    return {"bert": tiny_bert, "roberta": tiny_roberta}[request.param]


@pytest.fixture(scope="session")
def bert_tok(tiny_bert):
    """The tiny BERT's tokenizer (uncased WordPiece)."""
    from transformers import AutoTokenizer  # deferred: only tokenizer tests need transformers here

    return AutoTokenizer.from_pretrained(tiny_bert)


@pytest.fixture(scope="session")
def roberta_tok(tiny_roberta):
    """The tiny RoBERTa's tokenizer (byte-level BPE)."""
    from transformers import AutoTokenizer  # deferred, as above

    return AutoTokenizer.from_pretrained(tiny_roberta)


@pytest.fixture(scope="session", params=["bert", "roberta"])
def tok(request, bert_tok, roberta_tok):
    return {"bert": bert_tok, "roberta": roberta_tok}[request.param]
