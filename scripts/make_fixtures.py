"""Cut the small real fixture in tests/fixtures/ out of the full SQuAD files.

Run once by a maintainer (needs ../shared/data); the tests only read the result.
Sources and licences of every file: tests/fixtures/ATTRIBUTION.md.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
OUT = ROOT / "tests" / "fixtures"

# (source file, fixture file, article indices, paragraphs kept per article)
CUTS = [
    ("squad-v2.0-dev.json", "squad-v2.0-dev-sample.json", [0, 1], 6),
    ("squad-v1.1-dev.json", "squad-v1.1-dev-sample.json", [1, 2], 6),
    ("squad-v1.1-train.json", "squad-v1.1-train-sample.json", [0, 2, 5], 12),
    # served by the loopback hub of tests/loopback_hub (real rows for every repo it holds)
    ("squad_adversarial-AddOneSent.json", "squad_adversarial-AddOneSent-sample.json", [1], 14),
    ("squad_adversarial-AddSent.json", "squad_adversarial-AddSent-sample.json", [1], 20),
    ("squadshifts-amazon.json", "squadshifts-amazon-sample.json", [0, 1, 2, 3], 2),
    ("squadshifts-new_wiki.json", "squadshifts-new_wiki-sample.json", [0], 3),
    ("squadshifts-new_wiki.json", "squadshifts-new_wiki-other-sample.json", [1], 3),
    ("squadshifts-reddit.json", "squadshifts-reddit-sample.json", [0], 6),
]


def cut(source: Path, articles: list[int], n_paragraphs: int) -> dict:
    full = json.loads(source.read_text(encoding="utf-8"))
    data = [
        {"title": full["data"][i]["title"], "paragraphs": full["data"][i]["paragraphs"][:n_paragraphs]}
        for i in articles
    ]
    return {"version": full.get("version", ""), "data": data}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for src, dst, articles, n_par in CUTS:
        sample = cut(SOURCE / src, articles, n_par)
        n_q = sum(len(p["qas"]) for a in sample["data"] for p in a["paragraphs"])
        (OUT / dst).write_text(json.dumps(sample, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"{dst}: {len(sample['data'])} articles, {n_q} questions")


if __name__ == "__main__":
    main()
