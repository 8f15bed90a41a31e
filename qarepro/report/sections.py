"""Report sections the notebooks share (05 and 06 both show them): shown with IPython's display."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .figures import plot_gain_by
from .gains import FACTOR_NAMES, claimed_gains, paired_factors, paired_gain_display, paired_gain_summary
from .labels import INTERVAL_NAME
from .tables import display_table

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


def show_paired_gains(runs: Any, dataset: str, figure: str | Path | None = None,
                      title: str | None = None) -> dict[str, pd.DataFrame]:
    """Display each paired factor's section (text, table on `dataset`, and for the training-set size
    the gain-vs-size figure saved to `figure`); returns the summaries."""
    from IPython.display import Markdown, display  # deferred: only a notebook displays

    out = paired_gains(runs)
    for factor, summary in out.items():
        display(Markdown(PAIRED_TEXT.get(factor, f"## The gain at each value of {FACTOR_NAMES.get(factor, factor)}")))
        display(display_table(paired_gain_display(summary, dataset=dataset)))
        if factor == "train_size":
            plot_gain_by(summary, dataset=dataset, claimed=claimed_gains(), path=figure, title=title)
    return out
