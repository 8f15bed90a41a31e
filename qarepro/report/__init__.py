"""Claims against reproduced numbers: comparison tables, verdicts, the distillation gain, figures
and HTML rendering.

Everything here works on plain data (dicts of metrics, data frames) so that it can be tested
without running a model; the notebooks pass it what the stages wrote. One concern per module:

    labels       verdict and gain words; what each kind of run can say (SCOPE)
    gains        the distillation gain over seeds, with its t-interval; gain and ablation tables
    comparison   claims vs reproduced rows, verdicts, counts, facts, the headline
    tables       wide / display / markdown forms, plans, runs, threshold curves
    figures      the report figures
    pages        notebooks rendered to HTML; small self-contained pages
    sections     report sections the notebooks show (claims, models, speed, figures or why there is none)
    evidence     per-cell gains from per-question scores: seed t, two-level bootstrap, pooled trend

Every public name is importable as `qarepro.report.<name>`, as the notebooks use it.
"""

from .. import claims as qclaims
from ..claims import Claims, load_all, load_claims
from .labels import (
    GAIN_NOT_SHOWN, GAIN_REVERSED, GAIN_SHOWN, INTERVAL_NAME, NOT_COMPARABLE, NOT_RUN, OUTSIDE, PIPELINE_CHECK,
    POCKET, SCOPE, WITHIN, run_scope)
from .gains import (
    FACTOR_NAMES, ablation_table, cell_value, claimed_gains, gain_direction, gain_display, gain_summary, gain_table,
    interval_text, mean_label, measured_gain, one_factor_runs, paired_factors, paired_gain_display, paired_headline,
    paired_gain_summary, per_seed, runs_frame, seed_stats, t975)
from .comparison import (
    COMPARISON_COLUMNS, CONTEXT_NOTE, GAIN_MODEL, MODEL_TOLERANCE, SUBJECT_MODELS, claims_table, compare, compare_all,
    compare_facts, headline, split_claims, verdict, verdict_counts)
from .tables import (
    COLUMN_NAMES, NA, RUN_COLUMNS, best_spans, cell_text, display_table, distinct_models, facts_display, format_table,
    metrics_detail, models_table, plan_summary, plan_table, readable, recorded_runs, runs_summary, runs_table,
    speed_comparison, speed_display, speed_frame, style_verdicts, style_wide, teacher_rows, teacher_scores,
    threshold_curve, timings, to_markdown, training_table, wide_table)
from .figures import (
    figure_png, plot_ablations, plot_claimed_vs_reproduced, plot_dataset_counts, plot_gain_by, plot_hasans_noans,
    plot_headline, plot_speed, plot_threshold_curves, plot_training_curves)
from .pages import DETAIL_TAG, html_page, render_notebook
from .sections import (
    PAIRED_TEXT, claims_markdown, paired_gains, show_ablations, show_claims, show_hasans_noans, show_metrics_detail,
    show_models, show_paired_gains, show_speed, show_threshold_curves, show_training)
from .evidence import (answer, evidence_answer, evidence_display, evidence_markdown, evidence_record, evidence_table,
                       show_evidence, teacher_effect, teacher_effect_display, teacher_finding, trend_display,
                       trend_table)

__all__ = [
    "qclaims", "Claims", "load_all", "load_claims", "WITHIN", "OUTSIDE", "NOT_RUN", "NOT_COMPARABLE",
    "GAIN_SHOWN", "GAIN_NOT_SHOWN", "GAIN_REVERSED", "PIPELINE_CHECK", "POCKET", "SCOPE", "INTERVAL_NAME",
    "run_scope", "t975", "seed_stats", "runs_frame", "per_seed", "mean_label", "gain_summary",
    "gain_direction", "interval_text", "measured_gain", "claimed_gains", "gain_display", "gain_table",
    "ablation_table", "FACTOR_NAMES", "cell_value", "one_factor_runs", "paired_factors", "paired_gain_display",
    "paired_gain_summary", "plot_gain_by", "SUBJECT_MODELS", "MODEL_TOLERANCE", "COMPARISON_COLUMNS", "verdict", "compare",
    "compare_all", "verdict_counts", "compare_facts", "headline", "wide_table", "style_wide", "format_table",
    "to_markdown", "style_verdicts", "cell_text", "display_table", "plan_summary", "plan_table",
    "RUN_COLUMNS", "runs_summary", "runs_table", "facts_display", "recorded_runs", "teacher_scores",
    "best_spans", "threshold_curve", "plot_claimed_vs_reproduced", "plot_hasans_noans",
    "plot_threshold_curves", "plot_ablations", "plot_speed", "plot_training_curves", "plot_dataset_counts",
    "figure_png", "plot_headline", "DETAIL_TAG", "render_notebook", "html_page", "PAIRED_TEXT", "paired_gains",
    "paired_headline", "show_paired_gains",
    "CONTEXT_NOTE", "GAIN_MODEL", "claims_table", "split_claims", "COLUMN_NAMES", "NA", "distinct_models",
    "metrics_detail", "models_table", "readable", "speed_comparison", "speed_display", "speed_frame", "teacher_rows",
    "timings", "training_table", "claims_markdown", "show_ablations", "show_claims", "show_hasans_noans",
    "show_metrics_detail", "show_models", "show_speed", "show_threshold_curves", "show_training",
    "paired_headline", "show_paired_gains", "answer", "evidence_answer", "evidence_display", "evidence_markdown",
    "evidence_record", "evidence_table",
    "show_evidence", "teacher_effect", "teacher_effect_display", "teacher_finding", "trend_display", "trend_table",
]
