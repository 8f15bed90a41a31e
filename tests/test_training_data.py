"""qarepro.training_data: a run's training questions and the same-tokenisation check, as a run
meets them (both stop it before any training)."""

from __future__ import annotations

import json

import pytest

from qarepro import paths, trainer
from qarepro.config import ConfigError
from qarepro.distill_config import DistillError

from distill_helpers import SQUAD2_SAMPLE, tiny_config
from distill_helpers import one_thread, pair  # noqa: F401  (fixtures)


def test_different_tokenizers_are_refused_before_training(pair, tiny_roberta, tmp_path):
    from qarepro.tiny import build_tiny_qa_model, fixture_texts

    with pytest.raises(DistillError, match="do not tokenise identically.*vocabularies differ"):
        trainer.train(tiny_config(pair, student=str(tiny_roberta)))
    # same family, own WordPiece trained on other text: ids differ
    other = build_tiny_qa_model("bert", tmp_path / "other", fixture_texts([SQUAD2_SAMPLE]), vocab_size=800)
    with pytest.raises(DistillError, match="do not tokenise identically"):
        trainer.train(tiny_config(pair, student=str(other)))
    assert not (paths.runs() / "tiny" / "checkpoints").exists()


def test_empty_training_set_is_an_error(pair, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"version": "1.1", "data": []}))
    with pytest.raises(DistillError, match="training set is empty.*empty.json"):
        trainer.train(tiny_config(pair, train_data=str(empty)))
    # keeping no question at all is refused before training starts, naming the key
    with pytest.raises(ConfigError, match="max_train_examples.*must be >= 1"):
        tiny_config(pair, max_train_examples=0)
