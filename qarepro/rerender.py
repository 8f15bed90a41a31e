"""Re-render the reports of a finished run from its records, without training or scoring again.

    qarepro rerender --profile pocket-cpu 05_ablations 06_report   # or python -m qarepro.rerender

`05_ablations` runs its notebook with `rerender=True`: the run records come from the stage's own
JSON (`outputs/<profile>/05_ablations.json`), so no model has to be on disk, and every table and
figure of the report is computed from them by the same library functions a run uses. The stage's
JSON is left as it is (its stage times stay those of the run that trained the grid); the
re-render is recorded beside it in `outputs/<profile>/rerender/05_ablations.json`: when and at
which commit, how long it took, the SHA-256 of the record it re-rendered, and whether the runs
and gains it recomputed equal the recorded ones.

`06_report` reads only the records of 03–05, so it simply runs again (its JSON is rewritten).
Stages 01–04 need their models and cannot be re-rendered this way.
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

FROM_RECORDS = ("05_ablations",)      # notebooks with a `rerender` parameter
RERUN = ("06_report",)                # notebooks that only read records: run again as they are
STAGES = FROM_RECORDS + RERUN


def record_path(profile: str, stage: str) -> Path:
    return pipeline.results_dir(profile) / "rerender" / f"{stage}.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rerender(stage: str, profile: pipeline.Profile) -> Path:
    """Re-render one stage's reports from its records; returns the re-render record (05) or the
    stage's JSON (06)."""
    if stage in RERUN:
        return pipeline.run_stage(stage, profile)
    if stage not in FROM_RECORDS:
        raise pipeline.PipelineError(f"{stage} cannot be re-rendered from its records (only {', '.join(STAGES)})")
    import papermill as pm  # deferred: papermill (with nbclient) is slow to import; only 05 needs it
    tgt = pipeline.target(profile.name, stage)
    if not tgt.is_file():
        raise pipeline.PipelineError(f"{paths.portable_text(str(tgt))} is missing: nothing to re-render "
                                     f"(run the stage first: make reproduce PROFILE={profile.name})")
    recorded = qio.read_json(tgt)
    sha = _sha256(tgt)
    executed = paths.executed(profile.name) / f"{stage}.ipynb"
    staging = pipeline.results_dir(profile.name) / ".staging" / f"{stage}.rerender.json"
    staging.unlink(missing_ok=True)
    executed.parent.mkdir(parents=True, exist_ok=True)
    tmp_nb = executed.with_name(f".{stage}.rerender.ipynb")
    pipeline.kernel_environment()
    old = os.environ.get(pipeline.STAGE_OUTPUT_ENV)
    os.environ[pipeline.STAGE_OUTPUT_ENV] = str(staging)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(pipeline.notebook_path(stage)), str(tmp_nb),
                            parameters={"profile": profile.name, "rerender": True}, kernel_name="python3",
                            progress_bar=False, cwd=str(paths.NOTEBOOKS))
        new = qio.read_json(staging)
        os.replace(tmp_nb, executed)
        render_notebook(executed, paths.reports(profile.name), stage)
    except pm.PapermillExecutionError as err:
        raise pipeline.PipelineError(f"re-rendering {stage} failed in cell {err.exec_count}: {err.ename}: {err.evalue}") from None
    finally:
        tmp_nb.unlink(missing_ok=True)
        staging.unlink(missing_ok=True)
        if old is None:
            os.environ.pop(pipeline.STAGE_OUTPUT_ENV, None)
        else:
            os.environ[pipeline.STAGE_OUTPUT_ENV] = old
    if _sha256(tgt) != sha:
        raise pipeline.PipelineError(f"{tgt} changed while it was re-rendered")
    prov = recorded.get("provenance", {})
    out = {
        "stage": stage, "profile": profile.name,
        "rerender_of": str(tgt), "record_sha256": sha,
        "record": {"created_utc": prov.get("created_utc"), "commit": (prov.get("git") or {}).get("commit"),
                   "stage_s": (prov.get("timings") or {}).get("stage_s")},
        "same_runs": new.get("runs") == recorded.get("runs"),
        "same_gains": new.get("gains") == recorded.get("gains"),
        "rerender_s": round(time.perf_counter() - t0, 3),
        "provenance": new.get("provenance"),
    }
    dest = qio.write_json(record_path(profile.name, stage), paths.portable(out))
    pipeline.say(f"{profile.name}: {stage} re-rendered from its records in {out['rerender_s']:.0f} s "
                  f"(runs {'equal' if out['same_runs'] else 'DIFFER'}, gains {'equal' if out['same_gains'] else 'DIFFER'}) "
                  f"-> {paths.portable_text(str(dest))}")
    return dest


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
