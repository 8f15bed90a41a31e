"""The six notebooks' pipeline: profiles, the stage contract, the steps the notebooks call, runs
reused by identity, the notebook runner, verify and rerun comparison.

One concern per module; each imports only those above it in this list:

    profile    the profile schema (configs/profiles/*.yaml), validated strictly; ABLATION_FACTORS
    layout     where a profile's stages read and write (targets, results, models, data folder)
    stage      the notebook contract: start / finish, Stage (figures, titles, timings, previous)
    runs       a card's DistillConfig, run identity, train-or-reuse, evaluate-or-reuse
    consistency  one run, one profile: the stages of a reported run ran under its profile
    cells      grid cells committed and reused by identity; teacher variants and their facts
    steps      the functions the notebooks call, stage by stage
    runner     preflight, the offline switch, the kernel, papermill (run_stage)
    ready      before the GPU: fetch and load everything a profile needs (preflight --download)
    verify     published checkpoints against their claims
    card_runs  every card setting that ran, as run records of the gain (03's student and its 05 twin)
    rerun      compare two output folders' metric values
    commands   run, preflight, verify, compare, stages (`qarepro <command>`, `python -m qarepro.pipeline`)

The names below are what notebooks, scripts and tests use as `pipeline.<name>`.
"""

from .card_runs import add_card_runs, card_setting_rows, with_card_runs
from .cells import teacher_scores
from .commands import main
from .layout import PipelineError, data_dir, models_dir, resolve_model, results_dir, short_path, target
from .profile import (ABLATION_FACTORS, TINY_PREFIX, Ablations, CardPlan, Profile, Speed, TinyModel, eval_window,
                      headline_datasets, load_profile, profile_fingerprint, profile_path, required_datasets)
from .rerun import GRID_TABLES, collect_metrics, compare_runs, diff_lines, rerun_record
from .runner import (dataset_problems, ensure_kernel, go_offline, kernel_environment, hub_reachable, notebook_path, preflight,
                     require_preflight, run_notebook, run_stage, say)
from .consistency import check_one_profile, stage_disagreements
from .runs import (NO_DISTILLATION, card_config, config_dict, config_hash, evaluate_or_reuse, model_dir, run_identity,
                   train_metrics, train_or_reuse, training_log)
from .stage import (PER_CARD_STAGES, PROFILE_ENV, QUIET_ENV, STAGE_OUTPUT_ENV, STAGES, Stage, device, finish, plain,
                    quiet, start)
from .steps import (BASELINE_SEED, ablation_plan, build_tiny_models, cache_table, data_prep, distill_card,
                    distillation_gain, evaluate_all, gather, measure_speed, metrics_table, models_to_evaluate,
                    prepare_teachers, reproduced_by_card, run_ablations, run_cell, speed_table, teacher_table, threshold_curves,
                    write_markdown)
from .verify import verify

__all__ = [
    "add_card_runs", "card_setting_rows", "with_card_runs", "teacher_scores",
    "kernel_environment",
    "headline_datasets", "required_datasets", "profile_fingerprint", "check_one_profile", "stage_disagreements", "run_cell",
    "ABLATION_FACTORS", "BASELINE_SEED", "GRID_TABLES", "NO_DISTILLATION", "PER_CARD_STAGES", "PROFILE_ENV",
    "QUIET_ENV", "STAGES", "STAGE_OUTPUT_ENV", "TINY_PREFIX",
    "Ablations", "CardPlan", "PipelineError", "Profile", "Speed", "Stage", "TinyModel",
    "ablation_plan", "build_tiny_models", "cache_table", "card_config", "collect_metrics", "compare_runs",
    "config_dict", "config_hash", "data_dir", "data_prep", "dataset_problems", "device", "diff_lines",
    "distill_card", "distillation_gain", "ensure_kernel", "eval_window", "evaluate_all", "evaluate_or_reuse",
    "finish", "gather", "go_offline", "hub_reachable", "load_profile", "main", "measure_speed", "metrics_table",
    "model_dir", "models_dir", "models_to_evaluate", "notebook_path", "plain", "preflight", "prepare_teachers",
    "profile_path", "quiet", "reproduced_by_card", "require_preflight", "rerun_record", "resolve_model",
    "results_dir", "run_ablations", "run_identity", "run_notebook", "run_stage", "say", "short_path",
    "speed_table", "start", "target", "teacher_table", "threshold_curves", "train_metrics", "train_or_reuse",
    "training_log", "verify", "write_markdown",
]
