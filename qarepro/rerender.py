"""Re-render the reports of a finished run from its records, without training or scoring again.

    qarepro rerender --profile pocket-cpu 01_data_prep 02_teachers 03_distill 04_evaluate 05_ablations 06_report

Stages 01–05 run their notebook with `rerender=True`: each step takes what it would compute
from the stage's own JSON (`outputs/<profile>/<stage>.json`; 03 once per card), so no model,
dataset or prediction has to be on disk, and every table and figure is computed from the records
by the same library functions a run uses (a figure that needs what is not in the records, such
as a loss curve or a threshold sweep, is left out and the report says why). The stage's metrics
stay as they are: a re-render that would change a recorded metric stops with an error; only the
keys a report derives from them (`DERIVED`: 04's claims table, 05's gain summaries) are written
back, so that every JSON of a run holds the verdicts its reports show. The re-render is recorded
beside the stage's JSON in `outputs/<profile>/rerender/<stage>.json`: when and at which commit,
how long it took, the SHA-256 of the record it re-rendered, and which keys it rewrote.

`06_report` reads only the records of 03–05, so it simply runs again (its JSON is rewritten).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from . import io as qio
from . import paths, pipeline
from .config import ConfigError
from .report import render_notebook

FROM_RECORDS = ("01_data_prep", "02_teachers", "03_distill", "04_evaluate", "05_ablations")  # a `rerender` parameter
RERUN = ("06_report",)                # notebooks that only read records: run again as they are
STAGES = FROM_RECORDS + RERUN

# keys a report derives from a stage's metrics: rewritten by a re-render (the metrics themselves never are)
# what `finish` writes about the stage itself, not its results: a re-render does not compare them
STAGE_KEYS = {"provenance", "stage", "profile", "card", "purpose", "label", "profile_fingerprint"}
DERIVED = {"04_evaluate": ("claims",), "05_ablations": ("gains", "gain_summary", "paired_gains", "evidence")}


def record_path(profile: str, stage: str) -> Path:
    return pipeline.results_dir(profile) / "rerender" / f"{stage}.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rerender(stage: str, profile: pipeline.Profile) -> Path:
    """Re-render one stage's reports from its records (03: every card's); returns the re-render
    record (01–05) or the stage's JSON (06)."""
    if stage in RERUN:
        return pipeline.run_stage(stage, profile)
    if stage not in FROM_RECORDS:
        raise pipeline.PipelineError(f"{stage} cannot be re-rendered from its records (only {', '.join(STAGES)})")
    t0 = time.perf_counter()
    cards = profile.cards if stage in pipeline.PER_CARD_STAGES else [None]
    done = [_rerender_one(stage, profile, card) for card in cards]
    out = {"stage": stage, "profile": profile.name, "parts": done, "rerender_s": round(time.perf_counter() - t0, 3),
           "provenance": done[-1].pop("provenance", None)}
    for d in done:
        d.pop("provenance", None)
    if len(done) == 1:
        out = {**out, **done[0]}
        del out["parts"]
    dest = qio.write_json(record_path(profile.name, stage), paths.portable(out))
    pipeline.say(f"{profile.name}: {stage} re-rendered from its records in {out['rerender_s']:.0f} s "
                 f"(rewrote {', '.join(k for d in done for k in d['rewrote']) or 'no key'}) -> "
                 f"{paths.portable_text(str(dest))}")
    return dest


def _rerender_one(stage: str, profile: pipeline.Profile, card: str | None) -> dict:
    import papermill as pm  # deferred: papermill (with nbclient) is slow to import; only re-rendering needs it
    name = stage + (f"-{card}" if card else "")
    tgt = pipeline.target(profile.name, stage, card)
    if not tgt.is_file():
        raise pipeline.PipelineError(f"{paths.portable_text(str(tgt))} is missing: nothing to re-render "
                                     f"(run the stage first: make reproduce PROFILE={profile.name})")
    recorded = qio.read_json(tgt)
    sha = _sha256(tgt)
    executed = paths.executed(profile.name) / f"{name}.ipynb"
    staging = pipeline.results_dir(profile.name) / ".staging" / f"{name}.rerender.json"
    staging.unlink(missing_ok=True)
    executed.parent.mkdir(parents=True, exist_ok=True)
    tmp_nb = executed.with_name(f".{name}.rerender.ipynb")
    pipeline.kernel_environment()
    old = os.environ.get(pipeline.STAGE_OUTPUT_ENV)
    os.environ[pipeline.STAGE_OUTPUT_ENV] = str(staging)
    params = {"profile": profile.name, "rerender": True, **({"card": card} if card else {})}
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(pipeline.notebook_path(stage)), str(tmp_nb), parameters=params, kernel_name="python3",
                            progress_bar=False, cwd=str(paths.NOTEBOOKS))
        new = qio.read_json(staging)
        os.replace(tmp_nb, executed)
        render_notebook(executed, paths.reports(profile.name), name)
    except pm.PapermillExecutionError as err:
        raise pipeline.PipelineError(f"re-rendering {name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}") from None
    finally:
        tmp_nb.unlink(missing_ok=True)
        staging.unlink(missing_ok=True)
        if old is None:
            os.environ.pop(pipeline.STAGE_OUTPUT_ENV, None)
        else:
            os.environ[pipeline.STAGE_OUTPUT_ENV] = old
    if _sha256(tgt) != sha:
        raise pipeline.PipelineError(f"{tgt} changed while it was re-rendered")
    derived = DERIVED.get(stage, ())
    new = paths.portable(new)
    changed = sorted(k for k in set(new) | set(recorded)
                     if k not in STAGE_KEYS and new.get(k) != recorded.get(k))
    metrics_changed = [k for k in changed if k not in derived]
    if metrics_changed:
        raise pipeline.PipelineError(f"re-rendering {name} would change recorded values ({', '.join(metrics_changed)}): "
                                     f"rerun the stage instead (qarepro run {stage} --profile {profile.name} --force)")
    rewrote = [k for k in changed if k in derived]
    if rewrote:
        qio.write_json(tgt, {**recorded, **{k: new[k] for k in rewrote}})
    prov = recorded.get("provenance", {})
    return {
        "card": card, "rerender_of": str(tgt), "record_sha256": sha,
        "record": {"created_utc": prov.get("created_utc"), "commit": (prov.get("git") or {}).get("commit"),
                   "stage_s": (prov.get("timings") or {}).get("stage_s")},
        "same_runs": new.get("runs") == recorded.get("runs"), "rewrote": rewrote,
        "rerender_s": round(time.perf_counter() - t0, 3), "provenance": new.get("provenance"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="qarepro rerender", description=__doc__.splitlines()[0])
    # no `choices` here: argparse would check the list default against them and always fail
    p.add_argument("stages", nargs="*", metavar="STAGE", help=f"one of {', '.join(STAGES)} (default: all)")
    p.add_argument("--profile", required=True)
    args = p.parse_args(argv)
    unknown = [s for s in args.stages if s not in STAGES]
    if unknown:
        p.error(f"cannot re-render {', '.join(unknown)} (choose from {', '.join(STAGES)})")
    pipeline.go_offline()  # re-rendering reads local records only
    try:
        profile = pipeline.load_profile(args.profile)
        pipeline.ensure_kernel()
        for stage in args.stages or STAGES:
            rerender(stage, profile)
    except (pipeline.PipelineError, ConfigError) as err:
        print(f"qarepro: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
