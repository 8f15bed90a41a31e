"""`qarepro verify`: score only the published checkpoints against their cards' claims."""

from __future__ import annotations

import sys
from typing import Any

from .. import io as qio
from .. import paths, provenance, report
from .consistency import check_one_profile
from .layout import PipelineError, results_dir, resolve_model, short_path
from .profile import Profile
from .runner import dataset_problems, say
from .runs import evaluate_or_reuse
from .stage import plain, start

def verify(profile: Profile) -> int:
    """Score the published checkpoints on every dataset their cards name that can be loaded
    (the others are reported "not run"); print and save claims vs reproduced: verify.json in the
    profile's results, verify.html beside its reports."""
    cards = [c for c, p in profile.plans.items() if p.published]
    if not cards:
        print(f"qarepro: profile {profile.name} names no published checkpoint: nothing to verify", file=sys.stderr)
        return 2
    try:
        check_one_profile(profile)
    except PipelineError as err:
        print(f"qarepro verify: {err}", file=sys.stderr)
        return 2
    stage = start("04_evaluate", profile)
    wanted = list(dict.fromkeys(d for c in cards for d in report.load_claims(c).datasets() if d in profile.eval_datasets))
    missing = dataset_problems(profile, wanted)
    for key, why in missing.items():
        say(f"verify: skipping {key} (reported as not run): {why}")
    reproduced: dict[str, Any] = {}
    for card in cards:
        datasets = [d for d in report.load_claims(card).datasets() if d in wanted and d not in missing]
        if not datasets:
            continue
        model = resolve_model(profile.plans[card].published, profile)
        summary = evaluate_or_reuse(stage, f"published-{card}", model, datasets)
        reproduced[card] = {"published": {k: v["metrics"] for k, v in summary["results"].items()}}
    table = report.compare_all(reproduced, tolerance=profile.tolerance, models=["published"], cards=cards)
    counts = report.verdict_counts(table)
    print(report.to_markdown(report.wide_table(table)))
    print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    out = {"stage": "verify", "profile": profile.name, "counts": counts, "skipped": missing,
           "table": table.to_dict(orient="records"),
           "provenance": provenance.collect(profile=profile.to_dict(), datasets=stage.fingerprints)}
    target_ = results_dir(profile.name) / "verify.json"
    qio.write_json(target_, paths.portable(plain(out)))
    fig = report.plot_claimed_vs_reproduced(table, title="Published checkpoints: claimed vs re-scored F1")
    page = report.html_page(f"Published checkpoints vs their claims ({profile.name})",
                            [", ".join(f"{k}: {v}" for k, v in counts.items()),
                             *[f"Not run: {k}: {why}" for k, why in missing.items()], report.wide_table(table), fig, table])
    dest = paths.reports(profile.name) / "verify.html"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with qio.atomic_path(dest) as tmp:
        tmp.write_text(page, encoding="utf-8")
    say(f"verify: {short_path(str(target_))}, {short_path(str(dest))}")
    return 0
