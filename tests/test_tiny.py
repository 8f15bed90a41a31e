"""Tiny offline models: real tokenizer behaviour, and the same text always gives the same model."""

import subprocess
import sys

from transformers import AutoTokenizer

from conftest import SQUAD1_DEV_SAMPLE

BUILD = (
    "import sys; from qarepro.tiny import build_tokenizer, fixture_texts; "
    "build_tokenizer(sys.argv[1], fixture_texts([sys.argv[2]]), sys.argv[3])"
)


def test_tokenizers_are_identical_across_processes(tmp_path):
    # Hash order differs between processes; the vocabulary and its ids must not.
    for family in ("bert", "roberta"):
        outs = [tmp_path / f"{family}-{i}" for i in range(2)]
        for out in outs:
            subprocess.run([sys.executable, "-c", BUILD, family, str(SQUAD1_DEV_SAMPLE), str(out)], check=True)
        assert (outs[0] / "tokenizer.json").read_text() == (outs[1] / "tokenizer.json").read_text()


def test_families_tokenise_like_their_originals(tiny_bert, tiny_roberta):
    bert = AutoTokenizer.from_pretrained(tiny_bert)
    enc = bert("Who WON?", "The Denver Broncos.", return_offsets_mapping=True)
    assert enc["token_type_ids"][-1] == 1  # segment ids, as BERT uses them
    assert bert.convert_ids_to_tokens(enc["input_ids"])[0] == "[CLS]"
    assert bert("WHO Won")["input_ids"] == bert("who won")["input_ids"]  # uncased
    roberta = AutoTokenizer.from_pretrained(tiny_roberta)
    enc = roberta("Who won?", "The Denver Broncos.", return_offsets_mapping=True)
    tokens = roberta.convert_ids_to_tokens(enc["input_ids"])
    assert tokens[0] == "<s>" and tokens.count("</s>") == 3 and "token_type_ids" not in enc
    assert any(t.startswith("Ġ") for t in tokens)  # byte-level BPE marks leading spaces
    # offsets of a leading-space token start at the word, not at the space
    i = next(i for i, t in enumerate(tokens) if t.startswith("ĠD"))
    assert "The Denver Broncos."[enc["offset_mapping"][i][0]] == "D"
