"""The repos the loopback hub serves, laid out like the real ones on the Hugging Face hub.

Weights are tiny random stand-ins of the same model families (qarepro.tiny); data rows are real,
cut from the public datasets into tests/fixtures/ (scripts/make_fixtures.py, ATTRIBUTION.md).
Each repo's `evidence` says what its layout rests on. Where no real rows exist offline
(adversarial_qa, squadshifts/nyt) the rows are another real set's, and the evidence says so.

`card_repos()` is the hub the full profile needs; `build(folder)` caches the files on disk so
that the tests and the CI rehearsal build them once.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from qarepro import paths
from qarepro.tiny import build_tokenizer, fixture_texts

from .server import Repo

FX = paths.FIXTURES
SQUAD2_DEV = FX / "squad-v2.0-dev-sample.json"
SQUAD1_DEV = FX / "squad-v1.1-dev-sample.json"
SQUAD1_TRAIN = FX / "squad-v1.1-train-sample.json"
SHIFTS = {"amazon": FX / "squadshifts-amazon-sample.json", "new_wiki": FX / "squadshifts-new_wiki-sample.json",
          "nyt": FX / "squadshifts-new_wiki-other-sample.json", "reddit": FX / "squadshifts-reddit-sample.json"}
ADVERSARIAL = {"AddOneSent": FX / "squad_adversarial-AddOneSent-sample.json",
               "AddSent": FX / "squad_adversarial-AddSent-sample.json"}
PARQUET_EXPORT = "refs/convert/parquet"
LAYOUT_VERSION = "4"  # bump when the layout below changes: the on-disk cache is rebuilt


# ---------------------------------------------------------------------------------------------
# data


def _rows(squad_json: Path, id_prefix: str = "") -> dict[str, list]:
    data = json.loads(squad_json.read_text(encoding="utf-8"))
    cols: dict[str, list] = {"id": [], "title": [], "context": [], "question": [], "answers": []}
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                cols["id"].append(id_prefix + qa["id"])
                cols["title"].append(article["title"])
                cols["context"].append(para["context"])
                cols["question"].append(qa["question"])
                cols["answers"].append({"text": [a["text"] for a in qa["answers"]],
                                        "answer_start": [a["answer_start"] for a in qa["answers"]]})
    return cols


def _dataset(cols: dict[str, list], extra: dict[str, list] | None = None):
    import datasets

    from qarepro.data import FEATURES

    features = FEATURES.copy()
    cols = dict(cols)
    for name, values in (extra or {}).items():
        cols[name] = values
        features[name] = datasets.Features({name: {"split": datasets.Value("string"),
                                                   "model_in_the_loop": datasets.Value("string")}})[name]
    return datasets.Dataset.from_dict(cols, features=features)


def _to_parquet(ds) -> bytes:
    buf = io.BytesIO()
    ds.to_parquet(buf)
    return buf.getvalue()


def _parquet(cols: dict[str, list], extra: dict[str, list] | None = None) -> bytes:
    return _to_parquet(_dataset(cols, extra))


def _card(configs: list[tuple[str, dict[str, str]]], title: str, splits: dict[str, dict[str, Any]] | None = None) -> bytes:
    """A dataset README whose YAML `configs` map each config to its parquet files, as the hub's are,
    and whose `dataset_info` declares each config's features and split sizes (`splits`: config ->
    {split: Dataset}), which `datasets` checks against the rows it reads (verify_splits)."""
    lines = ["---", "configs:"]
    for name, patterns in configs:
        lines += [f"- config_name: {name}", "  data_files:"]
        lines += [f"  - split: {split}\n    path: {pattern}" for split, pattern in patterns.items()]
    if splits:
        import yaml
        from datasets.info import DatasetInfo, DatasetInfosDict
        from datasets.splits import SplitDict, SplitInfo
        from huggingface_hub import DatasetCardData

        infos = {}
        for name, by_split in splits.items():
            sd = SplitDict()
            for split, ds in by_split.items():
                sd.add(SplitInfo(name=split, num_bytes=ds.data.nbytes, num_examples=len(ds)))
            features = next(iter(by_split.values())).features
            infos[name] = DatasetInfo(features=features, splits=sd, config_name=name,
                                      dataset_size=sum(ds.data.nbytes for ds in by_split.values()))
        card = DatasetCardData()
        DatasetInfosDict(infos).to_dataset_card_data(card)
        lines += yaml.safe_dump(card.to_dict(), sort_keys=False).rstrip("\n").splitlines()
    lines += ["---", f"# {title}", "", "Loopback stand-in (qarepro tests): real rows, fixture sample.", ""]
    return "\n".join(lines).encode()


def _script_main(name: str) -> dict[str, bytes]:
    """A loading-script repo's main branch: the script and a card without `configs`."""
    return {f"{name}.py": b"# loading script (datasets >= 4 refuses to run it)\nimport datasets\n",
            "README.md": f"---\npretty_name: {name}\n---\n# {name}\n".encode(),
            "dataset_infos.json": b"{}"}


def squad_adversarial(export: bool) -> Repo:
    """stanfordnlp/squad_adversarial: a loading script on main; its parquet export only if `export`."""
    revisions = {"main": _script_main("squad_adversarial")}
    if export:
        revisions[PARQUET_EXPORT] = {f"{c}/validation/0000.parquet": _parquet(_rows(f)) for c, f in ADVERSARIAL.items()}
    return Repo("dataset", "stanfordnlp/squad_adversarial", revisions,
                evidence="loading-script repo on main (REFERENCE §7). Its parquet export cannot be confirmed today: "
                         "the dataset viewer stopped converting script repos (2024-08) and since 2025-04 deletes "
                         "refs/convert/parquet before reprocessing, which a script repo never gets back (REFERENCE "
                         "§8). " + ("This hub serves one laid out like the hub's automatic export "
                                    "({config}/{split}/0000.parquet). Rows: AddOneSent/AddSent samples" if export else
                                    "This hub serves none (the default): the run reports both sets \"not run\""))


def with_squad_adversarial_export(repos: list[Repo]) -> list[Repo]:
    """`repos` with stanfordnlp/squad_adversarial's parquet export (as if the hub still had one)."""
    return [squad_adversarial(True) if r.repo_id == "stanfordnlp/squad_adversarial" else r for r in repos]


def dataset_repos(*, squad_adversarial_export: bool = False) -> list[Repo]:
    v2 = {"train": _dataset(_rows(SQUAD1_TRAIN)), "validation": _dataset(_rows(SQUAD2_DEV))}
    squad2 = {f"squad_v2/{split}-00000-of-00001.parquet": _to_parquet(ds) for split, ds in v2.items()}
    squad2["README.md"] = _card([("squad_v2", {"train": "squad_v2/train-*", "validation": "squad_v2/validation-*"})],
                                "squad_v2", {"squad_v2": v2})
    v1 = {"train": _dataset(_rows(SQUAD1_TRAIN)), "validation": _dataset(_rows(SQUAD1_DEV))}
    squad1 = {f"plain_text/{split}-00000-of-00001.parquet": _to_parquet(ds) for split, ds in v1.items()}
    squad1["README.md"] = _card([("plain_text", {"train": "plain_text/train-*",
                                                 "validation": "plain_text/validation-*"})], "squad", {"plain_text": v1})
    aqa: dict[str, bytes] = {}
    aqa_configs, aqa_splits = [], {}
    for cfg in ["adversarialQA", "dbidaf", "dbert", "droberta"]:
        cols = _rows(SQUAD1_DEV, id_prefix=f"{cfg}-")
        meta = [{"split": "validation", "model_in_the_loop": cfg}] * len(cols["id"])
        ds = _dataset(cols, {"metadata": meta})
        aqa[f"{cfg}/validation-00000-of-00001.parquet"] = _to_parquet(ds)
        aqa_configs.append((cfg, {"validation": f"{cfg}/validation-*"}))
        aqa_splits[cfg] = {"validation": ds}
    aqa["README.md"] = _card(aqa_configs, "adversarial_qa", aqa_splits)
    shifts_export = {f"{d}/test/0000.parquet": _parquet(_rows(f, id_prefix=f"{d}-" if d == "nyt" else ""))
                     for d, f in SHIFTS.items()}
    return [
        Repo("dataset", "rajpurkar/squad_v2", {"main": squad2},
             evidence="parquet repo (REFERENCE §7); configs squad_v2 with train/validation parquet files; "
                      "its README's dataset_info declares the split sizes, which datasets checks (REFERENCE §8). "
                      "Stand-in rows: train = SQuAD 1.1 train sample (no SQuAD 2.0 train offline), "
                      "validation = SQuAD 2.0 dev sample"),
        Repo("dataset", "rajpurkar/squad", {"main": squad1},
             evidence="parquet repo (REFERENCE §7); config plain_text. Rows: SQuAD 1.1 train/dev samples"),
        Repo("dataset", "UCLNLP/adversarial_qa", {"main": aqa},
             evidence="parquet repo (REFERENCE §7) with configs adversarialQA, dbidaf, dbert, droberta and a "
                      "metadata column. Stand-in rows: SQuAD 1.1 dev sample, ids prefixed by config"),
        squad_adversarial(squad_adversarial_export),
        Repo("dataset", "ludwigschmidt/squadshifts", {"main": _script_main("squadshifts"), PARQUET_EXPORT: shifts_export},
             evidence="loading-script repo on main; parquet export on refs/convert/parquet with one folder per "
                      "domain, selected with data_dir (REFERENCE §7). Rows: amazon/new_wiki/reddit samples; "
                      "nyt has no rows offline: another new_wiki article, ids prefixed 'nyt-'"),
    ]


# ---------------------------------------------------------------------------------------------
# models


def _tokenizers(work: Path) -> dict[str, Path]:
    """One tiny tokenizer per family, shared by its teacher, student and published model."""
    texts = fixture_texts([SQUAD2_DEV, SQUAD1_DEV, SQUAD1_TRAIN, *SHIFTS.values(), *ADVERSARIAL.values()])
    out = {}
    for family in ("bert", "roberta"):
        folder = work / f"tok-{family}"
        tok = build_tokenizer(family, texts, folder, vocab_size=1000)
        if family == "roberta":
            tok.backend_tokenizer.model.save(str(folder))  # vocab.json + merges.txt, as the old repos ship
        out[family] = folder
    return out


# The keys of a config.json converted from Google's TF BERT release (bert_config.json): no
# model_type, no architectures, no transformers_version; transformers 5 cannot load it unaided.
LEGACY_BERT_KEYS = ("attention_probs_dropout_prob", "hidden_act", "hidden_dropout_prob", "hidden_size",
                    "initializer_range", "intermediate_size", "max_position_embeddings", "num_attention_heads",
                    "num_hidden_layers", "type_vocab_size", "vocab_size")


def _model_bytes(family: str, head: str, vocab_size: int, hidden: int, layers: int, seed: int, *,
                 old_layernorm_names: bool = False, safetensors: bool = False,
                 legacy_config: bool = False) -> tuple[bytes, bytes]:
    """(config.json, weights) of a tiny random model; `head` is "qa", "mlm" or "pretraining".
    `legacy_config`: only the hyper-parameters of Google's bert_config.json (no model_type)."""
    import torch
    import transformers as tf

    common = dict(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                  intermediate_size=2 * hidden)
    if family == "bert":
        cfg = tf.BertConfig(max_position_embeddings=512, type_vocab_size=2, pad_token_id=0, **common)
        cls = {"qa": tf.BertForQuestionAnswering, "mlm": tf.BertForMaskedLM, "pretraining": tf.BertForPreTraining}[head]
    else:
        cfg = tf.RobertaConfig(max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, bos_token_id=0,
                               eos_token_id=2, **common)
        cls = {"qa": tf.RobertaForQuestionAnswering, "mlm": tf.RobertaForMaskedLM}[head]
    cfg.architectures = [cls.__name__]
    torch.manual_seed(seed)
    model = cls(cfg)
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items()}  # untied: one tensor a name
    if old_layernorm_names:  # the 2019-era checkpoints: LayerNorm.gamma / LayerNorm.beta
        state = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
                 for k, v in state.items()}
    values = cfg.to_dict()
    if legacy_config:
        values = {k: values[k] for k in LEGACY_BERT_KEYS}
    config = json.dumps(values, indent=2, sort_keys=True).encode()
    if safetensors:
        from safetensors.torch import save

        return config, save(state, metadata={"format": "pt"})
    buf = io.BytesIO()
    torch.save(state, buf)
    return config, buf.getvalue()


def _read(folder: Path, *names: str) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in names}


def model_repos(work: Path) -> list[Repo]:
    tok = _tokenizers(work)
    bert_vocab = _read(tok["bert"], "vocab.txt") if (tok["bert"] / "vocab.txt").is_file() else None
    if bert_vocab is None:  # the fast WordPiece saves tokenizer.json only: write its vocabulary as vocab.txt
        vocab = json.loads((tok["bert"] / "tokenizer.json").read_text())["model"]["vocab"]
        bert_vocab = {"vocab.txt": "\n".join(sorted(vocab, key=vocab.get)).encode() + b"\n"}
    n_bert = len(bert_vocab["vocab.txt"].decode().splitlines())
    rob_files = _read(tok["roberta"], "vocab.json", "merges.txt")
    n_rob = len(json.loads(rob_files["vocab.json"]))
    rob_fast = _read(tok["roberta"], "tokenizer.json")
    bert_specials = {"special_tokens_map.json": json.dumps({"unk_token": "[UNK]", "sep_token": "[SEP]",
                     "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}).encode()}
    rob_specials = {"special_tokens_map.json": json.dumps({"bos_token": "<s>", "eos_token": "</s>",
                    "unk_token": "<unk>", "sep_token": "</s>", "pad_token": "<pad>", "cls_token": "<s>",
                    "mask_token": "<mask>"}).encode()}

    def files(config_weights: tuple[bytes, bytes], weights_name: str, extra: dict[str, bytes]) -> dict[str, bytes]:
        config, weights = config_weights
        return {"config.json": config, weights_name: weights, **extra,
                "README.md": b"---\nlicense: cc-by-4.0\n---\nLoopback stand-in (tiny random weights).\n"}

    return [
        Repo("model", "deepset/roberta-large-squad2",
             {"main": files(_model_bytes("roberta", "qa", n_rob, 64, 2, 11), "pytorch_model.bin",
                            {**rob_files, **rob_specials,
                             "tokenizer_config.json": json.dumps({"model_max_length": 512}).encode()})},
             evidence="vocab.json + merges.txt and no tokenizer.json (REFERENCE §7); RobertaForQuestionAnswering"),
        Repo("model", "deepset/bert-large-uncased-whole-word-masking-squad2",
             {"main": files(_model_bytes("bert", "qa", n_bert, 64, 2, 12), "pytorch_model.bin",
                            {**bert_vocab, **bert_specials, "tokenizer_config.json": b'{"init_inputs": []}'})},
             evidence='tokenizer_config.json is {"init_inputs": []} (REFERENCE §7); vocab.txt; BertForQuestionAnswering'),
        Repo("model", "FacebookAI/roberta-base",
             {"main": files(_model_bytes("roberta", "mlm", n_rob, 32, 1, 13, safetensors=True), "model.safetensors",
                            {**rob_files, **rob_fast})},
             evidence="canonical id of roberta-base (the bare id redirects here); vocab.json, merges.txt, "
                      "tokenizer.json, model.safetensors; RobertaForMaskedLM"),
        Repo("model", "google/bert_uncased_L-8_H-512_A-8",
             {"main": files(_model_bytes("bert", "pretraining", n_bert, 32, 1, 14, old_layernorm_names=True,
                                         legacy_config=True), "pytorch_model.bin", bert_vocab)},
             evidence="only pytorch_model.bin, old LayerNorm.gamma/beta names (REFERENCE §7); converted from "
                      "Google's TF release (2020): config.json holds bert_config.json's hyper-parameters and no "
                      "model_type, vocab.txt and no tokenizer files (REFERENCE §8); BertForPreTraining weights"),
        Repo("model", "prajjwal1/bert-medium",
             {"main": files(_model_bytes("bert", "pretraining", n_bert, 32, 1, 15, old_layernorm_names=True,
                                         legacy_config=True), "pytorch_model.bin", bert_vocab)},
             evidence="the student of Haystack's distillation examples (REFERENCE §6); config.json without "
                      "model_type, pytorch_model.bin and vocab.txt, converted like the Google release "
                      "(pytorch_geometric PR #10631, 2026-03, for prajjwal1/bert-tiny, published with it; "
                      "REFERENCE §8)"),
        Repo("model", "deepset/roberta-base-squad2-distilled",
             {"main": files(_model_bytes("roberta", "qa", n_rob, 32, 1, 16), "pytorch_model.bin",
                            {**rob_files, **rob_specials,
                             "tokenizer_config.json": json.dumps({"model_max_length": 512}).encode()})},
             evidence="published student: vocab.json + merges.txt, pytorch_model.bin (as the teacher's repo)"),
        Repo("model", "deepset/bert-medium-squad2-distilled",
             {"main": files(_model_bytes("bert", "qa", n_bert, 32, 1, 17), "pytorch_model.bin",
                            {**bert_vocab, **bert_specials,
                             "tokenizer_config.json": json.dumps({"do_lower_case": True}).encode()})},
             evidence="published student: vocab.txt, pytorch_model.bin"),
    ]


# renamed repos: the hub answers the old id with a redirect to the new one
RENAMED = {"roberta-base": "FacebookAI/roberta-base", "squad_v2": "rajpurkar/squad_v2", "squad": "rajpurkar/squad",
           "adversarial_qa": "UCLNLP/adversarial_qa", "squadshifts": "ludwigschmidt/squadshifts",
           "squad_adversarial": "stanfordnlp/squad_adversarial"}


def card_repos(work: Path, **kw) -> list[Repo]:
    return dataset_repos(**kw) + model_repos(work)


def build(folder: str | Path, **kw) -> list[Repo]:
    """The repos, cached as files under `folder` (rebuilt when LAYOUT_VERSION or `kw` change)."""
    folder = Path(folder)
    stamp = folder / "layout.json"
    want = {"version": LAYOUT_VERSION, **kw}
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        return [_load_repo(p) for p in sorted((folder / "repos").glob("*.json"))]
    folder.mkdir(parents=True, exist_ok=True)
    import datasets

    datasets.disable_progress_bars()
    repos = card_repos(folder / "work", **kw)
    (folder / "repos").mkdir(exist_ok=True)
    for i, repo in enumerate(repos):
        _save_repo(repo, folder / "repos" / f"{i:02d}.json")
    stamp.write_text(json.dumps(want))
    return repos


def _save_repo(repo: Repo, index: Path) -> None:
    blobs = index.with_suffix("")
    meta = {"kind": repo.kind, "repo_id": repo.repo_id, "evidence": repo.evidence, "revisions": {}}
    for rev, files in repo.revisions.items():
        meta["revisions"][rev] = {}
        for j, (name, data) in enumerate(sorted(files.items())):
            blob = blobs / f"{len(meta['revisions'])}-{j}"
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            meta["revisions"][rev][name] = blob.name
    index.write_text(json.dumps(meta, indent=1))


def _load_repo(index: Path) -> Repo:
    meta = json.loads(index.read_text())
    blobs = index.with_suffix("")
    revisions = {rev: {name: (blobs / blob).read_bytes() for name, blob in files.items()}
                 for rev, files in meta["revisions"].items()}
    return Repo(meta["kind"], meta["repo_id"], revisions, evidence=meta["evidence"])
