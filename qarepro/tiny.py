"""Tiny BERT- and RoBERTa-family QA models with real tokenizers, built offline.

The tokenizers are trained here with the `tokenizers` library on whatever text is given
(the tests use the fixture contexts): an uncased WordPiece (vocabulary built deterministically) for the BERT family and a
byte-level BPE (leading-space tokens, like RoBERTa's) for the RoBERTa family. Models have
random weights from a fixed seed. They exist so that every stage runs and is tested offline.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Iterable, Literal

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

Family = Literal["bert", "roberta"]


def _train_wordpiece(texts: list[str], vocab_size: int):
    """Uncased WordPiece whose vocabulary is a pure function of the text.

    The `tokenizers` WordPiece trainer breaks frequency ties in hash order, which differs
    between processes; tiny models must be identical on every run, so the vocabulary is built
    here: specials, every character (alone and as a ##continuation), then whole words by
    descending count (ties by spelling) up to vocab_size.
    """
    normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts = Counter(word for text in texts
                     for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c for word in counts for c in word})
    vocab = specials + chars + [f"##{c}" for c in chars]
    words = sorted((w for w in counts if len(w) > 1), key=lambda w: (-counts[w], w))
    vocab += words[: max(0, vocab_size - len(vocab))]
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tok.decoder = decoders.WordPiece()
    return tok, dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]",
                     model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def _train_bytelevel_bpe(texts: list[str], vocab_size: int):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
        trim_offsets=True, add_prefix_space=False,
    )
    tok.decoder = decoders.ByteLevel()
    return tok, dict(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
                     pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
                     model_input_names=["input_ids", "attention_mask"])


def build_tokenizer(family: Family, texts: Iterable[str], out_dir: str | os.PathLike, vocab_size: int = 1000):
    """Train a fast tokenizer of `family` on `texts` and save it (Hugging Face format) in out_dir."""
    from transformers import PreTrainedTokenizerFast  # deferred: transformers takes seconds to import

    texts = list(texts)
    if not texts:
        raise ValueError("build_tokenizer: no text to train on")
    trainer = {"bert": _train_wordpiece, "roberta": _train_bytelevel_bpe}[family]
    raw, specials = trainer(texts, vocab_size)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, model_max_length=512, **specials)
    tokenizer.save_pretrained(out_dir)
    return tokenizer


def build_tiny_qa_model(
    family: Family,
    out_dir: str | os.PathLike,
    texts: Iterable[str],
    *,
    vocab_size: int = 1000,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    seed: int = 0,
) -> Path:
    """Build and save a random-weight QA model of `family` with a locally trained tokenizer."""
    # deferred: torch and transformers take seconds to import; only building a model needs them
    import torch
    from transformers import AutoModelForQuestionAnswering, BertConfig, RobertaConfig

    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(family, texts, out_dir, vocab_size=vocab_size)
    common = dict(
        vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, intermediate_size=intermediate_size,
        pad_token_id=tokenizer.pad_token_id,
    )
    if family == "bert":
        config = BertConfig(max_position_embeddings=max_position_embeddings, type_vocab_size=2, **common)
    else:
        # RoBERTa offsets positions by padding_idx + 1, hence the two extra slots.
        config = RobertaConfig(max_position_embeddings=max_position_embeddings + 2, type_vocab_size=1,
                               bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id, **common)
    torch.manual_seed(seed)
    model = AutoModelForQuestionAnswering.from_config(config)
    model.save_pretrained(out_dir)
    (out_dir / "qarepro_tiny.json").write_text(json.dumps({"family": family, "seed": seed}), encoding="utf-8")
    return out_dir


def fixture_texts(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Contexts and questions of SQuAD-format files, as tokenizer training text."""
    texts = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for article in data["data"]:
            for para in article["paragraphs"]:
                texts.append(para["context"])
                texts.extend(qa["question"] for qa in para["qas"])
    return texts
