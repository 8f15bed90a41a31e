"""The evidence a reviewer asks of a paired grid, from its committed per-question scores: per cell
(card setting x factor value) the paired gain with three intervals, the gain's trend in the training
size pooled over sizes, the teacher's facts per cell, and the sentences that answer the question.

A cell's per-question file (written by qarepro.evaluate) sits at <eval_dir>/<dataset>/questions.csv.gz
for each run of the grid; gains are in F1 points (per-question F1 x 100). Intervals:
  seed t     per-seed paired gains (mean over questions), Student t over seeds
  bootstrap  seeds and questions drawn with replacement, crossed (qarepro.stats.two_level_interval)
  trend      gain = level + slope * (log2 size - centre), per-seed points, t and bootstrap
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import paths, stats
from ..evaluate import QUESTION_SCORES, read_question_scores
from .gains import runs_frame
from .tables import to_markdown

SIZE_FACTOR = "train_size"
BOOTSTRAP_SEED = 0  # the bootstrap's generator: the same records give the same intervals


def _rng(*key: Any) -> np.random.Generator:
    """A generator per cell: a cell's interval does not move when other cells are added to the grid."""
    return np.random.default_rng([BOOTSTRAP_SEED, zlib.crc32("|".join(map(str, key)).encode())])
NO_KD = "no distillation"


def _questions(eval_dir: Any, dataset: str) -> pd.Series | None:
    if not isinstance(eval_dir, str) or not eval_dir:
        return None
    f = Path(paths.resolve(eval_dir)) / dataset / QUESTION_SCORES
    if not f.is_file():
        return None
    scores = read_question_scores(f)
    return pd.Series(100.0 * scores["f1"].to_numpy(), index=scores["id"].to_numpy())


def cell_matrices(runs: Any, dataset: str) -> dict[tuple[str, str, Any], dict[str, Any]]:
    """Per (card, factor, value): the seeds, and D [seeds, questions] = distilled F1 - baseline F1 per
    question at the same seed, over the questions both scored (every seed is scored on the same ones)."""
    df = runs_frame(runs)
    if not len(df) or "arm" not in df or "eval_dir" not in df:
        return {}
    df = df[df["arm"].notna() & (df["dataset"] == dataset)]
    out = {}
    for (card, factor, value), g in df.groupby(["card", "factor", "value"], sort=False):
        rows, seeds = [], []
        for seed, gs in g.groupby("seed"):
            d = gs[gs["arm"] == "distilled"]
            b = gs[gs["arm"] == "baseline"]
            if not (len(d) and len(b)):
                continue
            qd, qb = _questions(d["eval_dir"].iloc[0], dataset), _questions(b["eval_dir"].iloc[0], dataset)
            if qd is None or qb is None:
                continue
            common = qd.index.intersection(qb.index)
            rows.append((qd[common] - qb[common]))
            seeds.append(int(seed))
        if not rows:
            continue
        ids = rows[0].index
        for r in rows[1:]:
            ids = ids.intersection(r.index)
        matrix = np.stack([r[ids].to_numpy() for r in rows])
        paired = g[g["seed"].astype(int).isin(seeds)]  # both arms' means over the paired seeds only
        teacher = paired[paired["arm"] == "distilled"]
        out[(card, factor, value)] = {
            "seeds": seeds, "diffs": matrix,
            "distilled": float(teacher.groupby("seed")["f1"].mean().mean()),
            "base": float(paired[paired["arm"] == "baseline"].groupby("seed")["f1"].mean().mean()),
            "teacher_entropy": _mean(teacher, "teacher_entropy"),
            "teacher_train_f1": _mean(teacher, "teacher_train_f1"),
        }
    return out


def _mean(df: pd.DataFrame, col: str) -> float | None:
    if col not in df:
        return None
    v = pd.to_numeric(df[col], errors="coerce").dropna()
    return float(v.mean()) if len(v) else None


def evidence_table(runs: Any, dataset: str) -> pd.DataFrame:
    """One row per card setting and factor value: both students' F1, the paired gain with its seed
    t-interval and its two-level bootstrap interval, and the teacher's facts for that cell."""
    rows = []
    for (card, factor, value), cell in cell_matrices(runs, dataset).items():
        d = cell["diffs"]
        t = stats.seed_t_interval(d.mean(axis=1))
        b = stats.two_level_interval(d, _rng(card, factor, value, dataset))
        rows.append({"card": card, "factor": factor, "value": value, "dataset": dataset,
                     "seeds": len(cell["seeds"]), "questions": d.shape[1],
                     "no distillation F1": cell["base"], "distilled F1": cell["distilled"], "gain": t.estimate,
                     "seed t low": t.low, "seed t high": t.high, "bootstrap low": b.low, "bootstrap high": b.high,
                     "positive seeds": f"{int((d.mean(axis=1) > 0).sum())} of {d.shape[0]}",
                     "teacher target entropy (nats)": cell["teacher_entropy"],
                     "teacher training-set F1": cell["teacher_train_f1"]})
    return pd.DataFrame(rows)


def trend_table(runs: Any, dataset: str) -> pd.DataFrame:
    """Per card: the gain pooled over training sizes, at the centre size and per doubling."""
    by_card: dict[str, dict[int, np.ndarray]] = {}
    for (card, factor, value), cell in cell_matrices(runs, dataset).items():
        if factor == SIZE_FACTOR:
            by_card.setdefault(card, {})[int(value)] = cell["diffs"]
    rows = []
    for card, cells in by_card.items():
        n_q = {c.shape[1] for c in cells.values()}
        if len(cells) < 2 or len(n_q) != 1:
            continue
        tr = stats.pooled_trend(cells, _rng(card, dataset))
        rows.append({"card": card, "dataset": dataset, "sizes": ", ".join(str(n) for n in sorted(cells)),
                     **tr.as_dict()})
    return pd.DataFrame(rows)


def interval(low: Any, high: Any, digits: int = 2) -> str:
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return "–"
    return f"{low:+.{digits}f} to {high:+.{digits}f}"


def evidence_display(table: pd.DataFrame, factor: str | None = None) -> pd.DataFrame:
    """The evidence table as a report shows it: rounded, intervals as text, one factor if given."""
    if not len(table):
        return table
    t = table if factor is None else table[table["factor"] == factor]
    return pd.DataFrame({
        "card setting": t["card"], "factor": t["factor"], "value": t["value"], "seeds": t["seeds"],
        "questions": t["questions"],
        "no distillation F1": t["no distillation F1"].round(2), "distilled F1": t["distilled F1"].round(2),
        "gain (F1 points)": t["gain"].round(2),
        "95% seed t-interval": [interval(a, b) for a, b in zip(t["seed t low"], t["seed t high"])],
        "95% bootstrap (seeds x questions)": [interval(a, b) for a, b in zip(t["bootstrap low"], t["bootstrap high"])],
        "positive seeds": t["positive seeds"],
        "teacher target entropy (nats)": t["teacher target entropy (nats)"].round(3),
        "teacher training-set F1": t["teacher training-set F1"].round(2),
    })


def trend_display(trend: pd.DataFrame) -> pd.DataFrame:
    if not len(trend):
        return trend
    return pd.DataFrame({
        "card setting": trend["card"], "sizes": trend["sizes"],
        "pooled gain at the centre size": trend["level_t_estimate"].round(2),
        "centre size (questions)": trend["centre_size"].round(0).astype(int),
        "95% t": [interval(a, b) for a, b in zip(trend["level_t_low"], trend["level_t_high"])],
        "95% bootstrap": [interval(a, b) for a, b in zip(trend["level_boot_low"], trend["level_boot_high"])],
        "gain per doubling": trend["slope_t_estimate"].round(2),
        "95% t ": [interval(a, b) for a, b in zip(trend["slope_t_low"], trend["slope_t_high"])],
        "95% bootstrap ": [interval(a, b) for a, b in zip(trend["slope_boot_low"], trend["slope_boot_high"])],
    })


def teacher_effect_display(effect: pd.DataFrame) -> pd.DataFrame:
    """`teacher_effect` rounded for a report: the two gains, their paired difference and intervals."""
    return pd.DataFrame({
        "card setting": effect["card"], "teacher": effect["teacher"], "seeds": effect["seeds"],
        "gain, profile's teacher": effect["gain, own teacher"].round(2),
        "gain, this teacher": effect["gain, this teacher"].round(2),
        "difference": effect["difference"].round(2),
        "95% seed t": [interval(a, b) for a, b in zip(effect["seed t low"], effect["seed t high"])],
        "95% bootstrap": [interval(a, b) for a, b in zip(effect["bootstrap low"], effect["bootstrap high"])],
        "entropy (nats), profile's / this": [f"{a:.2f} / {b:.2f}" for a, b in
                                             zip(effect["entropy, own teacher"], effect["entropy, this teacher"])],
        "training-set F1, profile's / this": [f"{a:.1f} / {b:.1f}" for a, b in zip(
            effect["training-set F1, own teacher"], effect["training-set F1, this teacher"])],
        "teacher F1 on this set, profile's / this": [
            "–" if a is None or b is None or pd.isna(a) or pd.isna(b) else f"{a:.1f} / {b:.1f}"
            for a, b in zip(effect["F1 on this set, own teacher"], effect["F1 on this set, this teacher"])],
    })


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _sign(low: Any, high: Any) -> str:
    if low is None or high is None:
        return "one seed: no interval"
    if low > 0:
        return "above zero"
    if high < 0:
        return "below zero"
    return "spans zero"


def answer(table: pd.DataFrame, trend: pd.DataFrame, dataset: str, effect: pd.DataFrame | None = None) -> list[str]:
    """Sentences that answer "does distillation help here, by how much, and does the gain grow with
    data", each with the interval it rests on; and what the teacher factor says (`teacher_effect`)."""
    lines = []
    sizes = table[(table["factor"] == SIZE_FACTOR) & (table["dataset"] == dataset)] if len(table) else table
    for card, g in (sizes.groupby("card", sort=False) if len(sizes) else []):
        g = g.assign(_n=pd.to_numeric(g["value"])).sort_values("_n")
        parts = [f"{int(r['_n']):,} questions: {r['gain']:+.2f} (bootstrap {interval(r['bootstrap low'], r['bootstrap high'])}, "
                 f"{_sign(r['bootstrap low'], r['bootstrap high'])}; {_seeds(r['seeds'])})" for _, r in g.iterrows()]
        lines.append(f"**{card}** on {dataset}: distilled minus no distillation, F1 points, at " + "; ".join(parts) + ".")
        tr = trend[trend["card"] == card] if len(trend) else trend
        if len(tr):
            r = tr.iloc[0]
            lines.append(f"Pooled over sizes, the gain changes by {r['slope_t_estimate']:+.2f} F1 per doubling of the "
                         f"training data (bootstrap {interval(r['slope_boot_low'], r['slope_boot_high'])}, "
                         f"{_sign(r['slope_boot_low'], r['slope_boot_high'])}): "
                         + ("it grows with data." if (r["slope_boot_low"] or 0) > 0 else
                            "it shrinks with data." if (r["slope_boot_high"] or 0) < 0 else
                            "whether it grows with data is not resolved."))
    return lines + teacher_finding(effect if effect is not None else pd.DataFrame())


def _teacher_f1(teachers: Any, card: str, teacher: str, dataset: str) -> float | None:
    """A teacher's own F1 on `dataset` from `pipeline.teacher_scores` records (None when not scored)."""
    for r in teachers or []:
        if (r["card"], str(r["teacher"]), r["dataset"]) == (card, str(teacher), dataset):
            return float(r["f1"])
    return None


def teacher_effect(runs: Any, dataset: str, own: str = "finetuned", teachers: Any = None) -> pd.DataFrame:
    """Per card, the teacher factor read as one paired difference: the gain with each other teacher
    minus the gain with the profile's own (`own`), over the seeds and questions both cells scored.
    The baseline is the same model in both cells, so the difference is per question the F1 of the
    student distilled from the other teacher minus that of the one distilled from the own teacher;
    it has a seed t-interval and the same two-level bootstrap as a cell's gain. `teachers`: the
    teachers' own scores (`pipeline.teacher_scores`), shown beside their students'."""
    cells = {k: c for k, c in cell_matrices(runs, dataset).items() if k[1] == "teacher"}
    rows = []
    for (card, _, value), other in cells.items():
        mine = cells.get((card, "teacher", own))
        if value == own or mine is None:
            continue
        seeds = [s for s in other["seeds"] if s in mine["seeds"]]
        if not seeds:
            continue
        a = other["diffs"][[other["seeds"].index(s) for s in seeds]]
        b = mine["diffs"][[mine["seeds"].index(s) for s in seeds]]
        if a.shape != b.shape:  # both cells are scored on the same questions; a partial record is not read
            continue
        diff = a - b
        t = stats.seed_t_interval(diff.mean(axis=1))
        boot = stats.two_level_interval(diff, _rng(card, "teacher", own, value, dataset))
        rows.append({"card": card, "dataset": dataset, "teacher": value, "own teacher": own, "seeds": len(seeds),
                     "questions": diff.shape[1], "gain, own teacher": float(b.mean()), "gain, this teacher": float(a.mean()),
                     "difference": t.estimate, "seed t low": t.low, "seed t high": t.high,
                     "bootstrap low": boot.low, "bootstrap high": boot.high,
                     "entropy, own teacher": mine["teacher_entropy"], "entropy, this teacher": other["teacher_entropy"],
                     "training-set F1, own teacher": mine["teacher_train_f1"],
                     "training-set F1, this teacher": other["teacher_train_f1"],
                     "F1 on this set, own teacher": _teacher_f1(teachers, card, own, dataset),
                     "F1 on this set, this teacher": _teacher_f1(teachers, card, value, dataset)})
    return pd.DataFrame(rows)


def _set_f1(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f", F1 {value:.1f} on this set"


# Target entropies closer than this are read as equal: 2% of the 5.26 nats of a uniform distribution
# over a 192-token window, below which the two teachers' soft targets hardly differ in softness.
ENTROPY_TIE = 0.1


def teacher_finding(effect: pd.DataFrame) -> list[str]:
    """What the teacher factor says about why the gain fell. The soft-target hypothesis says a
    teacher with sharper targets (lower entropy at the temperature used) gives a smaller gain; the
    other reading of the factor is teacher strength (the teachers' own F1 on the set). A resolved
    difference of the two teachers' gains is read against both; an unresolved one says the teacher
    does not explain the change, which leaves undertraining (what the student recipe changed)."""
    lines = []
    for _, r in effect.iterrows() if len(effect) else []:
        low, high = r["bootstrap low"], r["bootstrap high"]
        if low > 0 or high < 0:
            other_wins = low > 0
            win, lose = ("this", "own") if other_wins else ("own", "this")
            name = {"this": f"the {r['teacher']} teacher", "own": "the profile's teacher"}
            e_win, e_lose = r[f"entropy, {win} teacher"] or 0, r[f"entropy, {lose} teacher"] or 0
            if abs(e_win - e_lose) < ENTROPY_TIE:
                soft = (f"the soft-target hypothesis cannot tell them apart (target entropies {e_win:.2f} and "
                        f"{e_lose:.2f} nats, within {ENTROPY_TIE} of each other)")
            elif e_win > e_lose:
                soft = "this supports the soft-target hypothesis: the teacher with the softer targets gives the larger gain"
            else:
                soft = "this contradicts the soft-target hypothesis: the teacher with the sharper targets gives the larger gain"
            f_win, f_lose = r.get(f"F1 on this set, {win} teacher"), r.get(f"F1 on this set, {lose} teacher")
            strength = ("" if f_win is None or f_lose is None or pd.isna(f_win) or pd.isna(f_lose) else
                        f"; it is also the {'stronger' if f_win > f_lose else 'weaker'} teacher on this set "
                        f"(F1 {f_win:.1f} against {f_lose:.1f})")
            verdict = (f"{name[win]} gives the larger gain (the interval of the difference excludes zero); "
                       f"{soft}{strength}")
        else:
            verdict = ("the two teachers' gains are not resolved apart (the interval of the difference spans zero): "
                       "the teacher does not explain the change, which supports neither hypothesis on its own")
        lines.append(f"Teacher factor, **{r['card']}** ({_seeds(r['seeds'])}): gain {r['gain, own teacher']:+.2f} with "
                     f"the profile's teacher (training-set F1 {r['training-set F1, own teacher']:.1f}"
                     f"{_set_f1(r.get('F1 on this set, own teacher'))}, target entropy "
                     f"{r['entropy, own teacher']:.2f} nats) against {r['gain, this teacher']:+.2f} with the "
                     f"{r['teacher']} teacher (training-set F1 {r['training-set F1, this teacher']:.1f}"
                     f"{_set_f1(r.get('F1 on this set, this teacher'))}, entropy "
                     f"{r['entropy, this teacher']:.2f} nats): difference {r['difference']:+.2f} F1 (paired bootstrap "
                     f"{interval(low, high)}, seed t {interval(r['seed t low'], r['seed t high'])}). {verdict[0].upper()}"
                     f"{verdict[1:]}.")
    return lines


def show_evidence(runs: Any, datasets: list[str], teachers: Any = None) -> dict[str, pd.DataFrame]:
    """The evidence section of 05 and 06: per headline dataset the answer, the per-cell table and
    the pooled trend. Returns the tables (for the stage JSON)."""
    from IPython.display import Markdown, display  # deferred: notebooks only

    from .tables import display_table  # deferred with IPython: the section is for notebooks

    out = {}
    for ds in datasets:
        table, trend = evidence_table(runs, ds), trend_table(runs, ds)
        effect = teacher_effect(runs, ds, teachers=teachers)
        out[ds] = table
        if not len(table):
            display(Markdown(f"*{ds}*: no per-question records for this run's paired cells (the run predates them, "
                             "or no paired cell has finished)."))
            continue
        display(Markdown("\n\n".join(answer(table, trend, ds, effect))))
        display(display_table(evidence_display(table)))
        if len(trend):
            display(display_table(trend_display(trend)))
        if len(effect):
            display(display_table(teacher_effect_display(effect)))
    return out


def evidence_answer(runs: Any, dataset: str, teachers: Any = None) -> list[str]:
    """`answer` computed from a run's records: what the headline of 05 and 06 leads with."""
    table = evidence_table(runs, dataset) if len(runs_frame(runs)) else pd.DataFrame()
    if not len(table):
        return []
    return answer(table, trend_table(runs, dataset), dataset, teacher_effect(runs, dataset, teachers=teachers))


def evidence_markdown(runs: Any, dataset: str, teachers: Any = None) -> list[str]:
    """The evidence section as markdown paragraphs (scripts/gain_table.py, grid_cells.py --status):
    the answer, the per-cell table, the pooled trend and the teacher effect; [] without records."""
    table = evidence_table(runs, dataset) if len(runs) else pd.DataFrame()
    if not len(table):
        return []
    trend, effect = trend_table(runs, dataset), teacher_effect(runs, dataset, teachers=teachers)
    return [*answer(table, trend, dataset, effect), to_markdown(evidence_display(table)),
            *([to_markdown(trend_display(trend))] if len(trend) else []),
            *([to_markdown(teacher_effect_display(effect))] if len(effect) else [])]


def evidence_record(tables: Mapping[str, pd.DataFrame], runs: Any, teachers: Any = None) -> dict[str, Any]:
    """The evidence tables, trends and teacher effects as plain data for a stage JSON."""
    return {ds: {"cells": t.to_dict(orient="records"), "trend": trend_table(runs, ds).to_dict(orient="records"),
                 "teacher_effect": teacher_effect(runs, ds, teachers=teachers).to_dict(orient="records")}
            for ds, t in tables.items()}
