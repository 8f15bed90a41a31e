"""Tables for reports and the README: wide and display forms, plans, runs, threshold curves."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from .. import metrics as qm
from ..paths import portable_html
from .gains import runs_frame
from .labels import GAIN_NOT_SHOWN, GAIN_REVERSED, GAIN_SHOWN, NOT_COMPARABLE, NOT_RUN, OUTSIDE, WITHIN


def wide_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """One row per claimed number, one column per reproduced model: "value (delta) verdict"."""
    keys = ["card", "claim", "dataset", "metric", "claimed"]
    if not len(table):
        return pd.DataFrame(columns=keys)
    models = list(dict.fromkeys(table["model"]))
    rows: dict[tuple, dict[str, Any]] = {}
    for r in table.itertuples(index=False):
        key = (r.card, r.claim, r.dataset, r.metric, r.claimed)
        row = rows.setdefault(key, dict(zip(keys, key)))
        if r.verdict == NOT_RUN:
            row[r.model] = NOT_RUN
        elif r.verdict == NOT_COMPARABLE:
            row[r.model] = f"{r.reproduced:.{digits}f} · {NOT_COMPARABLE}"
        elif r.verdict in (GAIN_SHOWN, GAIN_NOT_SHOWN, GAIN_REVERSED):
            on = getattr(r, "measured_on", "") or ""
            interval = str(getattr(r, "interval", "") or "").strip("()")
            interval = f"95% interval {interval}" if interval and interval != "one seed" else interval
            row[r.model] = f"{r.reproduced:+.{digits}f} ({interval}) on {on}: {r.verdict}" if interval \
                else f"{r.reproduced:+.{digits}f} on {on}: {r.verdict}"
        else:
            row[r.model] = f"{r.reproduced:.{digits}f} ({r.delta:+.{digits}f}) {r.verdict}"
    out = pd.DataFrame(list(rows.values()))
    for m in models:
        if m not in out:
            out[m] = ""
    out["claimed"] = out["claimed"].map(lambda v: f"{v:.{digits}f}")
    return out[keys + models].fillna("")


def style_wide(wide: pd.DataFrame):
    """Styler for `wide_table`: cells coloured by their verdict."""
    def colour(v: Any) -> str:
        v = str(v)
        if v.endswith(WITHIN) or v.endswith(GAIN_SHOWN):
            return "background-color: #d4edda"
        if v.endswith(OUTSIDE) or v.endswith(GAIN_REVERSED):
            return "background-color: #f8d7da"
        if v.endswith(GAIN_NOT_SHOWN):
            return "background-color: #fff3cd"
        if v == NOT_RUN or v.endswith(NOT_COMPARABLE):
            return "color: #888888"
        return ""

    models = [c for c in wide.columns if c not in ("card", "claim", "dataset", "metric", "claimed")]
    return wide.style.map(colour, subset=models).hide(axis="index")


def format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Rounded copy for display (None shown as an empty cell)."""
    out = table.copy()
    def fmt(v: Any, col: str) -> Any:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return f"{v:+.{digits}f}" if col == "delta" else f"{v:.{digits}f}"
        return v

    for col in ("claimed", "reproduced", "delta", "tolerance"):
        if col in out:
            out[col] = out[col].map(lambda v, col=col: fmt(v, col))
    return out


def to_markdown(table: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    t = format_table(table, digits)
    head = "| " + " | ".join(map(str, t.columns)) + " |"
    sep = "|" + "|".join("---" for _ in t.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in t.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def style_verdicts(table: pd.DataFrame, digits: int = 2):
    """A pandas Styler colouring the verdict column (for notebooks)."""
    colours = {WITHIN: "background-color: #d4edda", OUTSIDE: "background-color: #f8d7da",
               NOT_RUN: "background-color: #eeeeee", NOT_COMPARABLE: "color: #888888",
               GAIN_SHOWN: "background-color: #d4edda", GAIN_NOT_SHOWN: "background-color: #fff3cd",
               GAIN_REVERSED: "background-color: #f8d7da"}
    fmt = {c: (lambda v, c=c: "" if v is None or (isinstance(v, float) and math.isnan(v))
               else (f"{v:+.{digits}f}" if c == "delta" else f"{v:.{digits}f}"))
           for c in ("claimed", "reproduced", "delta", "tolerance") if c in table}
    styler = table.style.format(fmt)
    if "verdict" in table:
        styler = styler.map(lambda v: colours.get(v, ""), subset=["verdict"])
    return styler.hide(axis="index")


def cell_text(v: Any, digits: int = 2) -> Any:
    """A value as a reader should see it in a table cell: numbers rounded (small ones in
    scientific notation), lists joined, mappings as key=value, None empty."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v != 0 and abs(v) < 10 ** -digits:
            return f"{v:.1e}"
        return f"{v:.{digits}f}"
    if isinstance(v, Mapping):
        return ", ".join(f"{k}={cell_text(x, digits)}" for k, x in v.items()) or "(none)"
    if isinstance(v, (list, tuple)):
        return " × ".join(str(cell_text(x, digits)) for x in v) if all(isinstance(x, int) for x in v) and v \
            else ", ".join(str(cell_text(x, digits)) for x in v)
    if hasattr(v, "item"):
        with __import__("contextlib").suppress(Exception):
            return cell_text(v.item(), digits)
    return portable_html(str(v)) if isinstance(v, str) else str(v)


def display_table(df: pd.DataFrame, digits: int = 2, *, colour_verdicts: bool = True):
    """A Styler that shows every row (no "…"), values through `cell_text`, no index."""
    out = df.copy()
    for col in out.columns:
        out[col] = out[col].map(lambda v: cell_text(v, digits)).astype(object)
    styler = out.style.hide(axis="index")
    if colour_verdicts and "verdict" in out:
        colours = {WITHIN: "background-color: #d4edda", OUTSIDE: "background-color: #f8d7da",
                   NOT_RUN: "color: #888888", NOT_COMPARABLE: "color: #888888",
                   GAIN_SHOWN: "background-color: #d4edda", GAIN_NOT_SHOWN: "background-color: #fff3cd",
                   GAIN_REVERSED: "background-color: #f8d7da"}
        styler = styler.map(lambda v: colours.get(v, ""), subset=["verdict"])
    return styler


def plan_summary(plan: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The ablation plan in a few rows: per card and factor, the values and seeds it runs."""
    df = pd.DataFrame(list(plan))
    if not len(df):
        return pd.DataFrame(columns=["card", "factor", "values", "seeds", "rows"])
    names = {"seed": "seed (card setting)", "baseline_seed": "seed (no distillation)"}
    if "arm" not in df:
        df["arm"] = None
    rows = []
    for (card, factor, arm), g in df.groupby(["card", "factor", "arm"], sort=False, dropna=False):
        name = names.get(factor, factor) if arm is None or pd.isna(arm) else f"{factor} ({arm})"
        rows.append({"card": card, "factor": name,
                     "values": ", ".join(str(cell_text(v)) for v in dict.fromkeys(g["value"])),
                     "seeds": ", ".join(str(s) for s in dict.fromkeys(g["seed"])), "rows": len(g)})
    return pd.DataFrame(rows)


def plan_table(plan: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Every row of the plan, the overrides written as key=value."""
    df = pd.DataFrame(list(plan))
    if "overrides" in df:
        df["overrides"] = df["overrides"].map(lambda o: cell_text(o))
    return df


RUN_COLUMNS = ["card", "factor", "value", "arm", "seed", "decoder", "run", "dataset", "exact", "f1", "HasAns_f1"]


def runs_summary(runs: Any) -> pd.DataFrame:
    """What 05 ran, in one row per card: grid rows, distinct trainings, evaluations, datasets."""
    df = runs_frame(runs)
    if not len(df):
        return pd.DataFrame(columns=["card", "grid rows", "trained configurations", "evaluations", "datasets"])
    rows = []
    for card, g in df.groupby("card", sort=False):
        rows.append({"card": card, "grid rows": len(g.drop_duplicates(["factor", "value", "seed", "decoder", "arm"])),
                     "trained configurations": g["run"].nunique() if "run" in g else "",
                     "evaluations": len(g.drop_duplicates(["run", "decoder"])) if "run" in g else "",
                     "datasets": g["dataset"].nunique() if "dataset" in g else ""})
    rows.append({"card": "both (shared runs counted once)",
                 "grid rows": len(df.drop_duplicates(["card", "factor", "value", "seed", "decoder", "arm"])),
                 "trained configurations": df["run"].nunique() if "run" in df else "",
                 "evaluations": len(df.drop_duplicates(["run", "decoder"])) if "run" in df else "",
                 "datasets": df["dataset"].nunique() if "dataset" in df else ""})
    return pd.DataFrame(rows)


def runs_table(runs: Any) -> pd.DataFrame:
    """Every run and dataset (for the full notebook): the columns a reader needs, no dicts."""
    df = runs_frame(runs)
    return df[[c for c in RUN_COLUMNS if c in df]]


def facts_display(facts: pd.DataFrame) -> pd.DataFrame:
    """`compare_facts` with its values written as a reader expects (learning rates as 3.0e-05)."""
    out = facts.copy()
    for col in ("claimed", "used"):
        if col in out:
            out[col] = out[col].map(lambda v: f"{v:.1e}" if isinstance(v, float) and 0 < abs(v) < 0.01 else cell_text(v))
    return out


def recorded_runs(record: Mapping[str, Any]) -> pd.DataFrame:
    """The run records of a finished 05_ablations (its JSON), as `run_ablations` returns them."""
    runs = pd.DataFrame(record.get("runs", []))
    if not len(runs):
        raise ValueError("the 05_ablations record holds no runs: nothing to re-render")
    return runs


def teacher_scores(evaluated: Mapping[str, Any]) -> dict[str, Any]:
    """{dataset: metrics} of the (first) teacher among 04's evaluated models."""
    for m in (evaluated.get("models", evaluated) or {}).values():
        if isinstance(m, Mapping) and m.get("role") == "teacher":
            return dict(m.get("metrics", {}))
    return {}


def best_spans(nbest: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, str]:
    """Each question's best non-empty answer in an nbest file (the null entry has no char_start)."""
    out = {}
    for qid, entries in nbest.items():
        for e in entries:
            if e.get("char_start") is not None and e.get("text"):
                out[qid] = e["text"]
                break
    return out


def threshold_curve(gold: Mapping[str, Any], predictions: Mapping[str, str],
                    na_probs: Mapping[str, float], nbest: Mapping[str, Sequence[Mapping]] | None = None) -> pd.DataFrame:
    """EM and F1 (percent) as the no-answer threshold moves over every na_prob value.

    At threshold t a question is answered "" when na_prob > t (the official script's rule) and
    otherwise with its best span: from `nbest` when given (so that the whole range can be swept
    whatever the decoder decided), else the prediction. The first row (t just below the smallest
    na_prob) answers nothing. `gold` is the official SQuAD JSON dict (qarepro.data.to_squad_json).
    """
    dataset = gold["data"] if "data" in gold else gold
    answers = dict(predictions)
    if nbest is not None:
        answers.update(best_spans(nbest))
    exact_raw, f1_raw = qm.get_raw_scores(dataset, answers)
    has_ans = qm.make_qid_to_has_ans(dataset)
    qids = list(has_ans)
    n = max(len(qids), 1)
    probs = {q: float(na_probs.get(q, 0.0)) for q in qids}
    # Every question answered "": only the unanswerable ones score.
    cur_em = cur_f1 = float(sum(1 for q in qids if not has_ans[q]))
    rows = [{"threshold": min(probs.values(), default=0.0) - 1e-6, "exact": 100 * cur_em / n, "f1": 100 * cur_f1 / n}]
    for q in sorted(qids, key=lambda q: probs[q]):
        # past probs[q], q is answered with its span instead of ""
        empty = 0.0 if has_ans[q] else 1.0
        if answers.get(q, ""):
            cur_em += exact_raw.get(q, 0.0) - empty
            cur_f1 += f1_raw.get(q, 0.0) - empty
        rows.append({"threshold": probs[q], "exact": 100 * cur_em / n, "f1": 100 * cur_f1 / n})
    df = pd.DataFrame(rows)
    return df.groupby("threshold", as_index=False).last()
