"""Write outputs/bench/hub_rehearsal.json from a rehearsal of the hub path (scripts/rehearse_hub.sh).

It records what a reader needs to trust the rehearsal: which stages finished, where each dataset
came from (hub repo, revision, resolved commit) and which were not run (with the reason), what
`verify` scored and skipped, and every request the
loopback hub served (grouped by repo, revision and file, with counts). No absolute path is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

from qarepro import hub, provenance
from qarepro import io as qio
from qarepro.pipeline import STAGES


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", required=True)
    p.add_argument("--outputs", required=True, help="the QAREPRO_OUTPUTS folder of the rehearsal")
    p.add_argument("--requests", required=True, help="the loopback hub's record (python -m tests.loopback_hub)")
    p.add_argument("--status", type=int, required=True)
    p.add_argument("--preflight-seconds", type=int, default=None, help="qarepro preflight --download, run first")
    p.add_argument("--reproduce-seconds", type=int, required=True)
    p.add_argument("--total-seconds", type=int, required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)

    results = Path(args.outputs) / args.profile
    stages = {s: (results / f"{s}.json").is_file() for s in STAGES}
    verify = _read(results / "verify.json")
    prep = _read(results / "01_data_prep.json") or {}
    datasets = {k: {"source": v.get("source"), **({"hub": v["hub"]} if "hub" in v else {}),
                    "questions": v.get("questions")}
                for k, v in (prep.get("datasets") or {}).items()}
    not_run = dict(prep.get("not_run") or {})
    record = _read(Path(args.requests)) or {"served": {"requests": 0, "by_file": []}, "repos": {}}
    by_repo: dict[str, dict] = defaultdict(lambda: {"requests": 0, "revisions": set(), "files": defaultdict(int),
                                                    "statuses": defaultdict(int)})
    for row in record["served"]["by_file"]:
        key = f"{row['kind']}:{row['repo']}" if row["repo"] else f"other:{row['endpoint']}"
        entry = by_repo[key]
        entry["requests"] += row["count"]
        if row["revision"]:
            entry["revisions"].add(row["revision"])
        if row["file"]:
            entry["files"][f"{row['endpoint']} {row['file']}"] += row["count"]
        entry["statuses"][str(row["status"])] += row["count"]
    served = {k: {"requests": v["requests"], "revisions": sorted(v["revisions"]), "statuses": dict(v["statuses"]),
                  "files": dict(sorted(v["files"].items())),
                  "evidence": record["repos"].get(k, {}).get("evidence")}
              for k, v in sorted(by_repo.items())}
    out = {
        "what": "qarepro preflight --download, make reproduce PROFILE=rehearsal and make verify PROFILE=rehearsal "
                "against the loopback hub (scripts/rehearse_hub.sh): a fresh HF cache, no local data folder, "
                "HF_ENDPOINT on 127.0.0.1",
        "profile": args.profile,
        "exit_status": args.status,
        "seconds": {"preflight_download": args.preflight_seconds, "reproduce": args.reproduce_seconds,
                    "reproduce_and_verify": args.total_seconds},
        "preflight_download": "outputs/bench/preflight_download_rehearsal.txt (.json): every dataset and model "
                              "fetched into the fresh cache and loaded before make reproduce",
        "stages_completed": stages,
        "verify": {"completed": verify is not None, "counts": (verify or {}).get("counts"),
                   "skipped": dict(sorted(((verify or {}).get("skipped") or {}).items()))},
        "datasets": datasets,
        "dataset_sources": {"hub": sorted(k for k, d in datasets.items() if "hub" in d),
                            "local": sorted(k for k, d in datasets.items() if "hub" not in d),
                            "not_run": not_run},
        "xet": {"loopback_answers_as_the_hub": bool(record.get("xet")),
                "HF_HUB_DISABLE_XET": os.environ.get("HF_HUB_DISABLE_XET", "1 (set by qarepro.hub)"),
                "why": hub.XET_REASON},
        "hub_requests": record["served"]["requests"],
        "served": served,
        "provenance": {"git": provenance.git_commit(), "packages": provenance.package_versions()},
    }
    for name in ("huggingface_hub", "papermill"):
        import importlib.metadata

        out["provenance"]["packages"][name] = importlib.metadata.version(name)
    qio.write_json(args.out, out)
    done = sum(stages.values())
    print(f"[rehearsal] {done} of {len(stages)} stages, verify {'done' if verify else 'not done'}, "
          f"{len(out['dataset_sources']['hub'])} datasets from the hub, {len(out['dataset_sources']['local'])} local, "
          f"{len(not_run)} not run ({', '.join(not_run) or 'none'}), "
          f"{out['hub_requests']} hub requests, {args.total_seconds} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
