"""Run cells of a profile's ablation grid in a second process, beside `make reproduce`.

    python scripts/grid_cells.py --profile pocket-cpu [--reverse] [--only-factor train_size]

05_ablations trains and scores the grid's cells one after another; on a 2-core machine with a
one-thread profile the other core idles. This worker walks the same plan (from its end with
--reverse, so that the two meet in the middle; cheapest cells first, largest with --reverse) and builds every cell that is neither committed
with the same identity nor being built by another process (each cell is built under a lock), so
05_ablations later finds it done. It waits for 02_teachers (the teachers) before it starts.
Each finished cell is whole on disk (cell.json is written last), so the worker can be stopped at
any time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import pipeline  # noqa: E402
from qarepro.pipeline import steps  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", required=True)
    ap.add_argument("--reverse", action="store_true", help="walk the plan from its end")
    ap.add_argument("--only-factor", nargs="*", default=None, help="only the cells of these factors")
    ap.add_argument("--baselines", action="store_true",
                    help="only the rows without distillation: they need no teacher, so the worker starts "
                         "without waiting for 02_teachers (the other core can build the teachers meanwhile)")
    ap.add_argument("--poll", type=float, default=30.0, help="seconds between looks for 02_teachers")
    ap.add_argument("--status", action="store_true",
                    help="build nothing: list the cells done and left, and the evidence of the paired cells done "
                         "(outputs/<profile>/grid_status.md)")
    args = ap.parse_args(argv)
    prof = pipeline.load_profile(args.profile)
    teachers = pipeline.target(prof.name, "02_teachers")
    while not (args.baselines or args.status) and not teachers.is_file():
        print(f"waiting for {pipeline.short_path(str(teachers))} ...", flush=True)
        time.sleep(args.poll)
    stage = pipeline.start("05_ablations", prof)
    datasets = prof.ablation.datasets or [prof.primary_dataset]
    plan = pipeline.ablation_plan(stage)
    if args.only_factor:
        plan = [r for r in plan if r["factor"] in args.only_factor]
    if args.baselines:
        plan = [r for r in plan if steps.is_baseline(r)]
    if args.status:
        return status(stage, plan, datasets)
    # cheapest first (fewest training questions, then seed), so a partial grid has whole sizes
    size = {r["card"]: pipeline.config_dict(pipeline.card_config(stage, r["card"])).get("max_train_examples")
            for r in plan}
    plan.sort(key=lambda r: (int(r["overrides"].get("max_train_examples") or size[r["card"]] or 0), r["seed"]),
              reverse=args.reverse)
    built = reused = skipped = 0
    for i, row in enumerate(plan, 1):
        t0 = time.time()
        cell = steps.run_cell(stage, row, datasets, wait=False)
        what = f"{row['card']} {row['factor']}={row['value']} seed {row['seed']} {row.get('arm') or ''}".strip()
        if cell is None:
            skipped += 1
            print(f"[{i}/{len(plan)}] {what}: being built by another process", flush=True)
        elif cell["reused"]:
            reused += 1
        else:
            built += 1
            f1 = {ds: round(cell["summary"]["results"][ds]["metrics"]["f1"], 2) for ds in datasets}
            print(f"[{i}/{len(plan)}] {what}: built in {time.time() - t0:.0f} s, F1 {f1}", flush=True)
    print(f"done: {built} built, {reused} already there, {skipped} left to the other process")
    return 0


def status(stage, plan, datasets) -> int:
    """Which cells of the plan are committed, and what the finished paired cells say."""
    import pandas as pd  # deferred: only the status table needs it

    from qarepro import io as qio
    from qarepro import report

    rows, left = [], []
    for row in plan:
        cell = steps.run_cell(stage, row, datasets, build=False, wait=False)
        if cell is None:
            left.append(row)
            continue
        for ds in datasets:
            m = cell["summary"]["results"][ds]["metrics"]
            rows.append({**{k: row.get(k) for k in ("card", "factor", "value", "seed", "arm")}, "dataset": ds,
                         "f1": m["f1"], "eval_dir": cell["eval_dir"], **cell["teacher_facts"]})
    runs = pd.DataFrame(rows)
    done = len(plan) - len(left)
    todo = pd.DataFrame([{k: r.get(k) for k in ("card", "factor", "value", "seed", "arm")} for r in left])
    text = [f"# Grid status, profile `{stage.profile.name}`", "",
            f"{done} of {len(plan)} planned rows have a committed cell (a cell can serve several rows).", ""]
    if len(todo):
        counts = todo.groupby(["factor", "value"], sort=False).size().reset_index(name="rows left")
        text += ["Rows left, by factor value:", "", report.to_markdown(counts), ""]
    teachers = pipeline.teacher_scores(stage, score=False)  # the teachers' own scores, where recorded
    for ds in datasets:
        evidence = report.evidence_markdown(runs, ds, teachers)
        if evidence:
            text += [f"## {ds}", ""] + [line for part in evidence for line in (part, "")]
    out = stage.results / "grid_status.md"
    with qio.atomic_path(out) as tmp:
        tmp.write_text("\n".join(text), encoding="utf-8")
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
