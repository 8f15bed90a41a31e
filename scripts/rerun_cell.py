"""Train one cell of a finished ablation grid again, from scratch, and compare its metrics with the grid's.

    QAREPRO_DATA_DIR=/path/to/squad-files python scripts/rerun_cell.py --profile pocket-cpu \\
        --card roberta-base-squad2-distilled --factor train_size --value 500 --seed 42 --arm distilled

The cell is found in the profile's plan (qarepro.pipeline.ablation_plan); it is trained again under
outputs/runs/<profile>/rerun-cell/ (a fresh run: nothing of the grid's run folder is reused; the
teacher and its logit cache are the grid's own, as they are inputs of the cell), scored with the
profile's evaluation settings, and every metric of every dataset is compared with the grid's
committed cell (outputs/<profile>/ablations/<card>/<run>-<decoder>/, the same record 05 reads). Writes outputs/reproducibility/<profile>-cell.json; exits 1
when a metric differs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import io as qio  # noqa: E402
from qarepro import paths, pipeline, provenance  # noqa: E402
from qarepro.config import ConfigError  # noqa: E402
from qarepro.pipeline import cells  # noqa: E402


def parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def find_cell(plan, args) -> dict:
    want = {"card": args.card, "factor": args.factor, "value": parse_value(args.value), "seed": args.seed}
    rows = [r for r in plan if all(r.get(k) == v for k, v in want.items()) and r.get("arm") == args.arm]
    if not rows:
        cells = sorted({(r["card"], r["factor"], str(r["value"]), r["seed"], r.get("arm")) for r in plan})
        raise ConfigError(f"no grid cell {want} arm={args.arm!r} in the plan; cells: "
                          + "; ".join(" ".join(map(str, c)) for c in cells[:12]) + (" …" if len(cells) > 12 else ""))
    return rows[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="pocket-cpu")
    ap.add_argument("--card", default="roberta-base-squad2-distilled")
    ap.add_argument("--factor", default="train_size")
    ap.add_argument("--value", default="500")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--arm", default="distilled", help="distilled or baseline (paired factors); empty for others")
    ap.add_argument("--out", default=None, help="default: outputs/reproducibility/<profile>-cell.json")
    args = ap.parse_args(argv)
    args.arm = args.arm or None

    stage = pipeline.start("05_ablations", args.profile)
    prof = stage.profile
    cell = find_cell(pipeline.ablation_plan(stage), args)
    datasets = pipeline.headline_datasets(prof)
    grid = pipeline.run_cell(stage, cell, datasets, build=False, wait=False)  # the committed cell, as it is
    if grid is None:
        raise SystemExit(f"cell {cell['factor']}={cell['value']} seed {cell['seed']} has no committed record "
                         f"with this identity (run it first: make reproduce PROFILE={prof.name})")
    recorded = [{"dataset": ds, "metrics": grid["summary"]["results"][ds]["metrics"]} for ds in datasets]
    variant = cell.get("teacher_variant") or "finetuned"
    distilled = not all(cell["overrides"].get(k) == v for k, v in pipeline.NO_DISTILLATION.items())
    teacher = cells.ensure_teacher(stage, cell["card"], variant) if distilled else False
    cfg = pipeline.card_config(stage, cell["card"], teacher=teacher, overrides=cell["overrides"])
    h = pipeline.run_identity(pipeline.config_dict(cfg))
    folder = f"rerun-cell/{h}"
    cfg = pipeline.card_config(stage, cell["card"], teacher=teacher, overrides={**cell["overrides"], "overwrite": True},
                               run_name=folder)
    shutil.rmtree(paths.runs() / prof.name / folder, ignore_errors=True)
    model = pipeline.train_or_reuse(cfg)
    out = paths.runs() / prof.name / folder / "eval"
    summary = pipeline.evaluate_or_reuse(stage, f"rerun-cell-{h}", str(model), datasets,
                                         decoder=cell["decoder"], out_dir=out, reuse=False)
    compared = []
    for r in recorded:
        again = summary["results"][r["dataset"]]["metrics"]
        keys = sorted(set(r["metrics"]) | set(again))
        differs = {k: [r["metrics"].get(k), again.get(k)] for k in keys if r["metrics"].get(k) != again.get(k)}
        compared.append({"dataset": r["dataset"], "metrics": len(keys), "identical": not differs, "differs": differs,
                         "f1": again.get("f1")})
    record = {
        "what": "one ablation-grid cell trained again from scratch with the same seed, every metric compared "
                "with the grid's record",
        "profile": prof.name, "cell": {k: cell.get(k) for k in ("card", "factor", "value", "seed", "arm", "decoder")},
        "config_hash": h, "grid_record": paths.portable(grid["eval_dir"]),
        "datasets": compared, "identical": all(c["identical"] for c in compared),
        "train_metrics": {k: pipeline.train_metrics(model).get(k) for k in ("global_step", "seconds", "train_loss")},
        "provenance": provenance.collect(profile=prof.name),
    }
    out_file = Path(args.out) if args.out else paths.outputs() / "reproducibility" / f"{prof.name}-cell.json"
    qio.write_json(out_file, paths.portable(record))
    n = sum(c["metrics"] for c in compared)
    print(f"{'identical' if record['identical'] else 'DIFFERENT'}: {n} metrics over {len(compared)} datasets "
          f"({out_file})")
    return 0 if record["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
