"""Print (and write to outputs/<profile>/gain_table.md) the distillation-gain, paired-gain and
ablation-grid tables of a profile's run.

Every number comes from that profile's 04_evaluate.json and 05_ablations.json, written by the
notebooks; the README's pocket table is this output.
    python scripts/gain_table.py pocket-cpu
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from qarepro import io as qio  # noqa: E402
from qarepro import paths, pipeline, report  # noqa: E402


def main(profile: str) -> int:
    results = paths.results(profile)
    prof = pipeline.load_profile(profile)
    ablations = qio.read_json(results / "05_ablations.json")
    evaluated = paths.resolve(qio.read_json(results / "04_evaluate.json"))
    distilled = {c: paths.resolve(qio.read_json(pipeline.target(profile, "03_distill", c)))
                 for c in prof.cards if pipeline.target(profile, "03_distill", c).is_file()}
    # every card setting that ran: a card without a seed grid in 05 adds its 03 student and that student's twin
    every = pipeline.with_card_runs(ablations.get("runs", []), evaluated["models"], distilled, prof.cards)
    ablations = {**ablations, "runs": every.to_dict(orient="records")}
    table = report.gain_table(evaluated, ablations)
    claims = report.claimed_gains()
    text = (f"F1 per dataset, profile `{profile}` (from outputs/{profile}/03_distill-*.json, 04_evaluate.json and "
            f"05_ablations.json); mean ± sd over seeds (a card setting run at one seed: its one score). The cards "
            "claim their gains on one dataset each: "
            + "; ".join(f"{c} {g['value']:+.1f} F1 on {g['dataset']} ({g['source']})" for c, g in claims.items())
            + (" (not evaluated in this run)" if not any(g["dataset"] in prof.eval_datasets for g in claims.values()) else "")
            + ".\n\n" + report.to_markdown(table))
    primary = prof.primary_dataset
    for factor, records in (ablations.get("paired_gains") or {}).items():
        shown = report.paired_gain_display(pd.DataFrame(records), primary)
        if len(shown):
            text += (f"\n\nThe gain by {report.FACTOR_NAMES.get(factor, factor)} on {primary}, profile `{profile}` "
                     f"(from `paired_gains` in outputs/{profile}/05_ablations.json): both students as mean ± sd "
                     "over seeds, the gain as the mean of the per-seed paired differences (same seed, same data "
                     "order) with its 95% Student-t interval over seeds.\n\n" + report.to_markdown(shown))
    runs = pd.DataFrame(ablations.get("runs") or [])
    for ds in pipeline.headline_datasets(pipeline.load_profile(profile)):
        evidence = report.evidence_markdown(runs, ds, ablations.get("teacher_scores"))
        if evidence:
            text += (f"\n\nThe evidence per cell on {ds}, profile `{profile}` (recomputed from the per-question "
                     f"scores each run of outputs/{profile}/05_ablations.json committed): the paired gain with its "
                     "95% seed t-interval and two-level bootstrap interval (seeds x questions), the pooled "
                     "trend in log2 of the training size, and the teacher factor as one paired difference.\n\n"
                     + "\n\n".join(evidence))
    grid = report.ablation_table(ablations)
    if len(grid):
        text += (f"\n\nAblation grid, profile `{profile}` (from outputs/{profile}/05_ablations.json): F1 averaged "
                 "over the ablation datasets, one factor changed from the card's setting; \"vs card setting\" "
                 "is the difference from the card's own configuration at the same seed.\n\n"
                 + report.to_markdown(grid))
    with qio.atomic_path(results / "gain_table.md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "pocket-cpu"))
