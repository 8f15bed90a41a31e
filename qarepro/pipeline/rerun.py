"""Same seed, same metrics? `compare` checks two output folders of a profile for equal metric values.

Only numbers under metric-like keys are compared: timings, provenance, paths and speeds differ
between two clean runs of the same code. Ablation folders are named by the run's identity, so a
name both folders hold is the same configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .. import io as qio
from ..provenance import strip_volatile

def collect_metrics(outputs_root: str | Path, profile: str) -> dict[str, Any]:
    """Every metrics JSON of a profile's run, without volatile parts (timings, provenance, paths)."""
    root = Path(outputs_root) / profile
    out = {}
    for f in sorted(root.rglob("*.json")):
        rel = f.relative_to(root)
        if rel.parts[0] in (".staging", "data") or f.name in ("predictions.json", "nbest.json", "na_prob.json"):
            continue
        if f.name == "metrics.json" or rel.parent == Path("."):
            out[str(rel)] = _metric_values(strip_volatile(qio.read_json(f)))
    return out


def _metric_values(obj: Any) -> Any:
    """Only numbers under metric-like keys: paths and speeds differ between two clean runs."""
    keys = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1",
            "total", "gain", "claimed", "reproduced", "delta", "verdict", "base_f1", "distilled_f1", "train_loss",
            "global_step", "questions", "answerable", "unanswerable", "fingerprint")
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in keys and not isinstance(v, (dict, list)):
                out[k] = round(v, 6) if isinstance(v, float) else v
            elif isinstance(v, (dict, list)) and k not in ("speed", "run_dir", "timings"):
                sub = _metric_values(v)
                if sub not in ({}, []):
                    out[k] = sub
        return out
    if isinstance(obj, list):
        return [x for x in (_metric_values(v) for v in obj) if x not in ({}, [])]
    return obj


GRID_TABLES = ("05_ablations.json", "06_report.json")  # aggregates over the whole ablation grid


def _is_run_metrics(key: str) -> bool:
    """A model's per-dataset scores (eval/<label>/<dataset>/ or ablations/<card>/<run>-<decoder>/<dataset>/)."""
    parts = Path(key).parts
    return parts[-1] == "metrics.json" and parts[0] in ("eval", "ablations")


def _model_of(key: str) -> str:
    """eval/<label> or ablations/<card>/<run>-<decoder>: the model a metrics file scores."""
    parts = Path(key).parts
    return "/".join(parts[:2] if parts[0] == "eval" else parts[:3])


def compare_runs(a: str | Path, b: str | Path, profile: str, shared_only: bool = False) -> list[str]:
    """Differences between two output folders' metric values ([] when they agree).

    shared_only: compare only what both folders hold, leaving out the tables over the whole grid
    (05_ablations, 06_report), so that two runs of grids of different sizes can be checked on the
    stages and runs they share (ablation folders are named by the run's config hash, so a shared
    name is the same configuration)."""
    return diff_lines(rerun_record(a, b, profile, shared_only=shared_only))


def diff_lines(record: Mapping[str, Any]) -> list[str]:
    """A rerun_record as compare's lines: what only one folder holds (unless shared_only), what differs."""
    a, b = record["a"]["folder"], record["b"]["folder"]
    only = [] if record["shared_only"] else ([f"only in {a}: {k}" for k in record["only_in_a"]]
                                            + [f"only in {b}: {k}" for k in record["only_in_b"]])
    return only + [f"differs: {k}" for k in record["differs"]]


def rerun_record(a: str | Path, b: str | Path, profile: str, shared_only: bool = False) -> dict[str, Any]:
    """What `compare --out` writes: which metrics files two runs share and whether each is the same,
    with the commit and time of each run (from their 01_data_prep provenance)."""
    ma, mb = collect_metrics(a, profile), collect_metrics(b, profile)
    keep = (lambda key: key not in GRID_TABLES) if shared_only else (lambda key: True)
    common = sorted(k for k in set(ma) & set(mb) if keep(k))

    def origin(root: str | Path) -> dict[str, Any]:
        f = Path(root) / profile / "01_data_prep.json"
        prov = qio.read_json(f).get("provenance", {}) if f.is_file() else {}
        return {"folder": str(root), "git": prov.get("git"), "created_utc": prov.get("created_utc")}

    differs = [k for k in common if ma[k] != mb[k]]
    return {"profile": profile, "shared_only": shared_only, "a": origin(a), "b": origin(b),
            "compared": len(common), "identical": len(common) - len(differs), "differs": differs,
            "models_compared": sorted({_model_of(k) for k in common if _is_run_metrics(k)}),
            "only_in_a": sorted(k for k in set(ma) - set(mb) if keep(k)),
            "only_in_b": sorted(k for k in set(mb) - set(ma) if keep(k))}
