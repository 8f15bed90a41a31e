"""Report sections the notebooks share (05 and 06 both show them): shown with IPython's display."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .comparison import CONTEXT_NOTE, split_claims
from .figures import (plot_ablations, plot_claimed_vs_reproduced, plot_gain_by, plot_hasans_noans, plot_speed,
                      plot_threshold_curves, plot_training_curves)
from .gains import FACTOR_NAMES, claimed_gains, paired_factors, paired_gain_display, paired_gain_summary
from .labels import INTERVAL_NAME
from .tables import (display_table, metrics_detail, models_table, speed_comparison, speed_display,
                     speed_frame, style_wide, to_markdown, wide_table)

PAIRED_TEXT = {
    "train_size": ("## The gain as training data grows\n\n"
                   "The card's setting and the same student without distillation, both trained on the first N "
                   "training questions, at every seed (one fixed teacher). *Gain*: mean over seeds of the paired "
                   "difference (same seed, same data), F1 points; *per-seed gains* lists each seed's; the interval is "
                   f"the {INTERVAL_NAME} (wide with few seeds). The cards' own gains (+1.3 / +3.2 F1 on SQuAD 2.0 dev) "
                   "come from ~130k training questions and the cards' models: a different regime, marked for scale."),
    "correct_bias": ("## Does the gain survive a standard optimiser?\n\n"
                     "The cards trained their students with AdamW without bias correction (*off*). The same pair of "
                     "runs with bias correction *on* (torch's AdamW): does distillation still help when the "
                     "baseline is trained with the standard optimiser?"),
}


def paired_gains(runs: Any) -> dict[str, pd.DataFrame]:
    """{paired factor: its `paired_gain_summary`} for every paired factor the runs hold."""
    return {f: paired_gain_summary(runs, f) for f in paired_factors(runs)}


def _say(text: str) -> None:
    from IPython.display import Markdown, display  # deferred: only a notebook displays

    display(Markdown(text))


def _show(obj: Any) -> None:
    from IPython.display import display  # deferred: only a notebook displays

    display(obj)


def show_claims(table: pd.DataFrame, purpose: str | None, *, figures: tuple[Any, Any] | None = None,
                title: Any = None, context: bool = True) -> None:
    """The claims section of a report, from the run's one verdict table (`claims_table`): for a
    pocket run the claimed gains against the gains measured here, and the cards' absolute numbers
    once as labelled context (`context`); for a reproduction every row, and the claimed-vs-reproduced
    charts (F1 and EM, saved to `figures`). `title(text)` names a chart (Stage.title)."""
    compared, ctx = split_claims(table, purpose)
    if purpose == "pocket" and not len(compared):
        _say("A pocket run's models are not the cards' models: their claims are tested as gains (distilled minus "
             "the same student without distillation), in 05 and 06, not against these absolute scores.")
    elif len(compared):
        _show(style_wide(wide_table(compared)))
    if len(ctx) and context:
        _say(CONTEXT_NOTE)
        _show(display_table(ctx))
    if purpose != "pocket" and figures:
        name = title or (lambda t: t)
        for metric, path in zip(("f1", "exact"), figures):
            if path is not None:
                plot_claimed_vs_reproduced(table, metric=metric, path=path,
                                           title=name(f"Claimed vs reproduced {'F1' if metric == 'f1' else 'EM'}"))


def claims_markdown(table: pd.DataFrame, purpose: str | None) -> str:
    """The markdown of the claims section (claims_vs_reproduced.md): the same rows and verdicts."""
    compared, ctx = split_claims(table, purpose)
    text = to_markdown(compared)
    if len(ctx):
        text += "\n" + CONTEXT_NOTE + "\n\n" + to_markdown(ctx)
    return text


def show_models(evaluated: Any) -> None:
    """04's scores: one row per model (F1 on every dataset), and every metric in the full notebook."""
    _show(display_table(models_table(evaluated)))


def show_metrics_detail(evaluated: Any) -> None:
    _show(display_table(metrics_detail(evaluated)))


def show_hasans_noans(evaluated: Any, dataset: str, *, path: Any = None, title: str | None = None) -> None:
    """HasAns / NoAns F1 on `dataset`, or why there is no figure (a set without unanswerable questions)."""
    fig = plot_hasans_noans({label: m["metrics"][dataset] for label, m in evaluated.items()
                             if dataset in m.get("metrics", {})}, path=path, title=title)
    if fig is None:
        _say(f"No HasAns / NoAns figure: {dataset} has no unanswerable questions, so NoAns cannot be measured "
             "and F1 on all questions is HasAns F1.")


def show_threshold_curves(curves: Any, evaluated: Any, dataset: str, *, path: Any = None,
                          title: str | None = None) -> None:
    """F1 against the no-answer threshold on `dataset`, or why there is none."""
    noans = any((m.get("metrics", {}).get(dataset) or {}).get("NoAns_total") for m in evaluated.values())
    fig = plot_threshold_curves(curves, path=path, title=title) if noans else None
    if fig is None:
        why = (f"{dataset} has no unanswerable questions: the no-answer threshold only turns right answers into "
               "wrong ones there" if not noans else "no model's predictions and no-answer probabilities are on disk "
               "(a re-rendered report: predictions are not kept with the results)")
        _say(f"No threshold figure: {why}.")


def show_speed(speed: Any, evaluated: Any, *, path: Any = None, title: str | None = None) -> None:
    """One row per model (median and range of its timings), the figure, and each student against its
    teacher only where the ranges do not overlap."""
    _show(display_table(speed_display(speed, evaluated)))
    plot_speed(speed_frame(speed, evaluated), path=path, **({"title": title} if title else {}))
    text = speed_comparison(speed, evaluated)
    if text:
        _say(text)


def show_ablations(runs: Any, *, path: Any = None, title: str | None = None) -> None:
    fig = plot_ablations(runs, path=path, **({"title": title} if title else {}))
    if fig is None:
        _say("No one-factor figure: this profile's grid varies no factor one at a time (temperature, weight, loss, "
             "decoder); its factors are crossed with the seeds and shown above.")


def show_training(logs: Any, *, path: Any = None, title: str | None = None) -> None:
    fig = plot_training_curves(logs, path=path, **({"title": title} if title else {}))
    if fig is None:
        _say("No loss curve: the training log is not on disk (a re-rendered report: runs are not kept with the "
             "results); the training record above is.")


def show_paired_gains(runs: Any, dataset: str, figure: str | Path | None = None,
                      title: str | None = None) -> dict[str, pd.DataFrame]:
    """Display each paired factor's section (text, table on `dataset`, and for the training-set size
    the gain-vs-size figure saved to `figure`); returns the summaries."""
    out = paired_gains(runs)
    for factor, summary in out.items():
        _say(PAIRED_TEXT.get(factor, f"## The gain at each value of {FACTOR_NAMES.get(factor, factor)}"))
        _show(display_table(paired_gain_display(summary, dataset=dataset)))
        if factor == "train_size":
            plot_gain_by(summary, dataset=dataset, claimed=claimed_gains(), path=figure, title=title)
    return out
