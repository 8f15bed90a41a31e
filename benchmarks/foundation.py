"""Foundation benchmark summary: windowing and decoding against their per-example baselines.

Runs after benchmarks/windowing.py and benchmarks/decoding.py (each writes its own full
JSON); this collects their headline figures, side by side, in outputs/bench/foundation.json.
`make bench` runs all three.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qarepro import io as qio  # noqa: E402
from qarepro import paths, provenance  # noqa: E402


def main() -> int:
    bench = paths.bench()
    windowing = qio.read_json(bench / "windowing.json")
    decoding = qio.read_json(bench / "decoding.json")
    summary = {
        "benchmark": "foundation: windowing of SQuAD 1.1 train and decoding of 12k questions",
        "windowing": {
            "questions": windowing["questions"],
            "tokenizer": windowing["tokenizer"],
            "vectorised": windowing["vectorised"],
            "baseline": windowing["baseline"],
            "speedup_vs_baseline": windowing["speedup_hf"],
            "identical_to_baseline": windowing["agreement_with_baseline"],
        },
        "decoding": {
            "data": decoding["data"],
            "decode": decoding["decode"],
            "baselines": decoding["baselines"],
            "speedups": decoding["ratios"],
            "note": decoding["note"],
        },
        "sources": {"windowing": "outputs/bench/windowing.json (benchmarks/windowing.py)",
                    "decoding": "outputs/bench/decoding.json (benchmarks/decoding.py)"},
        "machine": {"windowing_run": windowing["machine"], "decoding_run": decoding["machine"],
                    "summary_written_on": provenance.device_info()},
    }
    qio.write_json(bench / "foundation.json", summary)
    print(f"windowing {summary['windowing']['speedup_vs_baseline']}x, decoding {decoding['ratios']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
