"""Every card setting that ran, as run records of the gain: a card whose setting 05 did not train
over its seed grid still has its own student from 03, scored in 04, and 05 may hold that
student's exact twin without distillation (same configuration, teacher off). The pair is a
gain at one seed; `with_card_runs` adds it to 05's run records, so that every report, table
and JSON built from the records shows every card setting that ran.
"""

from __future__ import annotations

import contextlib
from typing import Any, Mapping, Sequence

import pandas as pd

from .layout import PipelineError
from .runs import K_SEED, NO_DISTILLATION, run_identity

SEED, BASELINE = "seed", "baseline_seed"   # 05's factors: the card's setting and the baseline at each seed


def card_setting_rows(runs: pd.DataFrame, card: str, distilled: Mapping[str, Any],
                      evaluated: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows for `card` from its 03 student (`distilled`: the 03_distill record) scored in 04
    (`evaluated`: 04's models), paired with the 05 run that is the same configuration without
    distillation, on the datasets both were scored on; [] where 05 holds no such twin."""
    cfg = distilled.get("config") or {}
    twin = run_identity({**cfg, **NO_DISTILLATION})
    base = runs[(runs["run"] == twin) & runs["is_base"].astype(bool)] if len(runs) and "run" in runs else runs.iloc[0:0]
    student = next((m for m in evaluated.values() if m.get("card") == card and m.get("role") == "distilled"), None)
    if student is None or not len(base):
        return []
    seed = cfg.get(K_SEED)
    rows = []
    for ds, b in base.drop_duplicates("dataset").set_index("dataset").iterrows():
        m = (student.get("metrics") or {}).get(ds)
        if m is None:
            continue
        common = {"card": card, "value": seed, "seed": seed, "arm": None, "decoder": b.get("decoder"),
                  "dataset": ds, "source": "03_distill + 05 baseline"}
        rows.append({**common, "factor": SEED, "center": True, "run": distilled.get("config_hash"),
                     "exact": m.get("exact"), "f1": m.get("f1"), "HasAns_f1": m.get("HasAns_f1"),
                     "NoAns_f1": m.get("NoAns_f1"), "is_base": False, "metrics": m,
                     "run_dir": distilled.get("run_dir")})
        rows.append({**common, "factor": BASELINE, "center": False, "run": twin,
                     **{k: b.get(k) for k in ("exact", "f1", "HasAns_f1", "NoAns_f1", "metrics", "run_dir")},
                     "is_base": True})
    return rows


def with_card_runs(runs: Any, evaluated: Mapping[str, Any], distilled: Mapping[str, Mapping[str, Any]],
                   cards: Sequence[str]) -> pd.DataFrame:
    """05's run records plus, for each card of `cards` with no seed-grid rows in them, its 03
    student against its no-distillation twin (`card_setting_rows`). `distilled`: {card: 03 record}."""
    df = pd.DataFrame(list(runs) if not isinstance(runs, pd.DataFrame) else runs)
    if not len(df):
        return df
    have = set(df.loc[df["factor"] == SEED, "card"]) if "factor" in df else set()
    extra = [r for card in cards if card not in have and card in distilled
             for r in card_setting_rows(df, card, distilled[card], evaluated)]
    return pd.concat([df, pd.DataFrame(extra)], ignore_index=True) if extra else df


def add_card_runs(stage: Any, runs: Any) -> pd.DataFrame:
    """`with_card_runs` for a stage of a run (05 or 06): 03's and 04's records of its profile."""
    cards = stage.profile.cards
    distilled = {}
    for c in cards:
        with contextlib.suppress(PipelineError):  # a card without a 03 record adds nothing
            distilled[c] = stage.previous("03_distill", c)
    return with_card_runs(runs, stage.previous("04_evaluate")["models"], distilled, cards)
