"""Tables for reports and the README: wide and display forms, plans, runs, threshold curves."""

from __future__ import annotations

import math
import statistics
from typing import Any, Mapping, Sequence

import pandas as pd

from .. import metrics as qm
from ..paths import portable_html
from .gains import runs_frame
from .labels import GAIN_NOT_SHOWN, GAIN_REVERSED, GAIN_SHOWN, NOT_COMPARABLE, NOT_RUN, OUTSIDE, WITHIN

NA = "–"   # a cell with no value: a quantity the data cannot have, or one not recorded


# Column names as a reader reads them, with units (display_table renames with this)
COLUMN_NAMES = {
    "exact": "EM (%)", "f1": "F1 (%)", "HasAns_f1": "HasAns F1 (%)", "NoAns_f1": "NoAns F1 (%)",
    "HasAns_exact": "HasAns EM (%)", "NoAns_exact": "NoAns EM (%)", "total": "questions",
    "samples_per_s": "questions/s", "latency_ms": "latency (ms)", "n_parameters": "parameters",
    "n_questions": "questions timed", "n_features": "windows", "batch_size": "batch size",
    "rows (features)": "rows (windows)", "seconds": "time (s)", "fine-tuned here": "fine-tuned here",
}


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
    scientific notation), lists joined, mappings as key=value, None as "–"."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return NA
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
    """A Styler that shows every row (no "…"), values through `cell_text`, no index, and the
    columns under their reader's names (`COLUMN_NAMES`)."""
    out = readable(df)
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
    return join_cards(pd.DataFrame(rows))  # cards that plan the same rows of a factor share one line


def plan_table(plan: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Every row of the plan, the overrides written as key=value; rows two cards plan alike share one
    line, their card names joined (each card trains it with its own T and w)."""
    df = pd.DataFrame(list(plan))
    if "overrides" in df:
        df["overrides"] = df["overrides"].map(lambda o: cell_text(o))
    return join_cards(df)


def join_cards(df: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    """Rows equal in every column but `card` as one row, the card names joined after `prefix` (a plan
    row or a run two cards share, e.g. the no-distillation baseline; cards with the same counts)."""
    if "card" not in df or not len(df):
        return df
    rest = [c for c in df.columns if c != "card"]
    key = df[rest].apply(lambda col: col.map(repr)).agg("|".join, axis=1)  # repr: missing values too

    def names(cards: pd.Series) -> str:
        unique = list(dict.fromkeys(cards))
        return unique[0] if len(unique) == 1 else prefix + ", ".join(unique)

    cards = df.groupby(key, sort=False)["card"].agg(names)
    return df.assign(card=key.map(cards)).drop_duplicates(subset=["card", *rest]).reset_index(drop=True)


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
    if len(rows) == 1:
        return pd.DataFrame(rows)  # one card: a total row would repeat it
    rows = join_cards(pd.DataFrame(rows), prefix="each of ").to_dict("records")  # cards with the same counts
    rows.append({"card": "both (shared runs counted once)",
                 "grid rows": len(df.drop_duplicates(["card", "factor", "value", "seed", "decoder", "arm"])),
                 "trained configurations": df["run"].nunique() if "run" in df else "",
                 "evaluations": len(df.drop_duplicates(["run", "decoder"])) if "run" in df else "",
                 "datasets": df["dataset"].nunique() if "dataset" in df else ""})
    return pd.DataFrame(rows)


def runs_table(runs: Any) -> pd.DataFrame:
    """Every run and dataset (for the full notebook): the columns a reader needs, no dicts; a run two
    cards share (the baseline) once, with both card names."""
    df = runs_frame(runs)
    return join_cards(df[[c for c in RUN_COLUMNS if c in df]])


def facts_display(facts: pd.DataFrame) -> pd.DataFrame:
    """`compare_facts` with its values written as a reader expects (learning rates as 3.0e-05)."""
    out = facts.copy()
    for col in ("claimed", "used"):
        if col in out:
            out[col] = out[col].map(lambda v: f"{v:.1e}" if isinstance(v, float) and 0 < abs(v) < 0.01 else cell_text(v))
    return merge_cards(out)


def merge_cards(df: pd.DataFrame) -> pd.DataFrame:
    """Rows equal in every column but "card" as one row naming every card (a fact both cards share once)."""
    if "card" not in df or not len(df):
        return df
    others = [c for c in df.columns if c != "card"]
    key = df[others].astype(str).agg("\x1f".join, axis=1)
    cards = df.groupby(key, sort=False)["card"].agg(lambda v: ", ".join(dict.fromkeys(v)))
    first = df.assign(_k=key).drop_duplicates("_k")
    return first.assign(card=first["_k"].map(cards)).drop(columns="_k").reset_index(drop=True)


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


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with its columns under their reader's names (`COLUMN_NAMES`) and no index."""
    return df.rename(columns=lambda c: COLUMN_NAMES.get(c, c)).reset_index(drop=True)


def short_dataset(ds: str) -> str:
    return ds.replace("squad_adversarial-", "adv-").replace("-validation", "")


def _has_noans(metrics: Mapping[str, Any]) -> bool:
    return bool(metrics.get("NoAns_total"))


def distinct_models(evaluated: Mapping[str, Any]) -> list[dict[str, Any]]:
    """04's evaluated models, one entry per model (a teacher two cards share is one model): its
    role, the cards it serves, its labels and metrics."""
    out: dict[str, dict[str, Any]] = {}
    for label, m in evaluated.items():
        key = str(m.get("model", label))
        e = out.setdefault(key, {"model": key, "role": m.get("role"), "cards": [], "labels": [],
                                 "n_parameters": m.get("n_parameters"), "metrics": m.get("metrics", {})})
        e["cards"].append(m.get("card"))
        e["labels"].append(label)
    return list(out.values())


def model_name(entry: Mapping[str, Any]) -> str:
    cards = ", ".join(c.split("-squad2")[0] for c in entry["cards"] if c)
    return f"{entry['role']} ({cards})" if cards else str(entry["role"])


def models_table(evaluated: Mapping[str, Any], metric: str = "f1") -> pd.DataFrame:
    """One row per model: its role and cards, parameters, and `metric` (%) on every dataset."""
    rows = []
    for e in distinct_models(evaluated):
        row = {"model": model_name(e), "parameters": f"{e['n_parameters']:,}" if e["n_parameters"] else NA}
        for ds, met in e["metrics"].items():
            row[f"{COLUMN_NAMES[metric]} {short_dataset(ds)}"] = met.get(metric)
        rows.append(row)
    return pd.DataFrame(rows)


def metrics_detail(evaluated: Mapping[str, Any], keys: Sequence[str] = ("exact", "f1", "HasAns_f1", "NoAns_f1")):
    """One row per model and dataset (the full notebook): EM, F1, HasAns and NoAns F1 ("–" on a set
    without unanswerable questions), questions."""
    rows = []
    for e in distinct_models(evaluated):
        for ds, met in e["metrics"].items():
            rows.append({"model": model_name(e), "dataset": ds,
                         **{k: (met.get(k) if not k.startswith("NoAns") or _has_noans(met) else NA) for k in keys},
                         "total": met.get("total")})
    return pd.DataFrame(rows)


def teacher_rows(teachers: Mapping[str, Any]) -> pd.DataFrame:
    """02's teachers, one row per teacher and dataset (a teacher two cards share once)."""
    seen: dict[str, dict[str, Any]] = {}
    for card, t in teachers.items():
        seen.setdefault(str(t["teacher"]), {"t": t, "cards": []})["cards"].append(card)
    rows = []
    for teacher, e in seen.items():
        for ds, m in e["t"]["metrics"].items():
            rows.append({"teacher": teacher, "cards": ", ".join(e["cards"]), "fine-tuned here": e["t"]["finetuned"],
                         "dataset": ds, "exact": m.get("exact"), "f1": m.get("f1"), "HasAns_f1": m.get("HasAns_f1"),
                         "NoAns_f1": m.get("NoAns_f1") if _has_noans(m) else NA, "total": m.get("total")})
    return pd.DataFrame(rows)


TRAINING_NAMES = {
    "train_runtime": "training time (s)", "train_samples_per_second": "training windows/s",
    "train_steps_per_second": "optimizer steps/s", "total_flos": "FLOPs (Trainer's count)",
    "train_loss": "mean training loss", "epoch": "epochs", "global_step": "optimizer steps",
    "seconds": "wall time (s)", "features": "training windows", "examples": "training questions",
    "processes": "processes", "per_device_batch_size": "batch per device",
    "gradient_accumulation_steps": "gradient accumulation steps", "precision": "precision", "tf32": "TF32",
    "learnable_logit_divisor": "learnable logit divisor", "logit_divisor": "logit divisor (learned)",
    "teacher_cache": "teacher-logit cache", "resumed_from": "resumed from",
}


def training_table(train: Mapping[str, Any]) -> pd.DataFrame:
    """03's training record as rows a reader can use: named with units; a FLOP count of 0 (the
    loop does not count them) and nested records (labels, provenance) left out."""
    rows = []
    for k, v in train.items():
        if isinstance(v, Mapping) or (k == "total_flos" and not v):
            continue
        rows.append({"training": TRAINING_NAMES.get(k, k.replace("_", " ")), "value": NA if v is None else v})
    return pd.DataFrame(rows)


def _spread(values: Sequence[float], digits: int = 2) -> str:
    values = sorted(float(v) for v in values if v is not None)
    if not values:
        return NA
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f} (one timing)"
    return f"{med:.{digits}f} ({values[0]:.{digits}f}–{values[-1]:.{digits}f}, {len(values)} timings)"


def timings(speed: Sequence[Mapping[str, Any]], evaluated: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{model: {role, cards, rates, latencies}}: every timing of each model (a model timed under two
    labels, or with repeats, pooled)."""
    by_label = {label: str(m.get("model", label)) for label, m in evaluated.items()}
    out: dict[str, dict[str, Any]] = {}
    for r in speed:
        key = by_label.get(r["model"], r["model"])
        e = out.setdefault(key, {"role": r.get("role"), "cards": [], "rates": [], "latencies": [],
                                 "n_parameters": r.get("n_parameters")})
        e["cards"].append(r.get("card"))
        # the same timing listed under a second label; a record that went through a data frame
        # holds NaN, not None, where there is no such label
        if isinstance(r.get("same_timing_as"), str) and r["same_timing_as"]:
            continue
        e["rates"] += _present(r.get("samples_per_s_runs"), r.get("samples_per_s"))
        e["latencies"] += _present(r.get("latency_ms_runs"), r.get("latency_ms"))
    return out


def _present(runs: Any, single: Any) -> list[float]:
    """The timings of a record: its repeats, else its one value; missing values (None, NaN) dropped."""
    values = list(runs) if isinstance(runs, (list, tuple)) and len(runs) else [single]
    return [float(v) for v in values if isinstance(v, (int, float)) and not math.isnan(v)]


def speed_display(speed: Sequence[Mapping[str, Any]], evaluated: Mapping[str, Any]) -> pd.DataFrame:
    """One row per model: questions/s (batched) and latency (ms, batch 1) as the median with the
    range over every timing of that model."""
    rows = []
    for e in timings(speed, evaluated).values():
        rows.append({"model": model_name(e), "parameters": f"{e['n_parameters']:,}" if e["n_parameters"] else NA,
                     "questions/s, median (range, timings)": _spread(e["rates"]),
                     "latency (ms), median (range, timings)": _spread([x for x in e["latencies"] if x is not None])})
    return pd.DataFrame(rows)


def speed_comparison(speed: Sequence[Mapping[str, Any]], evaluated: Mapping[str, Any]) -> str:
    """Markdown: each student against its teacher in questions/s, a ratio only where the two
    ranges of timings do not overlap; otherwise it says why there is none."""
    t = timings(speed, evaluated)
    teachers = {c: e for e in t.values() if e["role"] == "teacher" for c in e["cards"]}
    lines = []
    for e in t.values():
        if e["role"] == "teacher":
            continue
        teacher = teachers.get(e["cards"][0])
        if not teacher or not e["rates"] or not teacher["rates"]:
            continue
        name, ratio = model_name(e), statistics.median(e["rates"]) / statistics.median(teacher["rates"])
        lo, hi, tlo, thi = min(e["rates"]), max(e["rates"]), min(teacher["rates"]), max(teacher["rates"])
        if len(e["rates"]) < 2 or len(teacher["rates"]) < 2:
            lines.append(f"- {name} vs its teacher: {ratio:.1f}x the questions/s, from "
                         f"{len(e['rates'])} and {len(teacher['rates'])} timing(s): too few to compare (no range).")
        elif lo > thi or hi < tlo:
            lines.append(f"- {name}: {ratio:.1f}x its teacher's questions/s (medians; the ranges do not overlap).")
        else:
            lines.append(f"- {name} vs its teacher: the ranges of questions/s overlap ({lo:.1f}–{hi:.1f} vs "
                         f"{tlo:.1f}–{thi:.1f}): no speed difference shown.")
    return "\n".join(lines)


def speed_frame(speed: Sequence[Mapping[str, Any]], evaluated: Mapping[str, Any]) -> pd.DataFrame:
    """One row per model for `plot_speed`: medians over its timings, and the range where several."""
    rows = []
    for e in timings(speed, evaluated).values():
        row: dict[str, Any] = {"model": model_name(e)}
        for col, values in (("samples_per_s", e["rates"]), ("latency_ms", [x for x in e["latencies"] if x is not None])):
            row[col] = statistics.median(values) if values else float("nan")
            if len(values) > 1:
                row[f"{col}_low"], row[f"{col}_high"] = min(values), max(values)
        rows.append(row)
    return pd.DataFrame(rows)
