"""Same seed, same metrics? `compare` checks two output folders of a profile for equal records.

Every value of every record (numbers and strings, exactly) is compared, except the keys in
LEFT_OUT: provenance (when, where and at which commit a run ran) and timings (seconds and
speeds), which differ between two clean runs of the same code. Paths in records are portable
(`outputs/...`), so two output roots compare equal. Ablation folders are named by the run's
identity, so a name both folders hold is the same configuration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from .. import io as qio
from .layout import PipelineError

# the keys compare leaves out, wherever they are: provenance, then the timings (stage and step
# times, speed measurements, the teacher cache's seconds, the Trainer's runtime and rates)
LEFT_OUT = ("provenance", "timings", "speed", "seconds", "train_runtime", "train_samples_per_second",
            "train_steps_per_second")


def without_left_out(obj: Any) -> Any:
    """Copy of a record without the LEFT_OUT keys, at any depth; every other value as it is."""
    if isinstance(obj, dict):
        return {k: without_left_out(v) for k, v in obj.items() if k not in LEFT_OUT}
    if isinstance(obj, list):
        return [without_left_out(v) for v in obj]
    return obj


def collect_metrics(outputs_root: str | Path, profile: str) -> dict[str, Any]:
    """Every record of a profile's run (stage JSONs, metrics.json files) without the LEFT_OUT keys."""
    root = Path(outputs_root) / profile
    out = {}
    for f in sorted(root.rglob("*.json")):
        rel = f.relative_to(root)
        if rel.parts[0] in (".staging", "data") or f.name in ("predictions.json", "nbest.json", "na_prob.json"):
            continue
        if f.name == "metrics.json" or rel.parent == Path("."):
            out[str(rel)] = without_left_out(qio.read_json(f))
    return out


def require_results(outputs_root: str | Path, profile: str, records: Mapping[str, Any]) -> None:
    """PipelineError when a folder holds no record of the profile (a typo, a run that never ran)."""
    if not records:
        raise PipelineError(f"{outputs_root} holds no results for profile {profile} "
                            f"(no stage records under {Path(outputs_root) / profile})")


GRID_TABLES = ("05_ablations.json", "06_report.json")  # aggregates over the whole ablation grid


def _is_run_metrics(key: str) -> bool:
    """A model's per-dataset scores (eval/<label>/<dataset>/ or ablations/<card>/<run>-<decoder>/<dataset>/)."""
    parts = Path(key).parts
    return parts[-1] == "metrics.json" and parts[0] in ("eval", "ablations")


def _canonical(obj: Any) -> str:
    """Exact text of a record: 1 and 1.0, true and 1 differ, NaN equals NaN, key order does not count."""
    return json.dumps(obj, sort_keys=True)


def first_difference(x: Any, y: Any, where: str = "") -> str | None:
    """Where two records first differ, and how ('runs[3].f1: 61.2 vs 61.3'); None when they are equal."""
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y), key=str):
            at = f"{where}.{k}" if where else str(k)
            if (k in x) != (k in y):
                return f"{at}: only in {'the first' if k in x else 'the second'}"
            found = first_difference(x[k], y[k], at)
            if found:
                return found
        return None
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return next(filter(None, (first_difference(u, v, f"{where}[{i}]") for i, (u, v) in enumerate(zip(x, y)))), None)
    if _canonical(x) == _canonical(y):
        return None
    show = lambda v: _canonical(v) if len(_canonical(v)) <= 60 else f"{type(v).__name__} of {len(v)}"  # noqa: E731
    return f"{where or '(whole record)'}: {show(x)} vs {show(y)}"


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
    return only + [f"differs: {k} ({record['first_difference'][k]})" for k in record["differs"]]


def rerun_record(a: str | Path, b: str | Path, profile: str, shared_only: bool = False) -> dict[str, Any]:
    """What `compare --out` writes: which metrics files two runs share and whether each is the same,
    with the commit and time of each run (from their 01_data_prep provenance) and the keys left
    out. PipelineError when either folder holds no results for the profile."""
    ma, mb = collect_metrics(a, profile), collect_metrics(b, profile)
    require_results(a, profile, ma)
    require_results(b, profile, mb)
    keep = (lambda key: key not in GRID_TABLES) if shared_only else (lambda key: True)
    common = sorted(k for k in set(ma) & set(mb) if keep(k))

    def origin(root: str | Path) -> dict[str, Any]:
        f = Path(root) / profile / "01_data_prep.json"
        prov = qio.read_json(f).get("provenance", {}) if f.is_file() else {}
        return {"folder": str(root), "git": prov.get("git"), "created_utc": prov.get("created_utc")}

    first = {k: first_difference(ma[k], mb[k]) for k in common}
    differs = [k for k in common if first[k]]
    return {"profile": profile, "shared_only": shared_only, "a": origin(a), "b": origin(b), "left_out": list(LEFT_OUT),
            "compared": len(common), "identical": len(common) - len(differs), "differs": differs,
            "first_difference": {k: first[k] for k in differs},
            "models_compared": sorted({_model_of(k) for k in common if _is_run_metrics(k)}),
            "only_in_a": sorted(k for k in set(ma) - set(mb) if keep(k)),
            "only_in_b": sorted(k for k in set(mb) - set(ma) if keep(k))}
